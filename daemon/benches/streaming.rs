//! Streaming deliverables: speed of `rackd album build --streaming`, and of
//! its codec previews against ffmpeg alone doing the same encodes and
//! decodes, in the same run.
//!
//! `cargo bench -p rackd --bench streaming` (needs sox and ffmpeg). It makes
//! a 12-track, 48-minute album of 96 kHz/24-bit sources and prints:
//! - `album build --streaming` (DDP, cue/bin, TOC, PQ sheet, and the 12
//!   masters at 96 kHz/24-bit with their report): wall time, multiple of
//!   real time;
//! - the same with `--previews aac,opus,mp3`: wall time;
//! - ffmpeg alone: every master encoded to AAC 256k/44.1 kHz, Opus
//!   160k/48 kHz, MP3 320k/44.1 kHz and decoded to float (discarded), as
//!   many at once as the previews run (one per core): wall time, and the
//!   ratio of the build with previews to it.
//!
//! `RACKD_BENCH_MINUTES=4` makes a shorter album (4 tracks of 1 minute…).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

fn sox(dir: &Path, args: &[&str]) {
    let st = Command::new("sox")
        .args(args)
        .current_dir(dir)
        .status()
        .expect("sox (apt-get install sox)");
    assert!(st.success(), "sox {args:?}");
}

fn timed(cmd: &mut Command) -> f64 {
    let t = Instant::now();
    let st = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("spawn");
    assert!(st.success(), "{cmd:?} failed");
    t.elapsed().as_secs_f64()
}

/// ffmpeg alone: encode and decode every (master, codec), `workers` at a time.
fn ffmpeg_alone(masters: &[PathBuf], tmp: &Path, workers: usize) -> f64 {
    let codecs: [(&str, &[&str], &str); 3] = [
        (
            "44100",
            &["-c:a", "aac", "-b:a", "256k", "-f", "mp4"],
            "m4a",
        ),
        (
            "48000",
            &["-c:a", "libopus", "-b:a", "160k", "-f", "ogg"],
            "opus",
        ),
        (
            "44100",
            &["-c:a", "libmp3lame", "-b:a", "320k", "-f", "mp3"],
            "mp3",
        ),
    ];
    let jobs: Vec<(PathBuf, usize)> = masters
        .iter()
        .flat_map(|m| (0..3).map(move |c| (m.clone(), c)))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((master, c)) = jobs.get(i) else {
                        break;
                    };
                    let (rate, args, ext) = codecs[*c];
                    let file = tmp.join(format!("peer{i}.{ext}"));
                    timed(
                        Command::new("ffmpeg")
                            .args(["-hide_banner", "-y", "-i"])
                            .arg(master)
                            .args(["-ar", rate])
                            .args(args)
                            .arg(&file),
                    );
                    timed(
                        Command::new("ffmpeg")
                            .args(["-hide_banner", "-flags2", "+skip_manual", "-i"])
                            .arg(&file)
                            .args(["-f", "f32le", "-"]),
                    );
                    let _ = std::fs::remove_file(&file);
                }
            });
        }
    });
    t.elapsed().as_secs_f64()
}

fn main() {
    let minutes: f64 = std::env::var("RACKD_BENCH_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(48.0);
    let tracks = 12usize.min((minutes as usize).max(1));
    let seconds = (minutes * 60.0 / tracks as f64).round() as u64;
    let tmp = tempfile::Builder::new()
        .prefix("rackd-streaming-bench-")
        .tempdir()
        .expect("tempdir");
    let dir = tmp.path();
    let rackd = env!("CARGO_BIN_EXE_rackd");
    eprintln!("making {tracks} x {seconds} s of 96 kHz/24-bit sources with sox…");
    let mut album = String::from(
        "[disc]\ntitle = \"Bench\"\nperformer = \"rackd\"\nupc = \"4006381333931\"\nisrc = \"USS1Z2600001\"\n",
    );
    for i in 1..=tracks {
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
                &seconds.to_string(),
                "pinknoise",
                "sine",
                &f,
                "gain",
                "-16",
            ],
        );
        album.push_str(&format!(
            "\n[[track]]\nsource = \"{name}\"\ntitle = \"Track {i}\"\n"
        ));
        if i == 4 {
            album.push_str("crossfade = 3.0\n");
        } else if i == tracks {
            album.push_str("fade_out = { length = 8.0, curve = \"logarithmic\" }\n");
        }
    }
    std::fs::write(dir.join("album.toml"), &album).expect("album.toml");
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());

    let plain = timed(
        Command::new(rackd)
            .args([
                "album",
                "build",
                "album.toml",
                "--out",
                "plain",
                "--streaming",
            ])
            .current_dir(dir),
    );
    let masters: Vec<PathBuf> = (1..=tracks)
        .map(|i| dir.join(format!("plain/streaming/{i:02} Track {i}.wav")))
        .collect();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("plain/report.json")).expect("report.json"))
            .expect("report");
    let audio: f64 = report["tracks"]
        .as_array()
        .expect("tracks")
        .iter()
        .map(|t| t["seconds"].as_f64().unwrap_or(0.0))
        .sum();
    let previews = timed(
        Command::new(rackd)
            .args([
                "album",
                "build",
                "album.toml",
                "--out",
                "previews",
                "--streaming",
                "--previews",
                "aac,opus,mp3",
            ])
            .current_dir(dir),
    );
    let _ = std::fs::remove_dir_all(dir.join("previews"));
    let peer = ffmpeg_alone(&masters, dir, workers);
    println!(
        "album build --streaming, {tracks} tracks from 96 kHz/24-bit, {:.1} min: {plain:.1} s wall, {:.0}x real time (goal >= 40x)",
        audio / 60.0,
        audio / plain
    );
    println!(
        "with --previews aac,opus,mp3: {previews:.1} s wall; ffmpeg alone, the same {} encodes and decodes, {workers} at a time: {peer:.1} s; ratio {:.2} (goal <= 1.5)",
        3 * tracks,
        previews / peer
    );
}
