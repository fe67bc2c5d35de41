//! The full mastering chain at 96 kHz stereo: 8-band EQ, compressor, limiter,
//! programme meter and dither, single-threaded, in 64-frame blocks.
//!
//! Run: `cargo bench -p rackd-dsp --bench chain`

use rackd_dsp::eq::PARAMS_PER_BAND;
use rackd_dsp::{Chain, Meters, SlotKind};
use std::time::Instant;

fn main() {
    let fs = 96_000.0f32;
    let block = 64;
    let meters = Meters::new();
    let mut chain = Chain::new(fs, block);
    let mut eq = SlotKind::Eq.build(fs, block, meters.clone());
    let types = [4.0, 1.0, 0.0, 0.0, 0.0, 0.0, 2.0, 3.0];
    for (b, ty) in types.iter().enumerate() {
        eq.set_param(b * PARAMS_PER_BAND, 1.0);
        eq.set_param(b * PARAMS_PER_BAND + 1, *ty);
        eq.set_param(b * PARAMS_PER_BAND + 3, 2.0);
        eq.set_param(b * PARAMS_PER_BAND + 5, 3.0); // 48 dB/oct pass filters
    }
    chain.push(eq);
    chain.push(SlotKind::Compressor.build(fs, block, meters.clone()));
    let mut lim = SlotKind::Limiter.build(fs, block, meters.clone());
    lim.set_param(1, 6.0); // drive into the limiter
    chain.push(lim);
    chain.push(SlotKind::Loudness.build(fs, block, meters.clone()));
    let mut dither = SlotKind::Dither.build(fs, block, meters.clone());
    dither.set_param(0, 0.0);
    dither.set_param(1, 2.0);
    chain.push(dither);

    let seconds = 60usize;
    let frames = fs as usize * seconds;
    let mut seed = 1u32;
    let mut src: Vec<f32> = Vec::with_capacity(fs as usize);
    for i in 0..fs as usize {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let n = (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
        let t = i as f32 / fs;
        src.push(0.3 * (2.0 * std::f32::consts::PI * 110.0 * t).sin() + 0.2 * n);
    }
    let mut l = vec![0f32; block];
    let mut r = vec![0f32; block];
    let blocks = frames / block;
    let t0 = Instant::now();
    for b in 0..blocks {
        let at = (b * block) % (src.len() - block);
        l.copy_from_slice(&src[at..at + block]);
        r.copy_from_slice(&src[at..at + block]);
        chain.process(&mut l, &mut r);
    }
    let cpu = t0.elapsed().as_secs_f64();
    let audio = (blocks * block) as f64 / fs as f64;
    println!(
        "full mastering chain (8-band EQ, compressor, true-peak limiter, loudness/true-peak meter, dither) at 96 kHz stereo:"
    );
    println!(
        "  {audio:.0} s of audio in {cpu:.3} s CPU: real-time factor {:.1}x (single thread)",
        audio / cpu
    );
    println!(
        "  cost per 64-frame block: {:.2} us (budget at 96 kHz: {:.0} us, {:.2}% used)",
        cpu / blocks as f64 * 1e6,
        block as f64 / fs as f64 * 1e6,
        100.0 * cpu / audio
    );
    println!(
        "  chain latency {} samples; meter I {:.2} LUFS",
        chain.latency(),
        meters.peek().lufs_i
    );
}
