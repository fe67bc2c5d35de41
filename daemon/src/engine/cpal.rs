//! The cpal backend: for machines without a JACK server. It opens a device by
//! name (or the host's default) on cpal's ALSA host, or on cpal's JACK host,
//! with the configured sample rate, buffer size and channel count, and runs
//! the same chain as the other backends: channels 1 and 2 are the main pair,
//! hardware inserts use others (`send_channels`, `return_channels`).
//!
//! cpal gives an input stream and an output stream, each with its own callback
//! (on the JACK host, two clients: `<name>_in` and `<name>_out`). The input
//! callback ([`Capture::push`]) writes interleaved frames into a lock-free SPSC
//! ring; the output callback ([`Playback::render`]) reads them back into
//! preallocated planar buffers, runs [`RtProcess`] and interleaves the result
//! into the device buffer. Neither allocates, locks, logs or blocks. The ring
//! is primed with one period of silence, so either callback may run first.
//!
//! Like the JACK backend it never gives up: while the device cannot be opened
//! it says why and retries; when a stream reports the device gone (or stops
//! calling back) it closes everything and opens it again.
//!
//! - `stream.rs`: the audio-thread side (the two callbacks and their ring).
//! - `device.rs`: finding and opening devices, choosing a sample format.
//! - `error.rs`: what the streams report, and what it means.

mod device;
mod error;
mod stream;

pub use stream::{Capture, InsertChannels, Playback, ring};

use device::pick_format;
use error::{ErrorSink, kind_text};
use stream::{Side, build_stream};

use super::{Backend, EngineControl, EngineStatus, Running};
use crate::config::{AudioConfig, CpalHost};
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{BufferSize, StreamConfig};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// How often to retry while the device cannot be opened.
const RETRY: Duration = Duration::from_secs(1);
/// The main pair: device channels 1 and 2.
const MAIN: usize = 2;
/// Period assumed when neither the config nor the device tells one.
const DEFAULT_PERIOD: usize = 1024;
/// Without an output callback for this long the stream counts as gone.
const STALL: Duration = Duration::from_secs(3);
/// Output callbacks at stream start during which the input may run ahead
/// without it counting as an xrun (the streams start one after the other).
const START_CALLBACKS: u64 = 16;
/// Extra room in the input→output ring beyond a few periods, in frames.
const RING_SLACK_FRAMES: usize = 16_384;

/// The JACK host's device type; its constructors take the client name and the
/// auto-connect switch, which cpal's `Host` would otherwise fix to "on".
type JackDevice = <cpal::platform::JackHost as HostTrait>::Device;

/// Runs the chain between a cpal input and output stream, managed by its own thread.
pub struct CpalBackend {
    audio: AudioConfig,
}

impl CpalBackend {
    /// A cpal backend as the audio config describes it.
    pub fn new(audio: &AudioConfig) -> Self {
        CpalBackend {
            audio: audio.clone(),
        }
    }

    fn host_name(&self) -> &'static str {
        match self.audio.host {
            CpalHost::Alsa => "ALSA",
            CpalHost::Jack => "JACK",
        }
    }

    /// What we open, for messages: the ALSA device or the JACK client base name.
    fn device_label(&self) -> String {
        match (self.audio.host, &self.audio.device) {
            (CpalHost::Alsa, Some(d)) => format!("device \"{d}\""),
            (CpalHost::Alsa, None) => "default device".into(),
            (CpalHost::Jack, _) => {
                let base = self.jack_base();
                format!("clients \"{base}_in\"/\"{base}_out\"")
            }
        }
    }

    /// JACK host: the client name base (`device`, else `client_name`).
    fn jack_base(&self) -> &str {
        self.audio
            .device
            .as_deref()
            .unwrap_or(&self.audio.client_name)
    }
}

impl Backend for CpalBackend {
    fn name(&self) -> &'static str {
        "cpal"
    }

    fn start(self: Box<Self>, control: Arc<EngineControl>) -> anyhow::Result<Running> {
        if self.audio.host == CpalHost::Jack {
            super::jack::quiet_libjack();
        }
        control
            .status()
            .set_state(format!("opening the cpal {} device", self.host_name()));
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("rackd-cpal".into())
            .spawn(move || self.manage(&control, &stop_flag))?;
        Ok(Running::new("cpal", stop, thread))
    }
}

impl CpalBackend {
    /// Opens, runs until the device goes away or we are stopped, repeats.
    fn manage(&self, control: &EngineControl, stop: &AtomicBool) {
        let status = control.status().clone();
        super::run_until_stopped(
            &status,
            stop,
            RETRY,
            || self.run_streams(control, stop, &status),
            |e| {
                format!(
                    "waiting for cpal {} {} ({e:#})",
                    self.host_name(),
                    self.device_label()
                )
            },
        );
    }

    /// One lifetime of the streams. Ok when stopped or when the device went away.
    fn run_streams(
        &self,
        control: &EngineControl,
        stop: &AtomicBool,
        status: &Arc<EngineStatus>,
    ) -> anyhow::Result<()> {
        let devices = self.open()?;
        let rate = self.audio.sample_rate;
        let channels = usize::from(self.audio.channels).max(MAIN);
        let in_format = pick_format(
            devices.input.supported_input_configs()?.map(|c| {
                (
                    c.channels(),
                    c.min_sample_rate(),
                    c.max_sample_rate(),
                    c.sample_format(),
                )
            }),
            rate,
            channels,
            "input",
        )?;
        let out_format = pick_format(
            devices.output.supported_output_configs()?.map(|c| {
                (
                    c.channels(),
                    c.min_sample_rate(),
                    c.max_sample_rate(),
                    c.sample_format(),
                )
            }),
            rate,
            channels,
            "output",
        )?;
        let config = StreamConfig {
            channels: channels as u16,
            sample_rate: rate,
            buffer_size: match self.audio.buffer_size {
                Some(n) => BufferSize::Fixed(n),
                None => BufferSize::Default,
            },
        };
        let period = self
            .audio
            .buffer_size
            .map(|n| n as usize)
            .or(devices.period)
            .unwrap_or(DEFAULT_PERIOD)
            .clamp(16, 8192);
        let (producer, consumer) = ring(period, period, channels);
        let inserts = control
            .slots()
            .iter()
            .filter(|s| s.kind == rackd_dsp::SlotKind::Insert)
            .map(InsertChannels::of)
            .collect();
        let playback = Playback::new(
            control.build_rt(rate, period.clamp(64, 8192)),
            consumer,
            channels,
            period.clamp(64, 8192),
            period,
            rate,
            status.clone(),
        )
        .with_inserts(inserts);
        let callbacks = playback.callbacks();
        let sink = ErrorSink {
            status: status.clone(),
            fatal: Arc::new(AtomicU8::new(0)),
        };
        // Both or nothing: a device that cannot capture is reported and retried.
        let output = build_stream(
            &devices.output,
            out_format,
            &config,
            Side::Output(Box::new(playback)),
            &sink,
        )
        .map_err(|e| anyhow::anyhow!("output stream: {e}"))?;
        let input = build_stream(
            &devices.input,
            in_format,
            &config,
            Side::Input(Capture::new(producer, channels)),
            &sink,
        )
        .map_err(|e| anyhow::anyhow!("input stream: {e}"))?;
        input.play()?;
        output.play()?;
        if self.audio.host == CpalHost::Jack {
            self.connect_jack_ports();
        }
        status.sample_rate.store(rate, Ordering::Relaxed);
        status.period.store(period as u32, Ordering::Relaxed);
        status.running.store(true, Ordering::Relaxed);
        status.set_state(format!(
            "running: cpal {} {}, {rate} Hz, {} frames",
            self.host_name(),
            self.device_label(),
            match self.audio.buffer_size {
                Some(n) => n.to_string(),
                None => format!("~{period}"),
            }
        ));
        let mut seen = callbacks.load(Ordering::Relaxed);
        let mut last_progress = Instant::now();
        let mut ended = None;
        while !stop.load(Ordering::Relaxed) {
            let code = sink.fatal.load(Ordering::SeqCst);
            if code != 0 {
                ended = Some(kind_text(code).to_string());
                break;
            }
            let now = callbacks.load(Ordering::Relaxed);
            if now != seen {
                seen = now;
                last_progress = Instant::now();
            } else if last_progress.elapsed() > STALL {
                ended = Some(format!("no audio callbacks for {}s", STALL.as_secs()));
                break;
            }
            super::sleep_unless_stopped(Duration::from_millis(200), stop);
        }
        // The state line first: whoever sees `running` false also sees why.
        if let Some(why) = ended {
            status.set_state(format!(
                "cpal {} {} went away ({why}); reopening",
                self.host_name(),
                self.device_label()
            ));
        }
        status.running.store(false, Ordering::Relaxed);
        // Dropping the streams here also drops the chain, off the audio thread.
        drop(input);
        drop(output);
        Ok(())
    }

    /// JACK host: wires our clients' ports as `connect_inputs`/`connect_outputs` say.
    fn connect_jack_ports(&self) {
        if self.audio.connect_inputs.is_empty() && self.audio.connect_outputs.is_empty() {
            return;
        }
        let base = self.jack_base();
        let client = match ::jack::Client::new(
            &format!("{base}_patch"),
            ::jack::ClientOptions::NO_START_SERVER,
        ) {
            Ok((c, _)) => c,
            Err(e) => {
                tracing::warn!("cannot open a JACK client to connect ports: {e}");
                return;
            }
        };
        for (i, src) in self.audio.connect_inputs.iter().enumerate() {
            super::jack::connect(&client, src, &format!("{base}_in:in_{i}"));
        }
        for (i, dst) in self.audio.connect_outputs.iter().enumerate() {
            super::jack::connect(&client, &format!("{base}_out:out_{i}"), dst);
        }
    }
}
