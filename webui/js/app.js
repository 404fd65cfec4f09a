// app.js -- the console's shell: sign in and out, the navigation, and the
// hash router that puts one page at a time into <div id="page">.
//
// Each page is one module of pages/, named as its navigation entry and its
// heading (pages/new-vm.js is "New VM"); pages import shared modules, never
// each other.  A page module exports render(el, params, ctx), or one
// renderer per route when a page has two (hosts.renderList, renderHost).
// ctx.on(type, fn) subscribes to live updates for as long as the page is
// shown; on navigation the router drops those subscriptions (and calls
// ctx.onLeave callbacks) and closes any dialog the page opened, so a page
// never updates a DOM that is gone.  Each visit draws into a fresh element:
// a renderer still waiting for the server when the user has moved on draws
// into one that is no longer on screen.

import * as api from "./api.js";
import * as live from "./live.js";
import * as vendors from "./vendors.js";
import {h, errorBox, closeDialogs} from "./ui.js";
import * as dashboard from "./pages/dashboard.js";
import * as inventory from "./pages/inventory.js";
import * as hosts from "./pages/hosts.js";
import * as storage from "./pages/storage.js";
import * as networks from "./pages/networks.js";
import * as vms from "./pages/vms.js";
import * as vmPage from "./pages/vm.js";
import * as newVm from "./pages/new-vm.js";
import * as jobs from "./pages/jobs.js";
import * as schedules from "./pages/schedules.js";
import * as connections from "./pages/connections.js";
import * as events from "./pages/events.js";

const $ = (id) => document.getElementById(id);

// [pattern, nav key, renderer]; the first match wins.
const routes = [
  [/^dashboard$/, "dashboard", dashboard.render],
  [/^inventory$/, "inventory", inventory.render],
  [/^hosts$/, "hosts", hosts.renderList],
  [/^hosts\/([^/]+)$/, "hosts", hosts.renderHost],
  [/^storage$/, "storage", storage.renderList],
  [/^storage\/([^/]+)$/, "storage", storage.renderPool],
  [/^networks$/, "networks", networks.renderList],
  [/^networks\/([^/]+)$/, "networks", networks.renderNetwork],
  [/^vms$/, "vms", vms.render],
  [/^vms\/new$/, "vms", newVm.render],
  [/^vms\/([^/]+)$/, "vms", vmPage.render],
  [/^jobs$/, "jobs", jobs.renderList],
  [/^jobs\/([^/]+)$/, "jobs", jobs.renderJob],
  [/^schedules$/, "schedules", schedules.renderList],
  [/^plans\/([^/]+)$/, "schedules", schedules.renderPlan],
  [/^connections$/, "connections", connections.render],
  [/^events$/, "events", events.render],
];

let leaving = [];
let visit = 0;        // counts navigations: a page's late subscriptions are dropped
let user = null;
// Not a secret: only "this browser signed in before", so a first visit shows
// the sign-in form without asking /auth/me (and logging a 401).
const HINT = "pv-signed-in";

function leave() {
  for (const fn of leaving) { try { fn(); } catch (e) { console.warn(e); } }
  leaving = [];
}

function route() {
  if (!user) return;
  leave();
  closeDialogs();
  const mine = ++visit;
  // "#/vms?vendor=kvm": the part after "?" presets a page's filters (ctx.query)
  const [rawPath, rawQuery] = (location.hash || "").replace(/^#\/?/, "").split("?");
  const path = decodeURIComponent(rawPath) || "dashboard";
  const query = new URLSearchParams(rawQuery || "");
  const page = h("div", {class: "view"});
  $("page").replaceChildren(page);
  let found = null, params = [];
  for (const [re, nav, fn] of routes) {
    const m = path.match(re);
    if (m) { found = [nav, fn]; params = m.slice(1); break; }
  }
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (found && a.dataset.nav === found[0]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  closeMenu();
  if (!found) {
    page.append(h("h2", {}, "Not found"), h("p", {}, "There is no page " + path + "."));
    setTitle(page);
    return;
  }
  const ctx = {
    user,
    query,
    on(type, fn) { if (mine === visit) leaving.push(live.on(type, fn)); },
    onLeave(fn) { if (mine === visit) leaving.push(fn); else fn(); },
  };
  let r;
  try {
    r = found[1](page, params, ctx);
  } catch (e) {
    showPageError(page, e);
  }
  Promise.resolve(r).catch((e) => showPageError(page, e)).then(() => { if (mine === visit) setTitle(page); });
}

/** The window's title: the page's heading, then the console's name. */
function setTitle(page) {
  const heading = page.querySelector("h2");
  document.title = (heading ? heading.textContent + " – " : "") + "Polyvisor";
}

function showPageError(page, e) {
  const box = errorBox();
  box.show(e);
  page.append(box);
}

function showSignedIn(me) {
  user = me;
  localStorage.setItem(HINT, "1");
  $("login").hidden = true;
  $("nav").hidden = false;
  $("page").hidden = false;
  $("signout").hidden = false;
  $("menu-toggle").hidden = false;
  $("whoami").hidden = false;
  $("whoami").textContent = me.username + (me.role ? " (" + me.role + ")" : "");
  live.start();
  if (!location.hash || location.hash === "#/login") location.hash = "#/dashboard";
  else route();
}

function showSignedOut(message) {
  user = null;
  leave();
  live.stop();
  closeDialogs();
  api.forgetAll();
  vendors.forget();
  localStorage.removeItem(HINT);
  $("page").replaceChildren();
  $("page").hidden = true;
  $("nav").hidden = true;
  $("signout").hidden = true;
  $("menu-toggle").hidden = true;
  $("whoami").hidden = true;
  $("login").hidden = false;
  const err = $("login-error");
  err.textContent = message || "";
  err.hidden = !message;
  document.title = "Sign in – Polyvisor";
  $("login-user").focus();
}

function closeMenu() {
  document.body.classList.remove("menu-open");
  $("menu-toggle").setAttribute("aria-expanded", "false");
}

$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const button = ev.target.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await api.login(f.get("username"), f.get("password"));
    ev.target.reset();
    const me = await api.me();
    if (!me) throw new Error("Signed in, but the server did not keep the session (cookies blocked?)");
    showSignedIn(me);
  } catch (e) {
    $("login-error").textContent = e.message;
    $("login-error").hidden = false;
  } finally {
    button.disabled = false;
  }
});

$("signout").addEventListener("click", async () => {
  try { await api.logout(); } catch (e) { /* signed out either way */ }
  showSignedOut("You have signed out.");
});

$("menu-toggle").addEventListener("click", () => {
  const open = document.body.classList.toggle("menu-open");
  $("menu-toggle").setAttribute("aria-expanded", String(open));
});

// The skip link must not change the hash: the hash is the router's.
document.querySelector(".skip").addEventListener("click", (ev) => {
  ev.preventDefault();
  $("main").focus();
});

live.onStatus((up) => { $("live-status").hidden = !up; });
// messages were missed (a daemon restart): the page on screen reads afresh
live.on("resync", () => { if (user) route(); });
api.onUnauthorized(() => { if (user) showSignedOut("Your session has ended. Please sign in again."); });
window.addEventListener("hashchange", route);

(async function boot() {
  const me = localStorage.getItem(HINT) ? await api.me().catch(() => null) : null;
  if (me) showSignedIn(me);
  else showSignedOut();
})();
