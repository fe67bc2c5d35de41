//! The recall engine: applies a snapshot through the hub (recall-safe devices
//! left out), then sends every value of every remote device over its port —
//! ports in parallel — reads back where the profile can, and reports each
//! device's outcome. Progress goes to subscribers as hub events.

use super::{Job, Outboard, Progress};
use crate::hub::{DeviceReport, Event, HubError, HubHandle, RecallReport};
use rackd_protocol::device::has_readback;
use rackd_protocol::profile::TransportKind;
use std::sync::Arc;
use tokio::sync::oneshot;

/// Result line of a device left alone.
pub const SAFE: &str = "safe (left alone)";
/// Result line of a manual device.
pub const MANUAL: &str = "waiting for manual confirmation";

/// Recalls `song` (latest or `rev`) into the hub and onto the outboard gear.
pub async fn recall(
    hub: &HubHandle,
    outboard: &Outboard,
    song: &str,
    rev: Option<u32>,
) -> Result<RecallReport, HubError> {
    let safe: Vec<String> = outboard
        .devices()
        .iter()
        .filter(|d| d.safe)
        .map(|d| format!("/outboard/{}/", d.id))
        .collect();
    let mut report = hub.recall_except(song, rev, &safe).await?;
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
        let immediate = if d.safe {
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
            .filter_map(|p| {
                let v = state.values.get(&format!("/outboard/{}/{}", d.id, p.id))?;
                Some((p.id.clone(), v.clone()))
            })
            .collect();
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
