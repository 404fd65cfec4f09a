// pages/new-vm.js -- New VM, the wizard: size and settings, then the
// placement engine's dry run (every host's stars and why), then create --
// on the host the user picked, or wherever placement decides.

import * as api from "../api.js";
import * as vendors from "../vendors.js";
import {h, link, field, select, errorBox} from "../ui.js";
import {ratingsList} from "../placement.js";
import {jobPanel} from "../jobview.js";

export async function render(el, params, ctx) {
  await vendors.load();
  const name = h("input", {name: "name", required: true, maxlength: "64", autocomplete: "off"});
  const vcpus = h("input", {name: "vcpus", type: "number", min: "1", value: "1", required: true});
  const memory = h("input", {name: "memory_mb", type: "number", min: "1", step: "1", value: "1024", required: true});
  const vendor = select("vendor", vendors.options(["", "Any hypervisor"]), "");
  const pv = h("input", {name: "paravirtual", type: "checkbox", checked: true});
  const ha = select("ha", [["off", "Off"], ["low", "Low"], ["medium", "Medium"], ["high", "High"]], "off");
  const group = select("host_group_id", [["", "Any host"]], "");
  api.list("host-groups", {limit: 200, sort: "name"}).then((p) => {
    for (const g of p.items) group.append(h("option", {value: g.id}, g.name));
  }).catch(() => {});
  const ratings = h("div", {"aria-live": "polite"});
  const err = errorBox();
  const result = h("div");
  const rateBtn = h("button", {type: "button", onclick: rate}, "Show placement ratings");
  const createBtn = h("button", {type: "submit", class: "primary"}, "Create VM");

  function spec() {
    const s = {vcpus: Number(vcpus.value), memory_mb: Number(memory.value)};
    if (vendor.value) s.vendor = vendor.value;
    return s;
  }
  async function rate() {
    err.clear();
    ratings.replaceChildren(h("p", {}, "Rating hosts…"));
    const body = {vm: spec(), limit: 50};
    if (group.value) body.host_group_id = group.value;
    try {
      const r = await api.post("/placement/ratings", body);
      ratings.replaceChildren(h("p", {class: "muted"}, r.hosts_rated + " hosts rated. Pick one, or let placement choose."),
        ratingsList(r, {name: "host"}));
    } catch (e) { ratings.replaceChildren(); err.show(e); }
  }
  async function create(ev) {
    ev.preventDefault();
    err.clear();
    const body = Object.assign({name: name.value.trim()}, spec(), {paravirtual: pv.checked, ha: ha.value});
    if (group.value) body.host_group_id = group.value;
    const pick = form.querySelector("input[name=host]:checked");
    if (pick && pick.value) body.host_id = pick.value;
    createBtn.disabled = true;
    try {
      const job = await api.post("/vms", body);
      result.prepend(jobPanel(job, ctx, (j) => {
        createBtn.disabled = false;
        if (j.state === "succeeded" && j.result && j.result.vm_id) {
          result.prepend(h("p", {class: "notice"}, "Created ", link("#/vms/" + j.result.vm_id, body.name), "."));
        }
      }));
    } catch (e) { err.show(e); createBtn.disabled = false; }
  }
  const form = h("form", {class: "wizard", onsubmit: create},
    h("fieldset", {}, h("legend", {}, "1. The VM"),
      field("Name", name), field("vCPUs", vcpus), field("Memory (MiB)", memory), field("Hypervisor", vendor),
      h("div", {class: "field inline"}, pv, h("label", {for: pv.id || (pv.id = "wiz-pv")}, "Paravirtual devices (virtio / VMXNET3 / synthetic)")),
      field("High availability", ha), field("Host group (placement scope)", group)),
    h("fieldset", {}, h("legend", {}, "2. Placement"), rateBtn, ratings),
    h("fieldset", {}, h("legend", {}, "3. Create"), h("div", {class: "buttons"}, createBtn), err, result));
  el.append(h("p", {class: "muted"}, link("#/vms", "VMs"), " › New VM"), h("h2", {}, "New VM"), form);
  // Sizes changed: the old ratings no longer apply.
  for (const c of [vcpus, memory, group, vendor]) c.addEventListener("change", () => ratings.replaceChildren());
}
