//! Spine benchmarks (issue 2), each printed next to a floor measured in the same run:
//!
//! 1. OSC set → feedback round trip on loopback with 8 subscribers (p50/p99),
//!    against a bare UDP echo round trip (the floor of any OSC server).
//! 2. Sustained inbound set messages per second over one TCP connection, with
//!    the last value checked, against deframing and decoding the same bytes alone.
//! 3. Durable save of a 1000-parameter state through the hub (p50/p99),
//!    against a bare SQLite insert of the same JSON with synchronous=FULL.
//! 4. The HTTP front end (`web` below): `GET /` of a 1000-parameter OSCQuery
//!    namespace (p50/p99) against a static page file on the same connection;
//!    a WebSocket set to feedback on another WebSocket client (p50/p99)
//!    against a bare WebSocket echo; the daemon's CPU while 50 page clients
//!    get meters at 25 Hz against the same time with none; and the OSC round
//!    trip while 1000 WebSocket clients get meters against it while they
//!    ignore them, in turns.
//!
//! Run: `cargo bench -p rackd --bench spine`

use rackd::config::{AudioConfig, BackendKind, SlotConfig};
use rackd::hub;
use rackd_dsp::SlotKind;
use rackd_protocol::osc::codec;
use rackd_protocol::osc::framing::{self, FrameDecoder, Framing};
use rosc::{OscMessage, OscPacket, OscType};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

fn msg(addr: &str, args: Vec<OscType>) -> Vec<u8> {
    codec::encode(&OscPacket::Message(OscMessage {
        addr: addr.into(),
        args,
    }))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn recv_addr(sock: &UdpSocket, addr: &str) -> OscMessage {
    let mut buf = [0u8; 2048];
    loop {
        let n = sock.recv(&mut buf).expect("feedback within the timeout");
        if let Ok(OscPacket::Message(m)) = codec::decode(&buf[..n])
            && m.addr == addr
        {
            return m;
        }
    }
}

fn start_daemon(
    rt: &tokio::runtime::Runtime,
    slots: usize,
    dir: &std::path::Path,
) -> (SocketAddr, hub::HubHandle) {
    std::fs::create_dir_all(dir).unwrap();
    let chain: Vec<SlotConfig> = (0..slots)
        .map(|i| {
            let id = if i == 0 {
                "trim".into()
            } else {
                format!("trim{i}")
            };
            SlotConfig::new(id, SlotKind::Trim)
        })
        .collect();
    let audio = AudioConfig {
        backend: BackendKind::Null,
        ..AudioConfig::default()
    };
    let (surface, hub) = rt
        .block_on(rackd::service::serve_without_audio(
            &chain,
            &audio,
            &dir.join("rackd.db"),
            "127.0.0.1:0".parse().unwrap(),
        ))
        .unwrap();
    (surface.local_addr(), hub)
}

/// Prints the round trip's figures; returns its times, sorted.
fn round_trip(daemon: SocketAddr) -> Vec<Duration> {
    let subscribers: Vec<UdpSocket> = (0..8)
        .map(|_| {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            s.send_to(
                &msg(
                    "/rackd/subscribe",
                    vec![OscType::String("/chain/trim/gain".into())],
                ),
                daemon,
            )
            .unwrap();
            recv_addr(&s, "/rackd/subscribed");
            // The subscription sends the current value once; take it.
            recv_addr(&s, "/chain/trim/gain");
            s
        })
        .collect();
    let setter = UdpSocket::bind("127.0.0.1:0").unwrap();
    setter
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let iterations = 2000;
    let mut times = Vec::with_capacity(iterations);
    let controller = Controller::begin();
    for i in 0..iterations {
        let value = -20.0 + (i % 400) as f32 * 0.1;
        let t = Instant::now();
        setter
            .send_to(
                &msg("/chain/trim/gain", vec![OscType::Float(value)]),
                daemon,
            )
            .unwrap();
        for s in &subscribers {
            let m = recv_addr(s, "/chain/trim/gain");
            assert!(matches!(m.args[0], OscType::Float(v) if (v - value).abs() < 0.006));
        }
        times.push(t.elapsed());
        recv_addr(&setter, "/chain/trim/gain");
    }
    drop(controller);
    times.sort();
    // Gone for the next measurement: the daemon would otherwise go on
    // sending to these sockets until their leases end, and each round trip
    // after this one would feed 8 more.
    for s in &subscribers {
        s.send_to(&msg("/rackd/unsubscribe", vec![]), daemon)
            .unwrap();
        recv_addr(s, "/rackd/unsubscribed");
    }

    // Floor: a bare UDP echo on loopback (one hop there, one back).
    let echo = UdpSocket::bind("127.0.0.1:0").unwrap();
    // The echo thread ends a second after the last packet.
    echo.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let echo_addr = echo.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while let Ok((n, from)) = echo.recv_from(&mut buf) {
            let _ = echo.send_to(&buf[..n], from);
        }
    });
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut floor = Vec::with_capacity(iterations);
    let mut buf = [0u8; 256];
    let packet = msg("/chain/trim/gain", vec![OscType::Float(1.0)]);
    let controller = Controller::begin();
    for _ in 0..iterations {
        let t = Instant::now();
        client.send_to(&packet, echo_addr).unwrap();
        client.recv(&mut buf).unwrap();
        floor.push(t.elapsed());
    }
    drop(controller);
    floor.sort();
    let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
    println!(
        "osc set -> feedback at all 8 subscribers ({iterations} sets): p50 {:.0} us, p99 {:.0} us (goal p99 < 1000 us) | bare UDP echo p50 {:.0} us, p99 {:.0} us | ratio p50 {:.1}x",
        micros(p50),
        micros(p99),
        micros(percentile(&floor, 0.5)),
        micros(percentile(&floor, 0.99)),
        micros(p50) / micros(percentile(&floor, 0.5)).max(1.0),
    );
    times
}

fn inbound_rate(daemon: SocketAddr) {
    let n = 200_000;
    let mut stream = TcpStream::connect(daemon).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut reader = stream.try_clone().unwrap();
    // Drain replies so the daemon never waits on us; stop at the pong.
    let drain = std::thread::spawn(move || {
        let mut dec = FrameDecoder::new(Framing::Slip, codec::MAX_PACKET);
        let mut buf = vec![0u8; 65536];
        loop {
            let got = reader.read(&mut buf).unwrap();
            assert!(got > 0, "daemon closed the connection");
            dec.push(&buf[..got]);
            while let Some(Ok(frame)) = dec.next_frame() {
                if let Ok(OscPacket::Message(m)) = codec::decode(&frame)
                    && m.addr == "/rackd/pong"
                {
                    return Instant::now();
                }
            }
        }
    });
    let mut batch = Vec::with_capacity(1 << 20);
    let t = Instant::now();
    let last = 7.77f32;
    for i in 0..n {
        let v = if i == n - 1 {
            last
        } else {
            -20.0 + (i % 4000) as f32 * 0.01
        };
        batch.extend(framing::encode(
            Framing::Slip,
            &msg("/chain/trim/gain", vec![OscType::Float(v)]),
        ));
        if batch.len() > 60_000 {
            stream.write_all(&batch).unwrap();
            batch.clear();
        }
    }
    batch.extend(framing::encode(Framing::Slip, &msg("/rackd/ping", vec![])));
    stream.write_all(&batch).unwrap();
    let done = drain.join().unwrap();
    let rate = n as f64 / (done - t).as_secs_f64();

    // The latest value must have survived.
    let mut q = TcpStream::connect(daemon).unwrap();
    q.write_all(&framing::encode(
        Framing::Slip,
        &msg("/chain/trim/gain", vec![]),
    ))
    .unwrap();
    let mut dec = FrameDecoder::new(Framing::Slip, codec::MAX_PACKET);
    let mut buf = [0u8; 4096];
    let value = loop {
        let got = q.read(&mut buf).unwrap();
        dec.push(&buf[..got]);
        if let Some(Ok(frame)) = dec.next_frame()
            && let Ok(OscPacket::Message(m)) = codec::decode(&frame)
        {
            break m.args[0].clone();
        }
    };
    assert_eq!(value, OscType::Float(7.77), "latest value lost");

    // Peer: only deframing and decoding the same stream in-process (no
    // network, no hub): how much of the time is parsing.
    let stream_bytes: Vec<u8> = (0..n)
        .flat_map(|i| {
            framing::encode(
                Framing::Slip,
                &msg(
                    "/chain/trim/gain",
                    vec![OscType::Float(-20.0 + (i % 4000) as f32 * 0.01)],
                ),
            )
        })
        .collect();
    let t = Instant::now();
    let mut dec = FrameDecoder::new(Framing::Slip, codec::MAX_PACKET);
    let mut decoded = 0usize;
    for chunk in stream_bytes.chunks(16_384) {
        dec.push(chunk);
        while let Some(Ok(frame)) = dec.next_frame() {
            decoded += codec::decode(&frame).is_ok() as usize;
        }
    }
    assert_eq!(decoded, n);
    let parse_rate = n as f64 / t.elapsed().as_secs_f64();
    println!(
        "inbound sets over one TCP connection ({n}): {rate:.0} msg/s, latest value kept (goal >= 20000/s) | deframe+decode alone {parse_rate:.0} msg/s | ratio {:.2}",
        rate / parse_rate
    );
}

fn durable_save(rt: &tokio::runtime::Runtime, hub: &hub::HubHandle, dir: &std::path::Path) {
    let params = rt.block_on(hub.state()).unwrap().values.len();
    let iterations = 300;
    let mut times = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let t = Instant::now();
        rt.block_on(hub.save(&format!("bench/album/{:02} song", i % 12), "bench", "bench"))
            .unwrap();
        times.push(t.elapsed());
    }
    times.sort();

    // Floor: one INSERT of the same JSON, synchronous=FULL, WAL.
    let state = rt.block_on(hub.state()).unwrap();
    let json = serde_json::to_string(&state).unwrap();
    let db = rusqlite::Connection::open(dir.join("floor.db")).unwrap();
    db.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE t(id INTEGER PRIMARY KEY, state TEXT);",
    )
    .unwrap();
    let mut floor = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        db.execute("INSERT INTO t(state) VALUES (?1)", [&json])
            .unwrap();
        floor.push(t.elapsed());
    }
    floor.sort();
    let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
    println!(
        "durable save of a {params}-parameter state ({iterations} saves): p50 {:.2} ms, p99 {:.2} ms (goal p99 <= 10 ms) | bare SQLite insert p50 {:.2} ms, p99 {:.2} ms | ratio p50 {:.1}x",
        micros(p50) / 1000.0,
        micros(p99) / 1000.0,
        micros(percentile(&floor, 0.5)) / 1000.0,
        micros(percentile(&floor, 0.99)) / 1000.0,
        micros(p50) / micros(percentile(&floor, 0.5)).max(1.0),
    );
}

/// The bench's OSC and WebSocket controllers stand in for a tablet or a
/// desk on another machine, which would not wait for a core of the rack
/// machine: they ask for the daemon's own short slice (see
/// `rackd::service::threads`) while they measure, so that one woken behind
/// the daemon's page fan-out does not wait out the fan-out's slice, which
/// is not the daemon's latency. Threads spawned meanwhile would inherit
/// it, so it is set only around the measuring.
fn controller_slice() -> std::io::Result<()> {
    rackd::service::threads::set_slice(Some(rackd::service::threads::CONTROL_SLICE))
}

/// The calling thread as a controller (see [`controller_slice`]) until dropped.
struct Controller;

impl Controller {
    fn begin() -> Controller {
        static TOLD: std::sync::Once = std::sync::Once::new();
        if let Err(e) = controller_slice() {
            TOLD.call_once(|| {
                println!(
                    "(no custom slice for the bench's controllers: {e}; they wait behind the daemon's threads like any other)"
                )
            });
        }
        Controller
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = rackd::service::threads::set_slice(None);
    }
}

#[path = "spine/web.rs"]
mod web;

fn main() {
    // `cargo test --all-targets` runs benches in test mode with no `--bench`: skip the work then.
    if !std::env::args().any(|a| a == "--bench") {
        println!("spine benchmark: run with `cargo bench -p rackd --bench spine`");
        return;
    }
    // The daemon's own runtime, as `rackd run` builds it.
    let rt = rackd::service::threads::control_runtime().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // `RACKD_BENCH_ONLY=web`: the HTTP front end's numbers alone.
    if std::env::var("RACKD_BENCH_ONLY").as_deref() == Ok("web") {
        web::run(&rt, dir.path());
        return;
    }
    let (addr, _hub) = start_daemon(&rt, 1, &dir.path().join("a"));
    round_trip(addr);
    inbound_rate(addr);
    let (_, big) = start_daemon(&rt, 334, &dir.path().join("b"));
    durable_save(&rt, &big, dir.path());
    web::run(&rt, dir.path());
}
