//! `rackd render --snapshot SONG IN OUT`: the offline backend. Runs the chain
//! of the config, set as a snapshot revision stores it, over a file as fast
//! as the machine goes — the same `RtProcess` the audio thread runs, block by
//! block, so the result equals the real-time path for the same block size.
//! The chain's latency is removed, so OUT lines up with IN.

use crate::audio_file::{self, WavFormat};
use crate::cli::Failure;
use crate::config::Config;
use crate::engine::EngineControl;
use crate::rack::ParamTree;
use crate::store::Store;
use rackd_protocol::api::address::MONITOR_PREFIX;
use rackd_protocol::song::SongPath;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, sync_channel};

/// Arguments of `rackd render`.
#[derive(clap::Args, Debug, Clone)]
pub struct RenderArgs {
    /// Song whose revision sets the chain (latest unless --rev).
    #[arg(long)]
    pub snapshot: String,
    /// Revision of the song.
    #[arg(long)]
    pub rev: Option<u32>,
    /// Input file: WAV, FLAC or AIFF, mono or stereo.
    pub input: PathBuf,
    /// Output WAV file.
    pub output: PathBuf,
    /// Output sample format: 16, 24 (integer PCM) or 32 (float).
    #[arg(long, default_value_t = 24)]
    pub bits: u32,
    /// Frames per block, as a JACK period would be.
    #[arg(long, default_value_t = 256)]
    pub block: usize,
    /// Config file (chain slots and state dir).
    #[arg(long, default_value = crate::config::DEFAULT_PATH)]
    pub config: PathBuf,
}

/// What a render did, for the summary line and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Song and revision used.
    pub snapshot: String,
    /// Frames written.
    pub frames: usize,
    /// Sample rate of input and output.
    pub sample_rate: u32,
    /// Chain latency removed, in samples.
    pub latency: usize,
}

/// `rackd render`: renders and says what it did.
pub fn main(args: &RenderArgs) -> std::process::ExitCode {
    match run(args) {
        Ok(r) => {
            println!(
                "rendered {} through {} -> {} ({} frames at {} Hz; {} samples of chain latency removed)",
                args.input.display(),
                r.snapshot,
                args.output.display(),
                r.frames,
                r.sample_rate,
                r.latency
            );
            std::process::ExitCode::SUCCESS
        }
        Err(f) => f.exit(),
    }
}

/// Runs `rackd render` as the CLI does.
pub fn run(args: &RenderArgs) -> Result<Rendered, Failure> {
    let format = WavFormat::from_bits(args.bits)
        .ok_or_else(|| Failure::Usage(format!("--bits {}: choose 16, 24 or 32", args.bits)))?;
    if !(16..=8192).contains(&args.block) {
        return Err(Failure::Usage(format!(
            "--block {}: choose 16..8192 frames",
            args.block
        )));
    }
    let config = Config::load(&args.config).map_err(|e| Failure::Invalid(e.to_string()))?;
    let song = SongPath::new(&args.snapshot).map_err(|e| Failure::Invalid(e.to_string()))?;
    let db = config.daemon.state_dir.join(crate::service::DB_FILE);
    if !db.exists() {
        return Err(Failure::Invalid(format!(
            "no snapshot store at {} (daemon.state_dir of {})",
            db.display(),
            args.config.display()
        )));
    }
    let store = Store::open(&db).map_err(|e| Failure::Runtime(e.to_string()))?;
    let revision = store
        .load(&song, args.rev)
        .map_err(|e| Failure::Invalid(e.to_string()))?;
    render(
        &config,
        &revision.state,
        &args.input,
        &args.output,
        format,
        args.block,
    )
    .map(|mut r| {
        r.snapshot = format!("{}@{}", revision.info.song, revision.info.rev);
        r
    })
}

/// Renders `input` through the config's chain set to `state`, block by
/// block as the file decodes (memory stays that of one block), into
/// `output` through a `.partial` file renamed at the end.
pub fn render(
    config: &Config,
    state: &rackd_protocol::state::RackState,
    input: &Path,
    output: &Path,
    format: WavFormat,
    block: usize,
) -> Result<Rendered, Failure> {
    let tree = ParamTree::from_chain(&config.chain);
    let control = EngineControl::new(&config.chain, &config.audio);
    let mut state = state.clone();
    state.values.retain(|a, _| !a.starts_with(MONITOR_PREFIX));
    if let Some(insert) = tree
        .layout(&state)
        .into_iter()
        .map(|i| &config.chain[i])
        .find(|s| s.kind == rackd_dsp::SlotKind::Insert)
    {
        return Err(Failure::Invalid(format!(
            "the chain holds the hardware insert {:?}: an offline render cannot play analog gear; \
             print it in real time through the running daemon with `rackd ctl print SONG IN OUT`",
            insert.id
        )));
    }
    control.apply_state(&tree, &state);

    // What went wrong inside, when something did (the writer only carries
    // I/O errors out).
    let mut failure = None;
    let mut rendered = None;
    let written = crate::files::write_atomically(output, |partial| {
        match stream_file(&control, input, partial, format, block) {
            Ok(r) => {
                rendered = Some(r);
                Ok(())
            }
            Err(e) => {
                failure = Some(e);
                Err(std::io::Error::other("render failed"))
            }
        }
    });
    match (written, failure, rendered) {
        (_, Some(e), _) => Err(e),
        (Err(e), None, _) => Err(Failure::Runtime(format!(
            "cannot write {}: {e}",
            output.display()
        ))),
        (Ok(()), None, Some(r)) => Ok(r),
        (Ok(()), None, None) => Err(Failure::Runtime("render produced nothing".into())),
    }
}

/// Decoded blocks waiting on their way from the decoder to the chain, and
/// rendered ones on their way to the writer (bounds the memory either side).
const IN_FLIGHT: usize = 16;

/// Decodes `input` into the chain block by block and writes `path`: the
/// decoder, the chain and the writer each on a thread of their own, so a
/// render takes about the time of the slowest of them, not of their sum.
fn stream_file(
    control: &EngineControl,
    input: &Path,
    path: &Path,
    format: WavFormat,
    block: usize,
) -> Result<Rendered, Failure> {
    let io_error =
        |e: std::io::Error| Failure::Runtime(format!("cannot write {}: {e}", path.display()));
    std::thread::scope(|scope| {
        let (to_writer, from_chain) = sync_channel::<[Vec<f32>; 2]>(IN_FLIGHT);
        let mut from_chain = Some(from_chain);
        let mut writer = None;
        let mut chain: Option<Stream> = None;
        let mut failed = None;
        let info = audio_file::decode_ahead(input, 2, false, &mut |rate, planes| {
            if failed.is_some() {
                return;
            }
            if chain.is_none() {
                match audio_file::WavWriter::create(path, rate, format) {
                    Ok(file) => {
                        let blocks = from_chain.take().expect("one writer");
                        writer = Some(scope.spawn(move || write_all(file, blocks)));
                        chain = Some(Stream::new(control, rate, block));
                    }
                    Err(e) => {
                        failed = Some(io_error(e));
                        return;
                    }
                }
            }
            let s = chain.as_mut().expect("built with the writer");
            let right = planes.get(1).copied().unwrap_or(planes[0]);
            // A writer that stopped says why when it is joined.
            if to_writer.send(s.push(planes[0], right)).is_err() {
                failed = Some(Failure::Runtime(format!("cannot write {}", path.display())));
            }
        });
        if let Some(s) = chain.as_mut()
            && failed.is_none()
        {
            let _ = to_writer.send(s.finish());
        }
        drop(to_writer);
        let written = writer.map(|w| w.join().expect("writer thread"));
        let info = info.map_err(|e| Failure::Invalid(format!("{}: {e}", input.display())))?;
        match (written, failed, chain) {
            (Some(Err(e)), _, _) => Err(io_error(e)),
            (_, Some(e), _) => Err(e),
            (Some(Ok(())), None, Some(s)) => Ok(Rendered {
                snapshot: String::new(),
                frames: info.frames as usize,
                sample_rate: info.sample_rate,
                latency: s.latency,
            }),
            _ => Err(Failure::Invalid(format!(
                "{}: no audio in the file",
                input.display()
            ))),
        }
    })
}

/// The writer's side: blocks to the file until the chain is done.
fn write_all(
    mut file: audio_file::WavWriter,
    blocks: Receiver<[Vec<f32>; 2]>,
) -> std::io::Result<()> {
    for [l, r] in blocks {
        file.write(&l, &r)?;
    }
    file.finish()
}

/// The chain of a render under way and the frames waiting for a whole block.
struct Stream {
    rt: crate::engine::rt::RtProcess,
    block: usize,
    /// The chain's latency: this many frames of its output come before the
    /// input's first frame, and this many frames of silence follow the file.
    latency: usize,
    /// Output frames still to drop from the start.
    skip: usize,
    pending: [Vec<f32>; 2],
}

impl Stream {
    fn new(control: &EngineControl, rate: u32, block: usize) -> Self {
        // The chain's output, as a print records it: the monitor section and
        // the room's safety ceiling are about the speakers, not the file.
        let rt = control.build_rt(rate, block).chain_output_only();
        let latency = rt.latency();
        Stream {
            rt,
            block,
            latency,
            skip: latency,
            pending: [Vec::with_capacity(2 * block), Vec::with_capacity(2 * block)],
        }
    }

    /// Takes decoded frames; returns the output of every whole block.
    fn push(&mut self, left: &[f32], right: &[f32]) -> [Vec<f32>; 2] {
        self.pending[0].extend_from_slice(left);
        self.pending[1].extend_from_slice(right);
        self.run(false)
    }

    /// Blocks of `block` frames from frame 0, as a JACK period would be;
    /// with `last`, also the shorter block at the end.
    fn run(&mut self, last: bool) -> [Vec<f32>; 2] {
        let n = self.pending[0].len();
        let whole = if last { n } else { n - n % self.block };
        let mut out = [vec![0f32; whole], vec![0f32; whole]];
        let mut start = 0;
        while start < whole {
            let m = self.block.min(whole - start);
            let [pl, pr] = &self.pending;
            let [ol, or] = &mut out;
            self.rt.process(
                &pl[start..start + m],
                &pr[start..start + m],
                &mut ol[start..start + m],
                &mut or[start..start + m],
            );
            start += m;
        }
        for p in &mut self.pending {
            p.drain(..whole);
        }
        let drop = self.skip.min(whole);
        self.skip -= drop;
        for o in &mut out {
            o.drain(..drop);
        }
        out
    }

    /// Feeds the latency's silence, so the output is the input's length and
    /// aligned with it; returns the last output.
    fn finish(&mut self) -> [Vec<f32>; 2] {
        for p in &mut self.pending {
            p.resize(p.len() + self.latency, 0.0);
        }
        self.run(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rackd_protocol::param::Value;
    use rackd_protocol::state::RackState;

    fn config(dir: &Path) -> (PathBuf, Config) {
        let path = dir.join("rackd.toml");
        std::fs::write(
            &path,
            format!(
                "[daemon]\nstate_dir = {:?}\n[audio]\nbackend = \"null\"\nceiling_dbfs = 0.0\n\
                 [[chain]]\nid = \"trim\"\nkind = \"trim\"\n[[chain]]\nid = \"lim\"\nkind = \"limiter\"\n",
                dir.join("state")
            ),
        )
        .unwrap();
        let cfg = Config::load(&path).unwrap();
        (path, cfg)
    }

    fn read(path: &Path) -> (Vec<f32>, Vec<f32>) {
        let (mut l, mut r) = (Vec::new(), Vec::new());
        audio_file::decode(path, 2, false, &mut |_, p| {
            l.extend_from_slice(p[0]);
            r.extend_from_slice(p[1]);
        })
        .unwrap();
        (l, r)
    }

    fn sine(n: usize, amp: f32) -> Vec<f32> {
        (0..n)
            .map(|i| (i as f32 * 2.0 * std::f32::consts::PI * 440.0 / 48_000.0).sin() * amp)
            .collect()
    }

    #[test]
    fn renders_the_snapshot_aligned_with_the_input() {
        let dir = tempfile::tempdir().unwrap();
        let (cfg_path, _) = config(dir.path());
        let input = dir.path().join("in.wav");
        let x = sine(48_000, 0.25);
        audio_file::write_wav(&input, 48_000, WavFormat::Float32, &x, &x).unwrap();
        let mut state = RackState::default();
        state
            .values
            .insert("/chain/trim/gain".into(), Value::Float(-6.0));
        state.values.insert("/monitor/mute".into(), Value::Int(1));
        let mut store = Store::open(&dir.path().join("state").join("rackd.db")).unwrap();
        store
            .save(&SongPath::new("c/a/01").unwrap(), "", "test", &state)
            .unwrap();
        drop(store);

        let out = dir.path().join("out.wav");
        let r = run(&RenderArgs {
            snapshot: "c/a/01".into(),
            rev: None,
            input: input.clone(),
            output: out.clone(),
            bits: 32,
            block: 256,
            config: cfg_path,
        })
        .unwrap();
        assert_eq!(r.snapshot, "c/a/01@1");
        assert!(r.latency > 0, "the limiter has lookahead");
        let (l, rr) = read(&out);
        assert_eq!(l.len(), x.len(), "same length as the input");
        let g = rackd_dsp::db_to_gain(-6.0);
        // Below the limiter's threshold: trim only (the monitor mute is not
        // rendered), sample-aligned with the input.
        for i in 0..x.len() {
            assert!(
                (l[i] - x[i] * g).abs() < 1e-5,
                "frame {i}: {} vs {}",
                l[i],
                x[i] * g
            );
            assert_eq!(l[i], rr[i]);
        }
    }

    #[test]
    fn equals_the_real_time_path_bit_for_bit() {
        let dir = tempfile::tempdir().unwrap();
        let (_, cfg) = config(dir.path());
        let input = dir.path().join("in.wav");
        // Loud enough for the limiter to work.
        let x = sine(30_000, 1.5);
        let y: Vec<f32> = x.iter().map(|v| -v * 0.7).collect();
        audio_file::write_wav(&input, 48_000, WavFormat::Float32, &x, &y).unwrap();
        let mut state = RackState::default();
        state
            .values
            .insert("/chain/trim/gain".into(), Value::Float(3.0));
        let out = dir.path().join("out.wav");
        let r = render(&cfg, &state, &input, &out, WavFormat::Float32, 128).unwrap();

        // The real-time path: the same RtProcess fed period by period (the
        // limiter keeps it under the safety ceiling, so the ceiling is idle).
        let tree = ParamTree::from_chain(&cfg.chain);
        let control = EngineControl::new(&cfg.chain, &cfg.audio);
        control.apply_state(&tree, &state);
        let mut rt = control.build_rt(48_000, 128);
        let (mut xl, mut xr) = (x.clone(), y.clone());
        xl.resize(x.len() + r.latency, 0.0);
        xr.resize(x.len() + r.latency, 0.0);
        let (mut ol, mut or) = (vec![0f32; xl.len()], vec![0f32; xl.len()]);
        for s in (0..xl.len()).step_by(128) {
            let e = (s + 128).min(xl.len());
            rt.process(&xl[s..e], &xr[s..e], &mut ol[s..e], &mut or[s..e]);
        }
        let (l, rr) = read(&out);
        assert_eq!(l, ol[r.latency..].to_vec());
        assert_eq!(rr, or[r.latency..].to_vec());
        assert!(l.iter().all(|v| v.abs() <= 1.0), "limited");
    }

    #[test]
    fn the_safety_ceiling_is_the_rooms_not_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let (_, mut cfg) = config(dir.path());
        cfg.chain.retain(|s| s.kind != rackd_dsp::SlotKind::Limiter);
        cfg.audio.ceiling_dbfs = -12.0;
        let input = dir.path().join("in.wav");
        let x = sine(4_800, 0.5);
        audio_file::write_wav(&input, 48_000, WavFormat::Float32, &x, &x).unwrap();
        let out = dir.path().join("out.wav");
        render(
            &cfg,
            &RackState::default(),
            &input,
            &out,
            WavFormat::Float32,
            64,
        )
        .unwrap();
        let (l, _) = read(&out);
        assert_eq!(
            l, x,
            "a -6 dBFS sine passes a -12 dBFS room ceiling into the file"
        );
    }

    #[test]
    fn failures_leave_the_output_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let (_, cfg) = config(dir.path());
        let out = dir.path().join("out.wav");
        // Not audio: refused, the earlier file untouched, nothing left over.
        let bad = dir.path().join("bad.wav");
        std::fs::write(&bad, b"RIFF....not a wave").unwrap();
        std::fs::write(&out, b"an earlier render").unwrap();
        let got = render(
            &cfg,
            &RackState::default(),
            &bad,
            &out,
            WavFormat::Float32,
            256,
        );
        assert!(
            matches!(&got, Err(Failure::Invalid(m)) if m.contains("bad.wav")),
            "{got:?}"
        );
        assert_eq!(std::fs::read(&out).unwrap(), b"an earlier render");
        assert!(!dir.path().join("out.wav.partial").exists());
        // An output that cannot be written: a runtime failure that says where.
        let good = dir.path().join("good.wav");
        let x = sine(4_800, 0.25);
        audio_file::write_wav(&good, 48_000, WavFormat::Pcm24, &x, &x).unwrap();
        let nowhere = dir.path().join("missing").join("out.wav");
        let got = render(
            &cfg,
            &RackState::default(),
            &good,
            &nowhere,
            WavFormat::Pcm24,
            256,
        );
        assert!(
            matches!(&got, Err(Failure::Runtime(m)) if m.contains("missing")),
            "{got:?}"
        );
    }

    #[test]
    fn refuses_bad_arguments_and_missing_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        let (cfg_path, _) = config(dir.path());
        let args = RenderArgs {
            snapshot: "c/a/01".into(),
            rev: None,
            input: dir.path().join("missing.wav"),
            output: dir.path().join("out.wav"),
            bits: 20,
            block: 256,
            config: cfg_path,
        };
        assert!(matches!(run(&args), Err(Failure::Usage(_))));
        let args = RenderArgs { bits: 24, ..args };
        assert!(matches!(run(&args), Err(Failure::Invalid(m)) if m.contains("no snapshot store")));
        assert!(!dir.path().join("out.wav").exists());
    }
}
