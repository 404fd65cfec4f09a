// live.js -- the console's live updates: one EventSource on
// /api/v1/events/stream shared by every page.
//
// The stream sends typed messages (job, vm, host, event) whose data is the
// object as GET shows it, and "resync" when the server knows the browser
// missed messages (it came back after a daemon restart, or fell too far
// behind): then what is on screen must be read afresh.  Pages subscribe by type for as long as they are on
// screen; the router drops their subscriptions when the page changes.  The
// browser sends the session cookie with the stream (same origin, Path=/api)
// and reconnects by itself with Last-Event-ID after a break.

const subs = new Map();   // type -> Set<fn>
let source = null;
const statusListeners = new Set();

function dispatch(type, ev) {
  let data;
  try { data = JSON.parse(ev.data); } catch (e) { return; }
  for (const fn of subs.get(type) || []) {
    try { fn(data); } catch (e) { console.warn("live update handler failed", e); }
  }
}

export function start() {
  if (source) return;
  source = new EventSource("/api/v1/events/stream");
  for (const t of ["job", "vm", "host", "event", "resync"]) source.addEventListener(t, (ev) => dispatch(t, ev));
  source.addEventListener("open", () => statusListeners.forEach((f) => f(true)));
  source.addEventListener("error", () => statusListeners.forEach((f) => f(false)));
}

export function stop() {
  if (source) source.close();
  source = null;
  statusListeners.forEach((f) => f(false));
}

/** Subscribe to one message type; returns the unsubscribe function. */
export function on(type, fn) {
  if (!subs.has(type)) subs.set(type, new Set());
  subs.get(type).add(fn);
  return () => subs.get(type).delete(fn);
}

export function onStatus(fn) { statusListeners.add(fn); }
