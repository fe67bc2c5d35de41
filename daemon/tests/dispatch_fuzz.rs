//! Property test of decode + dispatch: arbitrary OSC messages (known and
//! unknown addresses, every argument type, patterns, `/norm`, daemon commands)
//! and raw garbage sent to a real surface on loopback never take it down,
//! never leave a value outside its spec, and every message is answered:
//! every failure with `/rackd/error` naming its address.

use proptest::prelude::*;
use rackd::config::{AudioConfig, BackendKind, SlotConfig};
use rackd::hub::HubHandle;
use rackd_dsp::SlotKind;
use rackd_protocol::osc::codec;
use rosc::{OscMessage, OscPacket, OscType};
use std::net::{SocketAddr, UdpSocket};
use std::sync::OnceLock;
use std::time::Duration;

struct Fixture {
    addr: SocketAddr,
    hub: HubHandle,
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let chain: Vec<SlotConfig> = SlotKind::NAMES
            .iter()
            .map(|n| SlotConfig::new(format!("{n}1"), SlotKind::from_name(n).unwrap()))
            .collect();
        let audio = AudioConfig {
            backend: BackendKind::Null,
            test_tone_db: Some(-18.0),
            ..AudioConfig::default()
        };
        let (surface, hub) = rt
            .block_on(rackd::service::serve_without_audio(
                &chain,
                &audio,
                &dir.path().join("rackd.db"),
                "127.0.0.1:0".parse().unwrap(),
            ))
            .unwrap();
        let addr = surface.local_addr();
        Fixture {
            addr,
            hub,
            rt,
            _dir: dir,
        }
    })
}

fn arg() -> impl Strategy<Value = OscType> {
    prop_oneof![
        any::<f32>().prop_map(OscType::Float),
        any::<i32>().prop_map(OscType::Int),
        any::<f64>().prop_map(OscType::Double),
        any::<i64>().prop_map(OscType::Long),
        "\\PC{0,40}".prop_map(OscType::String),
        any::<bool>().prop_map(OscType::Bool),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(OscType::Blob),
        Just(OscType::Nil),
    ]
}

fn address() -> impl Strategy<Value = String> {
    let tree = &fixture().hub;
    let known: Vec<String> = tree.tree().addresses().map(str::to_string).collect();
    prop_oneof![
        proptest::sample::select(known.clone()),
        proptest::sample::select(known).prop_map(|a| format!("{a}/norm")),
        proptest::sample::select(vec![
            "/chain/*/bypass",
            "/chain/{trim1,meter1}/*",
            "/chain/[a-z]*/gain",
            "/rackd/subscribe",
            "/rackd/unsubscribe",
            "/rackd/snapshot/save",
            "/rackd/snapshot/recall",
            "/rackd/snapshot/history",
            "/rackd/snapshot/diff",
            "/rackd/snapshot/import",
            "/rackd/status",
            "/rackd/nope",
            "/chain/[",
            "/chain/{a,",
        ])
        .prop_map(str::to_string),
        "/[a-z/]{0,30}",
    ]
}

/// What came back to `sock` for what it just sent, up to the pong of a
/// ping sent after it (one UDP sender's packets are handled in order, and
/// replies and errors go out before the next packet is handled). None when
/// the pong never came.
fn answers(sock: &UdpSocket, to: SocketAddr, token: i32) -> Option<Vec<OscMessage>> {
    let ping = codec::encode(&OscPacket::Message(OscMessage {
        addr: "/rackd/ping".into(),
        args: vec![OscType::Int(token)],
    }));
    sock.send_to(&ping, to).unwrap();
    let mut before = Vec::new();
    let mut buf = [0u8; 65_536];
    while let Ok(n) = sock.recv(&mut buf) {
        let Ok((_, packet)) = rosc::decoder::decode_udp(&buf[..n]) else {
            continue;
        };
        let mut queue = vec![packet];
        while let Some(p) = queue.pop() {
            match p {
                OscPacket::Message(m)
                    if m.addr == "/rackd/pong" && m.args == [OscType::Int(token)] =>
                {
                    return Some(before);
                }
                OscPacket::Message(m) => before.push(m),
                OscPacket::Bundle(b) => queue.extend(b.content),
            }
        }
    }
    None
}

/// A `/rackd/error ,ss address message` naming `address`, with a message.
fn names_error(m: &OscMessage, address: &str) -> bool {
    m.addr == "/rackd/error"
        && matches!(&m.args[..], [OscType::String(a), OscType::String(text)] if a == address && !text.is_empty())
}

/// Whether a subscribe asks for feedback at another port than the sender's
/// (its `/rackd/subscribed` goes there, so the sender sees nothing).
fn subscribes_elsewhere(msg: &OscMessage, own: u16) -> bool {
    msg.addr == "/rackd/subscribe"
        && match msg.args.first() {
            Some(OscType::Int(p)) => i64::from(*p) != i64::from(own),
            Some(OscType::Long(p)) => *p != i64::from(own),
            _ => false,
        }
}

fn fresh_socket() -> UdpSocket {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Each message and each datagram of garbage from its own socket, then a
    /// ping: a message is answered before the pong (its value, its reply, or
    /// `/rackd/error` naming its address; a subscribe's confirmation comes
    /// through the feedback queue and is waited for), every error names the
    /// address with a message, garbage that is no OSC packet gets
    /// `/rackd/error`, and every stored value stays inside its spec.
    #[test]
    fn arbitrary_messages_are_answered_and_never_break_the_daemon(
        messages in proptest::collection::vec((address(), proptest::collection::vec(arg(), 0..3)), 1..20),
        garbage in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..4),
    ) {
        let f = fixture();
        for (i, (addr, args)) in messages.into_iter().enumerate() {
            let sock = fresh_socket();
            let own = sock.local_addr().unwrap().port();
            let msg = OscMessage { addr, args };
            sock.send_to(&codec::encode(&OscPacket::Message(msg.clone())), f.addr).unwrap();
            let got = answers(&sock, f.addr, i as i32);
            prop_assert!(got.is_some(), "daemon stopped answering after {:?}", msg);
            let got = got.unwrap();
            for m in got.iter().filter(|m| m.addr == "/rackd/error") {
                prop_assert!(names_error(m, &msg.addr), "{:?} got a bad error {:?}", msg, m);
            }
            if got.is_empty() {
                prop_assert!(msg.addr == "/rackd/subscribe", "{:?} got no answer", msg);
                if !subscribes_elsewhere(&msg, own) {
                    let mut buf = [0u8; 65_536];
                    let confirmed = std::iter::from_fn(|| sock.recv(&mut buf).ok().map(|n| buf[..n].to_vec()))
                        .any(|b| matches!(rosc::decoder::decode_udp(&b), Ok((_, OscPacket::Message(m))) if m.addr == "/rackd/subscribed"));
                    prop_assert!(confirmed, "{:?} was neither refused nor confirmed", msg);
                }
            }
        }
        for (i, g) in garbage.into_iter().enumerate() {
            let sock = fresh_socket();
            sock.send_to(&g, f.addr).unwrap();
            let got = answers(&sock, f.addr, 1000 + i as i32);
            prop_assert!(got.is_some(), "daemon stopped answering after garbage {:02x?}", g);
            if rosc::decoder::decode_udp(&g).is_err() {
                prop_assert!(
                    got.unwrap().iter().any(|m| names_error(m, "")),
                    "garbage {:02x?} got no /rackd/error", g
                );
            }
        }
        let state = f.rt.block_on(f.hub.state()).unwrap();
        for (address, value) in &state.values {
            let spec = &f.hub.tree().get(address).unwrap().spec;
            let again = spec.accept(value);
            prop_assert_eq!(again.as_ref(), Ok(value), "{} holds {:?}", address, value);
        }
    }
}
