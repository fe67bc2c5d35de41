//! The print pass: recall a song, play a file through the live chain (analog
//! inserts included) in real time, record the chain's output and write it
//! aligned with the source to the sample. This is how a hybrid master is made.
//!
//! The audio thread does the playing and recording ([`crate::engine::rt::PrintTake`]);
//! this module prepares the take, follows it and writes the file.

use crate::audio_file::{self, WavFormat};
use crate::engine::EngineControl;
use crate::hub::{HubHandle, RecallReport};
use crate::outboard::Outboard;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What to print.
#[derive(Debug, Clone)]
pub struct PrintRequest {
    /// Song to recall first.
    pub song: String,
    /// Source file (WAV, FLAC, AIFF; mono or stereo) on the daemon's machine.
    pub input: PathBuf,
    /// WAV file to write.
    pub output: PathBuf,
    /// 16, 24 or 32 (float).
    pub bits: u32,
}

/// What a finished print did.
#[derive(Debug, Clone, Serialize)]
pub struct PrintReport {
    /// Song and revision recalled.
    pub song: String,
    /// Revision recalled.
    pub rev: u32,
    /// File written.
    pub output: String,
    /// Frames written (the source's length).
    pub frames: usize,
    /// Sample rate.
    pub sample_rate: u32,
    /// Chain latency removed, in samples.
    pub latency: usize,
    /// Outboard lines of the recall (what was set, what waits for hands).
    pub devices: Vec<crate::hub::DeviceReport>,
}

/// The print under way (one at a time): its cancel flag, set from the start
/// (file loading and recall included) and shared with the take.
#[derive(Default)]
pub struct Printer {
    current: Mutex<Option<Arc<AtomicBool>>>,
}

/// How long the chain gets after the recall before the take starts: value
/// glides (20 ms) and a layout handover (warm-up and crossfade) end well inside it.
const SETTLE_BEFORE_TAKE: Duration = Duration::from_millis(400);

impl Printer {
    /// Stops the print under way; false when none runs.
    pub fn cancel(&self) -> bool {
        match self
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            Some(cancel) => {
                cancel.store(true, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }

    /// Whether a print runs.
    pub fn busy(&self) -> bool {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Runs a whole print; `progress` gets the fraction done now and then.
    pub async fn print(
        &self,
        hub: &HubHandle,
        outboard: Option<&Arc<Outboard>>,
        engine: &Arc<EngineControl>,
        req: &PrintRequest,
        progress: impl Fn(f32),
    ) -> Result<PrintReport, String> {
        let format = WavFormat::from_bits(req.bits)
            .ok_or_else(|| format!("bits {}: choose 16, 24 or 32", req.bits))?;
        if req.output == req.input {
            return Err("the output would overwrite the source; choose another file".into());
        }
        let dir = req
            .output
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        if !dir.is_dir() {
            return Err(format!("{}: no such directory", dir.display()));
        }
        let cancel = Arc::new(AtomicBool::new(false));
        {
            let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
            if current.is_some() {
                return Err(
                    "a print is already running; cancel it with /rackd/print/cancel".into(),
                );
            }
            *current = Some(cancel.clone());
        }
        let result = run(hub, outboard, engine, req, format, cancel, progress).await;
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
        result
    }
}

/// One print, from loading the source to writing the file.
async fn run(
    hub: &HubHandle,
    outboard: Option<&Arc<Outboard>>,
    engine: &Arc<EngineControl>,
    req: &PrintRequest,
    format: WavFormat,
    cancel: Arc<AtomicBool>,
    progress: impl Fn(f32),
) -> Result<PrintReport, String> {
    let input = req.input.clone();
    let (info, source) = tokio::task::spawn_blocking(move || {
        let (mut left, mut right) = (Vec::new(), Vec::new());
        let info = audio_file::decode(&input, 2, false, &mut |_, planes| {
            left.extend_from_slice(planes[0]);
            right.extend_from_slice(planes.get(1).copied().unwrap_or(planes[0]));
        });
        info.map(|i| (i, [left, right]))
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("{}: {e}", req.input.display()))?;
    let frames = source[0].len();
    if frames == 0 {
        return Err(format!("{}: no audio in the file", req.input.display()));
    }
    let running = engine.status().sample_rate.load(Ordering::Relaxed);
    if running != 0 && running != info.sample_rate {
        return Err(format!(
            "{} is at {} Hz but the engine runs at {running} Hz; convert it first",
            req.input.display(),
            info.sample_rate
        ));
    }

    let report: RecallReport = match outboard {
        Some(o) => {
            crate::outboard::recall::recall(
                hub,
                o,
                &req.song,
                None,
                crate::outboard::recall::Mode::Full,
            )
            .await
        }
        None => hub.recall(&req.song, None).await,
    }
    .map_err(|e| format!("recall of {}: {e}", req.song))?;
    if let Some(failed) = report
        .devices
        .iter()
        .find(|d| d.result.starts_with("failed"))
    {
        return Err(format!(
            "recall of {}: {} {}; nothing printed",
            req.song, failed.device, failed.result
        ));
    }
    // The engine follows the hub on its own task; make sure the recalled
    // values and layout are in before the take is queued behind them.
    let state = hub.state().await.map_err(|e| e.to_string())?;
    engine.apply_state(hub.tree(), &state);
    let sync = engine.clone();
    tokio::task::spawn_blocking(move || sync.sync_layout())
        .await
        .map_err(|e| e.to_string())?;
    tokio::time::sleep(SETTLE_BEFORE_TAKE).await;

    if cancel.load(Ordering::SeqCst) {
        return Err("print cancelled; nothing written".into());
    }
    let xruns_before = engine.status().xruns.load(Ordering::Relaxed);
    let job = engine.start_print(source, info.sample_rate, cancel)?;
    tracing::info!(
        "print of {}: {} frames from {} to {}",
        req.song,
        frames,
        req.input.display(),
        req.output.display()
    );
    let seconds = (frames + job.latency) as f64 / info.sample_rate as f64;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds + 10.0);
    let mut last_report = Instant::now();
    let take = loop {
        if let Some(take) = engine.finished_print() {
            break take;
        }
        if !engine.status().running.load(Ordering::Relaxed) {
            // The backend lost its device or server: the take went with it.
            return Err("the audio engine stopped during the print; nothing written".into());
        }
        if Instant::now() > deadline {
            job.cancel.store(true, Ordering::SeqCst);
            return Err(
                "the audio engine stopped playing the print (is the backend running?)".into(),
            );
        }
        if last_report.elapsed() >= Duration::from_millis(250) {
            let done = job.position.load(Ordering::Relaxed) as f32;
            progress((done / (frames + job.latency) as f32).min(1.0));
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    if job.cancel.load(Ordering::SeqCst) && !take.complete() {
        return Err("print cancelled; nothing written".into());
    }
    if take.latency_changed {
        return Err(
            "the chain latency changed during the print (a measurement or a layout change); \
             nothing written, print again"
                .into(),
        );
    }
    let xruns = engine.status().xruns.load(Ordering::Relaxed) - xruns_before;
    if xruns > 0 {
        // A dropout through the gear: the return no longer lines up.
        return Err(format!(
            "{xruns} xrun(s) during the print: the result may have a dropout or a \
             misaligned return; nothing written, print again"
        ));
    }
    let latency = take.latency.unwrap_or(0);
    if !take.complete() {
        return Err("the print stopped early; nothing written".into());
    }
    progress(1.0);
    let output = req.output.clone();
    let rate = info.sample_rate;
    tokio::task::spawn_blocking(move || {
        let [l, r] = &take.output;
        audio_file::write_atomically(&output, |path| {
            audio_file::write_wav(
                path,
                rate,
                format,
                &l[latency..latency + frames],
                &r[latency..latency + frames],
            )
        })
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("cannot write {}: {e}", req.output.display()))?;
    tracing::info!("print of {} written to {}", req.song, req.output.display());
    Ok(PrintReport {
        song: report.song,
        rev: report.rev,
        output: req.output.display().to_string(),
        frames,
        sample_rate: info.sample_rate,
        latency,
        devices: report.devices,
    })
}
