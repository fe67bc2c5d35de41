//! Concatenating the masters gives back the album's continuous audio
//! exactly: an album of 48 kHz 24-bit sources with nothing to process (no
//! gain, no fade), so its continuous audio at the masters' rate and depth
//! is the sources themselves in the cue sheet's order, joined by sox.

use super::*;

/// One file for tracks 1-3: track 2 has a pregap of audio (INDEX 00 two
/// seconds before INDEX 01), track 3 is a segue (INDEX 01 inside running
/// audio, no INDEX 00); a second file for track 4 after a one-second
/// PREGAP of digital silence, 240 480 samples long: not a whole number of
/// CD frames (640 samples at 48 kHz), so it is padded with 160 samples of
/// silence to its last frame.
const CUE: &str = r#"TITLE "Joins"
PERFORMER "The Examples"
FILE "one.wav" WAVE
  TRACK 01 AUDIO
    INDEX 01 00:00:00
  TRACK 02 AUDIO
    INDEX 00 00:05:00
    INDEX 01 00:07:00
  TRACK 03 AUDIO
    INDEX 01 00:12:00
FILE "two.wav" WAVE
  TRACK 04 AUDIO
    PREGAP 00:01:00
    INDEX 01 00:00:00
"#;

#[test]
fn joined_masters_are_the_sources_sample_for_sample() {
    need(&["sox"]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    synth(dir, "one.wav", 48_000, 24, "17 pinknoise gain -8");
    synth(dir, "two.wav", 48_000, 24, "240480s brownnoise gain -6");
    std::fs::write(dir.join("album.cue"), CUE).unwrap();
    let b = rackd(
        dir,
        &["album", "build", "album.cue", "--out", "out", "--streaming"],
    );
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let out = dir.join("out/streaming");
    let masters: Vec<PathBuf> = (1..=4).map(|n| out.join(format!("{n:02}.wav"))).collect();

    // The reference, by sox alone: one.wav, a second of silence (the
    // PREGAP), two.wav, and 160 samples of padding.
    stdout(
        Command::new("sox")
            .args(["-n", "-r", "48000", "-b", "24", "-c", "2", "pregap.wav"])
            .args(["trim", "0", "48000s"])
            .current_dir(dir),
    );
    assert!(samples24(&dir.join("pregap.wav")).iter().all(|&x| x == 0));
    stdout(
        Command::new("sox")
            .args([
                "one.wav",
                "pregap.wav",
                "two.wav",
                "reference.wav",
                "pad",
                "0",
                "160s",
            ])
            .current_dir(dir),
    );
    let reference = samples24(&dir.join("reference.wav"));
    assert_eq!(reference.len(), 2 * (17 * 48_000 + 48_000 + 240_640));

    stdout(
        Command::new("sox")
            .args(&masters)
            .arg(dir.join("joined.wav"))
            .current_dir(dir),
    );
    let joined = samples24(&dir.join("joined.wav"));
    assert_eq!(joined.len(), reference.len(), "same length");
    if let Some(n) = joined.iter().zip(&reference).position(|(a, b)| a != b) {
        panic!(
            "the joined masters differ from the sources at frame {} (channel {}): {} vs {}",
            n / 2,
            n % 2,
            joined[n],
            reference[n]
        );
    }

    // Each master starts at its track's INDEX 01, by hand from the cue
    // (MM:SS:FF, 640 samples a frame at 48 kHz), counted from track 1's
    // INDEX 01: track 2 at 00:07:00 = 525 frames, track 3 at 00:12:00 =
    // 900 frames, track 4 after one.wav's 17 s and the 1 s PREGAP = 1350
    // frames; the album ends with two.wav padded to 376 frames.
    let starts = [0, 525 * 640, 900 * 640, 1350 * 640, (1350 + 376) * 640];
    for (i, m) in masters.iter().enumerate() {
        let s = samples24(m);
        let (a, b) = (2 * starts[i], 2 * starts[i + 1]);
        assert_eq!(s.len(), b - a, "track {} length", i + 1);
        assert!(
            s == reference[a..b],
            "track {} is its part of the album",
            i + 1
        );
    }
    // The split is where the cue says in the sources too: track 2 begins
    // with one.wav's sample 336 000, track 4 with two.wav's first.
    let one = samples24(&dir.join("one.wav"));
    assert_eq!(
        samples24(&masters[1])[..64],
        one[2 * 336_000..2 * 336_000 + 64]
    );
    assert_eq!(
        samples24(&masters[3])[..64],
        samples24(&dir.join("two.wav"))[..64]
    );
    // The PREGAP is digital silence at the end of track 3.
    let t3 = samples24(&masters[2]);
    assert!(t3[t3.len() - 2 * 48_000..].iter().all(|&x| x == 0));
}
