//! The report's plots, one function each, drawn from a [`Track`]'s
//! measurements. A plot whose data cannot be computed for this file (too
//! short, mono) is still an `<svg>` of its kind that says why.

use super::Track;
use super::svg::{Plot, Scale, freq_ticks, message, step_ticks, time_ticks};
use rackd_dsp::findings::{Kind, channel_label};
use rackd_dsp::series::LOW_END_HZ;
use rackd_dsp::spectrum::{Comparison, band_name, frequencies};
use std::fmt::Write;

/// Width of every plot (viewBox units).
pub const W: f64 = 760.0;
/// Most points a drawn line keeps (pairs of min and max per column).
const MAX_COLUMNS: usize = 900;
/// Cells per side of the drawn vectorscope.
const SCOPE_VIEW: usize = 64;

fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

fn fmt_db(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else {
        format!("{v:+.0}").replace('-', "−")
    }
}

/// Groups of windows per drawn column, so long files keep peaks.
fn columns(n: usize) -> usize {
    n.div_ceil(MAX_COLUMNS).max(1)
}

/// `(x, y)` points of a series, thinned to its minimum and maximum per
/// column (in that order), NaN kept as a break.
fn thinned(xs: impl Fn(usize) -> f64, ys: &[f64]) -> Vec<(f64, f64)> {
    let g = columns(ys.len());
    if g == 1 {
        return ys.iter().enumerate().map(|(i, &y)| (xs(i), y)).collect();
    }
    let mut out = Vec::new();
    for (c, chunk) in ys.chunks(g).enumerate() {
        let fin: Vec<f64> = chunk.iter().copied().filter(|v| v.is_finite()).collect();
        let x = xs(c * g + chunk.len() / 2);
        if fin.is_empty() {
            out.push((x, f64::NAN));
            continue;
        }
        let lo = fin.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = fin.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        out.push((xs(c * g), lo));
        out.push((x, hi));
    }
    out
}

fn duration(t: &Track) -> f64 {
    t.series.frames as f64 / t.series.sample_rate
}

fn channel_class(ch: usize) -> String {
    format!("ch{}", ch.min(7))
}

/// Peak and RMS envelope per channel, clipped runs and true-peak overs marked.
pub fn waveform(t: &Track, _peer: Option<&Track>) -> String {
    let s = t.series;
    let lanes = s.channels;
    let lane_h = if lanes > 2 { 50.0 } else { 80.0 };
    let dur = duration(t).max(s.hop_s());
    let mut p = Plot::new(
        "waveform",
        W,
        24.0 + 34.0 + lane_h * lanes as f64,
        Scale::Lin(0.0, dur),
        Scale::Lin(0.0, lanes as f64),
    );
    let mut yticks = Vec::new();
    let g = columns(s.len());
    let n = s.len().div_ceil(g);
    let xs: Vec<f64> = (0..=n).map(|c| s.start_s((c * g).min(s.len()))).collect();
    for ch in 0..lanes {
        let mid = (lanes - ch) as f64 - 0.5;
        yticks.push((mid, channel_label(ch, lanes)));
        yticks.push((mid + 0.5 * 0.5, "−6".to_string()));
        let col = |v: &[f32]| -> Vec<f64> {
            v.chunks(g)
                .map(|c| c.iter().fold(0f32, |m, &x| m.max(x)) as f64)
                .collect()
        };
        let peak = col(&s.peak[ch]);
        let rms = col(&s.rms[ch]);
        // Each column drawn as a step: its value from its start to the next.
        let step = |v: &[f64], sign: f64| -> (Vec<f64>, Vec<f64>) {
            let mut x = Vec::new();
            let mut y = Vec::new();
            for (c, &a) in v.iter().enumerate() {
                x.push(xs[c]);
                y.push(mid + sign * 0.5 * a.min(1.0));
                x.push(xs[c + 1]);
                y.push(mid + sign * 0.5 * a.min(1.0));
            }
            (x, y)
        };
        let class = channel_class(ch);
        for (v, kind) in [(&peak, "peak"), (&rms, "rms")] {
            let (x, hi) = step(v, 1.0);
            let (_, lo) = step(v, -1.0);
            p.band(&x, &lo, &hi, &format!("{kind} {class}"));
        }
        for (i, &c) in s.clipped[ch].iter().enumerate() {
            if c > 0 {
                let x = s.start_s(i) + s.hop_s() / 2.0;
                p.vmark(x, mid - 0.5, mid + 0.5, "clip");
            }
        }
        for (i, &v) in s.true_peak[ch].iter().enumerate() {
            if v > 1.0 {
                let x = s.start_s(i) + s.hop_s() / 2.0;
                p.vmark(x, mid + 0.5, mid + 0.38, "over");
            }
        }
    }
    let clips: u64 = s.clips.iter().map(|c| c.runs).sum();
    let overs = s.true_peak.iter().flatten().filter(|&&v| v > 1.0).count();
    if clips > 0 {
        p.legend(&format!("clipped ({clips} runs)"), "clip");
    }
    if overs > 0 {
        p.legend("true peak over 0 dBTP", "over");
    }
    let p = p
        .x_axis("time (m:ss)", time_ticks(dur))
        .y_axis("amplitude (dBFS)", yticks);
    p.finish("Waveform overview: peak (light) and RMS (dark) per channel")
}

/// Momentary and short-term loudness, integrated and target lines.
/// The highest finite momentary loudness of a track, LUFS.
fn max_momentary(t: &Track) -> f64 {
    t.series
        .momentary
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Momentary and short-term loudness, integrated and target lines (on the
/// same scale as `peer`'s when given, so plots side by side compare).
pub fn loudness(t: &Track, peer: Option<&Track>, target: Option<f64>) -> String {
    let s = t.series;
    let dur = duration(t).max(s.hop_s());
    let own_max = max_momentary(t);
    if !own_max.is_finite() {
        return message(
            "loudness",
            W,
            220.0,
            "Loudness over time",
            "No momentary loudness: the file is shorter than 400 ms or silent.",
        );
    }
    let finite_max = own_max.max(peer.map_or(f64::NEG_INFINITY, max_momentary));
    let top = ((finite_max.max(target.unwrap_or(-60.0)) + 3.0) / 5.0).ceil() * 5.0;
    let top = top.min(10.0);
    let bottom = top - 45.0;
    let mut p = Plot::new(
        "loudness",
        W,
        220.0,
        Scale::Lin(0.0, dur),
        Scale::Lin(bottom, top),
    );
    let end = |i: usize| s.start_s(i + 1).min(dur);
    p.line(&thinned(end, &s.momentary), "mom");
    p.line(&thinned(end, &s.short_term), "short");
    p.legend("momentary (400 ms)", "mom");
    p.legend("short-term (3 s)", "short");
    let i = t.report.scan.integrated;
    if i.is_finite() {
        p.hline_left(i, "integrated", &format!("integrated {i:.1} LUFS"));
    }
    if let Some(target) = target {
        p.hline(target, "target", &format!("target {target:.1} LUFS"));
    }
    if s.short_term.iter().all(|v| v.is_nan()) {
        p.note("No short-term loudness: it needs 3 s of audio.");
    }
    let p = p.x_axis("time (m:ss)", time_ticks(dur)).y_axis(
        "loudness (LUFS)",
        step_ticks(bottom, top, 5.0, |v| format!("{v:.0}")),
    );
    p.finish("Loudness over time (BS.1770 momentary and short-term)")
}

/// True peak per window with the 0 and −1 dBTP lines.
pub fn true_peak(t: &Track, peer: Option<&Track>) -> String {
    let s = t.series;
    let dur = duration(t).max(s.hop_s());
    let mut all: Vec<f64> = std::iter::once(t)
        .chain(peer)
        .flat_map(|x| x.series.true_peak.iter().flatten())
        .map(|&v| db(v as f64))
        .filter(|v| v.is_finite())
        .collect();
    all.sort_by(f64::total_cmp);
    let low = all.get(all.len() / 10).copied().unwrap_or(-24.0);
    let bottom = (((low - 3.0) / 6.0).floor() * 6.0).clamp(-60.0, -12.0);
    let top = 3.0f64
        .max(all.last().copied().unwrap_or(0.0).ceil() + 1.0)
        .min(12.0);
    let mut p = Plot::new(
        "true-peak",
        W,
        200.0,
        Scale::Lin(0.0, dur),
        Scale::Lin(bottom, top),
    );
    let mid = |i: usize| s.start_s(i) + s.hop_s() / 2.0;
    for ch in 0..s.channels {
        let v: Vec<f64> = s.true_peak[ch].iter().map(|&x| db(x as f64)).collect();
        let class = channel_class(ch);
        p.line(&thinned(mid, &v), &class);
        p.legend(&channel_label(ch, s.channels), &class);
    }
    p.hline(0.0, "limit", "0 dBTP");
    p.hline_left(-1.0, "limit2", "−1 dBTP");
    let step = if top - bottom > 30.0 { 6.0 } else { 3.0 };
    let p = p.x_axis("time (m:ss)", time_ticks(dur)).y_axis(
        "true peak per 100 ms (dBTP)",
        step_ticks(bottom, top, step, fmt_db),
    );
    p.finish("True peak per 100 ms (BS.1770 Annex 2)")
}

/// The y range (bottom, top) that holds `curves`' finite values, 10 dB steps.
fn spectrum_range<'a>(curves: impl Iterator<Item = &'a Vec<f64>>) -> (f64, f64) {
    let mut vals: Vec<f64> = curves
        .flat_map(|c| c.iter().copied())
        .filter(|v| v.is_finite())
        .collect();
    if vals.is_empty() {
        return (-90.0, 0.0);
    }
    vals.sort_by(f64::total_cmp);
    let top = ((vals[vals.len() - 1] + 3.0) / 10.0).ceil() * 10.0;
    let low = vals[vals.len() / 50];
    let bottom = (((low - 5.0) / 10.0).floor() * 10.0)
        .max(top - 100.0)
        .min(top - 40.0);
    (bottom, top)
}

/// A spectrum plot of some of the curves (by name), with the reference's
/// same curves dashed when given.
fn spectrum_plot(
    kind: &'static str,
    title: &str,
    t: &Track,
    names: &[&str],
    reference: Option<(&Track, f64)>,
) -> String {
    let sp = t.spectrum;
    if sp.frames == 0 {
        return message(
            kind,
            W,
            240.0,
            title,
            "No spectrum: the file is shorter than 2048 samples.",
        );
    }
    let freqs = frequencies();
    let pick = |tr: &Track, name: &str| -> Option<Vec<f64>> {
        let sp = tr.spectrum;
        let k = sp.names.iter().position(|n| n == name)?;
        Some(sp.smoothed(&sp.bins[k]))
    };
    let mut lines: Vec<(String, String, Vec<f64>)> = Vec::new();
    for (k, name) in names.iter().enumerate() {
        if let Some(c) = pick(t, name) {
            lines.push((name.to_string(), format!("sp{k}"), c));
        }
    }
    if let Some((r, offset)) = reference {
        for (k, name) in names.iter().enumerate() {
            // A mono reference overlays its only curve.
            let curve = pick(r, name)
                .or_else(|| (r.spectrum.names.len() == 1).then(|| r.spectrum.average()));
            if let Some(c) = curve {
                let shifted = c.iter().map(|v| v + offset).collect();
                lines.push((format!("reference {name}"), format!("sp{k} ref"), shifted));
            }
        }
    }
    let (bottom, top) = spectrum_range(lines.iter().map(|l| &l.2));
    let mut p = Plot::new(
        kind,
        W,
        240.0,
        Scale::Log(20.0, 20_000.0),
        Scale::Lin(bottom, top),
    );
    for (label, class, c) in &lines {
        let pts: Vec<(f64, f64)> = freqs.iter().copied().zip(c.iter().copied()).collect();
        p.line(&pts, class);
        p.legend(label, class);
    }
    if let Some((_, offset)) = reference {
        p.note(&format!("reference loudness-matched ({offset:+.1} dB)"));
    }
    let p = p.x_axis("frequency (Hz)", freq_ticks()).y_axis(
        "level in 1/6-octave band (dBFS)",
        step_ticks(bottom, top, 10.0, |v| format!("{v:.0}")),
    );
    p.finish(title)
}

/// Long-term average spectrum per channel (L/R, or each channel).
pub fn spectrum(t: &Track, reference: Option<(&Track, f64)>) -> String {
    let names: Vec<&str> = t
        .spectrum
        .names
        .iter()
        .map(String::as_str)
        .filter(|n| *n != "M" && *n != "S")
        .collect();
    spectrum_plot(
        "spectrum",
        "Long-term average spectrum per channel, 1/6-octave smoothed",
        t,
        &names,
        reference,
    )
}

/// Long-term average spectrum of mid and side.
pub fn spectrum_ms(t: &Track, reference: Option<(&Track, f64)>) -> String {
    if t.series.channels != 2 {
        return message(
            "spectrum-ms",
            W,
            240.0,
            "Mid and side spectrum",
            "Not stereo: no mid and side.",
        );
    }
    spectrum_plot(
        "spectrum-ms",
        "Long-term average spectrum of mid (L+R)/2 and side (L−R)/2, 1/6-octave smoothed",
        t,
        &["M", "S"],
        reference,
    )
}

/// The loudness-matched spectrum difference to the reference, the largest
/// differences shaded and named.
pub fn difference(c: &Comparison) -> String {
    let freqs = frequencies();
    let max = c
        .difference
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0f64, |m, v| m.max(v.abs()));
    if max == 0.0 && c.difference.iter().all(|v| v.is_nan()) {
        return message(
            "spectrum-difference",
            W,
            220.0,
            "Difference to the reference",
            "No spectrum to compare.",
        );
    }
    let range = ((max + 1.0) / 3.0).ceil().clamp(2.0, 8.0) * 3.0;
    let mut p = Plot::new(
        "spectrum-difference",
        W,
        220.0,
        Scale::Log(20.0, 20_000.0),
        Scale::Lin(-range, range),
    );
    for b in &c.largest {
        p.vspan(b.from_hz, b.to_hz, "span");
        p.vmark(b.from_hz, -range, range, "bandedge");
        p.vmark(b.to_hz, -range, range, "bandedge");
    }
    p.hline(0.0, "zero", "");
    let pts: Vec<(f64, f64)> = freqs
        .iter()
        .copied()
        .zip(c.difference.iter().copied())
        .collect();
    p.line(&pts, "diff");
    p.legend("this file − reference (loudness-matched)", "diff");
    // Named bands, largest first, one row each so neighbours never overlap.
    for (k, b) in c.largest.iter().enumerate() {
        let row = 0.88 - 0.14 * k as f64;
        let y = if b.difference_db > 0.0 {
            -range * row
        } else {
            range * row
        };
        let label = format!(
            "{:+.1} dB {}",
            b.difference_db,
            band_name(b.from_hz, b.to_hz)
        );
        p.label((b.from_hz * b.to_hz).sqrt(), y, &label.replace('-', "−"));
    }
    let step = if range > 12.0 { 6.0 } else { 3.0 };
    let p = p
        .x_axis("frequency (Hz)", freq_ticks())
        .y_axis("difference (dB)", step_ticks(-range, range, step, fmt_db));
    p.finish("Spectrum difference to the reference, loudness-matched")
}

/// Correlation over time, full band and below 120 Hz.
pub fn correlation(t: &Track, _peer: Option<&Track>) -> String {
    let s = t.series;
    if s.channels != 2 {
        return message(
            "correlation",
            W,
            200.0,
            "Stereo correlation",
            "Not a stereo file: no L/R correlation.",
        );
    }
    let dur = duration(t).max(s.hop_s());
    let mut p = Plot::new(
        "correlation",
        W,
        200.0,
        Scale::Lin(0.0, dur),
        Scale::Lin(-1.0, 1.0),
    );
    for f in t
        .findings
        .iter()
        .filter(|f| f.kind == Kind::LowEndOutOfPhase)
    {
        for &(a, b) in &f.spans {
            p.vspan(a, b, "span");
        }
    }
    p.hline(0.0, "zero", "");
    let mid = |i: usize| s.start_s(i) + s.hop_s() / 2.0;
    p.line(&thinned(mid, &s.correlation), "corr");
    p.line(&thinned(mid, &s.low_correlation), "lowcorr");
    p.legend("full band", "corr");
    p.legend(&format!("below {LOW_END_HZ:.0} Hz"), "lowcorr");
    let p = p.x_axis("time (m:ss)", time_ticks(dur)).y_axis(
        "correlation (300 ms)",
        step_ticks(-1.0, 1.0, 0.5, |v| {
            format!("{v:+.1}").replace("+0.0", "0").replace('-', "−")
        }),
    );
    p.finish("Stereo correlation over time, full band and low end")
}

/// The vectorscope (goniometer) as a density image.
pub fn vectorscope(t: &Track, peer: Option<&Track>) -> String {
    let Some(scope) = &t.series.scope else {
        return message(
            "vectorscope",
            320.0,
            320.0,
            "Vectorscope",
            "Not a stereo file: no vectorscope.",
        );
    };
    // Side by side, both at the smaller zoom so the images compare.
    let zoom = peer
        .and_then(|p| p.series.scope.as_ref())
        .map_or(usize::MAX, |p| p.zoom(0.999))
        .min(scope.zoom(0.999));
    let cells = scope.view(zoom, SCOPE_VIEW);
    let max = cells.iter().copied().max().unwrap_or(0);
    let size = 320.0;
    let (x0, y0, span) = (10.0, 10.0, 300.0);
    let cell = span / SCOPE_VIEW as f64;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="plot scope" data-plot="vectorscope" viewBox="0 0 {size:.0} {:.0}" role="img"><title>Vectorscope: sample density, mid up, left to the left</title>"#,
        size + 24.0
    );
    let _ = write!(
        out,
        r#"<rect class="scopebg" x="{x0}" y="{y0}" width="{span}" height="{span}"/>"#
    );
    if max > 0 {
        let level = |n: u32| -> usize {
            if n == 0 {
                0
            } else {
                let f = (n as f64).ln_1p() / (max as f64).ln_1p();
                ((f * 8.0).ceil() as usize).clamp(1, 8)
            }
        };
        for r in 0..SCOPE_VIEW {
            let mut c = 0;
            while c < SCOPE_VIEW {
                let l = level(cells[r * SCOPE_VIEW + c]);
                let start = c;
                while c < SCOPE_VIEW && level(cells[r * SCOPE_VIEW + c]) == l {
                    c += 1;
                }
                if l > 0 {
                    let _ = write!(
                        out,
                        r#"<rect class="d{l}" x="{:.2}" y="{:.2}" width="{:.2}" height="{cell:.2}"/>"#,
                        x0 + start as f64 * cell,
                        y0 + r as f64 * cell,
                        (c - start) as f64 * cell
                    );
                }
            }
        }
    }
    let (cx, cy) = (x0 + span / 2.0, y0 + span / 2.0);
    let _ = write!(
        out,
        r#"<line class="scopeaxis" x1="{cx}" y1="{y0}" x2="{cx}" y2="{}"/><line class="scopeaxis" x1="{x0}" y1="{cy}" x2="{}" y2="{cy}"/><line class="scopeaxis" x1="{x0}" y1="{y0}" x2="{}" y2="{}"/><line class="scopeaxis" x1="{}" y1="{y0}" x2="{x0}" y2="{}"/>"#,
        y0 + span,
        x0 + span,
        x0 + span,
        y0 + span,
        x0 + span,
        y0 + span
    );
    let _ = write!(
        out,
        r#"<text class="scopelabel" x="{:.0}" y="{:.0}">L</text><text class="scopelabel" x="{:.0}" y="{:.0}" text-anchor="end">R</text><text class="scopelabel" x="{:.0}" y="{:.0}" text-anchor="middle">M</text><text class="scopelabel" x="{:.0}" y="{:.0}">S</text>"#,
        x0 + 6.0,
        y0 + 16.0,
        x0 + span - 6.0,
        y0 + 16.0,
        cx + 10.0,
        y0 + 14.0,
        x0 + span - 14.0,
        cy - 6.0
    );
    let edge = db(1.0 / zoom as f64);
    let _ = write!(
        out,
        r#"<text class="tick" x="{cx}" y="{:.0}" text-anchor="middle">zoom ×{zoom}: edge at {} dBFS</text></svg>"#,
        y0 + span + 18.0,
        fmt_db(edge.round())
    );
    out
}

/// The highest short-term PLR or crest factor of a track, dB.
fn max_dynamics(t: &Track) -> f64 {
    let s = t.series;
    s.short_term_plr()
        .into_iter()
        .chain(s.short_term_crest())
        .filter(|v| v.is_finite())
        .fold(0f64, f64::max)
}

/// Short-term PLR and crest factor over time.
pub fn dynamics(t: &Track, peer: Option<&Track>) -> String {
    let s = t.series;
    let plr = s.short_term_plr();
    let crest = s.short_term_crest();
    if plr.iter().chain(&crest).all(|v| !v.is_finite()) {
        return message(
            "dynamics",
            W,
            200.0,
            "Short-term PLR and crest factor",
            "Needs 3 s of audio (short-term loudness); this file is too short or silent.",
        );
    }
    let dur = duration(t).max(s.hop_s());
    let max = max_dynamics(t).max(peer.map_or(0.0, max_dynamics));
    let top = ((max + 2.0) / 5.0).ceil().max(4.0) * 5.0;
    let mut p = Plot::new(
        "dynamics",
        W,
        200.0,
        Scale::Lin(0.0, dur),
        Scale::Lin(0.0, top),
    );
    let end = |i: usize| s.start_s(i + 1).min(dur);
    p.hline(8.0, "limit2", "PLR 8 dB: heavily limited below");
    p.line(&thinned(end, &plr), "plr");
    p.line(&thinned(end, &crest), "crest");
    p.legend("short-term PLR (true peak − loudness, 3 s)", "plr");
    p.legend("crest factor (peak − RMS, 3 s)", "crest");
    let p = p
        .x_axis("time (m:ss)", time_ticks(dur))
        .y_axis("dB", step_ticks(0.0, top, 5.0, |v| format!("{v:.0}")));
    p.finish("Dynamics over time: short-term PLR and crest factor")
}

/// Lowest loudness in the histogram, LUFS.
pub const HIST_FROM: f64 = -60.0;
/// Bins (1 LU each) in the histogram.
pub const HIST_BINS: usize = 60;

/// A track's short-term histogram as shares of its time, %.
fn shares(t: &Track) -> Vec<f64> {
    let h = t.series.short_term_histogram(HIST_FROM, HIST_BINS);
    let total: u32 = h.iter().sum();
    h.iter()
        .map(|&c| 100.0 * c as f64 / total.max(1) as f64)
        .collect()
}

/// Histogram of short-term loudness (share of the time per LU).
pub fn histogram(t: &Track, peer: Option<&Track>) -> String {
    let share = shares(t);
    let both: Vec<f64> = match peer {
        Some(p) => share.iter().zip(shares(p)).map(|(a, b)| a.max(b)).collect(),
        None => share.clone(),
    };
    let total: f64 = share.iter().sum();
    if total == 0.0 {
        return message(
            "histogram",
            W,
            200.0,
            "Short-term loudness histogram",
            "Needs 3 s of audio (short-term loudness); this file is too short or silent.",
        );
    }
    let first = both.iter().position(|&c| c > 0.0).unwrap_or(0);
    let last = both.iter().rposition(|&c| c > 0.0).unwrap_or(HIST_BINS - 1);
    let (mut lo, mut hi) = (first.saturating_sub(2), (last + 3).min(HIST_BINS));
    while hi - lo < 20 {
        lo = lo.saturating_sub(1);
        hi = (hi + 1).min(HIST_BINS);
        if lo == 0 && hi == HIST_BINS {
            break;
        }
    }
    let top = (both.iter().copied().fold(0.0, f64::max) / 5.0)
        .ceil()
        .max(1.0)
        * 5.0;
    let (x0, x1) = (HIST_FROM + lo as f64, HIST_FROM + hi as f64);
    let mut p = Plot::new(
        "histogram",
        W,
        200.0,
        Scale::Lin(x0, x1),
        Scale::Lin(0.0, top),
    );
    for (k, &v) in share.iter().enumerate().take(hi).skip(lo) {
        if v > 0.0 {
            let (a, b) = (p.px(HIST_FROM + k as f64), p.px(HIST_FROM + k as f64 + 1.0));
            let (y, base) = (p.py(v), p.py(0.0));
            p.raw(&format!(
                r#"<rect class="bar" x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}"/>"#,
                a + 0.5,
                (b - a - 1.0).max(0.5),
                base - y
            ));
        }
    }
    let i = t.report.scan.integrated;
    if i.is_finite() {
        p.vmark(i, 0.0, top, "integrated");
    }
    let step = if hi - lo > 30 { 5.0 } else { 2.0 };
    let p = p
        .x_axis(
            "short-term loudness (LUFS)",
            step_ticks(x0, x1, step, |v| format!("{v:.0}")),
        )
        .y_axis(
            "share of time (%)",
            step_ticks(0.0, top, top / 5.0, |v| format!("{v:.0}")),
        );
    p.finish("Histogram of short-term loudness (1 LU bins), integrated marked")
}

/// Album: per-track integrated loudness, short-term range and true peak.
pub fn album_loudness(tracks: &[Track], album: Option<f64>) -> String {
    let n = tracks.len();
    let mut vals = Vec::new();
    let rows: Vec<(f64, f64, f64, f64)> = tracks
        .iter()
        .map(|t| {
            let mut st: Vec<f64> = t
                .series
                .short_term
                .iter()
                .copied()
                .filter(|v| v.is_finite())
                .collect();
            st.sort_by(f64::total_cmp);
            let pct = |p: f64| {
                st.get(((st.len().max(1) - 1) as f64 * p) as usize)
                    .copied()
                    .unwrap_or(f64::NAN)
            };
            let tp = db(t.report.scan.true_peak.iter().fold(0f32, |m, &v| m.max(v)) as f64);
            let row = (t.report.scan.integrated, pct(0.10), pct(0.95), tp);
            vals.extend([row.0, row.1, row.2, row.3]);
            row
        })
        .collect();
    let fin: Vec<f64> = vals.into_iter().filter(|v| v.is_finite()).collect();
    let top = ((fin.iter().copied().fold(-60.0, f64::max) + 2.0) / 5.0).ceil() * 5.0;
    let bottom = ((fin.iter().copied().fold(0.0, f64::min) - 2.0) / 5.0).floor() * 5.0;
    let bottom = bottom.max(top - 60.0);
    let mut p = Plot::new(
        "album-loudness",
        W,
        240.0,
        Scale::Lin(0.5, n as f64 + 0.5),
        Scale::Lin(bottom, top),
    );
    for (k, &(i, lo, hi, tp)) in rows.iter().enumerate() {
        let x = k as f64 + 1.0;
        if lo.is_finite() && hi.is_finite() {
            let (a, b) = (p.px(x - 0.18), p.px(x + 0.18));
            let (y1, y0) = (p.py(hi), p.py(lo));
            p.raw(&format!(
                r#"<rect class="range" x="{a:.1}" y="{y1:.1}" width="{:.1}" height="{:.1}"/>"#,
                b - a,
                (y0 - y1).max(1.0)
            ));
        }
        if i.is_finite() {
            let (cx, cy) = (p.px(x), p.py(i));
            p.raw(&format!(
                r#"<circle class="dot" cx="{cx:.1}" cy="{cy:.1}" r="4"/>"#
            ));
        }
        if tp.is_finite() {
            let (cx, cy) = (p.px(x), p.py(tp));
            p.raw(&format!(
                r#"<path class="tp" d="M{:.1} {:.1} L{:.1} {:.1} L{cx:.1} {:.1} Z"/>"#,
                cx - 5.0,
                cy - 4.0,
                cx + 5.0,
                cy - 4.0,
                cy + 4.0
            ));
        }
    }
    if let Some(a) = album.filter(|v| v.is_finite()) {
        p.hline(a, "integrated", &format!("album {a:.1} LUFS"));
    }
    p.hline(0.0, "limit", "0 dBTP");
    let ticks = (1..=n).map(|k| (k as f64, k.to_string())).collect();
    let mut p = p.x_axis("track", ticks).y_axis(
        "LUFS / dBTP",
        step_ticks(bottom, top, 5.0, |v| format!("{v:.0}")),
    );
    p.legend(
        "integrated (dot), short-term 10–95 % (bar), true peak (triangle)",
        "none",
    );
    p.finish("Album: loudness and true peak per track")
}

/// Album: each track's loudness-matched spectrum minus the album average.
pub fn album_tonal(diffs: &[(String, Vec<f64>)]) -> String {
    let freqs = frequencies();
    let max = diffs
        .iter()
        .flat_map(|(_, d)| d.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0f64, |m, v| m.max(v.abs()));
    let range = ((max + 1.0) / 3.0).ceil().clamp(2.0, 8.0) * 3.0;
    let mut p = Plot::new(
        "album-tonal-balance",
        W,
        240.0,
        Scale::Log(20.0, 20_000.0),
        Scale::Lin(-range, range),
    );
    p.hline(0.0, "zero", "album average");
    for (k, (name, d)) in diffs.iter().enumerate() {
        let pts: Vec<(f64, f64)> = freqs.iter().copied().zip(d.iter().copied()).collect();
        let class = format!("trk{}", k % 8);
        p.line(&pts, &class);
        p.legend(name, &class);
    }
    let step = if range > 12.0 { 6.0 } else { 3.0 };
    let p = p.x_axis("frequency (Hz)", freq_ticks()).y_axis(
        "difference to album average (dB)",
        step_ticks(-range, range, step, fmt_db),
    );
    p.finish("Album tonal balance: each track against the album average, loudness-matched")
}
