//! Feedback: every hub event to the subscribers that want it (with `A/norm`
//! for those that asked), meters at about 25 Hz, and the expiry of leases.

use super::{Dest, Surface};
use crate::hub::Event;
use rackd_protocol::api::{Reply, address as addr};
use rackd_protocol::param::Value;
use rosc::OscPacket;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Meter stream rate: about 25 Hz.
const METER_PERIOD: Duration = Duration::from_millis(40);
/// Floor for meter values in dB (silence).
const METER_FLOOR_DB: f32 = -120.0;

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

    pub(super) async fn meter_loop(self: Arc<Self>) {
        use crate::engine::Quantity;
        let mut tick = tokio::time::interval(METER_PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let db = |x: f32| {
            if x > 0.0 {
                rackd_dsp::gain_to_db(x).max(METER_FLOOR_DB)
            } else {
                METER_FLOOR_DB
            }
        };
        // Loudness is −inf in silence; surfaces get the floor instead.
        let finite = |x: f32| {
            if x.is_finite() {
                x.max(METER_FLOOR_DB)
            } else {
                METER_FLOOR_DB
            }
        };
        let points = self.service.engine().meters().points.clone();
        let addresses: Vec<String> = points
            .iter()
            .flat_map(|p| p.quantities.iter().map(|q| addr::meter(&p.name, q.name())))
            .collect();
        loop {
            tick.tick().await;
            let wanted = self
                .lock_subscribers()
                .values()
                .any(|s| addresses.iter().any(|a| s.wants_exactly(a)));
            for point in &points {
                // Read every tick, so held peaks never go stale while nobody listens.
                let r = point.meters.take();
                if !wanted {
                    continue;
                }
                for q in point.quantities {
                    let pair = |v: [f32; 2]| vec![db(v[0]), db(v[1])];
                    let values = match q {
                        Quantity::Peak => pair(r.peak),
                        Quantity::Rms => pair(r.rms),
                        Quantity::TruePeak => pair(r.true_peak),
                        Quantity::LufsM => vec![finite(r.lufs_m)],
                        Quantity::LufsS => vec![finite(r.lufs_s)],
                        Quantity::LufsI => vec![finite(r.lufs_i)],
                        Quantity::Lra => vec![if r.lra.is_finite() { r.lra } else { 0.0 }],
                        Quantity::Correlation => vec![r.correlation],
                        Quantity::GainReduction => vec![r.gain_reduction],
                    };
                    let address = addr::meter(&point.name, q.name());
                    let reply = Reply::Meter {
                        address: address.clone(),
                        values,
                    };
                    let packet = OscPacket::Message(reply.to_message());
                    for s in self.lock_subscribers().values() {
                        if s.wants_exactly(&address) {
                            s.outbox.feedback(&address, packet.clone());
                        }
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
