//! `rackd ctl`: talks to a running daemon over OSC/TCP (SLIP framing), like
//! any other surface, and prints answers for people. Requests and replies
//! are the typed contract of `rackd_protocol::api`, the server's own.

use super::Failure;
use rackd_protocol::api::{
    DeviceReport, PrintRequest, RecallMode, RecallReport, Reply, Request, address as addr,
};
use rackd_protocol::osc::codec;
use rackd_protocol::osc::framing::{self, FrameDecoder, Framing};
use rackd_protocol::param::Value;
use rosc::{OscMessage, OscPacket, OscType};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

/// What `rackd ctl` can do.
#[derive(clap::Subcommand, Debug)]
pub enum CtlCommand {
    /// Print a parameter's value (OSC patterns allowed: '/chain/*/bypass').
    Get { path: String },
    /// Set a parameter; prints the value actually taken.
    Set {
        path: String,
        /// Number, or enum label.
        #[arg(allow_negative_numbers = true)]
        value: String,
        /// VALUE is a fader position 0..1.
        #[arg(long)]
        norm: bool,
    },
    /// Save the current state as a new revision of SONG.
    Save {
        song: String,
        #[arg(long, default_value = "")]
        note: String,
        /// Leave DEVICE (or DEVICE/PARAM) alone when this snapshot is
        /// recalled, as the config's `safe` does; repeatable.
        #[arg(long, value_name = "DEVICE[/PARAM]")]
        safe: Vec<String>,
    },
    /// Recall SONG's latest revision, or --rev N.
    Recall {
        song: String,
        #[arg(long)]
        rev: Option<u32>,
        /// Send the gear only the values this recall changes (default: every value).
        #[arg(long)]
        changed_only: bool,
    },
    /// Put the rack and the gear back to where they were before the last recall.
    Undo,
    /// List songs (under PREFIX).
    List { prefix: Option<String> },
    /// Revisions of SONG.
    History { song: String },
    /// Differences between two states: SONG, SONG@REV or current.
    Diff { a: String, b: String },
    /// Daemon status: audio, clients, counters (JSON).
    Status,
    /// The parameter tree with units and ranges (JSON).
    Describe,
    /// Write SONG with all revisions to FILE (JSON).
    Export { song: String, file: PathBuf },
    /// Add the revisions in FILE (from export) to this room's store.
    Import { file: PathBuf },
    /// Confirm that a manual device has been set by hand after a recall.
    Confirm { device: String },
    /// Measure the round trip of hardware insert SLOT (test burst out the
    /// send, found on the return); the result is stored and compensated.
    Measure { slot: String },
    /// Show the slots playing, or play SLOT... in that order (others leave the chain).
    Layout { slots: Vec<String> },
    /// Recall SONG, play INPUT through the live chain (analog inserts
    /// included) in real time and write OUTPUT aligned with INPUT. Ctrl-C
    /// cancels. The daemon resolves INPUT in its `[files] input_dirs` and
    /// OUTPUT in its `[files] output_dir` (names there, or absolute paths
    /// inside them).
    Print {
        song: String,
        input: String,
        output: String,
        /// Output sample format: 16, 24 (integer PCM) or 32 (float).
        #[arg(long, default_value_t = 24)]
        bits: u32,
        /// Replace OUTPUT when it exists.
        #[arg(long)]
        overwrite: bool,
    },
    /// The recall sheet of SONG (or SONG@REV): each manual device's front
    /// panel with printed detent labels, marking what differs from now.
    Sheet {
        song: String,
        /// `text` for a terminal, `svg` or `html` to print or show on a tablet.
        #[arg(long, value_enum, default_value_t = SheetFormat::Text)]
        format: SheetFormat,
    },
}

/// How `rackd ctl sheet` draws the sheet.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum SheetFormat {
    /// For a terminal.
    Text,
    /// To print.
    Svg,
    /// For a tablet's browser.
    Html,
}

/// Runs one `rackd ctl` command against the daemon at `connect`.
pub fn run(connect: &str, command: CtlCommand) -> Result<(), Failure> {
    let mut c = Ctl::connect(connect, Duration::from_secs(30))?;
    match command {
        CtlCommand::Get { path } => {
            let request = Request::Param {
                address: path,
                norm: false,
                value: None,
            };
            print_values(&c.request_raw(&request)?);
        }
        CtlCommand::Set { path, value, norm } => {
            let value = if norm {
                Value::Float(value.parse::<f64>().map_err(|_| {
                    Failure::Usage(format!("--norm needs a number 0..1, got {value:?}"))
                })?)
            } else if let Ok(i) = value.parse::<i64>() {
                Value::Int(i)
            } else if let Ok(x) = value.parse::<f64>() {
                Value::Float(x)
            } else {
                Value::Text(value)
            };
            let request = Request::Param {
                address: path,
                norm,
                value: Some(value),
            };
            print_values(&c.request_raw(&request)?);
        }
        CtlCommand::Save { song, note, safe } => {
            let (song, rev) = c.expect(
                &Request::Save {
                    song,
                    note,
                    safes: safe,
                },
                addr::SNAPSHOT_SAVED,
                |r| match r {
                    Reply::Saved { song, rev } => Some((song, rev)),
                    _ => None,
                },
            )?;
            println!("saved {song} revision {rev}");
        }
        CtlCommand::Recall {
            song,
            rev,
            changed_only,
        } => {
            let mode = if changed_only {
                RecallMode::Changed
            } else {
                RecallMode::Full
            };
            let report = c.expect(
                &Request::Recall { song, rev, mode },
                addr::RECALL_REPORT,
                recall_report,
            )?;
            print_recall(&report);
        }
        CtlCommand::Undo => {
            let report = c.expect(&Request::Undo, addr::RECALL_REPORT, recall_report)?;
            print_recall(&report);
        }
        CtlCommand::List { prefix } => {
            let request = Request::List {
                prefix: prefix.unwrap_or_default(),
            };
            let songs = c.expect(&request, addr::SNAPSHOT_LIST, |r| match r {
                Reply::List(songs) => Some(songs),
                _ => None,
            })?;
            for song in songs {
                println!(
                    "{}  (rev {}, {} revisions, {})",
                    song.song, song.latest_rev, song.revisions, song.latest_at
                );
            }
        }
        CtlCommand::History { song } => {
            let history = c.expect(
                &Request::History { song },
                addr::SNAPSHOT_HISTORY,
                |r| match r {
                    Reply::History(revs) => Some(revs),
                    _ => None,
                },
            )?;
            for r in history {
                println!("{:>4}  {}  {:<16}  {}", r.rev, r.saved_at, r.origin, r.note);
            }
        }
        CtlCommand::Diff { a, b } => {
            let request = Request::Diff {
                a: a.clone(),
                b: b.clone(),
            };
            let changes = c.expect(&request, addr::SNAPSHOT_DIFF, |r| match r {
                Reply::Diff(changes) => Some(changes),
                _ => None,
            })?;
            if changes.is_empty() {
                println!("no differences between {a} and {b}");
            }
            let show = |v: &Option<Value>| match v {
                None => "(absent)".to_string(),
                Some(v) => v.to_string(),
            };
            for ch in changes {
                println!(
                    "{}: {} -> {}",
                    ch.address,
                    show(&ch.before),
                    show(&ch.after)
                );
            }
        }
        CtlCommand::Status => {
            let st = c.expect(&Request::Status, addr::STATUS, |r| match r {
                Reply::Status(st) => Some(st),
                _ => None,
            })?;
            println!("{}", serde_json::to_string_pretty(&st).unwrap_or_default());
        }
        CtlCommand::Describe => {
            let d = c.expect(&Request::Describe, addr::DESCRIBE, |r| match r {
                Reply::Describe(d) => Some(d),
                _ => None,
            })?;
            println!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
        }
        CtlCommand::Export { song, file } => {
            let request = Request::Export { song: song.clone() };
            let doc = c.expect(&request, addr::SNAPSHOT_EXPORT, |r| match r {
                Reply::Export(doc) => Some(doc),
                _ => None,
            })?;
            let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
            std::fs::write(&file, text + "\n")
                .map_err(|e| Failure::Runtime(format!("cannot write {}: {e}", file.display())))?;
            println!(
                "exported {song} ({} revisions) to {}",
                doc.revisions.len(),
                file.display()
            );
        }
        CtlCommand::Import { file } => {
            let document = std::fs::read_to_string(&file)
                .map_err(|e| Failure::Invalid(format!("cannot read {}: {e}", file.display())))?;
            let report = c.expect(
                &Request::Import { document },
                addr::SNAPSHOT_IMPORTED,
                |r| match r {
                    Reply::Imported(report) => Some(report),
                    _ => None,
                },
            )?;
            let added: Vec<String> = report.added.iter().map(u32::to_string).collect();
            println!(
                "imported {}: {} revisions added{}, {} already present",
                report.song,
                added.len(),
                if added.is_empty() {
                    String::new()
                } else {
                    format!(" (as {})", added.join(", "))
                },
                report.skipped
            );
        }
        CtlCommand::Confirm { device } => {
            let device = c.expect(
                &Request::Confirm { device },
                addr::RECALL_CONFIRMED,
                |r| match r {
                    Reply::Confirmed { device } => Some(device),
                    _ => None,
                },
            )?;
            println!("confirmed {device}");
        }
        CtlCommand::Sheet { song, format } => {
            let sheet = c.expect(&Request::Sheet { song }, addr::RECALL_SHEET, |r| match r {
                Reply::Sheet(sheet) => Some(sheet),
                _ => None,
            })?;
            use crate::outboard::sheet::{render_html, render_svg, render_text};
            print!(
                "{}",
                match format {
                    SheetFormat::Text => render_text(&sheet),
                    SheetFormat::Svg => render_svg(&sheet),
                    SheetFormat::Html => render_html(&sheet),
                }
            );
        }
        CtlCommand::Measure { slot } => {
            let request = Request::Measure { slot: slot.clone() };
            let m = c.expect(&request, &addr::measured(&slot), |r| match r {
                Reply::Measured { measured, .. } => Some(measured),
                _ => None,
            })?;
            let rate = c
                .expect(&Request::Status, addr::STATUS, |r| match r {
                    Reply::Status(st) => Some(st.sample_rate),
                    _ => None,
                })
                .ok()
                .filter(|r| *r > 0);
            println!(
                "{slot}: round trip {} samples{}; return {} dB{}",
                m.latency,
                rate.map(|r| format!(" ({:.2} ms)", m.latency as f64 * 1000.0 / f64::from(r)))
                    .unwrap_or_default(),
                m.gain_db,
                if m.inverted {
                    format!("; the return is INVERTED (set /chain/{slot}/invert 1 to correct)")
                } else {
                    String::new()
                }
            );
            println!(
                "stored as /chain/{slot}/latency; the dry path and what follows are aligned to it"
            );
        }
        CtlCommand::Layout { slots } => {
            let request = Request::Layout {
                slots: (!slots.is_empty()).then_some(slots),
            };
            let ids = c.expect(&request, addr::CHAIN_LAYOUT, |r| match r {
                Reply::Layout(ids) => Some(ids),
                _ => None,
            })?;
            println!(
                "{}",
                if ids.is_empty() {
                    "(no slots playing)".into()
                } else {
                    ids.join(" > ")
                }
            );
        }
        CtlCommand::Print {
            song,
            input,
            output,
            bits,
            overwrite,
        } => print(
            &mut c,
            PrintRequest {
                song,
                input,
                output,
                bits,
                overwrite,
            },
        )?,
    }
    Ok(())
}

fn recall_report(r: Reply) -> Option<RecallReport> {
    match r {
        Reply::RecallReport(report) => Some(report),
        _ => None,
    }
}

/// Prints parameter replies as `address value...`.
fn print_values(replies: &[OscMessage]) {
    for m in replies {
        println!(
            "{} {}",
            m.addr,
            m.args.iter().map(show_arg).collect::<Vec<_>>().join(" ")
        );
    }
}

/// Set by SIGINT while `rackd ctl print` runs: cancel the print.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// `rackd ctl print`: starts the print, shows progress, cancels on Ctrl-C.
fn print(c: &mut Ctl, request: PrintRequest) -> Result<(), Failure> {
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_interrupt as *const () as libc::sighandler_t,
        );
    }
    let (song, input) = (request.song.clone(), request.input.clone());
    c.send(&Request::Print(request))?;
    let mut cancel_sent = false;
    let mut last_shown = -1i32;
    loop {
        if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) && !cancel_sent {
            eprintln!("\ncancelling the print...");
            c.send(&Request::PrintCancel)?;
            cancel_sent = true;
        }
        let Some(m) = c.next_message(Duration::from_millis(200))? else {
            continue;
        };
        match Reply::parse(&m) {
            Ok(Reply::PrintStarted { .. }) => eprintln!("recalling {song} and printing {input}"),
            Ok(Reply::PrintProgress { fraction, .. }) => {
                let pct = (fraction * 100.0) as i32;
                if pct / 5 != last_shown / 5 {
                    eprintln!("printing: {pct}%");
                    last_shown = pct;
                }
            }
            Ok(Reply::PrintDone(r)) => {
                println!(
                    "printed {}@{} to {}: {} frames at {} Hz, {} samples of chain latency removed",
                    r.song, r.rev, r.output, r.frames, r.sample_rate, r.latency
                );
                print_devices(&r.devices);
                return Ok(());
            }
            // Nothing to cancel (yet or any more); the print's own end follows.
            Ok(Reply::Error { address, .. }) if address == addr::PRINT_CANCEL => {}
            Ok(Reply::Error { message, .. }) => {
                return Err(if cancel_sent {
                    Failure::Runtime(message)
                } else {
                    Failure::Invalid(message)
                });
            }
            _ => {}
        }
    }
}

fn print_devices(devices: &[DeviceReport]) {
    for d in devices {
        println!("  {}: {}", d.device, d.outcome);
    }
}

/// Prints a recall report: totals, one line per device, what was skipped.
fn print_recall(report: &RecallReport) {
    if report.is_undo() {
        println!(
            "undid the last recall: {} values changed back",
            report.changed
        );
    } else {
        println!(
            "recalled {}@{}: {} values changed, {} already right",
            report.song, report.rev, report.changed, report.unchanged
        );
    }
    print_devices(&report.devices);
    if !report.skipped.is_empty() {
        println!("not on this rack (skipped): {}", report.skipped.join(", "));
    }
    if !report.refused.is_empty() {
        println!(
            "refused by this rack (left as they were): {}",
            report.refused.join("; ")
        );
    }
}

/// A TCP connection to the daemon.
pub struct Ctl {
    stream: TcpStream,
    decoder: FrameDecoder,
    next_ping: i32,
}

impl Ctl {
    /// Connects to `addr` (`HOST:PORT`).
    pub fn connect(addr: &str, timeout: Duration) -> Result<Ctl, Failure> {
        use std::net::ToSocketAddrs;
        let target = addr
            .to_socket_addrs()
            .map_err(|e| Failure::Usage(format!("--connect {addr}: {e}")))?
            .next()
            .ok_or_else(|| Failure::Usage(format!("--connect {addr}: no address")))?;
        let stream = TcpStream::connect_timeout(&target, Duration::from_secs(3)).map_err(|e| {
            Failure::Runtime(format!(
                "cannot reach rackd at {addr}: {e} (is the daemon running?)"
            ))
        })?;
        stream.set_read_timeout(Some(timeout)).ok();
        stream.set_nodelay(true).ok();
        Ok(Ctl {
            stream,
            decoder: FrameDecoder::new(Framing::Slip, codec::MAX_STREAM_PACKET),
            next_ping: 1,
        })
    }

    /// Sends one request without waiting for anything.
    pub fn send(&mut self, request: &Request) -> Result<(), Failure> {
        let packet = OscPacket::Message(request.to_message());
        let bytes = framing::encode(Framing::Slip, &codec::encode(&packet));
        self.stream
            .write_all(&bytes)
            .map_err(|e| Failure::Runtime(format!("sending to rackd failed: {e}")))
    }

    fn receive(&mut self) -> Result<OscMessage, Failure> {
        loop {
            if let Some(m) = self.try_receive(false)? {
                return Ok(m);
            }
        }
    }

    /// One message; `None` when a signal (Ctrl-C) interrupted the read, or,
    /// if `quiet_timeout`, when the read timed out.
    fn try_receive(&mut self, quiet_timeout: bool) -> Result<Option<OscMessage>, Failure> {
        use std::io::ErrorKind::{Interrupted, TimedOut, WouldBlock};
        let mut buf = [0u8; 16_384];
        loop {
            if let Some(frame) = self.decoder.next_frame() {
                let frame =
                    frame.map_err(|e| Failure::Runtime(format!("bad reply from rackd: {e}")))?;
                match codec::decode_with_limit(&frame, codec::MAX_STREAM_PACKET) {
                    Ok(OscPacket::Message(m)) => return Ok(Some(m)),
                    Ok(OscPacket::Bundle(_)) => continue,
                    Err(e) => return Err(Failure::Runtime(format!("bad reply from rackd: {e}"))),
                }
            }
            let n = match self.stream.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == Interrupted => return Ok(None),
                Err(e) if quiet_timeout && matches!(e.kind(), TimedOut | WouldBlock) => {
                    return Ok(None);
                }
                Err(e) => return Err(Failure::Runtime(format!("no answer from rackd: {e}"))),
            };
            if n == 0 {
                return Err(Failure::Runtime("rackd closed the connection".into()));
            }
            self.decoder.push(&buf[..n]);
        }
    }

    /// The next message from the daemon, or `None` when nothing came within
    /// `wait` or a signal interrupted the wait.
    pub fn next_message(&mut self, wait: Duration) -> Result<Option<OscMessage>, Failure> {
        self.stream.set_read_timeout(Some(wait)).ok();
        let result = self.try_receive(true);
        self.stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .ok();
        result
    }

    /// Sends a request and returns every reply up to the end marker (a ping
    /// we send right after; replies on one connection keep their order). A
    /// `/rackd/error` reply becomes an invalid-input failure.
    pub fn request_raw(&mut self, request: &Request) -> Result<Vec<OscMessage>, Failure> {
        self.send(request)?;
        let token = self.next_ping;
        self.next_ping += 1;
        self.send(&Request::Ping {
            args: vec![OscType::Int(token)],
        })?;
        let mut replies = Vec::new();
        let mut error = None;
        loop {
            let m = match self.receive() {
                Ok(m) => m,
                // Refused (no room, idle): the daemon said why before closing.
                Err(Failure::Runtime(closed)) => {
                    return Err(Failure::Runtime(error.unwrap_or(closed)));
                }
                Err(f) => return Err(f),
            };
            match Reply::parse(&m) {
                Ok(Reply::Pong(args)) if args.first() == Some(&OscType::Int(token)) => break,
                Ok(Reply::Error { message, .. }) => {
                    error.get_or_insert(message);
                }
                _ => replies.push(m),
            }
        }
        match error {
            Some(e) => Err(Failure::Invalid(e)),
            None => Ok(replies),
        }
    }

    /// A request whose answer is one reply at `reply_address` that `pick`
    /// takes apart.
    pub fn expect<T>(
        &mut self,
        request: &Request,
        reply_address: &str,
        pick: impl Fn(Reply) -> Option<T>,
    ) -> Result<T, Failure> {
        let replies = self.request_raw(request)?;
        let m = replies
            .iter()
            .find(|m| m.addr == reply_address)
            .ok_or_else(|| Failure::Runtime(format!("rackd sent no {reply_address} reply")))?;
        let reply = Reply::parse(m).map_err(|e| Failure::Runtime(format!("rackd: {e}")))?;
        pick(reply).ok_or_else(|| Failure::Runtime(format!("rackd sent no {reply_address} reply")))
    }
}

/// Formats one OSC argument for people.
pub fn show_arg(a: &OscType) -> String {
    match a {
        OscType::Float(x) => format!("{x}"),
        OscType::Double(x) => format!("{x}"),
        OscType::Int(i) => format!("{i}"),
        OscType::Long(i) => format!("{i}"),
        OscType::String(s) => s.clone(),
        other => format!("{other:?}"),
    }
}
