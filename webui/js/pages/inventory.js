// pages/inventory.js -- the inventory tree: host groups → clusters → hosts
// → VMs, across every vendor, plus a search that uses the filter grammar.
//
// Branches load when opened, a page at a time ("More…" fetches the next
// page), so the tree costs the same with 100,000 VMs as with ten.  Each
// branch is a real button with aria-expanded, usable from the keyboard.
// The tree is nested lists (<ul> in <li>), not an ARIA tree widget: its
// items are links and buttons, reached with Tab like anywhere else.
// The states of the hosts and VMs on show follow the live stream.

import * as api from "../api.js";
import * as vendors from "../vendors.js";
import {h, link, badge, field, pagedTable, debounce, errorBox} from "../ui.js";
import {nameOf} from "../names.js";
import {vmColumns, vmSearch} from "../lists.js";

/** A branch: a toggle button, its label, and children loaded on first open. */
let seq = 0;
function branch(label, kind, load, open) {
  const kids = h("ul", {hidden: true});
  const labelId = "tn" + (++seq);
  // The button is named by the node's label and kind (which may be renamed
  // once a name arrives), and says by aria-expanded whether it is open.
  const twisty = h("button", {type: "button", class: "twisty", "aria-expanded": "false",
    "aria-labelledby": labelId + " " + labelId + "k"}, "▸");
  let loaded = false;
  async function toggle() {
    const opening = twisty.getAttribute("aria-expanded") !== "true";
    twisty.setAttribute("aria-expanded", String(opening));
    twisty.textContent = opening ? "▾" : "▸";
    kids.hidden = !opening;
    if (opening && !loaded) {
      loaded = true;
      kids.append(h("li", {class: "muted"}, "Loading…"));
      try {
        const items = await load();
        kids.replaceChildren(...items);
        if (!items.length) kids.append(h("li", {class: "muted empty"}, "(empty)"));
      } catch (e) {
        const err = errorBox();
        err.show(e);
        kids.replaceChildren(h("li", {}, err));
        loaded = false;
      }
    }
  }
  twisty.addEventListener("click", toggle);
  const li = h("li", {class: "node"}, twisty, h("span", {id: labelId, class: "node-label"}, label),
    h("span", {class: "kind", id: labelId + "k"}, kind), kids);
  if (open) toggle();
  return li;
}

/** Page through a collection inside a branch: items, then a "More…" button. */
async function pagedItems(collection, opts, toItem) {
  const out = [];
  async function page(cursor) {
    const p = await api.list(collection, Object.assign({}, opts, {cursor}));
    const items = p.items.map(toItem);
    if (p.next_cursor) {
      const more = h("li", {}, h("button", {type: "button", onclick: async () => {
        more.replaceWith(...(await page(p.next_cursor)));
      }}, "More…"));
      items.push(more);
    }
    return items;
  }
  out.push(...(await page(null)));
  return out;
}

// The state badges on show, by object id, for the live stream to update
// (a fresh pair for each visit of the page).
let shown = {vm: new Map(), host: new Map()};

function liveBadge(kind, id, state) {
  const b = badge(state);
  shown[kind].set(id, b);
  return b;
}

function vmNode(v) {
  return h("li", {class: "node node-vm"}, h("span", {class: "twisty-space", "aria-hidden": "true"}, "• "),
    link("#/vms/" + v.id, v.name), " ", liveBadge("vm", v.id, v.power_state),
    h("span", {class: "kind"}, "VM · " + v.vendor));
}

function hostNode(x) {
  return branch(h("span", {}, link("#/hosts/" + x.id, x.name), " ", liveBadge("host", x.id, x.state)),
    "host · " + x.vendor,
    () => pagedItems("vms", {limit: 100, sort: "name", filter: "host_id eq " + api.q(x.id),
      fields: "name,power_state,vendor"}, vmNode));
}

/** Hosts of one scope (a group, or no group), under their clusters. */
async function hostsByCluster(filter) {
  const p = await api.list("hosts", {limit: 500, sort: "name", filter});
  const byCluster = new Map();
  const standalone = [];
  for (const x of p.items) {
    if (x.cluster_id) {
      if (!byCluster.has(x.cluster_id)) byCluster.set(x.cluster_id, []);
      byCluster.get(x.cluster_id).push(x);
    } else standalone.push(x);
  }
  const out = [];
  for (const [cid, hosts] of byCluster) {
    out.push(branch(nameOf("clusters", cid), "cluster · " + hosts[0].vendor,
      async () => hosts.map(hostNode)));
  }
  out.push(...standalone.map(hostNode));
  if (p.next_cursor) out.push(h("li", {}, link("#/hosts", "More hosts in the host list…")));
  return out;
}

function groupNode(g) {
  return branch(h("span", {}, g.name), "host group", async () => {
    const subs = await pagedItems("host-groups", {limit: 100, sort: "name", filter: "parent_id eq " + api.q(g.id)}, groupNode);
    return subs.concat(await hostsByCluster("host_group_id eq " + api.q(g.id)));
  });
}

export async function render(el, params, ctx) {
  await vendors.load();
  shown = {vm: new Map(), host: new Map()};
  const tree = h("ul", {class: "tree", "aria-label": "Inventory"});
  const err = errorBox();
  const vmq = vmSearch(null, "part of a VM name");
  const results = h("section", {hidden: true}, h("h3", {}, "Matching VMs"));
  let resultsTable = null;
  function search() {
    const filter = vmq.filter();
    if (resultsTable) resultsTable.el.remove();
    resultsTable = null;
    results.hidden = !filter;
    tree.hidden = !!filter;
    if (!filter) return;
    resultsTable = pagedTable({caption: "Matching VMs", columns: vmColumns(), rowKey: (v) => v.id,
      empty: "No VM matches.", fetch: (cursor) => api.list("vms", {limit: 50, cursor, filter, sort: "name"})});
    results.append(resultsTable.el);
  }
  vmq.text.addEventListener("input", debounce(search, 300));
  vmq.state.addEventListener("change", search);
  vmq.vendor.addEventListener("change", search);
  el.append(h("h2", {}, "Inventory"),
    h("div", {class: "toolbar", role: "search"}, field("Find VMs by name", vmq.text), field("Power state", vmq.state),
      field("Vendor", vmq.vendor)),
    err, tree, results);
  (async () => {
    try {
      const groups = await pagedItems("host-groups", {limit: 100, sort: "name", filter: "parent_id eq null"}, groupNode);
      tree.append(...groups);
      tree.append(branch(h("span", {}, "Hosts outside any group"), "", () => hostsByCluster("host_group_id eq null"),
        groups.length === 0));
    } catch (e) { err.show(e); }
  })();
  ctx.on("vm", (v) => { if (resultsTable) resultsTable.upsert(v, false); });
  // a stream message carries the fields that changed: redraw the badge of a state on show
  for (const [kind, prop] of [["vm", "power_state"], ["host", "state"]]) {
    ctx.on(kind, (x) => {
      const old = shown[kind].get(x.id);
      if (old && x[prop]) old.replaceWith(liveBadge(kind, x.id, x[prop]));
    });
  }
}
