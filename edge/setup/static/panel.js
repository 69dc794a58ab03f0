// edge-counter setup page, the side panel: the cards of lines, zones and the region of
// interest, the save and its errors (each next to its line, with the dotted path), and the
// live picture and counts polled from the device.
"use strict";

const REFRESH_MS = 1000;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") e.textContent = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

function problemsFor(section, i) {
  return S.problems.filter((p) => p.section === section && (i === undefined || p.index === i));
}

const isRoiProblem = (p) => p.path.startsWith("detector.roi_xyxy");

function errorList(problems) {
  const box = el("div", { class: "error-list" });
  for (const p of problems) box.append(el("p", { class: "error" }, el("code", { text: p.path }), ` ${p.message}`));
  return box;
}

function field(labelText, aria, value, onInput, placeholder) {
  const input = el("input", { "aria-label": aria, value: value ?? "", placeholder: placeholder || "" });
  input.addEventListener("input", () => { onInput(input.value); changed(); draw(); });
  return el("label", {}, labelText, input);
}

function select(sel) { S.sel = sel; renderCards(); draw(); }

function countsText(ln) {
  const c = S.counts[ln.name];
  return c ? `counted since saved: ${ln.in_name || "in"} ${c.in} · ${ln.out_name || "out"} ${c.out}` : "not saved yet: no counts";
}

function lineCard(ln, i) {
  const probs = problemsFor("lines", i);
  const card = el("div", { class: "card" + (S.sel && S.sel.kind === "line" && S.sel.i === i ? " selected" : "") + (probs.length ? " bad" : ""),
                           "data-line": String(i), onclick: (ev) => { if (ev.target.tagName !== "INPUT" && ev.target.tagName !== "BUTTON") select({ kind: "line", i }); } });
  const n = i + 1;
  card.append(
    field("name", `line ${n} name`, ln.name, (v) => { ln.name = v; }, "letters, digits, _ . -"),
    field("in means", `line ${n} in name`, ln.in_name, (v) => { ln.in_name = v; }, "e.g. to Georgia"),
    field("out means", `line ${n} out name`, ln.out_name, (v) => { ln.out_name = v; }, "e.g. to Russia"),
    el("div", { class: "coords", text: `A ${fmt(ln.a)} → B ${fmt(ln.b)}` }),
    el("div", { class: "counts", "data-counts": String(i), text: countsText(ln) }),
    el("div", { class: "row" },
      el("button", { text: "Reverse arrow", title: "swap A and B: in becomes out", onclick: () => { [ln.a, ln.b] = [ln.b, ln.a]; changed(); renderCards(); draw(); } }),
      el("button", { class: "danger", text: "Delete", "aria-label": `delete line ${n}`, onclick: () => { S.sel = { kind: "line", i }; removeSelected(); } })),
    errorList(probs));
  return card;
}

function zoneCard(z, i) {
  const probs = problemsFor("zones", i);
  const card = el("div", { class: "card" + (S.sel && S.sel.kind === "zone" && S.sel.i === i ? " selected" : "") + (probs.length ? " bad" : "") });
  card.append(
    field("name", `zone ${i + 1} name`, z.name, (v) => { z.name = v; }, "letters, digits, _ . -"),
    el("div", { class: "coords", text: `${z.polygon.length} corners: ${z.polygon.map(fmt).join(" ")}` }),
    el("div", { class: "row" }, el("button", { class: "danger", text: "Delete", onclick: () => { S.sel = { kind: "zone", i }; removeSelected(); } })),
    errorList(probs));
  return card;
}

function renderCards() {
  const lines = $("lines"), zones = $("zones"), roi = $("roi");
  lines.replaceChildren(...S.lines.map(lineCard));
  if (!S.lines.length) lines.append(el("p", { class: "note", text: "No line yet: choose Draw line, then drag on the picture." }));
  zones.replaceChildren(...S.zones.map(zoneCard));
  if (!S.zones.length) zones.append(el("p", { class: "note", text: "No zone (optional: queue length and waiting time)." }));
  roi.replaceChildren();
  if (S.roi) {
    roi.append(el("div", { class: "card" }, el("div", { class: "coords", text: `x ${S.roi[0]}–${S.roi[2]}, y ${S.roi[1]}–${S.roi[3]}` }),
      el("div", { class: "row" }, el("button", { class: "danger", text: "Clear", onclick: () => { S.sel = { kind: "roi" }; removeSelected(); } })),
      errorList(S.problems.filter(isRoiProblem))));
  } else roi.append(el("p", { class: "note", text: "Whole picture (optional: drag one to skip sky or far traffic)." }));
  const rest = S.problems.filter((p) => !isRoiProblem(p) && !(["lines", "zones"].includes(p.section) && p.index !== null));
  $("errors").replaceChildren(errorList(rest));
}

async function saveConfig() {
  const body = JSON.stringify({ lines: S.lines, zones: S.zones, roi: S.roi });
  let res, data;
  try {
    res = await fetch("/api/config", { method: "POST", headers: { "Content-Type": "application/json" }, body });
    data = await res.json();
  } catch (err) { message(`Not saved: ${err}`); return; }
  if (res.ok) {
    S.problems = []; S.dirty = false; S.counts = {};
    $("dirty").textContent = "";
    $("saved").replaceChildren(`Saved to ${data.file}` + (data.backup ? ` (the previous file is kept as ${data.backup}). ` : ". "),
      "The live view now counts on the saved lines. ", el("br"), el("b", { text: "Service: " }), data.service);
    message("");
  } else {
    S.problems = data.problems || [{ path: "<root>", message: data.error || res.statusText, section: "", index: null }];
    message(`Not saved: ${S.problems.length} problem(s); see the messages next to the lines and below.`);
  }
  renderCards(); draw();
}

function showLive(state) {
  $("live").textContent = state.error ? `Live view: ${state.error}` : (state.seq ? `Live: ${state.boxes.length} object(s) tracked` : "Live: waiting for the first picture…");
  S.counts = state.counts || {};
  document.querySelectorAll("[data-counts]").forEach((e) => { const ln = S.lines[Number(e.dataset.counts)]; if (ln) e.textContent = countsText(ln); });
  $("recent").replaceChildren(...(state.recent || []).map((c) => el("li", { text: `${c.line} ${c.direction} ${c.class} (${c.age_s} s ago)` })));
}

async function poll() {
  try {
    const res = await fetch("/api/state");
    const state = await res.json();
    showLive(state);
    if (state.seq && state.seq !== S.seq) {
      const im = new Image();
      im.onload = () => { S.img = im; S.boxes = state.boxes; S.seq = state.seq; draw(); };
      im.src = `/api/frame.jpg?seq=${state.seq}`;
    }
  } catch (err) { $("live").textContent = `Live view unreachable: ${err}`; }
  setTimeout(poll, REFRESH_MS);
}

async function init() {
  const res = await fetch("/api/config");
  const cfg = await res.json();
  Object.assign(S, { w: cfg.width, h: cfg.height, lines: cfg.lines, zones: cfg.zones, roi: cfg.roi });
  $("file").textContent = `${cfg.file}${cfg.exists ? "" : " (new: written on save)"} · picture ${cfg.width}×${cfg.height}`;
  setMode("select"); renderCards(); draw(); poll();
}

$("save").addEventListener("click", saveConfig);
window.addEventListener("beforeunload", (ev) => { if (S.dirty) ev.preventDefault(); });
init();
