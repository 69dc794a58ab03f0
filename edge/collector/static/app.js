// Collector dashboard: vanilla JS modules and hand-drawn SVG, no libraries, works offline.
// Reads only the public JSON API (/api/v1/...); refreshes every REFRESH_MS. Every time shown
// is the SITE's local time, 24-hour (fmt.js).
"use strict";

import { chartData, drawChart } from "./chart.js";
import { $, el, siteTime } from "./fmt.js";
import { renderDevices, renderHourly, renderQueues, renderToday } from "./panels.js";

const REFRESH_MS = 15000;

function apiUrl(path, params = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params)) if (v !== "" && v != null) url.searchParams.set(k, v);
  return url;
}

function authHeaders() {
  const token = localStorage.getItem("collectorToken");
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function fetchApi(path, params = {}) {
  const url = apiUrl(path, params);
  const resp = await fetch(url, { headers: authHeaders() });
  if (resp.status === 401) {
    const t = prompt("This collector needs an API token:");
    if (t) { localStorage.setItem("collectorToken", t); return fetchApi(path, params); }
  }
  if (!resp.ok) throw new Error(`${url.pathname}: HTTP ${resp.status}`);
  return resp;
}

const api = async (path, params) => (await fetchApi(path, params)).json();

/** The chart's window and the fine bucket asked of the API (summed into bars in chart.js). */
function chartWindow(range, todaySince) {
  const end = Math.floor(Date.now() / 1000);
  const start = range === "today" ? Math.min(todaySince, end - 60) : end - Number(range);
  const span = end - start;
  const bucket = span <= 90000 ? "1m" : span <= 8 * 86400 ? "15m" : "1h";
  return { start, end, bucket };
}

function card(site) {
  const id = `site-${site.site}`;
  let node = document.getElementById(id);
  if (!node) {
    node = $("#site-card").content.firstElementChild.cloneNode(true);
    node.id = id;
    node.dataset.site = site.site;
    node.dataset.day = "today";
    for (const b of node.querySelectorAll(".hourly-controls button")) {
      b.addEventListener("click", () => { node.dataset.day = b.dataset.day; loadHourly(node); });
    }
    $(".csv", node).addEventListener("click", downloadWithToken);
    new ResizeObserver(() => {
      const w = $(".chart", node).clientWidth;
      if (node.chartData && w !== node.chartWidth) { node.chartWidth = w; drawChart(node, node.chartData); }
    }).observe($(".chart", node));
    $("#sites").append(node);
  }
  node.dataset.tz = site.timezone;
  $(".site-name", node).textContent = site.name || site.site;
  $(".tz", node).textContent = site.timezone;
  return node;
}

/** The CSV link works as a plain download; with an API token it is fetched with the header. */
async function downloadWithToken(event) {
  if (!localStorage.getItem("collectorToken")) return;
  event.preventDefault();
  const link = event.currentTarget;
  const blob = await (await fetchApi(link.href)).blob();
  const a = el("a", { href: URL.createObjectURL(blob), download: link.getAttribute("download") });
  a.click();
  URL.revokeObjectURL(a.href);
}

async function loadHourly(node) {
  const day = node.dataset.day;
  const params = { site: node.dataset.site, day };
  for (const b of node.querySelectorAll(".hourly-controls button")) {
    b.setAttribute("aria-pressed", String(b.dataset.day === day));
  }
  const link = $(".csv", node);
  const csv = apiUrl("/api/v1/hourly.csv", params);
  link.href = csv.pathname + csv.search;
  link.setAttribute("download", `${node.dataset.site}-${day}-hourly.csv`);
  const error = $(".hourly-error", node);
  try {
    renderHourly(node, await api("/api/v1/hourly", params));
    error.hidden = true;
  } catch (err) {
    error.textContent = `hourly table unavailable: ${err.message}`;
    error.hidden = false;
  }
}

async function renderSite(site, range) {
  const node = card(site);
  const s = site.site;
  const group = "device,line,direction,class";
  const [today, devices, queues, zones] = await Promise.all([
    api("/api/v1/today", { site: s, group_by: group }),
    api("/api/v1/devices", { site: s }),
    api("/api/v1/queues", { site: s }),
    api("/api/v1/zones", { site: s }),
    loadHourly(node),
  ]);
  renderToday(node, today);
  renderDevices(node, devices.devices, site.timezone);
  renderQueues(node, queues, zones);
  const w = chartWindow(range, today.since);
  const counts = await api("/api/v1/counts", { site: s, bucket: w.bucket, start: w.start, end: w.end,
                                               group_by: "device,line,direction,category" });
  node.colours ||= new Map();
  node.chartData = chartData(counts, { ...today.labels, ...counts.labels }, w, node.colours);
  node.chartWidth = $(".chart", node).clientWidth;
  drawChart(node, node.chartData);
  node.dataset.range = range;
}

function tickClocks() {
  const now = Date.now() / 1000;
  for (const node of document.querySelectorAll("#sites > .site")) {
    $(".clock", node).textContent = siteTime(now, node.dataset.tz, "hm");
  }
}

async function refresh() {
  const status = $("#updated");
  try {
    const sites = await api("/api/v1/sites");
    const select = $("#site");
    const chosen = select.value;
    const known = new Set([...select.options].map(o => o.value));
    for (const s of sites) if (!known.has(s.site)) select.append(el("option", { value: s.site }, s.name || s.site));
    const shown = sites.filter(s => !chosen || s.site === chosen);
    for (const node of document.querySelectorAll("#sites > .site")) {
      if (!shown.some(s => `site-${s.site}` === node.id)) node.remove();
    }
    if (!shown.length) $("#sites").replaceChildren(el("p", { class: "muted" }, "No data yet."));
    else $("#sites > p")?.remove();
    await Promise.all(shown.map(s => renderSite(s, $("#range").value)));
    tickClocks();
    const zones = [...new Set(shown.map(s => s.timezone))];
    const zone = zones.length === 1 ? zones[0] : "UTC";
    status.textContent = `updated ${siteTime(Date.now() / 1000, zone, "hms")} ${zone}`;
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
setInterval(tickClocks, 10000);
