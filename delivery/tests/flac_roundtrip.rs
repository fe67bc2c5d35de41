//! The FLAC encoder against an independent decoder (Symphonia's): any
//! signal — silence, full scale, noise, tones, steps, lengths that are not
//! whole blocks — comes back bit for bit, at 16 and 24 bits, with the tags.

use proptest::prelude::*;
use rackd_delivery::streaming::flac::{Encoder, STREAMINFO_OFFSET};
use std::io::Cursor;
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::DecoderOptions;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

fn encode(l: &[i32], r: &[i32], rate: u32, bits: u32, chunk: usize) -> Vec<u8> {
    let enc = Encoder::new(rate, bits, l.len() as u64);
    let tags = vec![("TITLE".to_string(), "Tunnel".to_string())];
    let mut out = enc.header("rackd test", &tags);
    let mut enc = enc;
    for (a, b) in l.chunks(chunk.max(1)).zip(r.chunks(chunk.max(1))) {
        enc.push(a, b, &mut out);
    }
    let info = enc.finish(&mut out);
    let at = STREAMINFO_OFFSET as usize;
    out[at..at + 34].copy_from_slice(&info);
    out
}

/// Decoded samples (interleaved, in the stream's bit width) and the TITLE tag.
fn decode(bytes: Vec<u8>, bits: u32) -> (Vec<i32>, Option<String>) {
    let mss = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let mut hint = Hint::new();
    hint.with_extension("flac");
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            mss,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .expect("a FLAC stream");
    let mut format = probed.format;
    let title = format.metadata().current().and_then(|rev| {
        rev.tags()
            .iter()
            .find(|t| t.key.eq_ignore_ascii_case("TITLE"))
            .map(|t| t.value.to_string())
    });
    let track = format.default_track().expect("track").clone();
    let mut dec = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions { verify: true })
        .expect("decoder");
    let mut out = Vec::new();
    while let Ok(p) = format.next_packet() {
        let d = dec.decode(&p).expect("decodes");
        let mut sb = SampleBuffer::<i32>::new(d.capacity() as u64, *d.spec());
        sb.copy_interleaved_ref(d);
        out.extend(sb.samples().iter().map(|v| v >> (32 - bits)));
    }
    assert_eq!(dec.finalize().verify_ok, Some(true), "STREAMINFO MD5");
    (out, title)
}

fn check(l: Vec<i32>, r: Vec<i32>, bits: u32, chunk: usize) {
    for rate in [44_100, 96_000, 88_200, 50_000] {
        let bytes = encode(&l, &r, rate, bits, chunk);
        let (got, title) = decode(bytes, bits);
        let want: Vec<i32> = l.iter().zip(&r).flat_map(|(a, b)| [*a, *b]).collect();
        assert_eq!(got.len(), want.len(), "length at {rate}");
        assert!(got == want, "samples differ at {rate} Hz, {bits} bit");
        assert_eq!(title.as_deref(), Some("Tunnel"));
    }
}

#[test]
fn tones_noise_silence_and_extremes_come_back_exactly() {
    let n = 4096 * 3 + 1234;
    let full = (1i32 << 23) - 1;
    let tone: Vec<i32> = (0..n)
        .map(|i| ((i as f64 * 0.0371).sin() * 0.9 * full as f64) as i32)
        .collect();
    let mut seed = 1u64;
    let noise: Vec<i32> = (0..n)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 40) as i32) - (1 << 23)
        })
        .collect();
    let silence = vec![0; n];
    let square: Vec<i32> = (0..n)
        .map(|i| if i % 50 < 25 { full } else { -full - 1 })
        .collect();
    check(tone.clone(), tone.iter().map(|x| -x).collect(), 24, 1000);
    check(noise.clone(), tone.clone(), 24, 4096);
    check(silence.clone(), silence.clone(), 24, 777);
    check(
        square.clone(),
        square.iter().map(|x| -(x + 1)).collect(),
        24,
        5000,
    );
    check(noise.iter().map(|x| x >> 8).collect(), silence, 16, 300);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn any_signal_round_trips(
        l in proptest::collection::vec(-(1i32 << 23)..(1i32 << 23), 1..9000),
        smooth in any::<bool>(),
        chunk in 1usize..5000,
    ) {
        let l: Vec<i32> = if smooth {
            // Integrate and clamp: predictable signals take the fixed predictors.
            let mut acc = 0i64;
            l.iter().map(|x| { acc = (acc + (*x as i64 >> 10)).clamp(-(1 << 23), (1 << 23) - 1); acc as i32 }).collect()
        } else { l };
        let r: Vec<i32> = l.iter().rev().copied().collect();
        check(l, r, 24, chunk);
    }
}
