// The engineer's page. It is an OSC client like any surface: parameter
// moves go out as binary OSC frames on the WebSocket and come back as
// feedback (also the moves of every other surface); commands (save, recall,
// history, diff…) are the same OSC requests sent as JSON over HTTP POST.
"use strict";

const $ = (id) => document.getElementById(id);

const page = {
  access: "full",
  describe: null,
  params: new Map(), // address -> described parameter
  values: new Map(), // address -> value (real units)
  views: new Map(), // address -> [function(value)]
  status: null,
  layout: [],
  ws: null,
  sheetSong: "current",
  history: null, // song shown in the history table
  meters: new Map(), // address -> latest values
  meterViews: new Map(), // address -> function(values)
  metersDirty: false,
  cards: new Map(), // slot id -> card element
};

// What the page listens to on the WebSocket.
const LISTENS = [
  "/chain/*/*", "/outboard/*/*", "/monitor/*", "/meter/*/*",
  "/rackd/snapshot/saved", "/rackd/snapshot/recalled", "/rackd/recall/progress",
  "/rackd/recall/confirmed", "/rackd/print/started", "/rackd/print/progress",
  "/rackd/print/done", "/rackd/print/cancelled",
];

// ---------------------------------------------------------------- helpers

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function say(text, kind) {
  const m = $("message");
  m.textContent = text;
  m.className = "message " + (kind || "");
}

// An OSC request over HTTP: the replies, or an Error with the daemon's words.
async function api(address, args) {
  const r = await fetch(address, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(args || []),
  });
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new Error((body && body.error && body.error.message) || r.statusText);
  return body;
}

// The JSON document of the first reply at `address`.
function doc(replies, address) {
  const r = replies.find((x) => x.address === address);
  return r ? r.json : null;
}

function send(address, args) {
  if (page.ws && page.ws.readyState === WebSocket.OPEN) {
    page.ws.send(OSC.encode(address, args));
  } else {
    say("not connected; the move was not sent", "error");
  }
}

function changes() {
  return page.access === "full";
}

// ---------------------------------------------------------------- values

function unitText(unit) {
  return { db: "dB", dbfs: "dBFS", hz: "Hz", ms: "ms", ratio: ":1", percent: "%" }[unit] || "";
}

function format(p, v) {
  if (typeof v !== "number") return String(v);
  const digits = p.step && p.step >= 1 ? 0 : p.step && p.step >= 0.1 ? 1 : 2;
  return v.toFixed(digits);
}

// Fader travel 0..1000 <-> real value, with the parameter's taper.
function toTravel(p, v) {
  const t = p.taper === "log" && p.min > 0
    ? Math.log(v / p.min) / Math.log(p.max / p.min)
    : (v - p.min) / (p.max - p.min);
  return Math.round(Math.min(1, Math.max(0, t)) * 1000);
}

function fromTravel(p, x) {
  const t = x / 1000;
  return p.taper === "log" && p.min > 0
    ? p.min * Math.pow(p.max / p.min, t)
    : p.min + (p.max - p.min) * t;
}

function setValue(address, value) {
  page.values.set(address, value);
  for (const view of page.views.get(address) || []) view(value);
}

function view(address, fn) {
  if (!page.views.has(address)) page.views.set(address, []);
  page.views.get(address).push(fn);
  if (page.values.has(address)) fn(page.values.get(address));
}

// One control in real units for a parameter.
function control(p) {
  const a = p.address;
  const name = el("span", { class: "pname" }, p.name);
  const disabled = !changes();
  if (p.kind === "continuous") {
    const range = el("input", {
      type: "range", min: 0, max: 1000, class: "change", "data-address": a, "aria-label": p.name, disabled,
    });
    const number = el("input", {
      type: "number", min: p.min, max: p.max, step: p.step || "any", class: "change value",
      "data-address": a, "aria-label": p.name + " value", disabled,
    });
    let held = false;
    let typing = false;
    number.addEventListener("input", () => (typing = true));
    range.addEventListener("pointerdown", () => (held = true));
    range.addEventListener("pointerup", () => {
      held = false;
      const v = page.values.get(a);
      if (v !== undefined) number.value = format(p, v);
    });
    range.addEventListener("input", () => {
      const v = fromTravel(p, Number(range.value));
      number.value = format(p, v);
      send(a, [{ type: "f", value: v }]);
    });
    number.addEventListener("change", () => {
      typing = false;
      if (number.value === "") return;
      send(a, [{ type: "f", value: Number(number.value) }]);
    });
    view(a, (v) => {
      if (!held) range.value = toTravel(p, v);
      if (!typing) number.value = format(p, v);
      number.dataset.value = v;
    });
    return el("label", { class: "param" }, name, range, number, el("span", { class: "unit" }, unitText(p.unit)));
  }
  if (p.kind === "switch") {
    const box = el("input", { type: "checkbox", class: "change", "data-address": a, "aria-label": p.name, disabled });
    box.addEventListener("change", () => send(a, [{ type: "i", value: box.checked ? 1 : 0 }]));
    view(a, (v) => {
      box.checked = Number(v) !== 0;
      box.dataset.value = v;
    });
    return el("label", { class: "param switch" }, box, name);
  }
  if (p.kind === "enum" || (p.kind === "stepped" && (p.detents || p.max - p.min <= 40))) {
    const options = p.kind === "enum"
      ? p.labels.map((l) => [l, l])
      : Array.from({ length: p.max - p.min + 1 }, (_, i) => [
          String(p.min + i),
          p.detents ? p.detents[i] + (unitText(p.unit) ? " " + unitText(p.unit) : "") : String(p.min + i),
        ]);
    const select = el("select", { class: "change", "data-address": a, "aria-label": p.name, disabled },
      options.map(([v, label]) => el("option", { value: v }, label)));
    select.addEventListener("change", () =>
      send(a, [p.kind === "enum" ? { type: "s", value: select.value } : { type: "i", value: Number(select.value) }]));
    view(a, (v) => {
      select.value = String(v);
      select.dataset.value = v;
    });
    return el("label", { class: "param" }, name, select);
  }
  const number = el("input", {
    type: "number", min: p.min, max: p.max, step: 1, class: "change value", "data-address": a, "aria-label": p.name, disabled,
  });
  number.addEventListener("change", () => send(a, [{ type: "i", value: Math.round(Number(number.value)) }]));
  view(a, (v) => {
    number.value = v;
    number.dataset.value = v;
  });
  return el("label", { class: "param" }, name, number);
}

function paramsUnder(prefix, skip) {
  return page.describe.params.filter((p) => p.address.startsWith(prefix) && !(skip || []).includes(p.id));
}

// ---------------------------------------------------------------- rack

function slotCard(slot) {
  const prefix = `/chain/${slot.id}/`;
  const bypass = page.params.get(prefix + "bypass");
  const result = el("span", { class: "measured" });
  const measure = slot.kind === "insert"
    ? el("button", {
        type: "button", class: "change", disabled: !changes(),
        onclick: async () => {
          result.textContent = "measuring…";
          try {
            const replies = await api(prefix + "measure");
            const m = replies.find((r) => r.address === prefix + "measured");
            if (m) result.textContent = measuredText(m.args);
          } catch (e) {
            result.textContent = e.message;
          }
        },
      }, "Measure round trip")
    : null;
  const card = el("div", { class: "card slot", draggable: changes() ? "true" : "false", "data-slot": slot.id },
    el("h4", {}, el("span", { class: "handle", "aria-hidden": "true" }, "⠿"), slot.id, " ",
      el("small", {}, slot.kind), bypass ? control(bypass) : null),
    el("div", { class: "params" }, paramsUnder(prefix, ["bypass", "position", "active"]).map(control)),
    measure ? el("div", { class: "row" }, measure, result) : null);
  card.addEventListener("dragstart", (e) => {
    e.dataTransfer.setData("text/plain", slot.id);
    card.classList.add("dragging");
  });
  card.addEventListener("dragend", () => card.classList.remove("dragging"));
  return card;
}

function measuredText(args) {
  const [samples, inverted, gain] = args;
  const rate = page.status && page.status.sample_rate;
  const ms = rate ? ` (${((samples / rate) * 1000).toFixed(2)} ms)` : "";
  return `round trip ${samples} samples${ms}${inverted ? ", inverted" : ""}; return ${gain.toFixed(1)} dB`;
}

function renderRack() {
  const chain = $("chain");
  const shelf = $("shelf");
  const playing = page.layout.map((id) => page.cards.get(id)).filter(Boolean);
  chain.replaceChildren(...playing);
  shelf.replaceChildren(...page.describe.chain.filter((s) => !page.layout.includes(s.id)).map((s) => page.cards.get(s.id)));
  if (!shelf.children.length) shelf.append(el("p", { class: "hint" }, "every slot plays"));
}

// Where a dragged slot would go among the cards of `zone`.
function dropIndex(zone, y) {
  const cards = [...zone.querySelectorAll(".slot:not(.dragging)")];
  const i = cards.findIndex((c) => y < c.getBoundingClientRect().top + c.offsetHeight / 2);
  return i < 0 ? cards.length : i;
}

function setupDrag() {
  for (const zone of [$("chain"), $("shelf")]) {
    zone.addEventListener("dragover", (e) => {
      if (!changes()) return;
      e.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", async (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      const id = e.dataTransfer.getData("text/plain");
      if (!id || !changes()) return;
      const order = page.layout.filter((s) => s !== id);
      if (zone.dataset.zone === "chain") {
        const others = [...$("chain").querySelectorAll(".slot:not(.dragging)")].map((c) => c.dataset.slot)
          .filter((s) => s !== id);
        order.splice(0, order.length, ...others);
        order.splice(dropIndex(zone, e.clientY), 0, id);
      }
      if (!order.length) {
        say("at least one slot must play", "error");
        return;
      }
      try {
        const replies = await api("/rackd/chain/layout", order);
        const r = replies.find((x) => x.address === "/rackd/chain/layout");
        page.layout = r ? r.args : order;
        renderRack();
        say("chain: " + page.layout.join(" → "));
      } catch (err) {
        say(err.message, "error");
      }
    });
  }
}

// ---------------------------------------------------------------- outboard

function deviceCard(d) {
  const badge = el("span", { class: "badge", "data-device-state": d.id });
  const why = el("span", { class: "why", "data-device-why": d.id });
  const body = el("div", { class: "params" }, paramsUnder(`/outboard/${d.id}/`).map(control));
  const card = el("div", { class: "card device", "data-device": d.id },
    el("h4", {}, d.id, " ", el("small", {}, `${d.vendor} ${d.model}`), badge), why, body);
  if (d.transport === "manual") {
    const sheet = el("img", { class: "sheet", alt: `recall sheet of ${d.id}`, "data-sheet": d.id });
    const done = el("button", {
      type: "button", class: "change done", "data-confirm": d.id, disabled: true,
      onclick: async () => {
        try {
          await api("/rackd/recall/confirm", [d.id]);
          say(`${d.id}: set by hand, confirmed`);
          refreshStatus();
        } catch (e) {
          say(e.message, "error");
        }
      },
    }, "Done: set by hand");
    card.append(el("div", { class: "sheet-box" }, sheet, done));
  }
  return card;
}

function renderDevices() {
  $("devices").replaceChildren(...page.describe.devices.map(deviceCard));
  if (!page.describe.devices.length) $("devices").append(el("p", { class: "hint" }, "no outboard gear"));
  refreshSheets();
}

function refreshSheets() {
  for (const img of document.querySelectorAll("img[data-sheet]")) {
    img.src = "sheet.svg?song=" + encodeURIComponent(page.sheetSong) + "&t=" + Date.now();
  }
}

function showDevices() {
  for (const d of (page.status && page.status.devices) || []) {
    const badge = document.querySelector(`[data-device-state="${d.id}"]`);
    if (!badge) continue;
    badge.textContent = d.state;
    badge.className = "badge " + d.state;
    document.querySelector(`[data-device-why="${d.id}"]`).textContent = d.error || "";
    const done = document.querySelector(`[data-confirm="${d.id}"]`);
    if (done) done.disabled = !changes() || d.state !== "waiting";
  }
}

// ---------------------------------------------------------------- status

async function refreshStatus() {
  try {
    const st = doc(await api("/rackd/status"), "/rackd/status");
    page.status = st;
    $("engine").textContent = `${st.audio} · latency ${st.latency_samples} samples`;
    $("load").replaceChildren(
      el("span", {}, "DSP load ", el("b", { id: "dsp-load" }, st.dsp_load_percent.toFixed(1) + " %")),
      el("span", {}, "xruns ", el("b", { id: "xruns" }, st.xruns)),
      el("span", {}, st.sample_rate ? `${st.sample_rate} Hz, ${st.period} frames` : "audio not running"),
      st.printing ? el("span", { class: "badge waiting" }, "printing") : null,
    );
    if (page.describe && st.layout.join(" ") !== page.layout.join(" ")) {
      page.layout = st.layout;
      renderRack();
    }
    showDevices();
  } catch (e) {
    say("status: " + e.message, "error");
  }
}

// ---------------------------------------------------------------- meters

function dbWidth(db, floor) {
  return Math.max(0, Math.min(100, ((db - floor) / -floor) * 100));
}

function meterView(address, quantity, description) {
  const value = el("span", { class: "mval" });
  if (["peak", "rms", "true_peak"].includes(quantity)) {
    const bars = [0, 1].map(() => el("div", { class: "bar" }, el("div", { class: "fill" })));
    page.meterViews.set(address, (v) => {
      v.forEach((db, i) => (bars[i].firstChild.style.width = dbWidth(db, -60) + "%"));
      value.textContent = v.map((x) => (x <= -120 ? "-inf" : x.toFixed(1))).join(" / ");
    });
    return el("div", { class: "meter pair", title: description }, el("span", { class: "mname" }, quantity), bars, value);
  }
  const bar = quantity === "correlation" || quantity === "gain_reduction"
    ? el("div", { class: "bar " + quantity }, el("div", { class: "fill" }))
    : null;
  page.meterViews.set(address, (v) => {
    const x = v[0];
    value.textContent = x <= -120 ? "-inf" : x.toFixed(1);
    if (bar && quantity === "correlation") bar.firstChild.style.width = ((x + 1) / 2) * 100 + "%";
    if (bar && quantity === "gain_reduction") bar.firstChild.style.width = Math.min(100, Math.abs(x) * 5) + "%";
  });
  return el("div", { class: "meter", title: description }, el("span", { class: "mname" }, quantity), bar, value);
}

async function renderMeters() {
  const r = await fetch("/meter");
  if (!r.ok) return;
  const ns = await r.json();
  // Signal order: in, the slots, out; quantities as a meter bridge shows them.
  const rank = (p) => (p === "in" ? 0 : p === "out" ? 2 : 1);
  const points = Object.entries(ns.CONTENTS || {}).sort(([a], [b]) => rank(a) - rank(b));
  const order = ["peak", "rms", "true_peak", "lufs_m", "lufs_s", "lufs_i", "lra", "correlation", "gain_reduction"];
  const place = (q) => (order.includes(q) ? order.indexOf(q) : order.length);
  $("meter-points").replaceChildren(...points.map(([point, node]) =>
    el("div", { class: "point", "data-point": point }, el("h4", {}, point),
      Object.entries(node.CONTENTS || {}).sort(([a], [b]) => place(a) - place(b))
        .map(([q, leaf]) => meterView(leaf.FULL_PATH, q, leaf.DESCRIPTION)))));
}

function drawMeters() {
  if (page.metersDirty) {
    page.metersDirty = false;
    for (const [address, v] of page.meters) {
      const draw = page.meterViews.get(address);
      if (draw) draw(v);
    }
  }
  requestAnimationFrame(drawMeters);
}

// ---------------------------------------------------------------- snapshots

async function refreshSongs() {
  const songs = doc(await api("/rackd/snapshot/list", [""]), "/rackd/snapshot/list") || [];
  const root = { children: new Map(), songs: [] };
  for (const s of songs) {
    const parts = s.song.split("/");
    let node = root;
    for (const part of parts.slice(0, -1)) {
      if (!node.children.has(part)) node.children.set(part, { children: new Map(), songs: [] });
      node = node.children.get(part);
    }
    node.songs.push(s);
  }
  const render = (node) => [
    ...[...node.children].map(([name, child]) => el("details", { open: true }, el("summary", {}, name), render(child))),
    ...node.songs.map((s) => el("button", {
      type: "button", class: "song", "data-song": s.song, onclick: () => showHistory(s.song),
    }, s.song.split("/").pop(), el("small", {}, ` rev ${s.latest_rev}`))),
  ];
  $("songs").replaceChildren(...render(root));
  if (!songs.length) $("songs").append(el("p", { class: "hint" }, "nothing saved yet"));
  $("songs-list").replaceChildren(...songs.map((s) => el("option", { value: s.song })));
}

async function showHistory(song) {
  page.history = song;
  $("save-song").value = song;
  $("print-song").value = $("print-song").value || song;
  let revs;
  try {
    revs = doc(await api("/rackd/snapshot/history", [song]), "/rackd/snapshot/history") || [];
  } catch (e) {
    say(e.message, "error");
    return;
  }
  $("history-title").textContent = "History of " + song;
  const ref = (r) => `${song}@${r.rev}`;
  $("refs-list").replaceChildren(el("option", { value: "current" }), ...revs.map((r) => el("option", { value: ref(r) })));
  $("history").tBodies[0].replaceChildren(...revs.slice().reverse().map((r) => el("tr", { "data-rev": r.rev },
    el("td", {}, "rev " + r.rev), el("td", {}, r.saved_at.replace("T", " ").replace(/\.\d+Z$/, " UTC")),
    el("td", { class: "note" }, r.note), el("td", { class: "origin" }, r.origin),
    el("td", {},
      el("button", { type: "button", class: "change", "data-recall": r.rev, disabled: !changes(), onclick: () => recall(song, r.rev, false) }, "Recall"),
      el("button", { type: "button", class: "change", "data-recall-changed": r.rev, disabled: !changes(), onclick: () => recall(song, r.rev, true) }, "Changed only"),
      el("button", { type: "button", onclick: () => ($("diff-a").value = ref(r)) }, "A"),
      el("button", { type: "button", onclick: () => ($("diff-b").value = ref(r)) }, "B"),
      el("button", { type: "button", onclick: () => { page.sheetSong = ref(r); refreshSheets(); } }, "Sheet")))));
}

function showReport(title, report) {
  $("recall").hidden = false;
  $("recall-title").textContent = title;
  $("recall-progress").value = 1;
  $("recall-step").textContent = `${report.changed} changed, ${report.unchanged} unchanged` +
    (report.skipped.length ? `, ${report.skipped.length} not on this rack` : "");
  $("recall-report").replaceChildren(...report.devices.map((d) =>
    el("li", { class: d.outcome, "data-report": d.device }, `${d.device}: ${d.result}`)));
  if (!report.devices.length) $("recall-report").append(el("li", {}, "no outboard gear"));
}

async function recall(song, rev, changedOnly) {
  $("recall").hidden = false;
  $("recall-title").textContent = `Recalling ${song} rev ${rev}${changedOnly ? " (changed only)" : ""}`;
  $("recall-progress").value = 0;
  $("recall-step").textContent = "";
  $("recall-report").replaceChildren();
  try {
    const args = changedOnly ? [song, rev, "changed"] : [song, rev];
    const report = doc(await api("/rackd/snapshot/recall", args), "/rackd/recall/report");
    showReport(`Recalled ${song} rev ${rev}`, report);
    page.sheetSong = `${song}@${rev}`;
    refreshSheets();
    refreshStatus();
  } catch (e) {
    $("recall-step").textContent = e.message;
    say(e.message, "error");
  }
}

async function diff(a, b) {
  try {
    const changes = doc(await api("/rackd/snapshot/diff", [a, b]), "/rackd/snapshot/diff") || [];
    const show = (v) => (v === null || v === undefined ? "—" : String(v));
    $("diff-table").tBodies[0].replaceChildren(
      el("tr", {}, el("th", {}, "parameter"), el("th", {}, a), el("th", {}, b)),
      ...changes.map((c) => el("tr", {}, el("td", {}, c.address), el("td", {}, show(c.before)), el("td", {}, show(c.after)))));
    if (!changes.length) $("diff-table").tBodies[0].append(el("tr", {}, el("td", { colspan: 3 }, "no differences")));
  } catch (e) {
    say(e.message, "error");
  }
}

// ---------------------------------------------------------------- messages

function onOsc(m) {
  const a = m.address;
  if (a.startsWith("/meter/")) {
    page.meters.set(a, m.args);
    page.metersDirty = true;
    return;
  }
  switch (a) {
    case "/rackd/pong":
      if (m.args[0] === "ready") load();
      return;
    case "/rackd/error":
      if (m.args[0] === "/rackd/print") {
        $("print-progress").hidden = true;
        $("print-report").textContent = "print failed: " + m.args[1];
      }
      say(m.args[1], "error");
      return;
    case "/rackd/snapshot/saved":
      refreshSongs();
      if (page.history === m.args[0]) showHistory(m.args[0]);
      return;
    case "/rackd/snapshot/recalled":
      page.sheetSong = `${m.args[0]}@${m.args[1]}`;
      refreshSheets();
      refreshStatus();
      return;
    case "/rackd/recall/progress": {
      const [device, done, total] = m.args;
      $("recall").hidden = false;
      $("recall-progress").value = total ? done / total : 1;
      $("recall-step").textContent = `${device}: ${done} of ${total}`;
      return;
    }
    case "/rackd/recall/confirmed":
      refreshStatus();
      return;
    case "/rackd/print/started":
      $("print-progress").hidden = false;
      $("print-progress").value = 0;
      $("print-report").textContent = `printing ${m.args[0]}…`;
      return;
    case "/rackd/print/progress":
      $("print-progress").hidden = false;
      $("print-progress").value = m.args[1];
      return;
    case "/rackd/print/done": {
      const r = JSON.parse(m.args[0]);
      $("print-progress").value = 1;
      $("print-report").textContent = `wrote ${r.output}: ${r.frames} frames at ${r.sample_rate} Hz, ` +
        `${r.latency} samples of latency removed\n` + r.devices.map((d) => `${d.device}: ${d.result}`).join("\n");
      return;
    }
    case "/rackd/print/cancelled":
      $("print-progress").hidden = true;
      $("print-report").textContent = "print cancelled";
      return;
    default:
      break;
  }
  if (a.endsWith("/measured")) return;
  if (m.args.length === 1 && page.params.has(a)) setValue(a, m.args[0]);
}

function onText(text) {
  let msg;
  try {
    msg = JSON.parse(text);
  } catch (e) {
    return;
  }
  if (msg.COMMAND === "PATH_CHANGED") refreshStatus();
}

function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/`);
  ws.binaryType = "arraybuffer";
  page.ws = ws;
  ws.onopen = () => {
    $("link").textContent = "connected";
    $("link").className = "badge online";
    for (const p of LISTENS) ws.send(JSON.stringify({ COMMAND: "LISTEN", DATA: p }));
    // Once the LISTENs are in, what is read next is current and stays so.
    ws.send(OSC.encode("/rackd/ping", ["ready"]));
  };
  ws.onmessage = (e) => {
    if (typeof e.data === "string") onText(e.data);
    else for (const m of OSC.decode(e.data)) onOsc(m);
  };
  ws.onclose = () => {
    $("link").textContent = "disconnected";
    $("link").className = "badge offline";
    setTimeout(connect, 1000);
  };
}

// ---------------------------------------------------------------- start

async function load() {
  try {
    page.describe = doc(await api("/rackd/describe"), "/rackd/describe");
  } catch (e) {
    say("describe: " + e.message, "error");
    return;
  }
  page.views.clear();
  page.params.clear();
  for (const p of page.describe.params) {
    page.params.set(p.address, p);
    page.values.set(p.address, p.value);
  }
  page.cards.clear();
  for (const s of page.describe.chain) page.cards.set(s.id, slotCard(s));
  page.layout = [];
  renderDevices();
  $("monitor").replaceChildren(el("div", { class: "card" }, el("div", { class: "params" }, paramsUnder("/monitor/").map(control))));
  await refreshStatus();
  renderRack();
  await renderMeters();
  await refreshSongs();
  document.body.dataset.ready = "true";
}

function setupForms() {
  $("save-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const song = $("save-song").value.trim();
    try {
      const replies = await api("/rackd/snapshot/save", [song, $("save-note").value]);
      const saved = replies.find((r) => r.address === "/rackd/snapshot/saved");
      say(`saved ${saved.args[0]} rev ${saved.args[1]}`);
      $("save-note").value = "";
      await refreshSongs();
      await showHistory(song);
    } catch (err) {
      say(err.message, "error");
    }
  });
  $("undo").addEventListener("click", async () => {
    try {
      showReport("Undo", doc(await api("/rackd/recall/undo"), "/rackd/recall/report"));
      refreshStatus();
    } catch (err) {
      say(err.message, "error");
    }
  });
  $("diff-form").addEventListener("submit", (e) => {
    e.preventDefault();
    diff($("diff-a").value.trim(), $("diff-b").value.trim());
  });
  $("print-form").addEventListener("submit", (e) => {
    e.preventDefault();
    $("print-report").textContent = "";
    send("/rackd/print", [$("print-song").value, $("print-input").value, $("print-output").value,
      { type: "i", value: Number($("print-bits").value) }]);
  });
  $("print-cancel").addEventListener("click", () => send("/rackd/print/cancel", []));
}

async function start() {
  try {
    const r = await fetch("session");
    const s = await r.json();
    page.access = s.access;
    $("name").textContent = s.name;
    document.title = s.name;
  } catch (e) {
    say("session: " + e.message, "error");
  }
  $("access").textContent = page.access === "full" ? "" : "read-only: look, don't touch";
  $("access").className = page.access === "full" ? "badge" : "badge waiting";
  if (!changes()) {
    document.body.classList.add("read-only");
    for (const b of document.querySelectorAll("form button, #undo")) b.disabled = true;
  }
  setupForms();
  setupDrag();
  requestAnimationFrame(drawMeters);
  setInterval(refreshStatus, 1000);
  connect();
}

start();
