//! The cpal backend's two callbacks allocate nothing: the input side
//! (interleaved device frames into the ring) and the output side (ring →
//! planar buffers → the whole real-time process → interleaved device frames)
//! run under `assert_no_alloc`, in float and 16-bit, through underruns and
//! resynchronisation. Also checks that audio passes the ring intact.

use assert_no_alloc::{AllocDisabler, assert_no_alloc};
use rackd::config::{AudioConfig, BackendKind, CpalHost, SlotConfig};
use rackd::engine::EngineControl;
use rackd::engine::cpal::{Capture, Playback, ring};
use rackd::hub::Target;
use rackd_dsp::SlotKind;

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

const PERIOD: usize = 256;

fn audio() -> AudioConfig {
    AudioConfig {
        backend: BackendKind::Cpal,
        client_name: "test".into(),
        period: PERIOD as u32,
        ceiling_dbfs: -1.0,
        host: CpalHost::Jack,
        buffer_size: Some(PERIOD as u32),
        ..AudioConfig::default()
    }
}

fn sides(slots: &[SlotConfig]) -> (std::sync::Arc<EngineControl>, Capture, Playback) {
    sides_with(slots, 2)
}

/// Both callbacks' state for a device of `channels` channels (inserts mapped
/// from the slots' `send_channels` / `return_channels`).
fn sides_with(
    slots: &[SlotConfig],
    channels: u16,
) -> (std::sync::Arc<EngineControl>, Capture, Playback) {
    let control = EngineControl::new(
        slots,
        &AudioConfig {
            channels,
            ..audio()
        },
    );
    let width = usize::from(channels);
    let (producer, consumer) = ring(PERIOD, PERIOD, width);
    let inserts = slots
        .iter()
        .filter(|s| s.kind == SlotKind::Insert)
        .map(rackd::engine::cpal::InsertChannels::of)
        .collect();
    let playback = Playback::new(
        control.build_rt(48_000, PERIOD),
        consumer,
        width,
        PERIOD,
        PERIOD,
        48_000,
        control.status().clone(),
    )
    .with_inserts(inserts);
    (control.clone(), Capture::new(producer, width), playback)
}

fn sine(frames: usize, offset: usize) -> Vec<f32> {
    (0..frames)
        .flat_map(|i| {
            let x = (((i + offset) as f32) * 0.05).sin() * 0.5;
            [x, -x]
        })
        .collect()
}

#[test]
fn cpal_callbacks_never_allocate() {
    let slots: Vec<SlotConfig> = SlotKind::NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| SlotConfig::new(format!("s{i}"), SlotKind::from_name(name).unwrap()))
        .collect();
    let (control, mut capture, mut playback) = sides(&slots);
    let input = sine(PERIOD, 0);
    let input_i16: Vec<i16> = input.iter().map(|x| (x * 32767.0) as i16).collect();
    let mut out = vec![0f32; PERIOD * 2];
    let mut out_i16 = vec![0i16; PERIOD * 2];
    // Odd callback sizes (ALSA does not promise one period) and a larger one than the block.
    let mut odd = vec![0f32; 3 * 97 * 2];
    for block in 0..200 {
        for (slot, s) in slots.iter().enumerate() {
            for (index, spec) in s.kind.params().iter().enumerate() {
                let v = spec.engine_value(&spec.from_norm((block % 10) as f64 / 10.0).unwrap());
                control.apply(Target::ChainParam { slot, index }, v);
            }
            control.apply(Target::ChainBypass { slot }, (block % 3 == 0) as i32 as f32);
        }
        match block % 5 {
            // Input and output in step.
            0 | 1 => assert_no_alloc(|| {
                capture.push(&input);
                playback.render(&mut out);
            }),
            // 16-bit devices.
            2 => assert_no_alloc(|| {
                capture.push(&input_i16);
                playback.render(&mut out_i16);
            }),
            // Output without input (underrun), then input far ahead (resync).
            3 => assert_no_alloc(|| {
                playback.render(&mut out);
                for _ in 0..8 {
                    capture.push(&input);
                }
            }),
            _ => assert_no_alloc(|| {
                capture.push(&input);
                playback.render(&mut odd);
                capture.push(&input);
            }),
        }
        assert!(
            out.iter()
                .chain(&odd)
                .all(|x| x.is_finite() && x.abs() <= 0.9)
        );
    }
}

#[test]
fn audio_passes_the_ring_delayed_by_one_period() {
    let slots = [SlotConfig::new("trim", SlotKind::Trim)];
    let (control, mut capture, mut playback) = sides(&slots);
    let mut played = Vec::new();
    let mut out = vec![0f32; PERIOD * 2];
    for block in 0..20 {
        capture.push(&sine(PERIOD, block * PERIOD));
        playback.render(&mut out);
        played.extend_from_slice(&out);
    }
    // The ring is primed with one period of silence, so output = input one period later.
    let expected = sine(19 * PERIOD, 0);
    let got = &played[PERIOD * 2..];
    let worst = expected
        .iter()
        .zip(got)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        worst < 1e-6,
        "output differs from the delayed input by {worst}"
    );
    assert!(played[..PERIOD * 2].iter().all(|x| *x == 0.0));
    assert_eq!(
        control
            .status()
            .xruns
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

#[test]
fn inserts_on_extra_channels_are_measured_without_allocating() {
    // Four device channels: the main pair, and an insert on channels 3 and 4
    // looped back from the output to the input, as a cable would.
    let mut gear = SlotConfig::new("gear", SlotKind::Insert);
    gear.send_channels = vec![3, 4];
    gear.return_channels = vec![3, 4];
    let slots = [SlotConfig::new("trim", SlotKind::Trim), gear];
    let (control, mut capture, mut playback) = sides_with(&slots, 4);
    let mut input = vec![0f32; PERIOD * 4];
    let mut out = vec![0f32; PERIOD * 4];
    let measuring = {
        let control = control.clone();
        std::thread::spawn(move || control.measure(1))
    };
    while !measuring.is_finished() {
        assert_no_alloc(|| {
            capture.push(&input);
            playback.render(&mut out);
        });
        // The loop: what went out on 3/4 comes back on 3/4 next period.
        for (i, o) in input.chunks_exact_mut(4).zip(out.chunks_exact(4)) {
            i[2] = o[2];
            i[3] = o[3];
        }
    }
    let measured = measuring.join().unwrap().expect("measurement");
    // One period through the loop and one in the input→output ring.
    assert_eq!(measured.latency, 2 * PERIOD);
    assert!(!measured.inverted);
}
