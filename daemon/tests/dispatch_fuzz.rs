//! Property test of decode + dispatch: arbitrary OSC messages (known and
//! unknown addresses, every argument type, patterns, `/norm`, daemon commands)
//! and raw garbage sent to a real surface on loopback never take it down,
//! never leave a value outside its spec, and every failure is answered.

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

fn ping_answers(sock: &UdpSocket, to: SocketAddr) -> bool {
    let ping = codec::encode(&OscPacket::Message(OscMessage {
        addr: "/rackd/ping".into(),
        args: vec![OscType::Int(42)],
    }));
    sock.send_to(&ping, to).unwrap();
    let mut buf = [0u8; 65_536];
    while let Ok(n) = sock.recv(&mut buf) {
        if let Ok(OscPacket::Message(m)) = codec::decode(&buf[..n])
            && m.addr == "/rackd/pong"
        {
            return true;
        }
    }
    false
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_messages_never_break_the_daemon(
        messages in proptest::collection::vec((address(), proptest::collection::vec(arg(), 0..3)), 1..20),
        garbage in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..4),
    ) {
        let f = fixture();
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        for (addr, args) in messages {
            let bytes = codec::encode(&OscPacket::Message(OscMessage { addr, args }));
            sock.send_to(&bytes, f.addr).unwrap();
        }
        for g in garbage {
            sock.send_to(&g, f.addr).unwrap();
        }
        prop_assert!(ping_answers(&sock, f.addr), "daemon stopped answering");
        let state = f.rt.block_on(f.hub.state()).unwrap();
        for (address, value) in &state.values {
            let spec = &f.hub.tree().get(address).unwrap().spec;
            let again = spec.accept(value);
            prop_assert_eq!(again.as_ref(), Ok(value), "{} holds {:?}", address, value);
        }
    }
}
