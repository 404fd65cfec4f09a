// chart.js -- a small line chart of a metrics series (GET /…/metrics), as
// inline SVG: CPU % and memory % on one 0-100 axis, time along the bottom.
// No library: a polyline per series is all the console needs.

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

/** points: [{t, cpu_pct, memory_mb}]; memTotal: MB for the memory %. */
export function usageChart(points, memTotal, label) {
  const W = 600, H = 160, L = 34, B = 20;
  const chart = svg("svg", {viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
    "aria-label": label + ": " + points.length + " points"});
  const times = points.map((p) => Date.parse(p.t));
  const t0 = Math.min(...times), t1 = Math.max(...times);
  const x = (t) => L + (t1 > t0 ? (t - t0) / (t1 - t0) : 0.5) * (W - L - 4);
  const y = (pct) => 4 + (1 - Math.max(0, Math.min(100, pct)) / 100) * (H - B - 8);
  for (const g of [0, 50, 100]) {
    chart.append(svg("line", {x1: L, x2: W - 4, y1: y(g), y2: y(g), class: "grid"}),
      svg("text", {x: L - 4, y: y(g) + 4, "text-anchor": "end"}, g + "%"));
  }
  const series = [
    ["cpu", "CPU", (p) => p.cpu_pct],
    ["mem", "Memory", (p) => (memTotal && p.memory_mb != null ? 100 * p.memory_mb / memTotal : null)],
  ];
  for (const [cls, name, val] of series) {
    const pts = points.map((p, i) => [x(times[i]), val(p)]).filter(([, v]) => v != null)
      .map(([px, v]) => px.toFixed(1) + "," + y(v).toFixed(1));
    if (pts.length) chart.append(svg("polyline", {points: pts.join(" "), class: "line " + cls},
      svg("title", {}, name)));
  }
  if (points.length) {
    const fmt = (t) => new Date(t).toLocaleString([], {month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"});
    chart.append(svg("text", {x: L, y: H - 4}, fmt(t0)),
      svg("text", {x: W - 4, y: H - 4, "text-anchor": "end"}, fmt(t1)));
  }
  return chart;
}
