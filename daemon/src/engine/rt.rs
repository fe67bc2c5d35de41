//! What runs on the audio thread: drain the parameter queue, run the chain,
//! the monitor section, the safety ceiling and the meters. No allocation,
//! lock, log or syscall.
//!
//! Two things arrive already built through rings of their own and leave the
//! same way, so they are dropped off the audio thread: a new chain (a changed
//! slot layout; it warms up beside the old one, then a short crossfade hands
//! over) and a print take (a file played through the chain in place of the
//! inputs, with the chain's output recorded).

use super::EngineStatus;

/// Runs one audio-thread callback. Built with the `rt-assert` feature (the
/// JACK no-allocation test), under `assert_no_alloc`: an allocation aborts.
#[inline(always)]
pub(crate) fn checked<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(feature = "rt-assert")]
    return assert_no_alloc::assert_no_alloc(f);
    #[cfg(not(feature = "rt-assert"))]
    f()
}
use rackd_dsp::{Chain, InsertIo, Monitor, Processor, SafetyCeiling};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A change for the audio thread; `Copy` so the queue never allocates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RtCommand {
    /// Processor parameter of a slot, in real units.
    Param { slot: u16, index: u16, value: f32 },
    /// Bypass of a slot (crossfaded).
    Bypass { slot: u16, bypass: bool },
    /// Monitor section parameter (`Monitor::params` index), in real units.
    Monitor { index: u16, value: f32 },
    /// Start a round-trip measurement on an insert slot.
    Measure { slot: u16 },
}

/// Crossfade from the old chain to a new one, in seconds.
pub const LAYOUT_FADE_SECONDS: f32 = 0.02;
/// How long a new chain runs beside the old one before the crossfade (beyond
/// its own latency), so filters and envelopes are warm when it is heard.
pub const LAYOUT_WARM_SECONDS: f32 = 0.05;
/// Largest piece processed at once while two chains run (scratch size).
const SCRATCH: usize = 1024;

/// A file played through the live chain, its output recorded (the print pass).
/// Built off the audio thread with all its memory; the audio thread only
/// copies samples in and out.
pub struct PrintTake {
    /// The source, per channel.
    pub input: [Vec<f32>; 2],
    /// The chain's output from the first played frame; `input` length plus
    /// the chain latency, so the tail of the last sample is kept.
    pub output: [Vec<f32>; 2],
    /// Frames played so far (the audio thread writes it; progress reads it).
    pub position: Arc<AtomicU64>,
    /// Set off the audio thread to stop early.
    pub cancel: Arc<AtomicBool>,
    /// Chain latency when the take started; the output is aligned by it.
    pub latency: Option<usize>,
    /// Set when the chain latency changed during the take (the result would
    /// not line up).
    pub latency_changed: bool,
}

impl PrintTake {
    /// A take of `input` (both channels the same length), recording
    /// `input` length + `max_latency` frames; `cancel` stops it early.
    pub fn new(input: [Vec<f32>; 2], max_latency: usize, cancel: Arc<AtomicBool>) -> Self {
        let frames = input[0].len() + max_latency;
        PrintTake {
            input,
            output: [vec![0.0; frames], vec![0.0; frames]],
            position: Arc::new(AtomicU64::new(0)),
            cancel,
            latency: None,
            latency_changed: false,
        }
    }

    /// Whether every frame needed for an aligned output was recorded.
    pub fn complete(&self) -> bool {
        let played = self.position.load(Ordering::Acquire) as usize;
        self.latency
            .is_some_and(|l| played >= self.input[0].len() + l && !self.latency_changed)
    }
}

/// The rings between the control side and one [`RtProcess`].
pub struct RtRings {
    /// Parameter changes.
    pub commands: rtrb::Consumer<RtCommand>,
    /// New chains (slot layout changes).
    pub chains: rtrb::Consumer<NewChain>,
    /// Chains replaced, back for dropping.
    pub retired: rtrb::Producer<Box<Chain>>,
    /// Print takes to play.
    pub takes: rtrb::Consumer<Box<PrintTake>>,
    /// Takes done (or cancelled), back for writing and dropping.
    pub takes_done: rtrb::Producer<Box<PrintTake>>,
}

/// A chain for a new slot layout, on its way to the audio thread.
pub struct NewChain {
    /// Built and settled off the audio thread.
    pub chain: Box<Chain>,
    /// An insert gets a different signal in the new layout. There is one
    /// piece of gear, so the two chains cannot both be heard through it:
    /// fade the old chain out, give the gear to the new one until its return
    /// carries the new signal, then fade the new chain in. Otherwise the two
    /// chains run side by side and crossfade.
    pub dip: bool,
}

/// A new chain running beside the old one until it takes over.
struct Handover {
    chain: Box<Chain>,
    dip: bool,
    /// Frames of the old chain's fade-out done (dip only).
    faded_out: usize,
    /// Frames left before the fade to (or in of) the new chain starts.
    warm: usize,
    /// Frames of crossfade (or fade-in) done.
    faded: usize,
}

/// Everything the audio callback owns.
pub struct RtProcess {
    chain: Box<Chain>,
    handover: Option<Handover>,
    /// The newest chain, waiting for the handover under way to end. Taken off
    /// the ring at once so that parameter changes reach it too.
    pending: Option<NewChain>,
    take: Option<Box<PrintTake>>,
    rings: RtRings,
    /// Level, mute, dim and mono; between the chain and the ceiling, so the
    /// ceiling holds whatever the monitor level is.
    monitor: Monitor,
    /// Program meter before the chain (passes audio untouched).
    input_meter: Box<dyn Processor>,
    /// Program meter after the safety ceiling.
    output_meter: Box<dyn Processor>,
    safety: SafetyCeiling,
    /// Where the chain latency (for port latency reports) and the audio
    /// thread's counters are published; atomics only.
    status: Arc<EngineStatus>,
    scratch: [Vec<f32>; 2],
    /// Offline render: the output is the chain's, as a print records it
    /// (the monitor section and the room's safety ceiling are not the file's),
    /// and nobody reads the `in`/`out` meters.
    files_only: bool,
    fade_len: usize,
    warm_base: usize,
}

impl RtProcess {
    /// Assembles the audio-thread side (built off the audio thread).
    pub fn new(
        chain: Box<Chain>,
        monitor: Monitor,
        rings: RtRings,
        input_meter: Box<dyn Processor>,
        output_meter: Box<dyn Processor>,
        safety: SafetyCeiling,
        status: Arc<EngineStatus>,
    ) -> Self {
        let rate = chain.sample_rate();
        status
            .latency
            .store(chain.latency() as u32, Ordering::Relaxed);
        status
            .monitor_latency
            .store(safety.latency() as u32, Ordering::Relaxed);
        RtProcess {
            chain,
            handover: None,
            pending: None,
            take: None,
            rings,
            monitor,
            input_meter,
            output_meter,
            safety,
            status,
            scratch: [vec![0.0; SCRATCH], vec![0.0; SCRATCH]],
            files_only: false,
            fade_len: ((LAYOUT_FADE_SECONDS * rate) as usize).max(1),
            warm_base: (LAYOUT_WARM_SECONDS * rate) as usize,
        }
    }

    /// For the offline render: outputs the chain's signal, without the
    /// monitor section and safety ceiling (what a print records), and skips
    /// the `in`/`out` programme meters, which only surfaces read. The chain
    /// runs exactly as on the audio thread.
    pub fn chain_output_only(mut self) -> Self {
        self.files_only = true;
        self.status.monitor_latency.store(0, Ordering::Relaxed);
        self
    }

    /// Latency of the chain now playing, in samples.
    pub fn latency(&self) -> usize {
        self.chain.latency()
    }

    /// Latency of the monitor path after the chain (the safety ceiling's), in samples.
    pub fn monitor_latency(&self) -> usize {
        if self.files_only {
            0
        } else {
            self.safety.latency()
        }
    }

    /// Whether a layout change is still being handed over.
    pub fn handing_over(&self) -> bool {
        self.handover.is_some()
    }

    /// One period without insert ports (null and cpal backends, offline render).
    pub fn process(&mut self, in_l: &[f32], in_r: &[f32], out_l: &mut [f32], out_r: &mut [f32]) {
        self.process_io(in_l, in_r, out_l, out_r, &mut rackd_dsp::NoInserts);
    }

    /// One period: inputs in, outputs out, inserts through `io`. All four
    /// slices have the same length.
    pub fn process_io(
        &mut self,
        in_l: &[f32],
        in_r: &[f32],
        out_l: &mut [f32],
        out_r: &mut [f32],
        io: &mut dyn InsertIo,
    ) {
        // A new chain first, so the changes queued after it reach it too.
        self.take_chain();
        self.take_commands();
        self.take_print();
        let n = in_l.len().min(in_r.len()).min(out_l.len()).min(out_r.len());
        let (out_l, out_r) = (&mut out_l[..n], &mut out_r[..n]);
        match self.take.as_mut() {
            // The print pass: the take replaces the inputs.
            Some(take) => {
                let at = take.position.load(Ordering::Relaxed) as usize;
                for (ch, out) in [&mut *out_l, &mut *out_r].into_iter().enumerate() {
                    let src = take.input[ch].get(at..).unwrap_or(&[]);
                    let m = src.len().min(n);
                    out[..m].copy_from_slice(&src[..m]);
                    out[m..].fill(0.0);
                }
            }
            None => {
                out_l.copy_from_slice(&in_l[..n]);
                out_r.copy_from_slice(&in_r[..n]);
            }
        }
        if !self.files_only {
            self.input_meter.process(out_l, out_r);
        }
        self.run_chain(out_l, out_r, io);
        self.record_take(out_l, out_r);
        if !self.files_only {
            self.monitor.process(out_l, out_r);
            self.safety.process(out_l, out_r);
            self.output_meter.process(out_l, out_r);
        }
        self.status
            .latency
            .store(self.chain.latency() as u32, Ordering::Relaxed);
    }

    fn take_commands(&mut self) {
        while let Ok(cmd) = self.rings.commands.pop() {
            self.status.changes_taken.fetch_add(1, Ordering::Relaxed);
            let incoming = self.handover.as_mut().map(|h| &mut h.chain);
            let pending = self.pending.as_mut().map(|p| &mut p.chain);
            for chain in std::iter::once(&mut self.chain)
                .chain(incoming)
                .chain(pending)
            {
                match cmd {
                    RtCommand::Param { slot, index, value } => {
                        chain.set_param(slot as usize, index as usize, value)
                    }
                    RtCommand::Bypass { slot, bypass } => {
                        chain.set_bypass(slot as usize, bypass, false)
                    }
                    RtCommand::Measure { slot } => chain.start_measure(slot as usize),
                    RtCommand::Monitor { .. } => {}
                }
            }
            if let RtCommand::Monitor { index, value } = cmd {
                self.monitor.set_param(index as usize, value)
            }
        }
    }

    /// Takes new chains off the ring: the newest waits in `pending` (one it
    /// replaces goes back to be dropped) and starts its handover when none
    /// runs and the old chain can be sent back.
    fn take_chain(&mut self) {
        while self.rings.retired.slots() > 1
            && let Ok(mut new) = self.rings.chains.pop()
        {
            if let Some(old) = self.pending.take() {
                // Its layout was never heard; the newer one decides, fading
                // out and in if either asked to.
                new.dip |= old.dip;
                let _ = self.rings.retired.push(old.chain);
            }
            self.pending = Some(new);
        }
        if self.handover.is_none()
            && self.rings.retired.slots() > 0
            && let Some(new) = self.pending.take()
        {
            let warm = self.warm_base + new.chain.latency();
            self.handover = Some(Handover {
                chain: new.chain,
                dip: new.dip,
                faded_out: 0,
                warm,
                faded: 0,
            });
        }
    }

    /// Starts a print take when none plays and the chain is settled on its
    /// layout (no handover running or waiting).
    fn take_print(&mut self) {
        if self.take.is_none()
            && self.handover.is_none()
            && self.pending.is_none()
            && self.rings.chains.slots() == 0
            && self.rings.takes_done.slots() > 0
            && let Ok(mut take) = self.rings.takes.pop()
        {
            let latency = self.chain.latency();
            take.latency = Some(latency);
            // Room for the tail was sized by the latency when the take was
            // queued; a longer one now would not be recorded in full.
            take.latency_changed = take.input[0].len() + latency > take.output[0].len();
            self.take = Some(take);
        }
    }

    /// The chain, or during a layout change both chains and the crossfade.
    fn run_chain(&mut self, left: &mut [f32], right: &mut [f32], io: &mut dyn InsertIo) {
        let Some(h) = self.handover.as_mut() else {
            self.chain.process_io(left, right, io);
            return;
        };
        let n = left.len();
        let mut start = 0;
        while start < n {
            let end = (start + SCRATCH).min(n);
            let m = end - start;
            let (l, r) = (&mut left[start..end], &mut right[start..end]);
            let [sl, sr] = &mut self.scratch;
            sl[..m].copy_from_slice(l);
            sr[..m].copy_from_slice(r);
            let mut io = Offset {
                io: &mut *io,
                offset: start,
            };
            let fading_out = h.dip && h.faded_out < self.fade_len;
            // Whichever chain runs second drives the inserts' sends: the old
            // one while it is still heard alone through the gear, else the new.
            if fading_out {
                h.chain.process_io(&mut sl[..m], &mut sr[..m], &mut io);
                self.chain.process_io(l, r, &mut io);
            } else {
                self.chain.process_io(l, r, &mut io);
                h.chain.process_io(&mut sl[..m], &mut sr[..m], &mut io);
            }
            let fade = self.fade_len as f32;
            for i in 0..m {
                if h.dip && h.faded_out < self.fade_len {
                    let g = 1.0 - h.faded_out as f32 / fade;
                    l[i] *= g;
                    r[i] *= g;
                    h.faded_out += 1;
                } else if h.warm > 0 {
                    if h.dip {
                        l[i] = 0.0;
                        r[i] = 0.0;
                    }
                    h.warm -= 1;
                } else if h.faded < self.fade_len {
                    let g = h.faded as f32 / fade;
                    // Dip: fade the new chain in from silence; else crossfade.
                    let (ol, or) = if h.dip { (0.0, 0.0) } else { (l[i], r[i]) };
                    l[i] = ol + (sl[i] - ol) * g;
                    r[i] = or + (sr[i] - or) * g;
                    h.faded += 1;
                } else {
                    l[i] = sl[i];
                    r[i] = sr[i];
                }
            }
            start = end;
        }
        if h.warm == 0 && h.faded >= self.fade_len {
            let Some(h) = self.handover.take() else {
                return;
            };
            debug_assert!(!h.dip || h.faded_out >= self.fade_len);
            let old = std::mem::replace(&mut self.chain, h.chain);
            // Room was checked before the handover started.
            let _ = self.rings.retired.push(old);
            self.status.layout_changes.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn record_take(&mut self, left: &[f32], right: &[f32]) {
        let Some(take) = self.take.as_mut() else {
            return;
        };
        let at = take.position.load(Ordering::Relaxed) as usize;
        for (ch, src) in [left, right].into_iter().enumerate() {
            let dst = take.output[ch].get_mut(at..).unwrap_or(&mut []);
            let m = dst.len().min(src.len());
            dst[..m].copy_from_slice(&src[..m]);
        }
        take.position
            .store((at + left.len()) as u64, Ordering::Release);
        let latency = take.latency;
        if latency != Some(self.chain.latency())
            || self
                .handover
                .as_ref()
                .is_some_and(|h| Some(h.chain.latency()) != latency)
        {
            take.latency_changed = true;
        }
        let needed = take.input[0].len() + take.latency.unwrap_or(0);
        let done = at + left.len() >= needed.min(take.output[0].len());
        if done || take.latency_changed || take.cancel.load(Ordering::Relaxed) {
            if let Some(take) = self.take.take() {
                // Room was checked when the take started.
                let _ = self.rings.takes_done.push(take);
            }
        }
    }
}

/// Insert ports seen from a piece that starts `offset` frames into the period.
struct Offset<'a> {
    io: &'a mut dyn InsertIo,
    offset: usize,
}

impl InsertIo for Offset<'_> {
    fn ports(&mut self, index: usize) -> Option<rackd_dsp::InsertPorts<'_>> {
        let p = self.io.ports(index)?;
        let o = self.offset;
        let [rl, rr] = p.returns;
        let [sl, sr] = p.sends;
        Some(rackd_dsp::InsertPorts {
            returns: [rl.get(o..).unwrap_or(&[]), rr.get(o..).unwrap_or(&[])],
            sends: [
                sl.get_mut(o..).unwrap_or(&mut []),
                sr.get_mut(o..).unwrap_or(&mut []),
            ],
        })
    }
}
