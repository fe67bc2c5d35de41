//! The HTTP front end's numbers (issue 13), each next to a peer measured in
//! the same run. The daemon runs on the bench's runtime (threads named
//! [`DAEMON_THREADS`], whose CPU time is read from /proc); the WebSocket
//! clients run on a runtime of their own.

use super::{micros, msg, percentile, round_trip};
use futures_util::{SinkExt, StreamExt};
use rackd::config::{AudioConfig, BackendKind, HttpConfig, SlotConfig};
use rackd_dsp::SlotKind;
use rosc::{OscPacket, OscType};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Name of the daemon runtime's threads.
pub const DAEMON_THREADS: &str = "rackd-daemon";
/// Name of the HTTP front end's thread (its own runtime).
const HTTP_THREADS: &str = "rackd-http";

struct Web {
    osc: SocketAddr,
    http: SocketAddr,
    _server: rackd::surface::http::HttpServer,
}

/// A daemon with `slots` trim slots (5 parameters each, plus 5 of the monitor).
fn start(rt: &tokio::runtime::Runtime, slots: usize, dir: &std::path::Path) -> Web {
    std::fs::create_dir_all(dir).unwrap();
    let chain: Vec<SlotConfig> = (0..slots)
        .map(|i| {
            SlotConfig::new(
                if i == 0 {
                    "trim".into()
                } else {
                    format!("trim{i}")
                },
                SlotKind::Trim,
            )
        })
        .collect();
    let audio = AudioConfig {
        backend: BackendKind::Null,
        ..AudioConfig::default()
    };
    let http = HttpConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..HttpConfig::default()
    };
    let (surface, server, _hub) = rt
        .block_on(rackd::service::serve_web_without_audio(
            &chain,
            &audio,
            &dir.join("rackd.db"),
            "127.0.0.1:0".parse().unwrap(),
            &http,
        ))
        .unwrap();
    Web {
        osc: surface.local_addr(),
        http: server.local_addr(),
        _server: server,
    }
}

/// One keep-alive HTTP/1.1 connection.
struct Http {
    stream: TcpStream,
    host: SocketAddr,
}

impl Http {
    fn connect(host: SocketAddr) -> Http {
        let stream = TcpStream::connect(host).unwrap();
        stream.set_nodelay(true).unwrap();
        Http { stream, host }
    }

    /// GET `path`; returns the body's length.
    fn get(&mut self, path: &str) -> usize {
        write!(
            self.stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n",
            self.host
        )
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            self.stream.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200"), "{head}");
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map(|v| v.trim().parse().unwrap())
            .expect("content-length");
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body).unwrap();
        len
    }
}

fn times(n: usize, mut f: impl FnMut()) -> Vec<Duration> {
    let mut t: Vec<Duration> = (0..n)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    t.sort();
    t
}

fn namespace_get(web: &Web, params: usize) {
    let mut c = Http::connect(web.http);
    let size = c.get("/");
    let ns = times(300, || {
        c.get("/");
    });
    let floor = times(300, || {
        c.get("/ui/app.js");
    });
    println!(
        "GET / of a {params}-parameter OSCQuery namespace ({size} bytes, 300 requests): p50 {:.2} ms, p99 {:.2} ms (goal p99 < 10 ms) | a static page file on the same connection p50 {:.2} ms, p99 {:.2} ms",
        micros(percentile(&ns, 0.5)) / 1000.0,
        micros(percentile(&ns, 0.99)) / 1000.0,
        micros(percentile(&floor, 0.5)) / 1000.0,
        micros(percentile(&floor, 0.99)) / 1000.0,
    );
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws(http: SocketAddr) -> Ws {
    tokio_tungstenite::connect_async(format!("ws://{http}/"))
        .await
        .unwrap()
        .0
}

fn listen(path: &str) -> Message {
    Message::Text(format!(r#"{{"COMMAND":"LISTEN","DATA":"{path}"}}"#).into())
}

/// Reads until an OSC message at `address` with a float near `value` (any, if None).
async fn until(ws: &mut Ws, address: &str, value: Option<f32>) {
    loop {
        let Some(Ok(Message::Binary(b))) = ws.next().await else {
            continue;
        };
        if let Ok(OscPacket::Message(m)) = rackd_protocol::osc::codec::decode(&b)
            && m.addr == address
            && value.is_none_or(
                |v| matches!(m.args.first(), Some(OscType::Float(x)) if (x - v).abs() < 1e-3),
            )
        {
            return;
        }
    }
}

fn ws_round_trip(clients: &tokio::runtime::Runtime, web: &Web) {
    let http = web.http;
    let (t, floor) = clients.block_on(async move {
        let mut a = ws(http).await;
        let mut b = ws(http).await;
        b.send(listen("/chain/trim/gain")).await.unwrap();
        b.send(Message::Binary(msg("/rackd/ping", vec![]).into()))
            .await
            .unwrap();
        until(&mut b, "/rackd/pong", None).await;
        let mut t = Vec::with_capacity(2000);
        for i in 0..2000 {
            let v = -20.0 + (i % 400) as f32 * 0.1;
            let start = Instant::now();
            a.send(Message::Binary(
                msg("/chain/trim/gain", vec![OscType::Float(v)]).into(),
            ))
            .await
            .unwrap();
            until(&mut b, "/chain/trim/gain", Some(v)).await;
            t.push(start.elapsed());
            // A is not listening: it gets the value taken as a reply.
            until(&mut a, "/chain/trim/gain", Some(v)).await;
        }
        t.sort();
        // Peer: a bare WebSocket echo on loopback.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let echo = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let mut s = tokio_tungstenite::accept_async(s).await.unwrap();
            while let Some(Ok(m)) = s.next().await {
                if m.is_binary() && s.send(m).await.is_err() {
                    return;
                }
            }
        });
        let mut e = tokio_tungstenite::connect_async(format!("ws://{echo}/"))
            .await
            .unwrap()
            .0;
        let mut floor = Vec::with_capacity(2000);
        let packet = msg("/chain/trim/gain", vec![OscType::Float(1.0)]);
        for _ in 0..2000 {
            let start = Instant::now();
            e.send(Message::Binary(packet.clone().into()))
                .await
                .unwrap();
            while !matches!(e.next().await, Some(Ok(Message::Binary(_)))) {}
            floor.push(start.elapsed());
        }
        floor.sort();
        (t, floor)
    });
    println!(
        "WebSocket set -> feedback on another WebSocket client (2000 sets): p50 {:.0} us, p99 {:.0} us (goal p99 < 2000 us) | bare WebSocket echo p50 {:.0} us, p99 {:.0} us",
        micros(percentile(&t, 0.5)),
        micros(percentile(&t, 0.99)),
        micros(percentile(&floor, 0.5)),
        micros(percentile(&floor, 0.99)),
    );
}

/// CPU seconds used so far by the daemon's threads (its runtime and the HTTP front end's).
fn daemon_cpu() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let Some((name, rest)) = stat.split_once(") ") else {
            continue;
        };
        if !name.ends_with(DAEMON_THREADS) && !name.ends_with(HTTP_THREADS) {
            continue;
        }
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of stat; `rest` starts at field 3.
        total += fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
    }
    total as f64 / ticks
}

/// `n` clients listening to every meter; each counts the bundles it gets.
fn meter_clients(
    clients: &tokio::runtime::Runtime,
    http: SocketAddr,
    n: usize,
) -> (Vec<tokio::task::JoinHandle<()>>, Arc<Vec<AtomicU64>>) {
    let counts: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let handles = (0..n)
        .map(|i| {
            let counts = counts.clone();
            clients.spawn(async move {
                let mut c = ws(http).await;
                c.send(listen("/meter/*/*")).await.unwrap();
                while let Some(Ok(m)) = c.next().await {
                    if let Message::Binary(b) = m
                        && b.starts_with(b"#bundle")
                    {
                        counts[i].fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    (handles, counts)
}

fn wait_all_bundles(counts: &[AtomicU64], at_least: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while counts.iter().any(|c| c.load(Ordering::Relaxed) < at_least) {
        assert!(Instant::now() < deadline, "not every client got meters");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn meters_cpu(clients: &tokio::runtime::Runtime, web: &Web) {
    let window = Duration::from_secs(10);
    let measure = || {
        let c0 = daemon_cpu();
        std::thread::sleep(window);
        (daemon_cpu() - c0) / window.as_secs_f64() * 100.0
    };
    let idle = measure();
    let (handles, counts) = meter_clients(clients, web.http, 50);
    wait_all_bundles(&counts, 2);
    let before: Vec<u64> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    let busy = measure();
    let rate = counts
        .iter()
        .zip(&before)
        .map(|(c, b)| c.load(Ordering::Relaxed) - b)
        .min()
        .unwrap_or(0) as f64
        / window.as_secs_f64();
    for h in handles {
        h.abort();
    }
    println!(
        "meters to 50 WebSocket page clients (every meter, one bundle per tick): daemon CPU {busy:.2} % of one core, the slowest client got {rate:.1} bundles/s (goal < 5 %, ~25/s) | the same daemon with no clients {idle:.2} %",
    );
}

/// The OSC round trip's p99 without and with 1000 meter clients, three
/// times each (one round trip spans only a few meter ticks, so one run's
/// tail is one busy tick more or less): the medians are compared.
fn many_clients(clients: &tokio::runtime::Runtime, web: &Web) {
    let mut alone: Vec<Duration> = (0..3).map(|_| round_trip(web.osc)).collect();
    let (handles, counts) = meter_clients(clients, web.http, 1000);
    wait_all_bundles(&counts, 2);
    let mut crowded: Vec<Duration> = (0..3).map(|_| round_trip(web.osc)).collect();
    let got: u64 = counts
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .min()
        .unwrap_or(0);
    for h in handles {
        h.abort();
    }
    alone.sort();
    crowded.sort();
    let list = |v: &[Duration]| {
        v.iter()
            .map(|d| format!("{:.0}", micros(*d)))
            .collect::<Vec<_>>()
            .join("/")
    };
    println!(
        "OSC set -> feedback p99 while 1000 WebSocket clients get meters: median {:.0} us ({} us), {:.2}x the median {:.0} us without them ({} us) (goal < 2x); every client got >= {got} meter bundles",
        micros(crowded[1]),
        list(&crowded),
        micros(crowded[1]) / micros(alone[1]).max(1.0),
        micros(alone[1]),
        list(&alone),
    );
}

/// Lowers the calling thread's priority: the bench's page clients stand in
/// for browsers on other machines, so they must not take the rack
/// machine's cores from the daemon they measure.
fn be_remote() {
    // SAFETY: setpriority on the calling thread (who = 0 is this thread on Linux).
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 19);
    }
}

/// Room for 1000 clients and their server ends in one process.
fn raise_file_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: get/setrlimit with a valid struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < 8192 {
            lim.rlim_cur = lim.rlim_max.min(8192);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

pub fn run(rt: &tokio::runtime::Runtime, dir: &std::path::Path) {
    raise_file_limit();
    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-clients")
        .on_thread_start(be_remote)
        .enable_all()
        .build()
        .unwrap();
    // 199 trim slots: 995 parameters, plus the monitor's 5.
    let big = start(rt, 199, &dir.join("web-ns"));
    namespace_get(&big, 1000);
    drop(big);
    let web = start(rt, 1, &dir.join("web"));
    ws_round_trip(&clients, &web);
    meters_cpu(&clients, &web);
    many_clients(&clients, &web);
    clients.shutdown_background();
}
