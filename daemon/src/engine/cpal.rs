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

use super::{Backend, EngineControl, EngineStatus, Running, rt::RtProcess};
use crate::config::{AudioConfig, CpalHost};
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{
    BufferSize, ErrorKind, FromSample, HostId, Sample, SampleFormat, SizedSample, StreamConfig,
    SupportedBufferSize,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
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

// ---------------------------------------------------------------- audio-thread side

/// The input callback's state: device frames into the ring.
pub struct Capture {
    ring: rtrb::Producer<f32>,
    channels: usize,
}

impl Capture {
    /// Input side of a ring that carries interleaved frames of `channels` samples.
    pub fn new(ring: rtrb::Producer<f32>, channels: usize) -> Self {
        Capture {
            ring,
            channels: channels.max(MAIN),
        }
    }

    /// One input callback: converts interleaved frames to `f32` and queues as
    /// many as fit (the rest is dropped; the output side resynchronises).
    /// Never allocates, locks or blocks.
    pub fn push<T>(&mut self, data: &[T])
    where
        T: Sample,
        f32: FromSample<T>,
    {
        let ch = self.channels;
        let frames = (data.len() / ch).min(self.ring.slots() / ch);
        if frames == 0 {
            return;
        }
        if let Ok(chunk) = self.ring.write_chunk_uninit(frames * ch) {
            chunk.fill_from_iter(data[..frames * ch].iter().map(|&x| f32::from_sample(x)));
        }
    }
}

/// Where a hardware insert's sends and returns are on the device: indexes
/// into the channels beyond the main pair (device channel 3 is 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InsertChannels {
    /// Output channels of the send, L and R.
    pub send: Option<[usize; 2]>,
    /// Input channels of the return, L and R.
    pub ret: Option<[usize; 2]>,
}

impl InsertChannels {
    /// From a slot's 1-based `send_channels` / `return_channels` (validated by the config).
    pub fn of(slot: &crate::config::SlotConfig) -> Self {
        let pair = |c: &[u16]| {
            (c.len() == 2 && c.iter().all(|&x| usize::from(x) > MAIN))
                .then(|| [usize::from(c[0]) - MAIN - 1, usize::from(c[1]) - MAIN - 1])
        };
        InsertChannels {
            send: pair(&slot.send_channels),
            ret: pair(&slot.return_channels),
        }
    }
}

/// The inserts' channels of one block, as [`rackd_dsp::InsertIo`].
struct CpalInserts<'a> {
    map: &'a [InsertChannels],
    returns: &'a [Vec<f32>],
    sends: &'a mut [Vec<f32>],
    frames: usize,
}

impl rackd_dsp::InsertIo for CpalInserts<'_> {
    fn ports(&mut self, index: usize) -> Option<rackd_dsp::InsertPorts<'_>> {
        let m = self.map.get(index)?;
        let n = self.frames;
        let returns = match m.ret {
            Some([l, r]) if l < self.returns.len() && r < self.returns.len() => {
                [&self.returns[l][..n], &self.returns[r][..n]]
            }
            _ => [&[][..], &[][..]],
        };
        let sends: [&mut [f32]; 2] = match m.send {
            Some([l, r]) if l != r && l.max(r) < self.sends.len() => {
                let (low, high) = self.sends.split_at_mut(l.max(r));
                let (a, b) = (&mut low[l.min(r)][..n], &mut high[0][..n]);
                if l < r { [a, b] } else { [b, a] }
            }
            _ => [&mut [], &mut []],
        };
        Some(rackd_dsp::InsertPorts { returns, sends })
    }
}

/// The output callback's state: ring → planar buffers → chain → device frames.
pub struct Playback {
    rt: RtProcess,
    ring: rtrb::Consumer<f32>,
    channels: usize,
    in_l: Vec<f32>,
    in_r: Vec<f32>,
    out_l: Vec<f32>,
    out_r: Vec<f32>,
    /// Input channels beyond the main pair (insert returns), planar.
    extra_in: Vec<Vec<f32>>,
    /// Output channels beyond the main pair (insert sends), planar.
    extra_out: Vec<Vec<f32>>,
    /// Each insert's channels, in config order among inserts.
    inserts: Vec<InsertChannels>,
    /// Frames kept queued between the callbacks (latency of the input→output hop).
    target: usize,
    /// Largest `target` the ring allows.
    max_target: usize,
    /// False after an underrun, until the ring holds `target` frames again.
    primed: bool,
    status: Arc<EngineStatus>,
    callbacks: Arc<AtomicU64>,
    sample_rate: f64,
    load_mean: f64,
}

impl Playback {
    /// Output side: `rt` runs in blocks of at most `max_block` frames; `target`
    /// frames are kept queued in `ring` (prime it with that much silence).
    pub fn new(
        rt: RtProcess,
        ring: rtrb::Consumer<f32>,
        channels: usize,
        max_block: usize,
        target: usize,
        sample_rate: u32,
        status: Arc<EngineStatus>,
    ) -> Self {
        let max_block = max_block.max(1);
        let channels = channels.max(MAIN);
        let max_target = ring.buffer().capacity() / channels / 4;
        let extra = || (MAIN..channels).map(|_| vec![0.0; max_block]).collect();
        Playback {
            rt,
            ring,
            channels,
            in_l: vec![0.0; max_block],
            in_r: vec![0.0; max_block],
            out_l: vec![0.0; max_block],
            out_r: vec![0.0; max_block],
            extra_in: extra(),
            extra_out: extra(),
            inserts: Vec::new(),
            target: target.min(max_target),
            max_target,
            primed: true,
            status,
            callbacks: Arc::new(AtomicU64::new(0)),
            sample_rate: f64::from(sample_rate.max(1)),
            load_mean: 0.0,
        }
    }

    /// Gives the hardware inserts their device channels (built off the audio thread).
    pub fn with_inserts(mut self, inserts: Vec<InsertChannels>) -> Self {
        self.inserts = inserts;
        self
    }

    /// Counts output callbacks (the manager watches it to detect a stalled device).
    pub fn callbacks(&self) -> Arc<AtomicU64> {
        self.callbacks.clone()
    }

    /// One output callback: fills `data` (interleaved, `channels` per frame)
    /// with the chain's output for the queued input. Never allocates, locks or
    /// blocks; an empty ring gives silence on the input and counts one xrun,
    /// after which it waits (in silence) until a callback's worth plus the
    /// target is queued again.
    pub fn render<T>(&mut self, data: &mut [T])
    where
        T: Sample + FromSample<f32>,
    {
        let started = Instant::now();
        let ch = self.channels;
        let frames = data.len() / ch;
        // Input ran ahead (stream start, clock drift, a skipped output
        // callback): drop the excess. Past the first callbacks that is a
        // dropout like an underrun, and it moves the input→output hop (and
        // an insert's round trip with it): count it as an xrun.
        let queued = self.ring.slots() / ch;
        if queued > frames + 2 * self.target {
            let skip = queued - frames - self.target;
            if let Ok(chunk) = self.ring.read_chunk(skip * ch) {
                chunk.commit_all();
            }
            if self.callbacks.load(Ordering::Relaxed) > START_CALLBACKS {
                self.status.xruns.fetch_add(1, Ordering::Relaxed);
            }
        }
        if !self.primed && self.ring.slots() / ch >= frames + self.target {
            self.primed = true;
        }
        let block = self.in_l.len();
        let mut done = 0;
        while done < frames {
            let n = (frames - done).min(block);
            let got = if self.primed { self.deinterleave(n) } else { 0 };
            if got < n {
                self.in_l[got..n].fill(0.0);
                self.in_r[got..n].fill(0.0);
                for x in &mut self.extra_in {
                    x[got..n].fill(0.0);
                }
                if self.primed {
                    self.primed = false;
                    self.status.xruns.fetch_add(1, Ordering::Relaxed);
                    // Callbacks larger than the guessed period: keep more queued.
                    self.target = self.target.max(frames).min(self.max_target);
                }
            }
            // Channels no insert sends on stay silent.
            for x in &mut self.extra_out {
                x[..n].fill(0.0);
            }
            let mut io = CpalInserts {
                map: &self.inserts,
                returns: &self.extra_in,
                sends: &mut self.extra_out,
                frames: n,
            };
            self.rt.process_io(
                &self.in_l[..n],
                &self.in_r[..n],
                &mut self.out_l[..n],
                &mut self.out_r[..n],
                &mut io,
            );
            let out = &mut data[done * ch..(done + n) * ch];
            for (i, frame) in out.chunks_exact_mut(ch).enumerate() {
                frame[0] = T::from_sample(self.out_l[i]);
                frame[1] = T::from_sample(self.out_r[i]);
                for (x, extra) in frame[MAIN..].iter_mut().zip(&self.extra_out) {
                    *x = T::from_sample(extra[i]);
                }
            }
            done += n;
        }
        data[frames * ch..].fill(T::EQUILIBRIUM);
        self.callbacks.fetch_add(1, Ordering::Relaxed);
        self.status.period.store(frames as u32, Ordering::Relaxed);
        if frames > 0 {
            let load = started.elapsed().as_secs_f64() * self.sample_rate / frames as f64;
            self.load_mean += (load - self.load_mean) * 0.01;
            self.status
                .dsp_load_permille
                .store((self.load_mean * 1000.0) as u32, Ordering::Relaxed);
        }
    }

    /// Moves up to `n` queued frames into the planar input buffers; returns how many.
    fn deinterleave(&mut self, n: usize) -> usize {
        let ch = self.channels;
        let frames = n.min(self.ring.slots() / ch);
        let Ok(chunk) = self.ring.read_chunk(frames * ch) else {
            return 0;
        };
        let (a, b) = chunk.as_slices();
        // A frame never straddles the wrap: the ring holds whole frames and its
        // capacity is a multiple of the frame size.
        let frames_of = a.chunks_exact(ch).chain(b.chunks_exact(ch));
        for (i, frame) in frames_of.enumerate() {
            self.in_l[i] = frame[0];
            self.in_r[i] = frame[1];
            for (x, &v) in self.extra_in.iter_mut().zip(&frame[MAIN..]) {
                x[i] = v;
            }
        }
        chunk.commit_all();
        frames
    }
}

/// A ring of `channels`-sample frames for `period`-frame callbacks, primed
/// with `target` frames of silence.
pub fn ring(
    period: usize,
    target: usize,
    channels: usize,
) -> (rtrb::Producer<f32>, rtrb::Consumer<f32>) {
    let frames = 4 * period.max(target) + RING_SLACK_FRAMES;
    let (mut producer, consumer) = rtrb::RingBuffer::new(frames * channels);
    if let Ok(chunk) = producer.write_chunk_uninit(target.min(frames) * channels) {
        chunk.fill_from_iter(std::iter::repeat(0.0));
    }
    (producer, consumer)
}

/// The streams' error callback: xruns counted, anything fatal flagged for the
/// manager thread (which logs it). Atomics only.
#[derive(Clone)]
struct ErrorSink {
    status: Arc<EngineStatus>,
    /// 0 while healthy, else [`kind_code`] of the error that ended the streams.
    fatal: Arc<AtomicU8>,
}

impl ErrorSink {
    fn report(&self, error: cpal::Error) {
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

fn kind_text(code: u8) -> &'static str {
    KINDS
        .get(usize::from(code).saturating_sub(1))
        .map_or("error", |(_, t)| t)
}

// ---------------------------------------------------------------- manager thread

/// The opened input and output device.
struct Devices {
    input: cpal::Device,
    output: cpal::Device,
    /// Server/device period when the host knows it.
    period: Option<usize>,
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

    fn open(&self) -> anyhow::Result<Devices> {
        match self.audio.host {
            CpalHost::Jack => {
                // Our own constructors: no auto-connect to system ports (the
                // config's connect_inputs/connect_outputs say what to wire).
                let base = self.jack_base();
                let input = JackDevice::default_input_device(base, false, false)
                    .map_err(|e| jack_open_error("input", &e))?;
                let output = JackDevice::default_output_device(base, false, false)
                    .map_err(|e| jack_open_error("output", &e))?;
                let period = match input.default_input_config()?.buffer_size() {
                    SupportedBufferSize::Range { max, .. } => Some(*max as usize),
                    SupportedBufferSize::Unknown => None,
                };
                Ok(Devices {
                    input: input.into(),
                    output: output.into(),
                    period,
                })
            }
            CpalHost::Alsa => {
                let host = cpal::host_from_id(HostId::Alsa)?;
                let (input, output) = match &self.audio.device {
                    None => (
                        host.default_input_device()
                            .ok_or_else(|| anyhow::anyhow!("no default input device"))?,
                        host.default_output_device()
                            .ok_or_else(|| anyhow::anyhow!("no default output device"))?,
                    ),
                    Some(name) => {
                        let device = find_alsa_device(&host, name)?;
                        (device.clone(), device)
                    }
                };
                Ok(Devices {
                    input,
                    output,
                    period: None,
                })
            }
        }
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
        let output = build_output(&devices.output, out_format, &config, playback, &sink)
            .map_err(|e| anyhow::anyhow!("output stream: {e}"))?;
        let input = build_input(
            &devices.input,
            in_format,
            &config,
            Capture::new(producer, channels),
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
            connect(&client, src, &format!("{base}_in:in_{i}"));
        }
        for (i, dst) in self.audio.connect_outputs.iter().enumerate() {
            connect(&client, &format!("{base}_out:out_{i}"), dst);
        }
    }
}

/// Why a JACK client could not be opened, in the JACK backend's words.
fn jack_open_error(what: &str, e: &cpal::Error) -> anyhow::Error {
    if e.kind() == ErrorKind::DeviceNotAvailable {
        let server = std::env::var("JACK_DEFAULT_SERVER").unwrap_or_else(|_| "default".into());
        anyhow::anyhow!("no JACK server \"{server}\" answers")
    } else {
        anyhow::anyhow!("JACK {what} client: {e}")
    }
}

fn connect(client: &::jack::Client, src: &str, dst: &str) {
    match client.connect_ports_by_name(src, dst) {
        Ok(()) => tracing::info!("connected {src} -> {dst}"),
        Err(e) => tracing::warn!("cannot connect {src} -> {dst}: {e}"),
    }
}

/// An ALSA device by PCM id (`hw:1,0`, `default`, `null`) or by listed name.
fn find_alsa_device(host: &cpal::Host, name: &str) -> anyhow::Result<cpal::Device> {
    if let Some(d) = host.device_by_id(&cpal::DeviceId::new(HostId::Alsa, name)) {
        return Ok(d);
    }
    let mut names = Vec::new();
    for d in host.devices()? {
        let id = d.id().map(|i| i.id().to_string()).unwrap_or_default();
        let desc = d
            .description()
            .map(|x| x.name().to_string())
            .unwrap_or_default();
        if id == name || desc == name {
            return Ok(d);
        }
        names.push(id);
    }
    anyhow::bail!(
        "no ALSA device {name:?}; devices: {}",
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    )
}

/// The best sample format offering `want` channels at `rate`: float, then 32, then 16 bit.
fn pick_format(
    configs: impl Iterator<Item = (u16, u32, u32, SampleFormat)>,
    rate: u32,
    want: usize,
    what: &str,
) -> anyhow::Result<SampleFormat> {
    let mut offered = Vec::new();
    let mut fitting = Vec::new();
    for (channels, min, max, format) in configs {
        if usize::from(channels) == want && (min..=max).contains(&rate) {
            fitting.push(format);
        } else if usize::from(channels) == want {
            offered.push(format!("{min}..{max} Hz {format}"));
        }
    }
    [SampleFormat::F32, SampleFormat::I32, SampleFormat::I16]
        .into_iter()
        .find(|f| fitting.contains(f))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no {want}-channel {what} at {rate} Hz in f32, i32 or i16{}",
                if offered.is_empty() {
                    String::new()
                } else {
                    format!(" (offered: {})", offered.join(", "))
                }
            )
        })
}

fn build_input(
    device: &cpal::Device,
    format: SampleFormat,
    config: &StreamConfig,
    capture: Capture,
    sink: &ErrorSink,
) -> Result<cpal::Stream, cpal::Error> {
    fn typed<T>(
        device: &cpal::Device,
        config: &StreamConfig,
        mut capture: Capture,
        sink: ErrorSink,
    ) -> Result<cpal::Stream, cpal::Error>
    where
        T: SizedSample,
        f32: FromSample<T>,
    {
        device.build_input_stream::<T, _, _>(
            *config,
            move |data: &[T], _: &cpal::InputCallbackInfo| capture.push(data),
            move |e| sink.report(e),
            None,
        )
    }
    let sink = sink.clone();
    match format {
        SampleFormat::I16 => typed::<i16>(device, config, capture, sink),
        SampleFormat::I32 => typed::<i32>(device, config, capture, sink),
        _ => typed::<f32>(device, config, capture, sink),
    }
}

fn build_output(
    device: &cpal::Device,
    format: SampleFormat,
    config: &StreamConfig,
    playback: Playback,
    sink: &ErrorSink,
) -> Result<cpal::Stream, cpal::Error> {
    fn typed<T>(
        device: &cpal::Device,
        config: &StreamConfig,
        mut playback: Playback,
        sink: ErrorSink,
    ) -> Result<cpal::Stream, cpal::Error>
    where
        T: SizedSample + FromSample<f32>,
    {
        device.build_output_stream::<T, _, _>(
            *config,
            move |data: &mut [T], _: &cpal::OutputCallbackInfo| playback.render(data),
            move |e| sink.report(e),
            None,
        )
    }
    let sink = sink.clone();
    match format {
        SampleFormat::I16 => typed::<i16>(device, config, playback, sink),
        SampleFormat::I32 => typed::<i32>(device, config, playback, sink),
        _ => typed::<f32>(device, config, playback, sink),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_choice_prefers_float_and_checks_rate_and_channels() {
        let c = |ch, min, max, f| (ch, min, max, f);
        let f = pick_format(
            [
                c(2, 44_100, 48_000, SampleFormat::I16),
                c(2, 44_100, 48_000, SampleFormat::F32),
                c(1, 48_000, 48_000, SampleFormat::I32),
            ]
            .into_iter(),
            48_000,
            2,
            "output",
        )
        .unwrap();
        assert_eq!(f, SampleFormat::F32);
        let err = pick_format(
            [c(2, 44_100, 44_100, SampleFormat::F32)].into_iter(),
            48_000,
            2,
            "input",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("48000 Hz") && err.contains("44100..44100"),
            "{err}"
        );
    }

    #[test]
    fn error_kinds_round_trip_through_codes() {
        for (kind, text) in KINDS {
            assert_eq!(kind_text(kind_code(kind)), text);
        }
        assert_ne!(kind_code(ErrorKind::DeviceNotAvailable), 0);
    }
}
