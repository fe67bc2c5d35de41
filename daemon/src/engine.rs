//! The audio engine: one [`Backend`] trait with JACK and null implementations,
//! and the control side that feeds parameter changes to the audio thread.
//!
//! The audio thread only ever runs [`rt::RtProcess::process`]; everything it
//! needs is built here, off the audio thread, and changes reach it through a
//! lock-free queue. A backend that (re)starts asks [`EngineControl::build_rt`]
//! for a fresh processor holding the current values, so nothing is lost when
//! JACK goes away and comes back.

mod build;
mod control;
pub mod cpal;
pub mod jack;
mod measure;
mod meters;
pub mod null;
mod print_take;
pub mod rt;
mod status;

pub use control::EngineControl;
pub use measure::{MEASURE_TRIES, Measured};
pub use meters::{MeterPoint, MeterPoints, PROGRAM, Quantity, described as described_meters};
pub use print_take::PrintJob;
pub use status::EngineStatus;

use crate::config::{AudioConfig, BackendKind};
use crate::hub::{Event, HubHandle, Target};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// Something that runs the chain on an audio thread: JACK, null (and later cpal).
pub trait Backend: Send {
    /// Short name for status (`jack`, `null`).
    fn name(&self) -> &'static str;
    /// Starts processing on threads of its own; the returned handle stops it.
    fn start(self: Box<Self>, control: Arc<EngineControl>) -> anyhow::Result<Running>;
}

/// A started backend; dropping it without [`Running::stop`] leaves it running.
pub struct Running {
    name: &'static str,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    /// Wraps a backend's manager thread and its stop flag.
    pub fn new(name: &'static str, stop: Arc<AtomicBool>, thread: JoinHandle<()>) -> Self {
        Running {
            name,
            stop,
            thread: Some(thread),
        }
    }

    /// Backend name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Stops processing and waits for the backend's threads.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The backend the config asks for.
pub fn backend_for(audio: &AudioConfig) -> Box<dyn Backend> {
    match audio.backend {
        BackendKind::Jack => Box::new(jack::JackBackend::new(audio)),
        BackendKind::Null => Box::new(null::NullBackend::new(audio)),
        BackendKind::Cpal => Box::new(cpal::CpalBackend::new(audio)),
    }
}

/// Forwards every hub change that concerns the chain to the engine. Runs until the hub stops.
pub async fn follow_hub(hub: HubHandle, control: Arc<EngineControl>) {
    let mut events = hub.subscribe();
    // Start from the hub's state: it may have been restored before we subscribed.
    if let Ok(state) = hub.state().await {
        control.apply_state(hub.tree(), &state);
    }
    // A backend that started before the restored values arrived plays the
    // default layout until told.
    let mut layout = true;
    loop {
        if layout {
            let control = control.clone();
            let _ = tokio::task::spawn_blocking(move || control.sync_layout()).await;
        }
        let mut event = events.recv().await;
        // Whether the batch touched the slot layout (building a chain is for then only).
        layout = false;
        loop {
            match event {
                Ok(Event::Changed { address, value, .. }) => {
                    if let Some(entry) = hub.tree().get(&address) {
                        layout |= matches!(
                            entry.target,
                            Target::ChainPosition { .. } | Target::ChainActive { .. }
                        );
                        control.apply(entry.target, entry.spec.engine_value(&value));
                    }
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("engine missed {n} changes; resyncing from the hub");
                    if let Ok(state) = hub.state().await {
                        control.apply_state(hub.tree(), &state);
                    }
                    layout = true;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
            // Take the rest of a batch (a recall, a layout command) before
            // building a chain for the new layout.
            match events.try_recv() {
                Err(tokio::sync::broadcast::error::TryRecvError::Empty) => break,
                Err(tokio::sync::broadcast::error::TryRecvError::Closed) => return,
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(n)) => {
                    event = Err(tokio::sync::broadcast::error::RecvError::Lagged(n))
                }
                Ok(e) => event = Ok(e),
            }
        }
    }
}

/// Sleeps up to `total` on a backend's manager thread, waking early when stopped.
pub(crate) fn sleep_unless_stopped(total: std::time::Duration, stop: &AtomicBool) {
    let until = std::time::Instant::now() + total;
    while !stop.load(Ordering::Relaxed) && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A backend manager thread's life: run `session` (one client or stream
/// lifetime) again and again until stopped; when it fails, say why in the
/// status (and in the log once, then every 30 s) and retry after `retry`.
pub(crate) fn run_until_stopped(
    status: &EngineStatus,
    stop: &AtomicBool,
    retry: std::time::Duration,
    mut session: impl FnMut() -> anyhow::Result<()>,
    waiting: impl Fn(&anyhow::Error) -> String,
) {
    let mut last_complaint: Option<std::time::Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = session() {
            status.running.store(false, Ordering::Relaxed);
            let text = format!("{}; retrying every {}s", waiting(&e), retry.as_secs());
            if last_complaint.is_none_or(|t| t.elapsed() > std::time::Duration::from_secs(30)) {
                tracing::warn!("{text}");
                last_complaint = Some(std::time::Instant::now());
            }
            status.set_state(text);
            sleep_unless_stopped(retry, stop);
        }
    }
    status.running.store(false, Ordering::Relaxed);
    status.set_state("stopped");
}
