// ui.js -- small DOM helpers shared by every page: element building,
// formatting, star ratings, progress and usage bars, error boxes, modal
// dialogs and the paged table that every list uses.
//
// A dialog belongs to the page it was opened on: the router closes every
// open one (closeDialogs) when the page changes, Back included.
//
// Lists never load a whole collection: a paged table asks the API for one
// page (limit + next_cursor) and offers "Load more" for the next, so a list
// of 100,000 VMs costs the same as a list of ten.

/** h("button", {class: "x", onclick: fn}, "text", child…) -- build an element. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

/** Replace an element's children; like h(), skips null/false and flattens arrays. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function link(href, text, attrs) { return h("a", Object.assign({href}, attrs || {}), text); }

export function fmtMB(mb) {
  if (mb === null || mb === undefined) return "–";
  if (mb >= 1048576) return (mb / 1048576).toFixed(1) + " TiB";
  if (mb >= 1024) return (mb / 1024).toFixed(mb % 1024 ? 1 : 0) + " GiB";
  return mb + " MiB";
}

export function fmtTime(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  if (isNaN(d)) return iso;
  return d.toLocaleString(undefined, {year: "numeric", month: "short", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit"});
}

export function fmtNum(n, digits = 0) {
  if (n === null || n === undefined) return "–";
  return Number(n).toLocaleString(undefined, {maximumFractionDigits: digits});
}

/** A state word as a coloured badge: running, stopped, failed, connected … */
export function badge(state) {
  return h("span", {class: "badge badge-" + String(state || "unknown").replace(/[^a-z_]/g, "")},
    String(state || "unknown").replace(/_/g, " "));
}

/** A VM's power state: when it is not known now (its host or connection is
 *  down), the badge says so and what was last heard, and since when. */
export function vmStateBadge(vm) {
  if (vm.power_state !== "unknown" || !vm.last_known_power_state || vm.last_known_power_state === "unknown")
    return badge(vm.power_state);
  const since = vm.stale_since ? " since " + new Date(vm.stale_since).toLocaleString() : "";
  const b = badge("unknown");
  b.textContent = "unknown (last: " + vm.last_known_power_state + ")";
  b.title = "Its host or connection does not answer" + since + "; last reported " + vm.last_known_power_state;
  return b;
}

/** 0–5 stars in half steps, readable by a screen reader as "4.5 of 5 stars". */
export function stars(n) {
  const full = Math.floor(n), half = n - full >= 0.5;
  const s = "★".repeat(full) + (half ? "½" : "") + "☆".repeat(5 - full - (half ? 1 : 0));
  return h("span", {class: "stars", role: "img", "aria-label": n + " of 5 stars", title: n + " of 5 stars"},
    h("span", {"aria-hidden": "true"}, s), " ", h("span", {class: "stars-n", "aria-hidden": "true"}, String(n)));
}

/** A labelled progress bar (native <progress>, so assistive tech reads it). */
export function progress(pct, label) {
  const p = Math.max(0, Math.min(100, Number(pct) || 0));
  return h("span", {class: "progress"},
    h("progress", {max: "100", value: String(p), "aria-label": label || "progress"}),
    h("span", {class: "progress-text"}, p + " %"));
}

/** How much of a total is used, as a bar and a percentage (memory, CPU,
 *  a storage pool); `text` replaces the "label: N %" under the bar.  A bar
 *  90 % full or more is drawn in the warning colour. */
export function usageBar(used, total, label, text) {
  const pct = total ? Math.min(100, Math.round(used / total * 100)) : 0;
  return h("div", {class: "usage"},
    h("div", {class: "bar" + (pct >= 90 ? " full" : ""), role: "img", "aria-label": label + " " + pct + " % used"},
      h("span", {style: "width:" + pct + "%"})),
    h("span", {class: "muted"}, text || label + ": " + pct + " %"));
}

/** An error area to show an API error where the action was taken. */
export function errorBox() {
  const el = h("p", {class: "error", role: "alert", hidden: true});
  el.show = (e) => {
    el.textContent = e ? (e.message || String(e)) + (e.code ? " (" + e.code + ")" : "") : "";
    el.hidden = !e;
  };
  el.clear = () => el.show(null);
  return el;
}

export function notice(text) { return h("p", {class: "notice", role: "status"}, text); }

/** Label + control, stacked; the control gets an id so the label points at it. */
let idSeq = 0;
export function field(label, control, hint) {
  if (!control.id) control.id = "f" + (++idSeq);
  const hintEl = hint ? h("span", {class: "hint", id: control.id + "-hint"}, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", {class: "field"}, h("label", {for: control.id}, label), control, hintEl);
}

export function select(name, options, value) {
  return h("select", {name},
    options.map(([v, text]) => h("option", {value: v, selected: v === value}, text)));
}

/** Definition list of [term, value] pairs. */
export function facts(pairs) {
  return h("dl", {class: "facts"}, pairs.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

const openDialogs = new Set();   // the <dialog>s modal() has open

/**
 * A modal dialog (native <dialog>: Esc closes it, focus stays inside).
 * build(dialog, close) fills it; returns a promise of the value given to
 * close() -- undefined when it was dismissed (Esc, or closeDialogs()).
 */
export function modal(title, build) {
  return new Promise((resolve) => {
    const titleId = "dlg-title-" + (++idSeq);
    const dlg = h("dialog", {class: "modal", "aria-labelledby": titleId});
    let value;
    const close = (v) => { value = v; dlg.close(); };
    dlg.addEventListener("close", () => { openDialogs.delete(dlg); dlg.remove(); resolve(value); });
    openDialogs.add(dlg);
    dlg.append(h("h2", {id: titleId}, title));
    build(dlg, close);
    document.body.append(dlg);
    dlg.showModal();
    const first = dlg.querySelector("[autofocus]") || dlg.querySelector("input, select, textarea, button");
    if (first) first.focus();
  });
}

/** Dismiss every open dialog (the router does, when the page changes). */
export function closeDialogs() {
  for (const dlg of [...openDialogs]) dlg.close();
}

/** Ask before something that cannot be undone; resolves true or false. */
export function confirmDialog(title, text, okLabel) {
  return modal(title, (dlg, close) => {
    dlg.append(h("p", {}, text),
      h("div", {class: "buttons"},
        h("button", {type: "button", class: "danger", onclick: () => close(true)}, okLabel || "OK"),
        h("button", {type: "button", autofocus: true, onclick: () => close(false)}, "Cancel")));
  }).then((v) => v === true);
}

/**
 * A table of items already at hand (a VM's disks): the same look as a
 * paged table, without paging.  columns as for pagedTable.
 */
export function table({columns, items, caption, empty}) {
  return h("div", {class: "paged"},
    h("div", {class: "table-wrap"}, listTable(columns, caption, h("tbody", {}, items.map((it) => tableRow(columns, it))))),
    items.length ? null : h("p", {class: "muted"}, empty || "Nothing here."));
}

function listTable(columns, caption, tbody) {
  return h("table", {class: "list"},
    caption ? h("caption", {class: "sr-only"}, caption) : null,
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", {scope: "col"}, c.label)))),
    tbody);
}

// each cell says its column (data-label): narrow windows show tables as cards
function tableRow(columns, item) {
  return h("tr", {}, columns.map((c) => h("td", {"data-label": c.label}, c.render(item))));
}

/**
 * Whether copy b of an object is at least as new as copy a.  A reply and the
 * live stream can arrive in either order; objects that carry a revision
 * (jobs) say which copy is newer.
 */
export function isNewer(a, b) {
  return !a || (b.revision || 0) >= (a.revision || 0);
}

/**
 * A table over one collection, a page at a time.
 *   columns: [{label, render(item) -> node|string}]
 *   fetch(cursor) -> Promise<{items, next_cursor}>
 * Returns {el, reload(), upsert(item, keyFn)}; reload() starts again from page one.
 */
export function pagedTable({columns, fetch, caption, empty, rowKey}) {
  const tbody = h("tbody");
  const err = errorBox();
  const status = h("span", {class: "muted", role: "status"});
  const more = h("button", {type: "button", hidden: true}, "Load more");
  const el = h("div", {class: "paged"}, err, h("div", {class: "table-wrap"}, listTable(columns, caption, tbody)),
    h("div", {class: "pager"}, more, " ", status));
  let cursor = null, count = 0, gen = 0;
  const rows = new Map();    // key -> <tr>
  const items = new Map();   // key -> the item drawn in that row

  function row(item) {
    const tr = tableRow(columns, item);
    if (rowKey) { tr.dataset.key = rowKey(item); rows.set(rowKey(item), tr); items.set(rowKey(item), item); }
    return tr;
  }
  async function load(reset) {
    const mine = reset ? ++gen : gen;
    more.disabled = true;
    status.textContent = "Loading…";
    try {
      const page = await fetch(reset ? null : cursor);
      if (mine !== gen) return;
      if (reset) { tbody.replaceChildren(); rows.clear(); items.clear(); count = 0; }
      for (const it of page.items) tbody.append(row(it));
      count += page.items.length;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      status.textContent = count === 0 ? (empty || "Nothing here.") :
        "Showing " + count + (cursor ? " (more available)" : "");
      err.clear();
    } catch (e) {
      if (mine !== gen) return;
      err.show(e);
      status.textContent = "";
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", () => load(false));
  load(true);
  return {
    el,
    reload: () => load(true),
    /**
     * Redraw the row of an item in place (live updates); add it on top when
     * asked.  Live messages may carry only the fields that changed (a vm
     * message has id, name, power_state, host_id), so they are merged.
     */
    upsert(item, addIfMissing) {
      const key = rowKey(item), old = rows.get(key);
      if (old && !isNewer(items.get(key), item)) return;
      if (old) old.replaceWith(row(Object.assign({}, items.get(key), item)));
      else if (addIfMissing) {
        tbody.prepend(row(item));
        count++;
        status.textContent = "Showing " + count + (cursor ? " (more available)" : "");
      }
    },
  };
}

/** A debounce for search boxes. */
export function debounce(fn, ms) {
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}
