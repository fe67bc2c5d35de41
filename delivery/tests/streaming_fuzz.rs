//! Property tests: the streaming half's readers of outside bytes — codec
//! headers of encoded previews, album.toml edits, dates — answer or refuse,
//! never panic, on any input.

use proptest::prelude::*;
use rackd_delivery::album::edit::set_gains;
use rackd_delivery::album::spec::AlbumSpec;
use rackd_delivery::streaming::codec::{Codec, lame_delay, mp4_priming, opus_pre_skip};
use std::path::Path;

/// Headers that parse, to mutate.
fn seeds() -> Vec<Vec<u8>> {
    let mut opus = b"OggS".to_vec();
    opus.resize(26, 0);
    opus.extend_from_slice(&[1, 19]);
    opus.extend_from_slice(b"OpusHead\x01\x02\x38\x01");
    opus.extend_from_slice(&[0; 7]);
    let mut mp3 = vec![0xff, 0xfb, 0x90, 0x00];
    mp3.extend_from_slice(&[0; 32]);
    mp3.extend_from_slice(b"Info\x00\x00\x00\x0f");
    mp3.extend_from_slice(&[0; 140]);
    let b = |kind: &[u8], body: &[u8]| {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    };
    let elst = b(
        b"elst",
        &[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 4, 0, 0, 1, 0, 0],
    );
    let mp4 = b(b"moov", &b(b"trak", &b(b"edts", &elst)));
    vec![opus, mp3, mp4]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn codec_headers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = (opus_pre_skip(&bytes), lame_delay(&bytes), mp4_priming(&bytes));
        for c in Codec::ALL {
            prop_assert!(c.delay(&bytes).samples < 1 << 32);
        }
    }

    #[test]
    fn mutated_codec_headers_never_panic(seed in 0usize..3, at in any::<prop::sample::Index>(), v in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let mut s = seeds()[seed].clone();
        let i = at.index(s.len());
        s[i] = v;
        s.truncate(cut.index(s.len() + 1));
        let _ = (opus_pre_skip(&s), lame_delay(&s), mp4_priming(&s));
    }

    #[test]
    fn gains_edit_any_text_without_panic(text in "\\PC{0,300}", gains in proptest::collection::vec(-60.0f64..24.0, 0..4)) {
        if let Ok(out) = set_gains(&text, &gains) {
            // An edit keeps valid TOML valid, with the gains given.
            let (spec, _) = AlbumSpec::parse(&out, Path::new("/x"));
            if let Some(spec) = spec {
                for (t, g) in spec.tracks.iter().zip(&gains) {
                    prop_assert!((t.clip.gain_db - (g * 100.0).round() / 100.0).abs() < 1e-9);
                }
            }
        }
    }

    #[test]
    fn any_date_text_is_taken_or_refused(date in "\\PC{0,12}") {
        let text = format!("[disc]\ndate = {:?}\n[[track]]\nsource = \"a.wav\"\n", date);
        let _ = AlbumSpec::parse(&text, Path::new("/x"));
    }
}
