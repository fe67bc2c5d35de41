//! The audio-thread side: the input callback ([`Capture::push`]) writes
//! device frames into a lock-free ring, the output callback
//! ([`Playback::render`]) reads them, runs the chain and writes the device
//! buffer. Neither allocates, locks, logs or blocks.

use super::super::{EngineStatus, rt::RtProcess};
use super::error::ErrorSink;
use super::{MAIN, RING_SLACK_FRAMES, START_CALLBACKS};
use cpal::traits::DeviceTrait;
use cpal::{FromSample, Sample, SampleFormat, SizedSample, StreamConfig};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

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

/// Which callback a stream runs.
pub(super) enum Side {
    /// Device input into the ring.
    Input(Capture),
    /// Ring through the chain to the device output.
    Output(Box<Playback>),
}

/// Builds the input or output stream in the device's sample format.
pub(super) fn build_stream(
    device: &cpal::Device,
    format: SampleFormat,
    config: &StreamConfig,
    side: Side,
    sink: &ErrorSink,
) -> Result<cpal::Stream, cpal::Error> {
    fn typed<T>(
        device: &cpal::Device,
        config: &StreamConfig,
        side: Side,
        sink: ErrorSink,
    ) -> Result<cpal::Stream, cpal::Error>
    where
        T: SizedSample + FromSample<f32>,
        f32: FromSample<T>,
    {
        match side {
            Side::Input(mut capture) => device.build_input_stream::<T, _, _>(
                *config,
                move |data: &[T], _: &cpal::InputCallbackInfo| capture.push(data),
                move |e| sink.report(e),
                None,
            ),
            Side::Output(mut playback) => device.build_output_stream::<T, _, _>(
                *config,
                move |data: &mut [T], _: &cpal::OutputCallbackInfo| playback.render(data),
                move |e| sink.report(e),
                None,
            ),
        }
    }
    let sink = sink.clone();
    match format {
        SampleFormat::I16 => typed::<i16>(device, config, side, sink),
        SampleFormat::I32 => typed::<i32>(device, config, side, sink),
        _ => typed::<f32>(device, config, side, sink),
    }
}
