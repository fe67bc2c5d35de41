//! The recall service, one for every front end (OSC, `rackd ctl`, the print
//! pass, start-up): applies a snapshot through the hub (recall-safe devices
//! and parameters left out, the config's and the snapshot's own), then sends
//! every value of every remote device over its port — ports in parallel —
//! reads back where the profile can, and reports each device's outcome.
//! Progress goes to subscribers as hub events. A recall can send only what
//! it changed, and the last one can be undone. A rack without outboard gear
//! is a rack with zero devices: the same service, with nothing to send.

use super::{Job, Outboard, Progress};
use crate::hub::{Event, HubError, HubHandle, Origin};
use rackd_protocol::api::address::{self as addr, is_recall_safe};
use rackd_protocol::api::{DeviceOutcome, DeviceReport, RecallMode, RecallReport};
use rackd_protocol::device::has_readback;
use rackd_protocol::profile::TransportKind;
use rackd_protocol::state::RackState;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Recall, undo and restore of the rack and its gear.
pub struct RecallService {
    hub: HubHandle,
    outboard: Arc<Outboard>,
    /// The rack state before the last recall, for undo.
    undo: Mutex<Option<RackState>>,
}

impl RecallService {
    /// The service over `outboard`'s devices (none is fine).
    pub fn new(hub: HubHandle, outboard: Arc<Outboard>) -> Arc<Self> {
        Arc::new(RecallService {
            hub,
            outboard,
            undo: Mutex::new(None),
        })
    }

    /// The outboard drivers (device status, confirmation of manual gear).
    pub fn outboard(&self) -> &Arc<Outboard> {
        &self.outboard
    }

    /// Recall-safe devices (`/outboard/<id>/`) and parameters (full addresses).
    fn safe_prefixes(&self) -> Vec<String> {
        let mut out = Vec::new();
        for d in self.outboard.devices() {
            if d.safe {
                out.push(addr::outboard_device(&d.id));
            }
            for p in &d.safe_params {
                out.push(addr::outboard(&d.id, p));
            }
        }
        out
    }

    /// Recalls `song` (latest or `rev`) into the hub and onto the outboard
    /// gear; the state before is kept for [`RecallService::undo`].
    pub async fn recall(
        &self,
        song: &str,
        rev: Option<u32>,
        mode: RecallMode,
    ) -> Result<RecallReport, HubError> {
        let before = self.hub.state().await?;
        let report = self
            .hub
            .recall_except(song, rev, &self.safe_prefixes())
            .await?;
        *self.undo.lock().unwrap_or_else(|e| e.into_inner()) = Some(before.clone());
        self.send(report, &before, mode).await
    }

    /// Puts the rack and the gear back to where they were before the last recall.
    pub async fn undo(&self) -> Result<RecallReport, HubError> {
        let mut state = self
            .undo
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| HubError::Rejected("no recall to undo".into()))?;
        let safe = self.safe_prefixes();
        state.values.retain(|a, _| !is_recall_safe(&safe, a));
        let before = self.hub.state().await?;
        let applied = self.hub.apply(state, Origin::Recall("undo".into())).await?;
        let report = RecallReport {
            song: "(undo of the last recall)".into(),
            rev: 0,
            changed: applied.changed,
            unchanged: applied.unchanged,
            skipped: applied.skipped,
            refused: applied.refused,
            devices: Vec::new(),
            safes: Vec::new(),
        };
        self.send(report, &before, RecallMode::Changed).await
    }

    /// Brings back the autosaved live state at start-up. The gear kept its
    /// own settings while rackd was down, so nothing is sent to it.
    pub async fn restore(&self, state: RackState) -> Result<crate::hub::Applied, HubError> {
        self.hub.apply(state, Origin::Restore).await
    }

    /// Sends the hub's (just recalled) values to the gear and fills in the report.
    async fn send(
        &self,
        mut report: RecallReport,
        before: &RackState,
        mode: RecallMode,
    ) -> Result<RecallReport, HubError> {
        let state = self.hub.state().await?;
        let progress: Progress = {
            let hub = self.hub.clone();
            Arc::new(move |device: &str, done, total| {
                hub.notify(Event::RecallProgress {
                    device: device.to_string(),
                    done,
                    total,
                })
            })
        };
        let outboard = &self.outboard;
        let mut pending = Vec::new();
        for (i, d) in outboard.devices().iter().enumerate() {
            // The config's safes and the snapshot's own.
            let snapshot_safe =
                |p: &str| report.safes.iter().any(|s| *s == format!("{}/{p}", d.id));
            let immediate = if d.safe || report.safes.contains(&d.id) {
                Some(DeviceOutcome::Safe)
            } else if d.transport() == TransportKind::Manual {
                outboard.await_confirmation(i, &format!("{}@{}", report.song, report.rev));
                Some(DeviceOutcome::Waiting)
            } else {
                None
            };
            if let Some(outcome) = immediate {
                pending.push((i, None, Some(outcome)));
                continue;
            }
            let values: Vec<_> = d
                .profile
                .params
                .iter()
                .filter(|p| !d.safe_params.contains(&p.id) && !snapshot_safe(&p.id))
                .filter_map(|p| {
                    let address = addr::outboard(&d.id, &p.id);
                    let v = state.values.get(&address)?;
                    let changed = before.values.get(&address) != Some(v);
                    (mode == RecallMode::Full || changed).then(|| (p.id.clone(), v.clone()))
                })
                .collect();
            if values.is_empty() {
                pending.push((i, None, Some(DeviceOutcome::Unchanged)));
                continue;
            }
            let (tx, rx) = oneshot::channel();
            let queued = outboard
                .send(
                    i,
                    Job::Recall {
                        device: i,
                        values,
                        progress: progress.clone(),
                        reply: tx,
                    },
                )
                .await;
            if queued {
                pending.push((i, Some(rx), None));
            } else {
                let why = "its port is not running".to_string();
                pending.push((i, None, Some(DeviceOutcome::Failed { why })));
            }
        }
        // The port tasks work in parallel; collecting in order only orders the report.
        for (i, rx, immediate) in pending {
            let d = &outboard.devices()[i];
            let outcome = match (rx, immediate) {
                (_, Some(outcome)) => outcome,
                (Some(rx), None) => match rx.await {
                    Ok(Ok(verified)) => {
                        let readable = d
                            .profile
                            .params
                            .iter()
                            .any(|p| has_readback(&d.profile, &p.id));
                        if readable {
                            DeviceOutcome::Verified { verified }
                        } else {
                            DeviceOutcome::Sent
                        }
                    }
                    Ok(Err(why)) => DeviceOutcome::Failed { why },
                    Err(_) => DeviceOutcome::Failed {
                        why: "its port task stopped".into(),
                    },
                },
                (None, None) => continue,
            };
            report.devices.push(DeviceReport {
                device: d.id.clone(),
                outcome,
            });
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests;
