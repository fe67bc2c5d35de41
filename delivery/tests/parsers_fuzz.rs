//! Bad input to the parsers gives an error, never a panic: random bytes and
//! random damage to valid cue sheets, album files, DDP files and CD-Text.

use proptest::prelude::*;
use rackd_delivery::album::SourceInfo;
use rackd_delivery::album::spec::AlbumSpec;
use rackd_delivery::cdtext::{CdText, Field, Fields};
use rackd_delivery::cue::CueSheet;
use rackd_delivery::ddp::{Ddp, checksum};
use std::collections::HashMap;
use std::path::Path;

const CUE: &str = "REM GENRE Pop\nCATALOG 4006381333931\nTITLE \"Disc\"\nFILE \"a.wav\" WAVE\n  TRACK 01 AUDIO\n    ISRC USS1Z2600001\n    FLAGS DCP\n    INDEX 01 00:00:00\n  TRACK 02 AUDIO\n    PREGAP 00:01:00\n    INDEX 00 00:10:00\n    INDEX 01 00:12:00\n    POSTGAP 00:02:00\n";

const ALBUM: &str = "[disc]\ntitle = \"A\"\nupc = \"4006381333931\"\nisrc = \"USS1Z2600001\"\n[hidden]\nsource = \"h.wav\"\n[[track]]\nsource = \"a.wav\"\nfade_in = { length = 0.5, curve = \"s-curve\" }\nindexes = [1.0]\n[[track]]\nsource = \"b.wav\"\ncrossfade = 1.0\ngain = -1\n";

fn info() -> SourceInfo {
    SourceInfo {
        rate: 44_100,
        frames: 44_100 * 20,
        channels: 2,
        exact16: true,
        peak: 0.5,
    }
}

/// A DDP rackd writes for a small disc, as file name → bytes.
fn ddp_files() -> HashMap<String, Vec<u8>> {
    let (c, _) = CueSheet::parse(CUE.as_bytes(), Path::new("/x"));
    let (disc, _) = c.unwrap().layout(&[info()]);
    let disc = disc.unwrap();
    let text = disc.cd_text().unwrap().encode().unwrap();
    let ddp = Ddp::of_disc(&disc, text.len(), "fuzz");
    let mut files: HashMap<String, Vec<u8>> = ddp.encode().into_iter().collect();
    files.insert("CDTEXT.BIN".into(), text);
    files
}

fn damage(mut b: Vec<u8>, edits: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    for &(at, v) in edits {
        if !b.is_empty() {
            let n = b.len();
            b[at % n] = v;
        }
    }
    if let Some(c) = cut {
        b.truncate(c % (b.len() + 1));
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn cue_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400),
                        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
                        cut in proptest::option::of(any::<usize>())) {
        for input in [bytes, damage(CUE.as_bytes().to_vec(), &edits, cut)] {
            let (c, d) = CueSheet::parse(&input, Path::new("/x"));
            match c {
                Some(c) => {
                    let infos: Vec<SourceInfo> = c.sources.iter().map(|_| info()).collect();
                    if let (Some(disc), _) = c.layout(&infos) {
                        let _ = rackd_delivery::redbook::check(&disc);
                        let _ = rackd_delivery::toc::write(&disc, "a.bin");
                        let _ = rackd_delivery::cue::write(&disc, "a.bin");
                    }
                }
                None => prop_assert!(!d.is_empty(), "refused without a reason"),
            }
        }
    }

    #[test]
    fn album_toml_never_panics(edits in proptest::collection::vec((any::<usize>(), 32u8..127), 0..6),
                               cut in proptest::option::of(any::<usize>())) {
        let text = String::from_utf8_lossy(&damage(ALBUM.as_bytes().to_vec(), &edits, cut)).into_owned();
        let (spec, d) = AlbumSpec::parse(&text, Path::new("/x"));
        match spec {
            Some(s) => {
                let infos: Vec<SourceInfo> = s.sources.iter().map(|_| info()).collect();
                if let (Some(disc), _) = s.layout(&infos) {
                    let _ = rackd_delivery::redbook::check(&disc);
                }
            }
            None => prop_assert!(!d.is_empty()),
        }
    }

    #[test]
    fn ddp_reader_never_panics(file in 0usize..4,
                               edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..10),
                               cut in proptest::option::of(any::<usize>())) {
        let mut files = ddp_files();
        let names = ["DDPID", "DDPMS", "PQDESCR", "CDTEXT.BIN"];
        let name = names[file];
        let b = files.remove(name).unwrap();
        files.insert(name.into(), damage(b, &edits, cut));
        let r = Ddp::read(&mut |n| files.get(n).cloned().ok_or_else(|| "missing".into()));
        if let Ok(ddp) = r {
            let _ = ddp.check(ddp.lead_out as u64 * 2352);
            let _ = rackd_delivery::ddp::info::json(&ddp, &|_| None);
            let _ = rackd_delivery::ddp::info::text(&ddp, &|_| None);
            let _ = rackd_delivery::cue::write(&ddp.to_disc(), "x.bin");
        }
    }

    #[test]
    fn cd_text_and_checksums_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600),
                                         title in "\\PC{0,40}") {
        let _ = CdText::decode(&bytes);
        let _ = checksum::parse(&String::from_utf8_lossy(&bytes));
        let mut t = CdText::default();
        let mut f = Fields::new();
        f.insert(Field::Title, title.clone());
        t.tracks.push(f);
        match t.encode() {
            Ok(packs) => {
                let back = CdText::decode(&packs).unwrap();
                prop_assert_eq!(back.tracks[0].get(&Field::Title).map(String::as_str).unwrap_or(""), title.as_str());
            }
            Err(e) => prop_assert!(e.to_string().contains("ISO-8859-1") || e.to_string().contains("packs")),
        }
    }
}

#[test]
fn a_valid_ddp_round_trips() {
    let files = ddp_files();
    let ddp = Ddp::read(&mut |n| files.get(n).cloned().ok_or_else(|| "missing".into())).unwrap();
    assert_eq!(ddp.tracks.len(), 2);
    assert_eq!(ddp.tracks[1].indexes, vec![150 + 900 + 75]);
    assert_eq!(ddp.upc.as_deref(), Some("4006381333931"));
    assert!(ddp.tracks[0].flags.copy_permitted);
    assert!(ddp.check(ddp.lead_out as u64 * 2352).is_empty());
}

#[test]
fn bad_numbers_and_packets_are_named() {
    let mut files = ddp_files();
    // Minutes of the first PQ entry.
    files.get_mut("PQDESCR").unwrap()[10] = b'x';
    let e = Ddp::read(&mut |n| files.get(n).cloned().ok_or_else(|| "no".into())).unwrap_err();
    assert!(e.to_string().starts_with("PQDESCR: entry 1 minutes"), "{e}");
    let mut files = ddp_files();
    files.get_mut("DDPMS").unwrap()[128] = b'X';
    let e = Ddp::read(&mut |n| files.get(n).cloned().ok_or_else(|| "no".into())).unwrap_err();
    assert!(
        e.to_string()
            .contains("packet 2 at byte 128 does not start with VVVM"),
        "{e}"
    );
    let mut files = ddp_files();
    files.remove("CDTEXT.BIN");
    let e = Ddp::read(&mut |n| files.get(n).cloned().ok_or_else(|| "no".into())).unwrap_err();
    assert!(e.to_string().starts_with("CDTEXT.BIN"), "{e}");
}
