//! DSP load of the default mastering chain (issue 3, "Speed"):
//!
//! 1. Time in process as % of the period, mean and worst of 10 000 periods,
//!    at 48 kHz/64 frames and 96 kHz/128 frames, through the real
//!    `RtProcess` (`EngineControl::build_rt`: queue drain, chain, monitor,
//!    safety ceiling, in/out program meters). Goal: mean < 5 %, worst < 25 %.
//!    Periods are paced in real time (the thread sleeps until the next
//!    period, as an audio thread does) and the thread asks for SCHED_FIFO
//!    like JACK's; without it, preemption by other work shows in "worst".
//!    Peers in the same run: the same slots in a bare `rackd_dsp::Chain`
//!    (no queue, monitor, ceiling or in/out meters), the `in` and `out`
//!    programme meters alone, and a bare copy (what the machine's
//!    scheduling alone costs).
//! 2. Offline render real-time factor of the same chain (`render::render`
//!    over a generated 60 s WAV, decode and write included).
//!
//! Run: `cargo bench -p rackd --bench engine`

use rackd::audio_file::{self, WavFormat};
use rackd::config::Config;
use rackd::engine::EngineControl;
use rackd::hub::{ParamTree, Target};
use rackd_dsp::{Chain, Meters, SlotKind};
use rackd_protocol::param::Value;
use rackd_protocol::state::RackState;
use std::time::{Duration, Instant};

const PERIODS: usize = 10_000;

/// trim, eq, compressor, limiter, loudness, dither: the default mastering chain.
const CONFIG: &str = r#"
[audio]
backend = "null"
ceiling_dbfs = -0.3

[[chain]]
id = "trim"
kind = "trim"
[[chain]]
id = "eq"
kind = "eq"
[[chain]]
id = "comp"
kind = "compressor"
[[chain]]
id = "limiter"
kind = "limiter"
[[chain]]
id = "loudness"
kind = "loudness"
[[chain]]
id = "dither"
kind = "dither"
"#;

/// A mastering setting: four EQ bands in, the compressor and limiter working.
fn settings() -> RackState {
    let mut s = RackState::default();
    let mut put = |a: &str, v: Value| {
        s.values.insert(a.to_string(), v);
    };
    put("/chain/trim/gain", Value::Float(2.0));
    for (band, kind, freq, gain) in [
        (1, "high_pass", 25.0, 0.0),
        (3, "low_shelf", 120.0, 1.5),
        (5, "bell", 2500.0, -1.0),
        (8, "high_shelf", 12000.0, 2.0),
    ] {
        put(&format!("/chain/eq/b{band}_on"), Value::Int(1));
        put(&format!("/chain/eq/b{band}_type"), Value::Text(kind.into()));
        put(&format!("/chain/eq/b{band}_freq"), Value::Float(freq));
        put(&format!("/chain/eq/b{band}_gain"), Value::Float(gain));
    }
    put("/chain/comp/threshold", Value::Float(-20.0));
    put("/chain/comp/detector", Value::Text("rms".into()));
    put("/chain/comp/sc_hp_on", Value::Int(1));
    put("/chain/limiter/drive", Value::Float(4.0));
    put("/chain/dither/bits", Value::Text("16".into()));
    put("/chain/dither/shaping", Value::Text("simple".into()));
    s
}

/// A programme-like signal around −14 dBFS: a few partials plus noise, L≠R.
fn signal(frames: usize, sample_rate: f32) -> (Vec<f32>, Vec<f32>) {
    let mut seed = 0x2545_f491_u32;
    let mut noise = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed as f32 / u32::MAX as f32 - 0.5
    };
    let tau = 2.0 * std::f32::consts::PI;
    let (mut l, mut r) = (Vec::with_capacity(frames), Vec::with_capacity(frames));
    for i in 0..frames {
        let t = i as f32 / sample_rate;
        let tone = 0.25 * (tau * 55.0 * t).sin()
            + 0.12 * (tau * 440.0 * t).sin()
            + 0.06 * (tau * 3520.0 * t).sin();
        l.push(tone + 0.1 * noise());
        r.push(0.9 * tone + 0.1 * noise());
    }
    (l, r)
}

/// Mean and worst of per-period times, as % of the period.
fn report(what: &str, times: &[Duration], period: Duration) {
    let pct = |d: Duration| d.as_secs_f64() / period.as_secs_f64() * 100.0;
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    let worst = times.iter().max().copied().unwrap_or_default();
    let mut sorted = times.to_vec();
    sorted.sort();
    let p999 = sorted[(sorted.len() - 1) * 999 / 1000];
    println!(
        "  {what:<34} mean {:6.2} %  p99.9 {:6.2} %  worst {:6.2} %  (mean {:.1} µs)",
        pct(mean),
        pct(p999),
        pct(worst),
        mean.as_secs_f64() * 1e6
    );
}

/// Asks for SCHED_FIFO (as JACK's audio thread runs); returns the policy in effect.
fn realtime_scheduling() -> &'static str {
    let param = libc::sched_param { sched_priority: 70 };
    // SAFETY: plain syscall on the calling thread with a valid parameter.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } == 0 {
        "SCHED_FIFO 70"
    } else {
        "SCHED_OTHER (no real-time permission: worst includes preemption)"
    }
}

/// Times `process` over `PERIODS` periods of `n` frames, paced at the
/// period (after 200 warm-up periods).
fn time_periods(
    input: &(Vec<f32>, Vec<f32>),
    n: usize,
    period: Duration,
    mut process: impl FnMut(&[f32], &[f32], &mut [f32], &mut [f32]),
) -> Vec<Duration> {
    let (mut ol, mut or) = (vec![0f32; n], vec![0f32; n]);
    let blocks = input.0.len() / n;
    let mut times = Vec::with_capacity(PERIODS);
    let mut deadline = Instant::now();
    for p in 0..PERIODS + 200 {
        deadline += period;
        if let Some(wait) = deadline.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let s = (p % blocks) * n;
        let (l, r) = (&input.0[s..s + n], &input.1[s..s + n]);
        let started = Instant::now();
        process(l, r, &mut ol, &mut or);
        let took = started.elapsed();
        std::hint::black_box(&ol);
        if p >= 200 {
            times.push(took);
        }
    }
    times
}

fn dsp_load(config: &Config, state: &RackState, sample_rate: u32, n: usize) {
    let period = Duration::from_secs_f64(n as f64 / sample_rate as f64);
    println!(
        "{} kHz / {n} frames (period {:.3} ms), {PERIODS} periods:",
        sample_rate / 1000,
        period.as_secs_f64() * 1e3
    );
    let input = signal(sample_rate as usize * 2, sample_rate as f32);
    let tree = ParamTree::from_chain(&config.chain);

    let control = EngineControl::new(&config.chain, &config.audio);
    control.apply_state(&tree, state);
    let mut rt = control.build_rt(sample_rate, n);
    let times = time_periods(&input, n, period, |l, r, ol, or| rt.process(l, r, ol, or));
    report("rackd RtProcess (the audio thread)", &times, period);

    // Peer: the same processors and settings in a bare chain.
    let sr = sample_rate as f32;
    let mut chain = Chain::new(sr, n);
    for slot in &config.chain {
        chain.push(slot.kind.build(sr, n, Meters::new()));
    }
    for (address, value) in &state.values {
        if let Some(e) = tree.get(address)
            && let Target::ChainParam { slot, index } = e.target
            && let Ok(v) = e.spec.accept(value)
        {
            chain.set_param(slot, index, e.spec.engine_value(&v));
        }
    }
    chain.settle(0.5);
    let times = time_periods(&input, n, period, |l, r, ol, or| {
        ol.copy_from_slice(l);
        or.copy_from_slice(r);
        chain.process(ol, or);
    });
    report("peer: bare rackd_dsp::Chain", &times, period);
    // The `in` and `out` programme meters alone (BS.1770 loudness, 4x true
    // peak, correlation each), as RtProcess runs them.
    let mut meters = [
        SlotKind::Loudness.build(sr, n, Meters::new()),
        SlotKind::Loudness.build(sr, n, Meters::new()),
    ];
    let times = time_periods(&input, n, period, |l, r, ol, or| {
        ol.copy_from_slice(l);
        or.copy_from_slice(r);
        for m in &mut meters {
            m.process(ol, or);
        }
    });
    report("part: in + out programme meters", &times, period);
    let times = time_periods(&input, n, period, |l, r, ol, or| {
        ol.copy_from_slice(l);
        or.copy_from_slice(r);
    });
    report("floor: copy only", &times, period);
}

fn render_speed(config: &Config, state: &RackState, dir: &std::path::Path) {
    let seconds = 60;
    let (l, r) = signal(48_000 * seconds, 48_000.0);
    let input = dir.join("in.wav");
    let output = dir.join("out.wav");
    audio_file::write_wav(&input, 48_000, WavFormat::Pcm24, &l, &r).unwrap();
    let started = Instant::now();
    let rendered =
        rackd::cli::render::render(config, state, &input, &output, WavFormat::Pcm24, 256).unwrap();
    let took = started.elapsed();
    assert_eq!(rendered.frames, l.len());
    println!(
        "offline render, {seconds} s of 48 kHz stereo, 24-bit WAV in and out, block 256: \
         {:.2} s, {:.0}× real time",
        took.as_secs_f64(),
        seconds as f64 / took.as_secs_f64()
    );
}

fn main() {
    // `cargo test --all-targets` runs benches in test mode with no `--bench`: skip the work then.
    if !std::env::args().any(|a| a == "--bench") {
        println!("engine benchmark: run with `cargo bench -p rackd --bench engine`");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rackd.toml");
    std::fs::write(
        &path,
        format!(
            "[daemon]\nstate_dir = {:?}\n{CONFIG}",
            dir.path().join("state")
        ),
    )
    .unwrap();
    let config = Config::load(&path).unwrap();
    let state = settings();
    println!("scheduling: {}", realtime_scheduling());
    println!(
        "chain: {}",
        config
            .chain
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>()
            .join(" → ")
    );
    dsp_load(&config, &state, 48_000, 64);
    dsp_load(&config, &state, 96_000, 128);
    render_speed(&config, &state, dir.path());
}
