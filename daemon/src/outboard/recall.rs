//! The recall engine: applies a snapshot through the hub (recall-safe devices
//! left out, the config's and the snapshot's own), then sends every value of every remote device over its port —
//! ports in parallel — reads back where the profile can, and reports each
//! device's outcome. Progress goes to subscribers as hub events. A recall
//! can send only what it changed, and the last one can be undone.

use super::{Job, Outboard, Progress};
use crate::hub::{DeviceReport, Event, HubError, HubHandle, RecallReport};
use rackd_protocol::device::has_readback;
use rackd_protocol::profile::TransportKind;
use rackd_protocol::state::RackState;
use std::sync::Arc;
use tokio::sync::oneshot;

/// Result line of a device left alone.
pub const SAFE: &str = "safe (left alone)";
/// Result line of a manual device.
pub const MANUAL: &str = "waiting for manual confirmation";

/// Result line of a device a changed-only recall had nothing to send to.
pub const UNCHANGED: &str = "unchanged (nothing to send)";

/// What a recall sends to the gear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every value of every remote device (the gear may have been touched).
    Full,
    /// Only the values the recall changed in the rack state.
    Changed,
}

/// Recall-safe devices (`/outboard/<id>/`) and parameters (full addresses).
fn safe_prefixes(outboard: &Outboard) -> Vec<String> {
    let mut out = Vec::new();
    for d in outboard.devices() {
        if d.safe {
            out.push(format!("/outboard/{}/", d.id));
        }
        for p in &d.safe_params {
            out.push(format!("/outboard/{}/{p}", d.id));
        }
    }
    out
}

/// Recalls `song` (latest or `rev`) into the hub and onto the outboard gear;
/// the state before is kept for [`undo`].
pub async fn recall(
    hub: &HubHandle,
    outboard: &Outboard,
    song: &str,
    rev: Option<u32>,
    mode: Mode,
) -> Result<RecallReport, HubError> {
    let before = hub.state().await?;
    let report = hub
        .recall_except(song, rev, &safe_prefixes(outboard))
        .await?;
    outboard.keep_for_undo(before.clone());
    send(hub, outboard, report, &before, mode).await
}

/// Puts the rack and the gear back to where they were before the last recall.
pub async fn undo(hub: &HubHandle, outboard: &Outboard) -> Result<RecallReport, HubError> {
    let mut state = outboard
        .take_undo()
        .ok_or_else(|| HubError::Rejected("no recall to undo".into()))?;
    let safe = safe_prefixes(outboard);
    state.values.retain(|a, _| !crate::hub::is_safe(&safe, a));
    let before = hub.state().await?;
    let (changed, unchanged, skipped) = hub
        .apply(state, crate::hub::Origin::Recall("undo".into()))
        .await?;
    let report = RecallReport {
        song: "(undo of the last recall)".into(),
        rev: 0,
        changed,
        unchanged,
        skipped,
        devices: Vec::new(),
        safes: Vec::new(),
    };
    send(hub, outboard, report, &before, Mode::Changed).await
}

/// Sends the hub's (just recalled) values to the gear and fills in the report.
async fn send(
    hub: &HubHandle,
    outboard: &Outboard,
    mut report: RecallReport,
    before: &RackState,
    mode: Mode,
) -> Result<RecallReport, HubError> {
    let state = hub.state().await?;
    let progress: Progress = {
        let hub = hub.clone();
        Arc::new(move |device: &str, done, total| {
            hub.notify(Event::RecallProgress {
                device: device.to_string(),
                done,
                total,
            })
        })
    };
    let mut pending = Vec::new();
    for (i, d) in outboard.devices().iter().enumerate() {
        // The config's safes and the snapshot's own.
        let snapshot_safe = |p: &str| report.safes.iter().any(|s| *s == format!("{}/{p}", d.id));
        let immediate = if d.safe || report.safes.contains(&d.id) {
            Some(SAFE.to_string())
        } else if d.transport() == TransportKind::Manual {
            outboard.await_confirmation(i, &format!("{}@{}", report.song, report.rev));
            Some(MANUAL.to_string())
        } else {
            None
        };
        if let Some(result) = immediate {
            pending.push((i, None, Some(result)));
            continue;
        }
        let values: Vec<_> = d
            .profile
            .params
            .iter()
            .filter(|p| !d.safe_params.contains(&p.id) && !snapshot_safe(&p.id))
            .filter_map(|p| {
                let address = format!("/outboard/{}/{}", d.id, p.id);
                let v = state.values.get(&address)?;
                let changed = before.values.get(&address) != Some(v);
                (mode == Mode::Full || changed).then(|| (p.id.clone(), v.clone()))
            })
            .collect();
        if values.is_empty() {
            pending.push((i, None, Some(UNCHANGED.to_string())));
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
            pending.push((i, None, Some("failed: its port is not running".to_string())));
        }
    }
    // The port tasks work in parallel; collecting in order only orders the report.
    for (i, rx, immediate) in pending {
        let d = &outboard.devices()[i];
        let (result, verified) = match (rx, immediate) {
            (_, Some(r)) => (r, 0),
            (Some(rx), None) => match rx.await {
                Ok(Ok(verified)) => {
                    let readable = d
                        .profile
                        .params
                        .iter()
                        .any(|p| has_readback(&d.profile, &p.id));
                    let line = if readable {
                        "set and verified"
                    } else {
                        "set (no readback)"
                    };
                    (line.to_string(), verified)
                }
                Ok(Err(why)) => (format!("failed: {why}"), 0),
                Err(_) => ("failed: its port task stopped".to_string(), 0),
            },
            (None, None) => continue,
        };
        report.devices.push(DeviceReport {
            device: d.id.clone(),
            result,
            verified,
        });
    }
    Ok(report)
}
