//! Feedback: every hub event to the subscribers that want it (with `A/norm`
//! for those that asked), meters at about 25 Hz, and the expiry of leases.

use super::{Dest, Surface};
use crate::hub::Event;
use rackd_protocol::api::{Reply, address as addr};
use rackd_protocol::param::Value;
use rosc::OscPacket;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Surface {
    pub(super) async fn feedback_loop(self: Arc<Self>) {
        let mut events = self.service.hub().subscribe();
        loop {
            match events.recv().await {
                Ok(Event::Changed { address, value, .. }) => self.send_value(&address, &value),
                Ok(Event::Saved(info)) => self.broadcast(&Reply::saved(&info)),
                Ok(Event::Recalled(report)) => self.broadcast(&Reply::Recalled {
                    song: report.song.clone(),
                    rev: report.rev,
                }),
                Ok(Event::Notice(reply)) => self.broadcast(&reply),
                Ok(Event::RecallProgress {
                    device,
                    done,
                    total,
                }) => self.broadcast(&Reply::RecallProgress {
                    device,
                    done: done as u32,
                    total: total as u32,
                }),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("surfaces missed {n} changes; resending the state");
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

    fn send_value(&self, address: &str, value: &Value) {
        let packet = OscPacket::Message(
            Reply::Value {
                address: address.into(),
                value: value.clone(),
            }
            .to_message(),
        );
        let norm_address = addr::norm(address);
        let subs = self.lock_subscribers();
        for s in subs.values() {
            if s.wants(address) {
                s.outbox.feedback(address, packet.clone());
            }
            if s.wants_exactly(&norm_address)
                && let Some(entry) = self.service.hub().tree().get(address)
            {
                let norm = Reply::Norm {
                    address: address.into(),
                    position: entry.spec.to_norm(value) as f32,
                };
                s.outbox
                    .feedback(&norm_address, OscPacket::Message(norm.to_message()));
            }
        }
    }

    /// A notification to every subscriber that wants its address.
    pub(super) fn broadcast(&self, reply: &Reply) {
        let message = reply.to_message();
        let address = message.addr.clone();
        let packet = OscPacket::Message(message);
        for s in self.lock_subscribers().values() {
            if s.wants(&address) {
                s.outbox.reply(packet.clone());
            }
        }
    }

    /// Meters from the shared feed to the subscribers that asked for them.
    pub(super) async fn meter_loop(self: Arc<Self>) {
        let mut feed = self.service.meters();
        while feed.changed().await.is_ok() {
            let frame = feed.borrow_and_update().clone();
            let subs = self.lock_subscribers();
            if !frame
                .readings
                .iter()
                .any(|r| subs.values().any(|s| s.wants_exactly(&r.address)))
            {
                continue;
            }
            for r in &frame.readings {
                let reply = Reply::Meter {
                    address: r.address.to_string(),
                    values: r.values.clone(),
                };
                let packet = OscPacket::Message(reply.to_message());
                for s in subs.values() {
                    if s.wants_exactly(&r.address) {
                        s.outbox.feedback(&r.address, packet.clone());
                    }
                }
            }
        }
    }

    pub(super) async fn lease_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            self.log_limit.flush();
            let now = Instant::now();
            self.lock_subscribers().retain(|dest, s| {
                let alive = s.expires.is_none_or(|t| t > now);
                if !alive {
                    tracing::info!("subscription of {dest:?} expired");
                    // TCP outboxes belong to the connection, which may go on.
                    if matches!(dest, Dest::Udp(_)) {
                        s.outbox.close();
                    }
                }
                alive
            });
        }
    }
}
