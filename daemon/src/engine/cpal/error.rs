//! What cpal's streams report: xruns are counted, anything fatal ends the
//! streams (the manager thread opens them again). Atomics only: the error
//! callback may run on an audio thread.

use super::super::EngineStatus;
use cpal::ErrorKind;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// The streams' error callback: xruns counted, anything fatal flagged for the
/// manager thread (which logs it). Atomics only.
#[derive(Clone)]
pub(super) struct ErrorSink {
    pub(super) status: Arc<EngineStatus>,
    /// 0 while healthy, else [`kind_code`] of the error that ended the streams.
    pub(super) fatal: Arc<AtomicU8>,
}

impl ErrorSink {
    pub(super) fn report(&self, error: cpal::Error) {
        match error.kind() {
            ErrorKind::Xrun => {
                self.status.xruns.fetch_add(1, Ordering::Relaxed);
            }
            // Rerouted by the host, or running without RT priority: keep going.
            ErrorKind::DeviceChanged | ErrorKind::RealtimeDenied => {}
            kind => {
                let _ = self.fatal.compare_exchange(
                    0,
                    kind_code(kind),
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                );
            }
        }
    }
}

const KINDS: [(ErrorKind, &str); 11] = [
    (ErrorKind::DeviceBusy, "device busy"),
    (ErrorKind::DeviceNotAvailable, "device not available"),
    (ErrorKind::HostUnavailable, "host unavailable"),
    (ErrorKind::InvalidInput, "invalid input"),
    (ErrorKind::PermissionDenied, "permission denied"),
    (ErrorKind::ResourceExhausted, "resource exhausted"),
    (ErrorKind::StreamInvalidated, "stream invalidated"),
    (
        ErrorKind::UnsupportedConfig,
        "configuration no longer supported",
    ),
    (ErrorKind::UnsupportedOperation, "unsupported operation"),
    (ErrorKind::BackendError, "host error"),
    (ErrorKind::Other, "error"),
];

fn kind_code(kind: ErrorKind) -> u8 {
    KINDS
        .iter()
        .position(|(k, _)| *k == kind)
        .map_or(KINDS.len() as u8, |i| i as u8 + 1)
}

pub(super) fn kind_text(code: u8) -> &'static str {
    KINDS
        .get(usize::from(code).saturating_sub(1))
        .map_or("error", |(_, t)| t)
}

/// Why a JACK client could not be opened, in the JACK backend's words.
pub(super) fn jack_open_error(what: &str, e: &cpal::Error) -> anyhow::Error {
    if e.kind() == ErrorKind::DeviceNotAvailable {
        let server = std::env::var("JACK_DEFAULT_SERVER").unwrap_or_else(|_| "default".into());
        anyhow::anyhow!("no JACK server \"{server}\" answers")
    } else {
        anyhow::anyhow!("JACK {what} client: {e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_round_trip_through_codes() {
        for (kind, text) in KINDS {
            assert_eq!(kind_text(kind_code(kind)), text);
        }
        assert_ne!(kind_code(ErrorKind::DeviceNotAvailable), 0);
    }
}
