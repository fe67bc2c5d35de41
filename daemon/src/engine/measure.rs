//! Measuring a hardware insert's round trip: the burst out of its send,
//! the returns captured and searched (the pure half is `rackd_dsp::latency`).

use super::rt::RtCommand;
use super::{EngineControl, EngineError};
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
    pub fn measure(&self, slot: usize) -> Result<Measured, EngineError> {
        use rackd_dsp::latency::{burst, find_delay};
        let cfg = self.slots.get(slot).ok_or(EngineError::NoSuchSlot)?;
        if cfg.kind != SlotKind::Insert {
            return Err(EngineError::NotAnInsert {
                slot: cfg.id.clone(),
                kind: cfg.kind.name(),
            });
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
                return Err(EngineError::XrunsEveryTry {
                    slot: cfg.id.clone(),
                    tries: MEASURE_TRIES,
                });
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
        let found = |channel: &'static str, x: &[f32]| {
            find_delay(&reference, x).map_err(|e| EngineError::NotFound {
                slot: cfg.id.clone(),
                channel,
                why: e.to_string(),
            })
        };
        let (l, r) = (found("L", &left)?, found("R", &right)?);
        if l.delay != r.delay || l.inverted != r.inverted {
            let side = |d: &rackd_dsp::latency::Found| {
                format!(
                    "{} samples{}",
                    d.delay,
                    if d.inverted { " inverted" } else { "" }
                )
            };
            return Err(EngineError::ReturnsDiffer {
                slot: cfg.id.clone(),
                left: side(&l),
                right: side(&r),
            });
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
    fn capture_burst(
        &self,
        slot: usize,
        cfg: &SlotConfig,
    ) -> Result<(Vec<f32>, Vec<f32>), EngineError> {
        use rackd_dsp::latency::CAPTURE_LEN;
        let (mut capture, generation, sample_rate) = {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            let rt = inner.rt.as_mut().ok_or(EngineError::NotRunning)?;
            if !rt.layout.contains(&slot) {
                return Err(EngineError::NotInChain {
                    slot: cfg.id.clone(),
                });
            }
            let capture = rt.captures[slot]
                .take()
                .ok_or(EngineError::MeasurementRunning)?;
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
            return Err(EngineError::NoAudio);
        }
        Ok((left, right))
    }
}
