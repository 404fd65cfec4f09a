// api.js -- the console's one door to the REST API.
//
// The console signs in with a browser session: the server keeps the token in
// an HttpOnly cookie (pv_session, Path=/api) that page scripts never see, so
// nothing secret is stored in localStorage or sessionStorage.  Every request
// that changes something carries X-Polyvisor-CSRF: 1, which the server demands
// for cookie-authenticated POST/PATCH/PUT/DELETE.  Errors come back as
// ApiError carrying the API's stable code and human message.

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

const listeners = new Set();
/** Called with no arguments whenever the server says the session is gone (401). */
export function onUnauthorized(fn) { listeners.add(fn); }

/** One API call; resolves to the parsed JSON body (null for 204), throws ApiError. */
export async function call(method, path, body, extraHeaders) {
  const headers = Object.assign({Accept: "application/json"}, extraHeaders || {});
  if (method !== "GET") headers["X-Polyvisor-CSRF"] = "1";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let r;
  try {
    r = await fetch("/api/v1" + path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, "network_error", "The server could not be reached (" + e.message + ")");
  }
  let data = null;
  if (r.status !== 204) {
    const text = await r.text();
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  }
  if (!r.ok) {
    const err = data && data.error ? data.error : {code: "http_" + r.status, message: r.statusText || "HTTP " + r.status};
    const ae = new ApiError(r.status, err.code, err.message, err.details);
    if (r.status === 401 && !path.startsWith("/auth/")) listeners.forEach((fn) => fn(ae));
    throw ae;
  }
  return data;
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body === undefined ? {} : body);
export const patch = (path, body) => call("PATCH", path, body);
export const del = (path) => call("DELETE", path);

/** Quote a value for the API's filter grammar: 'text' with '' for a quote. */
export function q(value) { return "'" + String(value).replace(/'/g, "''") + "'"; }

/** Join filter clauses with "and", skipping empty ones. */
export function and(...clauses) {
  const c = clauses.filter(Boolean);
  return c.length > 1 ? c.map((x) => "(" + x + ")").join(" and ") : (c[0] || "");
}

/** One page of a collection: {items, next_cursor}. */
export function list(collection, {limit = 50, cursor, filter, sort, fields} = {}) {
  const p = new URLSearchParams();
  p.set("limit", String(limit));
  if (cursor) p.set("cursor", cursor);
  if (filter) p.set("filter", filter);
  if (sort) p.set("sort", sort);
  if (fields) p.set("fields", fields);
  return get("/" + collection + "?" + p.toString());
}

/**
 * One object by id, for showing its name: cached for the session, and
 * batched -- the ids asked for in one turn of the event loop are fetched
 * with a single `filter=id in (…)` request per collection.  A missing object
 * (deleted since) rejects without a 404 in the browser console.
 */
const cache = new Map();      // "collection/id" -> Promise<object>
const waiting = new Map();    // collection -> Map<id, {resolve, reject}>

export function cached(collection, id) {
  if (!id) return Promise.reject(new Error("no id"));
  const key = collection + "/" + id;
  if (!cache.has(key)) {
    cache.set(key, new Promise((resolve, reject) => {
      if (!waiting.has(collection)) {
        waiting.set(collection, new Map());
        queueMicrotask(() => flush(collection));
      }
      waiting.get(collection).set(id, {resolve, reject});
    }).catch((e) => { cache.delete(key); throw e; }));
  }
  return cache.get(key);
}

async function flush(collection) {
  const batch = waiting.get(collection);
  waiting.delete(collection);
  const ids = [...batch.keys()];
  for (let i = 0; i < ids.length; i += 100) {
    const part = ids.slice(i, i + 100);
    try {
      const page = await list(collection, {limit: part.length, filter: "id in (" + part.map(q).join(", ") + ")"});
      const found = new Map(page.items.map((o) => [o.id, o]));
      for (const id of part) {
        const o = found.get(id);
        if (o) batch.get(id).resolve(o);
        else batch.get(id).reject(new ApiError(404, "not_found", collection + " " + id + " no longer exists"));
      }
    } catch (e) {
      for (const id of part) batch.get(id).reject(e);
    }
  }
}
export function forget(collection, id) { cache.delete(collection + "/" + id); }
export function forgetAll() { cache.clear(); }

// -- session -----------------------------------------------------------

export async function me() {
  try { return await get("/auth/me"); } catch (e) { if (e.status === 401) return null; throw e; }
}
export const login = (username, password) => call("POST", "/auth/login", {username, password, session: true});
export const logout = () => call("POST", "/auth/logout");
