// pages/jobs.js -- the job list and one job, both kept current from the
// live stream: a row or the detail is redrawn on every job message, so
// progress moves without a reload.  Cancel and restart are offered when the
// job's state allows them.

import * as api from "../api.js";
import {h, link, badge, field, select, pagedTable, errorBox, isNewer} from "../ui.js";
import {jobDetail, TERMINAL} from "../jobview.js";
import {jobColumns} from "../lists.js";

export function renderList(el, params, ctx) {
  const state = select("state", [["", "Any state"], ["active", "Queued or running"], ["queued", "Queued"],
    ["running", "Running"], ["succeeded", "Succeeded"], ["failed", "Failed"], ["cancelled", "Cancelled"]],
    ctx.query.get("state") || "");
  const kind = h("input", {type: "search", name: "kind", placeholder: "e.g. vm.migrate"});
  const box = h("div");
  let table, filter = "";
  function reload() {
    const s = state.value;
    filter = api.and(
      s === "active" ? "state in ('queued', 'running')" : s ? "state eq " + api.q(s) : "",
      kind.value.trim() ? "kind startswith " + api.q(kind.value.trim()) : "");
    table = pagedTable({caption: "Jobs", columns: jobColumns(), rowKey: (j) => j.id, empty: "No jobs.",
      fetch: (cursor) => api.list("jobs", {limit: 50, cursor, filter, sort: "-created_at"})});
    box.replaceChildren(table.el);
  }
  state.addEventListener("change", reload);
  kind.addEventListener("change", reload);
  el.append(h("h2", {}, "Jobs"),
    h("div", {class: "toolbar"}, field("State", state), field("Kind starts with", kind)), box);
  reload();
  // New jobs appear on top only when no filter hides them.
  ctx.on("job", (j) => table && table.upsert(j, !filter));
}

export async function renderJob(el, [id], ctx) {
  let job = await api.get("/jobs/" + id);
  const title = h("h2", {});
  const body = h("div", {"aria-live": "polite"});
  const buttons = h("div", {class: "buttons"});
  const err = errorBox();
  // The buttons are made once and only enabled or disabled on updates, so
  // a live redraw never takes the focus (or a click) away from them.
  const cancel = h("button", {type: "button", "data-action": "cancel", onclick: () => act("cancel")}, "Cancel job");
  const restart = h("button", {type: "button", "data-action": "restart", onclick: () => act("restart")}, "Restart job");
  buttons.append(cancel, restart);
  function draw() {
    title.replaceChildren("Job ", job.kind, " ", badge(job.state));
    cancel.disabled = TERMINAL.includes(job.state);
    restart.disabled = !["failed", "cancelled"].includes(job.state);
    body.replaceChildren(...jobDetail(job));
  }
  async function act(what) {
    err.clear();
    try {
      const r = await api.post("/jobs/" + id + "/" + what);
      if (r && r.id && r.id !== id) { location.hash = "#/jobs/" + r.id; return; }
      if (r && r.id && isNewer(job, r)) { job = r; draw(); }
    } catch (e) { err.show(e); }
  }
  draw();
  el.append(h("p", {class: "muted"}, link("#/jobs", "Jobs"), " › ", id), title, buttons, err, body);
  ctx.on("job", (j) => {
    if (j.id !== id || !isNewer(job, j)) return;
    // the stream carries the job as GET shows it, but keep the result we have if it omits one
    job = Object.assign({}, job, j);
    draw();
  });
}
