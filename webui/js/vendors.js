// vendors.js -- the hypervisor types the console offers, all of it read
// from GET /api/v1/adapters (the adapters the daemon has loaded): each
// one's name (the connection type and the `vendor` of its hosts and VMs),
// its title for people and what a connection of it needs.
//
// The console knows no vendor by name: a new adapter shows up in every menu,
// filter and form without a change here.  The list is read once per sign-in
// and shared by every page (forget() drops it at sign-out).  An adapter that
// does not say its title is shown by its name; one that does not say its
// credentials gets every credential field, and the server judges.

import * as api from "./api.js";

let loading = null;   // Promise<[vendor]>
let known = [];       // the same list, once it has arrived

/**
 * One adapter as the console uses it:
 *   name, title,
 *   credentials: "token" | "password" | "none" | null (not said),
 *   tls: whether its URLs can be https (so the TLS options apply).
 */
function vendor(a) {
  const schemes = Array.isArray(a.url_schemes) ? a.url_schemes : null;
  return {
    name: a.name,
    title: a.title || a.name,
    credentials: ["token", "password", "none"].includes(a.credentials) ? a.credentials : null,
    schemes,
    tls: !schemes || schemes.includes("https"),
    capabilities: Array.isArray(a.capabilities) ? a.capabilities : [],
  };
}

/** The vendors, sorted by title; read from the server on the first call. */
export function load() {
  if (!loading) {
    loading = api.get("/adapters").then((r) => {
      known = (r.items || []).map(vendor).sort((a, b) => a.title.localeCompare(b.title));
      return known;
    }).catch((e) => { loading = null; throw e; });
  }
  return loading;
}

export function forget() { loading = null; known = []; }

/** A vendor by name, from the list load() read; undefined when unknown. */
export function find(name) { return known.find((v) => v.name === name); }

/** For people: the title of a vendor name (the name itself when unknown). */
export function title(name) {
  const v = find(name);
  return v ? v.title : name;
}

/** [value, text] options for a select: `first` (e.g. ["", "Any vendor"]), then every vendor. */
export function options(first) {
  return (first ? [first] : []).concat(known.map((v) => [v.name, v.title]));
}

/** Which credential fields a connection of this vendor asks for: {token, password}. */
export function credentialFields(name) {
  const v = find(name);
  const c = v ? v.credentials : null;
  return {token: c === null || c === "token", password: c === null || c === "password"};
}
