//! rackd's offline render and analysis against peers on the same work, in
//! the same run (issue 17):
//!
//! - `rackd render --block 1024 --bits 32` against CamillaDSP (file to
//!   file, chunk 1024, its default f64 processing) on three chains built from
//!   the same parameter values: EQ alone; EQ + compressor; EQ + compressor +
//!   lookahead limiter (rackd's is a true-peak limiter, CamillaDSP's a
//!   sample-peak one, so the cost of rackd's true-peak detection is also
//!   printed on its own).
//! - `rackd analyze --json` against `ffmpeg -af ebur128=peak=true`.
//!
//! Input: 60 s of 96 kHz stereo pink noise, 24-bit WAV; output 32-bit float.
//! Each command runs three times, interleaved with its peer; the best wall
//! time of each is compared. Where the processing is the same (EQ alone) the
//! two outputs must agree: after aligning, the largest difference must be
//! below −100 dBFS, or the bench fails.
//!
//! Run: `scripts/bench-dsp` (installs CamillaDSP into a cache directory and
//! ffmpeg when missing, then runs `cargo bench -p rackd --bench dsp_speed --
//! --camilladsp PATH`); `scripts/bench-dsp --only analyze` runs the analysis
//! comparison alone.

use rackd::audio_file::{self, WavFormat};
use rackd::store::Store;
use rackd_dsp::limiter::Limiter;
use rackd_dsp::{Meters, Processor, SlotKind};
use rackd_protocol::param::Value;
use rackd_protocol::song::SongPath;
use rackd_protocol::state::RackState;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const RATE: u32 = 96_000;
const BLOCK: usize = 1024;
const SONG: &str = "bench/speed/01";

/// EQ bands: (CamillaDSP type, rackd type, freq Hz, gain dB, Q).
const EQ: [(&str, &str, f64, f64, f64); 4] = [
    ("Lowshelf", "low_shelf", 80.0, 2.0, 0.707),
    ("Peaking", "bell", 300.0, -2.5, 1.0),
    ("Peaking", "bell", 3000.0, 1.5, 1.4),
    ("Highshelf", "high_shelf", 10_000.0, 2.0, 0.707),
];
/// Compressor: threshold dB, ratio, attack ms, release ms, makeup dB.
const COMP: (f64, f64, f64, f64, f64) = (-20.0, 3.0, 10.0, 100.0, 2.0);
/// Limiter: ceiling dB, lookahead (CamillaDSP: attack) ms, release ms, and
/// the drive into it, dB (CamillaDSP: a gain filter before it), so that it
/// works on much of the programme.
const LIM: (f64, f64, f64, f64) = (-1.0, 1.5, 100.0, 12.0);

#[derive(Clone, Copy, PartialEq)]
enum Chain {
    Eq,
    EqComp,
    EqCompLim,
}

impl Chain {
    const ALL: [Chain; 3] = [Chain::Eq, Chain::EqComp, Chain::EqCompLim];

    fn name(self) -> &'static str {
        match self {
            Chain::Eq => "EQ",
            Chain::EqComp => "EQ + compressor",
            Chain::EqCompLim => "EQ + compressor + limiter",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Chain::Eq => "eq",
            Chain::EqComp => "eq_comp",
            Chain::EqCompLim => "eq_comp_lim",
        }
    }

    fn has_comp(self) -> bool {
        self != Chain::Eq
    }

    fn has_lim(self) -> bool {
        self == Chain::EqCompLim
    }
}

/// Deterministic stereo pink noise (Paul Kellet's filter over xorshift
/// white noise), about −19 dBFS RMS, quantized to 24 bits.
fn pink_noise(frames: usize) -> [Vec<f32>; 2] {
    let mut out = [Vec::with_capacity(frames), Vec::with_capacity(frames)];
    for (ch, out) in out.iter_mut().enumerate() {
        let mut seed = 0x9e37_79b9u32 ^ (ch as u32 * 0x85eb_ca6b);
        let mut b = [0f64; 7];
        for _ in 0..frames {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let w = seed as f64 / u32::MAX as f64 * 2.0 - 1.0;
            b[0] = 0.99886 * b[0] + w * 0.0555179;
            b[1] = 0.99332 * b[1] + w * 0.0750759;
            b[2] = 0.96900 * b[2] + w * 0.1538520;
            b[3] = 0.86650 * b[3] + w * 0.3104856;
            b[4] = 0.55000 * b[4] + w * 0.5329522;
            b[5] = -0.7616 * b[5] - w * 0.0168980;
            let pink = b.iter().sum::<f64>() + w * 0.5362;
            b[6] = w * 0.115926;
            let x = (pink * 0.06).clamp(-1.0, 1.0);
            out.push(((x * 8_388_608.0).round() / 8_388_608.0) as f32);
        }
    }
    out
}

/// The snapshot both tools are set from, as rackd stores it.
fn rackd_state(chain: Chain) -> RackState {
    let mut s = RackState::default();
    let mut put = |a: &str, v: Value| {
        s.values.insert(a.to_string(), v);
    };
    for (i, (_, kind, freq, gain, q)) in EQ.iter().enumerate() {
        let b = i + 1;
        put(&format!("/chain/eq/b{b}_on"), Value::Int(1));
        put(&format!("/chain/eq/b{b}_type"), Value::Text((*kind).into()));
        put(&format!("/chain/eq/b{b}_freq"), Value::Float(*freq));
        put(&format!("/chain/eq/b{b}_gain"), Value::Float(*gain));
        put(&format!("/chain/eq/b{b}_q"), Value::Float(*q));
    }
    if chain.has_comp() {
        let (threshold, ratio, attack, release, makeup) = COMP;
        put("/chain/comp/threshold", Value::Float(threshold));
        put("/chain/comp/ratio", Value::Float(ratio));
        put("/chain/comp/knee", Value::Float(0.0));
        put("/chain/comp/attack", Value::Float(attack));
        put("/chain/comp/release", Value::Float(release));
        put("/chain/comp/makeup", Value::Float(makeup));
    }
    if chain.has_lim() {
        let (ceiling, lookahead, release, drive) = LIM;
        put("/chain/lim/drive", Value::Float(drive));
        put("/chain/lim/ceiling", Value::Float(ceiling));
        put("/chain/lim/lookahead", Value::Float(lookahead));
        put("/chain/lim/release", Value::Float(release));
    }
    s
}

/// A rackd config with the chain's slots and a store holding its snapshot.
fn rackd_setup(dir: &Path, chain: Chain) -> PathBuf {
    let state_dir = dir.join(format!("state_{}", chain.tag()));
    let mut slots = String::from("[[chain]]\nid = \"eq\"\nkind = \"eq\"\n");
    if chain.has_comp() {
        slots += "[[chain]]\nid = \"comp\"\nkind = \"compressor\"\n";
    }
    if chain.has_lim() {
        slots += "[[chain]]\nid = \"lim\"\nkind = \"limiter\"\n";
    }
    let config = dir.join(format!("rackd_{}.toml", chain.tag()));
    std::fs::write(
        &config,
        format!("[daemon]\nstate_dir = {state_dir:?}\n[audio]\nbackend = \"null\"\n{slots}"),
    )
    .unwrap();
    std::fs::create_dir_all(&state_dir).unwrap();
    let mut store = Store::open(&state_dir.join("rackd.db")).unwrap();
    store
        .save(
            &SongPath::new(SONG).unwrap(),
            "",
            "bench",
            &rackd_state(chain),
        )
        .unwrap();
    config
}

/// A CamillaDSP config for the same chain, WAV file in, float WAV out.
fn camilla_setup(dir: &Path, chain: Chain, input: &Path, output: &Path) -> PathBuf {
    let mut filters = String::new();
    let mut names = Vec::new();
    for (i, (kind, _, freq, gain, q)) in EQ.iter().enumerate() {
        let name = format!("eq{}", i + 1);
        filters += &format!(
            "  {name}:\n    type: Biquad\n    parameters:\n      type: {kind}\n      \
             freq: {freq}\n      gain: {gain}\n      q: {q}\n"
        );
        names.push(name);
    }
    let mut processors = String::new();
    let mut steps = format!(
        "  - type: Filter\n    channels: [0, 1]\n    names: [{}]\n",
        names.join(", ")
    );
    if chain.has_comp() {
        let (threshold, ratio, attack, release, makeup) = COMP;
        processors += &format!(
            "  comp:\n    type: Compressor\n    parameters:\n      channels: 2\n      \
             threshold: {threshold}\n      factor: {ratio}\n      attack: {attack}\n      \
             attack_unit: ms\n      release: {release}\n      release_unit: ms\n      \
             makeup_gain: {makeup}\n"
        );
        steps += "  - type: Processor\n    name: comp\n";
    }
    if chain.has_lim() {
        let (ceiling, lookahead, release, drive) = LIM;
        filters += &format!(
            "  drive:\n    type: Gain\n    parameters:\n      gain: {drive}\n      scale: dB\n"
        );
        steps += "  - type: Filter\n    channels: [0, 1]\n    names: [drive]\n";
        processors += &format!(
            "  lim:\n    type: LookaheadLimiter\n    parameters:\n      channels: 2\n      \
             limit: {ceiling}\n      attack: {lookahead}\n      attack_unit: ms\n      \
             release: {release}\n      release_unit: ms\n"
        );
        steps += "  - type: Processor\n    name: lim\n";
    }
    let processors = if processors.is_empty() {
        String::new()
    } else {
        format!("processors:\n{processors}")
    };
    let yaml = format!(
        "devices:\n  samplerate: {RATE}\n  chunksize: {BLOCK}\n  capture:\n    type: WavFile\n    \
         filename: {input:?}\n  playback:\n    type: File\n    channels: 2\n    \
         filename: {output:?}\n    format: F32_LE\n    wav_header: true\n\
         filters:\n{filters}{processors}pipeline:\n{steps}"
    );
    let path = dir.join(format!("camilla_{}.yml", chain.tag()));
    std::fs::write(&path, yaml).unwrap();
    path
}

/// Runs a command to completion; wall time and the child's CPU time.
fn timed(cmd: &mut Command) -> (Duration, Duration) {
    let cpu_before = children_cpu();
    let started = Instant::now();
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let wall = started.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    (wall, children_cpu().saturating_sub(cpu_before))
}

/// User + system time of the waited-for children so far.
fn children_cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given; zeroed is a valid start.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a rusage, RUSAGE_CHILDREN is a valid `who`.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn read(path: &Path) -> [Vec<f32>; 2] {
    let (mut l, mut r) = (Vec::new(), Vec::new());
    audio_file::decode(path, 2, false, &mut |_, p| {
        l.extend_from_slice(p[0]);
        r.extend_from_slice(p[1]);
    })
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    [l, r]
}

/// Largest absolute difference of `b` against `a` at the lag (within
/// ±`max_lag`) where they agree best.
fn aligned_difference(a: &[Vec<f32>; 2], b: &[Vec<f32>; 2], max_lag: usize) -> (i64, f64) {
    // Skip the first and last second (filter onsets, file ends).
    let diff_at = |lag: i64| {
        let mut worst = 0f64;
        for (x, y) in a.iter().zip(b) {
            let skip = RATE as usize;
            for (i, &v) in x
                .iter()
                .enumerate()
                .take(x.len().min(y.len()) - skip)
                .skip(skip)
            {
                let j = i as i64 + lag;
                if j >= 0 && (j as usize) < y.len() {
                    worst = worst.max((v as f64 - y[j as usize] as f64).abs());
                }
            }
        }
        worst
    };
    let lags = -(max_lag as i64)..=max_lag as i64;
    // Probe a short stretch first, then measure the best lag over everything.
    let probe = |lag: i64| {
        (RATE as usize..RATE as usize + 4096)
            .map(|i| (a[0][i] as f64 - b[0][(i as i64 + lag) as usize] as f64).abs())
            .fold(0.0, f64::max)
    };
    let lag = lags
        .min_by(|&p, &q| probe(p).total_cmp(&probe(q)))
        .unwrap_or(0);
    (lag, diff_at(lag))
}

fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// What the limiter did and cost in process over the EQ + compressor
/// output (what it sees in the render).
struct LimiterRun {
    limiter: Duration,
    detection: Duration,
    /// Largest gain reduction, dB.
    largest: f32,
    /// Share of 1024-frame blocks with gain reduction, %.
    working: f64,
}

/// The cost of the limiter, and of its true-peak detection alone, in
/// process over the EQ + compressor output.
fn limiter_cost(signal: &[Vec<f32>; 2], runs: usize) -> LimiterRun {
    let meters = Meters::new();
    let mut best = (Duration::MAX, Duration::MAX);
    let (mut largest, mut working) = (0f32, 0.0);
    for _ in 0..runs {
        let mut lim = Limiter::new(RATE as f32, meters.clone());
        lim.set_param(Limiter::CEILING, LIM.0 as f32);
        lim.set_param(Limiter::LOOKAHEAD, LIM.1 as f32);
        lim.set_param(Limiter::RELEASE, LIM.2 as f32);
        lim.set_param(Limiter::DRIVE, LIM.3 as f32);
        let (mut l, mut r) = (signal[0].clone(), signal[1].clone());
        let mut reductions = Vec::with_capacity(l.len() / BLOCK + 1);
        let t = Instant::now();
        for (cl, cr) in l.chunks_mut(BLOCK).zip(r.chunks_mut(BLOCK)) {
            lim.process(cl, cr);
            reductions.push(meters.take().gain_reduction);
        }
        best.0 = best.0.min(t.elapsed());
        largest = reductions.iter().fold(largest, |m, &v| m.max(v));
        working = 100.0 * reductions.iter().filter(|&&v| v > 0.0).count() as f64
            / reductions.len() as f64;
        std::hint::black_box(&l);

        let mut detector = lim.detector();
        let t = Instant::now();
        for (cl, cr) in signal[0].chunks(BLOCK).zip(signal[1].chunks(BLOCK)) {
            std::hint::black_box(detector.run(cl, cr));
        }
        best.1 = best.1.min(t.elapsed());
    }
    LimiterRun {
        limiter: best.0,
        detection: best.1,
        largest,
        working,
    }
}

/// EQ + compressor in process, as the render runs them (block 1024).
fn eq_comp_output(input: &[Vec<f32>; 2]) -> [Vec<f32>; 2] {
    let meters = Meters::new();
    let mut chain = rackd_dsp::Chain::new(RATE as f32, BLOCK);
    let mut eq = SlotKind::Eq.build(RATE as f32, BLOCK, meters.clone());
    let params = SlotKind::Eq.params();
    let index = |id: &str| params.iter().position(|p| p.id == id).unwrap();
    for (i, (_, kind, freq, gain, q)) in EQ.iter().enumerate() {
        let b = i + 1;
        // The EQ's type choice: bell, low_shelf, high_shelf, ...
        let t = ["bell", "low_shelf", "high_shelf"]
            .iter()
            .position(|t| t == kind)
            .unwrap();
        eq.set_param(index(&format!("b{b}_on")), 1.0);
        eq.set_param(index(&format!("b{b}_type")), t as f32);
        eq.set_param(index(&format!("b{b}_freq")), *freq as f32);
        eq.set_param(index(&format!("b{b}_gain")), *gain as f32);
        eq.set_param(index(&format!("b{b}_q")), *q as f32);
    }
    chain.push(eq);
    let mut comp = SlotKind::Compressor.build(RATE as f32, BLOCK, meters);
    use rackd_dsp::compressor::Compressor as C;
    comp.set_param(C::THRESHOLD, COMP.0 as f32);
    comp.set_param(C::RATIO, COMP.1 as f32);
    comp.set_param(C::KNEE, 0.0);
    comp.set_param(C::ATTACK, COMP.2 as f32);
    comp.set_param(C::RELEASE, COMP.3 as f32);
    comp.set_param(C::MAKEUP, COMP.4 as f32);
    chain.push(comp);
    chain.settle(0.5);
    let (mut l, mut r) = (input[0].clone(), input[1].clone());
    chain.process(&mut l, &mut r);
    [l, r]
}

fn main() {
    // `cargo test --all-targets` runs benches in test mode with no `--bench`: skip the work then.
    if !std::env::args().any(|a| a == "--bench") {
        println!("dsp_speed benchmark: run with `scripts/bench-dsp`");
        return;
    }
    let rackd = PathBuf::from(env!("CARGO_BIN_EXE_rackd"));
    let camilla = PathBuf::from(arg("--camilladsp").unwrap_or_else(|| "camilladsp".into()));
    let ffmpeg = arg("--ffmpeg").unwrap_or_else(|| "ffmpeg".into());
    let seconds: usize = arg("--seconds").map_or(60, |s| s.parse().unwrap());
    let runs: usize = arg("--runs").map_or(3, |s| s.parse().unwrap());
    let analyze_only = arg("--only").as_deref() == Some("analyze");
    let version = Command::new(&camilla).arg("--version").output();
    let version = match version {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ if analyze_only => "no CamillaDSP (--only analyze)".to_string(),
        _ => {
            eprintln!(
                "CamillaDSP not found at {} (scripts/bench-dsp installs it)",
                camilla.display()
            );
            std::process::exit(2);
        }
    };
    // `--dir DIR` keeps the files and configs there (for profiling one command).
    let temp = tempfile::tempdir().unwrap();
    let dir = arg("--dir").map_or_else(|| temp.path().to_path_buf(), PathBuf::from);
    std::fs::create_dir_all(&dir).unwrap();
    let dir = dir.as_path();
    let input = dir.join("pink.wav");
    let noise = pink_noise(RATE as usize * seconds);
    audio_file::write_wav(&input, RATE, WavFormat::Pcm24, &noise[0], &noise[1]).unwrap();
    println!(
        "input: {seconds} s of {} kHz stereo pink noise, 24-bit WAV; output 32-bit float WAV; \
         best of {runs}",
        RATE / 1000
    );
    println!("peers: {version}; {ffmpeg} -af ebur128=peak=true");

    // `--only analyze`: the analysis comparison alone (no CamillaDSP needed).
    let mut failed = false;
    if !analyze_only {
        failed |= render_against_camilla(&rackd, &camilla, dir, &input, &noise, runs, seconds);
    }
    println!();
    let mut rackd_analyze = Command::new(&rackd);
    rackd_analyze.args(["analyze", "--json"]).arg(&input);
    let mut ffmpeg_cmd = Command::new(&ffmpeg);
    ffmpeg_cmd
        .args(["-nostdin", "-hide_banner", "-nostats", "-i"])
        .arg(&input)
        .args([
            "-af",
            "ebur128=peak=true:framelog=verbose",
            "-f",
            "null",
            "-",
        ]);
    let mut b = [(Duration::MAX, Duration::ZERO); 2];
    for _ in 0..runs {
        let t = timed(&mut rackd_analyze);
        if t.0 < b[0].0 {
            b[0] = t;
        }
        let t = timed(&mut ffmpeg_cmd);
        if t.0 < b[1].0 {
            b[1] = t;
        }
    }
    let ours: serde_json::Value =
        serde_json::from_slice(&rackd_analyze.output().unwrap().stdout).unwrap();
    let theirs = String::from_utf8_lossy(&ffmpeg_cmd.output().unwrap().stderr).to_string();
    let ffmpeg_value = |label: &str| {
        theirs
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix(label))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    let file = &ours["files"][0];
    println!(
        "| analysis | rackd analyze --json (wall, CPU) | ffmpeg ebur128=peak=true (wall, CPU) | ffmpeg time / rackd time |"
    );
    println!("|---|---|---|---|");
    println!(
        "| loudness, LRA, true peak | {:.3} s, {:.3} s | {:.3} s, {:.3} s | {:.2}× |",
        b[0].0.as_secs_f64(),
        b[0].1.as_secs_f64(),
        b[1].0.as_secs_f64(),
        b[1].1.as_secs_f64(),
        b[1].0.as_secs_f64() / b[0].0.as_secs_f64()
    );
    println!(
        "values: integrated rackd {:.2} LUFS, ffmpeg {:?}; LRA rackd {:.2} LU, ffmpeg {:?}; \
         true peak rackd {:.2} dBTP, ffmpeg {:?}",
        file["integrated_lufs"].as_f64().unwrap_or(f64::NAN),
        ffmpeg_value("I:"),
        file["lra_lu"].as_f64().unwrap_or(f64::NAN),
        ffmpeg_value("LRA:"),
        file["true_peak_dbtp"].as_f64().unwrap_or(f64::NAN),
        ffmpeg_value("Peak:"),
    );
    if failed {
        std::process::exit(1);
    }
}

/// The render chains against CamillaDSP and the limiter's own cost; true
/// when a check failed.
fn render_against_camilla(
    rackd: &Path,
    camilla: &Path,
    dir: &Path,
    input: &Path,
    noise: &[Vec<f32>; 2],
    runs: usize,
    seconds: usize,
) -> bool {
    let mut best = Vec::new();
    for chain in Chain::ALL {
        let config = rackd_setup(dir, chain);
        let r_out = dir.join(format!("rackd_{}.wav", chain.tag()));
        let c_out = dir.join(format!("camilla_{}.wav", chain.tag()));
        let yaml = camilla_setup(dir, chain, input, &c_out);
        let mut rackd_cmd = Command::new(rackd);
        rackd_cmd
            .args(["render", "--snapshot", SONG, "--bits", "32", "--block"])
            .arg(BLOCK.to_string())
            .arg("--config")
            .arg(&config)
            .arg(input)
            .arg(&r_out);
        let mut camilla_cmd = Command::new(camilla);
        camilla_cmd.arg("--loglevel").arg("warn").arg(&yaml);
        let mut b = [(Duration::MAX, Duration::ZERO); 2];
        for _ in 0..runs {
            let _ = std::fs::remove_file(&r_out);
            let t = timed(&mut rackd_cmd);
            if t.0 < b[0].0 {
                b[0] = t;
            }
            let t = timed(&mut camilla_cmd);
            if t.0 < b[1].0 {
                b[1] = t;
            }
        }
        best.push((chain, b, r_out, c_out));
    }

    let mut failed = false;
    println!();
    println!(
        "| chain | rackd render (wall, CPU) | CamillaDSP (wall, CPU) | CamillaDSP time / rackd time |"
    );
    println!("|---|---|---|---|");
    for (chain, [r, c], _, _) in &best {
        println!(
            "| {} | {:.3} s, {:.3} s | {:.3} s, {:.3} s | {:.2}× |",
            chain.name(),
            r.0.as_secs_f64(),
            r.1.as_secs_f64(),
            c.0.as_secs_f64(),
            c.1.as_secs_f64(),
            c.0.as_secs_f64() / r.0.as_secs_f64()
        );
    }
    println!();
    for (chain, _, r_out, c_out) in &best {
        let (a, b) = (read(r_out), read(c_out));
        let frames = a[0].len();
        let (lag, worst) = aligned_difference(&a, &b, 64);
        if *chain == Chain::Eq {
            let ok = db(worst) < -100.0;
            failed |= !ok;
            println!(
                "EQ outputs agree: largest difference {:.1} dBFS at lag {lag} \
                 ({frames} frames each; goal below -100 dBFS){}",
                db(worst),
                if ok { "" } else { "  FAILED" }
            );
        } else {
            println!(
                "{}: largest difference {:.1} dBFS (different dynamics designs, for information)",
                chain.name(),
                db(worst)
            );
        }
        if chain.has_lim() {
            let tp = |x: &[Vec<f32>; 2]| {
                // The 16x reference on the loudest stretch of each channel.
                let mut best = 0f32;
                for ch in x {
                    let at = ch
                        .iter()
                        .enumerate()
                        .fold(
                            (0, 0f32),
                            |m, (i, v)| if v.abs() > m.1 { (i, v.abs()) } else { m },
                        )
                        .0;
                    let s = at.saturating_sub(2048).min(ch.len().saturating_sub(4096));
                    best = best.max(rackd_dsp::truepeak::reference_peak(&ch[s..s + 4096], 16));
                }
                db(best as f64)
            };
            println!(
                "limiter output, 16x-oversampled peak around the loudest sample: rackd {:.2} dBTP, \
                 CamillaDSP {:.2} dB (ceiling {} dB; CamillaDSP limits sample peaks)",
                tp(&a),
                tp(&b),
                LIM.0
            );
        }
    }

    let limited = eq_comp_output(noise);
    let lim = limiter_cost(&limited, runs);
    println!(
        "rackd's true-peak limiter in process over the EQ + compressor output ({seconds} s \
         stereo, drive {} dB): {:.3} s, of which the true-peak detection (BS.1770 4x and 16x \
         band-limited points) {:.3} s; gain reduction in {:.0} % of the 1024-frame blocks, up \
         to {:.1} dB",
        LIM.3,
        lim.limiter.as_secs_f64(),
        lim.detection.as_secs_f64(),
        lim.working,
        lim.largest
    );

    failed
}
