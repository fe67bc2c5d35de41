// The page's reports panel: the `rackd analyze --report` pages in the
// daemon's reports directory ([http] reports_dir), each opened in a new tab.
"use strict";

function sizeText(bytes) {
  if (bytes >= 1 << 20) return (bytes / (1 << 20)).toFixed(1) + " MiB";
  if (bytes >= 1 << 10) return (bytes / (1 << 10)).toFixed(0) + " KiB";
  return bytes + " B";
}

async function refreshReports() {
  let list;
  try {
    const r = await fetch("reports");
    const body = await r.json();
    if (!r.ok) throw new Error(body.error ? body.error.message : r.statusText);
    list = body.reports;
  } catch (e) {
    $("reports").tBodies[0].replaceChildren(el("tr", {}, el("td", { colspan: 3, class: "hint" }, "reports: " + e.message)));
    return;
  }
  $("reports").tBodies[0].replaceChildren(...list.map((r) => el("tr", { "data-report-file": r.name },
    el("td", {}, el("a", { href: "reports/" + encodeURIComponent(r.name), target: "_blank", rel: "noopener" }, r.name)),
    el("td", { class: "size" }, sizeText(r.bytes)),
    el("td", {}, new Date(r.modified * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC")))));
  if (!list.length) {
    $("reports").tBodies[0].append(el("tr", {}, el("td", { colspan: 3, class: "hint" },
      "no reports yet: rackd analyze FILE --report <reports dir>/NAME.html")));
  }
}
