// pages/dashboard.js -- the overview: hosts and VMs by vendor and state,
// capacity used vs free, running jobs and recent events.
//
// The API has no count endpoint, so totals by state come from GET /metrics
// (the daemon's own gauges, exact and cheap), hosts are read a page of up to
// 1000 (hosts are few), and VMs per vendor are counted from one page of ids
// per vendor, shown as "1000+" beyond that -- never the whole inventory.

import * as api from "../api.js";
import {h, link, badge, fmtMB, fmtNum, pagedTable, errorBox} from "../ui.js";
import {jobColumns} from "./jobs.js";
import {eventColumns} from "./events.js";
import {usageBar} from "./hosts.js";

const VENDOR_NAMES = {kvm: "KVM", vcenter: "vCenter", hyperv: "Hyper-V", test: "Test"};
const CAP = 1000;

async function metrics() {
  const r = await fetch("/metrics", {credentials: "same-origin"});
  if (!r.ok) throw new Error("metrics unavailable");
  const out = {};
  for (const line of (await r.text()).split("\n")) {
    const m = line.match(/^polyvisor_(vms|hosts|jobs|connections)\{\w+="([^"]+)"\} (\d+)/);
    if (m) { out[m[1]] = out[m[1]] || {}; out[m[1]][m[2]] = Number(m[3]); }
  }
  return out;
}

function countCard(title, counts, href, param) {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  return h("section", {class: "card"}, h("h3", {}, link(href, title)),
    h("div", {class: "big"}, fmtNum(total)),
    h("ul", {class: "plain"}, Object.entries(counts).map(([k, n]) => h("li", {},
      param ? link(href + "?" + param + "=" + encodeURIComponent(k), [badge(k), " ", fmtNum(n)]) : [badge(k), " ", fmtNum(n)]))));
}

export function render(el, params, ctx) {
  const err = errorBox();
  const cards = h("div", {class: "cards", "aria-label": "Counts"});
  const capacity = h("div", {class: "cards"});
  const byVendor = h("div");
  const jobs = pagedTable({caption: "Running jobs", columns: jobColumns(), rowKey: (j) => j.id, empty: "No job is running.",
    fetch: (cursor) => api.list("jobs", {limit: 10, cursor, sort: "-created_at", filter: "state in ('queued', 'running')"})});
  const events = pagedTable({caption: "Recent events", columns: eventColumns(), rowKey: (e) => e.id, empty: "No events yet.",
    fetch: (cursor) => api.list("events", {limit: 10, cursor, sort: "-time"})});
  el.append(h("h2", {}, "Dashboard"), err, cards, h("h3", {}, "Capacity"), capacity,
    h("h3", {}, "By vendor"), byVendor,
    h("h3", {}, link("#/jobs", "Running jobs")), jobs.el, h("h3", {}, link("#/events", "Recent events")), events.el);

  metrics().then((m) => {
    cards.replaceChildren(countCard("Hosts", m.hosts || {}, "#/hosts", "state"),
      countCard("Virtual machines", m.vms || {}, "#/vms", "power_state"),
      countCard("Jobs", m.jobs || {}, "#/jobs", "state"), countCard("Connections", m.connections || {}, "#/connections"));
  }).catch(() => cards.replaceChildren(h("p", {class: "muted"}, "Totals are not available (GET /metrics failed).")));

  (async () => {
    const page = await api.list("hosts", {limit: CAP, fields: "vendor,state,cpu_cores,cpu_usage_pct,memory_mb,memory_used_mb"});
    const hosts = page.items;
    let mem = 0, memUsed = 0, cores = 0, busy = 0;
    const vendors = {};
    for (const x of hosts) {
      mem += x.memory_mb || 0; memUsed += x.memory_used_mb || 0;
      cores += x.cpu_cores || 0; busy += (x.cpu_cores || 0) * (x.cpu_usage_pct || 0) / 100;
      const v = vendors[x.vendor] = vendors[x.vendor] || {hosts: {}, vms: null};
      v.hosts[x.state] = (v.hosts[x.state] || 0) + 1;
    }
    capacity.replaceChildren(
      h("section", {class: "card"}, h("h3", {}, "Memory"), usageBar(memUsed, mem, "Memory"),
        h("p", {}, fmtMB(memUsed) + " used, " + fmtMB(mem - memUsed) + " free of " + fmtMB(mem))),
      h("section", {class: "card"}, h("h3", {}, "CPU"), usageBar(busy, cores, "CPU"),
        h("p", {}, fmtNum(busy, 1) + " of " + fmtNum(cores) + " cores busy")),
      ...(page.next_cursor ? [h("p", {class: "muted"}, "Capacity of the first " + CAP + " hosts.")] : []));
    const names = Object.keys(vendors).sort();
    const counts = await Promise.all(names.map((v) =>
      api.list("vms", {limit: CAP, fields: "id", filter: "vendor eq " + api.q(v)})
        .then((p) => p.items.length + (p.next_cursor ? "+" : "")).catch(() => "?")));
    byVendor.replaceChildren(h("div", {class: "table-wrap"}, h("table", {class: "list"},
      h("caption", {class: "sr-only"}, "Hosts and VMs by vendor"),
      h("thead", {}, h("tr", {}, ["Vendor", "Hosts by state", "VMs"].map((t) => h("th", {scope: "col"}, t)))),
      h("tbody", {}, names.map((v, i) => h("tr", {},
        h("td", {"data-label": "Vendor"}, VENDOR_NAMES[v] || v),
        h("td", {"data-label": "Hosts by state"}, Object.entries(vendors[v].hosts).map(([s, n]) =>
          [link("#/hosts?vendor=" + v + "&state=" + s, [badge(s), " " + n]), " "])),
        h("td", {"data-label": "VMs"}, link("#/vms?vendor=" + v, String(counts[i])))))))));
    if (!names.length) byVendor.replaceChildren(h("p", {}, "No hosts yet. ", link("#/connections", "Add a connection"), " to bring some in."));
  })().catch((e) => err.show(e));

  ctx.on("job", (j) => jobs.upsert(j, j.state === "queued" || j.state === "running"));
  ctx.on("event", (e) => events.upsert(e, true));
}
