//! `rackd analyze FILE... [--json] [--report FILE.html] [--reference FILE]
//! [--target LUFS]`: loudness, true peak and mix checks for a mix handed in
//! for mastering or a finished master, and the report with plots for the
//! mix engineer.
//!
//! Decoding (WAV, FLAC, AIFF via symphonia) and printing live here; the
//! measurements are `rackd_dsp::{analysis, series, spectrum, findings}`, the
//! page and the plot data `crate::report`. Exit codes: 0 all files analyzed,
//! 2 a file (or the reference) could not be read or is not valid audio (the
//! others are still reported, the report still written), 1 a runtime
//! failure such as a broken output pipe or a report that cannot be written.
//!
//! # JSON (`--json`), schema `rackd-analyze/1`
//!
//! Field names and meanings are stable; new fields may be added. Levels are
//! numbers, or `null` where they are −∞ (digital silence) or do not apply.
//!
//! ```text
//! {
//!   "schema": "rackd-analyze/1",
//!   "files": [ {
//!     "path": string,                    file as given on the command line
//!     "ok": bool,                        false: see "error", no other fields
//!     "error": string,                   why the file could not be analyzed
//!     "sample_rate": int,                Hz
//!     "channels": int,
//!     "bits_per_sample": int|null,       as stored (null: not stated / float)
//!     "effective_bits": int|null,        bits that carry signal (16 in a padded 24-bit file); null for float data
//!     "duration_s": number,
//!     "integrated_lufs": number|null,    BS.1770-4 gated integrated loudness
//!     "lra_lu": number,                  loudness range, EBU Tech 3342
//!     "max_momentary_lufs": number|null, 400 ms window, 10 ms hop
//!     "max_short_term_lufs": number|null,3 s window, 10 ms hop
//!     "sample_peak_dbfs": number|null,   highest sample, all channels
//!     "true_peak_dbtp": number|null,     BS.1770-4 Annex 2 (4×), all channels
//!     "plr_db": number|null,             true peak minus integrated loudness
//!     "per_channel": [ {
//!       "sample_peak_dbfs": number|null, "true_peak_dbtp": number|null,
//!       "rms_dbfs": number|null,         sine-referenced (full-scale sine = 0)
//!       "dc_offset": number,             mean sample value (full scale = 1)
//!       "dc_offset_dbfs": number|null,
//!       "clipped_runs": int,             runs of ≥3 samples at full scale or flat-topped
//!       "clipped_samples": int
//!     } ],
//!     "longest_clip_run": int,           samples
//!     "correlation": number|null,        L/R over the file, −1..1 (stereo only)
//!     "mono_loss_lu": number|null,       integrated loudness lost folding to mono
//!     "balance_db": number|null,         left RMS minus right RMS
//!     "head_silence_s": number,          before the first sample above −60 dBFS
//!     "tail_silence_s": number,          after the last sample above −60 dBFS
//!     "streaming": [ {
//!       "platform": string, "target_lufs": number,
//!       "turns_up": bool,                false: the service only turns loud masters down
//!       "wanted_gain_db": number|null,   gain to reach the target
//!       "applied_gain_db": number|null,  gain it applies (turn-up limited to −1 dBTP)
//!       "true_peak_after_dbtp": number|null,
//!       "loudness_after_lufs": number|null
//!     } ],
//!     "warnings": [string],              the human summary's warnings (the findings' texts)
//!     "findings": [ {                    what to tell the mix engineer (clean file: none)
//!       "kind": string,                  clipping, true_peak_over, headroom, full_scale,
//!                                        low_end_out_of_phase, out_of_phase, mono_loss, balance,
//!                                        dc_offset, head_noise, tail_noise, over_limited, loud,
//!                                        narrow_range, padded_bits, low_sample_rate,
//!                                        content_edge, silent, head_silence, tail_silence
//!       "fix": "mix"|"mastering",        who deals with it
//!       "channel": string|null,          "L", "R", "mono", "ch N"; null: not one channel
//!       "start_s": number|null,          where it starts or first happens (clips: to the sample)
//!       "end_s": number|null,
//!       "spans": [[number, number]],     every stretch it covers, seconds
//!       "text": string, "advice": string
//!     } ],
//!     "plots": {                         the data behind every plot of the report
//!       "hop_s": number,                 window length of the series (100 ms: 10 loudness steps)
//!       "windows": int,                  window i runs from i·hop_s (the last may be shorter)
//!       "peak_dbfs": [[number|null]],    per channel, per window: sample peak
//!       "rms_dbfs": [[number|null]],     per channel, per window, sine-referenced
//!       "true_peak_dbtp": [[number|null]], per channel, per window (Annex 2, 4×)
//!       "clipped_samples": [[int]],      per channel, per window: samples in clipped runs
//!       "momentary_lufs": [number|null], meter window ending at (i+1)·hop_s; null before 0.4 s or in silence
//!       "short_term_lufs": [number|null],the same, 3 s; null before 3 s
//!       "correlation": [number|null],    L/R over 300 ms centred on window i; null: silent or not stereo
//!       "correlation_low": [number|null],the same below low_end_hz (4th-order Butterworth low pass)
//!       "low_end_hz": number,
//!       "short_term_plr_db": [number|null], highest true peak of the 3 s ending with window i minus short-term loudness
//!       "short_term_crest_db": [number|null], sample peak over RMS of the same 3 s
//!       "short_term_histogram": { "from_lufs": number, "step_lu": number, "counts": [int] },
//!                                        short-term values per 1 LU bin (the top bin takes all above)
//!       "vectorscope": null | {          stereo only
//!         "cells": int, "zoom": int,     cells × cells counts; ×zoom: the edge is at edge_dbfs
//!         "edge_dbfs": number,
//!         "counts": [int]                row-major, top row (L+R)/2 = +1/zoom, left column (R−L)/2 = −1/zoom
//!       },
//!       "spectrum": null | {             long-term average (null: under 2048 samples)
//!         "fft_size": int, "bin_hz": number, "frames": int,   sine-windowed 2 s frames, 50 % overlap
//!         "smoothing_octaves": number,   1/6
//!         "frequencies_hz": [number],    20 Hz to 20 kHz in 1/24-octave steps, the same at every rate
//!         "curves_db": { NAME: [number|null] }, energy in the 1/6-octave band around each frequency,
//!                                        sine-referenced dBFS; NAME: L, R, M, S (stereo), mono, or 1..8,
//!                                        and "all" (mean of the channels); null above Nyquist
//!         "bins_hz": number,             width of the bins below
//!         "bins_db": { NAME: [number|null] } energy of consecutive bins_hz-wide groups of FFT bins
//!       }
//!     },
//!     "reference_comparison": null | {   with --reference
//!       "loudness_offset_db": number,    gain given to the reference to match loudness
//!       "difference_db": [number|null],  this file's "all" curve minus the matched reference's, per frequencies_hz
//!       "largest": [ { "from_hz": number, "to_hz": number, "difference_db": number, "text": string } ]
//!     }
//!   } ],
//!   "album": null | {                    two or more files analyzed
//!     "integrated_lufs": number|null,    all files gated as one programme
//!     "true_peak_dbtp": number|null,
//!     "files": int,
//!     "tonal_balance": {                 each track loudness-matched against the album average
//!       "frequencies_hz": [number], "average_db": [number|null],
//!       "tracks": [ { "path": string, "difference_db": [number|null],
//!                     "largest": [ { "from_hz", "to_hz", "difference_db", "text" } ] } ]
//!     }
//!   },
//!   "reference": null | file             the --reference, analyzed like a file (or ok: false)
//! }
//! ```

use anyhow::Context;
use rackd_dsp::analysis::{Analyzer, Preview, Report, album_integrated};
use rackd_dsp::findings::{self, FileFacts, Finding};
use rackd_dsp::loudness::GateStore;
use rackd_dsp::series::{STEPS_PER_HOP, Series, SeriesData};
use rackd_dsp::spectrum::{Spectrum, SpectrumData};
use serde_json::{Value, json};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Arguments of `rackd analyze`.
#[derive(clap::Args, Debug)]
pub struct AnalyzeArgs {
    /// WAV, FLAC or AIFF files; several files are also measured as one album.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print stable JSON (schema rackd-analyze/1) instead of the human summary.
    #[arg(long)]
    pub json: bool,
    /// Also write a self-contained HTML report (plots, findings with times,
    /// what to fix in the mix) to this file.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Compare with this file: loudness-matched spectrum, difference curve,
    /// the same plots side by side.
    #[arg(long, value_name = "FILE")]
    pub reference: Option<PathBuf>,
    /// Loudness target drawn on the loudness plot, LUFS (e.g. -14).
    #[arg(long, value_name = "LUFS", allow_negative_numbers = true)]
    pub target: Option<f64>,
}

/// One analyzed file.
struct Analyzed {
    path: PathBuf,
    sample_rate: u32,
    bits_per_sample: Option<u32>,
    float: bool,
    report: Report,
    gates: GateStore,
    series: SeriesData,
    spectrum: SpectrumData,
    findings: Vec<Finding>,
}

impl Analyzed {
    fn facts(&self) -> FileFacts {
        FileFacts {
            sample_rate: self.sample_rate,
            stored_bits: self.bits_per_sample,
            float: self.float,
        }
    }

    /// What the report draws.
    fn track(&self) -> crate::report::Track<'_> {
        crate::report::Track {
            path: &self.path,
            facts: self.facts(),
            report: &self.report,
            series: &self.series,
            spectrum: &self.spectrum,
            findings: &self.findings,
        }
    }
}

/// Runs `rackd analyze`, printing to stdout.
pub fn run(args: &AnalyzeArgs) -> anyhow::Result<ExitCode> {
    run_to(args, &mut std::io::stdout().lock())
}

/// Runs `rackd analyze`, printing the report to `out` (errors go to stderr).
pub fn run_to(args: &AnalyzeArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let progress = std::io::stderr().is_terminal();
    let mut done: Vec<Result<Analyzed, (PathBuf, String)>> = Vec::new();
    for path in &args.files {
        done.push(analyze_file(path, progress).map_err(|e| (path.clone(), e)));
    }
    let reference = args
        .reference
        .as_ref()
        .map(|p| analyze_file(p, progress).map_err(|e| (p.clone(), e)));
    let ok: Vec<&Analyzed> = done.iter().filter_map(|r| r.as_ref().ok()).collect();
    let compared = |a: &Analyzed| match &reference {
        Some(Ok(r)) => Some(crate::report::compare(&a.track(), &r.track())),
        _ => None,
    };
    let album = (ok.len() >= 2).then(|| {
        let stores: Vec<&GateStore> = ok.iter().map(|a| &a.gates).collect();
        let tp = ok
            .iter()
            .map(|a| a.report.true_peak_db())
            .fold(f64::NEG_INFINITY, f64::max);
        (album_integrated(&stores), tp)
    });
    if args.json {
        let error_json =
            |p: &Path, e: &str| json!({"path": p.display().to_string(), "ok": false, "error": e});
        let files: Vec<Value> = done
            .iter()
            .map(|r| match r {
                Ok(a) => {
                    let mut j = file_json(a);
                    j["reference_comparison"] =
                        compared(a).map_or(Value::Null, |c| crate::report::comparison_json(&c));
                    j
                }
                Err((p, e)) => error_json(p, e),
            })
            .collect();
        let tracks: Vec<crate::report::Track> = ok.iter().map(|a| a.track()).collect();
        let album = album.map(|(i, tp)| {
            json!({
                "integrated_lufs": num(i),
                "true_peak_dbtp": num(tp),
                "files": ok.len(),
                "tonal_balance": crate::report::album_json(&tracks),
            })
        });
        let reference = reference.as_ref().map(|r| match r {
            Ok(a) => file_json(a),
            Err((p, e)) => error_json(p, e),
        });
        let mut doc = json!({
            "schema": "rackd-analyze/1",
            "album": album,
        });
        // Moved in, not copied value by value as `json!` would.
        doc["files"] = Value::Array(files);
        doc["reference"] = reference.unwrap_or(Value::Null);
        writeln!(out, "{}", crate::report::to_pretty(&doc)).context("writing JSON")?;
    } else {
        for a in done.iter().flatten() {
            print_human(out, a).context("writing output")?;
        }
        if let Some((i, tp)) = album {
            writeln!(out, "Album ({} files)", ok.len())?;
            writeln!(out, "  integrated loudness  {}", lufs(i))?;
            writeln!(out, "  highest true peak    {}", dbtp(tp))?;
            writeln!(out)?;
        }
        for a in &ok {
            if let Some(c) = compared(a) {
                writeln!(out, "{} against the reference", a.path.display())?;
                for line in crate::report::comparison_lines(&c) {
                    writeln!(out, "  {line}")?;
                }
                writeln!(out)?;
            }
        }
    }
    out.flush().context("writing output")?;
    if let Some(path) = &args.report {
        let tracks: Vec<crate::report::Track> = ok.iter().map(|a| a.track()).collect();
        let reference = reference.as_ref().map(|r| match r {
            Ok(a) => Ok(a.track()),
            Err((p, e)) => Err((p.as_path(), e.as_str())),
        });
        let page = crate::report::Page {
            tracks: &tracks,
            album: album.map(|(i, _)| i),
            reference,
            target: args.target,
            failed: done
                .iter()
                .filter_map(|r| r.as_ref().err())
                .map(|(p, e)| (p.as_path(), e.as_str()))
                .collect(),
        };
        crate::report::write(path, &page)
            .with_context(|| format!("writing the report {}", path.display()))?;
    }
    let mut code = ExitCode::SUCCESS;
    for (p, e) in done
        .iter()
        .chain(reference.iter())
        .filter_map(|r| r.as_ref().err())
    {
        eprintln!("rackd analyze: {}: {e}", p.display());
        code = ExitCode::from(2);
    }
    Ok(code)
}

/// A decoded block, shared by the threads that measure it.
type Block = Arc<(u32, Vec<Vec<f32>>)>;

/// A measurement of a file, fed on a thread of its own by [`measure_on`].
trait Measure: Send {
    fn push_planes(&mut self, planes: &[&[f32]]);
}

impl Measure for Analyzer {
    fn push_planes(&mut self, planes: &[&[f32]]) {
        self.push(planes);
    }
}

impl Measure for Series {
    fn push_planes(&mut self, planes: &[&[f32]]) {
        self.push(planes);
    }
}

impl Measure for Spectrum {
    fn push_planes(&mut self, planes: &[&[f32]]) {
        self.push(planes);
    }
}

/// Starts a thread that builds a measurement with `new` (rate, channels)
/// at the first block and feeds it every block sent to `senders`' new end.
fn measure_on<'s, T: Measure + 's>(
    scope: &'s std::thread::Scope<'s, '_>,
    senders: &mut Vec<std::sync::mpsc::SyncSender<Block>>,
    new: fn(f64, usize) -> T,
) -> std::thread::ScopedJoinHandle<'s, Option<T>> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Block>(4);
    senders.push(tx);
    scope.spawn(move || {
        let mut m: Option<T> = None;
        for block in rx {
            let (rate, planes) = &*block;
            let planes: Vec<&[f32]> = planes.iter().map(Vec::as_slice).collect();
            m.get_or_insert_with(|| new(*rate as f64, planes.len()))
                .push_planes(&planes);
        }
        m
    })
}

/// Decodes and measures one file; the error is a sentence for the engineer.
fn analyze_file(path: &Path, progress: bool) -> Result<Analyzed, String> {
    // Decoding on this thread; the analyzer, the 100 ms series and the
    // spectrum each on a thread of its own, reading the same blocks.
    let mut to_workers = Vec::new();
    let (info, analyzer, series, spectrum) = std::thread::scope(|scope| {
        // The series takes its loudness from the analyzer's meter, the
        // analyzer its true peak from the series: each computed once.
        let analyzer = measure_on(scope, &mut to_workers, |rate, channels| {
            let mut a = Analyzer::without_true_peak(rate, channels);
            a.record_loudness_every(STEPS_PER_HOP);
            a
        });
        let series = measure_on(scope, &mut to_workers, Series::without_loudness);
        let spectrum = measure_on(scope, &mut to_workers, Spectrum::new);
        let mut in_flight = std::collections::VecDeque::new();
        let info = crate::audio_file::decode_gathered(
            path,
            rackd_dsp::loudness::MAX_CHANNELS,
            progress,
            &mut |rate, planes| {
                let block = Arc::new((rate, planes));
                for tx in &to_workers {
                    // A worker only stops with this scope.
                    let _ = tx.send(block.clone());
                }
                in_flight.push_back(block);
                // The oldest block back to the decoder once every worker
                // is done with it (they take the blocks in order).
                match in_flight.front().map(Arc::strong_count) {
                    Some(1) => in_flight
                        .pop_front()
                        .and_then(|b| Arc::try_unwrap(b).ok())
                        .map(|(_, planes)| planes),
                    _ => None,
                }
            },
        );
        to_workers.clear();
        (
            info,
            analyzer.join().expect("analyzer thread"),
            series.join().expect("series thread"),
            spectrum.join().expect("spectrum thread"),
        )
    });
    let info = info.map_err(|e| e.to_string())?;
    let (Some(mut analyzer), Some(mut series), Some(mut spectrum)) = (analyzer, series, spectrum)
    else {
        return Err("no audio in the file".into());
    };
    let series = series.finish_with_loudness(analyzer.recorded_loudness());
    let mut a = Analyzed {
        path: path.to_path_buf(),
        sample_rate: info.sample_rate,
        bits_per_sample: info.bits_per_sample,
        float: info.float,
        report: analyzer.finish_with_true_peak(&series.true_peak_per_channel()),
        gates: analyzer.gate_blocks().clone(),
        series,
        spectrum: spectrum.finish(),
        findings: Vec::new(),
    };
    a.findings = findings::detect(&a.report, &a.series, &a.spectrum, &a.facts());
    Ok(a)
}

trait ReportExt {
    fn true_peak_db(&self) -> f64;
    fn sample_peak_db(&self) -> f64;
}

impl ReportExt for Report {
    fn true_peak_db(&self) -> f64 {
        db(self.scan.true_peak.iter().fold(0f32, |m, &v| m.max(v)) as f64)
    }
    fn sample_peak_db(&self) -> f64 {
        db(self.scan.sample_peak.iter().fold(0f32, |m, &v| m.max(v)) as f64)
    }
}

fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

/// JSON number, or null for −∞/NaN.
fn num(x: f64) -> Value {
    if x.is_finite() {
        json!((x * 1000.0).round() / 1000.0)
    } else {
        Value::Null
    }
}

fn lufs(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.1} LUFS")
    } else {
        "silent (below gate)".into()
    }
}

fn dbtp(x: f64) -> String {
    if x.is_finite() {
        format!("{x:+.1} dBTP")
    } else {
        "-inf dBTP".into()
    }
}

fn dbfs(x: f64) -> String {
    if x.is_finite() {
        format!("{x:+.1} dBFS")
    } else {
        "-inf dBFS".into()
    }
}

fn channel_name(ch: usize, channels: usize) -> String {
    match (channels, ch) {
        (1, _) => "mono".into(),
        (2, 0) => "left".into(),
        (2, 1) => "right".into(),
        _ => format!("channel {}", ch + 1),
    }
}

/// Effective bit depth as stored vs as used.
fn effective_bits(a: &Analyzed) -> Option<u32> {
    findings::effective_bits(&a.report, &a.facts())
}

/// The warnings of the human summary, in words a mix engineer uses: the
/// findings' lines.
fn warnings(a: &Analyzed) -> Vec<String> {
    a.findings.iter().map(|f| f.text.clone()).collect()
}

fn preview_json(p: &Preview) -> Value {
    json!({
        "platform": p.platform.name,
        "target_lufs": p.platform.target,
        "turns_up": p.platform.turns_up,
        "wanted_gain_db": num(p.wanted_gain),
        "applied_gain_db": num(p.applied_gain),
        "true_peak_after_dbtp": num(p.true_peak_after),
        "loudness_after_lufs": num(p.loudness_after),
    })
}

fn file_json(a: &Analyzed) -> Value {
    let r = &a.report;
    let per_channel: Vec<Value> = (0..r.channels)
        .map(|ch| {
            json!({
                "sample_peak_dbfs": num(db(r.scan.sample_peak[ch] as f64)),
                "true_peak_dbtp": num(db(r.scan.true_peak[ch] as f64)),
                "rms_dbfs": num(r.rms_dbfs[ch]),
                "dc_offset": r.dc_offset[ch],
                "dc_offset_dbfs": num(db(r.dc_offset[ch].abs())),
                "clipped_runs": r.clipped_runs[ch],
                "clipped_samples": r.clipped_samples[ch],
            })
        })
        .collect();
    let mut file = json!({
        "path": a.path.display().to_string(),
        "ok": true,
        "sample_rate": a.sample_rate,
        "channels": r.channels,
        "bits_per_sample": if a.float { None } else { a.bits_per_sample },
        "effective_bits": effective_bits(a),
        "duration_s": num(r.scan.frames as f64 / r.scan.sample_rate),
        "integrated_lufs": num(r.scan.integrated),
        "lra_lu": num(r.scan.lra),
        "max_momentary_lufs": num(r.scan.max_momentary),
        "max_short_term_lufs": num(r.scan.max_short_term),
        "sample_peak_dbfs": num(r.sample_peak_db()),
        "true_peak_dbtp": num(r.true_peak_db()),
        "plr_db": num(r.plr),
        "per_channel": per_channel,
        "longest_clip_run": r.longest_clip_run,
        "correlation": r.correlation.map(num),
        "mono_loss_lu": r.mono_loss.map(num),
        "balance_db": r.balance_db.map(num),
        "head_silence_s": num(r.head_silence),
        "tail_silence_s": num(r.tail_silence),
        "streaming": r.preview.iter().map(preview_json).collect::<Vec<_>>(),
        "warnings": warnings(a),
        "findings": crate::report::findings_json(&a.track()),
    });
    // Moved in: `json!` would copy its 130 000 values one by one.
    file["plots"] = crate::report::plots_json(&a.track());
    file
}

fn print_human(out: &mut dyn Write, a: &Analyzed) -> std::io::Result<()> {
    let r = &a.report;
    let secs = r.scan.frames as f64 / r.scan.sample_rate;
    let bits = match (a.float, a.bits_per_sample, effective_bits(a)) {
        (true, _, _) => "float".to_string(),
        (false, Some(b), Some(e)) if e < b => format!("{b}-bit (effective {e})"),
        (false, Some(b), _) => format!("{b}-bit"),
        (false, None, Some(e)) => format!("effective {e}-bit"),
        (false, None, None) => "unknown bit depth".into(),
    };
    writeln!(out, "{}", a.path.display())?;
    writeln!(
        out,
        "  {} Hz, {}, {} ch, {}:{:04.1}",
        a.sample_rate,
        bits,
        r.channels,
        (secs / 60.0).floor() as u64,
        secs % 60.0
    )?;
    writeln!(out, "  integrated loudness  {}", lufs(r.scan.integrated))?;
    writeln!(out, "  loudness range       {:.1} LU", r.scan.lra)?;
    writeln!(out, "  max momentary        {}", lufs(r.scan.max_momentary))?;
    writeln!(
        out,
        "  max short-term       {}",
        lufs(r.scan.max_short_term)
    )?;
    writeln!(out, "  true peak            {}", dbtp(r.true_peak_db()))?;
    writeln!(out, "  sample peak          {}", dbfs(r.sample_peak_db()))?;
    if r.plr.is_finite() {
        writeln!(out, "  PLR                  {:.1} dB", r.plr)?;
    }
    for ch in 0..r.channels {
        writeln!(
            out,
            "  {:<8} peak {} / {}, RMS {}, DC {:+.5}",
            channel_name(ch, r.channels),
            dbfs(db(r.scan.sample_peak[ch] as f64)),
            dbtp(db(r.scan.true_peak[ch] as f64)),
            dbfs(r.rms_dbfs[ch]),
            r.dc_offset[ch]
        )?;
    }
    if let (Some(c), Some(b)) = (r.correlation, r.balance_db) {
        let loss = r.mono_loss.map_or("n/a".into(), |l| format!("{l:.1} LU"));
        writeln!(
            out,
            "  correlation {c:+.2}, mono fold loss {loss}, balance L−R {b:+.1} dB"
        )?;
    }
    writeln!(
        out,
        "  silence: head {:.2} s, tail {:.2} s",
        r.head_silence, r.tail_silence
    )?;
    writeln!(out, "  streaming preview          gain    true peak after")?;
    for p in &r.preview {
        let note = if p.wanted_gain > 0.0 && !p.platform.turns_up {
            "  (only turns down)"
        } else if p.wanted_gain > p.applied_gain + 0.05 {
            "  (turn-up held back by peak limit)"
        } else {
            ""
        };
        writeln!(
            out,
            "    {:<13} {:>4.0} LUFS {:>+6.1} dB  {}{note}",
            p.platform.name,
            p.platform.target,
            p.applied_gain,
            dbtp(p.true_peak_after)
        )?;
    }
    let w = warnings(a);
    if w.is_empty() {
        writeln!(out, "  no warnings")?;
    } else {
        writeln!(out, "  warnings:")?;
        for line in w {
            writeln!(out, "    ! {line}")?;
        }
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a PCM WAV file (16 or 24 bit, interleaved from planar f64).
    fn write_wav(path: &Path, fs: u32, bits: u16, chans: &[Vec<f64>]) {
        let n = chans[0].len();
        let ch = chans.len() as u16;
        let bytes = bits / 8;
        let data_len = n as u32 * ch as u32 * bytes as u32;
        let mut v = Vec::new();
        v.extend(b"RIFF");
        v.extend((36 + data_len).to_le_bytes());
        v.extend(b"WAVEfmt ");
        v.extend(16u32.to_le_bytes());
        v.extend(1u16.to_le_bytes());
        v.extend(ch.to_le_bytes());
        v.extend(fs.to_le_bytes());
        v.extend((fs * ch as u32 * bytes as u32).to_le_bytes());
        v.extend((ch * bytes).to_le_bytes());
        v.extend(bits.to_le_bytes());
        v.extend(b"data");
        v.extend(data_len.to_le_bytes());
        let scale = (1i64 << (bits - 1)) as f64;
        for i in 0..n {
            for c in chans {
                let s = (c[i] * scale).round().clamp(-scale, scale - 1.0) as i32;
                v.extend(&s.to_le_bytes()[..bytes as usize]);
            }
        }
        std::fs::write(path, v).unwrap();
    }

    fn sine(fs: u32, secs: f64, freq: f64, dbfs: f64) -> Vec<f64> {
        let a = 10f64.powf(dbfs / 20.0);
        (0..(fs as f64 * secs) as usize)
            .map(|i| a * (2.0 * std::f64::consts::PI * freq * i as f64 / fs as f64).sin())
            .collect()
    }

    /// Runs the command with `--json`; returns the exit code, the parsed
    /// document, and the analyses (or errors) of each file.
    fn json_of(files: Vec<PathBuf>) -> (ExitCode, Value, Vec<Analyzed>, Vec<String>) {
        let mut ok = Vec::new();
        let mut err = Vec::new();
        for f in &files {
            match analyze_file(f, false) {
                Ok(a) => ok.push(a),
                Err(e) => err.push(e),
            }
        }
        let mut out = Vec::new();
        let args = AnalyzeArgs {
            files,
            json: true,
            report: None,
            reference: None,
            target: None,
        };
        let code = run_to(&args, &mut out).unwrap();
        let doc: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(doc["schema"], "rackd-analyze/1");
        (code, doc, ok, err)
    }

    #[test]
    fn reference_tone_reads_minus_23_and_16_bit_in_24() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tone.wav");
        // −23 dBFS 1 kHz on both channels = −23 LUFS; 16-bit values in a 24-bit file.
        let s: Vec<f64> = sine(48_000, 20.0, 1000.0, -23.0)
            .into_iter()
            .map(|x| (x * 32768.0).round() / 32768.0)
            .collect();
        write_wav(&path, 48_000, 24, &[s.clone(), s]);
        let (code, doc, ok, _) = json_of(vec![path]);
        assert_eq!(code, ExitCode::SUCCESS);
        assert!((doc["files"][0]["integrated_lufs"].as_f64().unwrap() - -23.0).abs() < 0.05);
        assert_eq!(doc["files"][0]["effective_bits"], 16);
        assert!(doc["album"].is_null());
        let a = &ok[0];
        assert!(
            (a.report.scan.integrated - -23.0).abs() < 0.05,
            "{}",
            a.report.scan.integrated
        );
        assert_eq!(effective_bits(a), Some(16));
        assert!(
            warnings(a)
                .iter()
                .any(|w| w.contains("carries only 16 bits"))
        );
        let j = file_json(a);
        assert_eq!(j["channels"], 2);
        assert_eq!(j["bits_per_sample"], 24);
        assert_eq!(j["streaming"].as_array().unwrap().len(), 6);
        // Spotify would turn a −23 LUFS master with −20 dBTP peaks up by the full 9 dB.
        assert!((j["streaming"][0]["applied_gain_db"].as_f64().unwrap() - 9.0).abs() < 0.05);
        // YouTube only turns down.
        assert_eq!(j["streaming"][2]["applied_gain_db"].as_f64().unwrap(), 0.0);
    }

    #[test]
    fn hot_master_warns_about_inter_sample_overs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hot.wav");
        // fs/4 at 45°: samples at −0.5 dBFS, real peak +2.5 dBTP.
        let x: Vec<f64> = (0..48_000 * 5)
            .map(|i| {
                1.33 * (std::f64::consts::FRAC_PI_2 * i as f64 + std::f64::consts::FRAC_PI_4).sin()
            })
            .collect();
        write_wav(&path, 48_000, 24, &[x.clone(), x]);
        let (_, doc, ok, _) = json_of(vec![path]);
        assert!(doc["files"][0]["true_peak_dbtp"].as_f64().unwrap() > 2.0);
        let w = warnings(&ok[0]);
        assert!(w.iter().any(|l| l.contains("inter-sample overs")), "{w:?}");
    }

    #[test]
    fn unreadable_and_invalid_files_exit_2_and_album_needs_two_files() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.wav");
        std::fs::write(&bad, b"this is not audio").unwrap();
        let missing = dir.path().join("missing.flac");
        let good = dir.path().join("good.wav");
        write_wav(&good, 44_100, 16, &[sine(44_100, 5.0, 440.0, -20.0)]);
        let (code, doc, ok, err) = json_of(vec![good.clone(), bad, missing]);
        assert_eq!(code, ExitCode::from(2));
        assert_eq!(doc["files"][0]["ok"], true);
        assert_eq!(doc["files"][1]["ok"], false);
        assert!(
            doc["files"][2]["error"]
                .as_str()
                .unwrap()
                .contains("cannot open")
        );
        // One good file: no album.
        assert!(doc["album"].is_null());
        assert_eq!(ok.len(), 1);
        assert_eq!(err.len(), 2);
        assert!(err[1].contains("cannot open"), "{}", err[1]);
        // Mono file: no stereo checks.
        assert!(ok[0].report.correlation.is_none());
    }

    #[test]
    fn album_loudness_gates_all_files_together() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.wav");
        let b = dir.path().join("b.wav");
        let s = sine(48_000, 10.0, 1000.0, -20.0);
        write_wav(&a, 48_000, 24, &[s.clone(), s]);
        let s = sine(48_000, 10.0, 1000.0, -26.0);
        write_wav(&b, 48_000, 24, &[s.clone(), s]);
        let x = analyze_file(&a, false).unwrap();
        let y = analyze_file(&b, false).unwrap();
        let album = album_integrated(&[&x.gates, &y.gates]);
        // Equal durations at −20 and −26: energy mean is −22.03 LUFS (−26 is within 10 LU).
        let want = -0.691
            + 10.0
                * ((10f64.powf((-20.0 + 0.691) / 10.0) + 10f64.powf((-26.0 + 0.691) / 10.0)) / 2.0)
                    .log10();
        assert!((album - want).abs() < 0.05, "{album} vs {want}");
        let mut out = Vec::new();
        let code = run_to(
            &AnalyzeArgs {
                files: vec![a, b],
                json: false,
                report: None,
                reference: None,
                target: None,
            },
            &mut out,
        )
        .unwrap();
        assert_eq!(code, ExitCode::SUCCESS);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Album (2 files)"), "{text}");
        assert!(
            text.contains(&format!("integrated loudness  {want:.1} LUFS")),
            "{text}"
        );
    }

    #[test]
    fn flac_and_aiff_decode_like_wav() {
        if std::process::Command::new("sox")
            .arg("--version")
            .output()
            .is_err()
        {
            // CI installs sox (scripts/install-deps --test): skipping there would hide a gap.
            assert!(
                std::env::var_os("CI").is_none(),
                "sox is not installed and CI is set; scripts/install-deps --test installs it"
            );
            eprintln!("sox not installed; FLAC/AIFF conversion skipped");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("x.wav");
        let s = sine(44_100, 8.0, 1000.0, -18.0);
        write_wav(&wav, 44_100, 24, &[s.clone(), s]);
        let base = analyze_file(&wav, false).unwrap().report.scan.integrated;
        for ext in ["flac", "aiff"] {
            let out = dir.path().join(format!("x.{ext}"));
            let st = std::process::Command::new("sox")
                .arg(&wav)
                .arg(&out)
                .status()
                .unwrap();
            assert!(st.success());
            let got = analyze_file(&out, false).unwrap();
            assert!((got.report.scan.integrated - base).abs() < 1e-6, "{ext}");
            assert_eq!(got.bits_per_sample, Some(24), "{ext}");
        }
    }
}
