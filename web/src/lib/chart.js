// Small line charts drawn as SVG by this code (no library, no CDN): a
// series of {x, y} points over time, with axes, a few labelled ticks and a
// text summary beside it for screen readers. Every text goes in as a text
// node (dom.js's rule), and nothing is styled inline: the CSP allows no
// inline style, so the lines take their colours from style.css classes.
const NS = "http://www.w3.org/2000/svg";

function s(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs ?? {})) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== undefined && c !== null) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** Rounds a step to 1, 2 or 5 times a power of ten. */
export function niceStep(range, ticks) {
  if (!(range > 0)) return 1;
  const raw = range / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/** min, mean and max of the y values, or null for no points. */
export function summary(points) {
  if (!points.length) return null;
  let min = Infinity, max = -Infinity, sum = 0;
  for (const p of points) {
    min = Math.min(min, p.y);
    max = Math.max(max, p.y);
    sum += p.y;
  }
  return { min, max, mean: sum / points.length, n: points.length };
}

const fmtNum = (v) => (v === 0 ? "0" : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));
const fmtClock = (ms) => new Date(ms).toLocaleTimeString("en-GB", { timeZone: "UTC", hour: "2-digit", minute: "2-digit", second: "2-digit" });

/**
 * A line chart: points {x: unix ms, y: number}, oldest first. Returns a
 * <figure> with the SVG (role img, labelled by its caption and summary).
 */
export function lineChart({ title, unit, points, kind = "a", xLabel = "" }) {
  const W = 420, H = 180, L = 44, R = 10, T = 10, B = 26;
  const pts = points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const sm = summary(pts);
  const text = sm ? `${title}: ${sm.n} points, min ${fmtNum(sm.min)} ${unit}, mean ${fmtNum(sm.mean)} ${unit}, max ${fmtNum(sm.max)} ${unit}.` : `${title}: no data yet.`;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: `chart chart-${kind}`, role: "img", "aria-label": text });
  svg.append(s("title", {}, text));
  if (pts.length) {
    const x0 = pts[0].x, x1 = Math.max(pts[pts.length - 1].x, x0 + 1);
    const ymax0 = Math.max(sm.max, 0) || 1;
    const step = niceStep(ymax0, 4);
    const ymax = Math.ceil(ymax0 / step) * step;
    const X = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
    const Y = (y) => T + (1 - y / ymax) * (H - T - B);
    for (let v = 0; v <= ymax + step / 2; v += step) {
      svg.append(s("line", { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: "grid" }));
      svg.append(s("text", { x: L - 6, y: Y(v) + 4, "text-anchor": "end", class: "tick" }, fmtNum(v)));
    }
    for (const f of [0, 0.5, 1]) {
      const x = x0 + f * (x1 - x0);
      svg.append(s("text", { x: X(x), y: H - 8, "text-anchor": f === 0 ? "start" : f === 1 ? "end" : "middle", class: "tick" }, xLabel ? `${xLabel} ${Math.round(x)}` : fmtClock(x)));
    }
    svg.append(s("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }));
    svg.append(s("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }));
    const d = pts.map((p, i) => `${i ? "L" : "M"}${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join("");
    svg.append(s("path", { d, class: "series" }));
    if (pts.length <= 80) for (const p of pts) svg.append(s("circle", { cx: X(p.x).toFixed(1), cy: Y(p.y).toFixed(1), r: 2.2, class: "dot" }));
  }
  const fig = document.createElement("figure");
  fig.className = "chart-fig";
  const cap = document.createElement("figcaption");
  const strong = document.createElement("strong");
  strong.append(`${title} (${unit})`);
  const p = document.createElement("span");
  p.className = "hint";
  p.append(" ", sm ? `min ${fmtNum(sm.min)}, mean ${fmtNum(sm.mean)}, max ${fmtNum(sm.max)} over ${sm.n} points` : "no data yet");
  cap.append(strong, p);
  fig.append(cap, svg);
  return fig;
}

/**
 * The series the explorer charts, from blocks (newest or oldest first, each
 * {height, time, num_txs}): throughput in transactions per second of each
 * block's interval, and the block time in seconds.
 */
export function blockSeries(blocks) {
  const bs = [...blocks].filter((b) => Number.isFinite(Date.parse(b.time))).sort((a, b) => a.height - b.height);
  const throughput = [], blockTime = [];
  for (let i = 1; i < bs.length; i++) {
    if (bs[i].height !== bs[i - 1].height + 1) continue;
    const t = Date.parse(bs[i].time), dt = (t - Date.parse(bs[i - 1].time)) / 1000;
    if (!(dt > 0)) continue;
    blockTime.push({ x: t, y: dt });
    throughput.push({ x: t, y: bs[i].num_txs / dt });
  }
  return { throughput, blockTime };
}
