//! A bounded soak (null backend, real sockets on loopback): in two rounds of
//! 20 s several clients at once send valid traffic (sets, queries, status,
//! saves, liblo's `oscsend`), malformed packets (4000 a second), idle and
//! abusive TCP connections (endless length prefixes, SLIP without an end,
//! connect-and-drop) and subscribers that die (closed UDP sockets, TCP
//! subscribers that never read). All the while a normal surface sets
//! `/chain/trim/gain` and a second socket of it, subscribed, waits for the
//! feedback: it must never lose an answer. The daemon's RSS and open
//! descriptors are sampled from `/proc`; after each round the descriptors
//! must be back where they started and the RSS must not grow from round to
//! round. The figures are printed (`--nocapture`).

use rackd_tests::*;
use rosc::OscType;
use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// How long the abusers run.
const ABUSE: Duration = Duration::from_secs(20);
/// Rounds of abuse (a leak grows with each; a high-water mark does not).
const ROUNDS: usize = 2;
/// How long the daemon has to close what the abusers left.
const SETTLE: Duration = Duration::from_secs(12);
/// How long a lost answer is waited for before it counts as lost.
const ANSWER: Duration = Duration::from_secs(5);
/// The idle timeout the daemon runs with (idle TCP connections are closed after it).
const IDLE_S: u32 = 2;

/// (RSS in KiB, open descriptors) of `pid`, from `/proc`.
fn usage(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0);
    (rss, fds)
}

/// Datagrams the kernel dropped at the UDP socket bound to `port` because
/// its receive buffer was full (`/proc/net/udp`'s last column).
fn udp_drops(port: u16) -> u64 {
    let table = std::fs::read_to_string("/proc/net/udp").unwrap_or_default();
    let local = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .find(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|a| a.ends_with(&local))
        })
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
        .unwrap_or(0)
}

/// Deterministic bytes (xorshift).
struct Bytes(u32);

impl Bytes {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }

    fn fill(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Malformed packets of several kinds, in turn.
fn malformed(i: usize, rng: &mut Bytes) -> Vec<u8> {
    let valid = encode("/chain/trim/gain", vec![OscType::Float(1.0)]);
    match i % 6 {
        0 => {
            let n = 1 + (rng.next() % 600) as usize;
            rng.fill(n)
        }
        // A valid message cut short.
        1 => valid[..valid.len() - 1 - (i % 7).min(valid.len() - 2)].to_vec(),
        // A type tag string that promises more arguments than there are.
        2 => {
            let mut m = b"/chain/trim/gain\0\0\0\0,fffs\0\0\0".to_vec();
            m.extend_from_slice(&1f32.to_be_bytes());
            m
        }
        // A bundle whose element claims 2 GB.
        3 => {
            let mut m = b"#bundle\0".to_vec();
            m.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
            m.extend_from_slice(&0x7fff_ffffu32.to_be_bytes());
            m.extend_from_slice(&valid);
            m
        }
        // Bundles nested deeper than anyone needs.
        4 => {
            let mut m = valid.clone();
            for _ in 0..40 {
                let mut b = b"#bundle\0\0\0\0\0\0\0\0\x01".to_vec();
                b.extend_from_slice(&(m.len() as u32).to_be_bytes());
                b.extend_from_slice(&m);
                m = b;
            }
            m
        }
        // Valid framing, nonsense values: wrong types, NaN, unknown addresses.
        _ => match i % 3 {
            0 => encode("/chain/trim/gain", vec![OscType::String("loud".into())]),
            1 => encode("/chain/trim/gain", vec![OscType::Float(f32::NAN)]),
            _ => encode("/chain/nowhere/gain", vec![OscType::Float(1.0)]),
        },
    }
}

/// Runs `body` in a loop on its own thread until `stop` is set.
fn abuser(
    stop: &Arc<AtomicBool>,
    name: &'static str,
    mut body: impl FnMut(usize) + Send + 'static,
) -> thread::JoinHandle<&'static str> {
    let stop = stop.clone();
    thread::spawn(move || {
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            body(i);
            i += 1;
        }
        name
    })
}

/// Percentile of sorted `v` (ms).
fn pct(v: &[f64], p: f64) -> f64 {
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// The normal surface: one socket sets `/chain/trim/gain`, one subscribed
/// socket of it waits for the feedback.
struct Normal {
    setter: OscUdp,
    watcher: OscUdp,
    port: u16,
    value: u32,
    renewed: Instant,
    /// Set→feedback times, ms.
    latencies: Vec<f64>,
    lost: u32,
}

impl Normal {
    fn new(d: &Daemon) -> Normal {
        let watcher = d.udp();
        watcher.subscribe(&["/chain/trim/*"]);
        Normal {
            setter: d.udp(),
            watcher,
            port: d.port,
            value: 0,
            renewed: Instant::now(),
            latencies: Vec::new(),
            lost: 0,
        }
    }

    /// One set, its feedback and its reply.
    fn set_and_wait(&mut self) {
        self.value += 1;
        // Distinct values on the parameter's 0.01 dB grid, within ±12 dB.
        let v = ((self.value % 2000) as f32 - 1000.0) / 100.0;
        let sent = Instant::now();
        self.setter
            .send("/chain/trim/gain", vec![OscType::Float(v)]);
        let is_it = |m: &rosc::OscMessage| is_value(m, "/chain/trim/gain", v, 1e-4);
        match self.watcher.recv_until(ANSWER, is_it) {
            Some(_) => self.latencies.push(sent.elapsed().as_secs_f64() * 1000.0),
            None => self.lose("feedback", v),
        }
        // The setter's own reply (the value taken).
        if self.setter.recv_until(ANSWER, is_it).is_none() {
            self.lose("reply", v);
        }
        // Renew the lease well before its 10 s are up.
        if self.renewed.elapsed() > Duration::from_secs(3) {
            self.watcher.subscribe(&["/chain/trim/*"]);
            self.renewed = Instant::now();
        }
    }

    fn lose(&mut self, what: &str, v: f32) {
        eprintln!(
            "soak: no {what} for {v} (set {}); the kernel dropped {} datagrams at the daemon's socket so far",
            self.value,
            udp_drops(self.port)
        );
        self.lost += 1;
    }

    /// The latencies so far, sorted, and cleared.
    fn take_latencies(&mut self) -> Vec<f64> {
        let mut v = std::mem::take(&mut self.latencies);
        v.sort_by(f64::total_cmp);
        v
    }
}

/// Starts the abusers on the daemon at `port`; they run until `stop`.
fn abuse(
    port: u16,
    stop: &Arc<AtomicBool>,
    sent: &Arc<AtomicU64>,
) -> Vec<thread::JoinHandle<&'static str>> {
    let mut threads = Vec::new();
    for seed in [1u32, 2] {
        let sent = sent.clone();
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut rng = Bytes(seed * 7919);
        threads.push(abuser(stop, "malformed udp", move |i| {
            for j in 0..10 {
                let _ = sock.send_to(&malformed(i * 10 + j, &mut rng), ("127.0.0.1", port));
            }
            sent.fetch_add(10, Ordering::Relaxed);
            thread::sleep(Duration::from_millis(5));
        }));
    }
    for k in 0..2 {
        threads.push(abuser(stop, "valid udp", move |i| {
            let c = OscUdp::new(port);
            let band = format!("/chain/eq/b{}_gain", 1 + (i + k) % 4);
            c.send(&band, vec![OscType::Float((i % 13) as f32 - 6.0)]);
            c.send(&band, vec![]);
            c.send("/chain/meter/bypass", vec![OscType::Int((i % 2) as i32)]);
            c.send("/rackd/status", vec![]);
            c.send("/rackd/describe", vec![]);
            if i % 20 == 0 {
                c.send(
                    "/rackd/snapshot/save",
                    vec![OscType::String(format!("soak/{k}/{}", i % 5))],
                );
            }
            // Read what comes back for a moment, then drop the socket
            // (its subscriptions, if any, die with it).
            let _ = c.collect(Duration::from_millis(30));
        }));
    }
    threads.push(abuser(stop, "oscsend", move |i| {
        let _ = Command::new("oscsend")
            .args(["localhost", &port.to_string(), "/monitor/dim_db", "f"])
            .arg(format!("{}", -((i % 30) as f32)))
            .output();
        thread::sleep(Duration::from_millis(20));
    }));
    threads.push(abuser(stop, "idle tcp", move |_| {
        // Connections that say nothing: the idle timeout closes them.
        let held: Vec<TcpStream> = (0..24)
            .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
            .collect();
        thread::sleep(Duration::from_millis(500));
        drop(held);
    }));
    threads.push(abuser(stop, "abusive tcp", move |i| {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            thread::sleep(Duration::from_millis(20));
            return;
        };
        let _ = s.set_write_timeout(Some(Duration::from_millis(500)));
        let mut rng = Bytes(i as u32 + 99);
        match i % 4 {
            // A length prefix that promises 2 GB, then a trickle.
            0 => {
                let _ = s.write_all(&0x7fff_fff0u32.to_be_bytes());
                for _ in 0..50 {
                    if s.write_all(&rng.fill(4096)).is_err() {
                        break;
                    }
                }
            }
            // SLIP with no END, ever.
            1 => {
                let _ = s.write_all(&[0xC0]);
                for _ in 0..50 {
                    let chunk: Vec<u8> = rng.fill(4096).into_iter().map(|b| b & 0x7f).collect();
                    if s.write_all(&chunk).is_err() {
                        break;
                    }
                }
            }
            // Garbage frames, then gone.
            2 => {
                for j in 0..20 {
                    let _ = s.write_all(&frame(Framing::Slip, &malformed(i + j, &mut rng)));
                }
            }
            // Connect and drop at once.
            _ => {}
        }
        drop(s);
        thread::sleep(Duration::from_millis(10));
    }));
    threads.push(abuser(stop, "dead subscribers", move |i| {
        // A UDP subscriber to the meters that closes its socket at once.
        let c = OscUdp::new(port);
        c.send(
            "/rackd/subscribe",
            vec![
                OscType::Int(c.port() as i32),
                OscType::String("/meter/*".into()),
            ],
        );
        drop(c);
        // Every tenth: a TCP subscriber that never reads, for a second.
        if i % 10 == 0 {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                let sub = encode("/rackd/subscribe", vec![OscType::String("/meter/*".into())]);
                let _ = s.write_all(&frame(Framing::Slip, &sub));
                thread::sleep(Duration::from_secs(1));
            }
        }
        thread::sleep(Duration::from_millis(20));
    }));

    threads
}

/// One round: the abusers for [`ABUSE`] while the normal client carries on
/// and the daemon is sampled; returns the highest (RSS KiB, descriptors).
fn round(d: &Daemon, normal: &mut Normal, sent: &Arc<AtomicU64>) -> (u64, usize) {
    let pid = d.pid();
    let stop = Arc::new(AtomicBool::new(false));
    let threads = abuse(d.port, &stop, sent);
    let mut peak = usage(pid);
    let started = Instant::now();
    let mut next_sample = Instant::now();
    while started.elapsed() < ABUSE {
        normal.set_and_wait();
        if Instant::now() >= next_sample {
            let u = usage(pid);
            peak = (peak.0.max(u.0), peak.1.max(u.1));
            next_sample += Duration::from_millis(500);
        }
        thread::sleep(Duration::from_millis(10));
    }
    // ctl gets through while the abusers still hold connections.
    let status = d.ctl_ok(&["status"]);
    assert!(status.contains("\"osc\""), "{status}");
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("abuser thread");
    }
    peak
}

#[test]
fn a_normal_client_keeps_its_answers_while_others_abuse_the_daemon() {
    let mut d = Daemon::start(Setup {
        idle_timeout_s: Some(IDLE_S),
        chain: vec![
            ("trim".into(), "trim".into()),
            ("meter".into(), "meter".into()),
            ("eq".into(), "eq".into()),
        ],
        test_tone_db: Some(-18.0),
        ..Setup::default()
    });
    let pid = d.pid();
    let mut normal = Normal::new(&d);
    // Warm up (first use of every path allocates), then the baseline.
    for _ in 0..200 {
        normal.set_and_wait();
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(normal.lost, 0, "answers lost before any abuse");
    let calm = normal.take_latencies();
    let before = usage(pid);
    let sent = Arc::new(AtomicU64::new(0));
    let mut afters = Vec::new();
    for r in 0..ROUNDS {
        let peak = round(&d, &mut normal, &sent);
        let busy = normal.take_latencies();
        // The normal client carries on while what the abusers left is
        // closed (idle timeout) and retired (senders, leases).
        let settled = Instant::now();
        let mut fds_back = None;
        while settled.elapsed() < SETTLE {
            normal.set_and_wait();
            thread::sleep(Duration::from_millis(10));
            let u = usage(pid);
            if u.1 <= before.1 {
                fds_back.get_or_insert(settled.elapsed());
            }
        }
        let after = usage(pid);
        eprintln!(
            "soak round {r}: set->feedback p50 {:.2} ms p99 {:.2} ms max {:.2} ms ({} sets); RSS {} KiB at most, {} KiB {} s after; descriptors {} at most, {} after (back to {} after {fds_back:.1?})",
            pct(&busy, 0.5),
            pct(&busy, 0.99),
            pct(&busy, 1.0),
            busy.len(),
            peak.0,
            after.0,
            SETTLE.as_secs(),
            peak.1,
            after.1,
            before.1,
        );
        assert_eq!(after.1, before.1, "descriptors left open after round {r}");
        afters.push(after.0);
    }
    assert!(d.is_running(), "the daemon died");
    let st = d.status();
    eprintln!(
        "soak: calm set->feedback p50 {:.2} ms p99 {:.2} ms; RSS {} KiB and {} descriptors before; {} malformed UDP packets sent; the daemon counted {} bad packets, refused {} connections, dropped {} feedback values; the kernel dropped {} datagrams at its socket",
        pct(&calm, 0.5),
        pct(&calm, 0.99),
        before.0,
        before.1,
        sent.load(Ordering::Relaxed),
        st["osc"]["bad_packets"],
        st["osc"]["refused_connections"],
        st["osc"]["feedback_dropped"],
        udp_drops(d.port)
    );
    assert_eq!(normal.lost, 0, "the normal client lost answers");
    // glibc keeps some of what a burst freed (fragments between live
    // allocations); what must not happen is growth with every round (a leak
    // per client, connection or packet), or a high-water mark that stays.
    let (first, last) = (afters[0], afters[ROUNDS - 1]);
    assert!(
        last <= first + 2048,
        "RSS grew from {first} KiB after the first round to {last} KiB after the last"
    );
    assert!(
        last <= before.0 + before.0 / 4 + 2048,
        "RSS {last} KiB after the abusers left, {} KiB before",
        before.0
    );
    assert!(st["osc"]["bad_packets"].as_u64() > Some(10_000), "{st}");
    // A new client is served as the first was.
    d.udp().sync();
}
