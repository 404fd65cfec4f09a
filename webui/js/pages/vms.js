// pages/vms.js -- VMs, the VM list: search by name, power state and vendor,
// or any expression of the API's filter grammar; one page at a time.

import * as api from "../api.js";
import * as vendors from "../vendors.js";
import {h, link, field, select, pagedTable, debounce} from "../ui.js";
import {vmColumns, vmSearch} from "../lists.js";

export async function render(el, params, ctx) {
  await vendors.load();
  const search = vmSearch(ctx.query, "part of a name");
  const raw = h("input", {type: "text", name: "filter", size: "40",
    placeholder: "e.g. memory_mb ge 1024 and tags contains 'web'"});
  const sort = select("sort", [["name", "Name"], ["-memory_mb", "Memory, largest first"],
    ["-vcpus", "vCPUs, most first"], ["power_state", "Power state"]], "name");
  const shown = h("p", {class: "muted"});
  let table;
  const container = h("div");
  function reload() {
    const filter = search.filter(raw.value.trim());
    shown.textContent = filter ? "Filter: " + filter : "All VMs";
    table = pagedTable({
      caption: "VMs", columns: vmColumns(), rowKey: (v) => v.id, empty: "No VM matches.",
      fetch: (cursor) => api.list("vms", {limit: 50, cursor, filter, sort: sort.value}),
    });
    container.replaceChildren(table.el);
  }
  const later = debounce(reload, 300);
  search.text.addEventListener("input", later);
  for (const s of [search.state, search.vendor, sort]) s.addEventListener("change", reload);
  el.append(
    h("h2", {}, "VMs"),
    h("div", {class: "toolbar"},
      field("Search by name", search.text), field("Power state", search.state), field("Vendor", search.vendor),
      field("Sort", sort), link("#/vms/new", "New VM…", {class: "button primary"})),
    h("form", {class: "toolbar", onsubmit: (e) => { e.preventDefault(); reload(); }},
      field("Filter expression", raw, "The API's filter grammar; press Enter."),
      h("button", {type: "submit"}, "Apply")),
    shown, container);
  reload();
  ctx.on("vm", (v) => table && table.upsert(v, false));
}
