// Collector dashboard: vanilla JS and hand-drawn SVG, no libraries, works offline.
// Reads only the public JSON API (/api/v1/...); refreshes every REFRESH_MS.
"use strict";

const REFRESH_MS = 15000;
const SERIES = ["in-vehicle", "in-pedestrian", "out-vehicle", "out-pedestrian"];
const LABELS = {
  "in-vehicle": "in · vehicles", "in-pedestrian": "in · pedestrians",
  "out-vehicle": "out · vehicles", "out-pedestrian": "out · pedestrians",
};
const SVG = "http://www.w3.org/2000/svg";
const $ = (sel, root = document) => root.querySelector(sel);

async function api(path, params = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params)) if (v !== "" && v != null) url.searchParams.set(k, v);
  const headers = {};
  const token = localStorage.getItem("collectorToken");
  if (token) headers.Authorization = `Bearer ${token}`;
  const resp = await fetch(url, { headers });
  if (resp.status === 401) {
    const t = prompt("This collector needs an API token:");
    if (t) { localStorage.setItem("collectorToken", t); return api(path, params); }
  }
  if (!resp.ok) throw new Error(`${url.pathname}: HTTP ${resp.status}`);
  return resp.json();
}

function el(tag, attrs = {}, text = "") {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4))
                                      : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== "") node.textContent = text;
  return node;
}

function fmtTime(ts, tz, withDay) {
  const opts = withDay ? { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }
                       : { hour: "2-digit", minute: "2-digit" };
  return new Intl.DateTimeFormat(undefined, { ...opts, timeZone: tz, hourCycle: "h23" })
    .format(new Date(ts * 1000));
}

function ago(ts) {
  if (!ts) return "never";
  const s = Math.max(0, Date.now() / 1000 - ts);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

function renderTotals(card, today) {
  const t = {};
  for (const row of today.rows) t[`${row.key.direction}-${row.key.category}`] = row.n;
  const get = (d, c) => t[`${d}-${c}`] || 0;
  for (const d of ["in", "out", "all"]) {
    for (const c of ["vehicle", "pedestrian", "all"]) {
      const ds = d === "all" ? ["in", "out"] : [d];
      const cs = c === "all" ? ["vehicle", "pedestrian"] : [c];
      const n = ds.reduce((a, x) => a + cs.reduce((b, y) => b + get(x, y), 0), 0);
      $(`[data-total="${d}-${c}"]`, card).textContent = n.toLocaleString();
    }
  }
  $(".since", card).textContent = `since ${fmtTime(today.since, today.timezone, true)}`;
}

function renderChart(card, counts) {
  const box = $(".chart", card);
  const W = 760, H = 240, L = 44, R = 8, T = 10, B = 26;
  const n = counts.buckets.length;
  const values = {};
  for (const s of SERIES) values[s] = new Array(n).fill(0);
  for (const s of counts.series) {
    const key = `${s.key.direction}-${s.key.category}`;
    if (values[key]) values[key] = s.counts;
  }
  const stack = counts.buckets.map((_, i) => SERIES.reduce((a, s) => a + values[s][i], 0));
  const top = Math.max(1, ...stack);
  const svg = el("svg:svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none",
                              role: "img", "aria-label": "crossings over time" });
  for (const s of SERIES) svg.setAttribute(`data-sum-${s}`, values[s].reduce((a, b) => a + b, 0));
  const y = v => T + (H - T - B) * (1 - v / top);
  for (const frac of [0, 0.5, 1]) {
    const v = Math.round(top * frac);
    svg.append(el("svg:line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "axis" }));
    svg.append(el("svg:text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, String(v)));
  }
  const slot = (W - L - R) / Math.max(1, n);
  const withDay = counts.bucket_s >= 86400 || counts.end - counts.start > 86400;
  counts.buckets.forEach((ts, i) => {
    let base = 0;
    for (const s of SERIES) {
      const v = values[s][i];
      if (v > 0) {
        const rect = el("svg:rect", { x: L + i * slot + slot * 0.1, width: Math.max(1, slot * 0.8),
                                      y: y(base + v), height: y(base) - y(base + v),
                                      fill: `var(--${s})`, "data-series": s });
        rect.append(el("svg:title", {}, `${fmtTime(ts, counts.timezone, true)} ${LABELS[s]}: ${v}`));
        svg.append(rect);
      }
      base += v;
    }
    if (i % Math.ceil(n / 8) === 0) {
      svg.append(el("svg:text", { x: L + i * slot, y: H - 8 }, fmtTime(ts, counts.timezone, withDay)));
    }
  });
  box.replaceChildren(svg);
  const legend = $(".legend", card);
  legend.replaceChildren(...SERIES.map(s => {
    const total = values[s].reduce((a, b) => a + b, 0);
    const li = el("li", { style: `--swatch: var(--${s})`, "data-legend": s },
                  `${LABELS[s]} (${total.toLocaleString()})`);
    return li;
  }));
  $(".bucket", card).textContent = `per ${counts.bucket_s >= 3600 ? counts.bucket_s / 3600 + " h"
                                                                  : counts.bucket_s / 60 + " min"}`;
}

function renderDevices(card, devices) {
  const rows = devices.map(d => {
    const tr = el("tr", { "data-device": d.device_id });
    const m = (d.telemetry && d.telemetry.metrics) || {};
    const fps = m.fps_processed ?? m.fps ?? "";
    // Reconciliation with the device's own journal (GET /api/v1/devices, "totals").
    const t = d.totals || {};
    const cells = [d.device_id, null, ago(d.last_seen), fps === "" ? "–" : Number(fps).toFixed(1),
                   m.outbox_depth ?? "–", (t.stored ?? 0).toLocaleString(),
                   t.journaled == null ? "–" : t.journaled.toLocaleString(),
                   t.dropped == null ? "–" : t.dropped.toLocaleString()];
    cells.forEach((c, i) => {
      const td = el("td");
      if (i === 1) td.append(el("span", { class: `badge ${d.health}` }, d.health));
      else td.textContent = c;
      if (i === 7) {
        td.dataset.dropped = t.dropped ?? "";
        if (t.dropped) td.classList.add("dropped");
        td.title = t.missing == null ? "no state from the device yet"
          : `missing (not arrived or lost): ${t.missing}`;
      }
      tr.append(td);
    });
    return tr;
  });
  $(".device-table tbody", card).replaceChildren(...rows);
}

// Queue figures: cross-camera queues (entry line at the back, exit line at the booth) and
// per-camera zone snapshots, one row per direction. A wait of null means "unknown" (stalled).
function fmtWait(s) {
  if (s == null) return "unknown";
  if (s < 90) return `${Math.round(s)} s`;
  return s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
}

function queueRow(key, cells, title) {
  const tr = el("tr", { "data-queue": key });
  if (title) tr.title = title;
  for (const c of cells) tr.append(el("td", {}, String(c)));
  return tr;
}

async function renderQueues(card, site) {
  const [queues, zones] = await Promise.all([
    api("/api/v1/queues", { site: site.site }),
    api("/api/v1/zones", { site: site.site }),
  ]);
  const rows = queues.map(q => queueRow(
    q.queue,
    [q.queue === q.direction ? q.queue : `${q.queue} · ${q.direction}`, Math.max(0, q.in_system), fmtWait(q.expected_wait_s),
     q.exit_rate_per_min == null ? "–" : q.exit_rate_per_min.toFixed(1),
     q.lag_s > 60 ? `${ago(q.as_of)} (device silent)` : ago(q.as_of)],
    `cameras ${q.devices.entry.device} → ${q.devices.exit.device}; Little's law over ` +
    `${q.window_s} s; ${q.entries} in, ${q.exits} out since calibration (+${q.offset})`));
  for (const z of zones) {
    const r = z.report;
    const wait = r.wait_method === "none" && r.wait_lower_bound_s != null
      ? `> ${fmtWait(r.wait_lower_bound_s)}` : fmtWait(r.wait_s);
    rows.push(queueRow(
      `${z.device_id}/${z.zone}`,
      [`${z.zone}${r.direction ? " · " + r.direction : ""} (${z.device_id})`, r.queue_length,
       `${wait} · ${r.wait_method.replace("_", " ")}`,
       r.exit_rate_per_min == null ? "–" : r.exit_rate_per_min.toFixed(1), ago(z.ts)],
      `camera zone; window ${r.window_s ?? "–"} s`));
  }
  $(".queue-table tbody", card).replaceChildren(...rows);
  $(".queue-empty", card).hidden = rows.length > 0;
}

async function renderSite(site, rangeS, bucket) {
  const id = `site-${site.site}`;
  let card = document.getElementById(id);
  if (!card) {
    card = $("#site-card").content.firstElementChild.cloneNode(true);
    card.id = id;
    card.dataset.site = site.site;
    $("#sites").append(card);
  }
  $(".site-name", card).textContent = site.name || site.site;
  $(".tz", card).textContent = site.timezone;
  const now = Math.floor(Date.now() / 1000);
  const [today, counts, devices] = await Promise.all([
    api("/api/v1/today", { site: site.site }),
    api("/api/v1/counts", { site: site.site, bucket, start: now - rangeS, end: now }),
    api("/api/v1/devices", { site: site.site }),
  ]);
  renderTotals(card, today);
  renderChart(card, counts);
  renderDevices(card, devices.devices);
  await renderQueues(card, site);
}

async function refresh() {
  const status = $("#updated");
  try {
    const sites = await api("/api/v1/sites");
    const select = $("#site");
    const chosen = select.value;
    const known = new Set([...select.options].map(o => o.value));
    for (const s of sites) if (!known.has(s.site)) select.append(el("option", { value: s.site }, s.name || s.site));
    const [rangeS, bucket] = $("#range").value.split(":");
    const shown = sites.filter(s => !chosen || s.site === chosen);
    for (const card of document.querySelectorAll("#sites > .site")) {
      if (!shown.some(s => `site-${s.site}` === card.id)) card.remove();
    }
    if (!shown.length) $("#sites").replaceChildren(el("p", { class: "muted" }, "No data yet."));
    else $("#sites > p")?.remove();
    await Promise.all(shown.map(s => renderSite(s, Number(rangeS), bucket)));
    status.textContent = `updated ${new Date().toLocaleTimeString()}`;
    status.className = "muted";
    document.body.dataset.loaded = "true";
  } catch (err) {
    status.textContent = `update failed: ${err.message}`;
    status.className = "error";
  }
}

$("#site").addEventListener("change", refresh);
$("#range").addEventListener("change", refresh);
refresh();
setInterval(refresh, REFRESH_MS);
