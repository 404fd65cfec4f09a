// lists.js -- the lists that more than one page shows, so an object looks
// the same wherever it is listed: the columns of VMs (the VM list, a host's
// VMs, the inventory search), jobs (the job list, the dashboard, a VM's
// jobs) and events (the event log, the dashboard), and the VM search that
// the VM list and the inventory share.
//
// Pages import these and never each other: a page is one place of the
// console, and what two places show alike lives here.

import * as api from "./api.js";
import * as vendors from "./vendors.js";
import {h, link, badge, vmStateBadge, progress, fmtMB, fmtTime, select} from "./ui.js";
import {hostLink} from "./names.js";
import {targetLink} from "./jobview.js";

export function vmColumns() {
  return [
    {label: "Name", render: (v) => link("#/vms/" + v.id, v.name)},
    {label: "State", render: (v) => vmStateBadge(v)},
    {label: "Vendor", render: (v) => v.vendor},
    {label: "Host", render: (v) => hostLink(v.host_id)},
    {label: "vCPUs", render: (v) => String(v.vcpus)},
    {label: "Memory", render: (v) => fmtMB(v.memory_mb)},
    {label: "HA", render: (v) => v.ha},
  ];
}

export function jobColumns() {
  return [
    {label: "Job", render: (j) => link("#/jobs/" + j.id, j.kind)},
    {label: "State", render: (j) => badge(j.state)},
    {label: "Progress", render: (j) => progress(j.progress, j.kind + " progress")},
    {label: "Target", render: (j) => targetLink(j.target_type, j.target_id)},
    {label: "By", render: (j) => j.created_by || "–"},
    {label: "Created", render: (j) => fmtTime(j.created_at)},
    {label: "Error", render: (j) => j.error ? j.error.message : ""},
  ];
}

export function eventColumns() {
  return [
    {label: "Time", render: (e) => fmtTime(e.time)},
    {label: "Severity", render: (e) => badge(e.severity)},
    {label: "Object", render: (e) => targetLink(e.object_type, e.object_id)},
    {label: "Message", render: (e) => e.message},
    {label: "Actor", render: (e) => e.actor || "–"},
  ];
}

const POWER_STATES = [["", "Any state"], ["running", "Running"], ["stopped", "Stopped"], ["paused", "Paused"],
  ["saved", "Saved"], ["unknown", "Unknown"]];

/**
 * The VM search's controls: a name box, a power state and a vendor menu
 * (the vendors as the server lists them: call after vendors.load()),
 * preset from a page's query ("#/vms?vendor=kvm").  filter() joins what
 * they hold, and an optional expression of the API's grammar, into one
 * filter.
 */
export function vmSearch(query, placeholder) {
  const text = h("input", {type: "search", name: "q", placeholder, autocomplete: "off"});
  const state = select("power_state", POWER_STATES, (query && query.get("power_state")) || "");
  const vendor = select("vendor", vendors.options(["", "Any vendor"]), (query && query.get("vendor")) || "");
  function filter(raw) {
    const t = text.value.trim();
    return api.and(
      t ? "name contains " + api.q(t) : "",
      state.value ? "power_state eq " + api.q(state.value) : "",
      vendor.value ? "vendor eq " + api.q(vendor.value) : "",
      raw || "");
  }
  return {text, state, vendor, filter};
}
