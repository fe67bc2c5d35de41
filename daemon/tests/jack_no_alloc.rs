//! The JACK process callbacks allocate nothing: the engine's (every slot
//! kind, a hardware insert's send and return ports, changes arriving while it
//! runs) and the JACK MIDI client's (outboard gear and control surfaces),
//! on a real `jackd --no-realtime -d dummy` that this test starts and stops.
//!
//! Built with the `rt-assert` feature, each callback body runs under
//! `assert_no_alloc` (`engine::rt::checked`), and this binary's allocator is
//! `AllocDisabler`: one allocation on JACK's thread aborts the test process.
//! `scripts/test` runs it: `cargo test -p rackd --features rt-assert --test jack_no_alloc`.

use assert_no_alloc::AllocDisabler;
use rackd::config::{AudioConfig, BackendKind, SlotConfig};
use rackd::engine::jack::JackBackend;
use rackd::engine::{Backend, EngineControl};
use rackd::hub::Target;
use rackd::outboard::midi::JackMidi;
use rackd_dsp::SlotKind;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

/// The jackd this test started; stopped by its PID when dropped: SIGTERM
/// first, so it frees its slot in JACK's server registry (a SIGKILLed server
/// keeps it, and JACK allows eight), SIGKILL after 5 s.
struct Jackd(Child);

impl Drop for Jackd {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the PID of the child this guard owns.
        unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn jack_callbacks_never_allocate() {
    let server = format!("rackd-noalloc-{}", std::process::id());
    // SAFETY: set before any thread of this test talks to JACK; the test
    // binary runs this one test.
    unsafe {
        std::env::set_var("JACK_DEFAULT_SERVER", &server);
        std::env::set_var("JACK_NO_START_SERVER", "1");
    }
    let child = Command::new("jackd")
        .args([
            "--no-realtime",
            "-n",
            &server,
            "-d",
            "dummy",
            "-r",
            "48000",
            "-p",
            "256",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("jackd (scripts/install-deps installs jackd2)");
    let _jackd = Jackd(child);
    wait_until("jackd", Duration::from_secs(20), || {
        jack::Client::new("probe", jack::ClientOptions::NO_START_SERVER).is_ok()
    });

    // The engine's client: every slot kind, the hardware insert among them.
    let slots: Vec<SlotConfig> = SlotKind::NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| SlotConfig::new(format!("s{i}"), SlotKind::from_name(name).unwrap()))
        .collect();
    let audio = AudioConfig {
        backend: BackendKind::Jack,
        client_name: "rackd-noalloc".into(),
        ceiling_dbfs: -1.0,
        ..AudioConfig::default()
    };
    let control = EngineControl::new(&slots, &audio);
    let status = control.status().clone();
    let running = Box::new(JackBackend::new(&audio))
        .start(control.clone())
        .expect("start the JACK backend");
    wait_until("the engine's JACK client", Duration::from_secs(20), || {
        status.running.load(Ordering::SeqCst)
    });

    // Changes arrive while JACK runs the callback.
    let before = status.changes_taken.load(Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut round = 0usize;
    while status.changes_taken.load(Ordering::SeqCst) < before + 2_000 {
        assert!(Instant::now() < deadline, "the callback took no changes");
        for (slot, s) in slots.iter().enumerate() {
            for (index, spec) in s.kind.params().iter().enumerate() {
                let norm = (round % 10) as f64 / 10.0;
                control.apply(
                    Target::ChainParam { slot, index },
                    spec.engine_value(&spec.from_norm(norm).unwrap()),
                );
            }
            control.apply(Target::ChainBypass { slot }, (round % 3 == 0) as i32 as f32);
        }
        round += 1;
        std::thread::sleep(Duration::from_millis(5));
    }

    // Two JACK MIDI clients, one's out into the other's in: both callbacks
    // move messages while this thread feeds and drains their rings.
    let mut a = JackMidi::open("rackd-noalloc-a", None, None).expect("open MIDI client a");
    let mut b = JackMidi::open("rackd-noalloc-b", None, None).expect("open MIDI client b");
    a.connect(Some(&format!("{}:in", b.name())), None)
        .expect("connect a:out to b:in");
    std::thread::sleep(a.settle_time());
    let mut got = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut sent = 0u8;
    while got < 200 {
        assert!(Instant::now() < deadline, "MIDI got through {got} times");
        if a.send(&[0xB0, 7, sent & 0x7F]).is_ok() {
            sent = sent.wrapping_add(1);
        }
        while let Some(msg) = b.try_recv() {
            assert_eq!(msg.len(), 3, "{msg:02X?}");
            got += 1;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    drop((a, b));
    running.stop();
}
