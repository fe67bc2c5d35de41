//! The null backend: an internally clocked audio thread with no hardware, for
//! `rackd demo` without a JACK server and for tests. It optionally feeds a
//! 1 kHz test tone into the chain so meters move.

use super::{Backend, EngineControl, Running};
use crate::config::AudioConfig;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Runs the chain on a timer thread at the configured rate and period.
pub struct NullBackend {
    sample_rate: u32,
    period: usize,
    tone: Option<f32>,
}

impl NullBackend {
    /// A null backend as the audio config describes it.
    pub fn new(audio: &AudioConfig) -> Self {
        NullBackend {
            sample_rate: audio.sample_rate,
            period: audio.period as usize,
            tone: audio.test_tone_db.map(rackd_dsp::db_to_gain),
        }
    }
}

impl Backend for NullBackend {
    fn name(&self) -> &'static str {
        "null"
    }

    fn start(self: Box<Self>, control: Arc<EngineControl>) -> anyhow::Result<Running> {
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("rackd-null-audio".into())
            .spawn(move || self.run(&control, &stop_flag))?;
        Ok(Running::new("null", stop, thread))
    }
}

impl NullBackend {
    fn run(&self, control: &EngineControl, stop: &AtomicBool) {
        let status = control.status();
        let n = self.period;
        let mut rt = control.build_rt(self.sample_rate, n);
        let (mut in_l, mut in_r) = (vec![0f32; n], vec![0f32; n]);
        let (mut out_l, mut out_r) = (vec![0f32; n], vec![0f32; n]);
        let period = Duration::from_secs_f64(n as f64 / self.sample_rate as f64);
        let step = 2.0 * std::f64::consts::PI * 1000.0 / self.sample_rate as f64;
        let mut phase = 0f64;
        status
            .sample_rate
            .store(self.sample_rate, Ordering::Relaxed);
        status.period.store(n as u32, Ordering::Relaxed);
        status.running.store(true, Ordering::Relaxed);
        status.set_state(format!(
            "running: null backend {} Hz, {n} frames",
            self.sample_rate
        ));
        let mut deadline = Instant::now();
        let mut load_mean = 0f64;
        while !stop.load(Ordering::Relaxed) {
            if let Some(amp) = self.tone {
                for i in 0..n {
                    let x = (phase.sin() as f32) * amp;
                    in_l[i] = x;
                    in_r[i] = x;
                    phase = (phase + step) % (2.0 * std::f64::consts::PI);
                }
            }
            let started = Instant::now();
            rt.process(&in_l, &in_r, &mut out_l, &mut out_r);
            let load = started.elapsed().as_secs_f64() / period.as_secs_f64();
            load_mean += (load - load_mean) * 0.01;
            status
                .dsp_load_permille
                .store((load_mean * 1000.0) as u32, Ordering::Relaxed);
            deadline += period;
            let now = Instant::now();
            if now > deadline + period {
                // Late by more than a period: count it like JACK counts an xrun.
                status.xruns.fetch_add(1, Ordering::Relaxed);
                deadline = now;
            } else if deadline > now {
                std::thread::sleep(deadline - now);
            }
        }
        status.running.store(false, Ordering::Relaxed);
        status.set_state("stopped");
    }
}
