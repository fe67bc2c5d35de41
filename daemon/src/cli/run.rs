//! `rackd run`: the daemon in the foreground, as systemd runs it.

use super::Failure;
use crate::config::Config;
use std::path::Path;
use std::process::ExitCode;

/// `rackd run --config FILE`.
pub fn run(config: &Path) -> ExitCode {
    match super::check::load_checked(config) {
        Ok((cfg, _)) => daemon(cfg),
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::from(2)
        }
    }
}

/// Runs the daemon on `cfg` until it is stopped.
pub fn daemon(cfg: Config) -> ExitCode {
    let log = crate::service::logging::init(&cfg.daemon.log_level);
    let runtime = match crate::service::threads::control_runtime() {
        Ok(r) => r,
        Err(e) => return Failure::Runtime(format!("cannot start the runtime: {e}")).exit(),
    };
    match runtime.block_on(crate::service::run(cfg, log)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("rackd: {e:#}");
            ExitCode::from(1)
        }
    }
}
