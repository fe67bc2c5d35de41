//! The `rackd` command line, one file per command: `run`, `demo`, `check`,
//! `ctl`, `profile` (and `profile simulate`), `analyze`, `render`, `album`,
//! `ddp`, `surface`.
//! Exit codes: 0 ok, 1 runtime failure, 2 usage or invalid input.

pub mod album;
pub mod analyze;
pub mod check;
pub mod ctl;
pub mod ddp;
pub mod demo;
pub mod profile;
pub mod render;
pub mod run;
pub mod simulate;
pub mod surface;

use crate::config;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

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
        /// HTTP port of the engineer's page (/ui/) and OSCQuery (loopback).
        #[arg(long, default_value_t = 7771)]
        http_port: u16,
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
        command: ctl::CtlCommand,
    },
    /// Hardware profiles: list, show, check files, simulate a device.
    Profile {
        #[command(subcommand)]
        command: profile::ProfileCommand,
    },
    /// Measure loudness, true peak and mix problems of audio files (WAV, FLAC, AIFF).
    Analyze(analyze::AnalyzeArgs),
    /// Run a file through the chain as a snapshot sets it, as fast as possible (WAV out).
    Render(render::RenderArgs),
    /// Album deliverables: Red Book check, DDP, cue/bin, TOC, PQ sheet.
    Album {
        #[command(subcommand)]
        command: album::AlbumCommand,
    },
    /// Read, verify or extract a DDP image.
    Ddp {
        #[command(subcommand)]
        command: ddp::DdpCommand,
    },
    /// Tablet layouts for the rack: Open Stage Control, TouchOSC.
    Surface {
        #[command(subcommand)]
        command: surface::SurfaceCommand,
    },
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
        Command::Run { config } => run::run(&config),
        Command::Demo {
            osc_port,
            http_port,
            state_dir,
            no_jack,
        } => demo::run(osc_port, http_port, state_dir, no_jack),
        Command::Check { config } => check::run(&config),
        Command::Ctl { connect, command } => match ctl::run(&connect, command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(f) => f.exit(),
        },
        Command::Profile { command } => profile::main(command),
        Command::Render(args) => render::main(&args),
        Command::Album { command } => album::main(command),
        Command::Ddp { command } => ddp::main(command),
        Command::Surface { command } => surface::main(command),
        Command::Analyze(args) => match analyze::run(&args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("rackd analyze: {e:#}");
                ExitCode::from(1)
            }
        },
    }
}
