// pages/dashboard.js -- the overview: hosts and VMs by vendor and state,
// capacity used vs free, running jobs and recent events.
//
// Every number comes from GET /api/v1/summary, counted by the database, so
// the page costs the same with 10 VMs or 100,000.

import * as api from "../api.js";
import * as vendors from "../vendors.js";
import {h, link, badge, fmtMB, fmtNum, pagedTable, errorBox, usageBar} from "../ui.js";
import {jobColumns, eventColumns} from "../lists.js";

function countCard(title, counts, href, param) {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  return h("section", {class: "card"}, h("h3", {}, link(href, title)),
    h("div", {class: "big"}, fmtNum(total)),
    h("ul", {class: "plain"}, Object.entries(counts).map(([k, n]) => h("li", {},
      param ? link(href + "?" + param + "=" + encodeURIComponent(k), [badge(k), " ", fmtNum(n)]) : [badge(k), " ", fmtNum(n)]))));
}

/** "kvm: running 3, stopped 1" as links into the filtered list. */
function stateLinks(href, vendor, param, counts) {
  return Object.entries(counts || {}).map(([s, n]) =>
    [link(href + "?vendor=" + vendor + "&" + param + "=" + s, [badge(s), " " + fmtNum(n)]), " "]);
}

export async function render(el, params, ctx) {
  await vendors.load();
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

  api.get("/summary").then((sum) => {
    cards.replaceChildren(countCard("Hosts", sum.hosts.by_state, "#/hosts", "state"),
      countCard("Virtual machines", sum.vms.by_power_state, "#/vms", "power_state"),
      countCard("Jobs", sum.jobs, "#/jobs", "state"), countCard("Connections", sum.connections, "#/connections"),
      countCard("Active alerts", sum.alerts, "#/events"));
    const c = sum.capacity;
    capacity.replaceChildren(
      h("section", {class: "card"}, h("h3", {}, "Memory"), usageBar(c.memory_used_mb, c.memory_mb, "Memory"),
        h("p", {}, fmtMB(c.memory_used_mb) + " used, " + fmtMB(c.memory_mb - c.memory_used_mb) + " free of " + fmtMB(c.memory_mb))),
      h("section", {class: "card"}, h("h3", {}, "CPU"), usageBar(c.cpu_busy_cores, c.cpu_cores, "CPU"),
        h("p", {}, fmtNum(c.cpu_busy_cores, 1) + " of " + fmtNum(c.cpu_cores) + " cores busy")),
      h("p", {class: "muted"}, "Connected hosts."));
    const names = [...new Set([...Object.keys(sum.hosts.by_vendor_state), ...Object.keys(sum.vms.by_vendor_state)])].sort();
    byVendor.replaceChildren(names.length ? h("div", {class: "table-wrap"}, h("table", {class: "list"},
      h("caption", {class: "sr-only"}, "Hosts and VMs by vendor and state"),
      h("thead", {}, h("tr", {}, ["Vendor", "Hosts by state", "VMs by power state"].map((t) => h("th", {scope: "col"}, t)))),
      h("tbody", {}, names.map((v) => h("tr", {},
        h("td", {"data-label": "Vendor"}, vendors.title(v)),
        h("td", {"data-label": "Hosts by state"}, stateLinks("#/hosts", v, "state", sum.hosts.by_vendor_state[v])),
        h("td", {"data-label": "VMs by power state"}, stateLinks("#/vms", v, "power_state", sum.vms.by_vendor_state[v])))))))
      : h("p", {}, "No hosts yet. ", link("#/connections", "Add a connection"), " to bring some in."));
  }).catch((e) => err.show(e));

  ctx.on("job", (j) => jobs.upsert(j, j.state === "queued" || j.state === "running"));
  ctx.on("event", (e) => events.upsert(e, true));
}
