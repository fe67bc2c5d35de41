//! Stereo 32-bit float WAV files for print and render tests (the canonical
//! 44-byte header `rackd` writes; nothing else is needed here).

use std::path::Path;

/// The canonical 44-byte header: `tag` 1 (PCM) or 3 (float).
fn header(tag: u16, channels: u16, rate: u32, bits: u16, frames: usize) -> Vec<u8> {
    let bytes = bits / 8;
    let data = frames as u32 * channels as u32 * bytes as u32;
    let mut b = Vec::with_capacity(44 + data as usize);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&tag.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * channels as u32 * bytes as u32).to_le_bytes());
    b.extend_from_slice(&(channels * bytes).to_le_bytes());
    b.extend_from_slice(&bits.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data.to_le_bytes());
    b
}

/// Writes `left`/`right` as a 32-bit float stereo WAV.
pub fn write_float_wav(path: &Path, rate: u32, left: &[f32], right: &[f32]) {
    let frames = left.len().min(right.len());
    let mut b = header(3, 2, rate, 32, frames);
    for i in 0..frames {
        b.extend_from_slice(&left[i].to_le_bytes());
        b.extend_from_slice(&right[i].to_le_bytes());
    }
    std::fs::write(path, b).expect("write wav");
}

/// Reads a 32-bit float stereo WAV with the canonical header: (rate, [left, right]).
pub fn read_float_wav(path: &Path) -> (u32, [Vec<f32>; 2]) {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(b.len() >= 44 && &b[..4] == b"RIFF" && &b[8..16] == b"WAVEfmt ");
    let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    assert_eq!(u16_at(20), 3, "not IEEE float");
    assert_eq!(u16_at(22), 2, "not stereo");
    assert_eq!(u16_at(34), 32, "not 32 bit");
    assert_eq!(&b[36..40], b"data");
    let rate = u32_at(24);
    let data = &b[44..44 + u32_at(40) as usize];
    let mut out = [Vec::new(), Vec::new()];
    for (i, s) in data.chunks_exact(4).enumerate() {
        out[i % 2].push(f32::from_le_bytes([s[0], s[1], s[2], s[3]]));
    }
    (rate, out)
}

/// Deterministic noise in ±`amplitude` (xorshift), different per `seed`.
pub fn noise(frames: usize, amplitude: f32, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).max(1);
    (0..frames)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s as f32 / u32::MAX as f32 * 2.0 - 1.0) * amplitude
        })
        .collect()
}

/// The lag (0..=max_lag) at which `recorded[lag..]` best matches `reference`
/// (least squared error over `reference`), and that error's largest sample.
pub fn best_lag(reference: &[f32], recorded: &[f32], max_lag: usize) -> (usize, f32) {
    let mut best = (0, f32::INFINITY);
    for lag in 0..=max_lag.min(recorded.len().saturating_sub(reference.len())) {
        let err = reference
            .iter()
            .zip(&recorded[lag..])
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        if err < best.1 {
            best = (lag, err);
        }
    }
    best
}

/// Writes integer PCM (16 or 24 bit) from planar channels in −1..1, rounded
/// and clipped to the format, any channel count.
pub fn write_pcm_wav(path: &Path, rate: u32, bits: u16, chans: &[Vec<f64>]) {
    let frames = chans.iter().map(|c| c.len()).min().unwrap_or(0);
    let bytes = bits / 8;
    let mut b = header(1, chans.len() as u16, rate, bits, frames);
    let scale = (1i64 << (bits - 1)) as f64;
    for i in 0..frames {
        for c in chans {
            let s = (c[i] * scale).round().clamp(-scale, scale - 1.0) as i32;
            b.extend_from_slice(&s.to_le_bytes()[..bytes as usize]);
        }
    }
    std::fs::write(path, b).expect("write wav");
}
