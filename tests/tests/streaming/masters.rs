//! The masters' metadata and audio as ffprobe, MediaInfo, Python, metaflac,
//! flac and sox read them, on the README-like 44.1 kHz album.

use super::*;

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
        let field = |k: &str| bext_field(&wav(i), k);
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

        // axml: the ISRC as an EBUCore dc:identifier, read by Python's XML
        // parser (no ffprobe or MediaInfo shows it: see main.rs).
        let axml = String::from_utf8(chunks(&wav(i))["axml"].clone()).unwrap();
        let py = "import sys, xml.etree.ElementTree as ET\n\
r = ET.fromstring(sys.stdin.read())\n\
dc = '{http://purl.org/dc/elements/1.1/}identifier'\n\
print(' '.join(e.text for e in r.iter(dc)))\n";
        let got = python(py, axml.as_bytes());
        assert_eq!(got.trim(), format!("ISRC:{isrc}"));
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
