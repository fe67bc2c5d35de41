//! `--rate`, `--bits 32` and `--replaygain` end to end, from 96 kHz
//! 24-bit sources: ffprobe reads the format, sox's own resampler (`rate
//! -v`) is the reference for the audio, metaflac reads the ReplayGain tags
//! and ffmpeg's `ebur128` the loudness they must agree with.

use super::*;

/// Two tracks from 96 kHz sources, 5 s each (375 CD frames, 1280 samples
/// a frame at 96 kHz), the default 2 s gap between them. Band-limited to
/// 16 kHz so sox's and rackd's resamplers see nothing in their transition
/// bands. Track 2 is a 12 kHz sine (fs/4 at 48 kHz) at -12 dBFS starting
/// near 45°: its samples at 48 kHz fall about 3 dB under its true peak.
fn album96(dir: &Path) {
    std::fs::write(
        dir.join("album.toml"),
        "[disc]\ntitle = \"Rates\"\n\n[[track]]\nsource = \"a.wav\"\ntitle = \"A\"\n\n[[track]]\nsource = \"b.wav\"\ntitle = \"B\"\n",
    )
    .unwrap();
    synth(dir, "a.wav", 96_000, 24, "5 pinknoise gain -10 sinc -16000");
    synth(dir, "b.wav", 96_000, 24, "5 sine 12000 0 12.5 gain -12");
}

fn build(dir: &Path, out: &str, args: &[&str]) {
    let mut a = vec!["album", "build", "album.toml", "--out", out, "--streaming"];
    a.extend_from_slice(args);
    let b = rackd(dir, &a);
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
}

#[test]
fn rate_bits_and_replaygain_as_other_tools_read_them() {
    need(&["sox", "ffmpeg", "ffprobe", "metaflac"]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    album96(dir);
    build(
        dir,
        "o24",
        &["--rate", "48000", "--bits", "24", "--flac", "--replaygain"],
    );
    build(dir, "o32", &["--rate", "48000", "--bits", "32"]);
    let names = ["01 A", "02 B"];
    let m24 = |i: usize| dir.join(format!("o24/streaming/{}.wav", names[i]));
    let m32 = |i: usize| dir.join(format!("o32/streaming/{}.wav", names[i]));

    // The split points scale exactly: 640 samples a CD frame at 48 kHz.
    // Track 1 is its 375 frames and the 150 frames of track 2's gap.
    let frames = [375 + 150, 375];
    const LSB: f64 = 1.0 / 8_388_608.0;
    for i in 0..2 {
        let p = probe_stream(&m24(i));
        assert_eq!(p["sample_rate"], "48000");
        assert_eq!(p["codec_name"], "pcm_s24le");
        assert_eq!(p["bits_per_raw_sample"], "24");
        let p = probe_stream(&m32(i));
        assert_eq!(p["sample_rate"], "48000");
        assert_eq!(p["codec_name"], "pcm_f32le");
        assert_eq!(p["sample_fmt"], "flt");

        let pcm = samples24(&m24(i));
        let float = float_samples(&m32(i));
        assert_eq!(pcm.len(), 2 * frames[i] * 640, "track {}", i + 1);
        assert_eq!(float.len(), pcm.len());
        // The float masters are the 24-bit ones before TPDF dither to 24
        // bit: within its ±1 LSB plus the rounding's ½ LSB.
        let worst = pcm
            .iter()
            .zip(&float)
            .map(|(&p, &f)| (p as f64 * LSB - f as f64).abs())
            .fold(0.0, f64::max);
        assert!(
            worst <= 1.5 * LSB + 1e-12,
            "track {}: {} LSB",
            i + 1,
            worst / LSB
        );

        // The audio against sox's resampler of the same source: away
        // from the source's two ends, where the resamplers' different
        // filters ring differently on the abrupt start and stop, the
        // difference stays under -110 dBFS (the two filters' passband
        // ripple plus the dither); over the whole track its power is at
        // least 75 dB under the signal's. After the source, silence.
        let src = dir.join(["a.wav", "b.wav"][i]);
        let reference = dir.join(format!("ref{i}.f32"));
        stdout(
            Command::new("sox")
                .arg(&src)
                .args(["-t", "f32"])
                .arg(&reference)
                .args(["rate", "-v", "48000"]),
        );
        let r = raw_f32(&reference);
        assert_eq!(r.len(), 2 * 375 * 640, "sox's length");
        let diff: Vec<f64> = r
            .iter()
            .zip(&pcm)
            .map(|(&r, &p)| p as f64 * LSB - r as f64)
            .collect();
        let edge = 2 * 480; // 10 ms
        let inner = diff[edge..diff.len() - edge]
            .iter()
            .fold(0f64, |m, d| m.max(d.abs()));
        assert!(
            20.0 * inner.log10() < -110.0,
            "track {}: {:.1} dBFS from sox's resampler",
            i + 1,
            20.0 * inner.log10()
        );
        let power = |x: &mut dyn Iterator<Item = f64>| x.map(|v| v * v).sum::<f64>();
        let ratio = 10.0
            * (power(&mut r.iter().map(|&v| v as f64)) / power(&mut diff.iter().copied())).log10();
        assert!(ratio > 75.0, "track {}: {ratio:.1} dB", i + 1);
        assert!(pcm[r.len()..].iter().all(|&x| x == 0), "the gap");
    }

    // ReplayGain 2.0: gain = -18 LUFS - the integrated loudness, peak =
    // the true peak as a linear value; the album's from the album as one
    // programme (the joined masters). ffmpeg's ebur128 measures the same
    // figures: loudness within 0.05 LU (+ the tag's 0.005 rounding), true
    // peak within 0.2 dB (two 4x-oversampling meters with different
    // interpolation filters; EBU Tech 3341 accepts +0.2/-0.4 dB).
    stdout(
        Command::new("sox")
            .args([m24(0), m24(1)])
            .arg(dir.join("joined.wav")),
    );
    let album = ebur(&dir.join("joined.wav"));
    let gain = |s: String| -> f64 {
        s.strip_suffix(" dB")
            .unwrap_or_else(|| panic!("{s}"))
            .parse()
            .unwrap()
    };
    let peak_db = |s: String| -> f64 { 20.0 * s.parse::<f64>().unwrap().log10() };
    for (i, name) in names.iter().enumerate() {
        let flac = dir.join(format!("o24/streaming/{name}.flac"));
        let tag = |t: &str| flac_tag(&flac, t).unwrap_or_else(|| panic!("no {t} in {flac:?}"));
        let track = ebur(&m24(i));
        assert_eq!(tag("REPLAYGAIN_REFERENCE_LOUDNESS"), "-18.00 LUFS");
        let g = gain(tag("REPLAYGAIN_TRACK_GAIN"));
        assert!(
            (g - (-18.0 - track.integrated)).abs() <= 0.055,
            "track {}: gain {g} vs ebur128 {}",
            i + 1,
            track.integrated
        );
        // ffmpeg's true-peak meter reads a 12 kHz sine 0.5 dB high (its
        // 4x upsampler leaves images): for track 2 sox's `rate -v` to
        // 192 kHz is the reference, within 0.1 dB.
        let p = peak_db(tag("REPLAYGAIN_TRACK_PEAK"));
        let (theirs, within) = match i {
            0 => (track.true_peak, 0.2),
            _ => (sox_true_peak(&m24(i)), 0.1),
        };
        assert!(
            (p - theirs).abs() <= within,
            "track {}: peak {p} vs {theirs}",
            i + 1
        );
        let g = gain(tag("REPLAYGAIN_ALBUM_GAIN"));
        assert!(
            (g - (-18.0 - album.integrated)).abs() <= 0.055,
            "album gain {g} vs ebur128 {}",
            album.integrated
        );
        let p = peak_db(tag("REPLAYGAIN_ALBUM_PEAK"));
        assert!(
            (p - album.true_peak).abs() <= 0.2,
            "album peak {p} vs ebur128 {}",
            album.true_peak
        );
    }
    // Track 2's samples are 3 dB under its true peak (so a sample peak
    // would not pass for it).
    let sample_peak = samples24(&m24(1)).iter().fold(0i32, |m, &x| m.max(x.abs())) as f64 * LSB;
    assert!(20.0 * sample_peak.log10() < sox_true_peak(&m24(1)) - 2.5);
}

/// The highest level of `path` upsampled 4x by sox's very-high-quality
/// resampler (`rate -v`, then `stats`' `Pk lev dB`), dBTP.
fn sox_true_peak(path: &Path) -> f64 {
    let out = run(Command::new("sox")
        .arg(path)
        .args(["-n", "rate", "-v", "192000", "stats"]));
    let text = String::from_utf8_lossy(&out.stderr);
    text.lines()
        .find_map(|l| l.strip_prefix("Pk lev dB"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no peak from sox: {text}"))
        .parse()
        .unwrap()
}
