//! Proves the audio thread's work allocates nothing: the whole real-time
//! process (queue drain, chain of every slot kind, monitor section, safety
//! ceiling, meters) runs under `assert_no_alloc`, with parameter, bypass and
//! monitor changes arriving through the queue while it runs.

use assert_no_alloc::{AllocDisabler, assert_no_alloc};
use rackd::config::{AudioConfig, BackendKind, SlotConfig};
use rackd::engine::EngineControl;
use rackd::hub::Target;
use rackd_dsp::{Monitor, SlotKind};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

fn audio() -> AudioConfig {
    AudioConfig {
        backend: BackendKind::Null,
        ceiling_dbfs: -1.0,
        ..AudioConfig::default()
    }
}

#[test]
fn audio_thread_process_never_allocates() {
    let slots: Vec<SlotConfig> = SlotKind::NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| SlotConfig::new(format!("s{i}"), SlotKind::from_name(name).unwrap()))
        .collect();
    let control = EngineControl::new(&slots, &audio());
    let mut rt = control.build_rt(48_000, 256);
    let input: Vec<f32> = (0..256).map(|i| ((i as f32) * 0.05).sin() * 0.9).collect();
    let (mut out_l, mut out_r) = (vec![0f32; 256], vec![0f32; 256]);
    for block in 0..200 {
        // Changes arrive from the control side between blocks, as from the hub.
        for (slot, s) in slots.iter().enumerate() {
            for (index, spec) in s.kind.params().iter().enumerate() {
                let v = spec.engine_value(&spec.from_norm((block % 10) as f64 / 10.0).unwrap());
                control.apply(Target::ChainParam { slot, index }, v);
            }
            control.apply(Target::ChainBypass { slot }, (block % 3 == 0) as i32 as f32);
        }
        for (index, spec) in Monitor::params().iter().enumerate() {
            let norm = ((block + index) % 7) as f64 / 6.0;
            let v = spec.engine_value(&spec.from_norm(norm).unwrap());
            control.apply(Target::Monitor { index }, v);
        }
        assert_no_alloc(|| rt.process(&input, &input, &mut out_l, &mut out_r));
        assert!(
            out_l
                .iter()
                .chain(&out_r)
                .all(|x| x.is_finite() && x.abs() <= 0.9)
        );
    }
}
