//! Every processor's `process` (and the chain around them) runs under
//! `assert_no_alloc`: any allocation on the audio path aborts this test binary.

use assert_no_alloc::{AllocDisabler, assert_no_alloc};
use rackd_dsp::{Chain, Meters, SlotKind};

#[global_allocator]
static A: AllocDisabler = AllocDisabler;

fn signal(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) as f32 / u32::MAX as f32
                - 0.5)
                * 3.0
        })
        .collect()
}

#[test]
fn every_slot_processes_without_allocating() {
    for fs in [44_100.0f32, 96_000.0, 192_000.0] {
        for &name in SlotKind::NAMES {
            let kind = SlotKind::from_name(name).unwrap();
            let meters = Meters::new();
            let mut p = kind.build(fs, 1024, meters.clone());
            let params = kind.params();
            let mut l = signal(fs as usize, 1);
            let mut r = signal(fs as usize, 2);
            l[500] = f32::NAN;
            r[700] = f32::INFINITY;
            assert_no_alloc(|| {
                // Parameter changes happen on the audio thread too.
                for i in 0..params.len() {
                    p.set_param(i, 1.0);
                }
                p.start_measure();
                for (cl, cr) in l.chunks_mut(64).zip(r.chunks_mut(64)) {
                    p.process(cl, cr);
                }
                for (cl, cr) in l.chunks_mut(1000).zip(r.chunks_mut(1000)) {
                    p.process(cl, cr);
                }
                let _ = p.latency();
                p.reset();
            });
            assert!(
                meters.peek().frames > 0 || !matches!(kind, SlotKind::Meter | SlotKind::Loudness)
            );
        }
    }
}

#[test]
fn full_mastering_chain_runs_without_allocating() {
    let fs = 96_000.0;
    let meters = Meters::new();
    let mut chain = Chain::new(fs, 256);
    for name in [
        "trim",
        "stereo",
        "eq",
        "compressor",
        "limiter",
        "loudness",
        "dither",
    ] {
        chain.push(
            SlotKind::from_name(name)
                .unwrap()
                .build(fs, 256, meters.clone()),
        );
    }
    let mut l = signal(96_000, 3);
    let mut r = signal(96_000, 4);
    assert_no_alloc(|| {
        chain.set_bypass(2, true, false);
        for (cl, cr) in l.chunks_mut(64).zip(r.chunks_mut(64)) {
            chain.process(cl, cr);
        }
        chain.set_bypass(2, false, false);
        chain.set_param(2, 0, 1.0);
        for (cl, cr) in l.chunks_mut(300).zip(r.chunks_mut(300)) {
            chain.process(cl, cr);
        }
    });
    let m = meters.take();
    assert!(m.lufs_m.is_finite() && m.true_peak[0] > 0.0);
}
