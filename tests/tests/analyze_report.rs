//! `rackd analyze --report` and the plot data in its JSON, end to end: the
//! real binary on files these tests make, checked against the planted
//! content, ffmpeg's `ebur128` filter, numpy's FFT, html5lib and headless
//! Chromium.

use rackd_tests::wav::write_pcm_wav;
use rackd_tests::{crate_dir, have_program, rackd_bin};
use serde_json::Value;
use std::f64::consts::PI;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FS: u32 = 48_000;

fn need(program: &str) {
    assert!(
        have_program(program),
        "{program} is not installed: run scripts/install-deps --test"
    );
}

/// Deterministic noise in ±1.
fn noise(n: usize, seed: u32) -> Vec<f64> {
    rackd_tests::wav::noise(n, 1.0, seed)
        .into_iter()
        .map(f64::from)
        .collect()
}

/// A mix-like stereo signal: bass (55 and 110 Hz, the same on both sides,
/// on R multiplied by `bass_r(t)`), a chord, and noise hats every 250 ms,
/// with a level envelope per half-second beat.
fn music(secs: f64, gain: f64, bass_r: impl Fn(f64) -> f64) -> [Vec<f64>; 2] {
    music_with(secs, gain, 1.0, bass_r)
}

/// [`music`] with the bass at `bass` times its level.
fn music_with(secs: f64, gain: f64, bass: f64, bass_r: impl Fn(f64) -> f64) -> [Vec<f64>; 2] {
    let bass_gain = bass;
    let n = (FS as f64 * secs) as usize;
    let hats_l = noise(n, 7);
    let hats_r = noise(n, 8);
    let mut l = Vec::with_capacity(n);
    let mut r = Vec::with_capacity(n);
    for i in 0..n {
        let t = i as f64 / FS as f64;
        let beat = (t % 0.5) / 0.5;
        let env = 0.6 + 0.4 * (-6.0 * beat).exp();
        let s = |f: f64| (2.0 * PI * f * t).sin();
        let bass = bass_gain * (0.15 * s(55.0) + 0.08 * s(110.0));
        let chord = 0.06 * (s(220.0) + s(277.18) + s(329.63));
        let hat = if t % 0.25 < 0.03 { 0.05 } else { 0.0 };
        l.push(gain * env * (bass + chord + hat * hats_l[i]));
        r.push(gain * env * (bass * bass_r(t) + 0.9 * chord + hat * hats_r[i]));
    }
    [l, r]
}

/// Runs rackd with `args`, returning its output.
fn rackd(args: &[&str]) -> Output {
    Command::new(rackd_bin())
        .args(args)
        .output()
        .expect("run rackd")
}

/// `rackd analyze FILES... --report HTML EXTRA...`; it must succeed.
fn report(files: &[&Path], html: &Path, extra: &[&str]) {
    let mut cmd = Command::new(rackd_bin());
    cmd.arg("analyze")
        .args(files)
        .arg("--report")
        .arg(html)
        .args(extra);
    let out = cmd.output().expect("run rackd");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `rackd analyze --json` of `files`: (exit code, document).
fn analyze_json(files: &[&Path], extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["analyze", "--json"];
    args.extend(extra);
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    let out = rackd(&args);
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(doc["schema"], "rackd-analyze/1");
    (out.status.code().unwrap_or(-1), doc)
}

fn findings<'a>(file: &'a Value, kind: &str) -> Vec<&'a Value> {
    file["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == kind)
        .collect()
}

fn f64_at(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn findings_appear_at_the_planted_times_and_channels_and_not_on_a_clean_mix() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let hop = 0.1;

    let [l, r] = music(10.0, 1.0, |_| 1.0);
    write_pcm_wav(&path("clean.wav"), FS, 24, &[l, r]);

    // Clip runs on R only: 9 samples at 7.3215 s, 4 samples at 9.0 s.
    let [l, mut r] = music(10.0, 1.0, |_| 1.0);
    let first = 351_432; // 7.3215 s
    r[first..first + 9].fill(0.99);
    r[432_000..432_004].fill(-0.95);
    write_pcm_wav(&path("clip.wav"), FS, 24, &[l, r]);

    // Low end flipped on R from 5 s to 15 s.
    let [l, r] = music(
        20.0,
        1.0,
        |t| if (5.0..15.0).contains(&t) { -1.0 } else { 1.0 },
    );
    write_pcm_wav(&path("phase.wav"), FS, 24, &[l, r]);

    // DC of 0.01 (−40 dBFS) on L only.
    let [mut l, r] = music(10.0, 1.0, |_| 1.0);
    l.iter_mut().for_each(|x| *x += 0.01);
    write_pcm_wav(&path("dc.wav"), FS, 24, &[l, r]);

    // 1.5 s of white noise at −60 dBFS RMS, the music, then 2 s of noise
    // at −66 dBFS RMS on R only (music from 1.5 to 9.5 s).
    let head = (1.5 * FS as f64) as usize;
    let a = 0.001 * 3f64.sqrt();
    let [ml, mr] = music(8.0, 1.0, |_| 1.0);
    let mut l: Vec<f64> = noise(head, 3).iter().map(|x| x * a).collect();
    let mut r: Vec<f64> = noise(head, 4).iter().map(|x| x * a).collect();
    l.extend(ml);
    r.extend(mr);
    let tail = 2 * FS as usize;
    l.extend(vec![0.0; tail]);
    r.extend(noise(tail, 5).iter().map(|x| x * a * 0.5));
    write_pcm_wav(&path("noise.wav"), FS, 24, &[l, r]);

    // 16-bit values in a 24-bit file.
    let [l, r] = music(10.0, 1.0, |_| 1.0);
    let q =
        |v: Vec<f64>| -> Vec<f64> { v.iter().map(|x| (x * 32768.0).round() / 32768.0).collect() };
    write_pcm_wav(&path("padded.wav"), FS, 24, &[q(l), q(r)]);

    let names = ["clean", "clip", "phase", "dc", "noise", "padded"];
    let files: Vec<PathBuf> = names.iter().map(|n| path(&format!("{n}.wav"))).collect();
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let (code, doc) = analyze_json(&refs, &[]);
    assert_eq!(code, 0);
    let file = |name: &str| &doc["files"][names.iter().position(|n| *n == name).unwrap()];

    let clean = file("clean");
    assert_eq!(
        clean["findings"].as_array().unwrap().len(),
        0,
        "a clean mix has no findings: {:#}",
        clean["findings"]
    );

    let clip = findings(file("clip"), "clipping");
    assert_eq!(clip.len(), 1, "{clip:?}");
    assert_eq!(clip[0]["channel"], "R");
    let start = f64_at(&clip[0]["start_s"]);
    assert!(
        (start - 7.3215).abs() < 1e-6,
        "{start}: {}",
        clip[0]["text"]
    );
    let text = clip[0]["text"].as_str().unwrap();
    assert!(
        text.contains("2 runs") && text.contains("longest 9 samples at 0:07.322"),
        "{text}"
    );
    assert_eq!(clip[0]["fix"], "mix");
    // The plot data marks the windows of both runs.
    let marks = &file("clip")["plots"]["clipped_samples"];
    assert_eq!(marks[1][(7.3215 / hop) as usize], 9);
    assert_eq!(marks[1][90], 4);
    assert_eq!(
        marks[0]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| **v != 0)
            .count(),
        0
    );

    let phase = findings(file("phase"), "low_end_out_of_phase");
    assert_eq!(phase.len(), 1, "{:#}", file("phase")["findings"]);
    let (s, e) = (f64_at(&phase[0]["start_s"]), f64_at(&phase[0]["end_s"]));
    assert!(
        (s - 5.0).abs() <= hop + 1e-9 && (e - 15.0).abs() <= hop + 1e-9,
        "{s} to {e}"
    );
    assert!(phase[0]["channel"].is_null());
    let low = &file("phase")["plots"]["correlation_low"];
    assert!(f64_at(&low[100]) < -0.9 && f64_at(&low[30]) > 0.9);

    let dc = findings(file("dc"), "dc_offset");
    assert_eq!(dc.len(), 1, "{dc:?}");
    assert_eq!(dc[0]["channel"], "L");
    let text = dc[0]["text"].as_str().unwrap();
    let level: f64 = text["DC offset ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (level - -40.0).abs() < 0.2 && text.contains("dBFS on L"),
        "{text}"
    );

    let head = findings(file("noise"), "head_noise");
    assert_eq!(head.len(), 1, "{:#}", file("noise")["findings"]);
    let (s, e) = (f64_at(&head[0]["start_s"]), f64_at(&head[0]["end_s"]));
    assert!(s.abs() <= hop && (e - 1.5).abs() <= hop, "{s} to {e}");
    // −60 dBFS RMS is −57 dBFS sine-referenced, as the report's RMS figures are.
    assert!(
        head[0]["text"]
            .as_str()
            .unwrap()
            .contains("-57 dBFS for 1.5 s"),
        "{}",
        head[0]["text"]
    );

    let tail = findings(file("noise"), "tail_noise");
    assert_eq!(tail.len(), 1, "{:#}", file("noise")["findings"]);
    let (s, e) = (f64_at(&tail[0]["start_s"]), f64_at(&tail[0]["end_s"]));
    assert!(
        (s - 9.5).abs() <= hop && (e - 11.5).abs() <= hop,
        "{s} to {e}"
    );
    assert!(
        tail[0]["text"]
            .as_str()
            .unwrap()
            .contains("-63 dBFS for 2.0 s"),
        "{}",
        tail[0]["text"]
    );

    let padded = findings(file("padded"), "padded_bits");
    assert_eq!(padded.len(), 1);
    assert!(
        padded[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("24-bit file carries only 16 bits")
    );

    // Each planted problem shows up only in its own file.
    for (kind, owner) in [
        ("clipping", "clip"),
        ("low_end_out_of_phase", "phase"),
        ("dc_offset", "dc"),
        ("head_noise", "noise"),
        ("tail_noise", "noise"),
        ("padded_bits", "padded"),
    ] {
        for name in names.iter().filter(|n| **n != owner) {
            assert!(
                findings(file(name), kind).is_empty(),
                "{kind} found in {name}"
            );
        }
    }
}

/// ffmpeg's ebur128 framelog: (t, M, S) every 100 ms.
fn ffmpeg_loudness(path: &Path) -> Vec<(f64, f64, f64)> {
    let out = Command::new("ffmpeg")
        .args(["-nostats", "-hide_banner", "-v", "verbose", "-i"])
        .arg(path)
        .args(["-af", "ebur128=framelog=verbose", "-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    let field = |line: &str, key: &str| -> Option<f64> {
        let rest = line.split(key).nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    };
    text.lines()
        .filter(|l| l.contains("Parsed_ebur128") && l.contains(" t: "))
        .filter_map(|l| Some((field(l, " t:")?, field(l, " M:")?, field(l, " S:")?)))
        .collect()
}

#[test]
fn loudness_curve_agrees_with_ffmpeg_ebur128_within_a_tenth_of_a_lu() {
    need("ffmpeg");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("steps.wav");
    // Level steps of up to 18 dB every 1.3 s so the curve has somewhere to go.
    let [mut l, mut r] = music(12.0, 1.0, |_| 1.0);
    for (i, (a, b)) in l.iter_mut().zip(r.iter_mut()).enumerate() {
        let step = (i as f64 / (1.3 * FS as f64)) as usize;
        let g =
            10f64.powf(-[0.0, 12.0, 4.0, 18.0, 8.0, 2.0, 15.0, 6.0, 0.0, 10.0][step % 10] / 20.0);
        *a *= g;
        *b *= g;
    }
    write_pcm_wav(&file, FS, 24, &[l, r]);
    let (_, doc) = analyze_json(&[&file], &[]);
    let plots = &doc["files"][0]["plots"];
    let hop = f64_at(&plots["hop_s"]);
    let frames = ffmpeg_loudness(&file);
    assert!(frames.len() > 100, "ffmpeg printed {} frames", frames.len());
    let (mut compared_m, mut compared_s, mut worst) = (0, 0, 0f64);
    for (t, m, s) in frames {
        // ffmpeg stamps each 100 ms step at its last sample; rackd's value i
        // is the window ending at (i + 1) · hop.
        let i = ((t + 0.5 / FS as f64) / hop).round() as usize - 1;
        if let Some(ours) = plots["momentary_lufs"][i].as_f64() {
            worst = worst.max((ours - m).abs());
            assert!(
                (ours - m).abs() <= 0.1,
                "M at {t}: rackd {ours}, ffmpeg {m}"
            );
            compared_m += 1;
        }
        if let Some(ours) = plots["short_term_lufs"][i].as_f64() {
            worst = worst.max((ours - s).abs());
            assert!(
                (ours - s).abs() <= 0.1,
                "S at {t}: rackd {ours}, ffmpeg {s}"
            );
            compared_s += 1;
        }
    }
    eprintln!(
        "compared {compared_m} momentary and {compared_s} short-term values; largest difference {worst:.3} LU"
    );
    assert!(
        compared_m >= 110 && compared_s >= 85,
        "{compared_m} {compared_s}"
    );
}

/// numpy's band levels against rackd's curve: the largest difference, dB.
fn numpy_difference(wav: &Path, json: &Path, curve: &str, lo: f64, hi: f64) -> f64 {
    let out = Command::new("python3")
        .arg(crate_dir().join("python/spectrum_check.py"))
        .arg(wav)
        .arg(json)
        .args([curve, &lo.to_string(), &hi.to_string()])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert!(!rows.is_empty());
    rows.iter()
        .map(|r| (f64_at(&r["numpy"]) - f64_at(&r["rackd"])).abs())
        .fold(0.0, f64::max)
}

#[test]
fn spectrum_of_a_sine_and_of_pink_noise_agrees_with_numpy_within_half_a_db() {
    need("sox");
    let dir = tempfile::tempdir().unwrap();
    let sine = dir.path().join("sine.wav");
    let pink = dir.path().join("pink.wav");
    // A −12 dBFS 1 kHz sine on L, a −20 dBFS 200 Hz sine on R.
    let n = FS as usize * 6;
    let tone = |f: f64, a: f64| {
        (0..n)
            .map(|i| a * (2.0 * PI * f * i as f64 / FS as f64).sin())
            .collect::<Vec<_>>()
    };
    write_pcm_wav(
        &sine,
        FS,
        24,
        &[tone(1000.0, 0.251_188_6), tone(200.0, 0.1)],
    );
    let st = Command::new("sox")
        .args(["-R", "-n", "-r", "48000", "-b", "24", "-c", "1"])
        .arg(&pink)
        .args(["synth", "40", "pinknoise", "vol", "0.3"])
        .status()
        .unwrap();
    assert!(st.success());
    for (wav, name) in [(&sine, "sine"), (&pink, "pink")] {
        let out = rackd(&["analyze", "--json", &wav.display().to_string()]);
        std::fs::write(dir.path().join(format!("{name}.json")), &out.stdout).unwrap();
    }
    let json = |name: &str| dir.path().join(format!("{name}.json"));
    let doc: Value = serde_json::from_slice(&std::fs::read(json("sine")).unwrap()).unwrap();
    let curves = &doc["files"][0]["plots"]["spectrum"]["curves_db"];
    let freqs = &doc["files"][0]["plots"]["spectrum"]["frequencies_hz"];
    let at = |f: f64| {
        freqs
            .as_array()
            .unwrap()
            .iter()
            .position(|v| f64_at(v) >= f * 0.999)
            .unwrap()
    };
    // The sine reads its own level (sine-referenced dBFS).
    assert!((f64_at(&curves["L"][at(1000.0)]) - -12.0).abs() < 0.1);
    assert!((f64_at(&curves["R"][at(200.0)]) - -20.0).abs() < 0.1);
    // Bands that hold the sine, against numpy's FFT of the whole file.
    let d = numpy_difference(&sine, &json("sine"), "L", 960.0, 1040.0);
    eprintln!("1 kHz sine: largest difference to numpy {d:.3} dB");
    assert!(d <= 0.5, "{d}");
    let d = numpy_difference(&sine, &json("sine"), "R", 192.0, 208.0);
    assert!(d <= 0.5, "{d}");
    let d = numpy_difference(&sine, &json("sine"), "M", 960.0, 1040.0);
    assert!(d <= 0.5, "M {d}");
    // Pink noise from sox, 40 Hz to 20 kHz (below 40 Hz a 1/6-octave band
    // holds fewer than three of rackd's 1.46 Hz bins).
    let d = numpy_difference(&pink, &json("pink"), "mono", 40.0, 20_000.0);
    eprintln!("pink noise 40 Hz-20 kHz: largest difference to numpy {d:.3} dB");
    assert!(d <= 0.5, "{d}");
}

#[test]
fn a_brick_wall_in_the_spectrum_names_the_project_rate_or_a_lossy_source() {
    need("sox");
    let dir = tempfile::tempdir().unwrap();
    let sox = |args: &[&str]| {
        let st = Command::new("sox").args(args).status().unwrap();
        assert!(st.success(), "sox {args:?}");
    };
    let p = |n: &str| dir.path().join(n).display().to_string();
    // Pink noise made at 44.1 kHz and converted up to 96 kHz.
    sox(&[
        "-R",
        "-n",
        "-r",
        "44100",
        "-b",
        "24",
        "-c",
        "2",
        &p("44.wav"),
        "synth",
        "6",
        "pinknoise",
        "pinknoise",
        "vol",
        "0.3",
    ]);
    sox(&["-R", &p("44.wav"), "-r", "96000", &p("up.wav")]);
    // Pink noise at 48 kHz with nothing above 16 kHz (as an MP3 encoder leaves it).
    sox(&[
        "-R",
        "-n",
        "-r",
        "48000",
        "-b",
        "24",
        "-c",
        "2",
        &p("lossy.wav"),
        "synth",
        "6",
        "pinknoise",
        "pinknoise",
        "vol",
        "0.3",
        "sinc",
        "-16k",
    ]);
    let files = [
        dir.path().join("up.wav"),
        dir.path().join("lossy.wav"),
        dir.path().join("44.wav"),
    ];
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let (_, doc) = analyze_json(&refs, &[]);
    let edge = |k: usize| findings(&doc["files"][k], "content_edge");
    let up = edge(0);
    assert_eq!(up.len(), 1, "{:#}", doc["files"][0]["findings"]);
    assert!(
        up[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("sample rate 96 kHz, project likely 44.1 kHz"),
        "{}",
        up[0]["text"]
    );
    let lossy = edge(1);
    assert_eq!(lossy.len(), 1, "{:#}", doc["files"][1]["findings"]);
    let text = lossy[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("nothing above 16") && text.contains("lossy"),
        "{text}"
    );
    // Content up to Nyquist: no edge.
    assert!(edge(2).is_empty(), "{:#}", doc["files"][2]["findings"]);
}

/// The browser's view of a report (see tests/python/report_check.py).
fn browser_check(html: &Path, shot: &Path) -> Value {
    need("chromium");
    let out = Command::new("python3")
        .arg(crate_dir().join("python/report_check.py"))
        .arg(html)
        .arg(shot)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "report check failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["errors"].as_array().unwrap().len(),
        0,
        "page errors: {}",
        v["errors"]
    );
    let bad: Vec<&Value> = v["console"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["type"] == "error" || m["type"] == "warning")
        .collect();
    assert!(bad.is_empty(), "console: {bad:?}");
    assert_eq!(
        v["requests"].as_array().unwrap().len(),
        0,
        "fetched: {}",
        v["requests"]
    );
    assert_eq!(v["scripts"], 0);
    assert!(
        f64_at(&v["nonwhite"]) > 0.03 && v["colours"].as_u64().unwrap() > 20,
        "blank screenshot? {v}"
    );
    v
}

fn plot<'a>(check: &'a Value, name: &str) -> Vec<&'a Value> {
    check["plots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["plot"] == name)
        .collect()
}

const PLOTS: [&str; 9] = [
    "waveform",
    "loudness",
    "true-peak",
    "spectrum",
    "spectrum-ms",
    "correlation",
    "vectorscope",
    "dynamics",
    "histogram",
];

#[test]
fn report_renders_in_chromium_with_every_plot_and_a_reference_comparison() {
    let dir = tempfile::tempdir().unwrap();
    let mix = dir.path().join("mix.wav");
    let reference = dir.path().join("ref.wav");
    // The mix: flipped low end from 4 to 9 s and a clip run; the reference:
    // 6 dB quieter with the bass 6 dB down (so the comparison has to match
    // loudness first and then name the low end).
    let [l, mut r] = music(
        12.0,
        1.0,
        |t| if (4.0..9.0).contains(&t) { -1.0 } else { 1.0 },
    );
    r[300_000..300_006].fill(0.97);
    write_pcm_wav(&mix, FS, 24, &[l, r]);
    let [l, r] = music_with(12.0, 0.5, 0.5, |_| 1.0);
    write_pcm_wav(&reference, FS, 24, &[l, r]);
    let html = dir.path().join("compare.html");
    let refs = reference.display().to_string();
    report(&[&mix], &html, &["--reference", &refs, "--target", "-14"]);
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.contains("For the mix engineer") && text.contains("low end out of phase"));
    assert!(text.contains("target -14.0 LUFS"));
    let check = browser_check(&html, &dir.path().join("compare.png"));
    for name in PLOTS {
        let p = plot(&check, name);
        // The file's and the reference's, side by side (spectra overlaid in one).
        let want = if name.starts_with("spectrum") { 1 } else { 2 };
        assert_eq!(p.len(), want, "{name}: {p:?}");
        for p in p {
            assert!(
                f64_at(&p["width"]) > 100.0 && f64_at(&p["height"]) > 50.0,
                "{p}"
            );
            assert!(
                p["drawn"].as_u64().unwrap() > 3 && p["missing"] == false,
                "{p}"
            );
        }
    }
    let diff = plot(&check, "spectrum-difference");
    assert_eq!(diff.len(), 1);
    // The waveform marks each window with clipped samples (the JSON's data).
    let (_, doc) = analyze_json(&[&mix], &[]);
    let marked = doc["files"][0]["plots"]["clipped_samples"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c.as_array().unwrap())
        .filter(|v| v.as_u64() != Some(0))
        .count();
    assert_eq!(
        plot(&check, "waveform")[0]["clip_marks"].as_u64().unwrap() as usize,
        marked
    );
    assert!(marked >= 1);

    // The same comparison in the JSON: loudness matched, then the low end named.
    let (code, doc) = analyze_json(&[&mix], &["--reference", &reference.display().to_string()]);
    assert_eq!(code, 0);
    let cmp = &doc["files"][0]["reference_comparison"];
    assert_eq!(doc["reference"]["ok"], true);
    // Matched by the loudness difference, more than the 6 dB of gain (the
    // reference's bass is down too)...
    let offset = f64_at(&cmp["loudness_offset_db"]);
    let want =
        f64_at(&doc["files"][0]["integrated_lufs"]) - f64_at(&doc["reference"]["integrated_lufs"]);
    assert!((offset - want).abs() < 0.01 && offset > 6.5, "{cmp}");
    // ...after which the mix has more low end than the reference, named first.
    let top = &cmp["largest"][0];
    assert!(
        f64_at(&top["from_hz"]) < 100.0 && f64_at(&top["difference_db"]) > 2.0,
        "{}",
        cmp["largest"]
    );
    let t = top["text"].as_str().unwrap();
    assert!(
        t.contains("dB more") && t.ends_with("Hz than the reference"),
        "{t}"
    );
    // The difference plot names what the JSON names.
    for b in cmp["largest"].as_array().unwrap() {
        let band = rackd_band(b);
        assert!(
            diff[0]["text"].as_str().unwrap().contains(&band),
            "{band} not in {}",
            diff[0]["text"]
        );
    }
}

/// "60–120 Hz" from a JSON band.
fn rackd_band(b: &Value) -> String {
    let t = b["text"].as_str().unwrap();
    let after = t.split(" dB ").nth(1).unwrap();
    let words: Vec<&str> = after.split(' ').collect();
    words[1..words.len() - 3].join(" ")
}

#[test]
fn album_page_lists_every_track_and_their_tonal_balance() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("01 first.wav");
    let b = dir.path().join("02 second.wav");
    let [l, r] = music(8.0, 1.0, |_| 1.0);
    write_pcm_wav(&a, FS, 24, &[l, r]);
    // The second track quieter and with its bass 6 dB down.
    let [l, r] = music_with(8.0, 0.7, 0.5, |_| 1.0);
    write_pcm_wav(&b, FS, 24, &[l, r]);
    let html = dir.path().join("album.html");
    report(&[&a, &b], &html, &[]);
    let check = browser_check(&html, &dir.path().join("album.png"));
    assert_eq!(plot(&check, "album-loudness").len(), 1);
    assert_eq!(plot(&check, "album-tonal-balance").len(), 1);
    for name in PLOTS {
        assert_eq!(plot(&check, name).len(), 2, "{name}: one per track");
    }
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.contains("01 first.wav") && text.contains("02 second.wav"));
    let (_, doc) = analyze_json(&[&a, &b], &[]);
    let tb = &doc["album"]["tonal_balance"];
    assert_eq!(tb["tracks"].as_array().unwrap().len(), 2);
    // Against the album average the first track has more low end, the second less.
    for (k, word) in [(0, "more"), (1, "less")] {
        let top = &tb["tracks"][k]["largest"][0];
        assert!(
            f64_at(&top["from_hz"]) < 100.0,
            "{}",
            tb["tracks"][k]["largest"]
        );
        let t = top["text"].as_str().unwrap();
        assert!(
            t.contains(&format!("dB {word}")) && t.ends_with("than the album average"),
            "{t}"
        );
        assert!(
            text.contains(&t.replace("the album average", "the album")),
            "{t} not on the page"
        );
    }
}

#[test]
fn bad_input_is_reported_and_short_and_mono_files_say_what_cannot_be_drawn() {
    need("sox");
    let dir = tempfile::tempdir().unwrap();
    let mix = dir.path().join("mix.wav");
    let [l, r] = music(6.0, 1.0, |_| 1.0);
    write_pcm_wav(&mix, FS, 24, &[l, r]);
    let mixs = mix.display().to_string();

    // An unreadable reference: exit 2, said on stderr and in the report.
    let missing = dir.path().join("missing.flac");
    let html = dir.path().join("r.html");
    let out = rackd(&[
        "analyze",
        &mixs,
        "--reference",
        &missing.display().to_string(),
        "--report",
        &html.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("missing.flac") && err.contains("cannot open"),
        "{err}"
    );
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.contains("could not be read") && text.contains("missing.flac"));
    let (code, doc) = analyze_json(&[&mix], &["--reference", &missing.display().to_string()]);
    assert_eq!(code, 2);
    assert_eq!(doc["reference"]["ok"], false);
    assert!(doc["files"][0]["reference_comparison"].is_null());

    // A reference at 44.1 kHz with the same content (stereo pink noise from
    // sox, resampled by sox): compared per Hz, loudness equal, no band
    // difference worth naming. (Broadband content: a pure sine sitting on a
    // band edge splits between two bands differently with each rate's bins.)
    let pink = dir.path().join("pink48.wav");
    let resampled = dir.path().join("pink44.wav");
    let st = Command::new("sox")
        .args(["-R", "-n", "-r", "48000", "-b", "24", "-c", "2"])
        .arg(&pink)
        // Band-limited to 18 kHz, so the 44.1 kHz copy loses nothing.
        .args([
            "synth",
            "12",
            "pinknoise",
            "pinknoise",
            "vol",
            "0.3",
            "sinc",
            "-18k",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let st = Command::new("sox")
        .arg("-R")
        .arg(&pink)
        .args(["-r", "44100"])
        .arg(&resampled)
        .status()
        .unwrap();
    assert!(st.success());
    let (code, doc) = analyze_json(&[&pink], &["--reference", &resampled.display().to_string()]);
    assert_eq!(code, 0);
    assert_eq!(doc["reference"]["sample_rate"], 44_100);
    let cmp = &doc["files"][0]["reference_comparison"];
    assert!(
        f64_at(&cmp["loudness_offset_db"]).abs() < 0.05,
        "{}",
        cmp["loudness_offset_db"]
    );
    assert_eq!(
        cmp["largest"].as_array().unwrap().len(),
        0,
        "{}",
        cmp["largest"]
    );
    let freqs = &doc["files"][0]["plots"]["spectrum"]["frequencies_hz"];
    let (mut compared, mut sum) = (0, 0.0);
    for (f, d) in freqs
        .as_array()
        .unwrap()
        .iter()
        .zip(cmp["difference_db"].as_array().unwrap())
    {
        let f = f64_at(f);
        // Up to the resampler's passband.
        if (40.0..=18_000.0).contains(&f) {
            let d = f64_at(d);
            assert!(d.abs() < 0.5, "{f} Hz: {d}");
            compared += 1;
            sum += d.abs();
        }
    }
    eprintln!(
        "44.1 kHz reference: {compared} bands, mean difference {:.3} dB",
        sum / compared as f64
    );
    assert!(sum / (compared as f64) < 0.1, "{sum}");

    // A 2-second file: plots that need 3 s say so; the rest are drawn.
    let short = dir.path().join("short.wav");
    let [l, r] = music(2.0, 1.0, |_| 1.0);
    write_pcm_wav(&short, FS, 24, &[l, r]);
    // A mono file: no stereo plots.
    let mono = dir.path().join("mono.wav");
    let [l, _] = music(5.0, 1.0, |_| 1.0);
    write_pcm_wav(&mono, 44_100, 16, &[l]);
    for (file, missing) in [
        (&short, &["dynamics", "histogram"][..]),
        (&mono, &["correlation", "vectorscope", "spectrum-ms"][..]),
    ] {
        let html = dir.path().join("one.html");
        report(&[file], &html, &[]);
        let check = browser_check(&html, &dir.path().join("one.png"));
        for name in PLOTS {
            let p = plot(&check, name);
            assert_eq!(p.len(), 1, "{name}");
            let says = missing.contains(&name);
            assert_eq!(
                p[0]["missing"] == true,
                says,
                "{}: {name} {}",
                file.display(),
                p[0]
            );
            if says {
                let t = p[0]["text"].as_str().unwrap();
                assert!(t.contains("3 s") || t.contains("stereo"), "{t}");
            }
        }
    }
    let (_, doc) = analyze_json(&[&short, &mono], &[]);
    let s = &doc["files"][0]["plots"];
    assert!(
        s["short_term_lufs"]
            .as_array()
            .unwrap()
            .iter()
            .all(Value::is_null)
    );
    assert!(s["momentary_lufs"][10].is_number());
    let m = &doc["files"][1]["plots"];
    assert!(m["vectorscope"].is_null());
    assert!(
        m["correlation"]
            .as_array()
            .unwrap()
            .iter()
            .all(Value::is_null)
    );
    assert_eq!(
        m["spectrum"]["curves_db"].as_object().unwrap().len(),
        2,
        "mono and all"
    );

    // A file that is not audio: named in the report, exit 2, the others drawn.
    let junk = dir.path().join("junk.wav");
    std::fs::write(&junk, b"not audio").unwrap();
    let out = rackd(&[
        "analyze",
        &mixs,
        &junk.display().to_string(),
        "--report",
        &html.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(
        text.contains("junk.wav could not be analyzed: not a WAV"),
        "{text:.600}"
    );
    assert!(text.contains("data-plot=\"waveform\""));

    // A report path that cannot be written: runtime failure, nothing left behind.
    let out = rackd(&["analyze", &mixs, "--report", "/nonexistent-dir/r.html"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("writing the report"));
}
