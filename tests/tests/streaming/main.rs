//! `rackd album build --streaming` and `rackd album loudness` end to end,
//! checked by tools that are not rackd: ffprobe and MediaInfo read the BWF
//! `bext`, Python's XML parser the `axml` ISRC, metaflac and `flac -t` the
//! FLACs, ffmpeg's `ebur128` the loudness, sox joins the masters and
//! resamples, Python's `html.parser` reads report.html, and the services'
//! figures are the published ones. Neither ffprobe 5.1 nor MediaInfo 23.04
//! shows an `axml` chunk that is not ADM: ffprobe's tags have no ISRC, and
//! MediaInfo's `-f --Output=JSON`/`--Output=XML` have none and its
//! `--Details=1` trace lists no chunks at all.
//! One module per job; the helpers they share are here.

mod bad_input;
mod bext;
mod join;
mod masters;
mod options;
mod previews;
mod report;
mod services;

use rackd_tests::{have_program, rackd_bin};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn need(tools: &[&str]) {
    for t in tools {
        assert!(
            have_program(t),
            "{t} is missing: run scripts/install-deps --test"
        );
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

/// Runs, asserts success, returns stdout.
fn stdout(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn rackd(dir: &Path, args: &[&str]) -> Output {
    run(Command::new(rackd_bin()).args(args).current_dir(dir))
}

/// `sox -n -r RATE -b BITS -c 2 FILE synth …`.
fn synth(dir: &Path, file: &str, rate: u32, bits: u32, synth: &str) {
    let mut c = Command::new("sox");
    c.args([
        "-n",
        "-r",
        &rate.to_string(),
        "-b",
        &bits.to_string(),
        "-c",
        "2",
        file,
        "synth",
    ])
    .args(synth.split_whitespace())
    .current_dir(dir);
    stdout(&mut c);
}

/// A RIFF file's chunks by id (the first of each).
fn chunks(path: &Path) -> HashMap<String, Vec<u8>> {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&b[..4], b"RIFF");
    assert_eq!(
        u32::from_le_bytes(b[4..8].try_into().unwrap()) as usize,
        b.len() - 8,
        "RIFF size of {}",
        path.display()
    );
    let mut m = HashMap::new();
    let mut at = 12;
    while at + 8 <= b.len() {
        let id = String::from_utf8_lossy(&b[at..at + 4]).into_owned();
        let size = u32::from_le_bytes(b[at + 4..at + 8].try_into().unwrap()) as usize;
        m.entry(id)
            .or_insert_with(|| b[at + 8..at + 8 + size].to_vec());
        at += 8 + size + size % 2;
    }
    m
}

/// Interleaved samples of a 16- or 24-bit PCM WAV as 24-bit integers.
fn samples24(path: &Path) -> Vec<i32> {
    let c = chunks(path);
    let bits = u16::from_le_bytes([c["fmt "][14], c["fmt "][15]]);
    let data = &c["data"];
    match bits {
        16 => data
            .chunks_exact(2)
            .map(|s| (i16::from_le_bytes([s[0], s[1]]) as i32) << 8)
            .collect(),
        24 => data
            .chunks_exact(3)
            .map(|s| i32::from_le_bytes([0, s[0], s[1], s[2]]) >> 8)
            .collect(),
        b => panic!("{}: {b} bits", path.display()),
    }
}

/// What ffmpeg's `ebur128=peak=true` filter measures (its own BS.1770 /
/// EBU R128 implementation): the last integrated loudness and LRA, the
/// highest momentary and short-term loudness of its 100 ms updates, and
/// the true peak over the channels in dBTP (its `true_peaks_chN`, linear
/// with three decimals).
#[derive(Debug, Clone, Copy)]
struct Ebur {
    integrated: f64,
    lra: f64,
    max_momentary: f64,
    max_short_term: f64,
    true_peak: f64,
}

fn ebur(path: &Path) -> Ebur {
    let out = run(Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(path)
        .args([
            "-af",
            "ebur128=peak=true:metadata=1,ametadata=print",
            "-f",
            "null",
            "-",
        ]));
    let text = String::from_utf8_lossy(&out.stderr);
    let mut e = Ebur {
        integrated: f64::NAN,
        lra: f64::NAN,
        max_momentary: f64::MIN,
        max_short_term: f64::MIN,
        true_peak: f64::MIN,
    };
    for l in text.lines() {
        let Some((key, value)) = l
            .split_once("lavfi.r128.")
            .and_then(|(_, kv)| kv.split_once('='))
        else {
            continue;
        };
        let v: f64 = value.trim().parse().unwrap_or_else(|_| panic!("{l}"));
        match key {
            "I" => e.integrated = v,
            "LRA" => e.lra = v,
            "M" => e.max_momentary = e.max_momentary.max(v),
            "S" => e.max_short_term = e.max_short_term.max(v),
            k if k.starts_with("true_peaks_ch") => e.true_peak = e.true_peak.max(20.0 * v.log10()),
            _ => {}
        }
    }
    assert!(e.integrated.is_finite(), "no ebur128 reading: {text}");
    e
}

/// Integrated loudness as ffmpeg's ebur128 filter measures it.
fn ebur128(path: &Path) -> f64 {
    ebur(path).integrated
}

/// Interleaved samples of a 32-bit float WAV.
fn float_samples(path: &Path) -> Vec<f32> {
    let c = chunks(path);
    assert_eq!(u16::from_le_bytes([c["fmt "][0], c["fmt "][1]]), 3, "float");
    c["data"]
        .chunks_exact(4)
        .map(|s| f32::from_le_bytes(s.try_into().unwrap()))
        .collect()
}

/// Interleaved little-endian 32-bit floats (sox's `-t f32`).
fn raw_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .chunks_exact(4)
        .map(|s| f32::from_le_bytes(s.try_into().unwrap()))
        .collect()
}

/// ffprobe's view of a file's first audio stream.
fn probe_stream(path: &Path) -> Value {
    let v: Value = serde_json::from_str(&stdout(
        Command::new("ffprobe")
            .args(["-v", "error", "-show_streams", "-of", "json"])
            .arg(path),
    ))
    .unwrap();
    v["streams"][0].clone()
}

/// A Vorbis comment as metaflac reads it (`None` when absent).
fn flac_tag(path: &Path, tag: &str) -> Option<String> {
    let t = stdout(
        Command::new("metaflac")
            .arg(format!("--show-tag={tag}"))
            .arg(path),
    );
    t.trim()
        .strip_prefix(&format!("{tag}="))
        .map(str::to_string)
}

/// Runs a Python script with `input` on its stdin; asserts success, returns stdout.
fn python(script: &str, input: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A loudness field of a WAV's `bext` (`LoudnessValue`, `LoudnessRange`,
/// `MaxTruePeakLevel`, `MaxMomentaryLoudness`, `MaxShortTermLoudness`) as
/// MediaInfo reads it.
fn bext_field(path: &Path, key: &str) -> f64 {
    let mi: Value = serde_json::from_str(&stdout(
        Command::new("mediainfo").arg("--Output=JSON").arg(path),
    ))
    .unwrap();
    let audio = mi["media"]["track"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["@type"] == "Audio")
        .unwrap_or_else(|| panic!("no audio track in {mi}"));
    audio["extra"][key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {audio}"))
        .parse()
        .unwrap()
}

fn report(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).expect("report.json"))
        .expect("report JSON")
}
