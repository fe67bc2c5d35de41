//! The rack as a service: one typed request in, typed replies out, for every
//! front end. The OSC server calls it today; an HTTP or WebSocket front end
//! or a MIDI control surface is another transport over the same facade, so
//! every change is the same hub event whoever made it.

use super::meters::MeterFrame;
use crate::engine::EngineControl;
use crate::hub::{HubError, HubHandle, Origin};
use crate::outboard::recall::RecallService;
use crate::print::Printer;
use rackd_protocol::api::address as addr;
use rackd_protocol::api::{
    ClientCounts, HttpCounts, Info, OscCounts, PrintRequest, Reply, Request, Status,
};
use rackd_protocol::param::Value;
use rackd_protocol::state::RackState;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Where the replies to one request go: to its sender, and to every
/// subscriber that wants them (the front end decides who that is).
pub trait ReplyTo: Send + Sync {
    /// To the sender of the request.
    fn reply(&self, reply: Reply);
    /// To every subscriber that asked for this address.
    fn broadcast(&self, reply: Reply);
}

/// What every front end talks to.
pub struct RackService {
    hub: HubHandle,
    engine: Arc<EngineControl>,
    recall: Arc<RecallService>,
    printer: Arc<Printer>,
    backend: &'static str,
    started: Instant,
    midi_surfaces: std::sync::Mutex<Vec<Arc<super::mcu::Health>>>,
    meters: tokio::sync::watch::Receiver<Arc<MeterFrame>>,
    /// The HTTP front end's counters, once it runs.
    http_counts: std::sync::OnceLock<Box<dyn Fn() -> HttpCounts + Send + Sync>>,
}

/// Why a request failed; its text is the sender's `/rackd/error` message.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The hub refused it (unknown address, value out of its spec, no such song).
    #[error(transparent)]
    Hub(#[from] HubError),
    /// The snapshot store refused it (a bad export document, a fault).
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A manual recall could not be confirmed (no such device, nothing waiting).
    #[error(transparent)]
    Confirm(#[from] crate::outboard::ConfirmError),
    /// Refused for a reason the part that refused it gives in words (an
    /// engine, print or outboard condition).
    #[error("{0}")]
    Refused(String),
}

impl From<String> for ServiceError {
    fn from(why: String) -> Self {
        ServiceError::Refused(why)
    }
}

impl From<&str> for ServiceError {
    fn from(why: &str) -> Self {
        ServiceError::Refused(why.into())
    }
}

impl RackService {
    /// The service over the rack's parts.
    pub fn new(
        hub: HubHandle,
        engine: Arc<EngineControl>,
        recall: Arc<RecallService>,
        printer: Printer,
        backend: &'static str,
    ) -> Arc<Self> {
        Arc::new(RackService {
            meters: super::meters::start(&engine),
            hub,
            engine,
            recall,
            printer: Arc::new(printer),
            backend,
            started: Instant::now(),
            midi_surfaces: std::sync::Mutex::new(Vec::new()),
            http_counts: std::sync::OnceLock::new(),
        })
    }

    /// The latest meter readings (about 25 Hz), shared by every front end.
    pub fn meters(&self) -> tokio::sync::watch::Receiver<Arc<MeterFrame>> {
        self.meters.clone()
    }

    /// Lets `/rackd/status` report the HTTP front end's counters.
    pub fn attach_http_counts(&self, counts: Box<dyn Fn() -> HttpCounts + Send + Sync>) {
        let _ = self.http_counts.set(counts);
    }

    /// The outboard devices' states (online, offline with why, manual, waiting).
    pub fn devices(&self) -> Vec<rackd_protocol::api::DeviceStatus> {
        self.recall.outboard().status()
    }

    /// The hub (for feedback: every front end follows its events).
    pub fn hub(&self) -> &HubHandle {
        &self.hub
    }

    /// The engine (for meters).
    pub fn engine(&self) -> &Arc<EngineControl> {
        &self.engine
    }

    /// The values of a parameter or of every parameter a pattern matches;
    /// `norm`: as fader positions.
    pub async fn get(&self, address: &str, norm: bool) -> Result<Vec<Reply>, ServiceError> {
        let values = self.hub.get(address).await?;
        let tree = self.hub.tree();
        Ok(values
            .into_iter()
            .map(|(address, value)| match (norm, tree.get(&address)) {
                (true, Some(entry)) => Reply::Norm {
                    position: entry.spec.to_norm(&value) as f32,
                    address,
                },
                _ => Reply::Value { address, value },
            })
            .collect())
    }

    /// Sets a parameter (or every parameter a pattern matches); returns the
    /// values taken (clamped, quantized).
    pub async fn set(
        &self,
        address: &str,
        value: Value,
        norm: bool,
        from: SocketAddr,
    ) -> Result<Vec<(String, Value)>, ServiceError> {
        self.set_from(address, value, norm, Origin::Surface(from))
            .await
    }

    /// [`RackService::set`] for a front end that is not a network client
    /// (a MIDI surface): the change carries `origin`.
    pub async fn set_from(
        &self,
        address: &str,
        value: Value,
        norm: bool,
        origin: Origin,
    ) -> Result<Vec<(String, Value)>, ServiceError> {
        Ok(self.hub.set(address, value, norm, origin).await?)
    }

    /// A MIDI surface whose health `/rackd/status` lists.
    pub fn add_midi_surface(&self, health: Arc<super::mcu::Health>) {
        self.midi_surfaces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(health);
    }

    /// `/rackd/info`, with the address the front end listens on.
    pub fn info(&self, listening: &str) -> Info {
        let tree = self.hub.tree();
        Info {
            name: "rackd".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            osc: listening.into(),
            backend: self.backend.into(),
            params: tree.len(),
            chain: tree.slots().iter().map(|s| s.id.clone()).collect(),
        }
    }

    /// `/rackd/status`, with the front end's own counters.
    pub fn status(&self, clients: ClientCounts, osc: OscCounts) -> Status {
        let st = self.engine.status();
        Status {
            uptime_s: self.started.elapsed().as_secs(),
            backend: self.backend.into(),
            audio: st.state(),
            running: st.running.load(Ordering::Relaxed),
            sample_rate: st.sample_rate.load(Ordering::Relaxed),
            period: st.period.load(Ordering::Relaxed),
            latency_samples: st.latency.load(Ordering::Relaxed),
            ceiling_mode: self.engine.audio().ceiling_mode.name().into(),
            monitor_latency_samples: st.monitor_latency.load(Ordering::Relaxed),
            layout: self
                .engine
                .layout()
                .iter()
                .map(|&i| self.engine.slots()[i].id.clone())
                .collect(),
            printing: self.printer.busy(),
            store: self.hub.store().health(),
            xruns: st.xruns.load(Ordering::Relaxed),
            cycle_breaks: st.cycle_breaks.load(Ordering::Relaxed),
            changes_taken: st.changes_taken.load(Ordering::Relaxed),
            layout_changes: st.layout_changes.load(Ordering::Relaxed),
            dsp_load_percent: f64::from(st.dsp_load_permille.load(Ordering::Relaxed)) / 10.0,
            ceiling_engagements: self.engine.ceiling_engagements(),
            clients,
            osc,
            devices: self.recall.outboard().status(),
            midi_surfaces: self
                .midi_surfaces
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|h| h.status())
                .collect(),
            http: self.http_counts.get().map(|counts| counts()),
        }
    }

    /// Every other request (parameters, subscriptions, info and status are
    /// the front end's own). Replies go through `to`; an `Err` is the
    /// message for the sender's error reply.
    pub async fn handle(
        self: &Arc<Self>,
        request: Request,
        from: SocketAddr,
        to: Arc<dyn ReplyTo>,
    ) -> Result<(), ServiceError> {
        match request {
            Request::Measure { slot } => self.measure(&slot, from, to.as_ref()).await,
            Request::Save { song, note, safes } => {
                let info = self
                    .hub
                    .save_with_safes(&song, &note, &format!("osc:{from}"), safes)
                    .await?;
                to.reply(Reply::saved(&info));
                Ok(())
            }
            Request::Recall { song, rev, mode } => {
                let report = self.recall.recall(&song, rev, mode).await?;
                to.reply(Reply::RecallReport(report));
                Ok(())
            }
            Request::Undo => {
                let report = self.recall.undo().await?;
                to.reply(Reply::RecallReport(report));
                Ok(())
            }
            Request::Confirm { device } => {
                self.recall.outboard().confirm(&device)?;
                to.reply(Reply::Confirmed {
                    device: device.clone(),
                });
                to.broadcast(Reply::Confirmed { device });
                Ok(())
            }
            Request::Sheet { song } => {
                let wanted = self.hub.resolve(&song).await?;
                let current = self.hub.state().await?;
                let sheet = crate::outboard::sheet::sheet(
                    self.hub.tree().devices(),
                    &song,
                    &wanted,
                    &current,
                );
                to.reply(Reply::Sheet(Box::new(sheet)));
                Ok(())
            }
            Request::List { prefix } => {
                let songs = self.hub.list(&prefix).await?;
                to.reply(Reply::List(songs));
                Ok(())
            }
            Request::History { song } => {
                let history = self.hub.history(&song).await?;
                to.reply(Reply::History(history));
                Ok(())
            }
            Request::Diff { a, b } => {
                let diff = self.hub.diff(&a, &b).await?;
                to.reply(Reply::Diff(diff));
                Ok(())
            }
            Request::Export { song } => {
                let doc = self.hub.export(&song).await?;
                to.reply(Reply::Export(Box::new(doc)));
                Ok(())
            }
            Request::Import { document } => {
                let doc = crate::store::parse_export(&document)?;
                let report = self.hub.import(doc).await?;
                to.reply(Reply::Imported(report));
                Ok(())
            }
            Request::Describe => {
                let state = self.hub.state().await?;
                to.reply(Reply::Describe(Box::new(self.hub.tree().describe(&state))));
                Ok(())
            }
            Request::Layout { slots } => {
                if let Some(slots) = slots {
                    self.set_layout(&slots, from).await?;
                }
                let state = self.hub.state().await?;
                let tree = self.hub.tree();
                let playing = tree
                    .layout(&state)
                    .into_iter()
                    .map(|i| tree.slots()[i].id.clone())
                    .collect();
                to.reply(Reply::Layout(playing));
                Ok(())
            }
            Request::Print(print) => self.start_print(print, to),
            Request::PrintCancel => {
                if !self.printer.cancel() {
                    return Err("no print is running".into());
                }
                to.reply(Reply::PrintCancelled);
                Ok(())
            }
            Request::Param { .. }
            | Request::Subscribe { .. }
            | Request::Unsubscribe { .. }
            | Request::Ping { .. }
            | Request::Info
            | Request::Status => Err("handled by the front end".into()),
        }
    }

    /// `/chain/<slot>/measure`: the round trip of an insert, measured, stored
    /// in `/chain/<slot>/latency` (so compensation uses it) and reported to
    /// the sender and to subscribers.
    async fn measure(
        &self,
        slot: &str,
        from: SocketAddr,
        to: &dyn ReplyTo,
    ) -> Result<(), ServiceError> {
        let index = self
            .hub
            .tree()
            .slot_index(slot)
            .ok_or_else(|| format!("no chain slot {slot:?}"))?;
        let engine = self.engine.clone();
        let measured = tokio::task::spawn_blocking(move || engine.measure(index))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| ServiceError::Refused(e.to_string()))?;
        self.hub
            .set(
                &addr::chain(slot, "latency"),
                Value::Int(measured.latency as i64),
                false,
                Origin::Surface(from),
            )
            .await?;
        tracing::info!(
            "insert {slot}: round trip {} samples{}, return {:+.1} dB",
            measured.latency,
            if measured.inverted { ", inverted" } else { "" },
            measured.gain_db
        );
        let reply = Reply::Measured {
            slot: slot.into(),
            measured,
        };
        to.reply(reply.clone());
        to.broadcast(reply);
        Ok(())
    }

    /// Those slots play in that order; every other slot leaves the chain.
    async fn set_layout(&self, ids: &[String], from: SocketAddr) -> Result<(), ServiceError> {
        let tree = self.hub.tree();
        let mut order = Vec::new();
        for id in ids {
            let slot = tree.slot_index(id).ok_or_else(|| {
                let known: Vec<&str> = tree.slots().iter().map(|s| s.id.as_str()).collect();
                format!("no chain slot {id:?}; slots are {}", known.join(", "))
            })?;
            if order.contains(&slot) {
                return Err(format!("slot {id:?} is listed twice").into());
            }
            order.push(slot);
        }
        let mut state = RackState::default();
        for (slot, cfg) in tree.slots().iter().enumerate() {
            let position = order.iter().position(|&s| s == slot);
            state.values.insert(
                addr::chain(&cfg.id, "active"),
                Value::Int(position.is_some() as i64),
            );
            if let Some(p) = position {
                state
                    .values
                    .insert(addr::chain(&cfg.id, "position"), Value::Int(p as i64));
            }
        }
        self.hub.apply(state, Origin::Surface(from)).await?;
        Ok(())
    }

    /// Starts the print pass and answers at once with `PrintStarted`;
    /// progress and the end (`PrintDone` or an error) follow, to the sender
    /// and to subscribers.
    fn start_print(
        self: &Arc<Self>,
        print: PrintRequest,
        to: Arc<dyn ReplyTo>,
    ) -> Result<(), ServiceError> {
        if self.printer.busy() {
            return Err(crate::print::PrintError::Busy.to_string().into());
        }
        let song = print.song.clone();
        to.reply(Reply::PrintStarted { song: song.clone() });
        let service = self.clone();
        tokio::spawn(async move {
            let progress = |fraction: f32| {
                let reply = Reply::PrintProgress {
                    song: song.clone(),
                    fraction,
                };
                to.reply(reply.clone());
                to.broadcast(reply);
            };
            let result = service
                .printer
                .print(
                    &service.hub,
                    &service.recall,
                    &service.engine,
                    &print,
                    progress,
                )
                .await;
            match result {
                Ok(report) => {
                    let done = Reply::PrintDone(report);
                    to.reply(done.clone());
                    to.broadcast(done);
                }
                Err(e) => {
                    tracing::warn!("print of {song}: {e}");
                    to.reply(Reply::Error {
                        address: addr::PRINT.into(),
                        message: e.to_string(),
                    });
                }
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests;
