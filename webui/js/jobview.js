// jobview.js -- how a job looks wherever it appears: a live panel that
// follows one job over the SSE stream (used after every action), its steps,
// and its placement decision in words.

import * as api from "./api.js";
import {h, fill, badge, progress, link, fmtTime, isNewer} from "./ui.js";
import {decision} from "./placement.js";

export const TERMINAL = ["succeeded", "failed", "cancelled"];

export function jobError(job) {
  if (!job.error) return null;
  return h("p", {class: "error", role: "alert"}, job.error.message + " (" + job.error.code + ")");
}

/** What a finished job says the operator should know (a device change's
 *  "takes effect when the VM is next started"), if it says anything. */
export function resultNote(job) {
  const r = job.result;
  if (!r || job.state !== "succeeded" || (!r.note && r.live === undefined)) return null;
  const live = r.live === true ? "The running VM has the change now." : r.live === false ? "The VM's definition changed." : "";
  return h("p", {class: "notice job-note", role: "status"}, [live, r.note ? r.note.charAt(0).toUpperCase() + r.note.slice(1) + "." : ""]
    .filter(Boolean).join(" "));
}

export function steps(job) {
  if (!job.steps || !job.steps.length) return null;
  return h("ol", {class: "steps", "aria-label": "Steps"}, job.steps.map((s) =>
    h("li", {}, h("span", {class: "step-name"}, (s.index + 1) + ". " + s.name), badge(s.state),
      progress(s.progress, "step " + s.name + " progress"),
      s.detail ? h("span", {class: "muted"}, typeof s.detail === "string" ? s.detail : JSON.stringify(s.detail)) : null)));
}

/**
 * A panel that shows one job and keeps itself current from the live stream.
 * onDone(job) runs once when the job reaches a final state.
 */
export function jobPanel(job, ctx, onDone) {
  const el = h("section", {class: "job-panel", "aria-live": "polite", "data-job-id": job.id});
  let done = false, shown = null;
  function draw(j) {
    if (!isNewer(shown, j)) return;
    shown = j;
    el.dataset.state = j.state;
    fill(el,
      h("div", {class: "toolbar"},
        h("strong", {}, j.kind), badge(j.state), progress(j.progress, j.kind + " progress"),
        link("#/jobs/" + j.id, "Job details")),
      steps(j), jobError(j), resultNote(j));
    if (!done && TERMINAL.includes(j.state)) {
      done = true;
      if (onDone) onDone(j);
    }
  }
  draw(job);
  ctx.on("job", (j) => { if (j.id === job.id && !done) draw(j); });
  // The job may have moved on before the subscription existed: read it once.
  api.get("/jobs/" + job.id).then((j) => { if (!done) draw(j); }).catch(() => {});
  return el;
}

/** The full job: facts, steps, error, placement decision and raw result. */
export function jobDetail(job) {
  const out = [];
  out.push(h("dl", {class: "facts"},
    h("dt", {}, "Kind"), h("dd", {}, job.kind),
    h("dt", {}, "State"), h("dd", {}, badge(job.state)),
    h("dt", {}, "Progress"), h("dd", {}, progress(job.progress, "job progress")),
    h("dt", {}, "Target"), h("dd", {}, targetLink(job.target_type, job.target_id)),
    h("dt", {}, "Created by"), h("dd", {}, job.created_by || "–"),
    h("dt", {}, "Created"), h("dd", {}, fmtTime(job.created_at)),
    h("dt", {}, "Started"), h("dd", {}, fmtTime(job.started_at)),
    h("dt", {}, "Finished"), h("dd", {}, fmtTime(job.finished_at))));
  const e = jobError(job);
  if (e) out.push(e);
  const st = steps(job);
  if (st) out.push(h("h3", {}, "Steps"), st);
  const result = job.result || {};
  if (result.placement) out.push(h("h3", {}, "Placement decision"), decision(result.placement));
  if (result.vm_id) out.push(h("p", {}, job.kind === "vm.create" ? "New VM: " : "VM: ", targetLink("vm", result.vm_id)));
  if (result.plan_id) out.push(h("p", {}, "Plan: ", link("#/plans/" + result.plan_id, result.plan_id)));
  const rest = Object.assign({}, result);
  delete rest.placement;
  if (Object.keys(rest).length) out.push(h("details", {}, h("summary", {}, "Result (raw)"),
    h("pre", {class: "json"}, JSON.stringify(rest, null, 2))));
  if (job.params && Object.keys(job.params).length) out.push(h("details", {}, h("summary", {}, "Parameters"),
    h("pre", {class: "json"}, JSON.stringify(job.params, null, 2))));
  return out;
}

export function targetLink(type, id) {
  if (!id) return "–";
  const pages = {vm: "#/vms/", host: "#/hosts/", plan: "#/plans/", job: "#/jobs/", storage_pool: "#/storage/",
    network: "#/networks/"};
  const named = {vm: "vms", host: "hosts", storage_pool: "storage-pools", network: "networks"};
  if (named[type]) {
    // named once the name arrives (cached); a deleted object keeps its id
    const word = type.replace(/_/g, " ");
    const a = link(pages[type] + id, word + " " + id);
    api.cached(named[type], id).then((o) => { a.textContent = word + " " + o.name; }).catch(() => {});
    return a;
  }
  if (pages[type]) return link(pages[type] + id, type + " " + id);
  if (type === "connection") return link("#/connections", "connection " + id);
  if (type === "schedule") {
    const a = link("#/schedules", "schedule " + id);
    api.cached("schedules", id).then((o) => { a.textContent = "schedule " + o.name; }).catch(() => {});
    return a;
  }
  return (type || "") + " " + id;
}
