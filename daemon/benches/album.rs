//! Album build speed and memory, and the resampling stage against sox.
//!
//! `cargo bench -p rackd --bench album` (needs sox). It prints:
//! - a 12-track, 48-minute album from 96 kHz/24-bit sources built to the
//!   full set (`rackd album build`: DDP, cue/bin, TOC, PQ sheet): wall time
//!   and the multiple of real time;
//! - the resampling stage (decode + 96 k → 44.1 kHz to float, output
//!   discarded) of one 4-minute source, rackd against `sox rate -v`, in the
//!   same run, with the passband ripple (tones 20 Hz–20 kHz) and stopband
//!   attenuation (tones 24.1–47 kHz, which would alias into 0–20 kHz) each
//!   measured on both outputs;
//! - the peak resident memory of a 79-minute album build.

use rackd::audio_file::{Reader, WavFormat, write_wav};
use rackd_delivery::render::{Resampled, SourceReader};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const RATE: u32 = 96_000;

struct FileSource(Reader);

impl SourceReader for FileSource {
    fn read(&mut self, l: &mut [f32], r: &mut [f32]) -> Result<usize, String> {
        self.0.read_stereo(l, r).map_err(|e| e.to_string())
    }
}

fn sox(dir: &Path, args: &[&str]) {
    let st = Command::new("sox")
        .args(args)
        .current_dir(dir)
        .status()
        .expect("sox (apt-get install sox)");
    assert!(st.success(), "sox {args:?}");
}

/// Runs a child to its end: (wall seconds, peak RSS in MB). `wait4` reaps
/// it (and gives its own rusage, which `Child::wait` does not).
#[allow(clippy::zombie_processes)]
fn measure(cmd: &mut Command) -> (f64, f64) {
    let t = Instant::now();
    let child = cmd.spawn().expect("spawn");
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 on our own child's PID.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed"
    );
    (t.elapsed().as_secs_f64(), usage.ru_maxrss as f64 / 1024.0)
}

/// Our resampling stage on a file: decode + resample to 44.1 kHz; the output.
fn ours(path: &Path, keep: bool) -> (f64, [Vec<f32>; 2]) {
    let t = Instant::now();
    let reader = Reader::open(path, 2).expect("open");
    let rate = reader.info.sample_rate;
    let frames = reader.info.frames;
    let mut r =
        Resampled::new(Box::new(FileSource(reader)), rate, 44_100, frames).expect("resampler");
    let mut l = vec![0f32; 8192];
    let mut rr = vec![0f32; 8192];
    let mut out = [Vec::new(), Vec::new()];
    loop {
        let n = r.read(&mut l, &mut rr).expect("read");
        if n == 0 {
            break;
        }
        if keep {
            out[0].extend_from_slice(&l[..n]);
            out[1].extend_from_slice(&rr[..n]);
        }
    }
    (t.elapsed().as_secs_f64(), out)
}

/// Amplitude of a sine at `hz` in `x` (least squares on sin and cos).
fn amplitude(x: &[f32], rate: f64, hz: f64) -> f64 {
    let (mut ss, mut cc, mut sc, mut xs, mut xc) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, &v) in x.iter().enumerate() {
        let w = 2.0 * std::f64::consts::PI * hz * i as f64 / rate;
        let (s, c) = w.sin_cos();
        ss += s * s;
        cc += c * c;
        sc += s * c;
        xs += v as f64 * s;
        xc += v as f64 * c;
    }
    let det = ss * cc - sc * sc;
    let a = (xs * cc - xc * sc) / det;
    let b = (xc * ss - xs * sc) / det;
    (a * a + b * b).sqrt()
}

fn db(a: Option<f64>) -> String {
    a.map_or(
        "output exactly 0 there (below what its samples hold)".into(),
        |a| format!("{a:.1} dB"),
    )
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

const PASS: [f64; 9] = [
    20.0, 100.0, 1000.0, 5000.0, 10_000.0, 15_000.0, 18_000.0, 19_000.0, 20_000.0,
];
const STOP: [f64; 7] = [
    24_100.0, 26_000.0, 30_000.0, 35_000.0, 40_000.0, 44_000.0, 47_000.0,
];
const SEG: f64 = 0.6;
const AMP: f64 = 0.5;

/// Passband ripple (dB, max − min of the tones' gain) and stopband
/// attenuation (dB, the least of the tones' rejection; `None` when the
/// output is exactly zero there, below anything the format can measure).
fn quality(out: &[f32]) -> (f64, Option<f64>) {
    let seg = (SEG * 44_100.0) as usize;
    let mid = |k: usize| &out[k * seg + seg / 4..k * seg + 3 * seg / 4];
    let gains: Vec<f64> = PASS
        .iter()
        .enumerate()
        .map(|(k, hz)| {
            // Whole periods of 20 Hz fit the window only roughly: fit, don't count.
            20.0 * (amplitude(mid(k), 44_100.0, *hz) / AMP).log10()
        })
        .collect();
    if std::env::var_os("RACKD_BENCH_QUALITY_ONLY").is_some() {
        eprintln!("gains {gains:.3?}");
    }
    let ripple = gains.iter().cloned().fold(f64::MIN, f64::max)
        - gains.iter().cloned().fold(f64::MAX, f64::min);
    let worst = (0..STOP.len())
        .map(|k| rms(mid(PASS.len() + k)))
        .fold(0.0, f64::max);
    let attenuation = (worst > 0.0).then(|| -20.0 * (worst / (AMP / 2f64.sqrt())).log10());
    (ripple, attenuation)
}

fn main() {
    let tmp = tempfile::Builder::new()
        .prefix("rackd-album-bench-")
        .tempdir()
        .expect("tempdir");
    let dir = tmp.path();
    let rackd = env!("CARGO_BIN_EXE_rackd");

    // Quality: one float file of tones at 96 kHz, resampled by both.
    let seg = (SEG * RATE as f64) as usize;
    let mut tones = Vec::new();
    for hz in PASS.iter().chain(STOP.iter()) {
        tones.extend((0..seg).map(|i| {
            (AMP * (2.0 * std::f64::consts::PI * hz * i as f64 / RATE as f64).sin()) as f32
        }));
    }
    let tones_path = dir.join("tones.wav");
    write_wav(&tones_path, RATE, WavFormat::Float32, &tones, &tones).expect("write tones");
    let (_, ours_out) = ours(&tones_path, true);
    sox(
        dir,
        &[
            "tones.wav",
            "-e",
            "floating-point",
            "-b",
            "32",
            "tones-sox.wav",
            "rate",
            "-v",
            "44100",
        ],
    );
    let mut sox_out = Vec::new();
    rackd::audio_file::decode(&dir.join("tones-sox.wav"), 2, false, &mut |_, p| {
        sox_out.extend_from_slice(p[0])
    })
    .expect("sox output");
    let (ours_ripple, ours_stop) = quality(&ours_out[0]);
    let (sox_ripple, sox_stop) = quality(&sox_out);
    if std::env::var_os("RACKD_BENCH_QUALITY_ONLY").is_some() {
        println!(
            "ripple rackd {ours_ripple:.3} sox {sox_ripple:.3}; stopband rackd {} sox {}",
            db(ours_stop),
            db(sox_stop)
        );
        return;
    }

    // Sources: 12 × 4 minutes at 96 kHz/24-bit, programme-like (pink noise, tones).
    eprintln!("making 48 minutes of 96 kHz/24-bit sources with sox…");
    for i in 1..=12 {
        let name = format!("t{i:02}.wav");
        let f = format!("{}", 110 + 40 * i);
        sox(
            dir,
            &[
                "-n",
                "-r",
                "96000",
                "-b",
                "24",
                "-c",
                "2",
                &name,
                "synth",
                "240",
                "pinknoise",
                "sine",
                &f,
                "gain",
                "-16",
            ],
        );
    }

    // The resampling stage alone, best of three each.
    let src = dir.join("t01.wav");
    let mut ours_best = f64::MAX;
    let mut sox_best = f64::MAX;
    for _ in 0..3 {
        ours_best = ours_best.min(ours(&src, false).0);
        let (t, _) = measure(Command::new("sox").arg(&src).args([
            "-t",
            "raw",
            "-e",
            "floating-point",
            "-b",
            "32",
            "/dev/null",
            "rate",
            "-v",
            "44100",
        ]));
        sox_best = sox_best.min(t);
    }

    // The 48-minute album, full set.
    let mut album = String::from(
        "[disc]\ntitle = \"Bench\"\nperformer = \"rackd\"\nupc = \"4006381333931\"\nisrc = \"USS1Z2600001\"\n",
    );
    for i in 1..=12 {
        album.push_str(&format!(
            "\n[[track]]\nsource = \"t{i:02}.wav\"\ntitle = \"Track {i}\"\n"
        ));
        if i == 4 {
            album.push_str("crossfade = 3.0\n");
        } else if i == 12 {
            album.push_str("fade_out = { length = 8.0, curve = \"logarithmic\" }\n");
        }
    }
    std::fs::write(dir.join("album.toml"), &album).expect("album.toml");
    let (wall, rss48) = measure(
        Command::new(rackd)
            .args(["album", "build", "album.toml", "--out", "out48"])
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    let id = std::fs::metadata(dir.join("out48/ddp/IMAGE.DAT"))
        .expect("IMAGE.DAT")
        .len();
    let seconds48 = id as f64 / 2352.0 / 75.0;
    let _ = std::fs::remove_dir_all(dir.join("out48"));

    // 79 minutes: the same files again (20 tracks, the last trimmed).
    let mut long = String::from("[disc]\ntitle = \"Long\"\n");
    for i in 0..20 {
        long.push_str(&format!(
            "\n[[track]]\nsource = \"t{:02}.wav\"\n",
            i % 12 + 1
        ));
        if i == 19 {
            long.push_str("trim_end = 80.0\n");
        }
    }
    std::fs::write(dir.join("long.toml"), &long).expect("long.toml");
    let (wall79, rss79) = measure(
        Command::new(rackd)
            .args(["album", "build", "long.toml", "--out", "out79"])
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    let id79 = std::fs::metadata(dir.join("out79/ddp/IMAGE.DAT"))
        .expect("IMAGE.DAT")
        .len();
    let seconds79 = id79 as f64 / 2352.0 / 75.0;

    println!(
        "album build, 12 tracks from 96 kHz/24-bit, {:.1} min disc: {wall:.1} s wall, {:.0}x real time (goal >= 60x), peak RSS {rss48:.0} MB",
        seconds48 / 60.0,
        seconds48 / wall
    );
    println!(
        "resampling stage, 4 min 96 kHz/24-bit -> 44.1 kHz float: rackd {ours_best:.2} s ({:.0}x real time), sox rate -v {sox_best:.2} s ({:.0}x); rackd/sox speed {:.2}x (goal >= 1)",
        240.0 / ours_best,
        240.0 / sox_best,
        sox_best / ours_best
    );
    println!(
        "  passband ripple 20 Hz-20 kHz: rackd {ours_ripple:.3} dB, sox {sox_ripple:.3} dB; stopband attenuation 24.1-47 kHz: rackd {}, sox {}",
        db(ours_stop),
        db(sox_stop)
    );
    println!(
        "album build, {:.1} min disc (20 tracks): {wall79:.1} s wall, peak RSS {rss79:.0} MB (goal < 300 MB)",
        seconds79 / 60.0
    );
}
