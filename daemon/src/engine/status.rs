//! What the engine tells surfaces and systemd: written with atomics by the
//! backends and the audio thread, read by anyone.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};
use std::sync::{Arc, Mutex};

/// Engine status shared with surfaces and systemd; written by backend threads.
#[derive(Debug, Default)]
pub struct EngineStatus {
    /// Sample rate in Hz (0 while not running).
    pub sample_rate: AtomicU32,
    /// Frames per period.
    pub period: AtomicU32,
    /// Xruns reported by the backend since start.
    pub xruns: AtomicU64,
    /// Process cycles that did not follow on from the previous one on the
    /// backend's frame clock (JACK ran us late: twice in one period, or not
    /// at all). Each one glitches the output for a period or two.
    pub cycle_breaks: AtomicU64,
    /// Changes the audio thread has taken off its queue: a client can wait
    /// for its change to be playing instead of guessing how long it takes.
    pub changes_taken: AtomicU64,
    /// Slot-layout handovers the audio thread has finished.
    pub layout_changes: AtomicU64,
    /// DSP load in 1/1000 of the period.
    pub dsp_load_permille: AtomicU32,
    /// Whether audio is being processed now.
    pub running: AtomicBool,
    /// Parameter changes dropped because the queue was full (never expected).
    pub queue_overflows: AtomicU64,
    /// Latency of the chain now playing, in samples (written by the audio thread).
    pub latency: Arc<AtomicU32>,
    /// Latency the monitor path adds after the chain (a true-peak ceiling's
    /// lookahead), in samples; the main outputs report it on top of the chain's.
    pub monitor_latency: AtomicU32,
    /// One-line human state: "running: JACK 48000 Hz, 256 frames".
    pub state: Mutex<String>,
}

impl EngineStatus {
    /// Sets the human state line and logs it when it changed.
    pub fn set_state(&self, text: impl Into<String>) {
        let text = text.into();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if *state != text {
            tracing::info!("audio: {text}");
            *state = text;
        }
    }

    /// The human state line.
    pub fn state(&self) -> String {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
