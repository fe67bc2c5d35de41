//! `rackd analyze --report FILE.html`: one self-contained HTML page (inline
//! SVG and CSS, no scripts, printable on A4) with the plots and findings of
//! each analyzed file, the comparison with a `--reference`, and an album
//! page for several files; plus the JSON of the data behind every plot.
//!
//! Long: the page's sections and the JSON of the plot data are written side
//! by side from the same `Track`, so the two cannot drift apart; the plots
//! are in `plots.rs`.
//!
//! The measurements are `rackd_dsp::{series, spectrum, findings}`; this
//! module only draws and serializes them.

mod plots;
mod svg;

use crate::outboard::sheet::esc;
use rackd_dsp::analysis::Report;
use rackd_dsp::findings::{FileFacts, Finding, Remedy, channel_label, effective_bits, timecode};
use rackd_dsp::series::{LOW_END_HZ, SeriesData};
use rackd_dsp::spectrum::{
    BandDifference, Comparison, SMOOTHING_OCTAVES, SpectrumData, compare as compare_curves,
    frequencies, mean_curve,
};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::Path;

/// One analyzed file, as the report sees it.
#[derive(Clone, Copy)]
pub struct Track<'a> {
    /// The file as given on the command line.
    pub path: &'a Path,
    /// Rate, stored bits, float.
    pub facts: FileFacts,
    /// The whole-file numbers.
    pub report: &'a Report,
    /// The 100 ms series.
    pub series: &'a SeriesData,
    /// The long-term spectrum.
    pub spectrum: &'a SpectrumData,
    /// What was found.
    pub findings: &'a [Finding],
}

impl Track<'_> {
    fn name(&self) -> String {
        self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    fn true_peak_db(&self) -> f64 {
        db(self
            .report
            .scan
            .true_peak
            .iter()
            .fold(0f32, |m, &v| m.max(v)) as f64)
    }

    fn duration(&self) -> f64 {
        self.report.scan.frames as f64 / self.report.scan.sample_rate
    }
}

/// What goes on the page.
pub struct Page<'a> {
    /// The files, in order.
    pub tracks: &'a [Track<'a>],
    /// Album integrated loudness (two or more files).
    pub album: Option<f64>,
    /// The reference, or why it could not be read.
    pub reference: Option<Result<Track<'a>, (&'a Path, &'a str)>>,
    /// Loudness target line, LUFS.
    pub target: Option<f64>,
    /// Files that could not be analyzed, and why.
    pub failed: Vec<(&'a Path, &'a str)>,
}

fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

/// JSON number rounded to `digits` decimals, or null when not finite.
fn num_to(x: f64, digits: i32) -> Value {
    rounded(x, 10f64.powi(digits))
}

/// `x` rounded to multiples of `1 / scale`; null when not finite.
fn rounded(x: f64, scale: f64) -> Value {
    if x.is_finite() {
        json!((x * scale).round() / scale)
    } else {
        Value::Null
    }
}

fn num(x: f64) -> Value {
    num_to(x, 3)
}

fn nums(v: impl IntoIterator<Item = f64>, digits: i32) -> Value {
    let scale = 10f64.powi(digits);
    Value::Array(v.into_iter().map(|x| rounded(x, scale)).collect())
}

/// Pretty JSON with arrays of numbers kept on one line, so the series and
/// spectra stay readable (and a tenth of the size of one number per line).
pub fn to_pretty(v: &Value) -> String {
    use std::fmt::Write;
    fn scalar(v: &Value) -> bool {
        !matches!(v, Value::Array(_) | Value::Object(_))
    }
    fn go(v: &Value, indent: usize, out: &mut String) {
        let pad = |n: usize| "  ".repeat(n);
        match v {
            Value::Array(a) if a.is_empty() => out.push_str("[]"),
            Value::Array(a) if a.iter().all(scalar) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    // Formatted in place: no string per number (a spectrum
                    // has 130 000 of them), numbers by their own Display
                    // (the digits serde_json writes, without its serializer).
                    let _ = match x {
                        Value::Number(n) => write!(out, "{n}"),
                        x => write!(out, "{x}"),
                    };
                }
                out.push(']');
            }
            Value::Array(a) => {
                out.push_str("[\n");
                for (i, x) in a.iter().enumerate() {
                    out.push_str(&pad(indent + 1));
                    go(x, indent + 1, out);
                    out.push_str(if i + 1 < a.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(indent));
                out.push(']');
            }
            Value::Object(m) if m.is_empty() => out.push_str("{}"),
            Value::Object(m) => {
                out.push_str("{\n");
                for (i, (k, x)) in m.iter().enumerate() {
                    out.push_str(&pad(indent + 1));
                    let _ = write!(out, "{}", Value::String(k.clone()));
                    out.push_str(": ");
                    go(x, indent + 1, out);
                    out.push_str(if i + 1 < m.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(indent));
                out.push('}');
            }
            x => {
                let _ = write!(out, "{x}");
            }
        }
    }
    let mut out = String::new();
    go(v, 0, &mut out);
    out
}

/// Loudness-matched comparison of a file's spectrum (all channels) with the reference's.
pub fn compare(t: &Track, reference: &Track) -> Comparison {
    let (a, b) = (t.report.scan.integrated, reference.report.scan.integrated);
    let offset = if a.is_finite() && b.is_finite() {
        a - b
    } else {
        0.0
    };
    compare_curves(&t.spectrum.average(), &reference.spectrum.average(), offset)
}

/// Named band differences in the JSON, `text` said against `other`.
fn bands_json(bands: &[BandDifference], other: &str) -> Value {
    Value::Array(
        bands
            .iter()
            .map(|b| {
                json!({
                    "from_hz": b.from_hz,
                    "to_hz": b.to_hz,
                    "difference_db": num(b.difference_db),
                    "text": b.describe(other),
                })
            })
            .collect(),
    )
}

/// `reference_comparison` in the JSON.
pub fn comparison_json(c: &Comparison) -> Value {
    json!({
        "loudness_offset_db": num(c.offset_db),
        "difference_db": nums(c.difference.iter().copied(), 2),
        "largest": bands_json(&c.largest, "the reference"),
    })
}

/// The comparison in lines for the text summary.
pub fn comparison_lines(c: &Comparison) -> Vec<String> {
    let mut out = vec![format!(
        "reference loudness-matched by {:+.1} dB",
        c.offset_db
    )];
    if c.largest.is_empty() {
        out.push("tonal balance within 1 dB of the reference in every band".into());
    }
    out.extend(c.largest.iter().map(|b| b.describe("the reference")));
    out
}

/// `findings` in the JSON.
pub fn findings_json(t: &Track) -> Value {
    let chans = t.series.channels;
    Value::Array(
        t.findings
            .iter()
            .map(|f| {
                json!({
                    "kind": f.kind.name(),
                    "fix": f.remedy.name(),
                    "channel": f.channel.map(|c| channel_label(c, chans)),
                    // Microseconds: clip runs are placed to the sample.
                    "start_s": f.start_s.map(|v| num_to(v, 6)),
                    "end_s": f.end_s.map(|v| num_to(v, 6)),
                    "spans": f.spans.iter().map(|&(a, b)| json!([num_to(a, 6), num_to(b, 6)])).collect::<Vec<_>>(),
                    "text": f.text,
                    "advice": f.advice,
                })
            })
            .collect(),
    )
}

/// Width of the spectrum bins the JSON keeps (groups of the 0.5 Hz FFT bins), Hz.
const JSON_BIN_HZ: f64 = 1.5;

/// `plots` in the JSON: the data behind every plot of the report.
pub fn plots_json(t: &Track) -> Value {
    let s = t.series;
    let per_channel =
        |f: &dyn Fn(usize) -> Value| -> Value { Value::Array((0..s.channels).map(f).collect()) };
    let sine_ref = std::f64::consts::SQRT_2;
    let scope = s.scope.as_ref().map(|sc| {
        let zoom = sc.zoom(0.999);
        json!({
            "cells": 64,
            "zoom": zoom,
            "edge_dbfs": num(db(1.0 / zoom as f64)),
            "counts": sc.view(zoom, 64),
        })
    });
    let sp = t.spectrum;
    let spectrum = (sp.frames > 0).then(|| {
        // FFT bins summed in groups of three, so the JSON keeps 16 000
        // values per curve at 48 kHz instead of 48 001.
        let group = ((JSON_BIN_HZ / sp.bin_hz()).round() as usize).max(1);
        // The bins on a thread of their own: with the curves, they are most
        // of the work after the measurements (130 000 values at 96 kHz).
        let (curves, bins) = std::thread::scope(|scope| {
            let bins = scope.spawn(|| {
                let mut bins = serde_json::Map::new();
                for (name, b) in sp.names.iter().zip(&sp.bins) {
                    let grouped = b
                        .chunks(group)
                        .map(|c| 10.0 * (2.0 * c.iter().sum::<f64>()).log10());
                    bins.insert(name.clone(), nums(grouped, 2));
                }
                bins
            });
            let mut curves = serde_json::Map::new();
            for (name, b) in sp.names.iter().zip(&sp.bins) {
                curves.insert(name.clone(), nums(sp.smoothed(b), 2));
            }
            curves.insert("all".into(), nums(sp.average(), 2));
            (curves, bins.join().expect("spectrum bins thread"))
        });
        let mut spectrum = json!({
            "fft_size": sp.fft_size,
            "bin_hz": num_to(sp.bin_hz(), 6),
            "bins_hz": num_to(sp.bin_hz() * group as f64, 6),
            "frames": sp.frames,
            "smoothing_octaves": num(SMOOTHING_OCTAVES),
            "frequencies_hz": nums(frequencies(), 2),
        });
        // Moved in, not through `json!`, which would copy them value by value.
        spectrum["curves_db"] = Value::Object(curves);
        spectrum["bins_db"] = Value::Object(bins);
        spectrum
    });
    let mut plots = json!({
        "hop_s": num_to(s.hop_s(), 6),
        "windows": s.len(),
        "peak_dbfs": per_channel(&|c| nums(s.peak[c].iter().map(|&v| db(v as f64)), 2)),
        "rms_dbfs": per_channel(&|c| nums(s.rms[c].iter().map(|&v| db(v as f64 * sine_ref)), 2)),
        "true_peak_dbtp": per_channel(&|c| nums(s.true_peak[c].iter().map(|&v| db(v as f64)), 2)),
        "clipped_samples": per_channel(&|c| json!(s.clipped[c])),
        "momentary_lufs": nums(s.momentary.iter().copied(), 2),
        "short_term_lufs": nums(s.short_term.iter().copied(), 2),
        "correlation": nums(s.correlation.iter().copied(), 3),
        "correlation_low": nums(s.low_correlation.iter().copied(), 3),
        "low_end_hz": LOW_END_HZ,
        "short_term_plr_db": nums(s.short_term_plr(), 2),
        "short_term_crest_db": nums(s.short_term_crest(), 2),
        "short_term_histogram": {
            "from_lufs": plots::HIST_FROM,
            "step_lu": 1,
            "counts": s.short_term_histogram(plots::HIST_FROM, plots::HIST_BINS),
        },
        "vectorscope": scope,
    });
    plots["spectrum"] = spectrum.unwrap_or(Value::Null);
    plots
}

/// Each track's loudness-matched spectrum minus the album average.
fn album_tonal(tracks: &[Track]) -> (Vec<f64>, Vec<Comparison>) {
    let curves: Vec<(Vec<f64>, f64)> = tracks
        .iter()
        .map(|t| {
            let i = t.report.scan.integrated;
            (t.spectrum.average(), if i.is_finite() { -i } else { 0.0 })
        })
        .collect();
    let refs: Vec<(&[f64], f64)> = curves.iter().map(|(c, o)| (c.as_slice(), *o)).collect();
    let average = mean_curve(&refs);
    let diffs = curves
        .iter()
        .map(|(c, off)| {
            let moved: Vec<f64> = c.iter().map(|v| v + off).collect();
            compare_curves(&moved, &average, 0.0)
        })
        .collect();
    (average, diffs)
}

/// `album.tonal_balance` in the JSON.
pub fn album_json(tracks: &[Track]) -> Value {
    let (average, diffs) = album_tonal(tracks);
    json!({
        "frequencies_hz": nums(frequencies(), 2),
        "average_db": nums(average, 2),
        "tracks": tracks.iter().zip(&diffs).map(|(t, d)| json!({
            "path": t.path.display().to_string(),
            "difference_db": nums(d.difference.iter().copied(), 2),
            "largest": bands_json(&d.largest, "the album average"),
        })).collect::<Vec<_>>(),
    })
}

/// Writes the page through a `.partial` file beside `path`, so a failed
/// run never leaves half a report under the final name.
pub fn write(path: &Path, page: &Page) -> std::io::Result<()> {
    let html = html(page);
    crate::files::write_atomically(path, |tmp| std::fs::write(tmp, html.as_bytes()))
}

const CSS: &str = r#"
@page { size: A4; margin: 12mm; }
* { box-sizing: border-box; }
body { font: 14px/1.4 "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #1a1a1a; max-width: 60em; margin: 1.5em auto; padding: 0 1em; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
h1 { font-size: 1.5em; margin: 0 0 .2em; } h2 { font-size: 1.3em; margin: 1.2em 0 .2em; border-bottom: 2px solid #1a1a1a; }
h3 { font-size: 1.05em; margin: 1em 0 .3em; } h4 { margin: .3em 0; font-size: .95em; }
.meta, .format { color: #555; margin: 0 0 .6em; }
table.numbers { border-collapse: collapse; margin: .4em 0; }
table.numbers th, table.numbers td { padding: .15em .7em; border-bottom: 1px solid #ddd; text-align: right; }
table.numbers th:first-child, table.numbers td:first-child { text-align: left; }
ul.findings { padding-left: 1.2em; margin: .3em 0; } ul.findings li { margin: .15em 0; }
li.mix::marker { content: "✗  "; color: #c0392b; } li.mastering::marker { content: "•  "; color: #1f5fa8; }
.none { color: #2e7d32; }
.handover { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
.handover > div { border: 1px solid #ccc; padding: .3em .7em; border-radius: 4px; }
.handover ul { padding-left: 1.1em; margin: .2em 0; } .handover li { margin: .25em 0; }
.advice { color: #444; display: block; font-size: .92em; }
figure { margin: .6em 0 1em; break-inside: avoid; page-break-inside: avoid; }
figcaption { font-size: .9em; color: #333; margin-bottom: .15em; font-weight: bold; }
.pair { display: grid; grid-template-columns: repeat(auto-fit, minmax(34em, 1fr)); gap: .6em; }
body.compare { max-width: 90em; }
.pair figure { margin: .3em 0; } .scopes figcaption { min-height: 2.6em; } .scopes { display: grid; grid-template-columns: repeat(auto-fill, minmax(14em, 18em)); gap: 1em; }
section.track { break-before: page; page-break-before: always; }
section.track:first-of-type { break-before: auto; page-break-before: auto; }
.error { color: #c0392b; font-weight: bold; }
svg.plot { width: 100%; max-width: 62em; height: auto; display: block; font-family: "DejaVu Sans", Arial, sans-serif; font-size: 11px; background: #fff; }
svg .frame { fill: none; stroke: #888; } svg .grid { stroke: #e6e6e6; } svg .tick, svg .axis { fill: #333; } svg .axis { font-size: 11.5px; }
svg .note { fill: #666; font-style: italic; font-size: 12px; } svg .mark { fill: #333; font-size: 10.5px; }
svg .legend text { fill: #222; font-size: 10.5px; }
svg .line { fill: none; stroke: currentColor; stroke-width: 1.3; stroke-linejoin: round; }
svg .ch0 { color: #1f5fa8; } svg .ch1 { color: #c0392b; } svg .ch2 { color: #2e7d32; } svg .ch3 { color: #8e44ad; }
svg .ch4 { color: #d35400; } svg .ch5 { color: #16a085; } svg .ch6 { color: #7f8c8d; } svg .ch7 { color: #2c3e50; }
svg .peak { fill: currentColor; fill-opacity: .35; stroke: none; } svg .rms { fill: currentColor; fill-opacity: .85; stroke: none; }
svg .clip { stroke: #e00000; stroke-width: 1.6; } svg .over { stroke: #f39c12; stroke-width: 2.5; }
svg .mom { stroke: #9db7d5; stroke-width: .9; } svg .short { stroke: #1f5fa8; stroke-width: 1.8; }
svg .integrated { stroke: #111; stroke-dasharray: 6 3; stroke-width: 1.2; } svg .target { stroke: #2e7d32; stroke-dasharray: 2 2; stroke-width: 1.5; }
svg .limit { stroke: #e00000; stroke-dasharray: 5 3; } svg .limit2 { stroke: #e67e22; stroke-dasharray: 2 3; }
svg .zero { stroke: #555; stroke-width: .8; }
svg .sp0 { color: #1f5fa8; } svg .sp1 { color: #c0392b; } svg .sp2 { color: #2e7d32; } svg .sp3 { color: #8e44ad; }
svg .sp4 { color: #d35400; } svg .sp5 { color: #16a085; } svg .sp6 { color: #7f8c8d; } svg .sp7 { color: #2c3e50; }
svg .ref { stroke-dasharray: 5 3; stroke-opacity: .75; } svg .diff { stroke: #111; stroke-width: 1.6; }
svg .span { fill: #e00000; fill-opacity: .12; } svg .bandedge { stroke: #e00000; stroke-opacity: .4; stroke-width: .8; }
svg .corr { stroke: #1f5fa8; } svg .lowcorr { stroke: #c0392b; stroke-width: 1.6; }
svg .plr { stroke: #1f5fa8; stroke-width: 1.6; } svg .crest { stroke: #8e44ad; }
svg .bar { fill: #1f5fa8; } svg .range { fill: #9db7d5; } svg .dot { fill: #1f5fa8; } svg .tp { fill: #c0392b; }
svg .none { stroke: none; }
svg .trk0 { color: #1f5fa8; } svg .trk1 { color: #c0392b; } svg .trk2 { color: #2e7d32; } svg .trk3 { color: #8e44ad; }
svg .trk4 { color: #d35400; } svg .trk5 { color: #16a085; } svg .trk6 { color: #7f8c8d; } svg .trk7 { color: #2c3e50; }
svg .scopebg { fill: #fff; stroke: #888; } svg .scopeaxis { stroke: #bbb; stroke-width: .8; } svg .scopelabel { fill: #555; font-size: 13px; }
svg .d1 { fill: #1f5fa8; fill-opacity: .08; } svg .d2 { fill: #1f5fa8; fill-opacity: .16; } svg .d3 { fill: #1f5fa8; fill-opacity: .27; } svg .d4 { fill: #1f5fa8; fill-opacity: .4; }
svg .d5 { fill: #1f5fa8; fill-opacity: .55; } svg .d6 { fill: #1f5fa8; fill-opacity: .7; } svg .d7 { fill: #17457a; fill-opacity: .85; } svg .d8 { fill: #0d2a4d; }
@media print { body { margin: 0; max-width: none; font-size: 10pt; } h2 { margin-top: 0; } }
"#;

/// The whole page.
pub fn html(page: &Page) -> String {
    let title = match page.tracks {
        [one] => format!("Analysis: {}", one.name()),
        many => format!("Analysis: {} files", many.len()),
    };
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\
         <title>{}</title><style>{CSS}</style></head><body class=\"{}\">\n<header><h1>{}</h1>\
         <p class=\"meta\">rackd analyze {} · loudness per ITU-R BS.1770-4 / EBU R128, \
         true peak per BS.1770 Annex 2 (4×) · times in m:ss</p></header>\n",
        esc(&title),
        if matches!(page.reference, Some(Ok(_))) {
            "compare"
        } else {
            "single"
        },
        esc(&title),
        env!("CARGO_PKG_VERSION")
    );
    let reference = match &page.reference {
        Some(Ok(r)) => Some(*r),
        Some(Err((p, e))) => {
            let _ = writeln!(
                out,
                "<p class=\"error\">The reference {} could not be read: {}. \
                 The report has no comparison.</p>",
                esc(&p.display().to_string()),
                esc(e)
            );
            None
        }
        None => None,
    };
    if !page.failed.is_empty() {
        out.push_str("<ul class=\"findings\">");
        for (p, e) in &page.failed {
            let _ = write!(
                out,
                "<li class=\"mix error\">{} could not be analyzed: {}</li>",
                esc(&p.display().to_string()),
                esc(e)
            );
        }
        out.push_str("</ul>\n");
    }
    if page.tracks.len() >= 2 {
        album_section(&mut out, page);
    }
    for (k, t) in page.tracks.iter().enumerate() {
        track_section(&mut out, k, t, reference, page.target);
    }
    out.push_str("</body></html>\n");
    out
}

fn fmt_lufs(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1} LUFS")
    } else {
        "below gate".into()
    }
}

fn fmt_signed(v: f64, unit: &str) -> String {
    if v.is_finite() {
        format!("{v:+.1} {unit}")
    } else {
        format!("−∞ {unit}")
    }
}

fn format_line(t: &Track) -> String {
    let f = &t.facts;
    let rate = f.sample_rate as f64 / 1000.0;
    let rate = if rate.fract() == 0.0 {
        format!("{rate:.0} kHz")
    } else {
        format!("{rate:.1} kHz")
    };
    let bits = match (f.float, f.stored_bits, effective_bits(t.report, f)) {
        (true, _, _) => "float".to_string(),
        (false, Some(b), Some(e)) if e < b => format!("{b}-bit (effective {e})"),
        (false, Some(b), _) => format!("{b}-bit"),
        (false, None, Some(e)) => format!("effective {e}-bit"),
        (false, None, None) => "unknown bit depth".into(),
    };
    let chans = match t.series.channels {
        1 => "mono".to_string(),
        2 => "stereo".to_string(),
        c => format!("{c} channels"),
    };
    let ext = t
        .path
        .extension()
        .map(|e| e.to_string_lossy().to_uppercase())
        .unwrap_or_default();
    let mut parts = vec![rate, bits, chans, timecode(t.duration(), 1)];
    if !ext.is_empty() {
        parts.insert(0, ext);
    }
    parts.join(" · ")
}

/// The headline numbers as table cells.
fn headline(t: &Track) -> Vec<(&'static str, String)> {
    let r = t.report;
    let bits = effective_bits(r, &t.facts).map_or_else(|| "float".into(), |b| format!("{b} bit"));
    vec![
        ("Integrated loudness", fmt_lufs(r.scan.integrated)),
        ("Loudness range", format!("{:.1} LU", r.scan.lra)),
        ("True peak", fmt_signed(t.true_peak_db(), "dBTP")),
        (
            "PLR",
            if r.plr.is_finite() {
                format!("{:.1} dB", r.plr)
            } else {
                "–".into()
            },
        ),
        (
            "Correlation",
            r.correlation
                .map_or_else(|| "– (mono)".into(), |c| format!("{c:+.2}")),
        ),
        ("Effective bit depth", bits),
        ("Max momentary", fmt_lufs(r.scan.max_momentary)),
        ("Max short-term", fmt_lufs(r.scan.max_short_term)),
    ]
}

fn findings_list(out: &mut String, t: &Track) {
    if t.findings.is_empty() {
        out.push_str("<p class=\"none\">No findings: nothing to report.</p>\n");
        return;
    }
    out.push_str("<ul class=\"findings\">");
    for f in t.findings {
        let _ = write!(
            out,
            "<li class=\"{}\">{}</li>",
            f.remedy.name(),
            esc(&f.text)
        );
    }
    out.push_str("</ul>\n");
}

fn handover(out: &mut String, t: &Track) {
    out.push_str("<h3>For the mix engineer</h3><div class=\"handover\">");
    for (remedy, head, empty) in [
        (
            Remedy::Mix,
            "Please fix in the mix",
            "Nothing to fix in the mix.",
        ),
        (
            Remedy::Mastering,
            "Mastering will handle",
            "Nothing special for mastering to handle.",
        ),
    ] {
        let _ = write!(out, "<div><h4>{head}</h4>");
        let items: Vec<&Finding> = t.findings.iter().filter(|f| f.remedy == remedy).collect();
        if items.is_empty() {
            let _ = write!(out, "<p class=\"none\">{empty}</p>");
        } else {
            out.push_str("<ul>");
            for f in items {
                let _ = write!(
                    out,
                    "<li>{}<span class=\"advice\">{}</span></li>",
                    esc(&f.text),
                    esc(&f.advice)
                );
            }
            out.push_str("</ul>");
        }
        out.push_str("</div>");
    }
    out.push_str("</div>\n");
}

fn figure(out: &mut String, caption: &str, svg: &str) {
    let _ = writeln!(
        out,
        "<figure><figcaption>{}</figcaption>{svg}</figure>",
        esc(caption)
    );
}

/// A plot of the file, or of the file and the reference side by side.
fn figure_pair(
    out: &mut String,
    caption: &str,
    t: &Track,
    r: Option<&Track>,
    draw: &dyn Fn(&Track, Option<&Track>) -> String,
) {
    // Each drawn on the other's scales, so the pair compares.
    match r {
        None => figure(out, caption, &draw(t, None)),
        Some(r) => {
            out.push_str("<div class=\"pair\">");
            figure(out, &format!("{caption}: {}", t.name()), &draw(t, Some(r)));
            figure(
                out,
                &format!("{caption}: reference {}", r.name()),
                &draw(r, Some(t)),
            );
            out.push_str("</div>\n");
        }
    }
}

fn track_section(
    out: &mut String,
    k: usize,
    t: &Track,
    reference: Option<Track>,
    target: Option<f64>,
) {
    let _ = writeln!(
        out,
        "<section class=\"track\" id=\"track-{}\"><h2>{}</h2><p class=\"format\">{}</p>",
        k + 1,
        esc(&t.name()),
        esc(&format_line(t))
    );
    out.push_str("<table class=\"numbers\"><tr><th></th><th>this file</th>");
    if let Some(r) = &reference {
        let _ = write!(out, "<th>reference {}</th>", esc(&r.name()));
    }
    out.push_str("</tr>");
    let mine = headline(t);
    let theirs = reference.as_ref().map(headline);
    for (i, (label, v)) in mine.iter().enumerate() {
        let _ = write!(out, "<tr><td>{label}</td><td>{}</td>", esc(v));
        if let Some(th) = &theirs {
            let _ = write!(out, "<td>{}</td>", esc(&th[i].1));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>\n<h3>Findings</h3>\n");
    findings_list(out, t);
    handover(out, t);
    let comparison = reference.as_ref().map(|r| (r, compare(t, r)));
    if let Some((r, c)) = &comparison {
        let _ = write!(
            out,
            "<h3>Against the reference {}</h3><ul class=\"findings\">",
            esc(&r.name())
        );
        for line in comparison_lines(c) {
            let _ = write!(out, "<li class=\"mastering\">{}</li>", esc(&line));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<h3>Plots</h3>\n");
    let r = reference.as_ref();
    figure_pair(out, "Waveform", t, r, &plots::waveform);
    figure_pair(out, "Loudness", t, r, &|x, peer| {
        plots::loudness(x, peer, target)
    });
    figure_pair(out, "True peak", t, r, &plots::true_peak);
    let overlay = comparison.as_ref().map(|(r, c)| (*r, c.offset_db));
    figure(out, "Spectrum per channel", &plots::spectrum(t, overlay));
    figure(
        out,
        "Spectrum, mid and side",
        &plots::spectrum_ms(t, overlay),
    );
    if let Some((_, c)) = &comparison {
        figure(
            out,
            "Spectrum difference to the reference",
            &plots::difference(c),
        );
    }
    figure_pair(out, "Stereo correlation", t, r, &plots::correlation);
    out.push_str("<div class=\"scopes\">");
    figure(
        out,
        &format!("Vectorscope: {}", t.name()),
        &plots::vectorscope(t, r),
    );
    if let Some(r) = r {
        figure(
            out,
            &format!("Vectorscope: reference {}", r.name()),
            &plots::vectorscope(r, Some(t)),
        );
    }
    out.push_str("</div>\n");
    figure_pair(out, "Dynamics", t, r, &plots::dynamics);
    figure_pair(
        out,
        "Short-term loudness histogram",
        t,
        r,
        &plots::histogram,
    );
    out.push_str("</section>\n");
}

fn album_section(out: &mut String, page: &Page) {
    let tracks = page.tracks;
    out.push_str("<section class=\"album\"><h2>Album</h2>");
    if let Some(a) = page.album {
        let tp = tracks
            .iter()
            .map(|t| t.true_peak_db())
            .fold(f64::NEG_INFINITY, f64::max);
        let _ = write!(
            out,
            "<p class=\"format\">{} tracks · album integrated {} · highest true peak {}</p>",
            tracks.len(),
            esc(&fmt_lufs(a)),
            esc(&fmt_signed(tp, "dBTP"))
        );
    }
    let (_, diffs) = album_tonal(tracks);
    out.push_str(
        "<table class=\"numbers\"><tr><th>#</th><th>file</th><th>length</th><th>integrated</th>\
         <th>LRA</th><th>true peak</th><th>PLR</th><th>findings</th><th>tonal balance against the album</th></tr>",
    );
    for (k, (t, d)) in tracks.iter().zip(&diffs).enumerate() {
        let tonal = if d.largest.is_empty() {
            "within 1 dB".to_string()
        } else {
            d.largest
                .iter()
                .map(|b| b.describe("the album"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let mix = t
            .findings
            .iter()
            .filter(|f| f.remedy == Remedy::Mix)
            .count();
        let _ = write!(
            out,
            "<tr><td>{}</td><td><a href=\"#track-{}\">{}</a></td><td>{}</td><td>{}</td><td>{:.1} LU</td><td>{}</td><td>{:.1} dB</td><td>{} ({} for the mix)</td><td>{}</td></tr>",
            k + 1,
            k + 1,
            esc(&t.name()),
            timecode(t.duration(), 1),
            esc(&fmt_lufs(t.report.scan.integrated)),
            t.report.scan.lra,
            esc(&fmt_signed(t.true_peak_db(), "dBTP")),
            t.report.plr,
            t.findings.len(),
            mix,
            esc(&tonal)
        );
    }
    out.push_str("</table>\n");
    figure(
        out,
        "Loudness and true peak per track",
        &plots::album_loudness(tracks, page.album),
    );
    let named: Vec<(String, Vec<f64>)> = diffs
        .iter()
        .enumerate()
        .map(|(k, d)| ((k + 1).to_string(), d.difference.clone()))
        .collect();
    figure(
        out,
        "Tonal balance: each track (by number) against the album average",
        &plots::album_tonal(&named),
    );
    out.push_str("</section>\n");
}
