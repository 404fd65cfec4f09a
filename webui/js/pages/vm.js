// pages/vm.js -- VM, one VM's page: its facts, the power actions, migrate with the
// host picker (every host's stars and the reasons behind them), delete with
// a confirmation, HA and tags, its disks and NICs with their changes (add,
// remove, grow, move a disk; add, connect, remove a NIC: ../devices.js), and
// its recent jobs.
//
// Every action answers 202 with a job; the job is shown right under the
// buttons and follows the live stream to its end.  Errors (a refused request
// or a failed job) appear in that same place.

import * as api from "../api.js";
import {h, link, vmStateBadge, fmtMB, fmtTime, facts, errorBox, modal, confirmDialog, select, field, pagedTable,
  table} from "../ui.js";
import {jobPanel} from "../jobview.js";
import {ratingsList} from "../placement.js";
import {hostLink, nameOf, poolLink, networkLink} from "../names.js";
import {jobColumns} from "../lists.js";
import * as vendors from "../vendors.js";
import * as dev from "../devices.js";

// Which actions make sense in which power state (the API refuses the rest).
const ACTIONS = [
  ["start", "Start", ["stopped", "saved"]],
  ["shutdown", "Shut down", ["running", "paused"]],
  ["poweroff", "Power off", ["running", "paused"]],
  ["reboot", "Reboot", ["running"]],
  ["pause", "Pause", ["running"]],
  ["resume", "Resume", ["paused"]],
  ["save", "Save", ["running", "paused"]],
];

// A disk as every vendor reports it (id, pool_id, size, bus) and, where the
// vendor says, its device name (libvirt's target, vSphere's device key) and backing file.
const DISK_COLUMNS = [
  {label: "Disk", render: (d) => dev.diskName(d)},
  {label: "Pool", render: (d) => d.pool_id ? poolLink(d.pool_id) : "–"},
  {label: "Size", render: (d) => d.size_mb !== undefined && d.size_mb !== null ? fmtMB(d.size_mb)
    : d.size_gb !== undefined && d.size_gb !== null ? d.size_gb + " GiB" : "–"},
  {label: "Bus", render: (d) => d.bus || "–"},
  {label: "Backing", render: (d) => d.path || "–"},
];

const NIC_COLUMNS = [
  {label: "Network", render: (n) => n.network_id ? networkLink(n.network_id) : (n.network || n.bridge || "–")},
  {label: "MAC", render: (n) => n.mac || "–"},
  {label: "Model", render: (n) => n.model || "–"},
];

export async function render(el, [id], ctx) {
  let vm = await api.get("/vms/" + id);
  const title = h("h2", {});
  const buttons = h("div", {class: "buttons", role: "group", "aria-label": "VM actions"});
  const err = errorBox();
  const jobsArea = h("div", {class: "vm-jobs"});
  const info = h("div");
  const devices = h("div", {class: "devices"});

  // Buttons are made once; updates only enable or disable them, so a live
  // redraw never takes the keyboard focus (or a click) away.
  const actionButtons = ACTIONS.map(([action, label, states]) => {
    const b = h("button", {type: "button", "data-action": action, onclick: () => act(action)}, label);
    b.states = states;
    return b;
  });
  const deleteButton = h("button", {type: "button", "data-action": "delete", class: "danger", onclick: remove}, "Delete…");
  buttons.append(...actionButtons,
    h("button", {type: "button", "data-action": "migrate", onclick: migrate}, "Migrate…"), deleteButton);

  // Device changes need the adapter's "devices" capability; without it the
  // buttons stay, disabled, and say why.
  await vendors.load().catch(() => []);
  const vendor = vendors.find(vm.vendor);
  const canDevices = !!(vendor && (vendor.capabilities || []).includes("devices"));
  const whyNot = h("p", {class: "hint", id: "devices-why-not", hidden: canDevices},
    "Disks and NICs cannot be changed here: the " + (vendor ? vendor.title : vm.vendor) +
    " adapter has no 'devices' capability.");
  function devButton(label, name, action, handler) {
    const attrs = {type: "button", "aria-label": name, "data-action": action, onclick: async () => {
      err.clear();
      try {
        const job = await handler();
        if (job) follow(job);
        else await reread();   // cancelled: a refusal in the dialog may mean the page was stale
      } catch (e) { err.show(e); await reread(); }
    }};
    if (!canDevices) Object.assign(attrs, {disabled: true, "aria-describedby": "devices-why-not"});
    return h("button", attrs, label);
  }
  const diskColumns = DISK_COLUMNS.concat([{label: "Actions", render: (d) => h("span", {class: "buttons"},
    devButton("Grow…", "Grow disk " + dev.diskName(d), "grow-disk", () => dev.growDiskDialog(vm, d)),
    devButton("Move…", "Move disk " + dev.diskName(d), "move-disk", () => dev.moveDiskDialog(vm, d)),
    devButton("Remove…", "Remove disk " + dev.diskName(d), "remove-disk", () => dev.removeDevice(vm, "disks", d)))}]);
  const nicColumns = NIC_COLUMNS.concat([{label: "Actions", render: (n) => h("span", {class: "buttons"},
    devButton("Connect…", "Connect NIC " + dev.nicName(n) + " to another network", "connect-nic", () => dev.connectNicDialog(vm, n)),
    devButton("Remove…", "Remove NIC " + dev.nicName(n), "remove-nic", () => dev.removeDevice(vm, "nics", n)))}]);
  async function reread() {
    try { vm = await api.get("/vms/" + id); draw(); } catch (e) { /* the page shows what it had */ }
  }
  let devicesShown = null;   // the disks and NICs drawn: redraw only when they change

  function drawDevices() {
    const now = JSON.stringify([vm.disks || [], vm.nics || [], vm.power_state]);
    if (now === devicesShown) return;
    devicesShown = now;
    devices.replaceChildren(whyNot,
      h("section", {}, h("h3", {}, "Disks"),
        h("div", {class: "toolbar"}, devButton("Add disk…", "Add disk", "add-disk", () => dev.addDiskDialog(vm))),
        table({caption: "Disks of " + vm.name, columns: diskColumns, items: vm.disks || [], empty: "No disks."})),
      h("section", {}, h("h3", {}, "NICs"),
        h("div", {class: "toolbar"}, devButton("Add NIC…", "Add NIC", "add-nic", () => dev.addNicDialog(vm))),
        table({caption: "NICs of " + vm.name, columns: nicColumns, items: vm.nics || [],
          empty: "No NICs: the VM is on no network."})));
  }

  function draw() {
    title.replaceChildren(vm.name, " ", vmStateBadge(vm));
    for (const b of actionButtons) b.disabled = !b.states.includes(vm.power_state) && vm.power_state !== "unknown";
    deleteButton.disabled = !["stopped", "saved", "unknown"].includes(vm.power_state);
    info.replaceChildren(facts([
      ["Power state", vmStateBadge(vm)],
      ["Host", hostLink(vm.host_id)],
      ["Vendor", vm.vendor],
      ["Connection", nameOf("connections", vm.connection_id)],
      ["Native id", vm.native_id],
      ["vCPUs", String(vm.vcpus)],
      ["Memory", fmtMB(vm.memory_mb)],
      ["Paravirtual devices", vm.paravirtual ? "yes" : "no"],
      ["HA", vm.ha],
      ["Tags", (vm.tags || []).join(", ") || "–"],
      ["Affinity / anti-affinity", ((vm.affinity || []).join(", ") || "–") + " / " + ((vm.anti_affinity || []).join(", ") || "–")],
      ["Observed", fmtTime(vm.observed_at) + " (" + (vm.source || "?") + ")"],
      ["Id", vm.id],
    ]));
    drawDevices();
  }

  function follow(job) {
    jobsArea.prepend(jobPanel(job, ctx, async (j) => {
      if (j.kind === "vm.delete" && j.state === "succeeded") {
        jobsArea.prepend(h("p", {class: "notice"}, "The VM was deleted. ", link("#/vms", "Back to the VM list")));
        return;
      }
      try { vm = await api.get("/vms/" + id); draw(); } catch (e) { /* shown elsewhere */ }
    }));
    while (jobsArea.children.length > 4) jobsArea.lastChild.remove();
  }

  async function act(action) {
    err.clear();
    try { follow(await api.post("/vms/" + id + "/" + action)); } catch (e) { err.show(e); }
  }

  async function remove() {
    err.clear();
    const ok = await confirmDialog("Delete " + vm.name + "?",
      "The VM " + vm.name + " will be removed from its hypervisor. This cannot be undone.", "Delete VM");
    if (!ok) return;
    try { follow(await api.del("/vms/" + id)); } catch (e) { err.show(e); }
  }

  async function migrate() {
    err.clear();
    const job = await migrateDialog(vm);
    if (job) follow(job);
  }

  const ha = select("ha", [["off", "off"], ["low", "low"], ["medium", "medium"], ["high", "high"]], vm.ha);
  const tags = h("input", {type: "text", name: "tags", value: (vm.tags || []).join(", ")});
  const settingsErr = errorBox();
  const settings = h("form", {class: "toolbar", onsubmit: async (e) => {
    e.preventDefault();
    settingsErr.clear();
    try {
      vm = await api.patch("/vms/" + id, {ha: ha.value,
        tags: tags.value.split(",").map((t) => t.trim()).filter(Boolean)});
      draw();
    } catch (ex) { settingsErr.show(ex); }
  }}, field("HA priority", ha), field("Tags (comma separated)", tags), h("button", {type: "submit"}, "Save settings"));

  const recent = pagedTable({caption: "Jobs of this VM", columns: jobColumns(), rowKey: (j) => j.id,
    empty: "No jobs for this VM yet.",
    fetch: (cursor) => api.list("jobs", {limit: 10, cursor, sort: "-created_at", filter: "target_id eq " + api.q(id)})});
  draw();
  el.append(
    h("p", {class: "muted"}, link("#/vms", "VMs"), " › ", vm.name),
    title, buttons, err, jobsArea,
    h("div", {class: "two-col"},
      h("section", {}, h("h3", {}, "Details"), info),
      h("section", {}, h("h3", {}, "Settings"), settings, settingsErr)),
    devices,
    h("h3", {}, "Recent jobs"), recent.el);

  // vm messages carry the fields that changed (power state, host): merge them
  ctx.on("job", (j) => { if (j.target_id === id) recent.upsert(j, true); });
  ctx.on("vm", (v) => { if (v.id === id) { vm = Object.assign({}, vm, v); draw(); } });
}

/** The migrate dialog: mode, then a host from the ratings.  Resolves to the job or undefined. */
export function migrateDialog(vm) {
  return modal("Migrate " + vm.name, (dlg, close) => {
    const err = errorBox();
    const running = vm.power_state === "running" || vm.power_state === "paused";
    const mode = h("fieldset", {},
      h("legend", {}, "Mode"),
      h("label", {}, h("input", {type: "radio", name: "mode", value: "live", checked: running, disabled: !running}),
        " Live (the VM keeps running)"), " ",
      h("label", {}, h("input", {type: "radio", name: "mode", value: "quick", checked: !running}),
        " Quick (save, copy, restore)"));
    const hosts = h("div", {"aria-live": "polite"}, h("p", {}, "Rating hosts…"));
    const submit = h("button", {type: "submit", class: "primary"}, "Migrate");
    const form = h("form", {method: "dialog", onsubmit: async (e) => {
      e.preventDefault();
      err.clear();
      const body = {mode: form.querySelector("input[name=mode]:checked").value};
      const pick = form.querySelector("input[name=host]:checked");
      if (pick && pick.value) body.host_id = pick.value;
      submit.disabled = true;
      try { close(await api.post("/vms/" + vm.id + "/migrate", body)); }
      catch (ex) { err.show(ex); submit.disabled = false; }
    }}, mode, h("fieldset", {}, h("legend", {}, "Destination host"), hosts), err,
      h("div", {class: "buttons"}, submit, h("button", {type: "button", onclick: () => close()}, "Cancel")));
    dlg.append(form);
    api.post("/placement/ratings", {vm_id: vm.id, limit: 50}).then((r) => {
      hosts.replaceChildren(h("p", {class: "muted"}, r.hosts_rated + " hosts rated, " +
        (r.eligible_hosts !== undefined ? r.eligible_hosts : r.items.filter((x) => x.eligible).length) + " eligible."),
      ratingsList(r, {name: "host"}));
    }).catch((ex) => { hosts.replaceChildren(); err.show(ex); });
  });
}
