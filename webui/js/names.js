// names.js -- show a host's (or cluster's) name where the API gives its id.
// The link is drawn at once with the id and renamed when the name arrives,
// from a per-session cache, so a page of 100 VMs asks for each host once.

import * as api from "./api.js";
import {h} from "./ui.js";

export function hostLink(id) {
  if (!id) return "–";
  const a = h("a", {href: "#/hosts/" + id}, id);
  api.cached("hosts", id).then((host) => { a.textContent = host.name; }).catch(() => {});
  return a;
}

export function nameOf(collection, id) {
  if (!id) return "–";
  const s = h("span", {}, id);
  api.cached(collection, id).then((o) => { s.textContent = o.name; }).catch(() => {});
  return s;
}
