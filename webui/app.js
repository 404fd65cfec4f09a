// app.js -- the console's first screens: sign in, then the inventory and
// jobs as lists, read through the same public REST API scripts use
// (server-side pagination: a page at a time, "More" for the next).
"use strict";
const api = {
  token: sessionStorage.getItem("pv-token"),
  async call(method, path, body) {
    const headers = {"Content-Type": "application/json"};
    if (this.token) headers.Authorization = "Bearer " + this.token;
    const r = await fetch(path, {method, headers, body: body ? JSON.stringify(body) : undefined});
    const data = r.status === 204 ? null : await r.json();
    if (!r.ok) throw Object.assign(new Error(data.error.message), {code: data.error.code, status: r.status});
    return data;
  },
};
const views = {
  hosts: {title: "Hosts", path: "/api/v1/hosts", cols: ["name", "vendor", "state", "cpu_cores", "memory_mb", "memory_used_mb"]},
  vms: {title: "Virtual machines", path: "/api/v1/vms", cols: ["name", "vendor", "power_state", "vcpus", "memory_mb", "ha"]},
  jobs: {title: "Jobs", path: "/api/v1/jobs", cols: ["kind", "state", "progress", "created_by", "created_at"]},
  connections: {title: "Connections", path: "/api/v1/connections", cols: ["name", "type", "state", "last_error"]},
  events: {title: "Events", path: "/api/v1/events", cols: ["time", "severity", "object_type", "message"]},
};
const $ = (id) => document.getElementById(id);
let cursor = null, current = null;

function showLogin(show) {
  $("login").hidden = !show;
  $("nav").hidden = show;
  $("view").hidden = show;
}

function row(item, cols) {
  const tr = document.createElement("tr");
  for (const c of cols) {
    const td = document.createElement("td");
    td.textContent = item[c] === null || item[c] === undefined ? "" : String(item[c]);
    tr.appendChild(td);
  }
  return tr;
}

async function load(more) {
  const v = views[current];
  $("view-error").textContent = "";
  try {
    const q = "?limit=100" + (more && cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
    const page = await api.call("GET", v.path + q);
    if (!more) $("tbody").replaceChildren();
    for (const it of page.items) $("tbody").appendChild(row(it, v.cols));
    cursor = page.next_cursor;
    $("more").hidden = !cursor;
  } catch (e) {
    if (e.status === 401) { api.token = null; sessionStorage.removeItem("pv-token"); showLogin(true); return; }
    $("view-error").textContent = e.message;
  }
}

function route() {
  if (!api.token) { showLogin(true); return; }
  showLogin(false);
  current = (location.hash || "#vms").slice(1);
  if (!views[current]) current = "vms";
  const v = views[current];
  $("view-title").textContent = v.title;
  const tr = document.createElement("tr");
  for (const c of v.cols) { const th = document.createElement("th"); th.textContent = c.replace(/_/g, " "); tr.appendChild(th); }
  $("thead").replaceChildren(tr);
  load(false);
}

$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    const r = await api.call("POST", "/api/v1/auth/login", {username: f.get("username"), password: f.get("password")});
    api.token = r.token;
    sessionStorage.setItem("pv-token", r.token);
    $("login-error").textContent = "";
    route();
  } catch (e) { $("login-error").textContent = e.message; }
});
$("signout").addEventListener("click", async () => {
  try { await api.call("POST", "/api/v1/auth/logout"); } catch (e) { /* signed out either way */ }
  api.token = null;
  sessionStorage.removeItem("pv-token");
  showLogin(true);
});
$("more").addEventListener("click", () => load(true));
window.addEventListener("hashchange", route);
route();
