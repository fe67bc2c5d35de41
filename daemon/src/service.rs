//! The daemon's life: start every part in order, tell systemd, follow
//! signals (SIGHUP reloads, SIGTERM/SIGINT stop), and shut down cleanly.

pub(crate) mod logging;
mod memory;
pub(crate) mod systemd;
pub mod threads;

use crate::config::Config;
use crate::engine::{self, EngineControl};
use crate::hub::{self, HubHandle, StoreWorker};
use crate::outboard::recall::RecallService;
use crate::print::Printer;
use crate::surface::http::HttpServer;
use crate::surface::{RackService, Surface, SurfaceSettings};
use anyhow::Context as _;
use logging::LogHandle;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use systemd::Notifier;
use tokio::signal::unix::{SignalKind, signal};

/// File name of the SQLite database in the state dir.
pub const DB_FILE: &str = "rackd.db";

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn run(config: Config, log: LogHandle) -> anyhow::Result<()> {
    let notifier = Notifier::from_env();
    let state_dir = &config.daemon.state_dir;
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("cannot create the state dir {}", state_dir.display()))?;
    let db = state_dir.join(DB_FILE);
    let store = StoreWorker::start_or_retry(&db)
        .with_context(|| format!("cannot open {}", db.display()))?;
    let devices = crate::profiles::load_rack(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let tree = hub::ParamTree::from_rack(&config.chain, &devices);
    tracing::info!(
        "rack: {} parameters in {} chain slots and {} outboard devices; state in {}",
        tree.len(),
        config.chain.len(),
        devices.len(),
        db.display()
    );
    let hub = hub::start(tree, store.clone());
    let files = config.files.roots(state_dir);
    // The default directories live in the state dir; configured ones the
    // admin made (`rackd check` says when one is missing).
    let mut files_ready = files.create().is_ok();
    if !files_ready {
        tracing::warn!("cannot create the file directories yet; trying again while rackd runs");
    }
    tracing::info!(
        "files: sources from {}; prints to {}",
        files
            .input_dirs()
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        files.output_dir().display()
    );

    let outboard = crate::outboard::Outboard::start(hub.clone());
    let recall = RecallService::new(hub.clone(), outboard);
    restore(&hub, &recall).await;

    let control = EngineControl::new(&config.chain, &config.audio);
    tokio::spawn(engine::follow_hub(hub.clone(), control.clone()));
    for w in &config.warnings {
        tracing::warn!("config: {w}");
    }
    let backend = engine::backend_for(&config.audio);
    let backend_name = backend.name();
    let running = backend
        .start(control.clone())
        .context("cannot start the audio backend")?;

    let service = RackService::new(
        hub.clone(),
        control.clone(),
        recall,
        Printer::new(files.clone()),
        backend_name,
    );
    for midi in &config.midi_surfaces {
        crate::surface::mcu::start(midi.clone(), service.clone());
    }
    let surface = Surface::start(
        config.osc.listen,
        SurfaceSettings {
            allow: config.osc.allow.clone(),
            statics: config.surfaces.clone(),
            idle_timeout: config.osc.idle_timeout,
        },
        service.clone(),
    )
    .await?;
    let http = match config.http.enabled {
        true => Some(
            HttpServer::start(
                &config.http.in_state_dir(&config.daemon.state_dir),
                surface.clone(),
                service,
            )
            .await?,
        ),
        false => None,
    };
    tokio::spawn(hub::autosave(
        hub.clone(),
        Duration::from_millis(config.daemon.autosave_ms),
    ));

    let status_line = || {
        let health = store.health();
        let store_line = match &health.error {
            Some(e) => format!("; SNAPSHOT STORE {}: {e}", health.health),
            None => String::new(),
        };
        let http_line = match &http {
            Some(h) => format!("; page on http://{}/ui/", h.local_addr()),
            None => String::new(),
        };
        format!(
            "OSC on {}{http_line}; audio {}{store_line}",
            surface.local_addr(),
            control.status().state()
        )
    };
    notifier.ready(&status_line());
    tracing::info!("ready: {}", status_line());
    if let Some(every) = systemd::watchdog_interval() {
        tokio::spawn(watchdog(hub.clone(), every));
    }

    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut status_tick = tokio::time::interval(Duration::from_secs(1));
    let mut trim_tick = tokio::time::interval(memory::TRIM_EVERY);
    let mut last_status = String::new();
    let mut config = config;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                notifier.reloading();
                config = reload(config, &surface, &log);
                notifier.notify(&format!("READY=1\nSTATUS={}", status_line()));
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = trim_tick.tick() => {
                tokio::task::spawn_blocking(memory::give_back);
            }
            _ = status_tick.tick() => {
                if !files_ready && files.create().is_ok() {
                    tracing::info!("created the file directories");
                    files_ready = true;
                }
                let line = status_line();
                if line != last_status {
                    notifier.status(&line);
                    last_status = line;
                }
            }
        }
    }

    tracing::info!("stopping");
    notifier.stopping();
    // The last state must survive the restart, whatever the debounce was doing.
    if let Ok(state) = hub.state().await
        && let Err(e) = store.call(move |s| s.save_current(&state)).await
    {
        tracing::error!("final autosave failed: {e}");
    }
    running.stop();
    tracing::info!("stopped");
    Ok(())
}

/// The hub, engine control and OSC surface on the store at `db`, without an
/// audio backend, signals or systemd: the core that benches and property
/// tests drive over loopback (only loopback clients allowed).
pub async fn serve_without_audio(
    chain: &[crate::config::SlotConfig],
    audio: &crate::config::AudioConfig,
    db: &std::path::Path,
    listen: std::net::SocketAddr,
) -> anyhow::Result<(Arc<Surface>, HubHandle)> {
    let (surface, _, hub) = serve_core(chain, audio, db, listen).await?;
    Ok((surface, hub))
}

/// [`serve_without_audio`] plus the HTTP front end on `http` (benches).
pub async fn serve_web_without_audio(
    chain: &[crate::config::SlotConfig],
    audio: &crate::config::AudioConfig,
    db: &std::path::Path,
    listen: std::net::SocketAddr,
    http: &crate::config::HttpConfig,
) -> anyhow::Result<(Arc<Surface>, HttpServer, HubHandle)> {
    let (surface, service, hub) = serve_core(chain, audio, db, listen).await?;
    let http = http.in_state_dir(db.parent().unwrap_or(std::path::Path::new(".")));
    let web = HttpServer::start(&http, surface.clone(), service).await?;
    Ok((surface, web, hub))
}

async fn serve_core(
    chain: &[crate::config::SlotConfig],
    audio: &crate::config::AudioConfig,
    db: &std::path::Path,
    listen: std::net::SocketAddr,
) -> anyhow::Result<(Arc<Surface>, Arc<RackService>, HubHandle)> {
    let store = StoreWorker::start(db).with_context(|| format!("cannot open {}", db.display()))?;
    let hub = hub::start(hub::ParamTree::from_chain(chain), store);
    let control = EngineControl::new(chain, audio);
    tokio::spawn(engine::follow_hub(hub.clone(), control.clone()));
    let recall = RecallService::new(hub.clone(), crate::outboard::Outboard::start(hub.clone()));
    let files = crate::config::FilesConfig::default().roots(db.parent().unwrap_or(Path::new(".")));
    let service = RackService::new(hub.clone(), control, recall, Printer::new(files), "none");
    let surface = Surface::start(
        listen,
        SurfaceSettings {
            allow: vec!["127.0.0.0/8".parse()?, "::1/128".parse()?],
            statics: vec![],
            idle_timeout: Duration::from_secs(30),
        },
        service.clone(),
    )
    .await?;
    Ok((surface, service, hub))
}

/// Brings back the autosaved state, so a restart or crash keeps the room as it was.
async fn restore(hub: &HubHandle, recall: &RecallService) {
    match hub.store().call(|s| s.load_current()).await {
        Ok(Some(state)) => match recall.restore(state).await {
            Ok(applied) => {
                tracing::info!(
                    "restored the autosaved state ({} values differ from defaults)",
                    applied.changed
                );
                if !applied.skipped.is_empty() {
                    tracing::warn!(
                        "autosave has {} values this rack does not have: {}",
                        applied.skipped.len(),
                        applied.skipped.join(", ")
                    );
                }
                if !applied.refused.is_empty() {
                    tracing::warn!(
                        "autosave has {} values this rack refuses: {}",
                        applied.refused.len(),
                        applied.refused.join("; ")
                    );
                }
            }
            Err(e) => tracing::error!("cannot restore the autosaved state: {e}"),
        },
        Ok(None) => tracing::info!("no autosaved state yet; starting from defaults"),
        Err(e) => tracing::error!("cannot read the autosaved state (starting from defaults): {e}"),
    }
}

/// Feeds systemd's watchdog only while the hub answers.
async fn watchdog(hub: HubHandle, every: Duration) {
    let notifier = Notifier::from_env();
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if hub.ping(every).await {
            notifier.watchdog();
        } else {
            tracing::error!("the hub did not answer within {every:?}; not feeding the watchdog");
        }
    }
}

/// Re-reads the config file: applies what can change live, logs what needs a restart.
fn reload(old: Config, surface: &Arc<Surface>, log: &LogHandle) -> Config {
    let Some(path) = old.file.clone() else {
        tracing::info!("reload: no config file (demo); nothing to do");
        return old;
    };
    let new = match Config::load(&path) {
        Ok(c) => c,
        Err(errors) => {
            tracing::error!("reload: the config has errors; keeping the running one:\n{errors}");
            return old;
        }
    };
    surface.reload(SurfaceSettings {
        allow: new.osc.allow.clone(),
        statics: new.surfaces.clone(),
        idle_timeout: new.osc.idle_timeout,
    });
    if let Err(e) = log.set_level(&new.daemon.log_level) {
        tracing::error!("reload: log level: {e}");
    }
    let mut restart = Vec::new();
    if new.audio != old.audio {
        restart.push("[audio]");
    }
    if new.chain != old.chain {
        restart.push("[[chain]]");
    }
    if new.devices != old.devices || new.daemon.profile_dirs != old.daemon.profile_dirs {
        restart.push("[[device]]");
    }
    if new.midi_surfaces != old.midi_surfaces {
        restart.push("[[midi_surface]]");
    }
    if new.osc.listen != old.osc.listen {
        restart.push("osc.listen");
    }
    if new.http != old.http {
        restart.push("[http]");
    }
    if new.daemon.state_dir != old.daemon.state_dir {
        restart.push("daemon.state_dir");
    }
    if new.daemon.autosave_ms != old.daemon.autosave_ms {
        restart.push("daemon.autosave_ms");
    }
    tracing::info!(
        "reloaded {}: allow-list, idle timeout, static surfaces and log level applied",
        path.display()
    );
    if !restart.is_empty() {
        tracing::warn!(
            "reload: changes to {} take effect after a restart",
            restart.join(", ")
        );
    }
    // Keep the running values of what was not applied, so the next reload compares right.
    Config {
        audio: old.audio,
        chain: old.chain,
        devices: old.devices,
        midi_surfaces: old.midi_surfaces,
        daemon: crate::config::DaemonConfig {
            log_level: new.daemon.log_level.clone(),
            ..old.daemon
        },
        osc: crate::config::OscConfig {
            listen: old.osc.listen,
            ..new.osc.clone()
        },
        http: old.http,
        ..new
    }
}
