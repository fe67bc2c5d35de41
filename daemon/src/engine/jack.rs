//! The JACK backend: a client with two inputs and two outputs that runs the
//! chain in JACK's process callback. It never starts a server
//! (`NO_START_SERVER`): while none runs it waits, retries and says so; when the
//! server goes away it waits for it to come back and rebuilds.
//!
//! A buffer-size change needs no rebuild (the chain splits blocks to the size
//! it was built for, the other stages work sample by sample); a sample-rate
//! change does (filters, smoothers and meters are tuned to the rate), so the
//! manager thread reconnects and builds the chain again at the new rate.
//!
//! The chain's latency is reported on the ports through JACK's latency
//! callback (see [`PortLatency`]), so JACK-aware programs compensate for it;
//! the manager thread asks JACK to recompute when it changes.

use super::{Backend, EngineControl, EngineStatus, Running, rt::RtProcess};
use crate::config::AudioConfig;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

/// How often to retry while no JACK server runs.
const RETRY: Duration = Duration::from_secs(1);

/// A JACK client managed by its own thread.
pub struct JackBackend {
    audio: AudioConfig,
}

impl JackBackend {
    /// A JACK backend as the audio config describes it.
    pub fn new(audio: &AudioConfig) -> Self {
        JackBackend {
            audio: audio.clone(),
        }
    }
}

/// Whether a JACK server answers right now (used by `rackd demo` to choose).
pub fn server_running() -> bool {
    quiet_libjack();
    ::jack::Client::new("rackd-probe", ::jack::ClientOptions::NO_START_SERVER).is_ok()
}

/// Routes libjack's own messages to our log at debug level: while the server
/// is away it prints several lines per retry, and our warning already says it.
pub(crate) fn quiet_libjack() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Setting the handlers needs the library; without it Client::new reports that.
        if ::jack::jack_sys::library().is_ok() {
            ::jack::set_logger(::jack::LoggerType::Custom {
                info: libjack_message,
                error: libjack_message,
            });
        }
    });
}

/// libjack's message callback; must not panic.
unsafe extern "C" fn libjack_message(msg: *const libc::c_char) {
    if msg.is_null() {
        return;
    }
    // SAFETY: libjack passes a NUL-terminated string valid for this call.
    let text = unsafe { std::ffi::CStr::from_ptr(msg) }.to_string_lossy();
    let _ = std::panic::catch_unwind(|| tracing::debug!(target: "libjack", "{text}"));
}

/// The JACK server this process talks to, for messages.
fn server_name() -> String {
    std::env::var("JACK_DEFAULT_SERVER").unwrap_or_else(|_| "default".into())
}

impl Backend for JackBackend {
    fn name(&self) -> &'static str {
        "jack"
    }

    fn start(self: Box<Self>, control: Arc<EngineControl>) -> anyhow::Result<Running> {
        quiet_libjack();
        control.status().set_state("starting the JACK client");
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("rackd-jack".into())
            .spawn(move || self.manage(&control, &stop_flag))?;
        Ok(Running::new("jack", stop, thread))
    }
}

/// The send and return ports of one hardware insert slot.
struct InsertPortSet {
    sends: [::jack::Port<::jack::AudioOut>; 2],
    returns: [::jack::Port<::jack::AudioIn>; 2],
}

/// The inserts' port buffers for one process cycle.
struct CycleInserts<'a> {
    ports: &'a mut [InsertPortSet],
    scope: &'a ::jack::ProcessScope,
    /// The returns as they were at the start of the cycle.
    copies: &'a InputCopies,
}

impl rackd_dsp::InsertIo for CycleInserts<'_> {
    fn ports(&mut self, index: usize) -> Option<rackd_dsp::InsertPorts<'_>> {
        let set = self.ports.get_mut(index)?;
        let [sl, sr] = &mut set.sends;
        Some(rackd_dsp::InsertPorts {
            returns: [
                self.copies.get(2 + 2 * index),
                self.copies.get(3 + 2 * index),
            ],
            sends: [sl.as_mut_slice(self.scope), sr.as_mut_slice(self.scope)],
        })
    }
}

/// Largest period JACK2 runs (`BUFFER_SIZE_MAX`): the inputs' copies hold it.
const COPY_FRAMES: usize = 8192;

/// Every input read once, at the start of a cycle, before any output is
/// written, into a copy the chain reads.
///
/// With one of our outputs wired straight to one of our inputs (a send
/// patched to its own return as a loopback cable), JACK2 fills the input
/// from that output's buffer each time the input's buffer is asked for, and
/// JACK1 hands the input the output's buffer itself. Read late, such an
/// input would hold the send just cleared (silence) or alias a slice being
/// written. Read first, it is what that output carried in the last cycle,
/// as through any other client. (A copy of a few kilobytes a cycle.)
struct InputCopies {
    /// One per input port: `in_l`, `in_r`, then each insert's two returns.
    buffers: Vec<Box<[f32]>>,
    frames: usize,
}

impl InputCopies {
    /// Room for `inputs` input ports (allocates; built off the audio thread).
    fn new(inputs: usize) -> Self {
        InputCopies {
            buffers: (0..inputs)
                .map(|_| vec![0.0; COPY_FRAMES].into_boxed_slice())
                .collect(),
            frames: 0,
        }
    }

    /// Copies this cycle's input `i` (JACK2's periods are at most
    /// [`COPY_FRAMES`]; of a longer one only that much would be processed).
    fn take(&mut self, i: usize, input: &[f32]) {
        self.frames = input.len().min(COPY_FRAMES);
        self.buffers[i][..self.frames].copy_from_slice(&input[..self.frames]);
    }

    /// Input `i` as it was at the start of this cycle.
    fn get(&self, i: usize) -> &[f32] {
        &self.buffers[i][..self.frames]
    }
}

/// The process callback: ports plus the chain.
struct Process {
    rt: RtProcess,
    status: Arc<EngineStatus>,
    in_l: ::jack::Port<::jack::AudioIn>,
    in_r: ::jack::Port<::jack::AudioIn>,
    out_l: ::jack::Port<::jack::AudioOut>,
    out_r: ::jack::Port<::jack::AudioOut>,
    inserts: Vec<InsertPortSet>,
    copies: InputCopies,
    /// The main outputs are processed here and copied to `out_l`/`out_r`
    /// when finished (see [`Process::cycle`]).
    outputs: [Box<[f32]>; 2],
    /// The first frame the next cycle should start at, on JACK's frame clock.
    next_frame: Option<::jack::Frames>,
}

impl ::jack::ProcessHandler for Process {
    fn process(&mut self, _: &::jack::Client, ps: &::jack::ProcessScope) -> ::jack::Control {
        super::rt::checked(|| self.cycle(ps));
        ::jack::Control::Continue
    }

    /// Nothing to rebuild: `Chain::process` splits longer blocks. Only the
    /// status changes (atomics, as on the audio thread).
    fn buffer_size(&mut self, _: &::jack::Client, size: ::jack::Frames) -> ::jack::Control {
        self.status.period.store(size, Ordering::Relaxed);
        ::jack::Control::Continue
    }
}

impl Process {
    /// One JACK cycle: the inputs copied, the inserts' ports cleared and
    /// handed over, the whole real-time process into `outputs`, then those
    /// copied to the main output ports.
    fn cycle(&mut self, ps: &::jack::ProcessScope) {
        let first = ps.last_frame_time();
        if self.next_frame.is_some_and(|next| next != first) {
            self.status.cycle_breaks.fetch_add(1, Ordering::Relaxed);
        }
        self.next_frame = Some(first.wrapping_add(ps.n_frames()));
        // Every input read before anything is written.
        let copies = &mut self.copies;
        copies.take(0, self.in_l.as_slice(ps));
        copies.take(1, self.in_r.as_slice(ps));
        for (k, set) in self.inserts.iter().enumerate() {
            for (c, port) in set.returns.iter().enumerate() {
                copies.take(2 + 2 * k + c, port.as_slice(ps));
            }
        }
        // JACK does not clear output buffers; a bypassed or removed insert sends silence.
        for set in &mut self.inserts {
            for port in &mut set.sends {
                port.as_mut_slice(ps).fill(0.0);
            }
        }
        let copies = &self.copies;
        let mut io = CycleInserts {
            ports: &mut self.inserts,
            scope: ps,
            copies,
        };
        let (in_l, in_r) = (copies.get(0), copies.get(1));
        let frames = in_l.len();
        let [out_l, out_r] = &mut self.outputs;
        self.rt.process_io(
            in_l,
            in_r,
            &mut out_l[..frames],
            &mut out_r[..frames],
            &mut io,
        );
        // The ports get only finished samples. Their buffers are read by
        // others while a late cycle still runs (JACK2's driver in its
        // asynchronous mode, a client on a feedback connection): worked on
        // in place they would show samples the ceiling has not yet passed.
        for (port, done) in [(&mut self.out_l, &*out_l), (&mut self.out_r, &*out_r)] {
            let buf = port.as_mut_slice(ps);
            let m = buf.len().min(frames);
            buf[..m].copy_from_slice(&done[..m]);
            buf[m..].fill(0.0);
        }
    }
}

/// Server notifications: xruns, shutdown and sample-rate changes, passed on
/// with atomics only.
struct Notifications {
    status: Arc<EngineStatus>,
    gone: Arc<AtomicBool>,
    /// The rate the running chain was built for.
    built_rate: u32,
    /// Set when the server's rate is no longer `built_rate`: the manager rebuilds.
    rate_changed: Arc<AtomicBool>,
}

impl ::jack::NotificationHandler for Notifications {
    unsafe fn shutdown(&mut self, _status: ::jack::ClientStatus, _reason: &str) {
        self.gone.store(true, Ordering::SeqCst);
    }

    fn xrun(&mut self, _: &::jack::Client) -> ::jack::Control {
        self.status.xruns.fetch_add(1, Ordering::Relaxed);
        ::jack::Control::Continue
    }

    /// JACK2 also calls this once at activation with the current rate, so
    /// only a rate other than the built one asks for a rebuild.
    fn sample_rate(&mut self, _: &::jack::Client, rate: ::jack::Frames) -> ::jack::Control {
        if rate != self.built_rate {
            self.rate_changed.store(true, Ordering::SeqCst);
        }
        ::jack::Control::Continue
    }
}

/// What the latency callback needs: the chain latency and our ports' raw
/// pointers. Owned by `run_client`, which keeps it until the client is closed.
///
/// The main path adds the chain latency: `out_l`/`out_r` report the union of
/// `in_l`/`in_r`'s capture ranges plus the chain and monitor latency (either
/// output can carry either input: mono monitoring), and `in_l`/`in_r` the
/// union of `out_l`/`out_r`'s playback ranges plus the same. The hardware
/// insert ports pass through with nothing added (as JACK's default would):
/// sends report the main inputs' capture range, returns the main outputs'
/// playback range. The gear's round trip is already part of the chain latency
/// once measured.
struct PortLatency {
    latency: Arc<AtomicU32>,
    /// The monitor path's own latency after the chain (a true-peak ceiling).
    monitor: u32,
    inputs: [*mut ::jack::jack_sys::jack_port_t; 2],
    outputs: [*mut ::jack::jack_sys::jack_port_t; 2],
    sends: Vec<*mut ::jack::jack_sys::jack_port_t>,
    returns: Vec<*mut ::jack::jack_sys::jack_port_t>,
}

impl PortLatency {
    /// The union of the ports' ranges for `mode`.
    ///
    /// # Safety
    /// The ports must be valid (registered on a client that is not closed).
    unsafe fn union(
        ports: &[*mut ::jack::jack_sys::jack_port_t],
        mode: ::jack::jack_sys::jack_latency_callback_mode_t,
    ) -> (u32, u32) {
        let mut out: Option<(u32, u32)> = None;
        for &port in ports {
            let mut range = ::jack::jack_sys::jack_latency_range_t { min: 0, max: 0 };
            // SAFETY: the caller guarantees the port is valid.
            unsafe { ::jack::jack_sys::jack_port_get_latency_range(port, mode, &mut range) };
            out = Some(match out {
                None => (range.min, range.max),
                Some((min, max)) => (min.min(range.min), max.max(range.max)),
            });
        }
        out.unwrap_or((0, 0))
    }

    /// Sets every port's range to `range`.
    ///
    /// # Safety
    /// As for [`PortLatency::union`].
    unsafe fn set(
        ports: &[*mut ::jack::jack_sys::jack_port_t],
        mode: ::jack::jack_sys::jack_latency_callback_mode_t,
        (min, max): (u32, u32),
    ) {
        for &port in ports {
            let mut range = ::jack::jack_sys::jack_latency_range_t { min, max };
            // SAFETY: the caller guarantees the port is valid.
            unsafe { ::jack::jack_sys::jack_port_set_latency_range(port, mode, &mut range) };
        }
    }

    /// One callback: propagate `mode` through our ports.
    ///
    /// # Safety
    /// As for [`PortLatency::union`].
    unsafe fn update(&self, mode: ::jack::jack_sys::jack_latency_callback_mode_t) {
        let chain = self
            .latency
            .load(Ordering::Relaxed)
            .saturating_add(self.monitor);
        let plus = |(min, max): (u32, u32)| (min.saturating_add(chain), max.saturating_add(chain));
        // SAFETY: the ports are valid while the client is open (caller).
        unsafe {
            if mode == ::jack::jack_sys::JackCaptureLatency {
                let upstream = Self::union(&self.inputs, mode);
                Self::set(&self.outputs, mode, plus(upstream));
                Self::set(&self.sends, mode, upstream);
            } else {
                let downstream = Self::union(&self.outputs, mode);
                Self::set(&self.inputs, mode, plus(downstream));
                Self::set(&self.returns, mode, downstream);
            }
        }
    }
}

/// JACK's latency callback (on a JACK thread, not the process thread): `arg`
/// is the client's [`PortLatency`]. Must not panic.
unsafe extern "C" fn latency_callback(
    mode: ::jack::jack_sys::jack_latency_callback_mode_t,
    arg: *mut libc::c_void,
) {
    if arg.is_null() {
        return;
    }
    // SAFETY: `arg` is the `PortLatency` that `run_client` registered and keeps
    // alive until the client is closed; it is only read here.
    let state = unsafe { &*(arg as *const PortLatency) };
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the ports belong to the open client calling us.
        unsafe { state.update(mode) }
    }));
}

impl JackBackend {
    /// Connects, runs until the server goes away or we are stopped, repeats.
    fn manage(&self, control: &EngineControl, stop: &AtomicBool) {
        let status = control.status().clone();
        super::run_until_stopped(
            &status,
            stop,
            RETRY,
            || self.run_client(control, stop, &status),
            |e| format!("waiting for JACK server \"{}\" ({e})", server_name()),
        );
    }

    /// One client lifetime. Ok when stopped or when the server went away.
    fn run_client(
        &self,
        control: &EngineControl,
        stop: &AtomicBool,
        status: &Arc<EngineStatus>,
    ) -> anyhow::Result<()> {
        let (client, _) = ::jack::Client::new(
            &self.audio.client_name,
            ::jack::ClientOptions::NO_START_SERVER,
        )
        .map_err(|e| match e {
            ::jack::Error::ClientError(_) => anyhow::anyhow!("no server answers"),
            other => anyhow::anyhow!("{other}"),
        })?;
        let sample_rate = client.sample_rate();
        let period = client.buffer_size();
        let name = client.name().to_string();
        // Insert ports in config order: `<slot>_send_l`, `<slot>_return_l`, ...
        let insert_slots = || {
            control
                .slots()
                .iter()
                .filter(|s| s.kind == rackd_dsp::SlotKind::Insert)
        };
        let mut inserts = Vec::new();
        for cfg in insert_slots() {
            let id = &cfg.id;
            inserts.push(InsertPortSet {
                sends: [
                    client.register_port(&format!("{id}_send_l"), ::jack::AudioOut::default())?,
                    client.register_port(&format!("{id}_send_r"), ::jack::AudioOut::default())?,
                ],
                returns: [
                    client.register_port(&format!("{id}_return_l"), ::jack::AudioIn::default())?,
                    client.register_port(&format!("{id}_return_r"), ::jack::AudioIn::default())?,
                ],
            });
        }
        let process = Process {
            rt: control.build_rt(sample_rate, (period as usize).clamp(64, 8192)),
            status: status.clone(),
            in_l: client.register_port("in_l", ::jack::AudioIn::default())?,
            in_r: client.register_port("in_r", ::jack::AudioIn::default())?,
            out_l: client.register_port("out_l", ::jack::AudioOut::default())?,
            out_r: client.register_port("out_r", ::jack::AudioOut::default())?,
            copies: InputCopies::new(2 + 2 * inserts.len()),
            outputs: [(); 2].map(|_| vec![0.0; COPY_FRAMES].into_boxed_slice()),
            inserts,
            next_frame: None,
        };
        // Declared before `active`, and every way out below closes the client
        // first (deactivate or drop), so it outlives the callback's use of it.
        let port_latency = Box::new(PortLatency {
            latency: status.latency.clone(),
            monitor: process.rt.monitor_latency() as u32,
            inputs: [process.in_l.raw(), process.in_r.raw()],
            outputs: [process.out_l.raw(), process.out_r.raw()],
            sends: process
                .inserts
                .iter()
                .flat_map(|set| set.sends.iter().map(|p| p.raw()))
                .collect(),
            returns: process
                .inserts
                .iter()
                .flat_map(|set| set.returns.iter().map(|p| p.raw()))
                .collect(),
        });
        // SAFETY: before activation, as JACK requires; the argument points to
        // `port_latency`, which lives until the client is closed (see above).
        let set = unsafe {
            ::jack::jack_sys::jack_set_latency_callback(
                client.raw(),
                Some(latency_callback),
                &*port_latency as *const PortLatency as *mut libc::c_void,
            )
        };
        if set != 0 {
            tracing::warn!(
                "cannot set the JACK latency callback; ports will not report the chain latency"
            );
        }
        let gone = Arc::new(AtomicBool::new(false));
        let rate_changed = Arc::new(AtomicBool::new(false));
        let notifications = Notifications {
            status: status.clone(),
            gone: gone.clone(),
            built_rate: sample_rate,
            rate_changed: rate_changed.clone(),
        };
        let active = match client.activate_async(notifications, process) {
            Ok(active) => active,
            Err(e) => {
                // The jack crate leaves the client open when activation fails:
                // keep the callback's state alive with it.
                Box::leak(port_latency);
                return Err(e.into());
            }
        };
        for (ours, theirs) in [("in_l", 0), ("in_r", 1)] {
            if let Some(src) = self.audio.connect_inputs.get(theirs) {
                connect(active.as_client(), src, &format!("{name}:{ours}"));
            }
        }
        for (ours, theirs) in [("out_l", 0), ("out_r", 1)] {
            if let Some(dst) = self.audio.connect_outputs.get(theirs) {
                connect(active.as_client(), &format!("{name}:{ours}"), dst);
            }
        }
        for cfg in insert_slots() {
            let id = &cfg.id;
            for (side, ch) in [("l", 0), ("r", 1)] {
                if let Some(dst) = cfg.send.get(ch) {
                    connect(active.as_client(), &format!("{name}:{id}_send_{side}"), dst);
                }
                if let Some(src) = cfg.returns.get(ch) {
                    connect(
                        active.as_client(),
                        src,
                        &format!("{name}:{id}_return_{side}"),
                    );
                }
            }
        }
        status.sample_rate.store(sample_rate, Ordering::Relaxed);
        status.period.store(period, Ordering::Relaxed);
        status.running.store(true, Ordering::Relaxed);
        let running =
            |period| format!("running: JACK client {name}, {sample_rate} Hz, {period} frames");
        status.set_state(running(period));
        // What the ports last reported; `None` so the first pass recomputes.
        let mut reported_latency = None;
        while !stop.load(Ordering::Relaxed)
            && !gone.load(Ordering::SeqCst)
            && !rate_changed.load(Ordering::SeqCst)
        {
            let latency = status.latency.load(Ordering::Relaxed);
            if reported_latency != Some(latency) {
                // SAFETY: the client is open; this is the manager thread, not
                // the process callback.
                let rc = unsafe {
                    ::jack::jack_sys::jack_recompute_total_latencies(active.as_client().raw())
                };
                if rc == 0 {
                    tracing::debug!("JACK ports report a chain latency of {latency} samples");
                } else {
                    tracing::warn!("JACK could not recompute latencies ({rc})");
                }
                reported_latency = Some(latency);
            }
            let load = active.as_client().cpu_load();
            status
                .dsp_load_permille
                .store((load * 10.0) as u32, Ordering::Relaxed);
            // The process callback stores a new buffer size; say it here, off the audio thread.
            status.set_state(running(status.period.load(Ordering::Relaxed)));
            super::sleep_unless_stopped(Duration::from_millis(200), stop);
        }
        status.running.store(false, Ordering::Relaxed);
        if rate_changed.load(Ordering::SeqCst) {
            status.set_state(format!(
                "JACK sample rate is now {} Hz (was {sample_rate}); rebuilding the chain",
                active.as_client().sample_rate()
            ));
        }
        if gone.load(Ordering::SeqCst) {
            status.set_state("JACK server went away; waiting for it to return");
            // The server is gone: closing the client is all that is left to do.
            drop(active);
        } else if let Err(e) = active.deactivate() {
            tracing::warn!("JACK deactivate failed: {e}");
        }
        Ok(())
    }
}

/// Connects two JACK ports, logging the outcome (a missing port is not fatal).
pub(super) fn connect(client: &::jack::Client, src: &str, dst: &str) {
    match client.connect_ports_by_name(src, dst) {
        Ok(()) => tracing::info!("connected {src} -> {dst}"),
        Err(e) => tracing::warn!("cannot connect {src} -> {dst}: {e}"),
    }
}
