// Dashboard formatting: DOM helpers, the site's 24-hour local time, words for numbers.
// No libraries; every time is shown in the SITE's zone (Intl with timeZone and hourCycle h23),
// never the browser's.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

/** The classes the product counts, in report order, with the words a table shows. */
export const CLASSES = ["car", "bus", "truck", "motorcycle", "bicycle", "person"];
export const CLASS_WORDS = {
  car: "cars", bus: "buses", truck: "trucks", motorcycle: "motorcycles",
  bicycle: "bicycles", person: "pedestrians",
};
export const CATEGORY_WORDS = { vehicle: "vehicles", pedestrian: "pedestrians" };

export const $ = (sel, root = document) => root.querySelector(sel);

/** An element (``svg:rect`` for SVG) with attributes and text. */
export function el(tag, attrs = {}, text = "") {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG_NS, tag.slice(4))
                                      : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== "") node.textContent = text;
  return node;
}

const formats = new Map();

/** Local time of ``tz`` at Unix seconds ``ts``; ``style``: hm, hms, day, dayhm, dayhms. */
export function siteTime(ts, tz, style = "hm") {
  const key = `${tz}|${style}`;
  if (!formats.has(key)) {
    const opts = {
      hm: { hour: "2-digit", minute: "2-digit" },
      hms: { hour: "2-digit", minute: "2-digit", second: "2-digit" },
      day: { day: "numeric", month: "short" },
      dayhm: { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" },
      dayhms: { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", second: "2-digit" },
    }[style];
    formats.set(key, new Intl.DateTimeFormat("en-GB", { ...opts, timeZone: tz, hourCycle: "h23" }));
  }
  return formats.get(key).format(new Date(ts * 1000));
}

/** "12 s ago", "4 min ago", "3 h ago" or "never". */
export function ago(ts) {
  if (!ts) return "never";
  const s = Math.max(0, Date.now() / 1000 - ts);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 2 * 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

export const num = n => Number(n || 0).toLocaleString("en-US");

/** "1 vehicle", "34 vehicles". */
export function plural(n, word) {
  return `${num(n)} ${word}${n === 1 ? "" : "s"}`;
}

/** A wait in plain words: "under 1 min", "about 12 min", "about 1.5 h"; null: unknown. */
export function waitWords(s) {
  if (s == null) return null;
  if (s < 60) return "under 1 min";
  if (s < 5400) return `about ${Math.round(s / 60)} min`;
  return `about ${(s / 3600).toFixed(1)} h`;
}

/** "camera_lost,low_fps" -> "camera lost, low fps". */
export const reasonWords = r => (r || "").split(",").filter(Boolean)
  .map(x => x.trim().replaceAll("_", " ")).join(", ");

/** Y axis ticks 0, step, 2 step, ... covering ``max``, step 1, 2 or 5 times a power of 10. */
export function niceTicks(max, most = 6) {
  if (max <= 0) return [0, 1];
  const raw = max / (most - 1);
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 5, 10].map(m => m * p).find(s => s >= raw));
  const ticks = [];
  for (let v = 0; v < max + step; v += step) ticks.push(v);
  return ticks;
}
