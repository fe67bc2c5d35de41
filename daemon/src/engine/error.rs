//! Why the engine refused a measurement or a print take; each says what to do.

/// A refusal of [`EngineControl::measure`](super::EngineControl::measure) or
/// [`EngineControl::start_print`](super::EngineControl::start_print).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    #[error("the audio engine is not running")]
    NotRunning,
    #[error("no such slot")]
    NoSuchSlot,
    #[error("{slot} is a {kind} slot, not a hardware insert")]
    NotAnInsert { slot: String, kind: &'static str },
    #[error("{slot} is not in the chain (its active switch is off)")]
    NotInChain { slot: String },
    #[error("a measurement of this insert is already running")]
    MeasurementRunning,
    #[error(
        "{slot}: xruns during each of {tries} tries; the audio cannot keep up right now \
         (check the DSP load and other JACK clients), then measure again"
    )]
    XrunsEveryTry { slot: String, tries: usize },
    #[error("no audio came through the engine in time; is the audio backend running?")]
    NoAudio,
    /// The burst was not found in a return (silence, noise, echoes).
    #[error("{slot} return {channel}: {why}")]
    NotFound {
        slot: String,
        channel: &'static str,
        why: String,
    },
    #[error("{slot}: the returns differ (L {left}, R {right}); check the wiring")]
    ReturnsDiffer {
        slot: String,
        left: String,
        right: String,
    },
    #[error(
        "the file is at {file_rate} Hz but the engine runs at {engine_rate} Hz; convert it first"
    )]
    RateMismatch { file_rate: u32, engine_rate: u32 },
    #[error("a print is already waiting to start")]
    PrintWaiting,
}
