// pages/vms.js -- the VM list: search by name, power state and vendor, or
// any expression of the API's filter grammar; one page at a time.

import * as api from "../api.js";
import {h, link, badge, vmStateBadge, fmtMB, field, select, pagedTable, debounce} from "../ui.js";
import {hostLink} from "../names.js";

export const VENDORS = [["", "Any vendor"], ["kvm", "KVM"], ["vcenter", "vCenter"], ["hyperv", "Hyper-V"], ["test", "Test"]];
export const POWER = [["", "Any state"], ["running", "Running"], ["stopped", "Stopped"], ["paused", "Paused"],
  ["saved", "Saved"], ["unknown", "Unknown"]];

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

/** The filter for the search controls, in the API's grammar. */
export function buildFilter({text, state, vendor, raw}) {
  return api.and(
    text ? "name contains " + api.q(text) : "",
    state ? "power_state eq " + api.q(state) : "",
    vendor ? "vendor eq " + api.q(vendor) : "",
    raw || "");
}

export function render(el, params, ctx) {
  const text = h("input", {type: "search", name: "q", placeholder: "part of a name", autocomplete: "off"});
  const state = select("power_state", POWER, ctx.query.get("power_state") || "");
  const vendor = select("vendor", VENDORS, ctx.query.get("vendor") || "");
  const raw = h("input", {type: "text", name: "filter", size: "40",
    placeholder: "e.g. memory_mb ge 1024 and tags contains 'web'"});
  const sort = select("sort", [["name", "Name"], ["-memory_mb", "Memory, largest first"],
    ["-vcpus", "vCPUs, most first"], ["power_state", "Power state"]], "name");
  const shown = h("p", {class: "muted"});
  let table;
  const container = h("div");
  function reload() {
    const filter = buildFilter({text: text.value.trim(), state: state.value, vendor: vendor.value, raw: raw.value.trim()});
    shown.textContent = filter ? "Filter: " + filter : "All VMs";
    table = pagedTable({
      caption: "Virtual machines", columns: vmColumns(), rowKey: (v) => v.id, empty: "No VM matches.",
      fetch: (cursor) => api.list("vms", {limit: 50, cursor, filter, sort: sort.value}),
    });
    container.replaceChildren(table.el);
  }
  const later = debounce(reload, 300);
  text.addEventListener("input", later);
  for (const s of [state, vendor, sort]) s.addEventListener("change", reload);
  raw.addEventListener("keydown", (e) => { if (e.key === "Enter") reload(); });
  el.append(
    h("h2", {}, "Virtual machines"),
    h("div", {class: "toolbar"},
      field("Search by name", text), field("Power state", state), field("Vendor", vendor), field("Sort", sort),
      link("#/vms/new", "New VM…", {class: "button primary"})),
    h("form", {class: "toolbar", onsubmit: (e) => { e.preventDefault(); reload(); }},
      field("Filter expression", raw, "The API's filter grammar; press Enter."),
      h("button", {type: "submit"}, "Apply")),
    shown, container);
  reload();
  ctx.on("vm", (v) => table && table.upsert(v, false));
}
