// pages/hosts.js -- Hosts: the host list, then one host: facts, state,
// usage over time (the metrics API), tags, host group, maintenance mode, the
// storage pools and networks it reaches, and the VMs on it (paged, like
// every list).

import * as api from "../api.js";
import * as vendors from "../vendors.js";
import {h, link, badge, fmtMB, fmtNum, fmtTime, facts, field, select, pagedTable, errorBox, usageBar} from "../ui.js";
import {nameOf} from "../names.js";
import {usageChart} from "../chart.js";
import {jobPanel} from "../jobview.js";
import {vmColumns, hostColumns, poolColumns, networkColumns, listPage} from "../lists.js";

export async function renderList(el, params, ctx) {
  await vendors.load();
  const state = select("state", [["", "Any state"], ["connected", "Connected"], ["maintenance", "Maintenance"],
    ["disconnected", "Disconnected"], ["failed", "Failed"]], ctx.query.get("state") || "");
  const list = listPage({title: "Hosts", collection: "hosts", columns: hostColumns(), query: ctx.query,
    empty: "No host matches.", menus: [{label: "State", select: state, clause: (v) => "state eq " + api.q(v)}]});
  el.append(h("h2", {}, "Hosts"), list.el);
  ctx.on("host", list.upsert);
}

export async function renderHost(el, [id], ctx) {
  let host = await api.get("/hosts/" + id);
  const title = h("h2", {});
  const info = h("div");
  const maint = maintenance(id, ctx, () => reload());
  function draw() {
    api.forget("hosts", id);
    title.replaceChildren(host.name, " ", badge(host.state));
    maint.show(host);
    info.replaceChildren(
      usageBar(host.memory_used_mb, host.memory_mb, "Memory"),
      usageBar(host.cpu_usage_pct, 100, "CPU"),
      facts([
        ["State", badge(host.state)],
        ["Vendor", host.vendor],
        ["Connection", nameOf("connections", host.connection_id)],
        ["Cluster", nameOf("clusters", host.cluster_id)],
        ["Host group", nameOf("host-groups", host.host_group_id)],
        ["CPU", host.cpu_cores + " cores × " + fmtNum(host.cpu_mhz) + " MHz, " + fmtNum(host.cpu_usage_pct, 1) + " % busy"],
        ["Memory", fmtMB(host.memory_used_mb) + " used of " + fmtMB(host.memory_mb)],
        ["Tags", (host.tags || []).join(", ") || "–"],
        ["Native id", host.native_id],
        ["Observed", fmtTime(host.observed_at) + " (" + (host.source || "?") + ")"],
        ["Id", host.id],
        ...Object.entries(host.facts || {}).map(([k, v]) => [k.replace(/_/g, " "), typeof v === "object" ? JSON.stringify(v) : String(v)]),
      ]));
  }
  const tags = h("input", {type: "text", name: "tags", value: (host.tags || []).join(", ")});
  const group = select("host_group_id", [["", "(no group)"]], host.host_group_id || "");
  api.list("host-groups", {limit: 200, sort: "name"}).then((p) => {
    for (const g of p.items) group.append(h("option", {value: g.id, selected: g.id === host.host_group_id}, g.name));
  }).catch(() => {});
  const err = errorBox();
  const form = h("form", {class: "toolbar", onsubmit: async (e) => {
    e.preventDefault();
    err.clear();
    try {
      host = await api.patch("/hosts/" + id, {tags: tags.value.split(",").map((t) => t.trim()).filter(Boolean),
        host_group_id: group.value || null});
      draw();
    } catch (ex) { err.show(ex); }
  }}, field("Tags (comma separated)", tags), field("Host group", group), h("button", {type: "submit"}, "Save"));
  draw();
  el.append(h("p", {class: "muted"}, link("#/hosts", "Hosts"), " › ", host.name), title,
    h("div", {class: "two-col"}, h("section", {}, h("h3", {}, "Facts"), info),
      h("section", {}, h("h3", {}, "Settings"), form, err, maint.el)),
    history(host));
  // what the host reaches, asked of the pools and networks themselves (their
  // host_ids), a page at a time: a vCenter host may mount hundreds of datastores
  const reaches = "host_ids contains " + api.q(id);
  el.append(h("div", {class: "two-col"},
    h("section", {}, h("h3", {}, "Storage pools"), pagedTable({caption: "Storage pools of " + host.name,
      columns: poolColumns({hosts: false}), rowKey: (p) => p.id, empty: "This host reaches no storage pool.",
      fetch: (cursor) => api.list("storage-pools", {limit: 50, cursor, sort: "name", filter: reaches})}).el),
    h("section", {}, h("h3", {}, "Networks"), pagedTable({caption: "Networks of " + host.name,
      columns: networkColumns({hosts: false}), rowKey: (n) => n.id, empty: "This host reaches no network.",
      fetch: (cursor) => api.list("networks", {limit: 50, cursor, sort: "name", filter: reaches})}).el)));
  el.append(h("h3", {}, "VMs on this host"));
  const table = pagedTable({caption: "VMs on " + host.name, columns: vmColumns(), rowKey: (v) => v.id,
    empty: "No VMs on this host.",
    fetch: (cursor) => api.list("vms", {limit: 50, cursor, sort: "name", filter: "host_id eq " + api.q(id)})});
  el.append(table.el);
  async function reload() {
    try { host = await api.get("/hosts/" + id); draw(); } catch (e) { err.show(e); }
  }
  // a host message says only its new state: read the host afresh (its maintenance flag with it)
  ctx.on("host", (x) => { if (x.id === id) reload(); });
  ctx.on("vm", (v) => table.upsert(v, false));
}

/** Maintenance mode: enter it (moving the VMs off as chosen) or leave it,
 * whichever applies to the host show(host) was last given; the jobs run
 * live below.  The controls are made once and only shown or hidden, so a
 * live redraw never takes the focus away. */
function maintenance(id, ctx, onDone) {
  const mode = select("evacuate", [["live", "Move running VMs live"], ["quick", "Move VMs quick (save, copy, restore)"],
    ["none", "Move nothing"]], "live");
  const err = errorBox();
  const jobs = h("div", {});
  async function go(path, body) {
    err.clear();
    try { jobs.prepend(jobPanel(await api.post(path, body), ctx, onDone)); } catch (e) { err.show(e); }
  }
  const hint = h("p", {class: "hint"});
  const enter = h("div", {class: "toolbar"}, field("When entering", mode),
    h("button", {type: "button", "data-action": "maintenance-enter",
      onclick: () => go("/hosts/" + id + "/maintenance", {evacuate: mode.value})}, "Enter maintenance"));
  const exit = h("div", {class: "toolbar"},
    h("button", {type: "button", "data-action": "maintenance-exit",
      onclick: () => go("/hosts/" + id + "/maintenance/exit")}, "Exit maintenance"));
  return {
    el: h("section", {class: "maintenance"}, h("h3", {}, "Maintenance mode"), hint, enter, exit, err, jobs),
    show(host) {
      // in Polyvisor's maintenance mode (the flag, kept when the host fails meanwhile),
      // or the hypervisor reports the host in its own
      const inMaintenance = host.maintenance === true || host.state === "maintenance";
      hint.textContent = inMaintenance
        ? "In maintenance: placement sends no VMs here."
        : "Entering it stops placement from sending VMs here and moves this host's VMs off, each to the host the placement engine rates best; a VM that cannot move is reported.";
      enter.hidden = inMaintenance;
      exit.hidden = !inMaintenance;
    },
  };
}

/** CPU and memory over the last hour, day or week. */
function history(host) {
  const range = select("range", [["3600:60", "Last hour"], ["86400:300", "Last day"], ["604800:3600", "Last week"]], "3600:60");
  const box = h("div", {class: "chart-box"});
  const err = errorBox();
  async function load() {
    err.clear();
    const [span, step] = range.value.split(":").map(Number);
    const now = Math.floor(Date.now() / 1000);
    try {
      const s = await api.get(`/hosts/${host.id}/metrics?from=${now - span}&to=${now}&step=${step}`);
      box.replaceChildren(s.points.length
        ? usageChart(s.points, host.memory_mb, "CPU and memory of " + host.name)
        : h("p", {class: "muted"}, "No samples in this range yet (one is taken every sampling interval)."));
    } catch (e) { err.show(e); }
  }
  range.addEventListener("change", load);
  load();
  return h("section", {}, h("h3", {}, "Usage over time"),
    h("div", {class: "toolbar"}, field("Range", range),
      h("span", {class: "legend"}, h("span", {class: "cpu"}, "— CPU %"), " ", h("span", {class: "mem"}, "— memory %"))),
    box, err);
}
