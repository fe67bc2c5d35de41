//! Handing a print take to the audio thread and getting it back.

use super::EngineControl;
use super::rt::PrintTake;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A print take under way, seen from the control side.
#[derive(Debug, Clone)]
pub struct PrintJob {
    /// Chain latency when it was queued.
    pub latency: usize,
    /// Frames played so far.
    pub position: Arc<AtomicU64>,
    /// Set to stop it.
    pub cancel: Arc<AtomicBool>,
}

impl EngineControl {
    /// Starts playing `input` through the live chain in place of the inputs
    /// and recording the chain's output. Fails when the engine does not run
    /// at `sample_rate` or a take is already playing.
    /// `cancel` stops it early.
    pub fn start_print(
        &self,
        input: [Vec<f32>; 2],
        sample_rate: u32,
        cancel: Arc<AtomicBool>,
    ) -> Result<PrintJob, String> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let rt = inner.rt.as_mut().ok_or("the audio engine is not running")?;
        if rt.sample_rate != sample_rate {
            return Err(format!(
                "the file is at {sample_rate} Hz but the engine runs at {} Hz; convert it first",
                rt.sample_rate
            ));
        }
        while rt.takes_done.pop().is_ok() {}
        let latency = self.status.latency.load(Ordering::Relaxed) as usize;
        let take = Box::new(PrintTake::new(input, latency, cancel));
        let job = PrintJob {
            latency,
            position: take.position.clone(),
            cancel: take.cancel.clone(),
        };
        rt.takes
            .push(take)
            .map_err(|_| "a print is already waiting to start".to_string())?;
        Ok(job)
    }

    /// The take that finished (or was cancelled), if any.
    pub fn finished_print(&self) -> Option<Box<PrintTake>> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.rt.as_mut()?.takes_done.pop().ok()
    }
}
