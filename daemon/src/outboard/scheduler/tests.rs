//! A port task over scripted links: pacing, acknowledgements, retries, offline.

use super::*;
use std::collections::VecDeque;
use std::sync::Mutex;

/// When each message went out, and its bytes.
type SentLog = Arc<Mutex<Vec<(Instant, Vec<u8>)>>>;

/// A link that records when each message went out and acknowledges it.
struct FakeLink {
    sent: SentLog,
    pending: VecDeque<Incoming>,
    baud: u32,
}

impl Link for FakeLink {
    async fn open(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn is_open(&self) -> bool {
        true
    }
    fn close(&mut self) {}
    async fn send(&mut self, msg: &DeviceMessage) -> std::io::Result<()> {
        if let DeviceMessage::Serial(b) = msg {
            self.sent.lock().unwrap().push((Instant::now(), b.clone()));
            let reply: &[u8] = if b.starts_with(b"ID?") {
                b"ID RACKD-GENERIC-EQ 1"
            } else {
                b"OK"
            };
            self.pending.push_back(Incoming::Frame(reply.to_vec()));
        }
        Ok(())
    }
    async fn recv(&mut self, until: Instant) -> std::io::Result<Option<Incoming>> {
        match self.pending.pop_front() {
            Some(i) => Ok(Some(i)),
            None => {
                tokio::time::sleep_until(until).await;
                Ok(None)
            }
        }
    }
    fn wire_time(&self, bytes: usize) -> Duration {
        Duration::from_secs_f64(bytes as f64 * 10.0 / self.baud as f64)
    }
}

fn port_of(profile_id: &str) -> Port<FakeLink> {
    let lib = crate::profiles::Library::load_from(&[]);
    let profile = lib.get(profile_id).unwrap().profile.clone();
    Port {
        name: "fake".into(),
        link: FakeLink {
            sent: Arc::default(),
            pending: VecDeque::new(),
            baud: 31250,
        },
        devices: vec![PortDevice {
            index: 0,
            device: Device {
                id: "dev".into(),
                ctx: rackd_protocol::device::DeviceCtx::for_profile(&profile),
                profile: profile.clone(),
                link: crate::config::DeviceLink::None,
                safe: false,
                safe_params: Vec::new(),
            },
            status: Arc::new(DeviceStatus::new("fake")),
            pacer: Pacer::new(&profile.pacing),
            midi: Default::default(),
        }],
        hub: None,
        retry_after: Duration::from_secs(1),
        line_free: None,
    }
}

#[test]
fn an_nrpn_move_in_separate_events_is_decoded_whole() {
    let port = port_of("generic-nrpn-compressor");
    // Threshold is NRPN 0x0100 (MSB 2, LSB 0), 14 bit, raw 0..400 = -40..0 dB:
    // raw 200 (MSB 1, LSB 72) is -20 dB. Each CC arrives as its own event.
    let events = [[0xB0, 99, 2], [0xB0, 98, 0], [0xB0, 6, 1], [0xB0, 38, 72]];
    let replies: Vec<Reply> = events
        .iter()
        .map(|e| port.classify(0, &Incoming::Midi(e.to_vec())))
        .collect();
    assert!(
        replies[..3].iter().all(|r| matches!(r, Reply::Other(_))),
        "{replies:?}"
    );
    match &replies[3] {
        Reply::Value { param, value } => {
            assert_eq!(param, "threshold");
            assert_eq!(value.as_f64(), Some(-20.0));
        }
        r => panic!("{r:?}"),
    }
}

#[test]
fn identity_replies_are_matched_against_the_profile() {
    let lib = crate::profiles::Library::load_from(&[]);
    let midi = |id: &str| lib.get(id).unwrap().profile.midi.clone().unwrap();
    let roland = port_of("generic-sysex-roland");
    let own = device::midi::identity_reply(&midi("generic-sysex-roland"), 0x10);
    assert!(matches!(
        roland.classify(0, &Incoming::Midi(own)),
        Reply::Identity
    ));
    // A generic CC EQ (family 0, member 0) answering on the Roland's port.
    let other = device::midi::identity_reply(&midi("generic-midi-cc-eq"), 0x10);
    match roland.classify(0, &Incoming::Midi(other.clone())) {
        Reply::Foreign { expected, found } => {
            assert_eq!(expected, "manufacturer 7D family 1 member 1");
            assert_eq!(found, "manufacturer 7D family 0 member 0");
        }
        r => panic!("{r:?}"),
    }
    // The CC EQ's profile names only the manufacturer: any 7D device is it.
    let cc = port_of("generic-midi-cc-eq");
    assert!(matches!(
        cc.classify(0, &Incoming::Midi(other)),
        Reply::Identity
    ));

    let serial = port_of("generic-serial-ascii");
    let frame = |b: &[u8]| Incoming::Frame(b.to_vec());
    assert!(matches!(
        serial.classify(0, &frame(b"ID RACKD-GENERIC-EQ 1.2")),
        Reply::Identity
    ));
    assert!(matches!(
        serial.classify(0, &frame(b"ID RACKD-COMPRESSOR 3")),
        Reply::Foreign { .. }
    ));
    // Line noise is not another device.
    assert!(matches!(
        serial.classify(0, &frame(b"#?~%\xfe\xa5 garbage")),
        Reply::Other(_)
    ));
}

#[test]
fn pacer_takes_the_tighter_limit_and_wire_time() {
    let now = Instant::now();
    let mut p = Pacer::new(&Pacing {
        min_interval_ms: 5,
        max_per_second: 50,
        wait_ack: false,
    });
    assert_eq!(p.ready_at(now), now);
    p.sent(now, Duration::from_millis(1));
    assert_eq!(p.ready_at(now), now + Duration::from_millis(20));
    p.sent(now, Duration::from_millis(40));
    assert_eq!(p.ready_at(now), now + Duration::from_millis(40));
}

#[tokio::test(start_paused = true)]
async fn port_keeps_order_and_pacing() {
    let lib = crate::profiles::Library::load_from(&[]);
    let profile = lib.get("generic-serial-ascii").unwrap().profile.clone();
    let device = Device {
        id: "eq".into(),
        ctx: rackd_protocol::device::DeviceCtx::for_profile(&profile),
        profile: profile.clone(),
        link: crate::config::DeviceLink::None,
        safe: false,
        safe_params: Vec::new(),
    };
    let sent = Arc::new(Mutex::new(Vec::new()));
    let port = Port {
        name: "fake".into(),
        link: FakeLink {
            sent: sent.clone(),
            pending: VecDeque::new(),
            baud: 9600,
        },
        devices: vec![PortDevice {
            index: 0,
            device,
            status: Arc::new(DeviceStatus::new("fake")),
            pacer: Pacer::new(&profile.pacing),
            midi: Default::default(),
        }],
        hub: None,
        retry_after: Duration::from_secs(1),
        line_free: None,
    };
    let (tx, rx) = mpsc::channel(16);
    let task = tokio::spawn(port.run(rx));
    let gains = [-3.0, -2.5, 1.0, 4.5];
    for g in gains {
        tx.send(Job::Set {
            device: 0,
            param: "low_gain".into(),
            value: Value::Float(g),
        })
        .await
        .unwrap();
    }
    drop(tx);
    task.await.unwrap();
    let sent = sent.lock().unwrap();
    // init + identity, then the four sets in order.
    let sets: Vec<String> = sent
        .iter()
        .map(|(_, b)| String::from_utf8_lossy(b).to_string())
        .filter(|s| s.starts_with("SET"))
        .collect();
    assert_eq!(
        sets,
        vec![
            "SET LG -3.0\r",
            "SET LG -2.5\r",
            "SET LG +1.0\r",
            "SET LG +4.5\r"
        ]
    );
    for pair in sent.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        // 5 ms profile gap, or the wire time of the first message at 9600
        // baud if longer (less the timer's 1 ms resolution).
        let wire = Duration::from_secs_f64(pair[0].1.len() as f64 * 10.0 / 9600.0);
        assert!(
            gap + Duration::from_millis(1) >= Duration::from_millis(5).max(wire),
            "gap {gap:?} after {:?}",
            pair[0].1
        );
    }
}
