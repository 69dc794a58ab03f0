// edge-counter setup page: draw counting lines, zones and a region of interest on the camera's
// picture, watch the detections and counts, save the config. Vanilla JS on a canvas; every
// coordinate in S is in picture pixels (x right, y down), as in the TOML config.
"use strict";

const M = 40; // grey margin around the picture, in picture pixels (points there are refused)
const S = {
  w: 640, h: 360, lines: [], zones: [], roi: null, mode: "select", temp: null, sel: null,
  drag: null, img: null, boxes: [], counts: {}, seq: 0, dirty: false, problems: [],
};
const $ = (id) => document.getElementById(id);
const canvas = $("canvas");
const ctx = canvas.getContext("2d");

// ---- geometry -------------------------------------------------------------------------------
const r1 = (v) => Math.round(v * 10) / 10;
const inside = (p) => p[0] >= 0 && p[1] >= 0 && p[0] <= S.w && p[1] <= S.h;
const dist = (p, q) => Math.hypot(p[0] - q[0], p[1] - q[1]);
const fmt = (p) => `(${Math.round(p[0])}, ${Math.round(p[1])})`;
const scale = () => Math.max(1, S.w / 800);

function segDist(p, a, b) {
  const dx = b[0] - a[0], dy = b[1] - a[1], L2 = dx * dx + dy * dy || 1;
  const t = Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / L2));
  return dist(p, [a[0] + t * dx, a[1] + t * dy]);
}

function inPolygon(p, poly) {
  let hit = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i], [xj, yj] = poly[j];
    if ((yi > p[1]) !== (yj > p[1]) && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

function toPicture(ev) {
  const r = canvas.getBoundingClientRect();
  return [(ev.clientX - r.left) * (canvas.width / r.width) - M,
          (ev.clientY - r.top) * (canvas.height / r.height) - M];
}

function outsideText(what, label, p) {
  return `${what} refused: ${label} ${fmt(p)} lies outside the ${S.w}×${S.h} picture. ` +
         "Put every point on the picture.";
}

function freeName(prefix, items) {
  const used = new Set(items.map((it) => it.name));
  for (let n = 1; ; n++) if (!used.has(prefix + n)) return prefix + n;
}

// ---- messages and state ---------------------------------------------------------------------
function message(text) { $("message").textContent = text || ""; }

function changed() {
  S.dirty = true;
  $("dirty").textContent = "unsaved changes";
  $("saved").textContent = "";
}

function setMode(mode) {
  S.mode = mode; S.temp = null;
  document.querySelectorAll("button.mode").forEach((b) => b.classList.toggle("active", b.dataset.mode === mode));
  const hints = {
    select: "Drag an end point or a corner to move it; select and press Delete to remove.",
    line: "Press on the picture at A, drag to B, release.",
    zone: "Click each corner; Finish zone (or Enter) closes it.",
    roi: "Drag a rectangle: the detector looks only inside it.",
  };
  $("hint").textContent = hints[mode];
  $("finish-zone").hidden = true;
  draw();
}

// ---- drawing --------------------------------------------------------------------------------
function arrow(from, to, color, k) {
  const ang = Math.atan2(to[1] - from[1], to[0] - from[0]), hs = 9 * k;
  ctx.strokeStyle = ctx.fillStyle = color; ctx.lineWidth = 3 * k;
  ctx.beginPath(); ctx.moveTo(...from); ctx.lineTo(...to); ctx.stroke();
  ctx.beginPath(); ctx.moveTo(...to);
  ctx.lineTo(to[0] - hs * Math.cos(ang - 0.45), to[1] - hs * Math.sin(ang - 0.45));
  ctx.lineTo(to[0] - hs * Math.cos(ang + 0.45), to[1] - hs * Math.sin(ang + 0.45));
  ctx.closePath(); ctx.fill();
}

function label(text, p, color, k) {
  ctx.font = `${Math.round(13 * k)}px system-ui, sans-serif`;
  const w = ctx.measureText(text).width + 8 * k, h = 18 * k;
  const x = Math.min(Math.max(p[0] - w / 2, -M), S.w + M - w), y = Math.min(Math.max(p[1] - h / 2, -M), S.h + M - h);
  ctx.fillStyle = "rgba(0,0,0,0.65)"; ctx.fillRect(x, y, w, h);
  ctx.fillStyle = color; ctx.textBaseline = "middle"; ctx.fillText(text, x + 4 * k, y + h / 2);
}

function drawLine(ln, i, k) {
  const sel = S.sel && S.sel.kind === "line" && S.sel.i === i;
  const [a, b] = [ln.a, ln.b], len = dist(a, b) || 1;
  const n = [-(b[1] - a[1]) / len, (b[0] - a[0]) / len]; // right-hand side of A->B on screen
  const m = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2], L = 34 * k;
  ctx.strokeStyle = sel ? "#ffd400" : "#ff3b30"; ctx.lineWidth = (sel ? 4 : 3) * k;
  ctx.beginPath(); ctx.moveTo(...a); ctx.lineTo(...b); ctx.stroke();
  arrow(m, [m[0] + n[0] * L, m[1] + n[1] * L], "#34c759", k);
  label(`in: ${ln.in_name || "in"}`, [m[0] + n[0] * (L + 16 * k), m[1] + n[1] * (L + 16 * k)], "#8ef0a8", k);
  label(`out: ${ln.out_name || "out"}`, [m[0] - n[0] * 22 * k, m[1] - n[1] * 22 * k], "#ffd0cc", k);
  for (const [p, t] of [[a, "A"], [b, "B"]]) {
    ctx.fillStyle = sel ? "#ffd400" : "#fff"; ctx.beginPath(); ctx.arc(...p, 6 * k, 0, 7); ctx.fill();
    label(t === "A" ? `${ln.name} A` : "B", [p[0], p[1] - 16 * k], "#fff", k);
  }
  const c = S.counts[ln.name];
  if (c) label(`${ln.in_name || "in"} ${c.in} · ${ln.out_name || "out"} ${c.out}`, [m[0], m[1] + 18 * k], "#fff", k);
}

function drawZone(z, i, k) {
  const sel = S.sel && S.sel.kind === "zone" && S.sel.i === i, poly = z.polygon;
  ctx.fillStyle = "rgba(0,140,255,0.18)"; ctx.strokeStyle = sel ? "#ffd400" : "#1e90ff"; ctx.lineWidth = 2 * k;
  ctx.beginPath(); poly.forEach((p, j) => (j ? ctx.lineTo(...p) : ctx.moveTo(...p))); ctx.closePath();
  ctx.fill(); ctx.stroke();
  poly.forEach((p) => { ctx.fillStyle = "#fff"; ctx.beginPath(); ctx.arc(...p, 5 * k, 0, 7); ctx.fill(); });
  if (poly.length) label(z.name, poly[0], "#9fd0ff", k);
}

function drawTemp(k) {
  const t = S.temp;
  if (!t) return;
  ctx.setLineDash([6 * k, 4 * k]); ctx.strokeStyle = "#ffd400"; ctx.lineWidth = 2 * k;
  ctx.beginPath();
  if (t.kind === "line") { ctx.moveTo(...t.a); ctx.lineTo(...t.b); }
  if (t.kind === "zone") t.pts.forEach((p, j) => (j ? ctx.lineTo(...p) : ctx.moveTo(...p)));
  if (t.kind === "roi") ctx.rect(t.a[0], t.a[1], t.b[0] - t.a[0], t.b[1] - t.a[1]);
  ctx.stroke(); ctx.setLineDash([]);
  if (t.kind === "zone") t.pts.forEach((p) => { ctx.fillStyle = "#ffd400"; ctx.beginPath(); ctx.arc(...p, 5 * k, 0, 7); ctx.fill(); });
}

function draw() {
  const k = scale();
  canvas.width = S.w + 2 * M; canvas.height = S.h + 2 * M;
  ctx.setTransform(1, 0, 0, 1, M, M);
  ctx.fillStyle = "#5b6270"; ctx.fillRect(-M, -M, canvas.width, canvas.height);
  if (S.img) ctx.drawImage(S.img, 0, 0, S.w, S.h);
  else { ctx.fillStyle = "#222"; ctx.fillRect(0, 0, S.w, S.h); label("waiting for the first picture…", [S.w / 2, S.h / 2], "#fff", k); }
  if ($("show-boxes").checked) {
    for (const bx of S.boxes) {
      const [x1, y1, x2, y2] = bx.xyxy;
      ctx.strokeStyle = bx.class === "person" ? "#ff9f0a" : "#00e5ff"; ctx.lineWidth = 1.5 * k;
      ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
      ctx.font = `${Math.round(11 * k)}px system-ui, sans-serif`; ctx.fillStyle = ctx.strokeStyle;
      ctx.textBaseline = "bottom"; ctx.fillText(`${bx.class} ${bx.id}`, x1, Math.max(y1, 12 * k));
    }
  }
  if (S.roi) {
    const [x1, y1, x2, y2] = S.roi, sel = S.sel && S.sel.kind === "roi";
    ctx.setLineDash([10 * k, 6 * k]); ctx.strokeStyle = sel ? "#ffd400" : "#fff"; ctx.lineWidth = 2 * k;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1); ctx.setLineDash([]);
    label("region of interest", [x1 + 60 * k, y1 + 12 * k], "#fff", k);
  }
  S.zones.forEach((z, i) => drawZone(z, i, k));
  S.lines.forEach((ln, i) => drawLine(ln, i, k));
  drawTemp(k);
}

// ---- pointer --------------------------------------------------------------------------------
function hit(p) {
  const tol = 10 * scale();
  for (let i = S.lines.length - 1; i >= 0; i--) {
    const ln = S.lines[i];
    for (const key of ["a", "b"]) if (dist(p, ln[key]) < tol) return { kind: "line", i, key };
    if (segDist(p, ln.a, ln.b) < tol) return { kind: "line", i };
  }
  for (let i = S.zones.length - 1; i >= 0; i--) {
    const poly = S.zones[i].polygon;
    for (let j = 0; j < poly.length; j++) if (dist(p, poly[j]) < tol) return { kind: "zone", i, j };
    if (inPolygon(p, poly)) return { kind: "zone", i };
  }
  if (S.roi) {
    const [x1, y1, x2, y2] = S.roi;
    if (dist(p, [x1, y1]) < tol) return { kind: "roi", corner: 0 };
    if (dist(p, [x2, y2]) < tol) return { kind: "roi", corner: 1 };
  }
  return null;
}

function snapshotOf(h) {
  if (h.kind === "line") return JSON.stringify([S.lines[h.i].a, S.lines[h.i].b]);
  if (h.kind === "zone") return JSON.stringify(S.zones[h.i].polygon);
  return JSON.stringify(S.roi);
}

canvas.addEventListener("pointerdown", (ev) => {
  const p = toPicture(ev);
  message("");
  if (S.mode === "line" || S.mode === "roi") {
    S.temp = { kind: S.mode, a: p, b: p };
  } else if (S.mode === "zone") {
    zoneClick(p);
  } else {
    const h = hit(p);
    S.sel = h ? { kind: h.kind, i: h.i } : null;
    S.drag = h ? { ...h, from: p, before: snapshotOf(h) } : null;
    renderCards();
  }
  canvas.setPointerCapture(ev.pointerId);
  draw();
});

canvas.addEventListener("pointermove", (ev) => {
  const p = toPicture(ev);
  if (S.temp && (S.temp.kind === "line" || S.temp.kind === "roi")) { S.temp.b = p; draw(); return; }
  const d = S.drag;
  if (!d) return;
  const dx = p[0] - d.from[0], dy = p[1] - d.from[1];
  d.from = p;
  const move = (q) => [r1(q[0] + dx), r1(q[1] + dy)];
  if (d.kind === "line") {
    const ln = S.lines[d.i];
    if (d.key) ln[d.key] = [r1(p[0]), r1(p[1])]; else { ln.a = move(ln.a); ln.b = move(ln.b); }
  } else if (d.kind === "zone") {
    const z = S.zones[d.i];
    z.polygon = d.j !== undefined ? z.polygon.map((q, j) => (j === d.j ? [r1(p[0]), r1(p[1])] : q)) : z.polygon.map(move);
  } else if (d.kind === "roi") {
    const r = S.roi.slice(); r[d.corner * 2] = Math.round(p[0]); r[d.corner * 2 + 1] = Math.round(p[1]); S.roi = r;
  }
  d.moved = true;
  draw();
});

canvas.addEventListener("pointerup", () => {
  const t = S.temp, d = S.drag;
  S.drag = null;
  if (t && t.kind === "line") finishLine(t);
  else if (t && t.kind === "roi") finishRoi(t);
  else if (d && d.moved) finishDrag(d);
  draw();
});

function finishLine(t) {
  S.temp = null;
  if (dist(t.a, t.b) < 8) { message("Press at one end of the line and drag to the other end."); return; }
  for (const [lbl, p] of [["end A", t.a], ["end B", t.b]]) {
    if (!inside(p)) { message(outsideText("Line", lbl, p)); return; }
  }
  S.lines.push({ name: freeName("L", S.lines), a: [r1(t.a[0]), r1(t.a[1])], b: [r1(t.b[0]), r1(t.b[1])], in_name: "in", out_name: "out" });
  S.sel = { kind: "line", i: S.lines.length - 1 };
  changed(); setMode("select"); renderCards();
  message(`Line ${S.lines.at(-1).name} added: name its directions on the right (the green arrow is "in").`);
}

function finishRoi(t) {
  S.temp = null;
  const r = [Math.min(t.a[0], t.b[0]), Math.min(t.a[1], t.b[1]), Math.max(t.a[0], t.b[0]), Math.max(t.a[1], t.b[1])].map(Math.round);
  if (r[2] - r[0] < 16 || r[3] - r[1] < 16) { message("Drag a larger rectangle for the region of interest."); return; }
  for (const [lbl, p] of [["corner", [r[0], r[1]]], ["corner", [r[2], r[3]]]]) {
    if (!inside(p)) { message(outsideText("Region of interest", lbl, p)); return; }
  }
  S.roi = r; S.sel = { kind: "roi" };
  changed(); setMode("select"); renderCards();
}

function finishDrag(d) {
  const pts = d.kind === "line" ? [S.lines[d.i].a, S.lines[d.i].b] : d.kind === "zone" ? S.zones[d.i].polygon : [S.roi.slice(0, 2), S.roi.slice(2)];
  const bad = pts.find((p) => !inside(p));
  const what = { line: "Move", zone: "Move", roi: "Move" }[d.kind];
  if (bad) {
    const before = JSON.parse(d.before);
    if (d.kind === "line") [S.lines[d.i].a, S.lines[d.i].b] = before;
    else if (d.kind === "zone") S.zones[d.i].polygon = before;
    else S.roi = before;
    message(outsideText(what, "point", bad));
    return;
  }
  if (d.kind === "roi") S.roi = [Math.min(S.roi[0], S.roi[2]), Math.min(S.roi[1], S.roi[3]), Math.max(S.roi[0], S.roi[2]), Math.max(S.roi[1], S.roi[3])];
  changed(); renderCards();
}

function zoneClick(p) {
  if (!S.temp) S.temp = { kind: "zone", pts: [] };
  const pts = S.temp.pts;
  if (pts.length >= 3 && dist(p, pts[0]) < 10 * scale()) { finishZone(); return; }
  if (!inside(p)) { message(outsideText("Zone corner", "point", p)); return; }
  pts.push([r1(p[0]), r1(p[1])]);
  $("finish-zone").hidden = false;
  $("hint").textContent = `${pts.length} corner(s); click the first corner, press Enter or Finish zone to close it.`;
}

function finishZone() {
  const pts = S.temp && S.temp.kind === "zone" ? S.temp.pts : [];
  S.temp = null;
  $("finish-zone").hidden = true;
  if (pts.length < 3) {
    setMode(S.mode);
    message(`Zone refused: a zone needs at least 3 corners, this one has ${pts.length}.`);
    return;
  }
  S.zones.push({ name: freeName("Z", S.zones), polygon: pts });
  S.sel = { kind: "zone", i: S.zones.length - 1 };
  changed(); setMode("select"); renderCards();
}

function removeSelected() {
  const s = S.sel;
  if (!s) return;
  if (s.kind === "line") S.lines.splice(s.i, 1);
  if (s.kind === "zone") S.zones.splice(s.i, 1);
  if (s.kind === "roi") S.roi = null;
  S.sel = null; changed(); renderCards(); draw();
}

document.addEventListener("keydown", (ev) => {
  if (ev.target instanceof HTMLInputElement) return;
  if (ev.key === "Delete" || ev.key === "Backspace") removeSelected();
  else if (ev.key === "Enter" && S.temp && S.temp.kind === "zone") finishZone();
  else if (ev.key === "Escape") { S.temp = null; setMode(S.mode); }
});
document.querySelectorAll("button.mode").forEach((b) => b.addEventListener("click", () => setMode(b.dataset.mode)));
$("finish-zone").addEventListener("click", finishZone);
$("show-boxes").addEventListener("change", draw);
window.SETUP = S; // for the curious (and the tests)
