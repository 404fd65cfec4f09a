// devices.js -- a VM's disks and NICs as things one changes: the dialogs
// behind the VM page's Add disk, Grow, Move, Remove, Add NIC and Connect
// buttons.  Each dialog resolves to the vm.device job the API answered with
// (the page shows it live), or to undefined when cancelled; a request the
// API refuses (a shrink, a full pool, a running VM) stays in the dialog with
// the server's code and message, so the operator can change the answer.
//
// Pools and networks are offered from what the VM's host reaches (the
// host_ids of each), as the API checks it; the page asks only when the VM's
// adapter has the "devices" capability (GET /api/v1/adapters).

import * as api from "./api.js";
import {h, fmtMB, errorBox, modal, confirmDialog, field} from "./ui.js";

const OFFERED = 100;

/** A disk's or NIC's name for people: the vendor's device name, else its id. */
export function diskName(d) { return d.target || d.key || d.id; }
export function nicName(n) { return n.mac || n.key || n.id; }

/** What the VM's host reaches of one collection ("storage-pools" or "networks"). */
function reached(collection, vm) {
  return api.list(collection, {limit: OFFERED, sort: "name",
    filter: "host_ids contains " + api.q(vm.host_id)}).then((r) => r.items);
}

const poolText = (p) => p.name + " — " + fmtMB(p.free_mb) + " free of " + fmtMB(p.capacity_mb) +
  (p.shared ? ", shared" : ", local");
const netText = (n) => n.name + " — " + (n.kind || "network") +
  (n.vlan !== null && n.vlan !== undefined ? ", VLAN " + n.vlan : "");

/**
 * One dialog with a menu of pools or networks (skip: the one the device is
 * on now), more controls, and a submit that posts what body() says.
 */
function pickDialog({title, collection, vm, skip, menuLabel, text, extra, submitLabel, send, empty}) {
  return modal(title, (dlg, close) => {
    const err = errorBox();
    const menu = h("select", {name: collection === "networks" ? "network_id" : "pool_id", required: true, disabled: true},
      h("option", {value: ""}, "Reading what the host reaches…"));
    const submit = h("button", {type: "submit", class: "primary", disabled: true}, submitLabel);
    const form = h("form", {method: "dialog", onsubmit: async (e) => {
      e.preventDefault();
      err.clear();
      submit.disabled = true;
      try { close(await send(menu.value)); } catch (ex) { err.show(ex); submit.disabled = false; }
    }}, field(menuLabel, menu), ...(extra || []), err,
      h("div", {class: "buttons"}, submit, h("button", {type: "button", onclick: () => close()}, "Cancel")));
    dlg.append(form);
    reached(collection, vm).then((items) => {
      const offered = items.filter((x) => x.id !== skip);
      menu.replaceChildren(...(offered.length ? offered.map((x) => h("option", {value: x.id}, text(x)))
        : [h("option", {value: ""}, empty)]));
      menu.disabled = !offered.length;
      submit.disabled = !offered.length;
      if (offered.length) menu.focus();
    }).catch((ex) => err.show(ex));
  });
}

export function addDiskDialog(vm) {
  const size = h("input", {type: "number", name: "size_gb", min: "1", max: "65536", step: "1", value: "1", required: true});
  return pickDialog({title: "Add a disk to " + vm.name, collection: "storage-pools", vm, menuLabel: "Storage pool",
    text: poolText, submitLabel: "Add disk", empty: "The VM's host reaches no storage pool",
    extra: [field("Size (GiB)", size)],
    send: (pool) => api.post("/vms/" + vm.id + "/disks", {size_gb: Number(size.value), pool_id: pool})});
}

export function moveDiskDialog(vm, disk) {
  return pickDialog({title: "Move disk " + diskName(disk) + " of " + vm.name, collection: "storage-pools", vm,
    skip: disk.pool_id, menuLabel: "To storage pool", text: poolText, submitLabel: "Move disk",
    empty: "The VM's host reaches no other storage pool",
    extra: [h("p", {class: "hint"}, vm.power_state === "running"
      ? "The disk is copied while the VM runs, then the VM switches to the copy; the old volume is removed after the switch."
      : "The disk is copied to the new pool; the old volume is removed after the switch.")],
    send: (pool) => api.post("/vms/" + vm.id + "/disks/" + disk.id + "/move", {pool_id: pool})});
}

export function addNicDialog(vm) {
  return pickDialog({title: "Add a NIC to " + vm.name, collection: "networks", vm, menuLabel: "Network",
    text: netText, submitLabel: "Add NIC", empty: "The VM's host reaches no network",
    send: (net) => api.post("/vms/" + vm.id + "/nics", {network_id: net})});
}

export function connectNicDialog(vm, nic) {
  return pickDialog({title: "Connect NIC " + nicName(nic) + " of " + vm.name, collection: "networks", vm,
    skip: nic.network_id, menuLabel: "To network", text: netText, submitLabel: "Connect",
    empty: "The VM's host reaches no other network",
    send: (net) => api.patch("/vms/" + vm.id + "/nics/" + nic.id, {network_id: net})});
}

/**
 * Grow a disk: the size input starts one GiB above the disk and will not
 * take less (the browser refuses the form); the API's shrink_not_supported
 * still shows here when the disk grew meanwhile.
 */
export function growDiskDialog(vm, disk) {
  return modal("Grow disk " + diskName(disk) + " of " + vm.name, (dlg, close) => {
    const err = errorBox();
    const nowMB = Number(disk.size_mb || (disk.size_gb || 0) * 1024);
    const least = Math.floor(nowMB / 1024) + 1;
    const size = h("input", {type: "number", name: "size_gb", min: String(least), max: "65536", step: "1",
      value: String(least), required: true});
    const submit = h("button", {type: "submit", class: "primary"}, "Grow disk");
    const form = h("form", {method: "dialog", onsubmit: async (e) => {
      e.preventDefault();
      err.clear();
      submit.disabled = true;
      try { close(await api.post("/vms/" + vm.id + "/disks/" + disk.id + "/resize", {size_gb: Number(size.value)})); }
      catch (ex) { err.show(ex); submit.disabled = false; }
    }}, field("New size (GiB)", size, "The disk is " + fmtMB(nowMB) + " now. A disk only grows: at least " +
      least + " GiB."), err,
    h("div", {class: "buttons"}, submit, h("button", {type: "button", onclick: () => close()}, "Cancel")));
    dlg.append(form);
  });
}

/** Remove a disk or a NIC after asking; resolves to the job or undefined. */
export async function removeDevice(vm, kind, dev) {
  const disk = kind === "disks";
  const name = disk ? diskName(dev) : nicName(dev);
  const ok = await confirmDialog("Remove " + (disk ? "disk " : "NIC ") + name + "?",
    disk ? "Disk " + name + " is detached from " + vm.name + "; its volume is deleted too when it was made for this VM."
      : "NIC " + name + " is removed from " + vm.name + ".", disk ? "Remove disk" : "Remove NIC");
  if (!ok) return undefined;
  return api.del("/vms/" + vm.id + "/" + kind + "/" + dev.id);
}
