//! The HTTP front end's numbers (issue 13), each next to a peer measured in
//! the same run. The daemon runs on the bench's runtime, built as `rackd
//! run` builds it (threads named [`DAEMON_THREADS`], whose CPU time is read
//! from /proc); the WebSocket controllers run on a runtime of their own, the
//! page clients on a SCHED_IDLE thread of their own ([`PageClients`]).

use super::{micros, msg, percentile, round_trip};
use futures_util::{SinkExt, StreamExt};
use rackd::config::{AudioConfig, BackendKind, HttpConfig, SlotConfig};
use rackd_dsp::SlotKind;
use rosc::{OscPacket, OscType};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Name of the daemon runtime's threads.
const DAEMON_THREADS: &str = rackd::service::threads::CONTROL_THREADS;
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

/// An HTTP response's head, read byte by byte so that nothing after it is taken.
fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
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
        let head = read_head(&mut self.stream).to_ascii_lowercase();
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

/// How often the page clients' thread reads all its sockets.
const READ_EVERY: Duration = Duration::from_millis(200);

/// Page clients that stand in for browsers on other machines: each is a
/// WebSocket listening to every meter, and one SCHED_IDLE thread reads all
/// of them, whatever has come, every [`READ_EVERY`]. The daemon writes each
/// tick's bundle to every one of them as it would to a remote browser; what
/// a browser spends taking it is not the rack machine's, so here it is a
/// few reads a second on the CPU the daemon leaves.
struct PageClients {
    clients: Arc<std::sync::Mutex<Vec<PageClient>>>,
    /// When the reader's last pass ended, and the meter bundles each client
    /// had taken by then.
    taken: Arc<std::sync::Mutex<(Instant, Vec<u64>)>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    reader: Option<std::thread::JoinHandle<()>>,
}

/// One page client's connection and the bytes of a frame not yet whole.
struct PageClient {
    stream: TcpStream,
    pending: Vec<u8>,
}

/// A client frame (masked, as RFC 6455 asks of clients).
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126, "short control and command frames only");
    let mask = [0x5a, 0xc3, 0x0f, 0x96];
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

impl PageClient {
    /// Opens the WebSocket by hand (the handshake read byte by byte, so no
    /// frame is left in a library's buffer) and LISTENs to every meter.
    fn connect(http: SocketAddr) -> PageClient {
        let mut stream = TcpStream::connect(http).unwrap();
        write!(
            stream,
            "GET / HTTP/1.1\r\nHost: {http}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let head = read_head(&mut stream);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        stream.set_nonblocking(true).unwrap();
        let mut client = PageClient {
            stream,
            pending: Vec::new(),
        };
        client.listen(true);
        client
    }

    /// LISTENs to every meter, or IGNOREs them.
    fn listen(&mut self, on: bool) {
        let command = if on { "LISTEN" } else { "IGNORE" };
        let text = format!(r#"{{"COMMAND":"{command}","DATA":"/meter/*/*"}}"#);
        // A few bytes on a socket whose send buffer is empty.
        self.stream
            .write_all(&client_frame(0x1, text.as_bytes()))
            .unwrap();
    }

    /// Reads what has come; returns the meter bundles among it, and
    /// answers the server's pings.
    fn take(&mut self, scratch: &mut [u8]) -> u64 {
        loop {
            match self.stream.read(scratch) {
                Ok(0) => panic!("the daemon closed a page client"),
                Ok(n) => self.pending.extend_from_slice(&scratch[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("page client: {e}"),
            }
        }
        let (mut at, mut bundles) = (0, 0);
        let mut pongs = Vec::new();
        loop {
            let b = &self.pending[at..];
            if b.len() < 2 {
                break;
            }
            let (head, len) = match b[1] & 0x7f {
                126 if b.len() >= 4 => (4, u16::from_be_bytes([b[2], b[3]]) as usize),
                127 if b.len() >= 10 => (
                    10,
                    u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
                ),
                126 | 127 => break,
                n => (2, n as usize),
            };
            if b.len() < head + len {
                break;
            }
            let payload = &b[head..head + len];
            match b[0] & 0x0f {
                0x2 if payload.starts_with(b"#bundle") => bundles += 1,
                0x9 => pongs.push(client_frame(0xA, payload)),
                _ => {}
            }
            at += head + len;
        }
        self.pending.drain(..at);
        for pong in pongs {
            self.stream.write_all(&pong).unwrap();
        }
        bundles
    }
}

impl PageClients {
    fn connect(http: SocketAddr, n: usize) -> PageClients {
        let clients: Vec<PageClient> = (0..n).map(|_| PageClient::connect(http)).collect();
        let clients = Arc::new(std::sync::Mutex::new(clients));
        let taken = Arc::new(std::sync::Mutex::new((Instant::now(), vec![0u64; n])));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (clients, taken, stop) = (clients.clone(), taken.clone(), stop.clone());
            std::thread::Builder::new()
                .name("bench-pages".into())
                .spawn(move || {
                    be_remote();
                    let mut scratch = vec![0u8; 1 << 16];
                    let mut counts = vec![0u64; n];
                    while !stop.load(Ordering::Relaxed) {
                        for (c, count) in clients.lock().unwrap().iter_mut().zip(&mut counts) {
                            *count += c.take(&mut scratch);
                        }
                        *taken.lock().unwrap() = (Instant::now(), counts.clone());
                        std::thread::sleep(READ_EVERY);
                    }
                })
                .unwrap()
        };
        PageClients {
            clients,
            taken,
            stop,
            reader: Some(reader),
        }
    }

    /// Every client LISTENs to every meter, or IGNOREs them.
    fn listen(&self, on: bool) {
        for c in self.clients.lock().unwrap().iter_mut() {
            c.listen(on);
        }
    }

    /// The bundles each client had taken at the end of the last pass, and when.
    fn taken(&self) -> (Instant, Vec<u64>) {
        self.taken.lock().unwrap().clone()
    }

    /// Waits until every client has taken `more` bundles since `before`.
    fn wait_all(&self, before: &[u64], more: u64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self
            .taken()
            .1
            .iter()
            .zip(before)
            .any(|(&c, &b)| c < b + more)
        {
            assert!(Instant::now() < deadline, "not every client got meters");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Bundles each client took between two passes, and the seconds between.
    fn took(before: &(Instant, Vec<u64>), after: &(Instant, Vec<u64>)) -> (Vec<u64>, f64) {
        let bundles = after.1.iter().zip(&before.1).map(|(a, b)| a - b).collect();
        (bundles, (after.0 - before.0).as_secs_f64())
    }
}

/// Bundles a second each client took over `spans` of (bundles, seconds),
/// slowest first.
fn rates(spans: &[(Vec<u64>, f64)]) -> Vec<f64> {
    let seconds: f64 = spans.iter().map(|s| s.1).sum();
    let mut rates: Vec<f64> = (0..spans[0].0.len())
        .map(|i| spans.iter().map(|s| s.0[i]).sum::<u64>() as f64 / seconds)
        .collect();
    rates.sort_by(f64::total_cmp);
    rates
}

impl Drop for PageClients {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
    }
}

fn meters_cpu(web: &Web) {
    let window = Duration::from_secs(10);
    let measure = || {
        let c0 = daemon_cpu();
        std::thread::sleep(window);
        (daemon_cpu() - c0) / window.as_secs_f64() * 100.0
    };
    let idle = measure();
    let pages = PageClients::connect(web.http, 50);
    pages.wait_all(&[0; 50], 2);
    let before = pages.taken();
    let busy = measure();
    let rates = rates(&[PageClients::took(&before, &pages.taken())]);
    println!(
        "meters to 50 WebSocket page clients (every meter, one bundle per tick): daemon CPU {busy:.2} % of one core, the slowest client got {:.1} bundles/s (goal < 5 %, ~25/s) | the same daemon with no clients {idle:.2} %",
        rates[0],
    );
}

/// Feedback the daemon's HTTP front end has dropped for clients that did not
/// keep up (its `/rackd/status`).
fn http_dropped(osc: SocketAddr) -> u64 {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.send_to(&msg(rackd_protocol::api::address::STATUS, vec![]), osc)
        .unwrap();
    let reply = super::recv_addr(&sock, rackd_protocol::api::address::STATUS);
    match rackd_protocol::api::Reply::parse(&reply) {
        Ok(rackd_protocol::api::Reply::Status(st)) => {
            st.http
                .expect("the HTTP front end in the status")
                .feedback_dropped
        }
        other => panic!("status: {other:?}"),
    }
}

/// Rounds of the OSC round trip with and without the meter fan-out.
const ROUNDS: usize = 4;

/// The OSC round trip's p99 while 1000 page clients get meters, against
/// the same while they ignore them, in turns ([`ROUNDS`] of each, so that
/// whatever else the machine does falls on both), over all the sets of
/// each (one round trip spans only ten meter ticks or so).
fn many_clients(web: &Web) {
    let none = micros(percentile(&round_trip(web.osc), 0.99));
    let pages = PageClients::connect(web.http, 1000);
    let mut taken = pages.taken();
    pages.wait_all(&taken.1, 2);
    let dropped = http_dropped(web.osc);
    let (mut crowded, mut alone, mut spans) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        pages.listen(false);
        // Let what was already sent drain.
        std::thread::sleep(READ_EVERY * 2);
        alone.push(round_trip(web.osc));
        pages.listen(true);
        taken = pages.taken();
        pages.wait_all(&taken.1, 1);
        let before = pages.taken();
        crowded.push(round_trip(web.osc));
        // At about 25 bundles a second each, the daemon did the whole
        // fan-out meanwhile (a client that fell behind would have had
        // frames dropped and spared the daemon their writes).
        spans.push(PageClients::took(&before, &pages.taken()));
    }
    let dropped = http_dropped(web.osc) - dropped;
    drop(pages);
    let rates = rates(&spans);
    // The p99 of all the sets, and each run's.
    let p99 = |runs: &[Vec<Duration>]| {
        let mut all: Vec<Duration> = runs.concat();
        all.sort();
        let each: Vec<String> = runs
            .iter()
            .map(|r| format!("{:.0}", micros(percentile(r, 0.99))))
            .collect();
        (micros(percentile(&all, 0.99)), all.len(), each.join("/"))
    };
    let (crowded, sets, crowded_runs) = p99(&crowded);
    let (alone, _, alone_runs) = p99(&alone);
    println!(
        "OSC set -> feedback p99 while 1000 WebSocket clients get meters: {crowded:.0} us over {sets} sets (runs {crowded_runs} us), {:.2}x the {alone:.0} us while they ignore them (runs {alone_runs} us; {none:.0} us with no clients at all) (goal < 2x); the clients took {:.1} bundles/s (slowest), {:.1} (median), the daemon replaced {dropped} frames not yet sent",
        crowded / alone.max(1.0),
        rates[0],
        rates[rates.len() / 2],
    );
}

/// Puts the calling thread in SCHED_IDLE: the page clients stand in for
/// browsers on other machines, so they may use only the CPU the daemon
/// they measure leaves.
fn be_remote() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: sched_setscheduler on the calling thread (pid 0) with a valid param.
    let set = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    assert_eq!(set, 0, "SCHED_IDLE for the bench's page clients");
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
        // Its threads are the WebSocket controllers and the echo peer; the
        // daemon's threads are not spawned from it.
        .on_thread_start(|| {
            let _ = super::controller_slice();
        })
        .enable_all()
        .build()
        .unwrap();
    // 199 trim slots: 995 parameters, plus the monitor's 5.
    let big = start(rt, 199, &dir.join("web-ns"));
    namespace_get(&big, 1000);
    drop(big);
    let web = start(rt, 1, &dir.join("web"));
    ws_round_trip(&clients, &web);
    meters_cpu(&web);
    many_clients(&web);
    clients.shutdown_background();
}
