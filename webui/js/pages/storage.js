// pages/storage.js -- Storage: the storage pools of every vendor (libvirt
// pools, vSphere datastores, Hyper-V volumes and shares) with how full each
// is and the hosts that reach it, then one pool.
//
// A pool is where a new VM's disks can go: the New VM wizard offers the
// pools its host reaches, and placement refuses a host that does not reach
// a disk's pool (pool_unreachable) or whose pool is too full
// (insufficient_storage).

import * as api from "../api.js";
import * as vendors from "../vendors.js";
import {h, link, fmtMB, facts, select} from "../ui.js";
import {poolColumns, poolCapacity, listPage, reachingHosts, originFacts} from "../lists.js";

export async function renderList(el, params, ctx) {
  await vendors.load();
  const shared = select("shared", [["", "Shared or local"], ["true", "Shared"], ["false", "Local"]],
    ctx.query.get("shared") || "");
  const list = listPage({title: "Storage pools", collection: "storage-pools", columns: poolColumns(),
    query: ctx.query, empty: "No storage pool matches.",
    menus: [{label: "Shared", select: shared, clause: (v) => "shared eq " + v}],
    sorts: [["name", "Name"], ["-free_mb", "Free space, most first"], ["free_mb", "Free space, least first"],
      ["-capacity_mb", "Capacity, largest first"], ["vendor", "Vendor"], ["kind", "Kind"]]});
  el.append(h("h2", {}, "Storage"), list.el);
}

export async function renderPool(el, [id]) {
  const p = await api.get("/storage-pools/" + id);
  el.append(h("p", {class: "muted"}, link("#/storage", "Storage"), " › ", p.name),
    h("h2", {}, p.name),
    poolCapacity(p),
    facts([
      ["Vendor", p.vendor],
      ["Kind", p.kind || "–"],
      ["Capacity", fmtMB(p.capacity_mb)],
      ["Free", fmtMB(p.free_mb)],
      ["Shared", p.shared ? "shared: several hosts may reach it" : "local to its host"],
      ...originFacts(p),
    ]),
    h("h3", {}, "Hosts that reach it"),
    reachingHosts("Hosts that reach " + p.name, "pool_ids contains " + api.q(id)));
}
