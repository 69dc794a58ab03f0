// Dashboard chart: crossings over time per direction name and category, a hand-drawn SVG.
//
// The API is asked for fine buckets (1 min for a day); here they are summed into bars of a
// "nice" size (1, 2, 5, 10, 15, 30 min, 1, 2, 3, 6, 12 h, 1 day) aligned to the SITE's local
// clock (from ``buckets_local``), starting at the first data (or the window's start, if later),
// so a quiet day does not squeeze everything into one bar at the right edge. The SVG is drawn
// at the box's real pixel size (no viewBox scaling), so its text stays 12 px on a phone.
"use strict";

import { $, el, niceTicks, num, siteTime, CATEGORY_WORDS } from "./fmt.js";

const NICE_MIN = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440];
const MIN_BARS = 5;
const H = 230, TOP = 10, BOTTOM = 24;
const PALETTE = [
  ["#1f6fd1", "#86b8f2"], ["#d2601a", "#f2ab78"], ["#23875a", "#8fd1ac"],
  ["#7a4cc2", "#c0a8ea"], ["#a33a6b", "#e59bbd"],
];

/** Display name of a line's direction: its configured label, else "L1 in" (or bare "in"
 * where the line is named beside it), so unnamed directions of two lines are never summed. */
export function dirName(labels, device, line, direction, bare = false) {
  const label = labels?.[device]?.[line]?.[direction];
  if (label && label !== direction) return label;
  return bare ? direction : `${line} ${direction}`;
}

/** ``dirName`` for the (device, line) ``pairs`` of one site: an unnamed direction of a line
 * name that two devices use also names its device ("L1 in · cam-2"), so the unnamed lines of
 * two cameras are never summed either. */
export function namer(labels, pairs) {
  const devices = new Map();
  for (const [device, line] of pairs) devices.set(line, new Set(devices.get(line)).add(device));
  return (device, line, direction) => {
    const name = dirName(labels, device, line, direction);
    const unnamed = name === `${line} ${direction}`;
    return unnamed && devices.get(line)?.size > 1 ? `${name} · ${device}` : name;
  };
}

/** The palette index of each direction name: given once, in the order of ``labels`` (device,
 * line, in then out), and kept in ``colours`` (a Map the card holds), so a name keeps its
 * colour across refreshes and ranges. */
function colourOf(colours, labels, nameOf) {
  const pairs = Object.entries(labels || {}).flatMap(([d, ls]) => Object.keys(ls).map(l => [d, l]));
  for (const [d, l] of pairs.sort((a, b) => `${a}`.localeCompare(`${b}`))) {
    for (const dir of ["in", "out"]) {
      const name = nameOf(d, l, dir);
      if (!colours.has(name)) colours.set(name, colours.size);
    }
  }
  return name => {
    if (!colours.has(name)) colours.set(name, colours.size);
    return PALETTE[colours.get(name) % PALETTE.length];
  };
}

/** The series of ``counts`` (grouped by device, line, direction, category) per direction name
 * and category, plus each fine bucket's local minute of the day. */
export function chartData(counts, labels, window, colours = new Map()) {
  const n = counts.buckets.length;
  const names = [];
  const series = new Map();
  const nameOf = namer(labels, counts.series.map(s => [s.key.device, s.key.line]));
  const sorted = [...counts.series].sort((a, b) =>
    `${a.key.device}/${a.key.line}/${a.key.direction}`.localeCompare(
      `${b.key.device}/${b.key.line}/${b.key.direction}`));
  for (const s of sorted) {
    const name = nameOf(s.key.device, s.key.line, s.key.direction);
    if (!names.includes(name)) names.push(name);
    const key = `${name}|${s.key.category}`;
    if (!series.has(key)) {
      series.set(key, { key, name, category: s.key.category, counts: new Array(n).fill(0) });
    }
    const into = series.get(key).counts;
    s.counts.forEach((v, i) => { into[i] += v; });
  }
  const order = [];
  const colour = colourOf(colours, labels, nameOf);
  names.forEach(colour);
  for (const name of names.sort((a, b) => colours.get(a) - colours.get(b))) {
    for (const [j, cat] of ["vehicle", "pedestrian"].entries()) {
      const s = series.get(`${name}|${cat}`);
      if (s) order.push({ ...s, colour: colour(name)[j] });
    }
  }
  const minuteOfDay = counts.buckets_local.map(t => Number(t.slice(11, 13)) * 60 + Number(t.slice(14, 16)));
  return { counts, series: order, minuteOfDay, window, timezone: counts.timezone };
}

/** Bars of ``data``: the nice bar size for ``maxBars`` and the fine bucket range each sums. */
function bars(data, maxBars) {
  const { counts, series, minuteOfDay, window } = data;
  const fineMin = counts.bucket_s / 60;
  const total = counts.buckets.map((_, i) => series.reduce((a, s) => a + s.counts[i], 0));
  const first = total.findIndex(v => v > 0);
  const end = window.end;
  let start = first < 0 ? window.start : Math.max(window.start, counts.buckets[first]);
  const fits = NICE_MIN.filter(m => m % fineMin === 0);
  const size = fits.find(m => (end - start) / 60 / m <= maxBars) || fits[fits.length - 1];
  start = Math.max(window.start, Math.min(start, end - MIN_BARS * size * 60));
  let i = Math.max(0, counts.buckets.findLastIndex(t => t <= start));
  while (i > 0 && minuteOfDay[i] % size !== 0) i -= 1;
  const groups = [];
  for (; i < counts.buckets.length; i += 1) {
    if (!groups.length || minuteOfDay[i] % size === 0) groups.push({ ts: counts.buckets[i], from: i, to: i });
    groups[groups.length - 1].to = i;
  }
  return { size, groups };
}

function sum(values, g) {
  let n = 0;
  for (let i = g.from; i <= g.to; i += 1) n += values[i];
  return n;
}

/** The bar size in words: "per 15 min", "per hour", "per day". */
function perWords(size) {
  if (size < 60) return `per ${size} min`;
  if (size === 60) return "per hour";
  return size < 1440 ? `per ${size / 60} h` : "per day";
}

/** Draw ``data`` into the card's ``.chart`` box (again on resize) and fill in the legend. */
export function drawChart(card, data) {
  const box = $(".chart", card);
  const W = Math.max(260, box.clientWidth || 600);
  const { size, groups } = bars(data, Math.max(12, Math.min(60, Math.floor(W / 14))));
  const tz = data.timezone;
  const stacks = groups.map(g => data.series.map(s => sum(s.counts, g)));
  const ticks = niceTicks(Math.max(0, ...stacks.map(st => st.reduce((a, b) => a + b, 0))));
  const top = ticks[ticks.length - 1];
  const L = 14 + 7 * String(num(top)).length, R = 6;
  const svg = el("svg:svg", { width: W, height: H, role: "img", "aria-label": "crossings over time",
                              "data-bar-s": size * 60, "data-bars": groups.length });
  const y = v => TOP + (H - TOP - BOTTOM) * (1 - v / top);
  for (const v of ticks) {
    svg.append(el("svg:line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
    svg.append(el("svg:text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, num(v)));
  }
  const slot = (W - L - R) / Math.max(1, groups.length);
  const barW = Math.max(1, Math.min(48, slot * 0.8));
  const multiDay = data.window.end - groups[0].ts > 86400;
  const every = Math.ceil(groups.length / Math.max(1, Math.floor((W - L) / 56)));
  groups.forEach((g, gi) => {
    const x = L + gi * slot + (slot - barW) / 2;
    let base = 0;
    data.series.forEach((s, si) => {
      const v = stacks[gi][si];
      if (v <= 0) return;
      const rect = el("svg:rect", { x, width: barW, y: y(base + v), height: y(base) - y(base + v),
                                    fill: s.colour, "data-series": s.key });
      rect.append(el("svg:title", {}, `${siteTime(g.ts, tz, "dayhm")} ${s.name} · ${CATEGORY_WORDS[s.category]}: ${v}`));
      svg.append(rect);
      base += v;
    });
    if (gi % every === 0) {
      const midnight = data.minuteOfDay[g.from] === 0;
      const text = size >= 1440 || (multiDay && midnight) ? siteTime(g.ts, tz, "day") : siteTime(g.ts, tz, "hm");
      const cx = L + gi * slot + slot / 2;
      const anchor = cx + 20 > W - R ? "end" : cx - 20 < L ? "start" : "middle";
      const x = anchor === "end" ? W - R : anchor === "start" ? L : cx;
      svg.append(el("svg:text", { x, y: H - 7, "text-anchor": anchor }, text));
    }
  });
  box.replaceChildren(svg);
  $(".legend", card).replaceChildren(...data.series.map(s => {
    const total = s.counts.reduce((a, b) => a + b, 0);
    return el("li", { style: `--swatch: ${s.colour}`, "data-legend": s.key, "data-total": total },
              `${s.name} · ${CATEGORY_WORDS[s.category]} (${num(total)})`);
  }));
  const from = siteTime(groups[0].ts, tz, multiDay ? "dayhm" : "hm");
  $(".bucket", card).textContent = `${perWords(size)}, from ${from}`;
  $(".chart-empty", card).hidden = data.series.length > 0;
}
