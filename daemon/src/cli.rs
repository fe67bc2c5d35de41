//! The `rackd` command line: `run`, `demo`, `check`, `ctl`, `analyze`.
//! Exit codes: 0 ok, 1 runtime failure, 2 usage or invalid input.

use crate::config::{self, Config};
use crate::ctl::{Ctl, show_arg};
use clap::{Parser, Subcommand};
use rosc::OscType;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The rack machine's daemon: recall, routing, real-time DSP, snapshots, OSC surfaces.
#[derive(Parser, Debug)]
#[command(name = "rackd", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the daemon in the foreground (what systemd runs).
    Run {
        /// Config file.
        #[arg(long, default_value = config::DEFAULT_PATH)]
        config: PathBuf,
    },
    /// Run the daemon on the built-in demo rack, state in a temporary directory.
    Demo {
        /// OSC UDP+TCP port.
        #[arg(long, default_value_t = 7770)]
        osc_port: u16,
        /// Keep state here instead of a temporary directory.
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Use the null backend even when a JACK server runs.
        #[arg(long)]
        no_jack: bool,
    },
    /// Validate a config file; prints every error as file:line: message.
    Check {
        /// Config file.
        #[arg(long, default_value = config::DEFAULT_PATH)]
        config: PathBuf,
    },
    /// Talk to a running daemon.
    Ctl {
        /// Daemon address.
        #[arg(long, default_value = "127.0.0.1:7770", env = "RACKD_CONNECT")]
        connect: String,
        #[command(subcommand)]
        command: CtlCommand,
    },
    /// Hardware profiles: list, show, check files, simulate a device.
    Profile {
        #[command(subcommand)]
        command: crate::profile_cmd::ProfileCommand,
    },
    /// Measure loudness, true peak and mix problems of audio files (WAV, FLAC, AIFF).
    Analyze(crate::analyze::AnalyzeArgs),
    /// Run a file through the chain as a snapshot sets it, as fast as possible (WAV out).
    Render(crate::render::RenderArgs),
    /// Album deliverables: Red Book check, DDP, cue/bin, TOC, PQ sheet.
    Album {
        #[command(subcommand)]
        command: crate::album_cmd::AlbumCommand,
    },
    /// Read, verify or extract a DDP image.
    Ddp {
        #[command(subcommand)]
        command: crate::ddp_cmd::DdpCommand,
    },
}

#[derive(Subcommand, Debug)]
enum CtlCommand {
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
    /// included) in real time and write OUTPUT aligned with INPUT. Ctrl-C cancels.
    Print {
        song: String,
        input: PathBuf,
        output: PathBuf,
        /// Output sample format: 16, 24 (integer PCM) or 32 (float).
        #[arg(long, default_value_t = 24)]
        bits: u32,
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
enum SheetFormat {
    Text,
    Svg,
    Html,
}

/// Why a command failed, and so its exit code.
#[derive(Debug)]
pub enum Failure {
    /// Exit 1: something at run time (daemon unreachable, I/O).
    Runtime(String),
    /// Exit 2: bad usage.
    Usage(String),
    /// Exit 2: the input was refused.
    Invalid(String),
}

impl Failure {
    /// Prints the message to stderr and gives the exit code.
    pub fn exit(self) -> ExitCode {
        match self {
            Failure::Runtime(m) => {
                eprintln!("rackd: {m}");
                ExitCode::from(1)
            }
            Failure::Usage(m) | Failure::Invalid(m) => {
                eprintln!("rackd: {m}");
                ExitCode::from(2)
            }
        }
    }
}

/// Parses arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config } => match load_checked(&config) {
            Ok((cfg, _)) => daemon(cfg),
            Err(errors) => {
                eprintln!("{errors}");
                ExitCode::from(2)
            }
        },
        Command::Demo {
            osc_port,
            state_dir,
            no_jack,
        } => demo(osc_port, state_dir, no_jack),
        Command::Check { config } => match load_checked(&config) {
            Ok((cfg, devices)) => {
                println!(
                    "{}: ok ({} chain slots, {} outboard devices, OSC on {}, backend {:?})",
                    config.display(),
                    cfg.chain.len(),
                    devices.len(),
                    cfg.osc.listen,
                    cfg.audio.backend
                );
                ExitCode::SUCCESS
            }
            Err(errors) => {
                eprintln!("{errors}");
                ExitCode::from(2)
            }
        },
        Command::Ctl { connect, command } => match ctl(&connect, command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(f) => f.exit(),
        },
        Command::Profile { command } => crate::profile_cmd::main(command),
        Command::Album { command } => crate::album_cmd::main(command),
        Command::Ddp { command } => crate::ddp_cmd::main(command),
        Command::Render(args) => match crate::render::run(&args) {
            Ok(r) => {
                println!(
                    "rendered {} through {} -> {} ({} frames at {} Hz; {} samples of chain latency removed)",
                    args.input.display(),
                    r.snapshot,
                    args.output.display(),
                    r.frames,
                    r.sample_rate,
                    r.latency
                );
                ExitCode::SUCCESS
            }
            Err(f) => f.exit(),
        },
        Command::Analyze(args) => match crate::analyze::run(&args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("rackd analyze: {e:#}");
                ExitCode::from(1)
            }
        },
    }
}

/// The config and its devices resolved against the profile library; config
/// and profile errors together.
fn load_checked(
    path: &std::path::Path,
) -> Result<(Config, Vec<crate::profiles::Device>), config::ConfigErrors> {
    let (cfg, mut errors) = Config::load_partial(path);
    let devices = match &cfg {
        Some(cfg) => crate::profiles::load_rack(cfg).unwrap_or_else(|e| {
            errors.extend(e.0);
            Vec::new()
        }),
        None => Vec::new(),
    };
    match cfg {
        Some(cfg) if errors.is_empty() => Ok((cfg, devices)),
        _ => Err(config::ConfigErrors(errors)),
    }
}

fn daemon(cfg: Config) -> ExitCode {
    let log = crate::logging::init(&cfg.daemon.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return Failure::Runtime(format!("cannot start the runtime: {e}")).exit(),
    };
    match runtime.block_on(crate::run::run(cfg, log)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("rackd: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn demo(osc_port: u16, state_dir: Option<PathBuf>, no_jack: bool) -> ExitCode {
    let (dir, _keep) = match state_dir {
        Some(d) => (d, None),
        None => match tempfile::Builder::new().prefix("rackd-demo-").tempdir() {
            Ok(t) => (t.path().to_path_buf(), Some(t)),
            Err(e) => {
                return Failure::Runtime(format!("cannot make a temporary state dir: {e}")).exit();
            }
        },
    };
    let mut cfg = match Config::demo(osc_port, &dir) {
        Ok(c) => c,
        Err(e) => return Failure::Runtime(format!("{e:#}")).exit(),
    };
    let jack = !no_jack && crate::engine::jack::server_running();
    if !jack {
        cfg.audio.backend = config::BackendKind::Null;
    }
    let outboard = match crate::demo::start() {
        Ok(r) => r,
        Err(e) => {
            return Failure::Runtime(format!("cannot start the demo's devices: {e:#}")).exit();
        }
    };
    cfg.devices = outboard.devices.clone();
    println!("rackd demo");
    println!(
        "  audio:   {}",
        if jack {
            "JACK (client rackd-demo: in_l/in_r -> out_l/out_r)"
        } else {
            "null backend (no JACK server running), 1 kHz test tone at -18 dBFS"
        }
    );
    println!("  state:   {}", dir.display());
    println!("  outboard (simulated inside this process):");
    for line in &outboard.banner {
        println!("           {line}");
    }
    println!("  surface: point TouchOSC / Open Stage Control at udp or tcp 127.0.0.1:{osc_port}");
    println!("  try:     oscdump 9999 &  oscsend localhost {osc_port} /rackd/subscribe i 9999");
    println!("           oscsend localhost {osc_port} /chain/trim/gain f -3.5");
    println!("           rackd ctl describe | rackd ctl save \"client/album/01 intro\"");
    println!(
        "           rackd ctl set /outboard/eq/low_gain 3 && rackd ctl recall \"client/album/01 intro\""
    );
    println!("           rackd ctl sheet \"client/album/01 intro\"");
    println!("           rackd ctl layout trim limiter meter");
    println!(
        "           rackd ctl print \"client/album/01 intro\" mix.wav master.wav   (plays mix.wav through the chain in real time)"
    );
    daemon(cfg)
}

fn ctl(connect: &str, command: CtlCommand) -> Result<(), Failure> {
    let timeout = Duration::from_secs(30);
    let mut c = Ctl::connect(connect, timeout)?;
    let s = |x: &str| OscType::String(x.to_string());
    match command {
        CtlCommand::Get { path } => {
            for m in c.request(&path, vec![])? {
                println!(
                    "{} {}",
                    m.addr,
                    m.args.iter().map(show_arg).collect::<Vec<_>>().join(" ")
                );
            }
        }
        CtlCommand::Set { path, value, norm } => {
            let arg = if norm {
                OscType::Float(value.parse::<f32>().map_err(|_| {
                    Failure::Usage(format!("--norm needs a number 0..1, got {value:?}"))
                })?)
            } else if let Ok(i) = value.parse::<i32>() {
                OscType::Int(i)
            } else if let Ok(x) = value.parse::<f32>() {
                OscType::Float(x)
            } else {
                s(&value)
            };
            let address = if norm { format!("{path}/norm") } else { path };
            for m in c.request(&address, vec![arg])? {
                println!(
                    "{} {}",
                    m.addr,
                    m.args.iter().map(show_arg).collect::<Vec<_>>().join(" ")
                );
            }
        }
        CtlCommand::Save { song, note, safe } => {
            let args = [song.as_str(), note.as_str()]
                .into_iter()
                .chain(safe.iter().map(String::as_str))
                .map(s)
                .collect();
            let replies = c.request("/rackd/snapshot/save", args)?;
            let saved = replies
                .iter()
                .find(|m| m.addr == "/rackd/snapshot/saved")
                .ok_or_else(|| Failure::Runtime("no /rackd/snapshot/saved reply".into()))?;
            println!(
                "saved {} revision {}",
                show_arg(&saved.args[0]),
                show_arg(&saved.args[1])
            );
        }
        CtlCommand::Recall {
            song,
            rev,
            changed_only,
        } => {
            let mut args = vec![s(&song)];
            if let Some(r) = rev {
                args.push(OscType::Int(r as i32));
            }
            if changed_only {
                args.push(s("changed"));
            }
            let report = c.request_json("/rackd/snapshot/recall", args, "/rackd/recall/report")?;
            print_recall(&report);
        }
        CtlCommand::Undo => {
            let report = c.request_json("/rackd/recall/undo", vec![], "/rackd/recall/report")?;
            print_recall(&report);
        }
        CtlCommand::List { prefix } => {
            let songs = c.request_json(
                "/rackd/snapshot/list",
                vec![s(prefix.as_deref().unwrap_or(""))],
                "/rackd/snapshot/list",
            )?;
            for song in songs.as_array().into_iter().flatten() {
                println!(
                    "{}  (rev {}, {} revisions, {})",
                    song["song"].as_str().unwrap_or("?"),
                    song["latest_rev"],
                    song["revisions"],
                    song["latest_at"].as_str().unwrap_or("?")
                );
            }
        }
        CtlCommand::History { song } => {
            let history = c.request_json(
                "/rackd/snapshot/history",
                vec![s(&song)],
                "/rackd/snapshot/history",
            )?;
            for r in history.as_array().into_iter().flatten() {
                println!(
                    "{:>4}  {}  {:<16}  {}",
                    r["rev"],
                    r["saved_at"].as_str().unwrap_or("?"),
                    r["origin"].as_str().unwrap_or(""),
                    r["note"].as_str().unwrap_or("")
                );
            }
        }
        CtlCommand::Diff { a, b } => {
            let diff = c.request_json(
                "/rackd/snapshot/diff",
                vec![s(&a), s(&b)],
                "/rackd/snapshot/diff",
            )?;
            let changes = diff.as_array().cloned().unwrap_or_default();
            if changes.is_empty() {
                println!("no differences between {a} and {b}");
            }
            for ch in changes {
                let show = |v: &serde_json::Value| {
                    if v.is_null() {
                        "(absent)".to_string()
                    } else {
                        v.to_string().trim_matches('"').to_string()
                    }
                };
                println!(
                    "{}: {} -> {}",
                    ch["address"].as_str().unwrap_or("?"),
                    show(&ch["before"]),
                    show(&ch["after"])
                );
            }
        }
        CtlCommand::Status => {
            let st = c.request_json("/rackd/status", vec![], "/rackd/status")?;
            println!("{}", serde_json::to_string_pretty(&st).unwrap_or_default());
        }
        CtlCommand::Describe => {
            let d = c.request_json("/rackd/describe", vec![], "/rackd/describe")?;
            println!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
        }
        CtlCommand::Export { song, file } => {
            let doc = c.request_json(
                "/rackd/snapshot/export",
                vec![s(&song)],
                "/rackd/snapshot/export",
            )?;
            let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
            std::fs::write(&file, text + "\n")
                .map_err(|e| Failure::Runtime(format!("cannot write {}: {e}", file.display())))?;
            println!(
                "exported {song} ({} revisions) to {}",
                doc["revisions"].as_array().map_or(0, Vec::len),
                file.display()
            );
        }
        CtlCommand::Confirm { device } => {
            let replies = c.request("/rackd/recall/confirm", vec![s(&device)])?;
            if !replies.iter().any(|m| m.addr == "/rackd/recall/confirmed") {
                return Err(Failure::Runtime("no /rackd/recall/confirmed reply".into()));
            }
            println!("confirmed {device}");
        }
        CtlCommand::Sheet { song, format } => {
            let sheet =
                c.request_json("/rackd/recall/sheet", vec![s(&song)], "/rackd/recall/sheet")?;
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
            let replies = c.request(&format!("/chain/{slot}/measure"), vec![])?;
            let m = replies
                .iter()
                .find(|m| m.addr.ends_with("/measured"))
                .ok_or_else(|| Failure::Runtime("rackd sent no measurement".into()))?;
            let arg = |i: usize| m.args.get(i).map(show_arg).unwrap_or_default();
            let samples: f64 = arg(0).parse().unwrap_or(0.0);
            let rate = c
                .request_json("/rackd/status", vec![], "/rackd/status")
                .ok()
                .and_then(|st| st["sample_rate"].as_f64())
                .filter(|r| *r > 0.0);
            println!(
                "{slot}: round trip {samples} samples{}; return {} dB{}",
                rate.map(|r| format!(" ({:.2} ms)", samples * 1000.0 / r))
                    .unwrap_or_default(),
                arg(2),
                if arg(1) == "1" {
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
            let args = slots.iter().map(|x| s(x)).collect();
            let replies = c.request("/rackd/chain/layout", args)?;
            let m = replies
                .iter()
                .find(|m| m.addr == "/rackd/chain/layout")
                .ok_or_else(|| Failure::Runtime("rackd sent no layout".into()))?;
            let ids: Vec<String> = m.args.iter().map(show_arg).collect();
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
        } => print(&mut c, &song, &input, &output, bits)?,
        CtlCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Failure::Invalid(format!("cannot read {}: {e}", file.display())))?;
            let report = c.request_json(
                "/rackd/snapshot/import",
                vec![s(&text)],
                "/rackd/snapshot/imported",
            )?;
            let added: Vec<String> = report["added"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| r.to_string())
                .collect();
            println!(
                "imported {}: {} revisions added{}, {} already present",
                report["song"].as_str().unwrap_or("?"),
                added.len(),
                if added.is_empty() {
                    String::new()
                } else {
                    format!(" (as {})", added.join(", "))
                },
                report["skipped"]
            );
        }
    }
    Ok(())
}

/// Set by SIGINT while `rackd ctl print` runs: cancel the print.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// `rackd ctl print`: starts the print, shows progress, cancels on Ctrl-C.
fn print(
    c: &mut Ctl,
    song: &str,
    input: &std::path::Path,
    output: &std::path::Path,
    bits: u32,
) -> Result<(), Failure> {
    // The daemon opens the files: give it absolute paths.
    let absolute = |p: &std::path::Path| {
        std::path::absolute(p)
            .map(|p| p.display().to_string())
            .map_err(|e| Failure::Usage(format!("{}: {e}", p.display())))
    };
    let (input, output) = (absolute(input)?, absolute(output)?);
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_interrupt as *const () as libc::sighandler_t,
        );
    }
    let s = |x: &str| OscType::String(x.to_string());
    c.send(
        "/rackd/print",
        vec![s(song), s(&input), s(&output), OscType::Int(bits as i32)],
    )?;
    let mut cancel_sent = false;
    let mut last_shown = -1i32;
    loop {
        if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) && !cancel_sent {
            eprintln!("\ncancelling the print...");
            c.send("/rackd/print/cancel", vec![])?;
            cancel_sent = true;
        }
        let Some(m) = c.next_message(Duration::from_millis(200))? else {
            continue;
        };
        match m.addr.as_str() {
            "/rackd/print/started" => eprintln!("recalling {song} and printing {input}"),
            "/rackd/print/progress" => {
                let f = match m.args.get(1) {
                    Some(OscType::Float(f)) => *f,
                    _ => 0.0,
                };
                let pct = (f * 100.0) as i32;
                if pct / 5 != last_shown / 5 {
                    eprintln!("printing: {pct}%");
                    last_shown = pct;
                }
            }
            "/rackd/print/done" => {
                let text = m.args.first().map(show_arg).unwrap_or_default();
                let r: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| Failure::Runtime(format!("bad JSON from rackd: {e}")))?;
                println!(
                    "printed {}@{} to {}: {} frames at {} Hz, {} samples of chain latency removed",
                    r["song"].as_str().unwrap_or("?"),
                    r["rev"],
                    r["output"].as_str().unwrap_or("?"),
                    r["frames"],
                    r["sample_rate"],
                    r["latency"]
                );
                for d in r["devices"].as_array().into_iter().flatten() {
                    println!(
                        "  {}: {}",
                        d["device"].as_str().unwrap_or("?"),
                        d["result"].as_str().unwrap_or("?")
                    );
                }
                return Ok(());
            }
            "/rackd/error" => {
                let text = m.args.get(1).map(show_arg).unwrap_or_default();
                let from = m.args.first().map(show_arg).unwrap_or_default();
                if from == "/rackd/print/cancel" {
                    // Nothing to cancel (yet or any more); the print's own end follows.
                    continue;
                }
                return Err(if cancel_sent {
                    Failure::Runtime(text)
                } else {
                    Failure::Invalid(text)
                });
            }
            _ => {}
        }
    }
}

/// Prints a recall report: totals, one line per device, what was skipped.
fn print_recall(report: &serde_json::Value) {
    if report["rev"] == 0 {
        println!(
            "undid the last recall: {} values changed back",
            report["changed"]
        );
    } else {
        println!(
            "recalled {}@{}: {} values changed, {} already right",
            report["song"].as_str().unwrap_or("?"),
            report["rev"],
            report["changed"],
            report["unchanged"]
        );
    }
    for d in report["devices"].as_array().into_iter().flatten() {
        println!(
            "  {}: {}",
            d["device"].as_str().unwrap_or("?"),
            d["result"].as_str().unwrap_or("?")
        );
    }
    if let Some(skipped) = report["skipped"].as_array().filter(|s| !s.is_empty()) {
        println!(
            "not on this rack (skipped): {}",
            skipped
                .iter()
                .map(|v| v.as_str().unwrap_or("?"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}
