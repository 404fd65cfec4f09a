// pages/new-vm.js -- New VM, the wizard: size and settings, its disks and
// NICs, then the placement engine's dry run (every host's stars and why),
// then create -- on the host the user picked, or wherever placement decides.
//
// Disks and NICs are picked from what can hold them: while placement
// chooses, every storage pool and network (of the chosen hypervisor type);
// once a host is picked from the ratings, only those that host reaches.
// The devices go into the ratings request too, so a host that does not
// reach a disk's pool or a NIC's network, or whose pool is too full, is
// rated as refused, and after any change the ratings are asked for again
// (the picked host is kept while it stays eligible).  A refused create shows
// the API's message and code under the button.

import * as api from "../api.js";
import * as vendors from "../vendors.js";
import {h, link, field, select, errorBox, fmtMB} from "../ui.js";
import {ratingsList} from "../placement.js";
import {jobPanel} from "../jobview.js";

const OFFERED = 100;   // pools or networks offered in one menu

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
  // rated again after a change, once what is typed can be sent (an emptied size cannot)
  const devices = deviceLists(() => { if (ratings.firstChild && devices.el.querySelectorAll(":invalid").length === 0) rate(); });

  function spec() {
    const s = {vcpus: Number(vcpus.value), memory_mb: Number(memory.value)};
    if (vendor.value) s.vendor = vendor.value;
    const d = devices.disks(), n = devices.nics();
    if (d.length) s.disks = d;
    if (n.length) s.nics = n;
    return s;
  }
  function picked() {
    const pick = form.querySelector("input[name=host]:checked");
    return pick ? pick.value : "";
  }
  let rating = 0;
  async function rate() {
    const mine = ++rating, keep = picked();
    err.clear();
    ratings.replaceChildren(h("p", {}, "Rating hosts…"));
    const body = {vm: spec(), limit: 50};
    if (group.value) body.host_group_id = group.value;
    try {
      const r = await api.post("/placement/ratings", body);
      if (mine !== rating) return;
      ratings.replaceChildren(h("p", {class: "muted"}, r.hosts_rated + " hosts rated for " + devices.summary() +
        ". Pick one, or let placement choose."), ratingsList(r, {name: "host"}));
      const again = keep && ratings.querySelector("input[name=host][value='" + CSS.escape(keep) + "']:not(:disabled)");
      if (again) again.checked = true;
      else if (keep) ratings.prepend(h("p", {class: "notice"}, "The host picked before cannot take the VM now; placement chooses."));
    } catch (e) { if (mine === rating) { ratings.replaceChildren(); err.show(e); } }
    if (mine === rating) devices.offerFor(picked(), vendor.value);
  }
  async function create(ev) {
    ev.preventDefault();
    err.clear();
    const body = Object.assign({name: name.value.trim()}, spec(), {paravirtual: pv.checked, ha: ha.value});
    if (group.value) body.host_group_id = group.value;
    if (picked()) body.host_id = picked();
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
    h("fieldset", {}, h("legend", {}, "2. Disks and networks"), devices.el),
    h("fieldset", {}, h("legend", {}, "3. Placement"), rateBtn, ratings),
    h("fieldset", {}, h("legend", {}, "4. Create"), h("div", {class: "buttons"}, createBtn), err, result));
  el.append(h("p", {class: "muted"}, link("#/vms", "VMs"), " › New VM"), h("h2", {}, "New VM"), form);
  // Sizes, scope or hypervisor type changed: the old ratings (and the host
  // picked from them) no longer apply, and every pool and network of the type is offered.
  for (const c of [vcpus, memory, group, vendor]) {
    c.addEventListener("change", () => { ratings.replaceChildren(); devices.offerFor("", vendor.value); });
  }
  // A host picked from the ratings: offer what it reaches; placement: offer everything.
  ratings.addEventListener("change", (e) => { if (e.target.name === "host") devices.offerFor(e.target.value, vendor.value); });
  await devices.offerFor("", "");
}

function chosenName(menu) {
  const o = menu.selectedOptions[0];
  return o ? o.dataset.name : "nothing offered";
}

/**
 * The wizard's disks (a pool and a size each) and NICs (a network each),
 * rows added and removed by the user.  offerFor(hostId, vendor) fills the
 * menus with what that host reaches (every pool and network of the vendor
 * when hostId is ""); a row keeps its choice while it is still offered.
 * changed() runs after every change a person makes.
 */
function deviceLists(changed) {
  const pools = kind({
    collection: "storage-pools", noun: "disk", plural: "Disks", menuName: "disk_pool", none: "No disk: the VM is made without one.",
    unknown: "No storage pool is known.", unreached: "The picked host reaches no storage pool.",
    text: (p) => p.name + " — " + fmtMB(p.free_mb) + " free of " + fmtMB(p.capacity_mb) + " (" + p.vendor +
      (p.kind ? " " + p.kind : "") + (p.shared ? ", shared" : "") + ")",
    row(menu, n) {
      const size = h("input", {type: "number", name: "disk_size_gb", min: "1", max: "65536", step: "1", value: "10",
        required: true});
      size.addEventListener("change", changed);
      return {controls: [field("Disk " + n + " pool", menu), field("Disk " + n + " size (GiB)", size)],
        value: () => ({size_gb: Number(size.value), pool_id: menu.value}),
        words: () => size.value + " GiB on " + chosenName(menu)};
    },
  });
  const nets = kind({
    collection: "networks", noun: "NIC", plural: "NICs", menuName: "nic_network", none: "No network: the VM gets no NIC.",
    unknown: "No network is known.", unreached: "The picked host reaches no network.",
    text: (n) => n.name + " — " + (n.kind || "network") + (n.vlan !== null && n.vlan !== undefined ? ", VLAN " + n.vlan : "") +
      " (" + n.vendor + ")",
    row(menu, n) {
      return {controls: [field("NIC " + n + " network", menu)], value: () => ({network_id: menu.value}),
        words: () => "a NIC on " + chosenName(menu)};
    },
  });

  /** One kind of device: its rows, its menu of what is offered, its Add button. */
  function kind(k) {
    const rows = [];           // {el, menu, value(), words()}
    let offered = [];          // the pools or networks the menus list
    let forHost = false;       // offered: what a picked host reaches (else: everything)
    const list = h("div", {class: "device-rows"});
    const status = h("p", {class: "muted", role: "status"});
    const add = h("button", {type: "button", "data-action": "add-" + k.noun.toLowerCase(), onclick: () => {
      addRow();
      changed();
    }}, "Add " + k.noun);
    function fillMenu(menu) {
      const keep = menu.value;
      menu.replaceChildren(...offered.map((o) => h("option", {value: o.id, dataset: {name: o.name}}, k.text(o))));
      if (offered.some((o) => o.id === keep)) menu.value = keep;
    }
    function addRow() {
      const menu = h("select", {name: k.menuName});
      fillMenu(menu);
      menu.addEventListener("change", changed);
      const r = k.row(menu, rows.length + 1);
      const remove = h("button", {type: "button", "aria-label": "Remove " + k.noun + " " + (rows.length + 1),
        onclick: () => {
          rows.splice(rows.indexOf(row), 1);
          draw();
          changed();
        }}, "Remove");
      const row = Object.assign({el: h("div", {class: "toolbar device"}, r.controls, remove), menu}, r);
      rows.push(row);
      draw();
      menu.focus();
    }
    function draw() {
      list.replaceChildren(...rows.map((r) => r.el));
      // numbers follow the rows' order: relabel after a removal
      rows.forEach((r, i) => {
        for (const lab of r.el.querySelectorAll("label")) lab.textContent = lab.textContent.replace(/^(Disk|NIC) \d+/, "$1 " + (i + 1));
        r.el.querySelector("button").setAttribute("aria-label", "Remove " + k.noun + " " + (i + 1));
      });
      add.disabled = !offered.length;
      status.textContent = rows.length ? "" : (offered.length ? k.none : (forHost ? k.unreached : k.unknown) + " " + k.none);
    }
    return {
      el: h("section", {class: "devices-of"}, h("h3", {}, k.plural), list, status, h("div", {class: "buttons"}, add)),
      values: () => rows.map((r) => r.value()),
      words: () => rows.map((r) => r.words()),
      setOffered(items, host) { offered = items; forHost = host; rows.forEach((r) => fillMenu(r.menu)); draw(); },
      collection: k.collection,
    };
  }

  const note = h("p", {class: "hint"});
  let asked = 0;
  return {
    el: h("div", {}, note, pools.el, nets.el),
    disks: () => pools.values(),
    nics: () => nets.values(),
    summary() {
      const w = pools.words().concat(nets.words());
      return w.length ? "its size, " + w.join(", ") : "its size, with no disk and no NIC";
    },
    async offerFor(hostId, vendor) {
      const mine = ++asked;
      const filter = hostId ? "host_ids contains " + api.q(hostId) : (vendor ? "vendor eq " + api.q(vendor) : "");
      try {
        const [p, n] = await Promise.all([pools, nets].map((k) =>
          api.list(k.collection, {limit: OFFERED, sort: "name", filter})));
        if (mine !== asked) return;
        pools.setOffered(p.items, !!hostId);
        nets.setOffered(n.items, !!hostId);
        const more = p.next_cursor || n.next_cursor ? " Only the first " + OFFERED + " of each are offered." : "";
        note.textContent = (hostId ? "Offered: what the picked host reaches." :
          "Offered: every storage pool and network" + (vendor ? " of this hypervisor type" : "") +
          "; pick a host from the ratings to see only what it reaches.") + more;
      } catch (e) {
        if (mine === asked) note.textContent = "The pools and networks could not be read: " + e.message;
      }
    },
  };
}
