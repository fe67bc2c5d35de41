// The page's snapshot panel: songs as a tree, a song's history, recall
// (full or changed-only) with its report, and the diff of two revisions.
// Loaded after osc.js and before app.js, whose helpers it calls at run time.
"use strict";

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
