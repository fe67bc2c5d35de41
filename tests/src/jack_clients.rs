//! JACK test clients: [`GearStandIn`], a client standing in for an analog
//! device in a hardware insert (a pure delay with gain and polarity), and
//! [`JackTap`], which plays a known stereo signal into two ports and records
//! two ports sample-aligned with what it played.
//!
//! Both open their clients with `NO_START_SERVER` on the server chosen by
//! `JACK_DEFAULT_SERVER` (see [`crate::use_jack_server`]). Their process
//! callbacks neither allocate nor lock: the delay lines are allocated up front,
//! and the tap's buffers are built on the test thread and passed into and back
//! out of the callback through `rtrb` ring buffers.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::{WAIT, wait_for};

fn open_client(name: &str) -> jack::Client {
    let (client, _status) = jack::Client::new(name, jack::ClientOptions::NO_START_SERVER)
        .unwrap_or_else(|e| {
            panic!(
                "cannot open JACK client {name:?} on server {:?}: {e}",
                std::env::var("JACK_DEFAULT_SERVER").unwrap_or_default()
            )
        });
    client
}

fn audio_in(client: &jack::Client, name: &str) -> jack::Port<jack::AudioIn> {
    client
        .register_port(name, jack::AudioIn::default())
        .unwrap_or_else(|e| panic!("cannot register input port {name}: {e}"))
}

fn audio_out(client: &jack::Client, name: &str) -> jack::Port<jack::AudioOut> {
    client
        .register_port(name, jack::AudioOut::default())
        .unwrap_or_else(|e| panic!("cannot register output port {name}: {e}"))
}

/// Follows a client's process calls on JACK's frame clock. When the machine
/// cannot keep up, dummy jackd in non-realtime mode runs a late client twice
/// in one period or not at all; either shows as a call whose first frame is
/// not the previous call's first frame plus its length. Such a break glitches
/// whatever passes through the client for a period or two (delay lines keep
/// their length), so a recording that spans one is not a measurement of rackd.
#[derive(Clone, Default)]
pub struct CycleWatch {
    breaks: Arc<AtomicU64>,
    xruns: Arc<AtomicU64>,
    reorders: Arc<AtomicU64>,
}

impl CycleWatch {
    /// Breaks in the frame clock seen so far.
    pub fn breaks(&self) -> u64 {
        self.breaks.load(Ordering::SeqCst)
    }

    /// Xrun notifications from the server seen so far (any client's).
    pub fn xruns(&self) -> u64 {
        self.xruns.load(Ordering::SeqCst)
    }

    /// Breaks plus xruns: what [`undisturbed`] watches.
    pub fn disturbances(&self) -> u64 {
        self.breaks() + self.xruns()
    }

    /// Graph reorders the server announced so far (any connection changed).
    pub fn reorders(&self) -> u64 {
        self.reorders.load(Ordering::SeqCst)
    }
}

/// The process-callback side of a [`CycleWatch`]: no allocation, atomics only.
struct CycleClock {
    watch: CycleWatch,
    next: Option<u32>,
}

impl CycleClock {
    fn new(watch: CycleWatch) -> Self {
        CycleClock { watch, next: None }
    }

    fn tick(&mut self, ps: &jack::ProcessScope) {
        let first = ps.last_frame_time();
        if self.next.is_some_and(|next| next != first) {
            self.watch.breaks.fetch_add(1, Ordering::SeqCst);
        }
        self.next = Some(first.wrapping_add(ps.n_frames()));
    }
}

/// Counts the server's xrun and graph-reorder notifications into a [`CycleWatch`].
struct XrunCounter(CycleWatch);

impl jack::NotificationHandler for XrunCounter {
    fn xrun(&mut self, _: &jack::Client) -> jack::Control {
        self.0.xruns.fetch_add(1, Ordering::SeqCst);
        jack::Control::Continue
    }

    fn graph_reorder(&mut self, _: &jack::Client) -> jack::Control {
        self.0.reorders.fetch_add(1, Ordering::SeqCst);
        jack::Control::Continue
    }
}

// ---------------------------------------------------------------- gear stand-in

struct GearProcess {
    inp: [jack::Port<jack::AudioIn>; 2],
    out: [jack::Port<jack::AudioOut>; 2],
    /// One delay line of exactly `delay` samples per channel.
    line: [Vec<f32>; 2],
    pos: usize,
    gain: f32,
    silent: Arc<AtomicBool>,
    clock: CycleClock,
    /// Milliseconds to stall the next cycle for (then 0).
    stall_ms: Arc<AtomicU32>,
}

impl jack::ProcessHandler for GearProcess {
    fn process(&mut self, _: &jack::Client, ps: &jack::ProcessScope) -> jack::Control {
        self.clock.tick(ps);
        let stall = self.stall_ms.swap(0, Ordering::SeqCst);
        if stall > 0 {
            // On purpose: this client plays gear whose computer cannot keep up.
            std::thread::sleep(Duration::from_millis(stall.into()));
        }
        let silent = self.silent.load(Ordering::Relaxed);
        let gain = if silent { 0.0 } else { self.gain };
        let start = self.pos;
        let mut end = start;
        for ch in 0..2 {
            let inp = self.inp[ch].as_slice(ps);
            let out = self.out[ch].as_mut_slice(ps);
            let line = &mut self.line[ch];
            let delay = line.len();
            let mut pos = start;
            for (o, &x) in out.iter_mut().zip(inp) {
                let y = if delay == 0 {
                    x
                } else {
                    // The oldest sample, written `delay` frames ago.
                    let y = line[pos];
                    line[pos] = x;
                    pos += 1;
                    if pos == delay {
                        pos = 0;
                    }
                    y
                };
                *o = y * gain;
            }
            end = pos;
        }
        self.pos = end;
        jack::Control::Continue
    }
}

/// A JACK client standing in for an analog device in a hardware insert: it
/// outputs its input (`in_l`, `in_r`) on `out_l`, `out_r` delayed by exactly
/// `delay` samples, scaled by `gain_db` and optionally inverted.
pub struct GearStandIn {
    client: Option<jack::AsyncClient<XrunCounter, GearProcess>>,
    name: String,
    silent: Arc<AtomicBool>,
    watch: CycleWatch,
    stall_ms: Arc<AtomicU32>,
}

impl GearStandIn {
    /// Starts a client named `name` (on the server chosen by
    /// `JACK_DEFAULT_SERVER`) with the given delay, gain and polarity.
    pub fn start(name: &str, delay: usize, gain_db: f32, invert: bool) -> GearStandIn {
        assert!(
            delay <= 1 << 20,
            "GearStandIn delay {delay} is unreasonably long"
        );
        let client = open_client(name);
        let watch = CycleWatch::default();
        let stall_ms = Arc::new(AtomicU32::new(0));
        let silent = Arc::new(AtomicBool::new(false));
        let sign = if invert { -1.0 } else { 1.0 };
        let process = GearProcess {
            inp: [audio_in(&client, "in_l"), audio_in(&client, "in_r")],
            out: [audio_out(&client, "out_l"), audio_out(&client, "out_r")],
            line: [vec![0.0; delay], vec![0.0; delay]],
            pos: 0,
            gain: sign * 10f32.powf(gain_db / 20.0),
            silent: silent.clone(),
            clock: CycleClock::new(watch.clone()),
            stall_ms: stall_ms.clone(),
        };
        let name = client.name().to_string();
        let active = client
            .activate_async(XrunCounter(watch.clone()), process)
            .unwrap_or_else(|e| panic!("cannot activate GearStandIn {name}: {e}"));
        GearStandIn {
            client: Some(active),
            name,
            silent,
            watch,
            stall_ms,
        }
    }

    /// Makes its next process call take `ms` milliseconds longer than a
    /// period allows: JACK reports an xrun and runs the graph late.
    pub fn stall(&self, ms: u32) {
        self.stall_ms.store(ms, Ordering::SeqCst);
    }

    /// Its process calls on JACK's frame clock.
    pub fn cycles(&self) -> &CycleWatch {
        &self.watch
    }

    /// The JACK client name actually used (its ports are `"<name>:in_l"` etc.).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Full port names of the inputs, left first.
    pub fn inputs(&self) -> [String; 2] {
        ["in_l", "in_r"].map(|p| format!("{}:{p}", self.name))
    }

    /// Full port names of the outputs, left first.
    pub fn outputs(&self) -> [String; 2] {
        ["out_l", "out_r"].map(|p| format!("{}:{p}", self.name))
    }

    /// Makes it output silence (`true`: "nothing comes back") or pass again.
    /// The delay line keeps running either way.
    pub fn set_silent(&self, silent: bool) {
        self.silent.store(silent, Ordering::Relaxed);
    }
}

impl Drop for GearStandIn {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = c.deactivate();
        }
    }
}

// ---------------------------------------------------------------- tap

/// One playback/recording, built on the test thread and moved into the
/// callback and back, so the callback never allocates or frees.
struct Job {
    play: [Vec<f32>; 2],
    play_pos: usize,
    looped: bool,
    rec: [Vec<f32>; 2],
    rec_pos: usize,
}

enum ToRt {
    Start(Box<Job>),
    Stop,
}

/// Room in the rings; at most one job is ever in flight.
const RING: usize = 8;

struct TapProcess {
    out: [jack::Port<jack::AudioOut>; 2],
    inp: [jack::Port<jack::AudioIn>; 2],
    to_rt: rtrb::Consumer<ToRt>,
    from_rt: rtrb::Producer<Box<Job>>,
    job: Option<Box<Job>>,
    clock: CycleClock,
    /// Frames the job under way has recorded.
    recorded: Arc<AtomicUsize>,
}

impl TapProcess {
    fn hand_back(&mut self, job: Box<Job>) {
        // The ring has room (one job in flight); should it not, leak rather
        // than free on the audio thread.
        if let Err(rtrb::PushError::Full(job)) = self.from_rt.push(job) {
            std::mem::forget(job);
        }
    }
}

impl jack::ProcessHandler for TapProcess {
    fn process(&mut self, _: &jack::Client, ps: &jack::ProcessScope) -> jack::Control {
        self.clock.tick(ps);
        while let Ok(msg) = self.to_rt.pop() {
            match msg {
                ToRt::Start(job) => {
                    if let Some(old) = self.job.replace(job) {
                        self.hand_back(old);
                    }
                }
                ToRt::Stop => {
                    if let Some(old) = self.job.take() {
                        self.hand_back(old);
                    }
                }
            }
        }
        let n = ps.n_frames() as usize;
        let Some(job) = self.job.as_mut() else {
            for port in &mut self.out {
                port.as_mut_slice(ps).fill(0.0);
            }
            return jack::Control::Continue;
        };
        // Playback from this period's first frame.
        let len = job.play[0].len();
        let mut next_play = job.play_pos;
        for ch in 0..2 {
            let out = self.out[ch].as_mut_slice(ps);
            let src = &job.play[ch];
            let mut pos = job.play_pos;
            if job.looped && len > 0 {
                for o in out.iter_mut() {
                    *o = src[pos];
                    pos += 1;
                    if pos == len {
                        pos = 0;
                    }
                }
            } else {
                let k = n.min(len - pos);
                out[..k].copy_from_slice(&src[pos..pos + k]);
                out[k..].fill(0.0);
                pos += k;
            }
            next_play = pos;
        }
        job.play_pos = next_play;
        // Recording of the same frames.
        let cap = job.rec[0].len();
        let k = n.min(cap - job.rec_pos);
        for ch in 0..2 {
            let inp = self.inp[ch].as_slice(ps);
            job.rec[ch][job.rec_pos..job.rec_pos + k].copy_from_slice(&inp[..k]);
        }
        job.rec_pos += k;
        self.recorded.store(job.rec_pos, Ordering::SeqCst);
        let done = !job.looped && job.play_pos == len && job.rec_pos == cap;
        let finished = if done { self.job.take() } else { None };
        if let Some(job) = finished {
            self.hand_back(job);
        }
        jack::Control::Continue
    }
}

struct TapCtl {
    to_rt: rtrb::Producer<ToRt>,
    from_rt: rtrb::Consumer<Box<Job>>,
    looping: bool,
    /// Frames played plus recorded of the take under way (`start_take`).
    take_frames: Option<usize>,
}

impl TapCtl {
    fn send(&mut self, msg: ToRt) {
        if self.to_rt.push(msg).is_err() {
            panic!("JackTap: the command ring is full (is the JACK client still running?)");
        }
    }

    fn wait_job(&mut self, timeout: Duration, what: &str) -> Box<Job> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(job) = self.from_rt.pop() {
                return job;
            }
            if Instant::now() >= deadline {
                panic!(
                    "JackTap: {what} did not finish within {:.1} s (is jackd running and the tap's client active?)",
                    timeout.as_secs_f64()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// A JACK client that plays a stereo signal into two ports and records two
/// ports, aligned: recording frame 0 is the JACK frame in which playback frame
/// 0 was written. Its ports are `out_l`, `out_r` and `in_l`, `in_r`.
pub struct JackTap {
    client: Option<jack::AsyncClient<XrunCounter, TapProcess>>,
    name: String,
    ctl: Mutex<TapCtl>,
    watch: CycleWatch,
    recorded: Arc<AtomicUsize>,
}

impl JackTap {
    /// A tap playing into rackd's JACK client `rackd_client` (`in_l`, `in_r`)
    /// and recording its outputs (`out_l`, `out_r`).
    pub fn on_rackd(rackd_client: &str) -> JackTap {
        let port = |p: &str| format!("{rackd_client}:{p}");
        Self::start(
            &crate::unique_name("tap"),
            &[port("in_l"), port("in_r")],
            &[port("out_l"), port("out_r")],
        )
    }

    /// Starts a client that plays into `play_to` (its outputs are connected to
    /// those ports) and records `record_from` (connected to its inputs),
    /// waiting up to [`WAIT`] for those ports to exist. Its outputs are connected
    /// first, then its inputs. It outputs silence until asked to play.
    pub fn start(name: &str, play_to: &[String; 2], record_from: &[String; 2]) -> JackTap {
        let client = open_client(name);
        let watch = CycleWatch::default();
        let recorded = Arc::new(AtomicUsize::new(0));
        let (to_rt_tx, to_rt_rx) = rtrb::RingBuffer::new(RING);
        let (from_rt_tx, from_rt_rx) = rtrb::RingBuffer::new(RING);
        let process = TapProcess {
            out: [audio_out(&client, "out_l"), audio_out(&client, "out_r")],
            inp: [audio_in(&client, "in_l"), audio_in(&client, "in_r")],
            to_rt: to_rt_rx,
            from_rt: from_rt_tx,
            job: None,
            clock: CycleClock::new(watch.clone()),
            recorded: recorded.clone(),
        };
        let me = client.name().to_string();
        let active = client
            .activate_async(XrunCounter(watch.clone()), process)
            .unwrap_or_else(|e| panic!("cannot activate JackTap {me}: {e}"));
        let c = active.as_client();
        wait_for(WAIT, || {
            play_to
                .iter()
                .chain(record_from)
                .all(|p| c.port_by_name(p).is_some())
                .then_some(())
        })
        .unwrap_or_else(|| {
            panic!("JackTap: ports {play_to:?} / {record_from:?} did not appear within {WAIT:?}")
        });
        for (src, dst) in [
            (format!("{me}:out_l"), play_to[0].clone()),
            (format!("{me}:out_r"), play_to[1].clone()),
            (record_from[0].clone(), format!("{me}:in_l")),
            (record_from[1].clone(), format!("{me}:in_r")),
        ] {
            c.connect_ports_by_name(&src, &dst)
                .unwrap_or_else(|e| panic!("JackTap: connect {src} -> {dst}: {e}"));
        }
        JackTap {
            client: Some(active),
            name: me,
            ctl: Mutex::new(TapCtl {
                to_rt: to_rt_tx,
                from_rt: from_rt_rx,
                looping: false,
                take_frames: None,
            }),
            watch,
            recorded,
        }
    }

    /// Frames recorded so far by the playback or loop under way (or the
    /// last one): a test waits on it instead of sleeping.
    pub fn recorded(&self) -> usize {
        self.recorded.load(Ordering::SeqCst)
    }

    /// Waits until the recording under way has `frames` frames.
    pub fn wait_recorded(&self, frames: usize) {
        let rate = self.sample_rate().max(1) as f64;
        let timeout = Duration::from_secs_f64(frames as f64 / rate + 20.0);
        wait_for(timeout, || (self.recorded() >= frames).then_some(()))
            .unwrap_or_else(|| panic!("JackTap: {frames} frames not recorded within {timeout:?}"));
    }

    /// Waits until `frames` frames of audio have passed on JACK's clock
    /// (the tap plays silence meanwhile), e.g. for a glide to land.
    pub fn wait_frames(&self, frames: usize) {
        let _ = self.play_and_record(&[], &[], frames);
    }

    /// Disconnects `src -> dst` (any two ports on the server).
    pub fn disconnect(&self, src: &str, dst: &str) {
        self.client()
            .disconnect_ports_by_name(src, dst)
            .unwrap_or_else(|e| panic!("JackTap: disconnect {src} -> {dst}: {e}"));
    }

    /// Connects `src -> dst` (any two ports on the server).
    pub fn connect(&self, src: &str, dst: &str) {
        self.client()
            .connect_ports_by_name(src, dst)
            .unwrap_or_else(|e| panic!("JackTap: connect {src} -> {dst}: {e}"));
    }

    /// Its process calls on JACK's frame clock.
    pub fn cycles(&self) -> &CycleWatch {
        &self.watch
    }

    /// The JACK client name actually used.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn client(&self) -> &jack::Client {
        self.client.as_ref().expect("JackTap client").as_client()
    }

    fn ctl(&self) -> std::sync::MutexGuard<'_, TapCtl> {
        self.ctl.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn job(left: &[f32], right: &[f32], looped: bool, record_frames: usize) -> Box<Job> {
        assert_eq!(
            left.len(),
            right.len(),
            "JackTap: left and right must be equally long"
        );
        Box::new(Job {
            play: [left.to_vec(), right.to_vec()],
            play_pos: 0,
            looped,
            rec: [vec![0.0; record_frames], vec![0.0; record_frames]],
            rec_pos: 0,
        })
    }

    /// Plays `left`/`right` once from the next period start, recording
    /// `record_frames` frames from that same frame on; blocks until both are
    /// done and returns the recording, left and right. Panics after
    /// (length + record_frames) / rate + 20 s.
    pub fn play_and_record(
        &self,
        left: &[f32],
        right: &[f32],
        record_frames: usize,
    ) -> [Vec<f32>; 2] {
        self.start_take(left, right, record_frames);
        self.finish_take()
    }

    /// [`JackTap::play_and_record`] without waiting: the take starts at the
    /// next period; [`JackTap::recorded`] follows it, [`JackTap::finish_take`]
    /// waits for it.
    pub fn start_take(&self, left: &[f32], right: &[f32], record_frames: usize) {
        let mut ctl = self.ctl();
        assert!(
            !ctl.looping && ctl.take_frames.is_none(),
            "JackTap: a take while a loop or another take runs"
        );
        self.recorded.store(0, Ordering::SeqCst);
        ctl.send(ToRt::Start(Self::job(left, right, false, record_frames)));
        ctl.take_frames = Some(left.len() + record_frames);
    }

    /// Waits for the take [`JackTap::start_take`] started and returns its
    /// recording. Panics after (length + record_frames) / rate + 20 s.
    pub fn finish_take(&self) -> [Vec<f32>; 2] {
        let rate = self.sample_rate().max(1) as f64;
        let mut ctl = self.ctl();
        let frames = ctl
            .take_frames
            .take()
            .expect("JackTap: finish_take without start_take");
        let timeout = Duration::from_secs_f64(frames as f64 / rate + 20.0);
        let job = ctl.wait_job(timeout, "play_and_record");
        let [l, r] = job.rec;
        [l, r]
    }

    /// Starts playing `left`/`right` in a loop from the next period start and
    /// recording the first `capacity` frames from that frame on.
    pub fn start_loop(&self, left: &[f32], right: &[f32], capacity: usize) {
        assert!(!left.is_empty(), "JackTap: empty loop");
        let mut ctl = self.ctl();
        assert!(
            !ctl.looping && ctl.take_frames.is_none(),
            "JackTap: a loop while a loop or a take runs"
        );
        self.recorded.store(0, Ordering::SeqCst);
        ctl.send(ToRt::Start(Self::job(left, right, true, capacity)));
        ctl.looping = true;
    }

    /// Stops the loop (from the next period on the tap outputs silence) and
    /// returns what was recorded: up to `capacity` frames from its start.
    pub fn stop_loop(&self) -> [Vec<f32>; 2] {
        let mut ctl = self.ctl();
        assert!(ctl.looping, "JackTap: stop_loop without start_loop");
        ctl.send(ToRt::Stop);
        let job = ctl.wait_job(WAIT, "stop_loop");
        ctl.looping = false;
        let n = job.rec_pos;
        let [mut l, mut r] = job.rec;
        l.truncate(n);
        r.truncate(n);
        [l, r]
    }

    /// The server's sample rate.
    pub fn sample_rate(&self) -> usize {
        self.client().sample_rate() as usize
    }

    /// The server's current period (buffer size) in frames.
    pub fn period(&self) -> usize {
        self.client().buffer_size() as usize
    }
}

impl Drop for JackTap {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = c.deactivate();
        }
    }
}

// ---------------------------------------------------------------- clean takes

/// How long [`undisturbed`] keeps trying before it gives up.
pub const CLEAN_TAKE_DEADLINE: Duration = Duration::from_secs(180);

/// Runs `take` (a recording, a measurement) again until nothing disturbed it:
/// `disturbances` (a sum of frame-clock breaks and xruns of every client on
/// the path, see [`CycleWatch`]) must not move while it runs. Dummy jackd in
/// non-realtime mode on a loaded machine runs clients late, twice or not at
/// all; such a take says nothing about rackd, so it neither passes nor fails
/// a test. Panics only when no clean take came within
/// [`CLEAN_TAKE_DEADLINE`], saying so.
pub fn undisturbed<T>(
    what: &str,
    disturbances: impl Fn() -> u64,
    mut take: impl FnMut() -> T,
) -> T {
    let deadline = Instant::now() + CLEAN_TAKE_DEADLINE;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let before = disturbances();
        let result = take();
        let after = disturbances();
        if after == before {
            if attempts > 1 {
                eprintln!("{what}: clean on attempt {attempts}");
            }
            return result;
        }
        eprintln!(
            "{what}: attempt {attempts} disturbed ({} breaks/xruns on the JACK path); again",
            after - before
        );
        assert!(
            Instant::now() < deadline,
            "{what}: no undisturbed take in {attempts} attempts within {CLEAN_TAKE_DEADLINE:?}: \
             the machine cannot run dummy jackd's graph in time"
        );
    }
}
