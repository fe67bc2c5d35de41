//! What WebSocket clients are sent without asking: every hub event to the
//! clients that LISTEN to its address (each OSC packet encoded once for all
//! of them), the meters as one OSC bundle per tick, and `PATH_CHANGED` when
//! a slot's place or a device's state changes.

use super::Http;
use super::ws::{METERS, binary};
use crate::hub::Event;
use axum::extract::ws::Message;
use rackd_protocol::api::{Reply, address as addr};
use rackd_protocol::osc::codec;
use rackd_protocol::oscquery::path_changed;
use rackd_protocol::param::Value;
use rosc::{OscBundle, OscPacket};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How often layout and device changes are gathered into PATH_CHANGED.
const PATH_CHECK: Duration = Duration::from_millis(200);

impl Http {
    pub(super) async fn feedback_loop(self: Arc<Self>) {
        let mut events = self.service.hub().subscribe();
        loop {
            match events.recv().await {
                Ok(Event::Changed { address, value, .. }) => {
                    if address.ends_with("/active") || address.ends_with("/position") {
                        self.layout_changed.store(true, Ordering::Relaxed);
                    }
                    self.send_value(&address, &value);
                }
                Ok(Event::Saved(info)) => self.notify(&Reply::saved(&info)),
                Ok(Event::Recalled(report)) => self.notify(&Reply::Recalled {
                    song: report.song.clone(),
                    rev: report.rev,
                }),
                Ok(Event::RecallProgress {
                    device,
                    done,
                    total,
                }) => self.notify(&Reply::RecallProgress {
                    device,
                    done: done as u32,
                    total: total as u32,
                }),
                Ok(Event::Notice(reply)) => self.notify(&reply),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("WebSocket clients missed {n} changes; resending the state");
                    if let Ok(state) = self.service.hub().state().await {
                        for (a, v) in &state.values {
                            self.send_value(a, v);
                        }
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// A parameter's value (and, to those who asked, its `A/norm`).
    fn send_value(&self, address: &str, value: &Value) {
        let clients = self.lock_clients();
        if clients.is_empty() {
            return;
        }
        let frame = binary(&OscPacket::Message(
            Reply::Value {
                address: address.into(),
                value: value.clone(),
            }
            .to_message(),
        ));
        let norm_address = addr::norm(address);
        let mut norm_frame = None;
        for c in clients.values().filter(|c| c.listens_beyond_meters()) {
            let (plain, norm) = c.wants_value(address, &norm_address);
            if plain {
                c.outbox.feedback(address, frame.clone());
            }
            if norm && let Some(entry) = self.service.hub().tree().get(address) {
                let f = norm_frame.get_or_insert_with(|| {
                    binary(&OscPacket::Message(
                        Reply::Norm {
                            address: address.into(),
                            position: entry.spec.to_norm(value) as f32,
                        }
                        .to_message(),
                    ))
                });
                c.outbox.feedback(&norm_address, f.clone());
            }
        }
    }

    /// A notice to every client that listens to its address.
    fn notify(&self, reply: &Reply) {
        let message = reply.to_message();
        let clients = self.lock_clients();
        let mut frame = None;
        for c in clients.values().filter(|c| c.listens_beyond_meters()) {
            if c.wants(&message.addr) {
                let f = frame.get_or_insert_with(|| binary(&OscPacket::Message(message.clone())));
                c.outbox.reply(f.clone());
            }
        }
    }

    /// Each tick's meters, one bundle per client: encoded once for every
    /// set of meters some client listens to, and only the latest kept for a
    /// client that has not taken the previous one.
    pub(super) async fn meter_loop(self: Arc<Self>) {
        let mut feed = self.service.meters();
        while feed.changed().await.is_ok() {
            let frame = feed.borrow_and_update().clone();
            let clients = self.lock_clients();
            let mut bundles: HashMap<Arc<[bool]>, Option<Message>> = HashMap::new();
            for c in clients.values() {
                let mask = c.meter_mask();
                if !mask.iter().any(|&w| w) {
                    continue;
                }
                let bundle = bundles.entry(mask.clone()).or_insert_with(|| {
                    let content: Vec<OscPacket> = frame
                        .readings
                        .iter()
                        .zip(mask.iter())
                        .filter(|(_, w)| **w)
                        .map(|(r, _)| {
                            OscPacket::Message(
                                Reply::Meter {
                                    address: r.address.to_string(),
                                    values: r.values.clone(),
                                }
                                .to_message(),
                            )
                        })
                        .collect();
                    (!content.is_empty()).then(|| {
                        binary(&OscPacket::Bundle(OscBundle {
                            timetag: codec::IMMEDIATELY,
                            content,
                        }))
                    })
                });
                if let Some(b) = bundle {
                    c.outbox.feedback(METERS, b.clone());
                }
            }
        }
    }

    /// `PATH_CHANGED /chain` after the slot layout changed, and
    /// `/outboard/<device>` when a device goes online, offline, waiting…
    pub(super) async fn path_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(PATH_CHECK);
        let mut devices = self.service.devices();
        loop {
            tick.tick().await;
            if self.lock_clients().is_empty() {
                self.layout_changed.store(false, Ordering::Relaxed);
                devices = self.service.devices();
                continue;
            }
            let mut changed = Vec::new();
            if self.layout_changed.swap(false, Ordering::Relaxed) {
                changed.push("/chain".to_string());
            }
            let now = self.service.devices();
            for d in &now {
                let before = devices.iter().find(|b| b.id == d.id);
                if before.is_none_or(|b| b.state != d.state || b.error != d.error) {
                    changed.push(
                        addr::outboard_device(&d.id)
                            .trim_end_matches('/')
                            .to_string(),
                    );
                }
            }
            devices = now;
            if changed.is_empty() {
                continue;
            }
            for c in self.lock_clients().values() {
                for path in &changed {
                    c.outbox.reply(Message::Text(path_changed(path).into()));
                }
            }
        }
    }
}
