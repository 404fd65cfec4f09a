// names.js -- show an object's name where the API gives its id (a VM's host,
// a disk's pool, the hosts that reach a network).  The link is drawn at once
// with the id and renamed when the name arrives, from a per-session cache,
// so a page of 100 VMs asks for each host once.

import * as api from "./api.js";
import {h} from "./ui.js";

// collection -> the console's page of one such object
const PAGES = {"hosts": "#/hosts/", "storage-pools": "#/storage/", "networks": "#/networks/"};

function objectLink(collection, id) {
  if (!id) return "–";
  const a = h("a", {href: PAGES[collection] + id}, id);
  api.cached(collection, id).then((o) => { a.textContent = o.name; }).catch(() => {});
  return a;
}

export const hostLink = (id) => objectLink("hosts", id);
export const poolLink = (id) => objectLink("storage-pools", id);
export const networkLink = (id) => objectLink("networks", id);

/** Links to the hosts of a list of ids (the hosts that reach a pool), the
 *  first few by name and then how many more. */
export function hostLinks(ids, few = 3) {
  ids = ids || [];
  if (!ids.length) return "–";
  const out = [];
  ids.slice(0, few).forEach((id, i) => { if (i) out.push(", "); out.push(hostLink(id)); });
  if (ids.length > few) out.push(" and " + (ids.length - few) + " more");
  return h("span", {}, out);
}

export function nameOf(collection, id) {
  if (!id) return "–";
  const s = h("span", {}, id);
  api.cached(collection, id).then((o) => { s.textContent = o.name; }).catch(() => {});
  return s;
}
