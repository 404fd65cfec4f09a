// pages/connections.js -- the endpoints Polyvisor talks to: their state and
// last error, re-sync and remove, and a form to add a KVM agent, a vCenter
// or a Hyper-V host (secrets go to the server once and are never shown).

import * as api from "../api.js";
import {h, badge, fmtTime, field, select, pagedTable, errorBox, confirmDialog} from "../ui.js";
import {jobPanel} from "../jobview.js";

const HELP = {
  kvm: "URL of the polyvisor-agent, e.g. http://kvm07.example:8441, and its token.",
  vcenter: "The vSphere SDK URL, e.g. https://vc.example/sdk, and a vCenter user.",
  hyperv: "The WinRM URL, e.g. https://hv01.example:5986/wsman, and a Windows user.",
  test: "test:///ABSOLUTE/PATH/world.json, in the daemon's test.world_dir — a simulated hypervisor (docs/test-adapter.md).",
};

export function render(el, params, ctx) {
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
  const type = select("type", [["kvm", "KVM agent"], ["vcenter", "VMware vCenter"], ["hyperv", "Microsoft Hyper-V"],
    ["test", "Test (simulated)"]], "kvm");
  const url = h("input", {name: "url", type: "text", required: true, size: "40", autocomplete: "off"});
  const token = h("input", {name: "token", type: "password", autocomplete: "off"});
  const user = h("input", {name: "username", type: "text", autocomplete: "off"});
  const pass = h("input", {name: "password", type: "password", autocomplete: "new-password"});
  const insecure = h("input", {name: "insecure", type: "checkbox", id: "conn-insecure"});
  const caCert = h("textarea", {name: "ca_cert", placeholder: "-----BEGIN CERTIFICATE-----"});
  const help = h("p", {class: "hint"});
  const tokenF = field("Agent token", token), userF = field("User name", user), passF = field("Password", pass);
  const insecureF = h("div", {class: "field inline"}, insecure, h("label", {for: "conn-insecure"}, "Skip certificate verification (lab use only)"));
  const caF = field("CA certificate (optional, PEM)", caCert);
  function shape() {
    const t = type.value;
    help.textContent = HELP[t];
    tokenF.hidden = t !== "kvm";
    userF.hidden = passF.hidden = !(t === "vcenter" || t === "hyperv");
    insecureF.hidden = caF.hidden = t === "test";
  }
  type.addEventListener("change", shape);
  shape();
  const addErr = errorBox();
  const form = h("form", {onsubmit: async (e) => {
    e.preventDefault();
    addErr.clear();
    const t = type.value, body = {type: t, url: url.value.trim()};
    if (t === "kvm" && token.value) body.token = token.value;
    if (t === "vcenter" || t === "hyperv") { body.username = user.value; body.password = pass.value; }
    if (t !== "test") { body.insecure = insecure.checked; if (caCert.value.trim()) body.ca_cert = caCert.value.trim(); }
    try {
      follow(await api.post("/connections", body));
      form.reset();
      shape();
    } catch (ex) { addErr.show(ex); }
  }}, h("fieldset", {}, h("legend", {}, "Add a connection"), field("Type", type), help, field("URL", url),
    tokenF, userF, passF, insecureF, caF, h("div", {class: "buttons"}, h("button", {type: "submit", class: "primary"}, "Add connection")), addErr));

  el.append(h("h2", {}, "Connections"), listErr, table.el, jobs, form);
  ctx.on("job", (j) => { if (j.kind && j.kind.startsWith("connection.") && j.state === "succeeded") table.reload(); });
}
