//! What one client may hold of the daemon (null backend, real sockets on
//! loopback): TCP connections (per address and in all, with an idle
//! timeout and a refusal the client can read), bundles scheduled ahead,
//! bytes buffered for unfinished stream frames; and a reload that takes the
//! allow-list away from a client takes its connection and subscription too.
//! Each bound is pushed past by the test and the daemon must answer a normal
//! client all along.

use rackd_protocol::osc::codec;
use rackd_protocol::osc::framing::{self, Framing};
use rackd_tests::*;
use rosc::{OscBundle, OscMessage, OscPacket, OscTime, OscType};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn tcp(d: &Daemon) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", d.port)).expect("connect");
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

/// Everything the daemon sends on `s` until it closes (or `WAIT` passes).
fn read_until_closed(s: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
    all
}

/// `/rackd/error` messages in SLIP-framed bytes.
fn errors_in(bytes: &[u8]) -> Vec<String> {
    let mut decoder = framing::FrameDecoder::new(Framing::Slip, codec::MAX_STREAM_PACKET);
    decoder.push(bytes);
    let mut out = Vec::new();
    while let Some(Ok(frame)) = decoder.next_frame() {
        if let Ok(OscPacket::Message(m)) = codec::decode(&frame)
            && m.addr == "/rackd/error"
            && let Some(OscType::String(text)) = m.args.get(1)
        {
            out.push(text.clone());
        }
    }
    out
}

fn status_u64(d: &Daemon, path: &[&str]) -> u64 {
    let mut v = d.status();
    for p in path {
        v = v[*p].clone();
    }
    v.as_u64()
        .unwrap_or_else(|| panic!("status has no {path:?}"))
}

/// SLIP-framed OSC message bytes.
fn slip(addr: &str, args: Vec<OscType>) -> Vec<u8> {
    framing::encode(
        Framing::Slip,
        &codec::encode(&OscPacket::Message(OscMessage {
            addr: addr.into(),
            args,
        })),
    )
}

#[test]
fn idle_connections_make_room_for_ctl_and_too_many_get_a_readable_refusal() {
    let d = Daemon::start(Setup::default());
    // 32 subscribed connections from one address: its whole share, none idle.
    let subscribed: Vec<TcpStream> = (0..32)
        .map(|_| {
            let mut s = tcp(&d);
            s.write_all(&slip("/rackd/subscribe", vec![])).unwrap();
            s
        })
        .collect();
    wait_for(WAIT, || {
        (status_u64(&d, &["clients", "subscribers"]) == 32).then_some(())
    })
    .expect("32 subscribed connections");
    let mut extra = tcp(&d);
    let text = errors_in(&read_until_closed(&mut extra)).join(" ");
    assert!(
        text.contains("too many connections") && text.contains("per address"),
        "{text:?}"
    );
    // ctl is refused the same way, and says so.
    let out = d.ctl(&["status"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("too many connections"), "{err}");
    assert!(status_u64(&d, &["osc", "refused_connections"]) >= 2);
    drop(subscribed);
    wait_for(WAIT, || {
        (status_u64(&d, &["clients", "tcp_connections"]) == 0).then_some(())
    })
    .expect("closed connections leave");
    // The report's attack: 64 idle connections. Once they have been idle a
    // moment, a newcomer (ctl) gets the place of the longest idle one.
    let idle: Vec<TcpStream> = (0..64).map(|_| tcp(&d)).collect();
    std::thread::sleep(Duration::from_millis(2500));
    let out = d.ctl(&["status"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(d.log_text().contains("to make room for"));
    drop(idle);
}

#[test]
fn connections_that_say_nothing_are_closed_after_the_idle_timeout() {
    let d = Daemon::start(Setup {
        idle_timeout_s: Some(1),
        ..Setup::default()
    });
    let mut quiet = tcp(&d);
    let started = Instant::now();
    let text = errors_in(&read_until_closed(&mut quiet)).join(" ");
    let took = started.elapsed();
    eprintln!("closed after {took:?}: {text}");
    assert!(text.contains("nothing sent for 1 s"), "{text:?}");
    assert!(
        took < Duration::from_secs(8),
        "not closed by the idle timeout"
    );
    // A subscribed connection stays (its lease is renewed).
    let mut sub = tcp(&d);
    let msg = |addr: &str, args: Vec<OscType>| {
        framing::encode(
            Framing::Slip,
            &codec::encode(&OscPacket::Message(OscMessage {
                addr: addr.into(),
                args,
            })),
        )
    };
    sub.write_all(&msg("/rackd/subscribe", vec![])).unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    sub.write_all(&msg("/rackd/ping", vec![OscType::Int(9)]))
        .unwrap();
    let mut buf = [0u8; 65_536];
    let n = sub.read(&mut buf).unwrap_or(0);
    assert!(n > 0, "the subscribed connection was closed");
}

#[test]
fn bundles_scheduled_ahead_are_bounded_per_client() {
    let d = Daemon::start(Setup::default());
    // Over TCP, so that none of the 300 is lost on the way (UDP would drop some).
    let mut conn = tcp(&d);
    let ahead = SystemTime::now() + Duration::from_secs(30);
    let since = ahead.duration_since(UNIX_EPOCH).unwrap();
    let timetag = OscTime {
        seconds: (since.as_secs() + 2_208_988_800) as u32,
        fractional: 0,
    };
    let bundle = OscPacket::Bundle(OscBundle {
        timetag,
        content: vec![OscPacket::Message(OscMessage {
            addr: "/chain/trim/gain".into(),
            args: vec![OscType::Float(-1.0)],
        })],
    });
    let frame = framing::encode(Framing::Slip, &codec::encode(&bundle));
    let mut stream = Vec::new();
    for _ in 0..300 {
        stream.extend_from_slice(&frame);
    }
    let ping = OscPacket::Message(OscMessage {
        addr: "/rackd/ping".into(),
        args: vec![OscType::Int(1)],
    });
    stream.extend_from_slice(&framing::encode(Framing::Slip, &codec::encode(&ping)));
    conn.write_all(&stream).unwrap();
    // Everything up to the pong.
    let mut decoder = framing::FrameDecoder::new(Framing::Slip, codec::MAX_STREAM_PACKET);
    let mut refusals = 0;
    let mut buf = [0u8; 65_536];
    'read: loop {
        let n = conn.read(&mut buf).expect("replies");
        assert!(n > 0, "closed before the pong");
        decoder.push(&buf[..n]);
        while let Some(Ok(f)) = decoder.next_frame() {
            match codec::decode(&f) {
                Ok(OscPacket::Message(m)) if m.addr == "/rackd/pong" => break 'read,
                Ok(OscPacket::Message(m))
                    if format!("{:?}", m.args).contains("too many bundles scheduled") =>
                {
                    refusals += 1
                }
                _ => {}
            }
        }
    }
    assert_eq!(refusals, 300 - 256, "the 257th and later are refused");
    assert_eq!(status_u64(&d, &["osc", "scheduled_bundles"]), 256);
    // The log says it a few times, then how many more (not 44 lines).
    let lines = d.log_text().matches("too many bundles scheduled").count();
    assert!(lines <= 5, "{lines} log lines for one client's refusals");
}

#[test]
fn unfinished_stream_frames_are_bounded_per_connection_and_in_all() {
    let d = Daemon::start(Setup::default());
    // One SLIP frame without END, past the largest message rackd takes.
    let mut big = tcp(&d);
    big.write_all(&[framing::END]).unwrap();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..9 {
        if big.write_all(&chunk).is_err() {
            break;
        }
    }
    big.write_all(&[framing::END]).ok();
    let text = errors_in(&read_until_closed_or_quiet(&mut big)).join(" ");
    assert!(
        text.contains("8388608"),
        "the frame limit is the request limit: {text:?}"
    );
    // Several connections each holding 7 MB of an unfinished frame: past
    // the daemon's 32 MB, the one that goes over is closed.
    let mut holders: Vec<TcpStream> = (0..6).map(|_| tcp(&d)).collect();
    let seven = vec![b'y'; 7 << 20];
    let mut closed = 0;
    for h in &mut holders {
        if h.write_all(&[framing::END])
            .and_then(|()| h.write_all(&seven))
            .is_err()
        {
            closed += 1;
        }
    }
    let full = wait_for(WAIT, || {
        d.log_text()
            .contains("input buffers are full")
            .then_some(())
    });
    assert!(
        full.is_some() || closed > 0,
        "no connection was stopped at the budget"
    );
    // A normal client is still answered.
    assert!(d.ctl(&["status"]).status.success());
    drop(holders);
}

/// Like [`read_until_closed`], stopping once nothing came for a second.
fn read_until_closed_or_quiet(s: &mut TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    read_until_closed(s)
}

#[test]
fn a_reload_that_drops_an_address_drops_its_connection_and_subscription() {
    let mut setup = Setup {
        allow: vec!["127.0.0.1/32".into(), "127.0.0.2/32".into()],
        ..Setup::default()
    };
    let d = Daemon::start(setup.clone());
    let local: SocketAddr = "127.0.0.2:0".parse().unwrap();
    // A TCP connection and a UDP subscription from 127.0.0.2.
    let socket = socket2_connect(local, d.port);
    let mut conn = socket;
    conn.write_all(&framing::encode(
        Framing::Slip,
        &codec::encode(&OscPacket::Message(OscMessage {
            addr: "/rackd/ping".into(),
            args: vec![],
        })),
    ))
    .unwrap();
    let udp = std::net::UdpSocket::bind(local).unwrap();
    udp.send_to(
        &codec::encode(&OscPacket::Message(OscMessage {
            addr: "/rackd/subscribe".into(),
            args: vec![],
        })),
        ("127.0.0.1", d.port),
    )
    .unwrap();
    wait_for(WAIT, || {
        (status_u64(&d, &["clients", "subscribers"]) == 1).then_some(())
    })
    .expect("subscribed");
    // The admin takes 127.0.0.2 out and reloads.
    setup.allow = vec!["127.0.0.1/32".into()];
    std::fs::write(&d.config, setup.toml(d.port, &d.state_dir)).unwrap();
    d.signal(libc::SIGHUP);
    assert!(d.wait_log("reloaded", WAIT));
    wait_for(WAIT, || {
        (status_u64(&d, &["clients", "subscribers"]) == 0).then_some(())
    })
    .expect("the revoked subscription stays");
    conn.set_read_timeout(Some(WAIT)).unwrap();
    let bytes = read_until_closed(&mut conn);
    assert!(
        d.log_text().contains("no longer in [osc] allow"),
        "{}",
        d.log_text()
    );
    let _ = bytes;
    let open = status_u64(&d, &["clients", "tcp_connections"]);
    assert_eq!(open, 0, "the revoked TCP connection stays open");
}

/// A TCP connection from a chosen local address.
fn socket2_connect(local: SocketAddr, port: u16) -> TcpStream {
    // std has no bind-then-connect; libc does it.
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a descriptor we own; sockaddr_in is filled in full.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let to_sockaddr = |a: SocketAddr| {
            let SocketAddr::V4(v4) = a else {
                panic!("IPv4 only")
            };
            libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*v4.ip()).to_be(),
                },
                sin_zero: [0; 8],
            }
        };
        let l = to_sockaddr(local);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, &l as *const _ as *const libc::sockaddr, len),
            0
        );
        let r = to_sockaddr(SocketAddr::from(([127, 0, 0, 1], port)));
        assert_eq!(
            libc::connect(fd, &r as *const _ as *const libc::sockaddr, len),
            0
        );
        TcpStream::from_raw_fd(fd)
    }
}

#[test]
fn a_flood_of_bad_packets_gets_a_few_log_lines_and_a_count() {
    let d = Daemon::start(Setup::default());
    let osc = d.udp();
    let junk = vec![b'/'; 900];
    for _ in 0..200 {
        osc.send_raw(&junk);
    }
    osc.send("/rackd/ping", vec![OscType::Int(2)]);
    osc.recv_until(WAIT, |m| m.addr == "/rackd/pong")
        .expect("still answering");
    // The window ends and the rest is counted in one line.
    let counted = wait_for(Duration::from_secs(20), || {
        d.log_text()
            .contains("more bad packet warnings from 127.0.0.1")
            .then_some(())
    });
    let log = d.log_text();
    assert!(counted.is_some(), "{log}");
    let lines = log.matches("bad OSC packet from").count();
    assert!(lines <= 5, "{lines} lines for one client's bad packets");
    let longest = log.lines().map(str::len).max().unwrap_or(0);
    assert!(
        longest < 600,
        "a log line of {longest} bytes holds client data"
    );
}
