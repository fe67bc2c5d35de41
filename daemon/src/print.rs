//! The print pass: recall a song, play a file through the live chain (analog
//! inserts included) in real time, record the chain's output and write it
//! aligned with the source to the sample. This is how a hybrid master is made.
//!
//! The audio thread does the playing and recording ([`crate::engine::rt::PrintTake`]);
//! this module prepares the take, follows it and writes the file.

use crate::audio_file::{self, WavFormat};
use crate::engine::EngineControl;
use crate::files::{FileRoots, InputFile, OutputFile};
use crate::hub::HubHandle;
use crate::outboard::recall::RecallService;
use rackd_protocol::api::RecallMode;
pub use rackd_protocol::api::{PrintReport, PrintRequest};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The print under way (one at a time): its cancel flag, set from the start
/// (file loading and recall included) and shared with the take; and where
/// the files a client names may be.
pub struct Printer {
    current: Mutex<Option<Arc<AtomicBool>>>,
    files: FileRoots,
}

/// The longest source a print takes (it is held in memory, twice).
const MAX_PRINT_SECONDS: u64 = 90 * 60;
/// How long loading the source may take before the print gives up.
const MAX_LOAD: Duration = Duration::from_secs(120);

/// How long the chain gets after the recall before the take starts: value
/// glides (20 ms) and a layout handover (warm-up and crossfade) end well inside it.
const SETTLE_BEFORE_TAKE: Duration = Duration::from_millis(400);

impl Printer {
    /// A printer that reads and writes only where `files` says.
    pub fn new(files: FileRoots) -> Self {
        Printer {
            current: Mutex::new(None),
            files,
        }
    }

    /// Where clients' files may be.
    pub fn files(&self) -> &FileRoots {
        &self.files
    }

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
        recall: &RecallService,
        engine: &Arc<EngineControl>,
        req: &PrintRequest,
        progress: impl Fn(f32),
    ) -> Result<PrintReport, String> {
        let format = WavFormat::from_bits(req.bits)
            .ok_or_else(|| format!("bits {}: choose 16, 24 or 32", req.bits))?;
        // The default directories are made at start; should the state
        // directory have been read-only then, make them now.
        let _ = self.files.create();
        let output = self
            .files
            .output(&req.output, req.overwrite)
            .map_err(|e| e.to_string())?;
        let input = self
            .files
            .open_input(&req.input)
            .map_err(|e| e.to_string())?;
        if output.path() == input.path {
            return Err("the output would overwrite the source; choose another file".into());
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
        let files = Files { input, output };
        let result = run(hub, recall, engine, req, files, format, cancel, progress).await;
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
        result
    }
}

/// The print's source, opened, and where its result goes.
struct Files {
    input: InputFile,
    output: OutputFile,
}

/// Loads the source on a blocking thread; stops when `cancel` is set, the
/// source is longer than a print takes, or loading takes too long.
async fn load(
    input: InputFile,
    name: &str,
    cancel: &Arc<AtomicBool>,
) -> Result<(audio_file::AudioInfo, [Vec<f32>; 2]), String> {
    let cancel = cancel.clone();
    let started = Instant::now();
    let mut why: Option<String> = None;
    let loaded = tokio::task::spawn_blocking(move || {
        let (mut left, mut right) = (Vec::new(), Vec::new());
        let mut stop = None;
        let info =
            audio_file::decode_file(input.file, &input.path, 2, false, &mut |rate, planes| {
                left.extend_from_slice(planes[0]);
                right.extend_from_slice(planes.get(1).copied().unwrap_or(planes[0]));
                stop = if cancel.load(Ordering::SeqCst) {
                    Some("print cancelled; nothing written".to_string())
                } else if left.len() as u64 > MAX_PRINT_SECONDS * u64::from(rate) {
                    Some(format!(
                        "longer than a print takes ({} minutes); split it",
                        MAX_PRINT_SECONDS / 60
                    ))
                } else if started.elapsed() > MAX_LOAD {
                    Some(format!("loading took longer than {} s", MAX_LOAD.as_secs()))
                } else {
                    None
                };
                stop.is_none()
            });
        (info.map(|i| (i, [left, right])), stop)
    })
    .await
    .map_err(|e| e.to_string())?;
    let (result, stop) = loaded;
    if let Some(stop) = stop {
        why = Some(stop);
    }
    match (result, why) {
        (_, Some(why)) if why.starts_with("print cancelled") => Err(why),
        (_, Some(why)) => Err(format!("{name}: {why}")),
        (Err(e), None) => Err(format!("{name}: {e}")),
        (Ok(loaded), None) => Ok(loaded),
    }
}

/// One print, from loading the source to writing the file.
#[allow(clippy::too_many_arguments)]
async fn run(
    hub: &HubHandle,
    recall: &RecallService,
    engine: &Arc<EngineControl>,
    req: &PrintRequest,
    files: Files,
    format: WavFormat,
    cancel: Arc<AtomicBool>,
    progress: impl Fn(f32),
) -> Result<PrintReport, String> {
    let Files { input, output } = files;
    let (info, source) = load(input, &req.input, &cancel).await?;
    let frames = source[0].len();
    let running = engine.status().sample_rate.load(Ordering::Relaxed);
    if running != 0 && running != info.sample_rate {
        return Err(format!(
            "{} is at {} Hz but the engine runs at {running} Hz; convert it first",
            req.input, info.sample_rate
        ));
    }

    let report = recall
        .recall(&req.song, None, RecallMode::Full)
        .await
        .map_err(|e| format!("recall of {}: {e}", req.song))?;
    if let Some(failed) = report.failed() {
        return Err(format!(
            "recall of {}: {} {}; nothing printed",
            req.song, failed.device, failed.outcome
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
        req.input,
        output.path().display()
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
    let rate = info.sample_rate;
    let written = output.path();
    tokio::task::spawn_blocking(move || {
        let [l, r] = &take.output;
        output.write(|path| {
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
    .map_err(|e| e.to_string())?;
    tracing::info!("print of {} written to {}", req.song, written.display());
    Ok(PrintReport {
        song: report.song,
        rev: report.rev,
        output: written.display().to_string(),
        frames,
        sample_rate: info.sample_rate,
        latency,
        devices: report.devices,
    })
}
