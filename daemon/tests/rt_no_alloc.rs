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
    process_never_allocates(&audio());
}

#[test]
fn audio_thread_with_a_true_peak_ceiling_never_allocates() {
    process_never_allocates(&AudioConfig {
        ceiling_mode: rackd_dsp::CeilingMode::TruePeak,
        ..audio()
    });
}

fn process_never_allocates(audio: &AudioConfig) {
    let slots: Vec<SlotConfig> = SlotKind::NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| SlotConfig::new(format!("s{i}"), SlotKind::from_name(name).unwrap()))
        .collect();
    let control = EngineControl::new(&slots, audio);
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

/// Insert ports that loop every send back to its return one period later.
struct Loopback {
    sends: [Vec<f32>; 2],
    returns: [Vec<f32>; 2],
}

impl rackd_dsp::InsertIo for Loopback {
    fn ports(&mut self, index: usize) -> Option<rackd_dsp::InsertPorts<'_>> {
        (index == 0).then(|| {
            let [sl, sr] = &mut self.sends;
            rackd_dsp::InsertPorts {
                returns: [&self.returns[0], &self.returns[1]],
                sends: [sl, sr],
            }
        })
    }
}

#[test]
fn layout_changes_prints_and_measurements_never_allocate_on_the_audio_thread() {
    let period = 256;
    let slots = vec![
        SlotConfig::new("trim", SlotKind::Trim),
        SlotConfig::new("gear", SlotKind::Insert),
        SlotConfig::new("limiter", SlotKind::Limiter),
    ];
    let control = EngineControl::new(&slots, &audio());
    let mut rt = control.build_rt(48_000, period);
    let mut io = Loopback {
        sends: [vec![0.0; period], vec![0.0; period]],
        returns: [vec![0.0; period], vec![0.0; period]],
    };
    let input: Vec<f32> = (0..period)
        .map(|i| ((i as f32) * 0.05).sin() * 0.5)
        .collect();
    let (mut out_l, mut out_r) = (vec![0f32; period], vec![0f32; period]);
    let mut run = |rt: &mut rackd::engine::rt::RtProcess, io: &mut Loopback, blocks: usize| {
        for _ in 0..blocks {
            assert_no_alloc(|| rt.process_io(&input, &input, &mut out_l, &mut out_r, io));
            let [rl, rr] = &mut io.returns;
            rl.copy_from_slice(&io.sends[0]);
            rr.copy_from_slice(&io.sends[1]);
            assert!(out_l.iter().chain(&out_r).all(|x| x.is_finite()));
        }
    };

    // A measurement runs on another thread while the audio thread plays.
    let measuring = {
        let control = control.clone();
        std::thread::spawn(move || control.measure(1))
    };
    while !measuring.is_finished() {
        run(&mut rt, &mut io, 4);
    }
    let measured = measuring.join().unwrap().expect("measurement");
    assert_eq!(measured.latency, period, "the loop delays by one period");
    assert!(!measured.inverted);

    // Layout changes: slots reordered, removed and added.
    for (slot, position, active) in [(2, 0, 1.0), (0, 5, 1.0), (1, 0, 0.0), (1, 1, 1.0)] {
        control.apply(Target::ChainPosition { slot }, position as f32);
        control.apply(Target::ChainActive { slot }, active);
        control.sync_layout();
        run(&mut rt, &mut io, 40);
        assert!(!rt.handing_over(), "handover done in 40 periods");
    }

    // A print take plays and comes back.
    let source = vec![0.25f32; 48_000 / 4];
    let job = control
        .start_print([source.clone(), source], 48_000, Default::default())
        .expect("print starts");
    run(&mut rt, &mut io, 60);
    let take = control.finished_print().expect("take done");
    assert!(take.complete(), "played {:?}", job.position);
}

/// The JACK MIDI client's process callback (outboard devices and MIDI
/// control surfaces): a cycle with full rings both ways allocates nothing.
#[test]
fn jack_midi_cycle_never_allocates() {
    let (mut host, mut rt) = rackd::outboard::midi::rings();
    let lcd: Vec<u8> = [0xF0, 0, 0, 0x66, 0x14, 0x12, 0x00]
        .into_iter()
        .chain([b' '; 112])
        .chain([0xF7])
        .collect();
    for i in 0..100u8 {
        host.send(&[0xE0, i & 0x7F, 0x40]).unwrap();
        host.send(&lcd).unwrap();
    }
    let from_surface: Vec<Vec<u8>> = (0..300u16)
        .map(|i| vec![0xE0 | (i % 9) as u8, (i & 0x7F) as u8, 0x20])
        .chain([vec![0u8; 600]])
        .collect();
    let mut written = 0usize;
    let mut count = 0usize;
    // A port buffer with room for 150 messages this cycle: the rest waits.
    assert_no_alloc(|| {
        rt.cycle(from_surface.iter().map(Vec::as_slice), |b| {
            if count == 150 {
                return false;
            }
            written += b.len();
            count += 1;
            true
        })
    });
    assert_eq!(count, 150);
    assert_eq!(written, 75 * (3 + lcd.len()));
    assert_no_alloc(|| {
        rt.cycle(std::iter::empty(), |b| {
            written += b.len();
            count += 1;
            true
        })
    });
    assert_eq!(count, 200);
    assert_eq!(written, 100 * (3 + lcd.len()));
    // The ring holds 256: the rest waits for the host; the oversized one is dropped.
    let mut got = 0;
    while let Some(m) = host.try_recv() {
        assert_eq!(m.len(), 3);
        got += 1;
    }
    assert_eq!(got, 256);
}
