//! album.toml read into a disc, and its problems with their lines.

use super::*;

fn info(seconds: f64, rate: u32) -> SourceInfo {
    SourceInfo {
        rate,
        frames: (seconds * rate as f64) as u64,
        channels: 2,
        exact16: true,
        peak: 0.5,
    }
}

#[test]
fn every_problem_with_its_line() {
    let text = "[disc]\ntitle = \"A\"\nupc = \"4006381333932\"\nbogus = 1\n\n[[track]]\nsource = \"a.wav\"\nisrc = \"nope\"\ngain = \"loud\"\n\n[[track]]\ntitle = \"Ω\"\n";
    let (spec, d) = AlbumSpec::parse(text, Path::new("/x"));
    assert!(spec.is_none());
    let lines: Vec<(Option<usize>, &str)> =
        d.iter().map(|d| (d.line, d.message.as_str())).collect();
    let has = |line: usize, part: &str| {
        lines
            .iter()
            .any(|(l, m)| *l == Some(line) && m.contains(part))
    };
    assert!(has(3, "check digit"), "{lines:?}");
    assert!(has(4, "unknown key `bogus`"), "{lines:?}");
    assert!(has(8, "ISRC"), "{lines:?}");
    assert!(has(9, "must be a number"), "{lines:?}");
    assert!(has(11, "needs a `source`"), "{lines:?}");
    assert!(has(12, "ISO-8859-1"), "{lines:?}");
}

#[test]
fn layout_in_frames_with_gap_segue_hidden_and_counted_isrc() {
    let text = r#"
[disc]
isrc = "us-s1z-26-00001"
[hidden]
source = "h.wav"
[[track]]
source = "1.wav"
indexes = ["00:02:00"]
[[track]]
source = "2.wav"
gap = 1.0
[[track]]
source = "3.wav"
crossfade = 2.0
"#;
    let (spec, d) = AlbumSpec::parse(text, Path::new("/x"));
    let spec = spec.unwrap_or_else(|| panic!("{d:?}"));
    assert!(d.iter().any(|d| d.message.contains("USS1Z2600001")));
    let infos = [
        info(3.0, 44_100),
        info(10.0, 48_000),
        info(10.0, 44_100),
        info(10.0, 96_000),
    ];
    let (disc, d) = spec.layout(&infos);
    let disc = disc.unwrap_or_else(|| panic!("{d:?}"));
    let t = &disc.tracks;
    assert_eq!(t[0].pregap, Some(0));
    assert_eq!(t[0].indexes, vec![150 + 225, 150 + 225 + 150]);
    assert_eq!(t[1].pregap, Some(375 + 750));
    assert_eq!(t[1].start(), 375 + 750 + 75);
    assert_eq!(t[2].pregap, None);
    assert_eq!(t[2].start(), 375 + 750 + 75 + 750 - 150);
    assert_eq!(disc.lead_out, t[2].start() + 750);
    assert_eq!(t[2].isrc.as_ref().unwrap().as_str(), "USS1Z2600003");
    assert!(disc.is_segue(2) && !disc.is_segue(1));
    assert_eq!(disc.clips[0].at, 150);
    assert_eq!(disc.clips[0].track, 0);
}
