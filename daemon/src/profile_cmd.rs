//! `rackd profile list | show ID | check FILE...`: the hardware-profile
//! library from the command line, for profile authors and admins.

use crate::profiles::Library;
use clap::Subcommand;
use rackd_protocol::device::has_readback;
use rackd_protocol::param::ParamKind;
use rackd_protocol::profile::{Profile, load_profile};
use std::path::PathBuf;
use std::process::ExitCode;

/// `rackd profile ...`.
#[derive(Subcommand, Debug)]
pub enum ProfileCommand {
    /// Every profile rackd knows: shipped, installed and local.
    List {
        /// Also search this directory (like `daemon.profile_dirs`).
        #[arg(long)]
        dir: Vec<PathBuf>,
    },
    /// One profile's identity, transport, pacing and parameters.
    Show {
        id: String,
        /// Also search this directory.
        #[arg(long)]
        dir: Vec<PathBuf>,
    },
    /// Validate profile files; prints every error as file:line: message.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Play a device's side from its profile (serial pty or OSC address).
    Simulate(crate::simulate::SimulateArgs),
}

/// Runs a `rackd profile` command; exit 0 ok, 1 runtime failure, 2 invalid input.
pub fn main(command: ProfileCommand) -> ExitCode {
    match command {
        ProfileCommand::List { dir } => {
            let lib = Library::load(&dir);
            for e in lib.iter() {
                let p = &e.profile;
                println!(
                    "{:<32} {:<7} {} {} — {}{}",
                    p.id(),
                    format!("{:?}", p.transport()).to_lowercase(),
                    p.device.vendor,
                    p.device.model,
                    p.device.description,
                    if e.origin == "built-in" {
                        String::new()
                    } else {
                        format!(" ({})", e.origin)
                    }
                );
            }
            for e in lib.broken() {
                eprintln!("{e}");
            }
            ExitCode::SUCCESS
        }
        ProfileCommand::Show { id, dir } => {
            let lib = Library::load(&dir);
            match lib.get(&id) {
                Some(e) => {
                    print!("{}", show(&e.profile, &e.origin));
                    ExitCode::SUCCESS
                }
                None => {
                    match lib.errors_of(&id) {
                        Some(errs) => errs.iter().for_each(|e| eprintln!("{e}")),
                        None => eprintln!(
                            "rackd: no profile {id:?}; `rackd profile list` shows the known ones"
                        ),
                    }
                    ExitCode::from(2)
                }
            }
        }
        ProfileCommand::Check { files } => {
            let mut failed = false;
            for f in &files {
                let shown = f.display().to_string();
                match std::fs::read_to_string(f) {
                    Err(e) => {
                        eprintln!("{shown}: cannot read the file: {e}");
                        failed = true;
                    }
                    Ok(text) => match load_profile(&text, &shown) {
                        Ok(p) => println!(
                            "{shown}: ok ({}, {}, {} parameters)",
                            p.id(),
                            format!("{:?}", p.transport()).to_lowercase(),
                            p.params.len()
                        ),
                        Err(errs) => {
                            errs.iter().for_each(|e| eprintln!("{e}"));
                            failed = true;
                        }
                    },
                }
            }
            if failed {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        ProfileCommand::Simulate(args) => crate::simulate::main(args),
    }
}

/// The text `rackd profile show` prints.
pub fn show(p: &Profile, origin: &str) -> String {
    let d = &p.device;
    let mut out = format!("{} — {} {} ({:?})\n", p.id(), d.vendor, d.model, d.kind);
    if !d.description.is_empty() {
        out += &format!("  {}\n", d.description);
    }
    out += &format!(
        "  source: {}{}\n",
        d.source.title,
        d.source
            .url
            .as_ref()
            .map(|u| format!(" <{u}>"))
            .unwrap_or_default()
    );
    out += &format!("  file: {origin}\n");
    out += &format!(
        "  transport: {}",
        format!("{:?}", p.transport()).to_lowercase()
    );
    if let Some(s) = &p.serial {
        out += &format!(" ({} baud {}, {:?})", s.baud, s.frame, s.format);
    }
    if let Some(o) = &p.osc {
        out += &format!(" ({:?}, port {})", o.protocol, o.port);
    }
    out += "\n";
    let pc = &p.pacing;
    out += &format!(
        "  pacing: min interval {} ms, max {} msg/s, wait for ack: {}\n",
        pc.min_interval_ms,
        if pc.max_per_second == 0 {
            "unlimited".to_string()
        } else {
            pc.max_per_second.to_string()
        },
        if pc.wait_ack { "yes" } else { "no" }
    );
    out += "  parameters:\n";
    for def in &p.params {
        let spec = def.spec();
        let range = match &spec.kind {
            ParamKind::Continuous { min, max, .. } => {
                format!("{min} .. {max} {}", spec.unit.suffix())
            }
            ParamKind::Stepped { min, max } => match &def.detents {
                Some(d) => format!("{min}..{max}: {}", d.join(" | ")),
                None => format!("{min}..{max}"),
            },
            ParamKind::Switch => "off | on".into(),
            ParamKind::Enum { labels } => labels.join(" | "),
        };
        out += &format!(
            "    {:<18} {:<24} {:<40} default {}{}\n",
            def.id,
            def.name,
            range,
            spec.default,
            if has_readback(p, &def.id) {
                ", readback"
            } else {
                ""
            }
        );
    }
    out
}
