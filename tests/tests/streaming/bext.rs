//! The loudness fields of the masters' `bext`, as MediaInfo reads them,
//! against ffmpeg's `ebur128` measuring the same files (its own BS.1770 /
//! EBU R128 meter: the same K-weighting, gates and LRA percentiles).

use super::*;

/// Two tracks whose loudness steps, as EBU Tech 3342's LRA cases do (its
/// case 1: a 1 kHz sine 20 s at -20 dBFS, then 20 s at -30 dBFS, LRA
/// 10 LU), and pink noise stepping from -14 to -24 dBFS, band-limited to
/// 12 kHz (where ffmpeg's true-peak meter is accurate). No gaps, so each
/// master is its own audio only.
fn steps(dir: &Path) {
    for (f, s) in [
        ("s1.wav", "20 sine 1000 gain -20"),
        ("s2.wav", "20 sine 1000 gain -30"),
        ("p1.wav", "10 pinknoise gain -14 sinc -12000"),
        ("p2.wav", "10 pinknoise gain -24 sinc -12000"),
    ] {
        synth(dir, f, 48_000, 24, s);
    }
    for (a, b, out) in [
        ("s1.wav", "s2.wav", "sine.wav"),
        ("p1.wav", "p2.wav", "pink.wav"),
    ] {
        stdout(Command::new("sox").args([a, b, out]).current_dir(dir));
    }
    std::fs::write(
        dir.join("album.toml"),
        "[disc]\ntitle = \"Steps\"\ngap = 0\nisrc = \"GB-AAA-26-00042\"\n\n[[track]]\nsource = \"sine.wav\"\n\n[[track]]\nsource = \"pink.wav\"\n",
    )
    .unwrap();
}

#[test]
fn bext_loudness_fields_agree_with_ebur128() {
    need(&["sox", "ffmpeg", "mediainfo"]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    steps(dir);
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
    for (i, name) in ["01.wav", "02.wav"].iter().enumerate() {
        let wav = dir.join("out/streaming").join(name);
        let e = ebur(&wav);
        let field = |k: &str| bext_field(&wav, k);
        let what = format!("track {}", i + 1);
        // Integrated: the same gated mean, 0.05 LU (the figure).
        assert!(
            (field("LoudnessValue") - e.integrated).abs() <= 0.05,
            "{what}: {} vs {e:?}",
            field("LoudnessValue")
        );
        // LRA: the same gates and percentiles over 3 s short-term values,
        // which rackd takes every 1 s (libebur128's hop) and ffmpeg every
        // 0.1 s; on a programme whose loudness steps both find the same
        // two plateaus (Tech 3342's 10 LU here), within 0.1 LU.
        assert!(
            (field("LoudnessRange") - e.lra).abs() <= 0.1,
            "{what}: LRA {} vs {e:?}",
            field("LoudnessRange")
        );
        assert!(
            (e.lra - 10.0).abs() < 0.2,
            "{what}: Tech 3342 case 1: {e:?}"
        );
        // Max momentary and short-term: rackd reads them every 10 ms,
        // ffmpeg every 100 ms, so rackd's is never lower (0.01 for the
        // bext's rounding) and on these plateaus at most 0.15 higher.
        for (k, theirs) in [
            ("MaxMomentaryLoudness", e.max_momentary),
            ("MaxShortTermLoudness", e.max_short_term),
        ] {
            let d = field(k) - theirs;
            assert!(
                (-0.01..=0.15).contains(&d),
                "{what}: {k} {} vs {e:?}",
                field(k)
            );
        }
        // True peak: two 4x-oversampling meters, within 0.2 dB (EBU Tech
        // 3341 accepts +0.2/-0.4 dB of a true-peak meter).
        assert!(
            (field("MaxTruePeakLevel") - e.true_peak).abs() <= 0.2,
            "{what}: true peak {} vs {e:?}",
            field("MaxTruePeakLevel")
        );
    }
}
