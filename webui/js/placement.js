// placement.js -- the placement engine's explanation, shown.
//
// POST /placement/ratings and a job's result.placement give every host a
// star rating, each filter's verdict (a stable reason code, the numbers
// behind it and a message in words) and each weight's contribution (with its
// message).  The words come from the server (server/placement/reasons.c),
// so the console, the CLI and scripts say the same; this file only lays
// them out.  A verdict or code without words (an older server) falls back to
// the code with its underscores as spaces.

import {h, stars, fmtMB, fmtNum} from "./ui.js";

const words = (code) => String(code).replace(/_/g, " ");

/** One filter verdict as a line: "Memory: needs 512 MiB, ..." or "Memory: refused, ... (code)". */
export function filterText(f) {
  const name = words(f.name);
  const label = f.name === "cpu" ? "CPU" : name.charAt(0).toUpperCase() + name.slice(1);
  const message = f.message || (f.passed ? "passed" : words(f.code));
  return f.passed ? label + ": " + message : label + ": refused, " + message + " (" + f.code + ")";
}

export function weightText(w) {
  return words(w.name) + ": " + (w.message || w.value + " × weight " + w.weight + " = " + w.contribution);
}

/** The explanation of one rating: failing filters first, then passed ones, then weights. */
export function explanation(r) {
  const filters = (r.filters || []).slice().sort((a, b) => Number(a.passed) - Number(b.passed));
  const summary = r.eligible
    ? "Eligible: score " + fmtNum(r.score, 1) + " of 100"
    : "Not eligible: " + (r.filters || []).filter((f) => !f.passed).map((f) => f.message || words(f.code)).join("; ");
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

/** Counts of hosts turned away per reason, in the server's words (messages: {code: text}). */
export function rejectedText(rejected, messages) {
  const e = Object.entries(rejected || {});
  if (!e.length) return "No host was turned away.";
  return e.map(([code, n]) => n + " host" + (n === 1 ? "" : "s") + ": " +
    ((messages || {})[code] || words(code))).join("; ");
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
      h("dt", {}, "Turned away"), h("dd", {}, rejectedText(p.rejected_by, p.rejected_messages)),
      p.request ? [h("dt", {}, "Asked for"), h("dd", {}, requestText(p.request))] : null,
      p.tie_break ? [h("dt", {}, "Tie-break"), h("dd", {}, typeof p.tie_break === "string" ? p.tie_break : JSON.stringify(p.tie_break))] : null),
    h("h4", {}, "Ratings"),
    ratingsList({items, chosen_host_id: chosen}, null, "chosen"));
}
