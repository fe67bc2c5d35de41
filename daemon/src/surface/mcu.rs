//! Mackie Control surfaces (`[[midi_surface]]`, protocol `mcu`): a front
//! end like the OSC server, on MIDI ports. Each surface is one task that
//! follows the hub's events (motors, LED rings, LCD, bypass LEDs, the
//! timecode display), reads the surface's messages (faders, V-pots,
//! buttons, the handshake) and sets parameters through [`RackService`].
//!
//! - `desk.rs`: the surface's state and what changes are sent (no I/O).
//! - `port.rs`: a unit's JACK or ALSA MIDI ports.

mod desk;
mod port;

pub use desk::{Action, Desk, auto_bank, meter_points, slot_params};

use super::RackService;
use crate::config::MidiSurfaceConfig;
use crate::hub::{Event, Origin};
use port::{Change, Port};
use rackd_protocol::api::MidiSurfaceStatus;
use rackd_protocol::mcu::{self, Input};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the MIDI rings are read: input reaches the rack within this.
const POLL: Duration = Duration::from_millis(1);
/// Meters are resent at this rate, faster than the MCU's own decay (about
/// 300 ms a segment), so a steady level stays lit.
const METERS: Duration = Duration::from_millis(100);
/// How often the ports are checked (gone, back) and an unanswered surface
/// is asked who it is again.
const LINKS: Duration = Duration::from_millis(500);
/// Every this many link checks, one unit gets its whole state again: MIDI
/// lost on the way (an xrun, a USB hiccup) heals within seconds.
const RESEND_EVERY: u32 = 6;
/// Most hub events taken in one go before the surface is updated.
const EVENTS_PER_FLUSH: usize = 512;
/// Log a garbage message only for the first and then every this many.
const GARBAGE_LOG_EVERY: u64 = 1000;

/// How one surface is doing, for `/rackd/status`.
pub struct Health {
    id: String,
    units: Mutex<Vec<String>>,
    messages: AtomicU64,
    garbage: AtomicU64,
    last_garbage: Mutex<Option<String>>,
}

impl Health {
    fn new(id: &str, units: usize) -> Arc<Health> {
        Arc::new(Health {
            id: id.to_string(),
            units: Mutex::new(vec!["offline: not opened yet".into(); units]),
            messages: AtomicU64::new(0),
            garbage: AtomicU64::new(0),
            last_garbage: Mutex::new(None),
        })
    }

    fn set_unit(&self, unit: usize, state: String) {
        if let Some(s) = self
            .units
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(unit)
        {
            *s = state;
        }
    }

    /// The surface in `/rackd/status`.
    pub fn status(&self) -> MidiSurfaceStatus {
        let units = self.units.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let rank = |s: &str| {
            if s.starts_with("offline") {
                0
            } else if s == "connected" {
                1
            } else {
                2
            }
        };
        MidiSurfaceStatus {
            id: self.id.clone(),
            state: units
                .iter()
                .min_by_key(|s| rank(s))
                .cloned()
                .unwrap_or_default(),
            units: units.len(),
            messages: self.messages.load(Ordering::Relaxed),
            garbage: self.garbage.load(Ordering::Relaxed),
            last_garbage: self
                .last_garbage
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}

/// Starts the surface's task; its health is in `service`'s status.
pub fn start(cfg: MidiSurfaceConfig, service: Arc<RackService>) -> Arc<Health> {
    let health = Health::new(&cfg.id, cfg.units.len());
    service.add_midi_surface(health.clone());
    tokio::spawn(run(cfg, service, health.clone()));
    health
}

async fn run(cfg: MidiSurfaceConfig, service: Arc<RackService>, health: Arc<Health>) {
    let hub = service.hub().clone();
    let mut events = hub.subscribe();
    let state = match hub.state().await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("surface {}: {e}", cfg.id);
            return;
        }
    };
    let origin = Origin::Midi(cfg.id.clone());
    let mut desk = Desk::new(&cfg, hub.tree().clone(), state);
    let mut ports: Vec<Port> = cfg
        .units
        .iter()
        .enumerate()
        .map(|(u, l)| {
            let client = match u {
                0 => format!("rackd-mcu-{}", cfg.id),
                n => format!("rackd-mcu-{}-xt{n}", cfg.id),
            };
            Port::new(l, client)
        })
        .collect();
    let mut heard = vec![false; ports.len()];
    let mut checks: u32 = 0;
    let meter_points: Vec<_> = service.engine().meters().points.clone();
    let level_points: Vec<String> = meter_points
        .iter()
        .filter(|p| p.quantities.contains(&crate::engine::Quantity::Peak))
        .map(|p| p.name.clone())
        .collect();
    let mut point_of = meter_points_for(&desk, &level_points);

    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut meter_tick = tokio::time::interval(METERS);
    meter_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut link_tick = tokio::time::interval(LINKS);
    link_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tracing::info!(
        "MIDI surface {} (Mackie Control, {} unit{}): waiting for its ports",
        cfg.id,
        ports.len(),
        if ports.len() == 1 { "" } else { "s" }
    );
    loop {
        tokio::select! {
            ev = events.recv() => {
                let mut next = Some(ev);
                let mut relayout = false;
                // Take every event already there before sending anything:
                // a recall's burst becomes one update of the surface.
                for _ in 0..EVENTS_PER_FLUSH {
                    let Some(ev) = next.take() else { break };
                    match ev {
                        Ok(ev) => relayout |= apply(&mut desk, ev),
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!("surface {}: missed {n} changes; reading the rack again", cfg.id);
                            if let Ok(state) = hub.state().await {
                                desk.reset(state);
                                relayout = true;
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    }
                    next = match events.try_recv() {
                        Ok(ev) => Some(Ok(ev)),
                        Err(tokio::sync::broadcast::error::TryRecvError::Lagged(n)) => {
                            Some(Err(tokio::sync::broadcast::error::RecvError::Lagged(n)))
                        }
                        Err(_) => None,
                    };
                }
                if relayout {
                    point_of = meter_points_for(&desk, &level_points);
                }
            }
            _ = poll.tick() => {
                for (unit, port) in ports.iter_mut().enumerate() {
                    let mut batch = Vec::new();
                    while let Some(bytes) = port.try_recv().await {
                        match mcu::decode(&bytes, desk.models()[unit]) {
                            Ok(input) => batch.push(input),
                            Err(e) => garbage(&cfg.id, &health, &bytes, &e.to_string()),
                        }
                    }
                    if batch.is_empty() {
                        continue;
                    }
                    health.messages.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    if !heard[unit] {
                        heard[unit] = true;
                        health.set_unit(unit, "online".into());
                    }
                    let now = Instant::now();
                    for (i, input) in batch.iter().enumerate() {
                        // Of several positions of one fader in a batch, the last counts.
                        if let Input::Fader { strip, .. } = input
                            && batch[i + 1..].iter().any(|l| matches!(l, Input::Fader { strip: s, .. } if s == strip))
                        {
                            continue;
                        }
                        match input {
                            Input::HostQuery { serial, .. } => tracing::info!(
                                "surface {} unit {}: connection query from serial {}; answering",
                                cfg.id, unit + 1, String::from_utf8_lossy(serial)
                            ),
                            Input::ConnectionError { .. } => tracing::warn!(
                                "surface {} unit {}: the surface refused the connection reply",
                                cfg.id, unit + 1
                            ),
                            Input::Version(v) => tracing::info!(
                                "surface {} unit {}: firmware {v}", cfg.id, unit + 1
                            ),
                            _ => {}
                        }
                        for action in desk.input(unit, input.clone(), now) {
                            match action {
                                Action::Send(bytes) => port.send(bytes),
                                Action::Set { address, value, norm } => {
                                    match service.set_from(&address, value, norm, origin.clone()).await {
                                        Ok(taken) => taken.into_iter().for_each(|(a, v)| desk.changed(&a, v)),
                                        Err(e) => tracing::warn!("surface {}: {address}: {e}", cfg.id),
                                    }
                                }
                            }
                        }
                    }
                }
            }
            _ = meter_tick.tick() => {
                let st = service.engine().status();
                desk.dsp_load(f64::from(st.dsp_load_permille.load(Ordering::Relaxed)) / 10.0);
                let peaks: HashMap<&str, f32> = meter_points
                    .iter()
                    .map(|p| {
                        let r = p.meters.peek();
                        let peak = r.peak[0].max(r.peak[1]);
                        let db = if peak > 0.0 { rackd_dsp::gain_to_db(peak) } else { f32::NEG_INFINITY };
                        (p.name.as_str(), db)
                    })
                    .collect();
                for (unit, bytes) in desk.meters(&point_of, |p| peaks.get(p).copied().unwrap_or(f32::NEG_INFINITY)) {
                    ports[unit].send(bytes);
                }
            }
            _ = link_tick.tick() => {
                checks = checks.wrapping_add(1);
                if checks % RESEND_EVERY == 0 {
                    let unit = (checks / RESEND_EVERY) as usize % ports.len().max(1);
                    if ports.get(unit).is_some_and(|p| p.offline.is_none()) {
                        desk.refresh(unit);
                    }
                }
                for (unit, port) in ports.iter_mut().enumerate() {
                    match port.check().await {
                        Change::Same => {}
                        Change::CameBack => {
                            tracing::info!("surface {} unit {}: connected ({}); sending the rack's state", cfg.id, unit + 1, port.describe());
                            health.set_unit(unit, "connected".into());
                            heard[unit] = false;
                            desk.refresh(unit);
                            port.send(mcu::device_query(desk.models()[unit]));
                        }
                        Change::Gone(why) => {
                            tracing::warn!("surface {} unit {}: offline: {why}", cfg.id, unit + 1);
                            health.set_unit(unit, format!("offline: {why}"));
                        }
                    }
                    if let Some(why) = &port.offline {
                        health.set_unit(unit, format!("offline: {why}"));
                    }
                }
            }
        }
        for (unit, bytes) in desk.flush(Instant::now()) {
            ports[unit].send(bytes);
        }
        for port in &mut ports {
            port.drain().await;
        }
    }
}

/// A hub event into the desk; whether the slot layout may have changed.
fn apply(desk: &mut Desk, ev: Event) -> bool {
    match ev {
        Event::Changed { address, value, .. } => {
            let layout = address.ends_with("/active") || address.ends_with("/position");
            desk.changed(&address, value);
            layout
        }
        Event::Saved(info) => {
            desk.song(info.song.as_str(), info.rev);
            false
        }
        Event::Recalled(r) => {
            desk.song(&r.song, r.rev);
            false
        }
        Event::RecallProgress { .. } | Event::Notice(_) => false,
    }
}

fn meter_points_for(desk: &Desk, level_points: &[String]) -> HashMap<String, String> {
    // The tree is the desk's; the layout the state it knows.
    desk::meter_points(desk.tree(), desk.state(), level_points)
}

/// Counts (and now and then logs) a message that is not MCU.
fn garbage(id: &str, health: &Health, bytes: &[u8], why: &str) {
    let n = health.garbage.fetch_add(1, Ordering::Relaxed);
    *health
        .last_garbage
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Some(why.to_string());
    if n % GARBAGE_LOG_EVERY == 0 {
        let shown: Vec<String> = bytes.iter().take(16).map(|b| format!("{b:02X}")).collect();
        tracing::warn!(
            "surface {id}: ignoring {why}: {} ({} so far)",
            shown.join(" "),
            n + 1
        );
    }
}
