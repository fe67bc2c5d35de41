//! Codec previews: overs, delay removal, alignment.

use super::*;

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

#[test]
fn codec_previews_find_overs_and_line_up_to_the_sample() {
    need(&["sox", "ffmpeg"]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A square wave near full scale (overs after AAC), the same 3 dB lower,
    // and pink noise to check the alignment and bitrate of every codec
    // (a different noise in each channel: with the same in both, the
    // encoders code it as mono and spend less).
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
    for ch in ["l", "r"] {
        stdout(
            Command::new("sox")
                .args(["-n", "-r", "44100", "-b", "24", "-c", "1"])
                .arg(format!("{ch}.wav"))
                .args(["synth", "4", "pinknoise", "gain", "-10"])
                .current_dir(dir),
        );
    }
    stdout(
        Command::new("sox")
            .args(["-M", "l.wav", "r.wav", "pink.wav"])
            .current_dir(dir),
    );
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
    for codec in ["aac", "opus", "mp3"] {
        let quieter = pv(2, codec);
        assert_eq!(quieter["on_sample_overs"], 0, "{quieter}");
        assert_eq!(quieter["inter_sample_overs"], 0, "{quieter}");
    }

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
        // ffprobe reads what was encoded: the codec, and the bitrate the
        // preview was asked for within the encoder's rate control: MP3 is
        // CBR (every frame header says 320), ffmpeg's AAC is ABR (within
        // 5% over the file), libopus VBR by default (within 15%; Ogg Opus
        // has no bitrate field, so the file's size over its duration).
        let (ext, kbps, within) = match codec {
            "aac" => ("m4a", 256.0, 0.05),
            "opus" => ("opus", 160.0, 0.15),
            _ => ("mp3", 320.0, 0.0),
        };
        let file = out.join(format!("previews/03.{ext}"));
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
                .arg(&file),
        ))
        .unwrap();
        assert_eq!(probe["streams"][0]["codec_name"], codec, "{probe}");
        let rate = probe["streams"][0]["bit_rate"]
            .as_str()
            .or(probe["format"]["bit_rate"].as_str())
            .unwrap_or_else(|| panic!("no bitrate: {probe}"))
            .parse::<f64>()
            .unwrap()
            / 1000.0;
        assert!(
            (rate / kbps - 1.0).abs() <= within,
            "{codec}: {rate:.1} kbit/s for {kbps}"
        );
        // The loudness change in the report is ffmpeg's ebur128 of the
        // kept (decoded, aligned) preview against the master's.
        let change = ebur128(&out.join(format!("previews/03.{codec}.wav"))) - ebur128(&master);
        let reported = p["loudness_change_lu"].as_f64().unwrap();
        assert!(
            (reported - change).abs() <= 0.05,
            "{codec}: loudness change {reported} vs ebur128 {change}"
        );
    }
}
