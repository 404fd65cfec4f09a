// pages/schedules.js -- schedules (list, create with a cron helper that asks
// the server for the next runs, enable/disable, run now, delete) and the
// plans their runs propose (review the moves, approve or reject).

import * as api from "../api.js";
import {h, fill, link, badge, fmtTime, field, select, pagedTable, errorBox, confirmDialog, facts, stars, debounce} from "../ui.js";
import {jobPanel} from "../jobview.js";
import {hostLink, nameOf} from "../names.js";
import {rejectedText} from "../placement.js";

const PARAMS = {
  rebalance: {threshold_pct: 80, aggressiveness: 3, max_moves: 20, mode: "plan"},
  "power-optimize": {threshold_pct: 70, mode: "plan"},
  evacuate: {host_id: "host-…", mode: "live"},
  deploy: {count: 2, vm: {name_prefix: "web", vcpus: 1, memory_mb: 512}},
};

export function renderList(el, params, ctx) {
  const jobs = h("div");
  const listErr = errorBox();
  function follow(job) {
    jobs.prepend(jobPanel(job, ctx, () => { schedTable.reload(); plans.reload(); }));
    while (jobs.children.length > 3) jobs.lastChild.remove();
  }
  async function act(s, what) {
    listErr.clear();
    try {
      const r = await api.post("/schedules/" + s.id + "/" + what);
      if (what === "run") follow(r); else schedTable.reload();
    } catch (e) { listErr.show(e); }
  }
  async function remove(s) {
    if (!await confirmDialog("Delete schedule?", "Delete the schedule " + s.name + "? Jobs and plans it made stay.", "Delete")) return;
    try { await api.del("/schedules/" + s.id); schedTable.reload(); } catch (e) { listErr.show(e); }
  }
  const schedTable = pagedTable({caption: "Schedules", rowKey: (s) => s.id, empty: "No schedules yet.",
    columns: [
      {label: "Name", render: (s) => s.name},
      {label: "Kind", render: (s) => s.kind},
      {label: "When", render: (s) => (s.cron || ("once at " + s.at_time)) + " (" + (s.timezone || "UTC") + ")"},
      {label: "Enabled", render: (s) => badge(s.enabled ? "enabled" : "disabled")},
      {label: "Next run", render: (s) => fmtTime(s.next_run_at)},
      {label: "Last run", render: (s) => s.last_run_at ? [fmtTime(s.last_run_at), " ",
        s.last_job_id ? link("#/jobs/" + s.last_job_id, "job") : null, s.last_error ? h("span", {class: "error"}, s.last_error) : null] : "never"},
      {label: "Actions", render: (s) => h("span", {class: "buttons"},
        h("button", {type: "button", onclick: () => act(s, s.enabled ? "disable" : "enable")}, s.enabled ? "Disable" : "Enable"),
        h("button", {type: "button", onclick: () => act(s, "run")}, "Run now"),
        h("button", {type: "button", class: "danger", onclick: () => remove(s)}, "Delete…"))},
    ],
    fetch: (cursor) => api.list("schedules", {limit: 50, cursor, sort: "name"})});

  const plans = pagedTable({caption: "Plans", rowKey: (p) => p.id, empty: "No plans yet.",
    columns: [
      {label: "Plan", render: (p) => link("#/plans/" + p.id, p.kind ? p.kind + " plan" : p.id)},
      {label: "State", render: (p) => badge(p.state)},
      {label: "Moves", render: (p) => String((p.moves || []).length)},
      {label: "Schedule", render: (p) => p.schedule_id ? nameOf("schedules", p.schedule_id) : "–"},
      {label: "Created", render: (p) => fmtTime(p.created_at)},
    ],
    fetch: (cursor) => api.list("plans", {limit: 20, cursor})});

  el.append(h("h2", {}, "Schedules & plans"), listErr, schedTable.el, jobs, createForm(() => schedTable.reload()),
    h("h3", {}, "Plans"), plans.el);
}

function createForm(onCreated) {
  const name = h("input", {name: "name", required: true});
  const kind = select("kind", Object.keys(PARAMS).map((k) => [k, k]), "rebalance");
  const when = select("when", [["cron", "Repeat (cron)"], ["at", "Once (at a time)"]], "cron");
  const cron = h("input", {name: "cron", value: "0 3 * * *", autocomplete: "off", spellcheck: "false"});
  const at = h("input", {name: "at_time", type: "datetime-local"});
  const tz = h("input", {name: "timezone", value: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"});
  const params = h("textarea", {name: "params", rows: "5"}, JSON.stringify(PARAMS.rebalance, null, 2));
  const preview = h("div", {class: "cron-preview", "aria-live": "polite"});
  const err = errorBox();
  const cronF = field("Cron expression", cron, "minute hour day-of-month month day-of-week, or @daily …");
  const atF = field("At", at);
  kind.addEventListener("change", () => { params.value = JSON.stringify(PARAMS[kind.value], null, 2); });
  function shape() { cronF.hidden = when.value !== "cron"; atF.hidden = when.value !== "at"; refresh(); }
  async function refresh() {
    const body = {timezone: tz.value.trim() || "UTC", count: 5};
    if (when.value === "cron") body.cron = cron.value.trim(); else if (at.value) body.at_time = at.value; else { preview.replaceChildren(); return; }
    try {
      const r = await api.post("/schedules/preview", body);
      preview.replaceChildren(h("p", {class: "hint"}, "Next runs (" + r.timezone + "):"),
        h("ol", {class: "next-runs"}, (r.next_runs || []).map((t) => h("li", {}, fmtTime(t) + "  —  " + t))));
    } catch (e) {
      preview.replaceChildren(h("p", {class: "error"}, e.message));
    }
  }
  const later = debounce(refresh, 300);
  for (const c of [cron, tz, at]) c.addEventListener("input", later);
  when.addEventListener("change", shape);
  const form = h("form", {onsubmit: async (e) => {
    e.preventDefault();
    err.clear();
    let p;
    try { p = JSON.parse(params.value || "{}"); } catch (ex) { err.show(new Error("Parameters are not valid JSON: " + ex.message)); return; }
    const body = {name: name.value.trim(), kind: kind.value, timezone: tz.value.trim() || "UTC", params: p};
    if (when.value === "cron") body.cron = cron.value.trim(); else body.at_time = at.value;
    try { await api.post("/schedules", body); form.reset(); shape(); onCreated(); } catch (ex) { err.show(ex); }
  }}, h("fieldset", {}, h("legend", {}, "New schedule"),
    h("div", {class: "two-col"},
      h("div", {}, field("Name", name), field("Kind", kind), field("When", when), cronF, atF, field("Time zone (IANA)", tz)),
      h("div", {}, preview, field("Parameters (JSON)", params, "See docs/placement.md for each kind's parameters."))),
    h("div", {class: "buttons"}, h("button", {type: "submit", class: "primary"}, "Create schedule")), err));
  shape();
  return form;
}

function pctBar(pct) {
  const p = Math.max(0, Math.min(100, Number(pct) || 0));
  return h("span", {class: "pct"}, h("span", {class: "bar inline", "aria-hidden": "true"}, h("span", {style: "width:" + p + "%"})),
    " " + (Math.round((Number(pct) || 0) * 10) / 10) + " %");
}

function hostsTable(s) {
  return h("div", {class: "table-wrap"}, h("table", {class: "list"},
    h("caption", {class: "sr-only"}, "Host utilisation before and after the plan"),
    h("thead", {}, h("tr", {}, ["Host", "Before", "After"].map((t) => h("th", {scope: "col"}, t)))),
    h("tbody", {}, s.hosts.map((x) => h("tr", {},
      h("td", {"data-label": "Host"}, link("#/hosts/" + x.host_id, x.name || x.host_id)),
      h("td", {"data-label": "Before"}, pctBar(x.before_pct)),
      h("td", {"data-label": "After"}, pctBar(x.after_pct)))))));
}

export async function renderPlan(el, [id], ctx) {
  let plan = await api.get("/plans/" + id);
  const title = h("h2", {});
  const body = h("div");
  const buttons = h("div", {class: "buttons"});
  const err = errorBox();
  const jobs = h("div");
  async function reload() { plan = await api.get("/plans/" + id); draw(); }
  function draw() {
    title.replaceChildren((plan.kind || "Placement") + " plan ", badge(plan.state));
    const proposed = plan.state === "proposed";
    buttons.replaceChildren(
      h("button", {type: "button", class: "primary", disabled: !proposed, onclick: approve}, "Approve and run"),
      h("button", {type: "button", disabled: !proposed, onclick: reject}, "Reject"));
    const s = plan.summary || {};
    fill(body,
      facts([["State", badge(plan.state)], ["Created", fmtTime(plan.created_at)],
        ["Schedule", plan.schedule_id ? nameOf("schedules", plan.schedule_id) : "–"],
        ["Job", plan.job_id ? link("#/jobs/" + plan.job_id, plan.job_id) : "–"],
        ["Unplaced VMs", (s.unplaced || []).length ? (s.unplaced || []).map((u) => (u.vm_name || u.vm_id) + " (" + rejectedText(u.rejected_by, u.rejected_messages) + ")").join("; ") : "none"],
        ["Threshold", s.threshold_pct !== undefined ? s.threshold_pct + " %" + (s.balanced === false ? " (not every host gets under it)" : "") : "–"],
        ["Unresolved hosts", (s.unresolved || []).length ? (s.unresolved || []).map((u) => (u.name || u.host_id) + ": " + u.reason).join("; ") : "none"],
        ["Hosts to power down", (s.power_down_host_ids || []).length ? s.power_down_host_ids.map((x) => hostLink(x)) : "none"]]),
      h("h3", {}, "Moves"),
      h("div", {class: "table-wrap"}, h("table", {class: "list"},
        h("thead", {}, h("tr", {}, ["VM", "From", "To", "Mode", "Rating", "Reason", "State"].map((t) => h("th", {scope: "col"}, t)))),
        h("tbody", {}, (plan.moves || []).map((m) => h("tr", {},
          h("td", {"data-label": "VM"}, link("#/vms/" + m.vm_id, m.vm_name || m.vm_id)),
          h("td", {"data-label": "From"}, hostLink(m.from_host_id)),
          h("td", {"data-label": "To"}, hostLink(m.to_host_id)),
          h("td", {"data-label": "Mode"}, m.mode || "–"),
          h("td", {"data-label": "Rating"}, m.stars !== undefined && m.stars !== null ? stars(m.stars) : "–"),
          h("td", {"data-label": "Reason"}, m.reason || "–"),
          h("td", {"data-label": "State"}, m.state ? badge(m.state) : "planned",
            m.job_id ? [" ", link("#/jobs/" + m.job_id, "job")] : null, m.error ? h("span", {class: "error"}, " " + (m.error.message || m.error)) : null)))))),
      (s.hosts || []).length ? [h("h3", {}, "Host utilisation before and after"), hostsTable(s)] : null);
  }
  async function approve() {
    err.clear();
    try { const job = await api.post("/plans/" + id + "/approve"); jobs.prepend(jobPanel(job, ctx, () => reload().catch(() => {}))); await reload(); }
    catch (e) { err.show(e); }
  }
  async function reject() {
    err.clear();
    try { await api.post("/plans/" + id + "/reject"); await reload(); } catch (e) { err.show(e); }
  }
  draw();
  el.append(h("p", {class: "muted"}, link("#/schedules", "Schedules & plans"), " › plan ", id), title, buttons, err, jobs, body);
}
