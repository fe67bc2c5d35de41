//! A Mackie Control fader move to the parameter taken and the motor
//! feedback on a second MCU surface, on jackd dummy: surface A's stand-in
//! sends a pitch bend in a JACK cycle; rackd (surface `a`) sets
//! /chain/trim/gain; the hub's event moves surface `b`'s motor; B's stand-in
//! stamps the cycle the motor bytes arrive in. Latency = B's cycle − A's
//! cycle, on JACK's frame clock. The peer in the same run has the same
//! graph without rackd: two bare JACK MIDI clients, each connected both
//! ways to its stand-in as rackd's surface clients are (a surface's ports
//! go both ways, so JACK has to break that loop and runs one side a cycle
//! late), the same rtrb rings and 1 ms host polling, a thread forwarding
//! from one to the other in place of the hub: the floor the JACK graph and
//! the polling set. Run at 256 frames (the goal's period) and at 64 frames
//! (finer resolution of rackd's own share). A move whose bytes an xrun of
//! the dummy driver lost is counted and left out.
//! Run: `cargo build --release -p rackd && cargo bench -p rackd-tests --bench mcu`.

use rackd_tests::midi_surface::SurfaceStandIn;
use rackd_tests::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const MOVES: usize = 400;
const RATE: f64 = 48_000.0;

struct Echo {
    input: jack::Port<jack::MidiIn>,
    out: jack::Port<jack::MidiOut>,
    to_host: rtrb::Producer<[u8; 3]>,
    from_host: rtrb::Consumer<[u8; 3]>,
}

impl jack::ProcessHandler for Echo {
    fn process(&mut self, _: &jack::Client, ps: &jack::ProcessScope) -> jack::Control {
        let mut w = self.out.writer(ps);
        while let Ok(m) = self.from_host.pop() {
            let _ = w.write(&jack::RawMidi { time: 0, bytes: &m });
        }
        for ev in self.input.iter(ps) {
            if ev.bytes.len() == 3 {
                let _ = self.to_host.push([ev.bytes[0], ev.bytes[1], ev.bytes[2]]);
            }
        }
        jack::Control::Continue
    }
}

/// Latencies in frames of `MOVES` moves from `a` to `b`, and how many moves
/// got no answer (lost to an xrun).
fn measure(a: &mut SurfaceStandIn, b: &mut SurfaceStandIn) -> (Vec<u32>, usize) {
    let mut out = Vec::new();
    let mut lost = 0;
    b.take();
    for i in 0..MOVES {
        // Alternate between two positions, so every move changes the gain.
        let pos: u16 = if i % 2 == 0 { 2000 } else { 10_000 };
        let before = a.sent_frame();
        a.send(&[0xE0, (pos & 0x7F) as u8, (pos >> 7) as u8]);
        let sent = wait_for(Duration::from_secs(5), || {
            let f = a.sent_frame();
            (f != before).then_some(f)
        })
        .expect("the stand-in never sent");
        match b.wait_for(Duration::from_millis(500), |m| m.len() == 3 && m[0] == 0xE0) {
            Some(got) => out.push(got.frame.wrapping_sub(sent)),
            None => lost += 1,
        }
        // Let the LCD's value-while-moving and the meters pass between moves.
        std::thread::sleep(Duration::from_millis(15));
        b.take();
    }
    assert!(out.len() > MOVES / 2, "{lost} of {MOVES} moves lost");
    (out, lost)
}

fn percentile(v: &[u32], p: f64) -> u32 {
    let mut s = v.to_vec();
    s.sort_unstable();
    s[((s.len() - 1) as f64 * p).round() as usize]
}

fn report(what: &str, (frames, lost): &(Vec<u32>, usize), period: usize) {
    let ms = |f: u32| f64::from(f) / RATE * 1000.0;
    let (p50, p99, max) = (
        percentile(frames, 0.5),
        percentile(frames, 0.99),
        percentile(frames, 1.0),
    );
    println!(
        "  {what:<46} p50 {:.2} ms ({:.2} periods), p99 {:.2} ms ({:.2} periods), max {:.2} ms; {lost} lost",
        ms(p50),
        f64::from(p50) / period as f64,
        ms(p99),
        f64::from(p99) / period as f64,
        ms(max)
    );
}

fn run(period: usize) {
    let (_jackd, server) = jack_server_with_period("rackd-bench-mcu", period);
    let mut a = SurfaceStandIn::start(&unique_name("mcu-a"));
    let mut b = SurfaceStandIn::start(&unique_name("mcu-b"));
    let surface = |id: &str, s: &SurfaceStandIn| {
        format!(
            "[[midi_surface]]\nid = \"{id}\"\nprotocol = \"mcu\"\nmidi = {{ port = \"{n}:in\", input = \"{n}:out\" }}\nbanks = [[\"/chain/trim/gain\"]]\n\n",
            n = s.name()
        )
    };
    let d = Daemon::start(Setup {
        jack_server: Some(server.clone()),
        extra: surface("a", &a) + &surface("b", &b),
        ..Setup::default()
    });
    let connected = wait_for(Duration::from_secs(20), || {
        d.status()["midi_surfaces"]
            .as_array()?
            .iter()
            .all(|s| s["state"] == "connected" || s["state"] == "online")
            .then_some(())
    });
    assert!(connected.is_some(), "{}", d.status());
    // The first state both surfaces get.
    b.wait_for(Duration::from_secs(10), |m| m[0] == 0xE0)
        .expect("no initial motor");
    std::thread::sleep(Duration::from_millis(300));
    let rackd = measure(&mut a, &mut b);
    drop(d);

    // Peer: the same graph with two bare clients in rackd's place.
    let mut pa = SurfaceStandIn::start(&unique_name("peer-a"));
    let mut pb = SurfaceStandIn::start(&unique_name("peer-b"));
    let echo = |stand_in: &SurfaceStandIn| {
        let (client, _) =
            jack::Client::new(&unique_name("echo"), jack::ClientOptions::NO_START_SERVER).unwrap();
        let input = client.register_port("in", jack::MidiIn::default()).unwrap();
        let out = client
            .register_port("out", jack::MidiOut::default())
            .unwrap();
        let (to_host, from_jack) = rtrb::RingBuffer::new(256);
        let (to_jack, from_host) = rtrb::RingBuffer::new(256);
        let name = client.name().to_string();
        let active = client
            .activate_async(
                (),
                Echo {
                    input,
                    out,
                    to_host,
                    from_host,
                },
            )
            .unwrap();
        let c = active.as_client();
        // Both ways, as rackd's surface clients are connected.
        c.connect_ports_by_name(&format!("{}:out", stand_in.name()), &format!("{name}:in"))
            .unwrap();
        c.connect_ports_by_name(&format!("{name}:out"), &format!("{}:in", stand_in.name()))
            .unwrap();
        (active, from_jack, to_jack)
    };
    let (echo_a, mut from_a, _to_a) = echo(&pa);
    let (echo_b, _from_b, mut to_b) = echo(&pb);
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let host = std::thread::spawn(move || {
        let mut poll = Instant::now();
        while !stop2.load(Ordering::SeqCst) {
            while let Ok(m) = from_a.pop() {
                let _ = to_b.push(m);
            }
            poll += Duration::from_millis(1);
            std::thread::sleep(poll.saturating_duration_since(Instant::now()));
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let peer = measure(&mut pa, &mut pb);
    stop.store(true, Ordering::SeqCst);
    host.join().unwrap();
    let _ = echo_a.deactivate();
    let _ = echo_b.deactivate();

    println!(
        "jackd dummy 48 kHz, {period} frames ({:.2} ms a period), {MOVES} moves:",
        period as f64 / RATE * 1000.0
    );
    report(
        "rackd: MCU fader → parameter → 2nd MCU motor",
        &rackd,
        period,
    );
    report(
        "peer: two bare JACK MIDI clients, 1 ms polling",
        &peer,
        period,
    );
}

fn main() {
    if !have_program("jackd") {
        eprintln!("skipped: jackd is not installed");
        return;
    }
    for period in [256, 64] {
        run(period);
    }
}
