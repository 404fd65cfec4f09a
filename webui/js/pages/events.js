// pages/events.js -- the event and audit log, newest first, with filters
// (severity, object type, text) in the API's grammar; new entries arrive live.

import * as api from "../api.js";
import {h, field, select, pagedTable, debounce} from "../ui.js";
import {eventColumns} from "../lists.js";

export function render(el, params, ctx) {
  const severity = select("severity", [["", "Any severity"], ["info", "Info"], ["warning", "Warning"],
    ["error", "Error"], ["critical", "Critical"], ["audit", "Audit"]], "");
  const type = select("object_type", [["", "Any object"], ["vm", "VM"], ["host", "Host"], ["job", "Job"],
    ["connection", "Connection"], ["storage_pool", "Storage pool"], ["network", "Network"], ["schedule", "Schedule"], ["plan", "Plan"], ["host_group", "Host group"]], "");
  const text = h("input", {type: "search", name: "q", placeholder: "words in the message"});
  const box = h("div");
  let table, filter = "";
  function reload() {
    filter = api.and(severity.value ? "severity eq " + api.q(severity.value) : "",
      type.value ? "object_type eq " + api.q(type.value) : "",
      text.value.trim() ? "message contains " + api.q(text.value.trim()) : "");
    table = pagedTable({caption: "Events", columns: eventColumns(), rowKey: (e) => e.id, empty: "No events match.",
      fetch: (cursor) => api.list("events", {limit: 50, cursor, filter, sort: "-time"})});
    box.replaceChildren(table.el);
  }
  severity.addEventListener("change", reload);
  type.addEventListener("change", reload);
  text.addEventListener("input", debounce(reload, 300));
  el.append(h("h2", {}, "Events"),
    h("div", {class: "toolbar"}, field("Severity", severity), field("Object type", type), field("Message contains", text)), box);
  reload();
  ctx.on("event", (e) => { if (!filter && table) table.upsert(e, true); });
}
