// cloister's web page: the agent's own view of the cluster, live.
//
// Everything comes from the control API with the token (docs/ui.md):
// /v1/status and /v1/members once a second, /v1/ring when membership
// changes, and /v1/events as a stream, which is what makes a change show
// within a second.  Names, addresses and tags come off the network: they
// only ever reach the page as text (textContent, setAttribute), never as
// markup.  Rendering is keyed by member name and batched per animation
// frame, so a thousand members cost a thousand rows once, then only the
// cells that change.
"use strict";

const TOKEN_KEY = "cloister.token";
const POLL_MS = 1000;
const RING_MS = 5000;
const EVENTS_MAX = 60;
const STATES = ["down", "assembling", "rehashing", "ready", "stopping", "stopped"];
const SHOWN = { alive: "alive", suspect: "suspect", dead: "failed", left: "left" };

const $ = (id) => document.getElementById(id);
const state = {
  token: null,
  status: null,
  members: new Map(), // name -> member, as /v1/members gives it
  rows: new Map(),    // name -> <tr>
  rings: [],          // from /v1/ring
  ring: "",           // the ring shown
  highlight: null,
  events: [],
  dirty: { members: true, status: true, ring: true, events: true },
  frame: 0,
  filter: "",
  stats: { firstPaintMs: null, renders: 0, lastRenderMs: 0, eventToPaintMs: [] },
  pendingEventTimes: [],
};
// For tests and benchmarks (tests/integration/test_ui.sh, bench/ui_bench.py).
window.cloisterStats = state.stats;

// ------------------------------------------------------------------ token

function takeToken() {
  const m = /(?:^|&)token=([^&]+)/.exec(location.hash.slice(1));
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    // Out of the address bar, the history and any copy of the URL.
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function askToken(why) {
  document.body.dataset.state = "login";
  $("login").hidden = false;
  $("main").hidden = true;
  $("login-error").textContent = why || "";
}

$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const t = $("token").value.trim();
  if (!t) return;
  sessionStorage.setItem(TOKEN_KEY, t);
  $("token").value = "";
  start();
});

async function api(path) {
  const r = await fetch(path, {
    headers: { Authorization: "Bearer " + state.token },
    cache: "no-store",
    credentials: "omit",
  });
  if (r.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    throw new AuthError("the agent refused this token");
  }
  if (!r.ok) throw new Error(path + ": " + r.status);
  return r.json();
}

class AuthError extends Error {}

// ------------------------------------------------------------------ data

async function loadStatus() {
  state.status = await api("/v1/status");
  state.dirty.status = true;
}

async function loadMembers() {
  const list = await api("/v1/members");
  const seen = new Set();
  for (const m of list) {
    seen.add(m.name);
    const old = state.members.get(m.name);
    if (!old || old.status !== m.status || old.incarnation !== m.incarnation ||
        old.addr !== m.addr || old.rtt_us !== m.rtt_us || JSON.stringify(old.tags) !== JSON.stringify(m.tags))
      state.dirty.members = true;
    state.members.set(m.name, m);
  }
  for (const name of [...state.members.keys()])
    if (!seen.has(name)) {
      state.members.delete(name);
      state.dirty.members = true;
    }
}

async function loadRing() {
  const r = await api("/v1/ring");
  state.rings = r.rings || [];
  if (!state.rings.some((x) => x.ring === state.ring) && state.rings.length)
    state.ring = state.rings[0].ring;
  state.dirty.ring = true;
}

let ringTimer = 0;
function ringSoon() {
  clearTimeout(ringTimer);
  ringTimer = setTimeout(() => loadRing().then(schedule).catch(() => {}), 150);
}

// /v1/events: newline-delimited JSON over a fetch stream (EventSource
// cannot send the Authorization header).
async function stream() {
  for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
    try {
      const r = await fetch("/v1/events", {
        headers: { Authorization: "Bearer " + state.token },
        cache: "no-store",
        credentials: "omit",
      });
      if (r.status === 401) throw new AuthError("the agent refused this token");
      if (!r.ok || !r.body) throw new Error("events: " + r.status);
      setLive(true);
      pushEvent("stream", "connected", "");
      state.pendingEventTimes.push(performance.now());
      schedule();
      delay = 250;
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.trim()) onEvent(JSON.parse(line));
        }
      }
    } catch (e) {
      if (e instanceof AuthError) return askToken(e.message);
    }
    setLive(false);
    await new Promise((res) => setTimeout(res, delay));
  }
}

function setLive(on) {
  const el = $("live");
  el.dataset.live = on ? "1" : "0";
  el.textContent = on ? "● live" : "○ reconnecting";
}

function onEvent(ev) {
  const now = performance.now();
  switch (ev.type) {
    case "member": {
      const m = state.members.get(ev.name) || { name: ev.name, tags: {}, start_ms: 0 };
      m.status = ev.status;
      if (ev.addr) m.addr = ev.addr;
      if (ev.incarnation !== undefined) m.incarnation = ev.incarnation;
      if (ev.tags) m.tags = ev.tags;
      if (ev.event === "reaped") state.members.delete(ev.name);
      else state.members.set(ev.name, m);
      state.dirty.members = true;
      pushEvent(ev.event, ev.name, ev.event === "updated" ? ev.status : ev.addr);
      ringSoon();
      loadStatus().then(schedule).catch(() => {});
      break;
    }
    case "state":
      if (state.status) {
        state.status.status = ev.to;
        state.status.alive = ev.alive;
        state.status.sentry = ev.sentry || null;
      }
      state.dirty.status = true;
      pushEvent("status", ev.from + " → " + ev.to, "alive " + ev.alive);
      break;
    case "status":
      if (state.status) {
        state.status.status = ev.status;
        state.status.alive = ev.alive;
        state.status.sentry = ev.sentry || null;
        state.dirty.status = true;
      }
      break;
    case "sentry":
      if (state.status) state.status.sentry = ev.sentry || null;
      state.dirty.status = true;
      state.dirty.members = true;
      pushEvent("sentry", ev.sentry || "none", "");
      break;
    case "dropped":
      pushEvent("dropped", ev.count + " events", "the page fell behind");
      refresh();
      break;
    default:
      return; // messages and calls are not this page's business
  }
  state.pendingEventTimes.push(now);
  schedule();
}

function pushEvent(kind, what, detail) {
  state.events.unshift({ t: new Date(), kind, what: String(what || ""), detail: String(detail || "") });
  if (state.events.length > EVENTS_MAX) state.events.length = EVENTS_MAX;
  state.dirty.events = true;
}

// ------------------------------------------------------------------ rendering

function schedule() {
  if (!state.frame) state.frame = requestAnimationFrame(render);
}

function render() {
  state.frame = 0;
  const t0 = performance.now();
  if (state.dirty.status) renderStatus();
  if (state.dirty.members) renderMembers();
  if (state.dirty.ring) renderRing();
  if (state.dirty.events) renderEvents();
  state.dirty = { members: false, status: false, ring: false, events: false };
  const t1 = performance.now();
  state.stats.renders++;
  state.stats.lastRenderMs = t1 - t0;
  for (const t of state.pendingEventTimes) state.stats.eventToPaintMs.push(t1 - t);
  if (state.stats.eventToPaintMs.length > 1000) state.stats.eventToPaintMs.splice(0, 500);
  state.pendingEventTimes = [];
  if (state.stats.firstPaintMs === null && state.status && state.members.size) {
    state.stats.firstPaintMs = t1;
    document.body.dataset.state = "ready";
  }
}

function text(el, s) {
  s = s === null || s === undefined ? "" : String(s);
  if (el.textContent !== s) el.textContent = s;
}

function renderStatus() {
  const s = state.status;
  if (!s) return;
  text($("node"), s.node);
  const st = $("status");
  text(st, s.status);
  st.dataset.status = s.status;
  text($("alive"), s.alive);
  text($("consensus"), s.consensus);
  text($("sentry"), s.sentry || "none");
  $("sentry").dataset.sentry = s.sentry || "";
  const h = $("health");
  text(h, s.health === undefined ? "–" : s.health + " / " + s.health_max);
  h.dataset.bad = s.health > 0 ? "1" : "0";
  h.title = "Lifeguard local health of this node: 0 is healthy; each step stretches its probe timeouts";
  renderMachine(s);
  document.title = s.status + " · " + s.node + " · cloister";
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, parent) {
  const el = document.createElementNS(SVG, tag);
  for (const k in attrs) el.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(el);
  return el;
}

// The status machine of docs/ui.md, the current state lit.
const MACHINE = {
  nodes: { down: [55, 40], assembling: [170, 40], rehashing: [290, 40], ready: [420, 40],
           stopping: [290, 115], stopped: [420, 115] },
  edges: [["down", "assembling"], ["assembling", "rehashing"], ["rehashing", "ready"],
          ["ready", "rehashing", true], ["rehashing", "stopping", false, true], ["stopping", "stopped"]],
};

function renderMachine(s) {
  const root = $("machine");
  if (!root.firstChild) {
    const defs = svg("defs", {}, root);
    const mk = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5,
                               markerWidth: 6, markerHeight: 6, orient: "auto-start-reverse" }, defs);
    svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }, mk);
    for (const [a, b, back, any] of MACHINE.edges) {
      const [x1, y1] = MACHINE.nodes[a], [x2, y2] = MACHINE.nodes[b];
      let d;
      if (back) d = `M${x1 - 10},${y1 - 16} C${x1 - 40},${y1 - 42} ${x2 + 40},${y2 - 42} ${x2 + 10},${y2 - 16}`;
      else if (y1 === y2) d = `M${x1 + 48},${y1} L${x2 - 48},${y2}`;
      else d = `M${x1},${y1 + 15} L${x2},${y2 - 15}`;
      svg("path", { d, class: any ? "edge any" : "edge", "marker-end": "url(#arrow)" }, root);
    }
    const any = svg("text", { x: 10, y: 112, class: "edge-label" }, root);
    any.textContent = "from any state:";
    const any2 = svg("text", { x: 10, y: 126, class: "edge-label" }, root);
    any2.textContent = "leave → stopping";
    for (const name of STATES) {
      const [x, y] = MACHINE.nodes[name];
      const g = svg("g", { class: "state", "data-state": name }, root);
      svg("rect", { x: x - 48, y: y - 15, width: 96, height: 30, rx: 15 }, g);
      const t = svg("text", { x, y: y + 5 }, g);
      t.textContent = name;
    }
  }
  for (const g of root.querySelectorAll("g.state"))
    g.classList.toggle("on", g.dataset.state === s.status);
  const need = s.consensus;
  text($("machine-note"), `ready needs ${need} live member${need == 1 ? "" : "s"} heard from directly; ` +
       `this node sees ${s.alive}.` + (s.superseded_by ? ` Superseded by ${s.superseded_by}.` : ""));
}

function age(ms) {
  if (!ms) return "";
  let s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 90) return Math.round(s) + " s";
  if (s < 5400) return Math.round(s / 60) + " min";
  if (s < 172800) return Math.round(s / 3600) + " h";
  return Math.round(s / 86400) + " d";
}

const ORDER = { alive: 2, suspect: 0, dead: 1, left: 3 };

function renderMembers() {
  const tbody = $("members").tBodies[0];
  const sentry = state.status && state.status.sentry;
  const f = state.filter;
  const list = [...state.members.values()].sort((a, b) =>
    (ORDER[a.status] ?? 9) - (ORDER[b.status] ?? 9) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const counts = { alive: 0, suspect: 0, dead: 0, left: 0 };
  let prev = null;
  for (const m of list) {
    counts[m.status] = (counts[m.status] || 0) + 1;
    let tr = state.rows.get(m.name);
    if (!tr) {
      tr = document.createElement("tr");
      for (let i = 0; i < 7; i++) tr.appendChild(document.createElement("td"));
      tr.addEventListener("click", () => {
        state.highlight = state.highlight === m.name ? null : m.name;
        state.dirty.ring = true;
        schedule();
      });
      state.rows.set(m.name, tr);
    }
    const c = tr.cells;
    tr.dataset.name = m.name;
    tr.dataset.status = m.status;
    tr.classList.toggle("sentry", m.name === sentry);
    tr.classList.toggle("self", !!(state.status && m.name === state.status.node));
    tr.hidden = !!f && !(m.name.includes(f) || (m.addr || "").includes(f) || m.status.includes(f));
    text(c[0], m.name + (m.name === sentry ? " ★" : ""));
    c[0].title = m.name === sentry ? "sentry" : "";
    text(c[1], m.addr);
    text(c[2], SHOWN[m.status] || m.status);
    c[2].className = "st st-" + m.status;
    text(c[3], m.incarnation);
    text(c[4], age(m.start_ms));
    renderRtt(c[5], m.rtt_us === null || m.rtt_us === undefined ? null : m.rtt_us / 1000);
    text(c[6], Object.entries(m.tags || {}).map(([k, v]) => k + "=" + v).join(" "));
    // Keep the DOM in the sorted order, moving only rows out of place.
    const want = prev ? prev.nextSibling : tbody.firstChild;
    if (want !== tr) tbody.insertBefore(tr, want);
    prev = tr;
  }
  for (const [name, tr] of state.rows)
    if (!state.members.has(name)) {
      tr.remove();
      state.rows.delete(name);
    }
  text($("counts"), `${counts.alive} alive · ${counts.suspect} suspect · ${counts.dead} failed · ${counts.left} left`);
}

function renderRtt(td, ms) {
  if (ms === null || ms === undefined) {
    text(td, "");
    return;
  }
  let bar = td.firstChild;
  if (!bar || bar.nodeType !== 1) {
    td.textContent = "";
    bar = document.createElement("span");
    bar.className = "bar";
    td.appendChild(bar);
    td.appendChild(document.createElement("span"));
  }
  // A log scale from 0.05 ms to 500 ms (the probe timeout).
  const w = Math.max(2, Math.min(60, 15 * Math.log10(Math.max(ms, 0.05) / 0.05)));
  bar.style.width = w.toFixed(0) + "px";
  bar.dataset.slow = ms > 100 ? "1" : "0";
  text(td.lastChild, ms < 1 ? ms.toFixed(2) + " ms" : ms < 100 ? ms.toFixed(1) + " ms" : Math.round(ms) + " ms");
}

// Colours by each member's place among all names, a golden angle apart:
// neighbours in that order never look alike, and a colour only moves
// when membership does.
let hues = new Map();
function assignHues() {
  const names = [...state.members.keys()].sort();
  hues = new Map(names.map((n, i) => [n, (i * 137.508) % 360]));
}
function hue(name) {
  if (!hues.has(name)) assignHues();
  return hues.get(name) ?? 0;
}

function renderRing() {
  const sel = $("ring-select");
  const names = state.rings.map((r) => r.ring);
  if ([...sel.options].map((o) => o.value).join("\u0000") !== names.join("\u0000")) {
    sel.textContent = "";
    for (const n of names) {
      const o = document.createElement("option");
      o.value = n;
      o.textContent = n === "" ? "default" : n;
      sel.appendChild(o);
    }
  }
  sel.value = state.ring;
  const root = $("ring");
  root.textContent = "";
  assignHues();
  const r = state.rings.find((x) => x.ring === state.ring);
  root.dataset.members = r ? r.owners.length : 0;
  root.dataset.arcs = r ? r.arcs.length : 0;
  const legend = $("ring-legend");
  legend.textContent = "";
  if (!r) {
    text($("ring-note"), "no ring yet");
    return;
  }
  const R = 100, r0 = 72;
  svg("circle", { r: (R + r0) / 2, class: "ring-track", "stroke-width": R - r0 }, root);
  const sentry = state.status && state.status.sentry;
  const scale = r.scale || 1;
  for (const [from, to, k] of r.arcs) {
    const owner = r.owners[k];
    const path = svg("path", { d: arc(from / scale, to / scale, r0, R), fill: `hsl(${hue(owner)} 62% 55%)`, class: "arc" }, root);
    if (state.highlight && owner !== state.highlight) path.setAttribute("opacity", "0.18");
    const t = document.createElementNS(SVG, "title");
    t.textContent = owner;
    path.appendChild(t);
  }
  const c = svg("text", { x: 0, y: -6, class: "ring-center" }, root);
  c.textContent = r.owners.length + (r.owners.length === 1 ? " member" : " members");
  const c2 = svg("text", { x: 0, y: 12, class: "ring-center small" }, root);
  c2.textContent = r.checksum;
  text($("ring-note"), (r.exact ? "exact" : `sampled at ${r.arcs.length} arcs`) +
       ` · ${r.points} points · checksum ${r.checksum}`);
  const order = r.owners.map((o, i) => [o, r.share[i] / scale]).sort((a, b) => b[1] - a[1]);
  for (const [o, share] of order.slice(0, 12)) {
    const li = document.createElement("li");
    const sw = document.createElement("span");
    sw.className = "swatch";
    sw.style.background = `hsl(${hue(o)} 62% 55%)`;
    li.appendChild(sw);
    li.appendChild(document.createTextNode(`${o}${o === sentry ? " ★" : ""} ${(share * 100).toFixed(1)}%`));
    legend.appendChild(li);
  }
  if (order.length > 12) {
    const li = document.createElement("li");
    li.textContent = `… and ${order.length - 12} more`;
    legend.appendChild(li);
  }
}

function arc(a, b, r0, r1) {
  // Fractions of the circle, clockwise from the top.
  const A = a * 2 * Math.PI - Math.PI / 2, B = b * 2 * Math.PI - Math.PI / 2;
  const large = b - a > 0.5 ? 1 : 0;
  const p = (r, t) => `${(r * Math.cos(t)).toFixed(2)},${(r * Math.sin(t)).toFixed(2)}`;
  if (b - a >= 0.9999) // a whole circle: two halves
    return `M${p(r1, A)} A${r1},${r1} 0 1 1 ${p(r1, A + Math.PI)} A${r1},${r1} 0 1 1 ${p(r1, A)} ` +
           `M${p(r0, A)} A${r0},${r0} 0 1 0 ${p(r0, A + Math.PI)} A${r0},${r0} 0 1 0 ${p(r0, A)} z`;
  return `M${p(r1, A)} A${r1},${r1} 0 ${large} 1 ${p(r1, B)} L${p(r0, B)} A${r0},${r0} 0 ${large} 0 ${p(r0, A)} z`;
}

function renderEvents() {
  const ol = $("events");
  ol.textContent = "";
  for (const e of state.events) {
    const li = document.createElement("li");
    li.dataset.kind = e.kind;
    const t = document.createElement("time");
    t.textContent = e.t.toLocaleTimeString();
    const k = document.createElement("b");
    k.textContent = e.kind;
    li.append(t, " ", k, " ", e.what, e.detail ? " · " + e.detail : "");
    ol.appendChild(li);
  }
}

$("ring-select").addEventListener("change", (e) => {
  state.ring = e.target.value;
  state.dirty.ring = true;
  schedule();
});
$("filter").addEventListener("input", (e) => {
  state.filter = e.target.value.trim();
  state.dirty.members = true;
  schedule();
});

// ------------------------------------------------------------------ main

async function refresh() {
  await Promise.all([loadStatus(), loadMembers()]);
  schedule();
}

let polling = false;
async function poll() {
  if (polling) return;
  polling = true;
  let ticks = 0;
  for (;;) {
    await new Promise((res) => setTimeout(res, POLL_MS));
    try {
      await refresh();
      if (++ticks % (RING_MS / POLL_MS) === 0) await loadRing();
      schedule();
    } catch (e) {
      if (e instanceof AuthError) {
        polling = false;
        return askToken(e.message);
      }
    }
  }
}

async function start() {
  state.token = takeToken();
  if (!state.token) return askToken("");
  try {
    await Promise.all([loadStatus(), loadMembers(), loadRing()]);
  } catch (e) {
    return askToken(e instanceof AuthError ? e.message : "cannot reach the agent: " + e.message);
  }
  $("login").hidden = true;
  $("main").hidden = false;
  schedule();
  stream();
  poll();
  // Ages move on their own.
  setInterval(() => { state.dirty.members = true; schedule(); }, 10000);
}

start();
