// Dashboard panels: today's totals per direction name, class and line; devices; queues; the
// hourly table. Each takes a site card and an API answer and replaces the panel's content.
"use strict";

import { dirName, namer } from "./chart.js";
import { $, el, ago, num, plural, reasonWords, siteTime, waitWords,
         CLASSES, CLASS_WORDS } from "./fmt.js";

const DIRECTIONS = ["in", "out"];

/** Today's rows (grouped by device, line, direction, class) per line, with every line the
 * labels name even when nothing crossed it yet. */
function linesOf(today) {
  const lines = new Map();
  const line = (device, name) => {
    const key = `${device}/${name}`;
    if (!lines.has(key)) lines.set(key, { key, device, line: name, in: {}, out: {} });
    return lines.get(key);
  };
  for (const [device, ls] of Object.entries(today.labels || {})) {
    for (const name of Object.keys(ls)) line(device, name);
  }
  for (const { key: k, n } of today.rows) {
    const per = line(k.device, k.line)[k.direction];
    if (per) per[k.class] = (per[k.class] || 0) + n;
  }
  return [...lines.values()].sort((a, b) => a.key.localeCompare(b.key));
}

const total = per => Object.values(per).reduce((a, b) => a + b, 0);

function directionSummary(lines, labels) {
  const nameOf = namer(labels, lines.map(l => [l.device, l.line]));
  const byName = new Map();
  for (const ln of lines) {
    for (const d of DIRECTIONS) {
      const name = nameOf(ln.device, ln.line, d);
      const s = byName.get(name) || { vehicles: 0, pedestrians: 0 };
      s.pedestrians += ln[d].person || 0;
      s.vehicles += total(ln[d]) - (ln[d].person || 0);
      byName.set(name, s);
    }
  }
  return [...byName.entries()].map(([name, s]) => {
    const node = el("div", { class: "dir", "data-direction-name": name });
    node.append(el("span", { class: "dir-name" }, name),
                el("b", { class: "n", "data-total": "all" }, num(s.vehicles + s.pedestrians)),
                el("small", { class: "muted" },
                   `${plural(s.vehicles, "vehicle")} · ${plural(s.pedestrians, "pedestrian")}`));
    return node;
  });
}

function lineTable(ln, labels, showDevice) {
  const names = DIRECTIONS.map(d => dirName(labels, ln.device, ln.line, d, true));
  const table = el("table", { class: "line-table", "data-line": ln.key });
  const caption = el("caption", {}, `line ${ln.line}`);
  if (showDevice) caption.append(el("small", { class: "muted" }, ` · ${ln.device}`));
  table.append(caption);
  const head = el("tr", {}, "");
  head.append(el("th", {}, ""), ...names.map((n, i) => el("th", { "data-dir": DIRECTIONS[i] }, n)),
              el("th", {}, "both"));
  const body = el("tbody");
  for (const cls of [...CLASSES, "all"]) {
    const tr = el("tr", { "data-class": cls, class: cls === "all" ? "sum" : "" });
    const cell = d => (cls === "all" ? total(ln[d]) : ln[d][cls] || 0);
    const values = [...DIRECTIONS.map(cell), DIRECTIONS.reduce((a, d) => a + cell(d), 0)];
    if (values[2] === 0 && cls !== "all") tr.classList.add("zero");
    tr.append(el("th", {}, cls === "all" ? "all" : CLASS_WORDS[cls]),
              ...values.map((v, i) => el("td", { "data-count": `${["in", "out", "both"][i]}-${cls}` }, num(v))));
    body.append(tr);
  }
  table.append(el("thead", {}, ""), body);
  $("thead", table).append(head);
  return table;
}

/** Today since local midnight: one card per direction name, one table per line. */
export function renderToday(card, today) {
  const lines = linesOf(today);
  const labels = today.labels || {};
  const devices = new Set(lines.map(l => l.device));
  $(".dir-totals", card).replaceChildren(...directionSummary(lines, labels));
  $(".lines", card).replaceChildren(...lines.map(l => lineTable(l, labels, devices.size > 1)));
  $(".today-empty", card).hidden = lines.length > 0;
  $(".since", card).textContent = `since ${siteTime(today.since, today.timezone, "dayhm")}`;
}

const HEALTH_TITLES = {
  online: "running and reporting",
  degraded: "running, with a problem",
  stopped: "stopped cleanly (the service was stopped)",
  offline: "connection lost without a goodbye (power, network or crash)",
  stale: "says online but has been silent",
  unknown: "no status received yet",
};

/** The device table: status in words and colours, with the reason when degraded. */
export function renderDevices(card, devices, tz) {
  const rows = devices.map(d => {
    const tr = el("tr", { "data-device": d.device_id });
    const m = (d.telemetry && d.telemetry.metrics) || {};
    const fps = m.fps_processed ?? m.fps;
    const t = d.totals || {};
    const status = el("td", { "data-label": "status" });
    status.append(el("span", { class: `badge ${d.health}`, title: HEALTH_TITLES[d.health] || "" }, d.health));
    const reason = reasonWords(d.reason ?? d.status?.reason);
    if (reason) status.append(el("span", { class: "reason" }, reason));
    const dropped = el("td", { "data-label": "dropped", "data-dropped": t.dropped ?? "",
                               class: t.dropped ? "dropped" : "",
                               title: t.missing == null ? "no state from the device yet"
                                 : `missing (not arrived or lost): ${t.missing}` },
                       t.dropped == null ? "–" : num(t.dropped));
    tr.append(
      el("td", { "data-label": "device" }, d.device_id), status,
      el("td", { "data-label": "last heard", title: d.last_seen ? siteTime(d.last_seen, tz, "dayhms") : "" },
         ago(d.last_seen)),
      el("td", { "data-label": "fps" }, fps == null ? "–" : Number(fps).toFixed(1)),
      el("td", { "data-label": "outbox" }, String(m.outbox_depth ?? "–")),
      el("td", { "data-label": "stored" }, num(t.stored)),
      el("td", { "data-label": "counted" }, t.journaled == null ? "–" : num(t.journaled)),
      dropped);
    return tr;
  });
  $(".device-table tbody", card).replaceChildren(...rows);
}

const METHODS = {
  littles_law: w => `Little's law: vehicles in the queue ÷ vehicles leaving per minute (last ${w ?? "–"} s)`,
  measured: w => `measured: median time in the zone of the vehicles that left in the last ${w ?? "–"} s`,
  none: () => "no estimate (nobody left the queue lately): at least as long as the longest wait so far",
};

function queueItem(key, name, words, method, details) {
  const li = el("li", { "data-queue": key });
  li.append(el("span", { class: "q-name" }, name), el("span", { class: "q-words", title: method }, words),
            el("small", { class: "muted" }, details));
  return li;
}

/** A queue in plain words: "about 12 min wait, 34 vehicles". */
function queueWords(n, waitS, lowerS, what) {
  const count = plural(Math.max(0, n), what);
  if (n <= 0) return "no queue";
  if (waitS != null) return `${waitWords(waitS)} wait, ${count}`;
  if (lowerS != null) return `more than ${waitWords(lowerS).replace("about ", "")} wait, ${count}`;
  return `wait unknown, ${count}`;
}

const rate = r => (r == null ? "rate unknown" : `${r.toFixed(1)} leave per min`);

/** Cross-camera queues (GET /api/v1/queues) and camera zones (GET /api/v1/zones). */
export function renderQueues(card, queues, zones) {
  const items = queues.map(q => queueItem(
    q.queue, q.queue === q.direction ? q.queue : `${q.queue} · ${q.direction}`,
    queueWords(q.in_system, q.expected_wait_s, null, "vehicle"),
    `${METHODS[q.wait_method]?.(q.window_s) ?? q.wait_method}; cameras ${q.devices.entry.device} → ${q.devices.exit.device}`,
    `${rate(q.exit_rate_per_min)} · as of ${ago(q.as_of)}${q.lag_s > 60 ? " (a device is silent)" : ""}`));
  for (const z of zones) {
    const r = z.report;
    const onFoot = Object.keys(r.occupancy || {}).every(c => c === "person") && Object.keys(r.occupancy || {}).length;
    items.push(queueItem(
      `${z.device_id}/${z.zone}`, `${z.zone}${r.direction ? " · " + r.direction : ""} (${z.device_id})`,
      queueWords(r.queue_length, r.wait_s, r.wait_lower_bound_s, onFoot ? "person" : "vehicle")
        .replace("1 persons", "1 person").replace("persons", "people"),
      METHODS[r.wait_method]?.(r.window_s) ?? r.wait_method,
      `${rate(r.exit_rate_per_min)} · as of ${ago(z.ts)}`));
  }
  $(".queue-list", card).replaceChildren(...items);
  $(".queue-empty", card).hidden = items.length > 0;
}

/** Hourly columns: per direction name, vehicles and on foot (a category that is 0 all day is
 * left out, so the table fits a phone; a name keeps at least its vehicles column). */
function hourlyColumns(hourly) {
  const cols = [];
  const labels = {};
  for (const r of hourly.rows) ((labels[r.device] ||= {})[r.line] ||= {})[r.direction] = r.label;
  const nameOf = namer(labels, hourly.rows.map(r => [r.device, r.line]));
  for (const r of hourly.rows) {
    const name = nameOf(r.device, r.line, r.direction);
    for (const cat of ["vehicle", "pedestrian"]) {
      if (!cols.some(c => c.name === name && c.cat === cat)) cols.push({ name, cat, counts: new Array(hourly.hours.length).fill(0) });
    }
    const col = cols.find(c => c.name === name && c.cat === r.category);
    r.counts.forEach((v, i) => { col.counts[i] += v; });
  }
  for (const c of cols) c.total = c.counts.reduce((a, b) => a + b, 0);
  return cols.filter(c => c.total > 0 || (c.cat === "vehicle" && !cols.some(o => o.name === c.name && o.total > 0)));
}

/** The hourly table of one local day (GET /api/v1/hourly): hours down, direction names and
 * vehicles / on foot across, today only up to the current hour. */
export function renderHourly(card, hourly) {
  const cols = hourlyColumns(hourly);
  const now = Date.now() / 1000;
  const mixed = new Set(hourly.hours.map(h => h.utc_offset)).size > 1;
  const head1 = el("tr");
  const head2 = el("tr");
  head1.append(el("th", { rowspan: 2 }, "hour"));
  for (const name of new Set(cols.map(c => c.name))) {
    head1.append(el("th", { colspan: cols.filter(c => c.name === name).length, class: "dir-head" }, name));
  }
  head1.append(el("th", { rowspan: 2 }, "all"));
  for (const c of cols) head2.append(el("th", {}, c.cat === "vehicle" ? "vehicles" : "on foot"));
  const body = hourly.hours.map((h, i) => {
    if (h.start > now) return null;
    const tr = el("tr", { "data-hour": h.start });
    tr.append(el("th", {}, mixed ? `${h.label} (${h.utc_offset})` : h.label),
              ...cols.map(c => el("td", {}, num(c.counts[i]))),
              el("td", { class: "row-total" }, num(cols.reduce((a, c) => a + c.counts[i], 0))));
    return tr;
  }).filter(Boolean);
  const sum = el("tr", { class: "sum" });
  sum.append(el("th", {}, "total"), ...cols.map(c => el("td", {}, num(c.total))),
             el("td", { "data-hourly-total": "" }, num(cols.reduce((a, c) => a + c.total, 0))));
  const table = $(".hourly-table", card);
  table.replaceChildren(el("thead"), el("tbody"));
  $("thead", table).append(head1, head2);
  $("tbody", table).append(...body, sum);
  table.dataset.day = hourly.day;
  $(".hourly-day", card).textContent = `${hourly.day} (${hourly.timezone})`;
  $(".hourly-empty", card).hidden = cols.length > 0;
}
