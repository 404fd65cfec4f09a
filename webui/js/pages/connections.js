// pages/connections.js -- Connections: the endpoints Polyvisor talks to,
// their state and last error, re-sync and remove, and a form to add one of
// any type the server has an adapter for (secrets go to the server once and
// are never shown).
//
// The form asks for what the chosen type needs, as GET /api/v1/adapters
// says (vendors.js): a token, or a user name and password, or nothing; the
// TLS options only where the type's URLs can be https.

import * as api from "../api.js";
import * as vendors from "../vendors.js";
import {h, badge, fmtTime, field, select, pagedTable, errorBox, confirmDialog, notice} from "../ui.js";
import {jobPanel} from "../jobview.js";

/** What to type for a vendor's connection, in words. */
function hint(v) {
  if (!v) return "";
  const schemes = (v.schemes || ["https", "http"]).map((s) => s + "://").join(" or ");
  const needs = {token: "and its token", password: "and a user name and password for it",
    none: "and nothing else"}[v.credentials] || "and what it signs in with: a token, or a user name and password";
  return v.title + ": a URL that starts with " + schemes + ", " + needs + ".";
}

export async function render(el, params, ctx) {
  const types = await vendors.load();
  const jobs = h("div");
  const listErr = errorBox();
  const table = pagedTable({caption: "Connections", rowKey: (c) => c.id, empty: "No connections yet.",
    columns: [
      {label: "Name", render: (c) => c.name || c.url},
      {label: "Type", render: (c) => c.type},
      {label: "URL", render: (c) => c.url},
      {label: "State", render: (c) => badge(c.state)},
      {label: "Last error", render: (c) => c.last_error || "–"},
      {label: "Observed", render: (c) => fmtTime(c.observed_at)},
      {label: "Actions", render: (c) => h("span", {class: "buttons"},
        h("button", {type: "button", onclick: () => sync(c)}, "Sync"),
        h("button", {type: "button", class: "danger", onclick: () => remove(c)}, "Remove…"))},
    ],
    fetch: (cursor) => api.list("connections", {limit: 50, cursor, sort: "name"})});

  function follow(job) {
    jobs.prepend(jobPanel(job, ctx, () => table.reload()));
    while (jobs.children.length > 3) jobs.lastChild.remove();
  }
  async function sync(c) {
    listErr.clear();
    try { follow(await api.post("/connections/" + c.id + "/sync")); } catch (e) { listErr.show(e); }
  }
  async function remove(c) {
    listErr.clear();
    if (!await confirmDialog("Remove connection?", "Remove " + (c.name || c.url) +
      " and every cluster, host and VM it brought into Polyvisor? The VMs keep running on their hypervisor.", "Remove")) return;
    try { follow(await api.del("/connections/" + c.id)); } catch (e) { listErr.show(e); }
  }

  // -- the add form ----------------------------------------------------
  const type = select("type", vendors.options(), types.length ? types[0].name : "");
  const url = h("input", {name: "url", type: "text", required: true, size: "40", autocomplete: "off"});
  const token = h("input", {name: "token", type: "password", autocomplete: "off"});
  const user = h("input", {name: "username", type: "text", autocomplete: "off"});
  const pass = h("input", {name: "password", type: "password", autocomplete: "new-password"});
  const insecure = h("input", {name: "insecure", type: "checkbox", id: "conn-insecure"});
  const caCert = h("textarea", {name: "ca_cert", placeholder: "-----BEGIN CERTIFICATE-----"});
  const help = h("p", {class: "hint"});
  const tokenF = field("Token", token), userF = field("User name", user), passF = field("Password", pass);
  const insecureF = h("div", {class: "field inline"}, insecure, h("label", {for: "conn-insecure"}, "Skip certificate verification (lab use only)"));
  const caF = field("CA certificate (optional, PEM)", caCert);
  function shape() {
    const v = vendors.find(type.value), need = vendors.credentialFields(type.value);
    help.textContent = hint(v);
    tokenF.hidden = !need.token;
    userF.hidden = passF.hidden = !need.password;
    insecureF.hidden = caF.hidden = !(v && v.tls);
  }
  type.addEventListener("change", shape);
  shape();
  const addErr = errorBox();
  const form = h("form", {onsubmit: async (e) => {
    e.preventDefault();
    addErr.clear();
    // what the type asks for and was filled in; the server says what is missing
    const body = {type: type.value, url: url.value.trim()};
    for (const [input, shown] of [[token, !tokenF.hidden], [user, !userF.hidden], [pass, !passF.hidden]])
      if (shown && input.value) body[input.name] = input.value;
    if (!insecureF.hidden) {
      body.insecure = insecure.checked;
      if (caCert.value.trim()) body.ca_cert = caCert.value.trim();
    }
    try {
      follow(await api.post("/connections", body));
      form.reset();
      shape();
    } catch (ex) { addErr.show(ex); }
  }}, h("fieldset", {}, h("legend", {}, "Add a connection"),
    types.length ? null : notice("The server has no adapter loaded, so there is no type to add."),
    field("Type", type), help, field("URL", url),
    tokenF, userF, passF, insecureF, caF,
    h("div", {class: "buttons"}, h("button", {type: "submit", class: "primary", disabled: !types.length}, "Add connection")),
    addErr));

  el.append(h("h2", {}, "Connections"), listErr, table.el, jobs, form);
  ctx.on("job", (j) => { if (j.kind && j.kind.startsWith("connection.") && j.state === "succeeded") table.reload(); });
}
