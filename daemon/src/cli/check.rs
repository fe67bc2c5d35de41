//! `rackd check`: the config and every profile it uses, each problem as
//! `file:line: message`.

use crate::config::{self, Config};
use std::path::Path;
use std::process::ExitCode;

/// `rackd check --config FILE`: exit 0 when valid, 2 with every problem otherwise.
pub fn run(config: &Path) -> ExitCode {
    match load_checked(config) {
        Ok((cfg, devices)) => {
            for w in &cfg.warnings {
                eprintln!("warning: {w}");
            }
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
    }
}

/// The config and its devices resolved against the profile library; config
/// and profile errors together.
pub fn load_checked(
    path: &Path,
) -> Result<(Config, Vec<crate::profiles::Device>), config::ConfigErrors> {
    let (cfg, mut errors) = Config::load_partial(path);
    let devices = match &cfg {
        Some(cfg) => crate::profiles::load_rack(cfg).unwrap_or_else(|e| {
            errors.extend(e.0);
            Vec::new()
        }),
        None => Vec::new(),
    };
    if let Some(cfg) = &cfg
        && !cfg.midi_surfaces.is_empty()
    {
        let tree = crate::rack::ParamTree::from_rack(&cfg.chain, &devices);
        errors.extend(config::check_banks(&cfg.midi_surfaces, |a| {
            tree.get(a).is_some()
        }));
    }
    match cfg {
        Some(cfg) if errors.is_empty() => Ok((cfg, devices)),
        _ => Err(config::ConfigErrors(errors)),
    }
}
