//! Recall of a realistic rack against its lower bound: six remote devices on
//! five ports (three serial lines on socat pty pairs, one of them an RS-485
//! bus with two units, and two OSC devices on loopback), played by `rackd
//! profile simulate`. The bound per port is the sum over its messages (every set and
//! every readback query) of the larger of the device's pacing gap and the
//! message's time on the wire at the line's baud rate (the last message of a
//! device: its wire time only); across ports, the largest. Run: `cargo build --release -p rackd && cargo bench -p rackd-tests --bench recall`.

use rackd_protocol::device::{DeviceCtx, DeviceMessage, encode_query, encode_set, has_readback};
use rackd_protocol::profile::{Profile, load_profile};
use rackd_tests::*;
use rosc::OscType;
use std::time::{Duration, Instant};

const SONGS: [&str; 2] = ["bench/a", "bench/b"];
const RUNS: usize = 6;

fn profile(id: &str) -> Profile {
    let path = workspace_dir().join(format!("hardware-profiles/{id}.toml"));
    let text = std::fs::read_to_string(&path).expect("profile");
    load_profile(&text, &path.display().to_string()).expect("valid profile")
}

/// Lower bound of one device's full recall on its port, in seconds.
fn device_bound(p: &Profile, address: Option<u8>) -> f64 {
    let mut ctx = DeviceCtx::for_profile(p);
    if let Some(a) = address {
        ctx.device_id = a;
    }
    let pc = &p.pacing;
    let gap = (pc.min_interval_ms as f64 / 1000.0).max(match pc.max_per_second {
        0 => 0.0,
        n => 1.0 / n as f64,
    });
    let wire = |m: &DeviceMessage| match (m, &p.serial) {
        (DeviceMessage::Serial(b), Some(s)) => {
            let f = s.frame.as_bytes();
            let bits =
                1 + (f[0] - b'0') as usize + (f[1] != b'N') as usize + (f[2] - b'0') as usize;
            (b.len() * bits) as f64 / s.baud as f64
        }
        _ => 0.0,
    };
    let mut messages = Vec::new();
    for def in &p.params {
        let value = def.spec().default;
        messages.extend(encode_set(p, &def.id, &value, &ctx).expect("set"));
    }
    for def in &p.params {
        if has_readback(p, &def.id) {
            messages.push(encode_query(p, &def.id, &ctx).expect("query"));
        }
    }
    // Each message holds the line for its wire time and the device for its
    // gap; the last one only for its wire time.
    let last = messages.pop().map_or(0.0, |m| wire(&m));
    messages.iter().map(|m| gap.max(wire(m))).sum::<f64>() + last
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let eq_pty = PtyPair::start(dir.path(), "eq");
    let bus_pty = PtyPair::start(dir.path(), "bus");
    let comp_pty = PtyPair::start(dir.path(), "comp");
    let _sims = [
        Simulator::start(
            "generic-serial-ascii",
            &["--serial", &eq_pty.b.to_string_lossy()],
        ),
        Simulator::start(
            "generic-rs485-bus",
            &[
                "--serial",
                &bus_pty.b.to_string_lossy(),
                "--address",
                "1",
                "--address",
                "2",
            ],
        ),
        Simulator::start(
            "generic-serial-binary-xor",
            &["--serial", &comp_pty.b.to_string_lossy()],
        ),
    ];
    let (fx1_sim, fx1) = Simulator::start_osc("generic-osc-device", &[]);
    let (fx2_sim, fx2) = Simulator::start_osc("generic-osc-device", &[]);
    let _osc_sims = [fx1_sim, fx2_sim];
    let serial = |id: &str, p: &str, pty: &std::path::Path, extra: &str| {
        device_toml(
            id,
            p,
            &format!(
                "serial = {{ path = {:?}{extra} }}",
                pty.display().to_string()
            ),
        )
    };
    let osc = |id: &str, port: u16| {
        device_toml(
            id,
            "generic-osc-device",
            &format!("osc = {{ address = \"127.0.0.1:{port}\" }}"),
        )
    };
    let d = Daemon::start(Setup {
        extra: [
            serial("eq", "generic-serial-ascii", &eq_pty.a, ""),
            serial("bus1", "generic-rs485-bus", &bus_pty.a, ", address = 1"),
            serial("bus2", "generic-rs485-bus", &bus_pty.a, ", address = 2"),
            serial("comp", "generic-serial-binary-xor", &comp_pty.a, ""),
            osc("fx1", fx1),
            osc("fx2", fx2),
        ]
        .concat(),
        ..Setup::default()
    });
    let ok = wait_for(Duration::from_secs(20), || {
        d.status()["devices"]
            .as_array()?
            .iter()
            .all(|x| x["state"] == "online")
            .then_some(())
    });
    assert!(ok.is_some(), "devices not online: {}", d.status());
    d.ctl_ok(&["save", SONGS[0]]);
    d.ctl_ok(&["set", "/outboard/eq/low_gain", "--", "-3.5"]);
    d.ctl_ok(&["set", "/outboard/bus2/low_gain", "--", "2"]);
    d.ctl_ok(&["save", SONGS[1]]);

    let ports = [
        (
            "eq (9600 baud, ack)",
            device_bound(&profile("generic-serial-ascii"), None),
        ),
        (
            "bus (19200 baud, 2 units)",
            device_bound(&profile("generic-rs485-bus"), Some(1))
                + device_bound(&profile("generic-rs485-bus"), Some(2)),
        ),
        (
            "comp (38400 baud, binary)",
            device_bound(&profile("generic-serial-binary-xor"), None),
        ),
        (
            "fx1 (OSC)",
            device_bound(&profile("generic-osc-device"), None),
        ),
        (
            "fx2 (OSC)",
            device_bound(&profile("generic-osc-device"), None),
        ),
    ];
    let bound = ports.iter().map(|(_, b)| *b).fold(0.0, f64::max);
    for (name, b) in &ports {
        println!("bound {name:<28} {:7.1} ms", b * 1000.0);
    }

    let c = d.udp();
    let mut times = Vec::new();
    for run in 0..RUNS {
        let started = Instant::now();
        c.send(
            "/rackd/snapshot/recall",
            vec![OscType::String(SONGS[run % 2].into())],
        );
        let report = c
            .recv_until(Duration::from_secs(30), |m| {
                m.addr == "/rackd/recall/report"
            })
            .expect("report");
        let took = started.elapsed().as_secs_f64();
        let report = json_arg(&report);
        let verified = report["devices"]
            .as_array()
            .expect("devices")
            .iter()
            .all(|x| x["result"] == "set and verified");
        assert!(verified, "{report}");
        times.push(took);
    }
    times.sort_by(f64::total_cmp);
    let p50 = times[times.len() / 2];
    println!(
        "recall of 6 devices on 5 ports: p50 {:.1} ms, best {:.1} ms; lower bound {:.1} ms; p50/bound {:.3}",
        p50 * 1000.0,
        times[0] * 1000.0,
        bound * 1000.0,
        p50 / bound
    );
}
