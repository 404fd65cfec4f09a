// lists.js -- the lists that more than one page shows, so an object looks
// the same wherever it is listed: the columns of VMs (the VM list, a host's
// VMs, the inventory search), hosts (the host list, the hosts that reach a
// pool or a network), storage pools and networks (their lists, a host's),
// jobs (the job list, the dashboard, a VM's jobs) and events (the event log,
// the dashboard); the VM search that the VM list and the inventory share,
// and the search-and-sort list page that hosts, storage and networks share.
//
// Pages import these and never each other: a page is one place of the
// console, and what two places show alike lives here.

import * as api from "./api.js";
import * as vendors from "./vendors.js";
import {h, link, badge, vmStateBadge, progress, fmtMB, fmtNum, fmtTime, select, field, pagedTable, debounce,
  usageBar} from "./ui.js";
import {hostLink, hostLinks, nameOf} from "./names.js";
import {targetLink} from "./jobview.js";

export function vmColumns() {
  return [
    {label: "Name", render: (v) => link("#/vms/" + v.id, v.name)},
    {label: "State", render: (v) => vmStateBadge(v)},
    {label: "Vendor", render: (v) => v.vendor},
    {label: "Host", render: (v) => hostLink(v.host_id)},
    {label: "vCPUs", render: (v) => String(v.vcpus)},
    {label: "Memory", render: (v) => fmtMB(v.memory_mb)},
    {label: "HA", render: (v) => v.ha},
  ];
}

export function hostColumns() {
  return [
    {label: "Name", render: (x) => link("#/hosts/" + x.id, x.name)},
    {label: "State", render: (x) => badge(x.state)},
    {label: "Vendor", render: (x) => x.vendor},
    {label: "Cluster", render: (x) => nameOf("clusters", x.cluster_id)},
    {label: "CPU", render: (x) => x.cpu_cores + " cores, " + fmtNum(x.cpu_usage_pct, 1) + " % busy"},
    {label: "Memory", render: (x) => fmtMB(x.memory_used_mb) + " of " + fmtMB(x.memory_mb)},
    {label: "Tags", render: (x) => (x.tags || []).join(", ")},
  ];
}

/** A pool's capacity: a bar of what is used, and "N free of M". */
export function poolCapacity(p) {
  if (!p.capacity_mb) return "–";
  const free = Math.max(0, p.free_mb || 0);
  return usageBar(p.capacity_mb - free, p.capacity_mb, "Storage of " + p.name,
    fmtMB(free) + " free of " + fmtMB(p.capacity_mb));
}

/** Columns of something hosts reach (a pool, a network): its name leading to
 *  `page`, vendor, kind, the columns of its own, then the hosts that reach it
 *  (left out on a host's own page). */
function reachedColumns(page, own, hosts) {
  return [
    {label: "Name", render: (x) => link(page + x.id, x.name)},
    {label: "Vendor", render: (x) => x.vendor},
    {label: "Kind", render: (x) => x.kind || "–"},
    ...own,
    hosts ? {label: "Hosts", render: (x) => hostLinks(x.host_ids)} : null,
  ].filter(Boolean);
}

export function poolColumns({hosts = true} = {}) {
  return reachedColumns("#/storage/", [{label: "Capacity", render: poolCapacity},
    {label: "Shared", render: (p) => p.shared ? "shared" : "local"}], hosts);
}

export function vlanText(n) { return n.vlan === null || n.vlan === undefined ? "none" : String(n.vlan); }

export function networkColumns({hosts = true} = {}) {
  return reachedColumns("#/networks/", [{label: "VLAN", render: vlanText}], hosts);
}

/** The facts every pool and network page ends with: where it comes from, and its ids. */
export function originFacts(x) {
  return [
    ["Connection", nameOf("connections", x.connection_id)],
    ["Native id", x.native_id],
    ["Observed", fmtTime(x.observed_at)],
    ["Id", x.id],
  ];
}

/**
 * A list page over one collection: a name search, a vendor menu, the page's
 * own menus and a sort, each turned into the API's filter and sort, one page
 * at a time.  Call after vendors.load().
 *   menus: [{label, select, clause(value) -> filter}]  (value "" adds nothing)
 *   sorts: [[sort, text]], the first the default
 * Returns {el, upsert(item)} for live updates of the rows on show.
 */
export function listPage({title, collection, columns, query, menus = [], sorts, empty}) {
  const text = h("input", {type: "search", name: "q", placeholder: "part of a name"});
  const vendor = select("vendor", vendors.options(["", "Any vendor"]), (query && query.get("vendor")) || "");
  const sort = sorts ? select("sort", sorts, sorts[0][0]) : null;
  const box = h("div");
  let tbl = null;
  function reload() {
    const filter = api.and(text.value.trim() ? "name contains " + api.q(text.value.trim()) : "",
      vendor.value ? "vendor eq " + api.q(vendor.value) : "",
      ...menus.map((m) => m.select.value ? m.clause(m.select.value) : ""));
    tbl = pagedTable({caption: title, columns, rowKey: (x) => x.id, empty,
      fetch: (cursor) => api.list(collection, {limit: 50, cursor, filter, sort: sort ? sort.value : "name"})});
    box.replaceChildren(tbl.el);
  }
  text.addEventListener("input", debounce(reload, 300));
  for (const s of [vendor, sort, ...menus.map((m) => m.select)]) if (s) s.addEventListener("change", reload);
  reload();
  return {
    el: h("div", {},
      h("div", {class: "toolbar"}, field("Search by name", text), field("Vendor", vendor),
        menus.map((m) => field(m.label, m.select)), sort ? field("Sort", sort) : null),
      box),
    upsert: (x) => tbl && tbl.upsert(x, false),
  };
}

/** The hosts that reach a pool or a network (filter: "pool_ids contains 'ID'"), a page at a time. */
export function reachingHosts(caption, filter) {
  return pagedTable({caption, columns: hostColumns(), rowKey: (x) => x.id, empty: "No host reaches it.",
    fetch: (cursor) => api.list("hosts", {limit: 50, cursor, sort: "name", filter})}).el;
}

export function jobColumns() {
  return [
    {label: "Job", render: (j) => link("#/jobs/" + j.id, j.kind)},
    {label: "State", render: (j) => badge(j.state)},
    {label: "Progress", render: (j) => progress(j.progress, j.kind + " progress")},
    {label: "Target", render: (j) => targetLink(j.target_type, j.target_id)},
    {label: "By", render: (j) => j.created_by || "–"},
    {label: "Created", render: (j) => fmtTime(j.created_at)},
    {label: "Error", render: (j) => j.error ? j.error.message : ""},
  ];
}

export function eventColumns() {
  return [
    {label: "Time", render: (e) => fmtTime(e.time)},
    {label: "Severity", render: (e) => badge(e.severity)},
    {label: "Object", render: (e) => targetLink(e.object_type, e.object_id)},
    {label: "Message", render: (e) => e.message},
    {label: "Actor", render: (e) => e.actor || "–"},
  ];
}

const POWER_STATES = [["", "Any state"], ["running", "Running"], ["stopped", "Stopped"], ["paused", "Paused"],
  ["saved", "Saved"], ["unknown", "Unknown"]];

/**
 * The VM search's controls: a name box, a power state and a vendor menu
 * (the vendors as the server lists them: call after vendors.load()),
 * preset from a page's query ("#/vms?vendor=kvm").  filter() joins what
 * they hold, and an optional expression of the API's grammar, into one
 * filter.
 */
export function vmSearch(query, placeholder) {
  const text = h("input", {type: "search", name: "q", placeholder, autocomplete: "off"});
  const state = select("power_state", POWER_STATES, (query && query.get("power_state")) || "");
  const vendor = select("vendor", vendors.options(["", "Any vendor"]), (query && query.get("vendor")) || "");
  function filter(raw) {
    const t = text.value.trim();
    return api.and(
      t ? "name contains " + api.q(t) : "",
      state.value ? "power_state eq " + api.q(state.value) : "",
      vendor.value ? "vendor eq " + api.q(vendor.value) : "",
      raw || "");
  }
  return {text, state, vendor, filter};
}
