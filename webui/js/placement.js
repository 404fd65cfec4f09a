// placement.js -- the placement engine's explanation, in words.
//
// POST /placement/ratings and a job's result.placement give every host a
// star rating, each filter's verdict (with a stable reason code and the
// numbers behind it) and each weight's contribution.  This file turns those
// into sentences an operator can read: "Memory: needs 512 MiB, 30 GiB free
// of 32 GiB".  Unknown filters and codes fall back to "name: code (k=v)".

import {h, stars, fmtMB, fmtNum} from "./ui.js";

const CODES = {
  in_maintenance: "the host is in maintenance mode",
  disconnected: "the host is disconnected or failed",
  vendor_mismatch: "the VM's hypervisor type does not match this host",
  current_host: "the VM already runs on this host",
  out_of_scope: "the host is outside the chosen host group",
  excluded: "the plan is emptying this host",
  insufficient_memory: "not enough free memory",
  host_reserve: "it would eat into the host's reserve",
  ha_reserve: "it would use the memory held back for HA restarts",
  insufficient_cpu: "not enough CPU capacity",
  quota: "the host group's quota would be exceeded",
  affinity: "the VM's affinity set runs elsewhere",
  anti_affinity: "another VM of its availability set is on this host",
  tag_rule: "a host-group tag rule forbids it",
  pool_unreachable: "the host does not reach the disk's storage pool",
  insufficient_storage: "the storage pool has too little free space for the disks",
  network_unreachable: "the host does not reach the NIC's network",
};

export function codeText(code) { return CODES[code] || String(code).replace(/_/g, " "); }

function kv(detail) {
  return Object.entries(detail || {}).map(([k, v]) =>
    k.replace(/_/g, " ") + " " + (typeof v === "object" ? JSON.stringify(v) : v)).join(", ");
}

/** One filter verdict as a sentence. */
export function filterText(f) {
  const d = f.detail || {};
  let what = "";
  switch (f.name) {
    case "host_state": what = "Host state: " + (d.state || "?"); break;
    case "vendor": what = "Hypervisor: host is " + (d.host_vendor || "?"); break;
    case "scope": what = "Scope: " + (d.reason || (d.host_group_id ? "group " + d.host_group_id : "any host")); break;
    case "memory":
      what = "Memory: needs " + fmtMB(d.required_mb) + ", " + fmtMB(d.free_mb) + " free of " + fmtMB(d.capacity_mb) +
        " (used " + fmtMB(d.used_mb) + ", host reserve " + fmtMB(d.host_reserve_mb) + ", HA reserve " + fmtMB(d.ha_reserve_mb) + ")";
      break;
    case "cpu":
      what = "CPU: needs " + d.required_vcpus + " vCPU, " + d.allocated_vcpus + " of " + d.vcpu_capacity +
        " vCPUs allocated (" + d.cores + " cores × " + d.overcommit + "), " + fmtNum(d.cpu_usage_pct, 1) + " % busy" +
        (d.host_reserve_pct ? ", reserve " + d.host_reserve_pct + " %" : "");
      break;
    default: {
      const name = f.name.replace(/_/g, " ");
      const more = kv(d);
      what = name.charAt(0).toUpperCase() + name.slice(1) + (more ? ": " + more : ": no rule applies");
    }
  }
  return f.passed ? what : what + " — refused: " + codeText(f.code) + " (" + f.code + ")";
}

export function weightText(w) {
  return w.name.replace(/_/g, " ") + ": " + fmtNum(w.value, 3) + " × weight " + fmtNum(w.weight, 2) +
    " = " + fmtNum(w.contribution, 3);
}

/** The explanation of one rating: failing filters first, then passed ones, then weights. */
export function explanation(r) {
  const filters = (r.filters || []).slice().sort((a, b) => Number(a.passed) - Number(b.passed));
  const summary = r.eligible
    ? "Eligible: score " + fmtNum(r.score, 1) + " of 100"
    : "Not eligible: " + (r.filters || []).filter((f) => !f.passed).map((f) => codeText(f.code)).join("; ");
  return h("details", {class: "why"},
    h("summary", {}, "Why? ", h("span", {class: "muted"}, summary)),
    h("ul", {class: "explain"},
      filters.map((f) => h("li", {class: f.passed ? "pass" : "fail"}, filterText(f))),
      (r.weights || []).length ? h("li", {}, "Weights (score = sum of contributions ÷ sum of weights × 100):",
        h("ul", {}, r.weights.map((w) => h("li", {}, weightText(w))))) : null));
}

/**
 * A list of ratings.  With choose = {name}, each eligible host is a radio
 * button (plus "let placement choose" first), for pickers.  The host the
 * engine picks is marked "best" (or chosenLabel).
 */
export function ratingsList(ratings, choose, chosenLabel) {
  const items = ratings.items || [];
  const ul = h("ul", {class: "ratings", "aria-label": "Host ratings"});
  if (choose) {
    ul.append(h("li", {}, h("label", {class: "host-choice"},
      h("input", {type: "radio", name: choose.name, value: "", checked: true}),
      "Let placement choose", ratings.chosen_host_id ? h("span", {class: "muted"},
        "(would pick " + (hostName(items, ratings.chosen_host_id)) + ")") : null)));
  }
  for (const r of items) {
    const head = [h("span", {class: "host-name"}, r.host_name || r.host_id), stars(r.stars),
      r.host_id === ratings.chosen_host_id ? h("span", {class: "badge badge-succeeded"}, chosenLabel || "best") : null,
      r.vendor ? h("span", {class: "muted"}, r.vendor) : null];
    ul.append(h("li", {class: r.eligible ? "eligible" : "ineligible", "data-host-id": r.host_id},
      choose
        ? h("label", {class: "host-choice"}, h("input", {type: "radio", name: choose.name, value: r.host_id,
          disabled: !r.eligible}), head)
        : h("div", {class: "host-choice"}, head),
      explanation(r)));
  }
  if (!items.length) ul.append(h("li", {}, "No hosts to rate."));
  return ul;
}

function hostName(items, id) {
  const r = items.find((x) => x.host_id === id);
  return r ? (r.host_name || id) : id;
}

/** Counts of hosts turned away per reason, in words. */
export function rejectedText(rejected) {
  const e = Object.entries(rejected || {});
  if (!e.length) return "No host was turned away.";
  return e.map(([code, n]) => n + " host" + (n === 1 ? "" : "s") + ": " + codeText(code)).join("; ");
}

function requestText(r) {
  const parts = [];
  if (r.vcpus) parts.push(r.vcpus + " vCPU");
  if (r.memory_mb) parts.push(fmtMB(r.memory_mb));
  if (r.vendor) parts.push("vendor " + r.vendor);
  if (r.host_group_id) parts.push("within group " + r.host_group_id);
  for (const k of ["tags", "affinity", "anti_affinity"]) if (r[k] && r[k].length) parts.push(k.replace("_", "-") + " " + r[k].join(", "));
  if (r.ha_restart) parts.push("as an HA restart");
  return parts.join(", ") || "–";
}

/** A job's result.placement, readable. */
export function decision(p) {
  const items = p.ratings || p.items || [];
  const chosen = p.chosen_host_id;
  return h("div", {class: "decision"},
    h("dl", {class: "facts"},
      h("dt", {}, "Chosen host"), h("dd", {}, chosen ? hostName(items, chosen) + " (" + chosen + ")" : "none"),
      p.requested_host_id ? [h("dt", {}, "Requested host"), h("dd", {}, hostName(items, p.requested_host_id))] : null,
      p.hosts_rated !== undefined ? [h("dt", {}, "Hosts rated"), h("dd", {}, p.hosts_rated +
        (p.eligible_hosts !== undefined ? ", " + p.eligible_hosts + " eligible" : ""))] : null,
      h("dt", {}, "Turned away"), h("dd", {}, rejectedText(p.rejected_by)),
      p.request ? [h("dt", {}, "Asked for"), h("dd", {}, requestText(p.request))] : null,
      p.tie_break ? [h("dt", {}, "Tie-break"), h("dd", {}, typeof p.tie_break === "string" ? p.tie_break : JSON.stringify(p.tie_break))] : null),
    h("h4", {}, "Ratings"),
    ratingsList({items, chosen_host_id: chosen}, null, "chosen"));
}
