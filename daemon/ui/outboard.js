// The page's outboard panel: each device with its parameters, its state
// (and why), and for hand-set gear its own recall sheet and a "done" button.
// Loaded before app.js, whose helpers it calls at run time.
"use strict";

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
    img.src = "sheet.svg?song=" + encodeURIComponent(page.sheetSong) +
      "&device=" + encodeURIComponent(img.dataset.sheet) + "&t=" + Date.now();
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
