//! `rackd album build --streaming` and `rackd album loudness` end to end,
//! checked by tools that are not rackd: ffprobe and MediaInfo read the BWF
//! `bext`, Python's XML parser the `axml` ISRC (neither ffprobe 5.1 nor
//! MediaInfo 23.04 reads an `axml` that is not ADM), metaflac and `flac -t`
//! the FLACs, ffmpeg's `ebur128` the loudness, sox joins the masters, the
//! CD image (checked against cdrdao and shnsplit in `album.rs`) is the
//! album's audio, and the services' figures are the published ones.

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

/// Integrated loudness as ffmpeg's ebur128 filter measures it (its last
/// `lavfi.r128.I`, three decimals).
fn ebur128(path: &Path) -> f64 {
    let out = run(Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(path)
        .args([
            "-af",
            "ebur128=peak=true:metadata=1,ametadata=print:key=lavfi.r128.I",
            "-f",
            "null",
            "-",
        ]));
    let text = String::from_utf8_lossy(&out.stderr);
    text.lines()
        .rev()
        .find_map(|l| l.split("lavfi.r128.I=").nth(1))
        .unwrap_or_else(|| panic!("no ebur128 reading: {text}"))
        .trim()
        .parse()
        .unwrap()
}

fn report(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).expect("report.json"))
        .expect("report JSON")
}

const ALBUM: &str = r#"# a comment the build must not care about
[disc]
title = "Night Drive"
performer = "The Examples"
isrc = "US-S1Z-26-00001"
date = "2026-03-01"

[[track]]
source = "a.wav"
title = "Intro"

[[track]]
source = "b.wav"
title = "City/Lights"
gain = -1.0
crossfade = { length = 1.5, curve = "equal-power" }

[[track]]
source = "c.wav"
title = "Home"
gap = 1.0
fade_out = 2.0
"#;

/// The README-like album: 44.1 kHz 16-bit sources, a segue with a gain, a gap and a fade.
fn album(dir: &Path) {
    std::fs::write(dir.join("album.toml"), ALBUM).unwrap();
    synth(dir, "a.wav", 44_100, 16, "6 pinknoise gain -12");
    synth(dir, "b.wav", 44_100, 16, "6 sine 500 pinknoise gain -14");
    synth(dir, "c.wav", 44_100, 16, "6 brownnoise gain -10");
}

#[test]
fn masters_metadata_and_audio_as_other_tools_read_them() {
    need(&[
        "sox",
        "ffmpeg",
        "ffprobe",
        "mediainfo",
        "metaflac",
        "flac",
        "python3",
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    album(dir);
    let b = rackd(
        dir,
        &[
            "album",
            "build",
            "album.toml",
            "--out",
            "out",
            "--streaming",
            "--flac",
            "--json",
        ],
    );
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let summary: Value = serde_json::from_slice(&b.stdout).unwrap();
    assert_eq!(summary["streaming"]["rate"], 44_100);
    let out = dir.join("out");
    let names = ["01 Intro", "02 City_Lights", "03 Home"];
    let wav = |i: usize| out.join(format!("streaming/{}.wav", names[i]));
    let rep = report(&out);
    assert_eq!(rep["schema"], "rackd-delivery-report/1");

    for i in 0..3 {
        let isrc = format!("USS1Z260000{}", i + 1);
        // ffprobe: the bext fields as ffmpeg's WAV demuxer reads them.
        let probe: Value = serde_json::from_str(&stdout(
            Command::new("ffprobe")
                .args([
                    "-v",
                    "error",
                    "-show_format",
                    "-show_streams",
                    "-of",
                    "json",
                ])
                .arg(wav(i)),
        ))
        .unwrap();
        let tags = &probe["format"]["tags"];
        assert_eq!(tags["encoded_by"], "rackd", "bext Originator");
        assert!(
            tags["comment"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{} - Night Drive - The Examples", names[i])),
            "{tags}"
        );
        assert!(
            tags["coding_history"].as_str().unwrap().contains("W=24"),
            "{tags}"
        );
        assert_eq!(tags["title"], ["Intro", "City/Lights", "Home"][i]);
        assert_eq!(probe["streams"][0]["bits_per_raw_sample"], "24");
        assert_eq!(probe["streams"][0]["sample_rate"], "44100");
        // The time reference places each file where it plays in the album.
        let start = rep["tracks"][i]["start_seconds"].as_f64().unwrap();
        let tr: f64 = tags["time_reference"].as_str().unwrap().parse().unwrap();
        assert!((tr / 44_100.0 - start).abs() < 1e-9);

        // MediaInfo: bext version 2's loudness fields, as the report has them.
        let mi: Value = serde_json::from_str(&stdout(
            Command::new("mediainfo")
                .args(["--Output=JSON"])
                .arg(wav(i)),
        ))
        .unwrap();
        let audio = mi["media"]["track"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["@type"] == "Audio")
            .unwrap()
            .clone();
        let field = |k: &str| -> f64 {
            audio["extra"][k]
                .as_str()
                .unwrap_or_else(|| panic!("{k} in {audio}"))
                .parse()
                .unwrap()
        };
        let m = &rep["tracks"][i]["measure"];
        for (k, r) in [
            ("LoudnessValue", "integrated_lufs"),
            ("LoudnessRange", "lra_lu"),
            ("MaxTruePeakLevel", "true_peak_dbtp"),
            ("MaxMomentaryLoudness", "max_momentary_lufs"),
            ("MaxShortTermLoudness", "max_short_term_lufs"),
        ] {
            assert!(
                (field(k) - m[r].as_f64().unwrap()).abs() <= 0.005 + 1e-9,
                "{k}: {} vs {}",
                field(k),
                m[r]
            );
        }
        // ffmpeg's ebur128 agrees with the loudness written into bext.
        let theirs = ebur128(&wav(i));
        assert!(
            (theirs - field("LoudnessValue")).abs() < 0.05,
            "track {}: ebur128 {theirs} vs bext {}",
            i + 1,
            field("LoudnessValue")
        );

        // axml: the ISRC as an EBUCore dc:identifier, read by Python's XML parser.
        let axml = String::from_utf8(chunks(&wav(i))["axml"].clone()).unwrap();
        let py = "import sys, xml.etree.ElementTree as ET\n\
r = ET.fromstring(sys.stdin.read())\n\
dc = '{http://purl.org/dc/elements/1.1/}identifier'\n\
print(' '.join(e.text for e in r.iter(dc)))\n";
        let mut child = Command::new("python3")
            .args(["-c", py])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(axml.as_bytes())
            .unwrap();
        let got = child.wait_with_output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got.stdout).trim(),
            format!("ISRC:{isrc}")
        );
        assert!(!chunks(&wav(i)).contains_key("ISRC"), "not RIFF INFO ISRC");

        // FLAC: flac -t decodes and checks the MD5; metaflac reads the tags.
        let flac = out.join(format!("streaming/{}.flac", names[i]));
        stdout(Command::new("flac").args(["-t", "-s"]).arg(&flac));
        for (tag, want) in [
            ("ISRC", isrc.as_str()),
            ("TITLE", ["Intro", "City/Lights", "Home"][i]),
            ("ARTIST", "The Examples"),
            ("ALBUM", "Night Drive"),
            ("ALBUMARTIST", "The Examples"),
            ("TRACKNUMBER", &(i + 1).to_string()),
            ("TRACKTOTAL", "3"),
            ("DATE", "2026-03-01"),
        ] {
            let t = stdout(
                Command::new("metaflac")
                    .arg(format!("--show-tag={tag}"))
                    .arg(&flac),
            );
            assert_eq!(t.trim(), format!("{tag}={want}"), "{}", flac.display());
        }
        let rg = stdout(
            Command::new("metaflac")
                .arg("--show-tag=REPLAYGAIN_TRACK_GAIN")
                .arg(&flac),
        );
        assert!(rg.is_empty(), "ReplayGain only when asked");
        // The FLAC decodes to the WAV's samples.
        let dec = out.join(format!("dec{i}.wav"));
        stdout(
            Command::new("flac")
                .args(["-d", "-s", "-f", "-o"])
                .arg(&dec)
                .arg(&flac),
        );
        assert!(
            samples24(&dec) == samples24(&wav(i)),
            "FLAC = WAV, track {}",
            i + 1
        );
    }

    // sox joins the masters into the album's continuous audio: the CD
    // image from track 1's index 01, at the same rate, where the CD's
    // samples are the sources' (and within its dither where processed).
    let joined = out.join("joined.wav");
    stdout(Command::new("sox").args((0..3).map(wav)).arg(&joined));
    let all = samples24(&joined);
    let image = std::fs::read(out.join("cd/album.bin")).unwrap();
    let first = rep["tracks"][0]["start_seconds"].as_f64().unwrap();
    assert_eq!(first, 0.0);
    let t1 = 150 * 588 * 2; // track 1's index 01, interleaved samples
    let cd: Vec<i32> = image
        .chunks_exact(2)
        .map(|s| (i16::from_le_bytes([s[0], s[1]]) as i32) << 8)
        .collect();
    assert_eq!(
        all.len(),
        cd.len() - t1,
        "same length as the CD from index 01"
    );
    let exact = all.iter().zip(&cd[t1..]).filter(|(a, b)| a == b).count();
    let near = all
        .iter()
        .zip(&cd[t1..])
        .all(|(a, b)| (a - b).abs() <= 3 << 8);
    assert!(near, "within the CD's dither everywhere");
    // Track 1 up to the crossfade is the source itself, bit for bit.
    let a = samples24(&dir.join("a.wav"));
    let untouched = (4.5 * 44_100.0) as usize * 2 - 2 * 588;
    assert!(
        all[..untouched] == a[..untouched],
        "untouched source is exact"
    );
    assert!(exact > all.len() / 2, "{exact} of {} exact", all.len());
    // The gap before track 3 is digital silence, inside track 2's tail.
    let t3 = (rep["tracks"][2]["start_seconds"].as_f64().unwrap() * 44_100.0) as usize * 2;
    assert!(all[t3 - 44_100 * 2..t3].iter().all(|&x| x == 0));

    // The segue is cut at index 01 without a click: the step across the
    // join is no larger than the steps elsewhere around it.
    let join = (rep["tracks"][1]["start_seconds"].as_f64().unwrap() * 44_100.0) as usize;
    for ch in 0..2 {
        let step = |n: usize| (all[2 * n + ch] - all[2 * (n - 1) + ch]).abs();
        let around = (join - 22_050..join + 22_050)
            .filter(|&n| n != join)
            .map(step)
            .max()
            .unwrap();
        assert!(step(join) <= around, "join step {} vs {around}", step(join));
    }
    // And ddp extract, which splits like players, gives the same lengths.
    stdout(
        Command::new(rackd_bin())
            .args(["ddp", "extract"])
            .arg(out.join("ddp"))
            .arg("--out")
            .arg(dir.join("x")),
    );
    for i in 0..3 {
        let cd = samples24(&dir.join(format!("x/{:02}.wav", i + 1)));
        assert_eq!(cd.len(), samples24(&wav(i)).len(), "track {}", i + 1);
    }
}

/// (id, target, raises: None never / Some(ceiling) within headroom / Some(inf) with limiter, album mode)
/// — the figures the services publish (or third parties measured), written out here.
const SERVICES: [(&str, f64, Option<f64>, bool); 8] = [
    ("spotify", -14.0, Some(-1.0), true),
    ("spotify-loud", -11.0, Some(f64::INFINITY), true),
    ("spotify-quiet", -19.0, Some(-1.0), true),
    ("apple-music", -16.0, Some(-1.0), true),
    ("youtube", -14.0, None, false),
    ("tidal", -14.0, None, true),
    ("amazon-music", -14.0, None, false),
    ("deezer", -15.0, None, false),
];

/// Tracks of 1 kHz sines at -10, -13 and -16 dBFS: -10, -13, -16 LUFS (EBU Tech 3341 case 1).
fn three_levels(dir: &Path) {
    // No gaps: a track's master would carry the next one's pregap of silence.
    let mut toml = String::from("[disc]\ntitle = \"Levels\"   # keep me\ngap = 0\n");
    for (i, db) in [10, 13, 16].iter().enumerate() {
        let f = format!("s{i}.wav");
        synth(dir, &f, 48_000, 24, &format!("5 sine 1000 gain -{db}"));
        toml.push_str(&format!("\n[[track]]\nsource = \"{f}\"   # level {db}\n"));
    }
    std::fs::write(dir.join("album.toml"), toml).unwrap();
}

#[test]
fn album_and_track_mode_gains_per_service_and_the_loudness_plan() {
    need(&["sox"]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    three_levels(dir);
    let b = rackd(
        dir,
        &[
            "album",
            "build",
            "album.toml",
            "--out",
            "out",
            "--streaming",
        ],
    );
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let rep = report(&dir.join("out"));
    let levels = [-10.0, -13.0, -16.0];
    for (i, l) in levels.iter().enumerate() {
        let m = rep["tracks"][i]["measure"]["integrated_lufs"]
            .as_f64()
            .unwrap();
        assert!((m - l).abs() < 0.1, "track {} at {m} LUFS", i + 1);
    }
    for (k, (id, target, raise, album_mode)) in SERVICES.iter().enumerate() {
        let wanted = |l: f64| target - l;
        let track_gain = |l: f64, tp: f64| {
            let w = wanted(l);
            match raise {
                _ if w <= 0.0 => w,
                None => 0.0,
                Some(c) => w.min(c - tp),
            }
        };
        let album_gain = track_gain(-10.0, -10.0);
        for (i, l) in levels.iter().enumerate() {
            let p = &rep["tracks"][i]["platforms"][k];
            assert_eq!(p["id"], *id);
            let tg = p["track_mode"]["gain_db"].as_f64().unwrap();
            let ag = p["album_mode"]["gain_db"].as_f64().unwrap();
            let want_t = track_gain(*l, *l);
            let want_a = if *album_mode { album_gain } else { want_t };
            assert!(
                (tg - want_t).abs() < 0.1,
                "{id} track {} track mode {tg} vs {want_t}",
                i + 1
            );
            assert!(
                (ag - want_a).abs() < 0.1,
                "{id} track {} album mode {ag} vs {want_a}",
                i + 1
            );
        }
    }
    let warnings: Vec<String> = rep["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect();
    assert!(
        warnings.iter().any(
            |w| w.starts_with("track 3 is 6.0 LU quieter than the album")
                && w.contains("Tidal plays it at -20.0 LUFS")
        ),
        "{warnings:?}"
    );

    // The plan: keep-relative moves everything by the loudest track's gain.
    let plan = |args: &[&str]| -> (Option<i32>, Value, String) {
        let mut a = vec!["album", "loudness", "album.toml", "--json"];
        a.extend_from_slice(args);
        let o = rackd(dir, &a);
        (
            o.status.code(),
            serde_json::from_slice(&o.stdout).unwrap_or(Value::Null),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let gains = |v: &Value| -> Vec<f64> {
        v["tracks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["gain_db"].as_f64().unwrap())
            .collect()
    };
    let (code, v, _) = plan(&[]);
    assert_eq!(code, Some(0));
    assert!(gains(&v).iter().all(|g| (g + 4.0).abs() < 0.1), "{v}");
    let (_, v, _) = plan(&["--per-track", "--target", "-16"]);
    let g = gains(&v);
    assert!(
        (g[0] + 6.0).abs() < 0.1 && (g[1] + 3.0).abs() < 0.1 && g[2].abs() < 0.1,
        "{g:?}"
    );
    // A gain past --max-tp is refused with the missing headroom; nothing written.
    let before = std::fs::read_to_string(dir.join("album.toml")).unwrap();
    // (-0.5 LUFS for a sine puts its true peak at -0.5 dBTP, over -1.)
    let (code, _, err) = plan(&["--per-track", "--target", "-0.5", "--apply"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("track 3: +15.") && err.contains("dB of headroom missing"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("album.toml")).unwrap(),
        before
    );
    // --apply writes the gains, keeping the comments; measured again, the loudest is at the target.
    let (code, v, err) = plan(&["--apply"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["applied"], true);
    let after = std::fs::read_to_string(dir.join("album.toml")).unwrap();
    assert!(
        after.contains("title = \"Levels\"   # keep me") && after.contains("# level 16"),
        "{after}"
    );
    assert!(after.contains("gain = -"), "{after}");
    let (_, v, _) = plan(&[]);
    let l: Vec<f64> = v["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["integrated_lufs"].as_f64().unwrap())
        .collect();
    assert!(
        (l[0] + 14.0).abs() < 0.05 && (l[2] + 20.0).abs() < 0.1,
        "{l:?}"
    );
    assert!(gains(&v).iter().all(|g| g.abs() < 0.05));
}

/// Cross-correlation lag of `b` against `a` (interleaved stereo, left used)
/// over one second in the middle, searched ±2048 samples.
fn lag(a: &[f32], b: &[f32]) -> i64 {
    let (a, b): (Vec<f32>, Vec<f32>) = (
        a.iter().step_by(2).copied().collect(),
        b.iter().step_by(2).copied().collect(),
    );
    let mid = a.len() / 2;
    let win = &a[mid - 10_000..mid + 10_000];
    let mut best = (f64::MIN, 0i64);
    for l in -2048i64..=2048 {
        let s = (mid as i64 - 10_000 + l) as usize;
        let c: f64 = win
            .iter()
            .zip(&b[s..s + 20_000])
            .map(|(x, y)| *x as f64 * *y as f64)
            .sum();
        if c > best.0 {
            best = (c, l);
        }
    }
    best.1
}

fn float_samples(path: &Path) -> Vec<f32> {
    let c = chunks(path);
    assert_eq!(u16::from_le_bytes([c["fmt "][0], c["fmt "][1]]), 3, "float");
    c["data"]
        .chunks_exact(4)
        .map(|s| f32::from_le_bytes(s.try_into().unwrap()))
        .collect()
}

#[test]
fn codec_previews_find_overs_and_line_up_to_the_sample() {
    need(&["sox", "ffmpeg"]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A square wave near full scale (overs after AAC), the same 3 dB lower,
    // and pink noise to check the alignment of every codec.
    synth(
        dir,
        "sq.wav",
        44_100,
        24,
        "4 square 441 lowpass 8000 gain -n -0.3",
    );
    synth(
        dir,
        "sq3.wav",
        44_100,
        24,
        "4 square 441 lowpass 8000 gain -n -3.3",
    );
    synth(dir, "pink.wav", 44_100, 24, "4 pinknoise gain -10");
    std::fs::write(
        dir.join("album.toml"),
        "[[track]]\nsource = \"sq.wav\"\n[[track]]\nsource = \"sq3.wav\"\n[[track]]\nsource = \"pink.wav\"\n",
    )
    .unwrap();
    let b = rackd(
        dir,
        &[
            "album",
            "build",
            "album.toml",
            "--out",
            "out",
            "--previews",
            "aac,opus,mp3",
            "--keep-previews",
        ],
    );
    let err = String::from_utf8_lossy(&b.stderr);
    assert!(b.status.success(), "{err}");
    let out = dir.join("out");
    let rep = report(&out);
    let pv = |track: u64, codec: &str| -> Value {
        rep["previews"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["track"] == track && p["codec"] == codec)
            .unwrap_or_else(|| panic!("no {codec} preview of track {track}"))
            .clone()
    };
    let aac = pv(1, "aac");
    let overs =
        aac["on_sample_overs"].as_u64().unwrap() + aac["inter_sample_overs"].as_u64().unwrap();
    assert!(overs > 0, "{aac}");
    assert!(aac["true_peak_dbtp"].as_f64().unwrap() > 0.0);
    assert!(aac["recommended_ceiling_dbtp"].as_f64().unwrap() < 0.0);
    let first = aac["overs"].as_array().unwrap();
    assert!(!first.is_empty() && first.len() <= 20);
    assert!(
        first[0]["level_dbfs"].as_f64().unwrap() > 0.0
            && first[0]["time_seconds"].as_f64().unwrap() < 4.0
    );
    assert!(
        err.contains("set the limiter to") && err.contains("for no AAC overs"),
        "{err}"
    );
    let quieter = pv(2, "aac");
    assert_eq!(quieter["on_sample_overs"], 0, "{quieter}");
    assert_eq!(quieter["inter_sample_overs"], 0, "{quieter}");

    // The decoded previews line up with the master to the sample.
    let master = out.join("streaming/03.wav");
    stdout(
        Command::new("sox")
            .arg(&master)
            .args(["-e", "floating-point", "-b", "32"])
            .arg(dir.join("m44.wav")),
    );
    stdout(
        Command::new("sox")
            .arg(&master)
            .args(["-e", "floating-point", "-b", "32"])
            .arg(dir.join("m48.wav"))
            .args(["rate", "-v", "48000"]),
    );
    for (codec, reference, delay) in [
        ("aac", "m44.wav", 1024),
        ("opus", "m48.wav", 312),
        ("mp3", "m44.wav", 1105),
    ] {
        let p = pv(3, codec);
        assert_eq!(p["delay_samples"], delay, "{p}");
        assert_eq!(p["delay_from_file"], true);
        assert_eq!(p["alignment_lag"], 0, "{p}");
        let decoded = float_samples(&out.join(format!("previews/03.{codec}.wav")));
        let r = float_samples(&dir.join(reference));
        assert_eq!(decoded.len(), r.len(), "{codec}: the master's length");
        assert_eq!(lag(&r, &decoded), 0, "{codec}");
        let ext = [("aac", "m4a"), ("opus", "opus"), ("mp3", "mp3")]
            .iter()
            .find(|e| e.0 == codec)
            .unwrap()
            .1;
        let probe = stdout(
            Command::new("ffprobe")
                .args([
                    "-v",
                    "error",
                    "-show_entries",
                    "stream=codec_name",
                    "-of",
                    "csv=p=0",
                ])
                .arg(out.join(format!("previews/03.{ext}"))),
        );
        assert_eq!(
            probe.trim(),
            ["aac", "opus", "mp3"][["aac", "opus", "mp3"]
                .iter()
                .position(|c| *c == codec)
                .unwrap()]
        );
    }
}

fn nothing_left(dir: &Path, out: &str) {
    assert!(!dir.join(out).exists(), "{out} was written");
    assert!(
        !dir.join(format!("{out}.partial")).exists(),
        "{out}.partial was left"
    );
}

#[test]
fn bad_input_gets_a_clear_error_and_leaves_no_output() {
    need(&["sox"]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    synth(dir, "t.wav", 44_100, 16, "5 pinknoise gain -12");
    let refused = |toml: &str, args: &[&str], code: i32, says: &[&str]| {
        std::fs::write(dir.join("a.toml"), toml).unwrap();
        let mut a = vec!["album", "build", "a.toml", "--out", "out"];
        a.extend_from_slice(args);
        let o = rackd(dir, &a);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        for s in says {
            assert!(err.contains(s), "wanted {s:?} in {err}");
        }
        nothing_left(dir, "out");
    };
    let ok = "[[track]]\nsource = \"t.wav\"\n";
    refused(
        "[[track]]\nsource = \"t.wav\"\nisrc = \"US-S1Z-2-00001\"\n",
        &["--streaming"],
        2,
        &["a.toml:3:", "ISRC"],
    );
    refused(
        "[[track]]\nsource = \"t.wav\"\nfade_out = 8.0\n",
        &["--streaming"],
        2,
        &["fade_out of 8.00 s is longer than its audio (5.000 s"],
    );
    refused(
        ok,
        &["--streaming", "--rate", "96000"],
        2,
        &["never upsampled"],
    );
    refused(
        ok,
        &["--streaming", "--bits", "16"],
        2,
        &["24-bit PCM (24) or 32-bit float (32)"],
    );
    refused(
        ok,
        &["--streaming", "--bits", "32", "--flac"],
        2,
        &["--flac holds integer samples"],
    );
    refused(ok, &["--flac"], 2, &["add --streaming"]);
    refused(
        ok,
        &["--previews", "aac,wma"],
        2,
        &["unknown codec \"wma\""],
    );

    // A path that cannot be written (a file where a folder must go).
    std::fs::write(dir.join("a.toml"), ok).unwrap();
    std::fs::write(dir.join("file"), "x").unwrap();
    let o = rackd(
        dir,
        &[
            "album",
            "build",
            "a.toml",
            "--out",
            "file/deliver",
            "--streaming",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot create") && err.contains("file/deliver.partial"),
        "{err}"
    );
    assert_eq!(std::fs::read(dir.join("file")).unwrap(), b"x");

    // ffmpeg missing: said before anything is written, with the package to install.
    let o = run(Command::new(rackd_bin())
        .args([
            "album",
            "build",
            "a.toml",
            "--out",
            "out",
            "--previews",
            "aac",
        ])
        .env("PATH", dir.join("no-such-dir"))
        .current_dir(dir));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("need ffmpeg") && err.contains("apt-get install ffmpeg"),
        "{err}"
    );
    nothing_left(dir, "out");

    // An ffmpeg that fails half-way (after the masters started): the whole
    // build is undone.
    let bin: PathBuf = dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = bin.join("ffmpeg");
    std::fs::write(
        &fake,
        "#!/bin/sh\ncase \"$*\" in *-encoders*) echo ' A..... aac  AAC'; exit 0;; esac\ncat >/dev/null\necho 'encoder exploded' >&2\nexit 1\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = run(Command::new(rackd_bin())
        .args([
            "album",
            "build",
            "a.toml",
            "--out",
            "out",
            "--previews",
            "aac",
        ])
        .env("PATH", path)
        .current_dir(dir));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("AAC preview of track 1") && err.contains("encoder exploded"),
        "{err}"
    );
    nothing_left(dir, "out");
}
