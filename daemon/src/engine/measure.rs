//! Measuring a hardware insert's round trip: the burst out of its send,
//! the returns captured and searched (the pure half is `rackd_dsp::latency`).

use super::EngineControl;
use super::rt::RtCommand;
use crate::config::SlotConfig;
use rackd_dsp::{HardwareInsert, SlotKind};
pub use rackd_protocol::api::Measured;
use std::sync::atomic::Ordering;

/// Captures a measurement takes at most before it gives up on xruns.
pub const MEASURE_TRIES: usize = 10;

impl EngineControl {
    /// Measures the round trip of insert slot `slot`: sends the test burst,
    /// records the returns and finds it in them. A capture during which the
    /// backend reported an xrun or a cycle break is taken again (a dropout
    /// in the burst or its return would make the result a guess), for up to
    /// [`MEASURE_TRIES`] tries. Blocks for about half a second per try; call
    /// it off the async threads.
    pub fn measure(&self, slot: usize) -> Result<Measured, String> {
        use rackd_dsp::latency::{burst, find_delay};
        let cfg = self.slots.get(slot).ok_or("no such slot")?;
        if cfg.kind != SlotKind::Insert {
            return Err(format!(
                "{} is a {} slot, not a hardware insert",
                cfg.id,
                cfg.kind.name()
            ));
        }
        let disturbances = || {
            self.status.xruns.load(Ordering::SeqCst)
                + self.status.cycle_breaks.load(Ordering::SeqCst)
        };
        let mut tries = 0;
        let (left, right) = loop {
            tries += 1;
            let before = disturbances();
            let captured = self.capture_burst(slot, cfg)?;
            // Xruns of other clients come on JACK's notification thread,
            // shortly after the cycle they happened in.
            std::thread::sleep(std::time::Duration::from_millis(50));
            if disturbances() == before {
                break captured;
            }
            if tries == MEASURE_TRIES {
                return Err(format!(
                    "{}: xruns during each of {MEASURE_TRIES} tries; the audio cannot keep up \
                     right now (check the DSP load and other JACK clients), then measure again",
                    cfg.id
                ));
            }
            tracing::debug!(
                "insert {}: xrun during the measurement; measuring again",
                cfg.id
            );
        };
        if tries > 1 {
            tracing::info!(
                "insert {}: measured on try {tries} (xruns during the earlier ones)",
                cfg.id
            );
        }
        let reference = burst(HardwareInsert::BURST_LEVEL);
        let found = |ch: &str, x: &[f32]| {
            find_delay(&reference, x).map_err(|e| format!("{} return {ch}: {e}", cfg.id))
        };
        let (l, r) = (found("L", &left)?, found("R", &right)?);
        if l.delay != r.delay || l.inverted != r.inverted {
            return Err(format!(
                "{}: the returns differ (L {} samples{}, R {} samples{}); check the wiring",
                cfg.id,
                l.delay,
                if l.inverted { " inverted" } else { "" },
                r.delay,
                if r.inverted { " inverted" } else { "" },
            ));
        }
        Ok(Measured {
            latency: l.delay,
            inverted: l.inverted,
            gain_db: (l.gain_db + r.gain_db) / 2.0,
            confidence_db: l.confidence_db.min(r.confidence_db),
        })
    }

    /// One measurement capture: the burst out of insert `slot`'s send and
    /// [`CAPTURE_LEN`](rackd_dsp::latency::CAPTURE_LEN) frames of its returns.
    fn capture_burst(&self, slot: usize, cfg: &SlotConfig) -> Result<(Vec<f32>, Vec<f32>), String> {
        use rackd_dsp::latency::CAPTURE_LEN;
        let (mut capture, generation, sample_rate) = {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            let rt = inner.rt.as_mut().ok_or("the audio engine is not running")?;
            if !rt.layout.contains(&slot) {
                return Err(format!(
                    "{} is not in the chain (its active switch is off)",
                    cfg.id
                ));
            }
            let capture = rt.captures[slot]
                .take()
                .ok_or("a measurement of this insert is already running")?;
            (capture, rt.generation, rt.sample_rate)
        };
        while capture.pop().is_ok() {}
        {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            self.send(&mut inner, RtCommand::Measure { slot: slot as u16 });
        }
        let need = 2 * CAPTURE_LEN;
        let timeout =
            std::time::Duration::from_secs_f64(CAPTURE_LEN as f64 / sample_rate as f64 + 3.0);
        let started = std::time::Instant::now();
        while capture.slots() < need && started.elapsed() < timeout {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let complete = capture.slots() >= need;
        let mut left = Vec::with_capacity(CAPTURE_LEN);
        let mut right = Vec::with_capacity(CAPTURE_LEN);
        while left.len() < CAPTURE_LEN
            && let (Ok(l), Ok(r)) = (capture.pop(), capture.pop())
        {
            left.push(l);
            right.push(r);
        }
        {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(rt) = inner.rt.as_mut()
                && rt.generation == generation
            {
                rt.captures[slot] = Some(capture);
            }
        }
        if !complete {
            return Err(
                "no audio came through the engine in time; is the audio backend running?".into(),
            );
        }
        Ok((left, right))
    }
}
