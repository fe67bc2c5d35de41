//! `rackd profile list | show ID | check FILE...`: the hardware-profile
//! library from the command line, for profile authors and admins.

use crate::profiles::Library;
use clap::Subcommand;
use rackd_protocol::device::has_readback;
use rackd_protocol::param::ParamKind;
use rackd_protocol::profile::{DeviceKind, PanelMark, Profile, TransportKind, load_profile_file};
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
    Simulate(crate::cli::simulate::SimulateArgs),
}

/// Runs a `rackd profile` command; exit 0 ok, 1 runtime failure, 2 invalid input.
pub fn main(command: ProfileCommand) -> ExitCode {
    match command {
        ProfileCommand::List { dir } => {
            let lib = Library::load(&dir);
            print!(
                "{}",
                list(lib.iter().map(|e| (&*e.profile, e.origin.as_str())))
            );
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
                    Ok(text) => match load_profile_file(&text, &shown) {
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
        ProfileCommand::Simulate(args) => crate::cli::simulate::main(args),
    }
}

/// The kinds in the order `rackd profile list` groups them, with headings.
const KIND_ORDER: [(DeviceKind, &str); 7] = [
    (DeviceKind::Eq, "Equalizers"),
    (DeviceKind::Compressor, "Compressors"),
    (DeviceKind::Limiter, "Limiters"),
    (DeviceKind::Converter, "Converters"),
    (DeviceKind::Preamp, "Preamps"),
    (DeviceKind::Switcher, "Insert and routing switchers"),
    (DeviceKind::Processor, "Other processors"),
];

/// How a device is recalled, for the list: the remote transport, or by hand.
fn recalled(p: &Profile) -> String {
    match p.transport() {
        TransportKind::Manual => "by hand".into(),
        t => format!("remote {}", format!("{t:?}").to_lowercase()),
    }
}

/// The text `rackd profile list` prints: profiles grouped by kind, each line
/// saying whether rackd sets the device (remote) or the engineer does (by hand).
pub fn list<'a>(profiles: impl Iterator<Item = (&'a Profile, &'a str)>) -> String {
    let all: Vec<(&Profile, &str)> = profiles.collect();
    let width = all.iter().map(|(p, _)| p.id().len()).max().unwrap_or(0);
    let mut out = String::new();
    for (kind, heading) in KIND_ORDER {
        let group: Vec<&(&Profile, &str)> =
            all.iter().filter(|(p, _)| p.device.kind == kind).collect();
        if group.is_empty() {
            continue;
        }
        let remote = group
            .iter()
            .filter(|(p, _)| p.transport() != TransportKind::Manual)
            .count();
        out += &format!(
            "{heading} ({} remote, {} by hand)\n",
            remote,
            group.len() - remote
        );
        for (p, origin) in group {
            out += &format!(
                "  {:<width$}  {:<13} {} {} — {}{}\n",
                p.id(),
                recalled(p),
                p.device.vendor,
                p.device.model,
                p.device.description,
                if *origin == "built-in" {
                    String::new()
                } else {
                    format!(" ({origin})")
                }
            );
        }
    }
    out
}

/// The text `rackd profile show` prints.
pub fn show(p: &Profile, origin: &str) -> String {
    let d = &p.device;
    let mut out = format!("{} — {} {} ({:?})\n", p.id(), d.vendor, d.model, d.kind);
    if !d.description.is_empty() {
        out += &format!("  {}\n", d.description);
    }
    let src = &d.source;
    out += &format!("  source: {}\n", src.title);
    for (what, v) in [
        ("edition", &src.edition),
        ("section", &src.section),
        ("published at", &src.url),
    ] {
        if let Some(v) = v {
            out += &format!("    {what}: {v}\n");
        }
    }
    out += &format!("  file: {origin}\n");
    out += &format!("  recalled: {}", recalled(p));
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
        let panel = match (p.transport(), def.panel_mark()) {
            (TransportKind::Manual, PanelMark::Printed) => ", printed",
            (TransportKind::Manual, PanelMark::Counted) => ", counted from fully CCW",
            (TransportKind::Manual, PanelMark::Rotation) => ", rotation",
            _ => "",
        };
        let ends = def
            .ends
            .as_ref()
            .map(|e| format!(", ends {} .. {}", e[0], e[1]))
            .unwrap_or_default();
        out += &format!(
            "    {:<18} {:<24} {:<40} default {}{}{panel}{ends}\n",
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
        if let Some(n) = &def.note {
            out += &format!("      {n}\n");
        }
    }
    out
}
