// pages/networks.js -- Networks: what a VM's NICs can attach to, on every
// vendor (libvirt networks and host bridges, vSphere standard and
// distributed port groups, Hyper-V virtual switches), with the VLAN and the
// hosts that reach each, then one network.

import * as api from "../api.js";
import * as vendors from "../vendors.js";
import {h, link, facts} from "../ui.js";
import {networkColumns, listPage, reachingHosts, vlanText, originFacts} from "../lists.js";

export async function renderList(el, params, ctx) {
  await vendors.load();
  const list = listPage({title: "Networks", collection: "networks", columns: networkColumns(),
    query: ctx.query, empty: "No network matches.",
    sorts: [["name", "Name"], ["vendor", "Vendor"], ["kind", "Kind"], ["vlan", "VLAN"]]});
  el.append(h("h2", {}, "Networks"), list.el);
}

export async function renderNetwork(el, [id]) {
  const n = await api.get("/networks/" + id);
  el.append(h("p", {class: "muted"}, link("#/networks", "Networks"), " › ", n.name),
    h("h2", {}, n.name),
    facts([
      ["Vendor", n.vendor],
      ["Kind", n.kind || "–"],
      ["VLAN", vlanText(n)],
      ...originFacts(n),
    ]),
    h("h3", {}, "Hosts that reach it"),
    reachingHosts("Hosts that reach " + n.name, "network_ids contains " + api.q(id)));
}
