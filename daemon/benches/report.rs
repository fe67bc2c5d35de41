//! `rackd analyze --report` against `rackd analyze --json` and
//! `ffmpeg -af ebur128=peak=true` on the same 10-minute 48 kHz stereo
//! 24-bit file, side by side in one run (best of 3, interleaved so a busy
//! machine hurts all alike), then where the report's time goes.
//!
//! Run: `cargo bench -p rackd --bench report` (needs ffmpeg:
//! `scripts/install-deps --test`).

use rackd::audio_file::WavFormat;
use rackd_dsp::analysis::Analyzer;
use rackd_dsp::series::{STEPS_PER_HOP, Series};
use rackd_dsp::spectrum::Spectrum;
use std::f64::consts::PI;
use std::process::Command;
use std::time::Instant;

const FS: u32 = 48_000;
const SECONDS: usize = 600;

/// A deterministic mix-like programme: bass, chord, noise hats, level
/// sections (so gating, true peak and the spectrum have work to do).
fn programme() -> [Vec<f32>; 2] {
    let n = FS as usize * SECONDS;
    let (mut l, mut r) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut seed = 0x2545_f491u32;
    let mut noise = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed as f64 / u32::MAX as f64 - 0.5
    };
    for i in 0..n {
        let t = i as f64 / FS as f64;
        let section = (t / 8.0) as u32;
        let g = 10f64.powf(-(((section.wrapping_mul(2_654_435_761) >> 16) % 15) as f64) / 20.0);
        let env = 0.6 + 0.4 * (-6.0 * ((t % 0.5) / 0.5)).exp();
        let s = |f: f64| (2.0 * PI * f * t).sin();
        let bass = 0.3 * s(55.0) + 0.15 * s(110.0);
        let chord = 0.1 * (s(220.0) + s(277.18) + s(329.63));
        let hat = if t % 0.25 < 0.03 { 0.2 } else { 0.0 };
        l.push((g * env * (bass + chord + hat * noise())) as f32);
        r.push((g * env * (bass + 0.9 * chord + hat * noise())) as f32);
    }
    [l, r]
}

/// Seconds one run of `cmd` takes (it must succeed).
fn time(cmd: &mut Command) -> f64 {
    let t0 = Instant::now();
    let out = cmd.output().expect("run");
    let t = t0.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    t
}

/// Seconds `f` takes over the programme in 4096-frame blocks.
fn time_stage(l: &[f32], r: &[f32], mut f: impl FnMut(&[&[f32]])) -> f64 {
    let t0 = Instant::now();
    for (a, b) in l.chunks(4096).zip(r.chunks(4096)) {
        f(&[a, b]);
    }
    t0.elapsed().as_secs_f64()
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wav = dir.path().join("ten-minutes.wav");
    let html = dir.path().join("report.html");
    let [l, r] = programme();
    rackd::audio_file::write_wav(&wav, FS, WavFormat::Pcm24, &l, &r).expect("write wav");
    let rackd = env!("CARGO_BIN_EXE_rackd");
    let mut best = [f64::INFINITY; 3];
    for _ in 0..3 {
        let runs = [
            time(Command::new(rackd).args(["analyze", "--json"]).arg(&wav)),
            time(
                Command::new(rackd)
                    .arg("analyze")
                    .arg(&wav)
                    .arg("--report")
                    .arg(&html),
            ),
            time(
                Command::new("ffmpeg")
                    .args(["-nostats", "-hide_banner", "-i"])
                    .arg(&wav)
                    .args(["-af", "ebur128=peak=true", "-f", "null", "-"]),
            ),
        ];
        for (b, t) in best.iter_mut().zip(runs) {
            *b = b.min(t);
        }
    }
    let [json, report, ffmpeg] = best;
    let secs = SECONDS as f64;
    println!("10 min stereo 48 kHz 24-bit WAV, best of 3 interleaved runs:");
    println!(
        "  rackd analyze --json           {json:6.2} s  ({:5.0}x real time)",
        secs / json
    );
    println!(
        "  rackd analyze --report         {report:6.2} s  ({:5.0}x real time)  {:.2}x --json (goal <= 2)",
        secs / report,
        report / json
    );
    println!(
        "  ffmpeg -af ebur128=peak=true   {ffmpeg:6.2} s  ({:5.0}x real time)  report is {:.2}x faster (goal > 1)",
        secs / ffmpeg,
        ffmpeg / report
    );
    let size = std::fs::metadata(&html).map(|m| m.len()).unwrap_or(0);
    println!("  report size {:.0} kB", size as f64 / 1000.0);

    // In-process stages on the decoded programme (one thread).
    // Built as `rackd analyze` builds them: K-weighting in the analyzer,
    // true peak in the series, each once.
    let mut a = Analyzer::without_true_peak(FS as f64, 2);
    a.record_loudness_every(STEPS_PER_HOP);
    let t_analyzer = time_stage(&l, &r, |p| a.push(p));
    let mut s = Series::without_loudness(FS as f64, 2);
    let t_series = time_stage(&l, &r, |p| s.push(p));
    let mut sp = Spectrum::new(FS as f64, 2);
    let t_spectrum = time_stage(&l, &r, |p| sp.push(p));
    let t0 = Instant::now();
    let series = s.finish_with_loudness(a.recorded_loudness());
    let _ = (
        a.finish_with_true_peak(&series.true_peak_per_channel()),
        sp.finish(),
    );
    let t_finish = t0.elapsed().as_secs_f64();
    println!("stages, in process:");
    println!("  analysis::Analyzer (loudness, mix checks)            {t_analyzer:6.2} s");
    println!("  series::Series (100 ms series, true peak, scope)     {t_series:6.2} s");
    println!("  spectrum::Spectrum (FFT frames)                      {t_spectrum:6.2} s");
    println!("  finishing all three                                  {t_finish:6.2} s");
}
