//! The PQ sheet the plant checks against the DDP: per track and index the
//! start as `MM:SS:FF` and as samples, lengths, gaps, ISRC, flags, CD-Text;
//! the UPC/EAN, the total time, the DDP's checksums, who made it and when.

use crate::album::Disc;
use crate::ddp::checksum::Entry;
use crate::frames::{Msf, SAMPLES_PER_FRAME};

/// What the sheet shows besides the disc.
#[derive(Debug, Clone, Default)]
pub struct SheetInfo {
    /// `rackd 0.1.0`.
    pub made_by: String,
    /// The date and time of the build.
    pub date: String,
    /// The DDP's checksums.
    pub checksums: Vec<Entry>,
    /// True peak per track after conversion, dBTP.
    pub true_peak: Vec<f64>,
}

struct Row {
    track: u8,
    index: usize,
    frame: u32,
    length: Option<u32>,
    gap: Option<u32>,
    isrc: String,
    flags: String,
    text: String,
    true_peak: Option<f64>,
}

fn rows(disc: &Disc, info: &SheetInfo) -> Vec<Row> {
    let mut rows = Vec::new();
    for (i, t) in disc.tracks.iter().enumerate() {
        let mut all = Vec::new();
        if let Some(p) = t.pregap {
            all.push((0, p));
        }
        all.extend(t.indexes.iter().enumerate().map(|(k, f)| (k + 1, *f)));
        for (k, f) in all {
            let first = k == 1;
            rows.push(Row {
                track: t.number,
                index: k,
                frame: f,
                length: first.then(|| disc.play_end(i) - t.start()),
                gap: first.then(|| disc.gap(i)),
                isrc: if first {
                    t.isrc.as_ref().map_or("-".into(), |i| i.dashed())
                } else {
                    String::new()
                },
                flags: if first {
                    let f = t.flags.names();
                    if f.is_empty() {
                        "-".into()
                    } else {
                        f.join(" ")
                    }
                } else {
                    String::new()
                },
                text: if first && disc.info.cd_text {
                    t.text
                        .iter()
                        .map(|(k, v)| format!("{}: {v}", k.name()))
                        .collect::<Vec<_>>()
                        .join("; ")
                } else {
                    String::new()
                },
                true_peak: if first {
                    info.true_peak.get(i).copied()
                } else {
                    None
                },
            });
        }
    }
    rows
}

fn disc_lines(disc: &Disc, info: &SheetInfo) -> Vec<(String, String)> {
    let mut v = vec![
        (
            "UPC/EAN".to_string(),
            disc.info
                .upc
                .as_ref()
                .map_or("none".into(), |u| u.to_string()),
        ),
        (
            "Master id".into(),
            disc.info.master_id.clone().unwrap_or_else(|| "-".into()),
        ),
        ("Tracks".into(), disc.tracks.len().to_string()),
        (
            "Total time".into(),
            format!(
                "{} ({} frames, {} samples)",
                Msf(disc.lead_out),
                disc.lead_out,
                disc.lead_out as u64 * SAMPLES_PER_FRAME as u64
            ),
        ),
    ];
    if disc.info.cd_text {
        for (k, val) in &disc.info.text {
            v.push((format!("CD-Text {}", k.name()), val.clone()));
        }
    }
    v.push(("Made by".into(), info.made_by.clone()));
    v.push(("Date".into(), info.date.clone()));
    v
}

/// A row's cells: track, index, start, samples, length, gap, dBTP, ISRC, flags, CD-Text.
fn cells(r: &Row) -> [String; 10] {
    [
        r.track.to_string(),
        format!("{:02}", r.index),
        Msf(r.frame).to_string(),
        (r.frame as u64 * SAMPLES_PER_FRAME as u64).to_string(),
        r.length.map_or(String::new(), |l| Msf(l).to_string()),
        r.gap.map_or(String::new(), |g| Msf(g).to_string()),
        tp(r.true_peak),
        r.isrc.clone(),
        r.flags.clone(),
        r.text.clone(),
    ]
}

fn tp(x: Option<f64>) -> String {
    x.map_or(String::new(), |x| format!("{x:+.1}"))
}

/// The sheet as plain text.
pub fn text(disc: &Disc, info: &SheetInfo) -> String {
    let mut s = String::from("PQ SHEET\n\n");
    for (k, v) in disc_lines(disc, info) {
        s.push_str(&format!("{k:<16} {v}\n"));
    }
    s.push_str(
        "\nTrk Idx Start     Samples      Length    Gap       dBTP  ISRC             Flags  CD-Text\n",
    );
    for c in rows(disc, info).iter().map(cells) {
        s.push_str(&format!(
            "{:>3} {}  {}  {:>11}  {:<8}  {:<8}  {:>5}  {:<15}  {:<5}  {}\n",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9]
        ));
    }
    s.push_str(&format!(
        "AA  01  {}  {:>11}  (lead-out)\n",
        Msf(disc.lead_out),
        disc.lead_out as u64 * SAMPLES_PER_FRAME as u64
    ));
    s.push_str("\nDDP checksums (MD5)\n");
    for c in &info.checksums {
        s.push_str(&format!("  {}  {}\n", c.md5, c.file));
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The sheet as a printable HTML page.
pub fn html(disc: &Disc, info: &SheetInfo) -> String {
    let mut s = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>PQ sheet</title>\n<style>\nbody{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px;text-align:left}td.n{text-align:right;font-family:monospace}code{font-family:monospace}\n</style></head><body>\n<h1>PQ sheet</h1>\n<table>\n",
    );
    for (k, v) in disc_lines(disc, info) {
        s.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>\n",
            esc(&k),
            esc(&v)
        ));
    }
    s.push_str("</table>\n<h2>Tracks and indexes</h2>\n<table>\n<tr><th>Track</th><th>Index</th><th>Start</th><th>Samples</th><th>Length</th><th>Gap</th><th>dBTP</th><th>ISRC</th><th>Flags</th><th>CD-Text</th></tr>\n");
    for c in rows(disc, info).iter().map(cells) {
        s.push_str("<tr>");
        for (k, v) in c.iter().enumerate() {
            let class = if k < 7 { " class=\"n\"" } else { "" };
            s.push_str(&format!("<td{class}>{}</td>", esc(v)));
        }
        s.push_str("</tr>\n");
    }
    s.push_str(&format!(
        "<tr><td>AA</td><td class=\"n\">01</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td colspan=\"6\">lead-out</td></tr>\n</table>\n<h2>DDP checksums (MD5)</h2>\n<table>\n",
        Msf(disc.lead_out),
        disc.lead_out as u64 * SAMPLES_PER_FRAME as u64
    ));
    for c in &info.checksums {
        s.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td></tr>\n",
            c.md5,
            esc(&c.file)
        ));
    }
    s.push_str("</table>\n</body></html>\n");
    s
}
