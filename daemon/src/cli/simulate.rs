//! `rackd profile simulate ID --serial PTY | --osc ADDR`: plays a device's
//! side from its profile — acknowledges, answers queries and identity
//! requests, remembers values — so profile authors can try a profile without
//! the hardware, and the end-to-end tests have gear to talk to. `--silent`
//! never answers; `--garbage` answers every command with noise. `rackd demo`
//! runs the same simulators on threads of its own process (`spawn_serial`,
//! `spawn_osc`).

use crate::profiles::Library;
use rackd_protocol::device::{
    self, Command, DeviceCtx, DeviceMessage, encode_report, init_messages,
};
use rackd_protocol::param::Value;
use rackd_protocol::profile::Profile;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `rackd profile simulate`.
#[derive(clap::Args, Debug)]
pub struct SimulateArgs {
    /// Profile id.
    id: String,
    /// Serial device to play on (e.g. one end of a socat pty pair).
    #[arg(long, conflicts_with_all = ["osc", "midi"], required_unless_present_any = ["osc", "midi"])]
    serial: Option<PathBuf>,
    /// Address to listen on as an OSC device (e.g. 127.0.0.1:9000), UDP unless --tcp.
    #[arg(long, conflicts_with = "midi")]
    osc: Option<String>,
    /// With --osc: listen on TCP (SLIP-framed OSC 1.1) instead of UDP.
    #[arg(long, requires = "osc")]
    tcp: bool,
    /// JACK client name to play a MIDI device as (ports NAME:in, NAME:out).
    #[arg(long)]
    midi: Option<String>,
    /// MIDI channel 1..16 the device listens on.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=16))]
    channel: u8,
    /// RS-485 bus address (default: the profile's); repeat it to play
    /// several units sharing one bus.
    #[arg(long)]
    address: Vec<u8>,
    /// Never answer (a device that is switched off or miswired).
    #[arg(long)]
    silent: bool,
    /// Answer every command with noise instead of the protocol's reply.
    #[arg(long)]
    garbage: bool,
    /// Once the host has asked who we are, move a front-panel control:
    /// report PARAM=VALUE by ourselves 300 ms later (as the gear does).
    #[arg(long, value_name = "PARAM=VALUE")]
    report: Option<String>,
    /// Also search this profile directory.
    #[arg(long)]
    dir: Vec<PathBuf>,
}

/// How a simulated device behaves: the simulator's switches, shared by
/// `rackd profile simulate` and the devices `rackd demo` plays in-process.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Never answer.
    pub silent: bool,
    /// Answer with noise.
    pub garbage: bool,
    /// A front-panel move to report once asked for identity.
    pub report: Option<String>,
    /// Log what the device does at debug level instead of printing it
    /// (a simulator inside the daemon must not write to its stdout).
    pub quiet: bool,
}

impl SimulateArgs {
    fn behaviour(&self) -> Behaviour {
        Behaviour {
            silent: self.silent,
            garbage: self.garbage,
            report: self.report.clone(),
            quiet: false,
        }
    }
}

/// The `--report` move, once the host has asked for identity (then never again).
fn due_report(sim: &mut Sim, report: &mut Option<String>) -> Option<DeviceMessage> {
    let spec = report.take_if(|_| sim.asked_identity)?;
    front_panel(sim, &spec)
}

/// Sends a front-panel report a moment later, by itself, as the gear does.
fn send_later(send: impl FnOnce() + Send + 'static) {
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        send();
    });
}

/// The message a `--report PARAM=VALUE` front-panel move sends.
fn front_panel(sim: &mut Sim, spec: &str) -> Option<DeviceMessage> {
    let (param, text) = spec.split_once('=')?;
    let def = sim.profile.param(param)?;
    let raw = match text.parse::<f64>() {
        Ok(x) if x.fract() == 0.0 => Value::Int(x as i64),
        Ok(x) => Value::Float(x),
        Err(_) => Value::Text(text.to_string()),
    };
    let value = def.spec().accept(&raw).ok()?;
    sim.say(format_args!("front panel {param} {value}"));
    sim.values.insert(param.to_string(), value.clone());
    encode_report(&sim.profile, param, &value, &sim.ctx).ok()
}

const GARBAGE: &[u8] = b"#?~%\xfe\xa5 garbage\r\n";

/// What a simulated device holds and answers.
struct Sim {
    profile: Profile,
    ctx: DeviceCtx,
    values: BTreeMap<String, Value>,
    init: Vec<Vec<u8>>,
    asked_identity: bool,
    quiet: bool,
}

impl Sim {
    fn new(profile: Profile, address: Option<u8>) -> Sim {
        let mut ctx = DeviceCtx::for_profile(&profile);
        if let Some(a) = address {
            ctx.device_id = a;
        }
        let values = profile
            .params
            .iter()
            .map(|d| (d.id.clone(), d.spec().default))
            .collect();
        let init = init_messages(&profile, &ctx)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| match m {
                DeviceMessage::Serial(b) => Some(trim_line(&b).to_vec()),
                _ => None,
            })
            .collect();
        Sim {
            profile,
            ctx,
            values,
            init,
            asked_identity: false,
            quiet: false,
        }
    }

    /// Tells what the device did: on stdout, or to the log when quiet.
    fn say(&self, what: std::fmt::Arguments) {
        if self.quiet {
            tracing::debug!("simulated {}: {what}", self.profile.id());
        } else {
            println!("{what}");
        }
    }

    /// Acts on a command; returns what the device sends back, if anything.
    fn act(&mut self, cmd: Command) -> Option<DeviceMessage> {
        match cmd {
            Command::Set { param, value } => {
                self.say(format_args!("set {param} {value}"));
                self.values.insert(param, value);
                None
            }
            Command::Query { param } => {
                let value = self.values.get(&param)?;
                self.say(format_args!("query {param} -> {value}"));
                encode_report(&self.profile, &param, value, &self.ctx).ok()
            }
            Command::Identity => {
                self.say(format_args!("identity"));
                self.asked_identity = true;
                None
            }
            Command::Unknown => None,
        }
    }
}

impl Sim {
    /// A serial command frame: `None` when it is not for this unit (another
    /// address on the bus, unless `last` says nobody else will answer), else
    /// the reply to send, if any.
    fn answer(&mut self, frame: &[u8], last: bool) -> Option<Option<Vec<u8>>> {
        let (p, ctx) = (&self.profile, &self.ctx);
        if self.init.iter().any(|i| i == trim_line(frame)) {
            self.say(format_args!(
                "init {}",
                String::from_utf8_lossy(trim_line(frame))
            ));
            return Some(device::serial::encode_ack(p, ctx));
        }
        let cmd = device::serial::decode_command(p, frame, ctx);
        Some(match cmd {
            Command::Set { .. } => {
                self.act(cmd);
                device::serial::encode_ack(&self.profile, &self.ctx)
            }
            Command::Identity => {
                self.act(cmd);
                device::serial::encode_identity_reply(&self.profile, &self.ctx)
            }
            Command::Query { .. } => match self.act(cmd) {
                Some(DeviceMessage::Serial(b)) => Some(b),
                _ => device::serial::encode_error(&self.profile, &self.ctx),
            },
            // Another unit's command on a shared bus: not ours to answer.
            Command::Unknown if p.serial.as_ref().is_some_and(|s| s.rs485) => {
                return last.then_some(None);
            }
            Command::Unknown if !last => return None,
            Command::Unknown => {
                self.say(format_args!("unknown {:?}", String::from_utf8_lossy(frame)));
                device::serial::encode_error(p, ctx)
            }
        })
    }
}

fn trim_line(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .rposition(|c| *c != b'\r' && *c != b'\n')
        .map_or(0, |i| i + 1);
    &b[..end]
}

/// Runs the simulator until its port closes or the process is stopped.
pub fn main(args: SimulateArgs) -> ExitCode {
    let lib = Library::load(&args.dir);
    let Some(entry) = lib.get(&args.id) else {
        eprintln!("rackd: no profile {:?}", args.id);
        return ExitCode::from(2);
    };
    let profile = (*entry.profile).clone();
    let units: Vec<Sim> = if args.address.is_empty() {
        vec![Sim::new(profile, None)]
    } else {
        args.address
            .iter()
            .map(|a| Sim::new(profile.clone(), Some(*a)))
            .collect()
    };
    let first = |units: Vec<Sim>| units.into_iter().next().expect("one unit");
    let how = args.behaviour();
    let result = match (&args.serial, &args.osc, &args.midi) {
        (Some(path), _, _) => std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))
            .and_then(|port| serial(units, port, &path.display().to_string(), &how)),
        (None, Some(addr), _) if args.tcp => std::net::TcpListener::bind(addr.as_str())
            .map_err(|e| format!("cannot listen on {addr}: {e}"))
            .and_then(|l| osc_tcp(first(units), l, &how)),
        (None, Some(addr), _) => std::net::UdpSocket::bind(addr.as_str())
            .map_err(|e| format!("cannot bind {addr}: {e}"))
            .and_then(|sock| osc(first(units), sock, &how)),
        (None, None, Some(name)) => midi(first(units), name, &args),
        _ => Err("give --serial PTY, --osc ADDR or --midi NAME".to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rackd: {e}");
            ExitCode::from(1)
        }
    }
}

/// Plays a profile's device on an open serial port (or pty end) on a thread
/// of this process, as `rackd demo` does; returns when the port closes.
pub fn spawn_serial(profile: Profile, port: std::fs::File) -> std::thread::JoinHandle<()> {
    let mut sim = Sim::new(profile, None);
    sim.quiet = true;
    let how = Behaviour {
        quiet: true,
        ..Behaviour::default()
    };
    std::thread::spawn(move || {
        if let Err(e) = serial(vec![sim], port, "pty", &how) {
            tracing::warn!("simulated serial device stopped: {e}");
        }
    })
}

/// Plays a profile's OSC device on a bound UDP socket on a thread of this
/// process, as `rackd demo` does.
pub fn spawn_osc(profile: Profile, sock: std::net::UdpSocket) -> std::thread::JoinHandle<()> {
    let mut sim = Sim::new(profile, None);
    sim.quiet = true;
    let how = Behaviour {
        quiet: true,
        ..Behaviour::default()
    };
    std::thread::spawn(move || {
        if let Err(e) = osc(sim, sock, &how) {
            tracing::warn!("simulated OSC device stopped: {e}");
        }
    })
}

fn serial(
    mut units: Vec<Sim>,
    mut port: std::fs::File,
    name: &str,
    args: &Behaviour,
) -> Result<(), String> {
    if units[0].profile.serial.is_none() {
        return Err(format!("{} is not a serial device", units[0].profile.id()));
    }
    if !args.quiet {
        println!(
            "simulating {} on {name}{}",
            units[0].profile.id(),
            if args.silent { " (silent)" } else { "" }
        );
    }
    let mut framer = device::serial::Framer::commands(&units[0].profile, &units[0].ctx);
    let units_len = units.len();
    let mut report = args.report.clone();
    let mut buf = [0u8; 1024];
    loop {
        let n = match port.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // EIO: the other end of the pty went away.
            Err(_) => return Ok(()),
        };
        for frame in framer.push(&buf[..n]) {
            if args.silent {
                continue;
            }
            if args.garbage {
                port.write_all(GARBAGE).map_err(|e| e.to_string())?;
                continue;
            }
            let mut reply = None;
            for (n, sim) in units.iter_mut().enumerate() {
                if let Some(r) = sim.answer(&frame, n + 1 == units_len) {
                    reply = r;
                    if let Some(DeviceMessage::Serial(bytes)) = due_report(sim, &mut report)
                        && let Ok(mut late) = port.try_clone()
                    {
                        send_later(move || {
                            let _ = late.write_all(&bytes);
                        });
                    }
                    break;
                }
            }
            if let Some(bytes) = reply {
                port.write_all(&bytes).map_err(|e| e.to_string())?;
            }
        }
    }
}

fn osc(mut sim: Sim, sock: std::net::UdpSocket, args: &Behaviour) -> Result<(), String> {
    if sim.profile.osc.is_none() {
        return Err(format!("{} is not an OSC device", sim.profile.id()));
    }
    if !args.quiet {
        println!(
            "simulating {} on udp {}{}",
            sim.profile.id(),
            sock.local_addr().map_err(|e| e.to_string())?,
            if args.silent { " (silent)" } else { "" }
        );
    }
    let mut report = args.report.clone();
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = sock.recv_from(&mut buf).map_err(|e| e.to_string())?;
        if args.silent {
            continue;
        }
        if args.garbage {
            let _ = sock.send_to(GARBAGE, from);
            continue;
        }
        let Ok((_, packet)) = rosc::decoder::decode_udp(&buf[..n]) else {
            continue;
        };
        let mut msgs = Vec::new();
        flatten(packet, &mut msgs);
        for msg in msgs {
            if let Some(m) = osc_answer(&mut sim, &msg)
                && let Ok(bytes) = rosc::encoder::encode(&rosc::OscPacket::Message(m))
            {
                let _ = sock.send_to(&bytes, from);
            }
            if let Some(DeviceMessage::Osc(m)) = due_report(&mut sim, &mut report)
                && let Ok(bytes) = rosc::encoder::encode(&rosc::OscPacket::Message(m))
                && let Ok(late) = sock.try_clone()
            {
                send_later(move || {
                    let _ = late.send_to(&bytes, from);
                });
            }
        }
    }
}

fn midi(sim: Sim, name: &str, args: &SimulateArgs) -> Result<(), String> {
    let Some(transport) = sim.profile.midi.clone() else {
        return Err(format!("{} is not a MIDI device", sim.profile.id()));
    };
    serve_midi(sim, transport, name, args).map_err(|e| e.to_string())
}

/// Set by SIGTERM or SIGINT while a MIDI simulator runs.
static STOPPED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_stop(_: libc::c_int) {
    STOPPED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// [`midi`] once the profile is known to be a MIDI device. Stops on SIGTERM
/// or SIGINT by closing its JACK client: a client that dies unclosed holds
/// a synchronous server's shutdown for seconds.
fn serve_midi(
    mut sim: Sim,
    transport: rackd_protocol::profile::MidiTransport,
    name: &str,
    args: &SimulateArgs,
) -> Result<(), crate::outboard::midi::MidiLinkError> {
    let mut port = crate::outboard::midi::JackMidi::open(name, None, None)?;
    let me = port.name();
    println!(
        "simulating {} on jack {me}:in / {me}:out{}",
        sim.profile.id(),
        if args.silent { " (silent)" } else { "" }
    );
    let profile = sim.profile.clone();
    sim.ctx.channel = args.channel - 1;
    let mut decoder = device::midi::MidiDecoder::new(&profile, sim.ctx);
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        for sig in [libc::SIGTERM, libc::SIGINT] {
            libc::signal(sig, on_stop as *const () as libc::sighandler_t);
        }
    }
    loop {
        if port.is_gone() || STOPPED.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        let Some(bytes) = port.try_recv() else {
            std::thread::sleep(std::time::Duration::from_millis(1));
            continue;
        };
        println!("rx {}", device::midi::hex(&bytes));
        if args.silent {
            continue;
        }
        if args.garbage {
            port.send(&[0xF0, 0x00, 0x7F, 0x7F, 0xF7])?;
            continue;
        }
        if device::midi::parse_identity_reply(&bytes).is_none()
            && bytes.len() >= 5
            && bytes[..2] == [0xF0, 0x7E]
            && bytes[3..5] == [0x06, 0x01]
        {
            println!("identity");
            port.send(&device::midi::identity_reply(&transport, sim.ctx.device_id))?;
            continue;
        }
        for cmd in decoder.feed_commands(&bytes) {
            if let Some(DeviceMessage::Midi(reply)) = sim.act(cmd) {
                port.send(&reply)?;
            }
        }
    }
}

/// What the device answers to one OSC message, if anything.
fn osc_answer(sim: &mut Sim, msg: &rosc::OscMessage) -> Option<rosc::OscMessage> {
    match device::osc::decode_command(&sim.profile, msg) {
        Command::Identity => {
            sim.act(Command::Identity);
            device::osc::identity_reply(&sim.profile)
        }
        other => match sim.act(other) {
            Some(DeviceMessage::Osc(m)) => Some(m),
            _ => None,
        },
    }
}

/// An OSC device on TCP: one connection at a time (the host's), SLIP frames.
fn osc_tcp(mut sim: Sim, listener: std::net::TcpListener, args: &Behaviour) -> Result<(), String> {
    use rackd_protocol::osc::framing::{self, FrameDecoder, Framing};
    if sim.profile.osc.is_none() {
        return Err(format!("{} is not an OSC device", sim.profile.id()));
    }
    if !args.quiet {
        println!(
            "simulating {} on tcp {}{}",
            sim.profile.id(),
            listener.local_addr().map_err(|e| e.to_string())?,
            if args.silent { " (silent)" } else { "" }
        );
    }
    let mut report = args.report.clone();
    loop {
        let (mut conn, _) = listener.accept().map_err(|e| e.to_string())?;
        let mut frames = FrameDecoder::new(Framing::Slip, 65536);
        let mut buf = [0u8; 4096];
        'conn: loop {
            let n = match conn.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            frames.push(&buf[..n]);
            while let Some(frame) = frames.next_frame() {
                let Ok(frame) = frame else { continue };
                if args.silent {
                    continue;
                }
                if args.garbage {
                    if conn.write_all(GARBAGE).is_err() {
                        break 'conn;
                    }
                    continue;
                }
                let Ok((_, packet)) = rosc::decoder::decode_udp(&frame) else {
                    continue;
                };
                let mut msgs = Vec::new();
                flatten(packet, &mut msgs);
                for msg in msgs {
                    if let Some(m) = osc_answer(&mut sim, &msg)
                        && let Ok(bytes) = rosc::encoder::encode(&rosc::OscPacket::Message(m))
                        && conn
                            .write_all(&framing::encode(Framing::Slip, &bytes))
                            .is_err()
                    {
                        break 'conn;
                    }
                    // A front-panel move, sent by itself a moment after the
                    // identity query, as on UDP.
                    if let Some(DeviceMessage::Osc(m)) = due_report(&mut sim, &mut report)
                        && let Ok(bytes) = rosc::encoder::encode(&rosc::OscPacket::Message(m))
                        && let Ok(mut late) = conn.try_clone()
                    {
                        send_later(move || {
                            let _ = late.write_all(&framing::encode(Framing::Slip, &bytes));
                        });
                    }
                }
            }
        }
    }
}

fn flatten(p: rosc::OscPacket, out: &mut Vec<rosc::OscMessage>) {
    match p {
        rosc::OscPacket::Message(m) => out.push(m),
        rosc::OscPacket::Bundle(b) => b.content.into_iter().for_each(|p| flatten(p, out)),
    }
}
