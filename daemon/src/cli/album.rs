//! `rackd album check | build`: an album (album.toml or a CDRWIN cue sheet)
//! checked against the Red Book and built into what the pressing plant
//! takes. The logic is in `rackd-delivery`; this file reads the sources,
//! writes the files and shows progress.
//!
//! Long: `check` and `build` share the source scan, layout, rendering and
//! progress code; the streaming half is in `album/`.
//!
//! `build --out DIR` writes into `DIR.partial` and renames it to `DIR` only
//! when everything succeeded:
//! `ddp/` (DDPID, DDPMS, PQDESCR, IMAGE.DAT, CDTEXT.BIN, CHECKSUM.MD5),
//! `cd/` (album.cue + album.bin, album.toc), `pq-sheet.html`, `pq-sheet.txt`.
//! `--json` prints a summary with schema `rackd-album-build/1`.
//! `--streaming` (and `--previews`) add `streaming/`, `report.json` and
//! `report.html`, made beside the CD audio ([`streaming`]); `rackd album
//! loudness` is the album's loudness plan.

mod previews;
pub mod streaming;

use crate::audio_file::Reader;
use anyhow::{Context, bail};
use clap::Subcommand;
use rackd_delivery::album::spec::AlbumSpec;
use rackd_delivery::album::{
    Diagnostic, Disc, Severity, Source, SourceInfo, SourceKind, has_errors,
};
use rackd_delivery::cue::{self, CueSheet};
use rackd_delivery::ddp::{self, Ddp, checksum};
use rackd_delivery::frames::{CD_RATE, Msf, SAMPLES_PER_FRAME};
use rackd_delivery::render::{CdQuantizer, Renderer, SourceReader};
use rackd_delivery::{pqsheet, redbook, toc};
use rackd_dsp::truepeak::TruePeak;
use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// `rackd album …`.
#[derive(Subcommand, Debug)]
pub enum AlbumCommand {
    /// Check an album (album.toml or a .cue) against the Red Book; reads every source.
    Check {
        /// album.toml or a CDRWIN cue sheet.
        album: PathBuf,
    },
    /// Build the DDP, cue/bin, TOC and PQ sheet into DIR (via DIR.partial).
    Build {
        /// album.toml or a CDRWIN cue sheet.
        album: PathBuf,
        /// Output folder (must not exist, unless --force).
        #[arg(long)]
        out: PathBuf,
        /// Replace DIR if it exists.
        #[arg(long)]
        force: bool,
        /// Print a machine-readable summary (schema rackd-album-build/1).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        streaming: streaming::StreamingArgs,
    },
    /// The album's loudness plan: each track as delivered, and the gains to a target.
    Loudness(streaming::LoudnessArgs),
}

/// Runs a subcommand; exit 0 ok (warnings printed), 1 runtime failure, 2 refused.
pub fn main(cmd: AlbumCommand) -> ExitCode {
    match cmd {
        AlbumCommand::Check { album } => match load(&album) {
            Ok(loaded) => {
                loaded.print();
                let n = loaded.disc.tracks.len();
                println!(
                    "{}: ok ({n} tracks, {}, {} frames)",
                    album.display(),
                    Msf(loaded.disc.lead_out),
                    loaded.disc.lead_out
                );
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        AlbumCommand::Loudness(args) => streaming::loudness_main(&args),
        AlbumCommand::Build {
            album,
            out,
            force,
            json,
            streaming,
        } => {
            let started = Instant::now();
            let streaming = match streaming.options() {
                Ok(o) => o,
                Err(m) => {
                    eprintln!("rackd album build: {m}");
                    return ExitCode::from(2);
                }
            };
            let loaded = match load(&album) {
                Ok(l) => l,
                Err(code) => return code,
            };
            loaded.print();
            let streaming = match &streaming {
                Some(o) => match streaming::preflight(&loaded, o) {
                    Ok(rate) => Some((o, rate)),
                    Err(e) => return e.exit(),
                },
                None => None,
            };
            match build(&loaded, &out, force, started, streaming) {
                Ok(summary) => {
                    if json {
                        println!(
                            "{}",
                            serde_json::to_string_pretty(&summary.json).unwrap_or_default()
                        );
                    } else {
                        print!("{}", summary.text);
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => e.exit(),
            }
        }
    }
}

/// An album read, its sources scanned, laid out and checked.
pub struct Loaded {
    /// The disc.
    pub disc: Disc,
    /// Findings (no errors).
    pub diagnostics: Vec<Diagnostic>,
    /// The album file as given, for messages.
    pub name: String,
}

impl Loaded {
    fn print(&self) {
        for d in &self.diagnostics {
            eprintln!("{}", d.display(&self.name));
        }
    }
}

fn print_all(name: &str, d: &[Diagnostic]) {
    for d in d {
        eprintln!("{}", d.display(name));
    }
}

/// Reads the album file and every source, lays the disc out and checks it.
/// On a refusal the findings are printed and the exit code returned.
pub fn load(path: &Path) -> Result<Loaded, ExitCode> {
    let name = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{name}: error: cannot read: {e}");
            return Err(ExitCode::from(2));
        }
    };
    let folder = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let is_cue = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("cue"));
    enum Input {
        Toml(AlbumSpec),
        Cue(CueSheet),
    }
    let (input, mut diags) = if is_cue {
        let (c, d) = CueSheet::parse(&bytes, &folder);
        (c.map(Input::Cue), d)
    } else {
        let text = String::from_utf8_lossy(&bytes);
        let (s, d) = AlbumSpec::parse(&text, &folder);
        (s.map(Input::Toml), d)
    };
    let Some(input) = input else {
        print_all(&name, &diags);
        return Err(ExitCode::from(2));
    };
    let sources = match &input {
        Input::Toml(s) => s.sources.clone(),
        Input::Cue(c) => c.sources.clone(),
    };
    let progress = Progress::new("reading sources", sources.len() as u64);
    let scanned = scan_all(&sources, &progress);
    progress.done();
    let mut infos = Vec::new();
    for (src, r) in sources.iter().zip(scanned) {
        match r {
            Ok(i) => infos.push(i),
            Err(e) => {
                diags.push(Diagnostic::error(
                    src.line,
                    format!("{}: cannot be read: {e}", src.path.display()),
                ));
                infos.push(SourceInfo {
                    rate: CD_RATE,
                    frames: 0,
                    channels: 2,
                    exact16: true,
                    peak: 0.0,
                });
            }
        }
    }
    if has_errors(&diags) {
        print_all(&name, &diags);
        return Err(ExitCode::from(2));
    }
    let (disc, d) = match &input {
        Input::Toml(s) => s.layout(&infos),
        Input::Cue(c) => c.layout(&infos),
    };
    diags.extend(d);
    let Some(disc) = disc else {
        print_all(&name, &diags);
        return Err(ExitCode::from(2));
    };
    diags.extend(redbook::check(&disc));
    for c in &disc.clips {
        let info = disc.source_info[c.source];
        let peak = info.peak as f64 * 10f64.powf(c.gain_db / 20.0);
        if peak > 1.0 {
            diags.push(Diagnostic::warning(
                disc.sources[c.source].line,
                format!(
                    "track {}: {} peaks at {:+.1} dBFS with its gain: it will clip on the disc",
                    c.track,
                    disc.sources[c.source].path.display(),
                    20.0 * peak.log10()
                ),
            ));
        }
    }
    if has_errors(&diags) {
        print_all(&name, &diags);
        return Err(ExitCode::from(2));
    }
    Ok(Loaded {
        disc,
        diagnostics: diags,
        name,
    })
}

/// Scans the sources on two threads (the machine's cores).
fn scan_all(sources: &[Source], progress: &Progress) -> Vec<Result<SourceInfo, String>> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<SourceInfo, String>>>> = sources
        .iter()
        .map(|_| std::sync::Mutex::new(None))
        .collect();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(src) = sources.get(i) else { break };
                    let r = scan(src);
                    *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                    progress.add(1);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .unwrap_or_else(|| Err("not scanned".into()))
        })
        .collect()
}

/// Reads a whole source: its length, its peak, and whether every sample is
/// on the 16-bit grid (then it reaches the disc exactly where untouched).
pub fn scan(src: &Source) -> Result<SourceInfo, String> {
    let mut reader = open(src)?;
    let (rate, channels, known16) = match &reader {
        Opened::File(r) => (
            r.info.sample_rate,
            r.info.channels,
            !r.info.float && matches!(r.info.bits_per_sample, Some(8 | 16)),
        ),
        Opened::Raw(_) => (CD_RATE, 2, true),
    };
    let mut l = vec![0f32; 8192];
    let mut r = vec![0f32; 8192];
    let mut frames = 0u64;
    let mut peak = 0f32;
    let mut exact = true;
    loop {
        let n = reader.read(&mut l, &mut r)?;
        if n == 0 {
            break;
        }
        frames += n as u64;
        for x in l[..n].iter().chain(&r[..n]) {
            peak = peak.max(x.abs());
            if !known16 && exact {
                let v = *x * 32768.0;
                exact = v == v.round() && (-32768.0..=32767.0).contains(&v);
            }
        }
    }
    if frames == 0 {
        return Err("no audio in the file".into());
    }
    Ok(SourceInfo {
        rate,
        frames,
        channels,
        exact16: known16 || exact,
        peak,
    })
}

/// A source open for reading.
enum Opened {
    File(Box<Reader>),
    Raw(RawReader),
}

impl SourceReader for Opened {
    fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, String> {
        match self {
            Opened::File(r) => r.read_stereo(left, right).map_err(|e| e.to_string()),
            Opened::Raw(r) => r.read(left, right),
        }
    }
}

fn open(src: &Source) -> Result<Opened, String> {
    match src.kind {
        SourceKind::File => Ok(Opened::File(Box::new(
            Reader::open(&src.path, 2).map_err(|e| e.to_string())?,
        ))),
        SourceKind::RawLittle | SourceKind::RawBig => {
            let f = File::open(&src.path).map_err(|e| format!("cannot open: {e}"))?;
            Ok(Opened::Raw(RawReader {
                file: BufReader::with_capacity(1 << 16, f),
                big: src.kind == SourceKind::RawBig,
                bytes: Vec::new(),
            }))
        }
    }
}

/// Headerless 16-bit stereo at 44.1 kHz (cue `BINARY` and `MOTOROLA`).
struct RawReader {
    file: BufReader<File>,
    big: bool,
    bytes: Vec<u8>,
}

impl RawReader {
    fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, String> {
        self.bytes.resize(left.len() * 4, 0);
        let mut got = 0;
        while got < self.bytes.len() {
            match self.file.read(&mut self.bytes[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) => return Err(format!("read error: {e}")),
            }
        }
        let frames = got / 4;
        for i in 0..frames {
            let b = &self.bytes[i * 4..i * 4 + 4];
            let (a, c) = if self.big {
                (
                    i16::from_be_bytes([b[0], b[1]]),
                    i16::from_be_bytes([b[2], b[3]]),
                )
            } else {
                (
                    i16::from_le_bytes([b[0], b[1]]),
                    i16::from_le_bytes([b[2], b[3]]),
                )
            };
            left[i] = a as f32 / 32768.0;
            right[i] = c as f32 / 32768.0;
        }
        Ok(frames)
    }
}

/// A progress bar on stderr when it is a terminal; nothing otherwise.
pub struct Progress {
    stage: &'static str,
    total: u64,
    done: std::sync::atomic::AtomicU64,
    shown: std::sync::atomic::AtomicU64,
    tty: bool,
}

impl Progress {
    /// A bar for a stage of `total` units.
    pub fn new(stage: &'static str, total: u64) -> Self {
        Progress {
            stage,
            total: total.max(1),
            done: 0.into(),
            shown: u64::MAX.into(),
            tty: std::io::stderr().is_terminal(),
        }
    }

    /// Advances by `n` units.
    pub fn add(&self, n: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let done = self.done.fetch_add(n, Relaxed) + n;
        let pct = (done * 100 / self.total).min(100);
        if self.tty && self.shown.swap(pct, Relaxed) != pct {
            let bar = (pct / 4) as usize;
            eprint!(
                "\r{:<16} [{}{}] {pct:3}%",
                self.stage,
                "#".repeat(bar),
                ".".repeat(25 - bar)
            );
        }
    }

    /// Clears the bar.
    pub fn done(&self) {
        if self.tty && self.shown.load(std::sync::atomic::Ordering::Relaxed) != u64::MAX {
            eprint!("\r{}\r", " ".repeat(52));
        }
    }
}

/// Why a build did not happen.
pub enum BuildError {
    /// Exit 2: the output folder exists, or similar.
    Refused(String),
    /// Exit 1: I/O or a source that changed.
    Failed(anyhow::Error),
}

impl BuildError {
    /// Prints it; exit 2 refused, 1 failed.
    pub fn exit(self) -> ExitCode {
        match self {
            BuildError::Refused(m) => {
                eprintln!("rackd album build: {m}");
                ExitCode::from(2)
            }
            BuildError::Failed(e) => {
                eprintln!("rackd album build: {e:#}");
                ExitCode::from(1)
            }
        }
    }
}

impl From<anyhow::Error> for BuildError {
    fn from(e: anyhow::Error) -> Self {
        BuildError::Failed(e)
    }
}

/// What a build made.
pub struct Summary {
    /// For a terminal.
    pub text: String,
    /// `rackd-album-build/1`.
    pub json: serde_json::Value,
}

/// Per track: true peak (linear) and clipped samples after conversion.
struct TrackStats {
    true_peak: [TruePeak; 2],
    peak: f32,
    clipped: u64,
}

/// Builds everything into `out` (through `out.partial`); `started` is when
/// the command began (the summary's speed counts reading the sources too).
/// With `streaming` (options, and the rate from [`streaming::preflight`]),
/// the streaming half is made beside the CD audio, on its own threads.
pub fn build(
    loaded: &Loaded,
    out: &Path,
    force: bool,
    started: Instant,
    streaming: Option<(&streaming::Options, (u32, Option<String>))>,
) -> Result<Summary, BuildError> {
    if out.exists() && !force {
        return Err(BuildError::Refused(format!(
            "{} exists: choose another --out or add --force to replace it",
            out.display()
        )));
    }
    let partial = PathBuf::from(format!("{}.partial", out.display()));
    if partial.exists() {
        std::fs::remove_dir_all(&partial)
            .with_context(|| format!("cannot remove the stale {}", partial.display()))?;
    }
    let result = match streaming {
        None => write_all(loaded, &partial, started, None),
        Some((opts, rate)) => {
            // One bar for both halves and the previews, in CD frames.
            let frames = loaded.disc.lead_out as u64;
            let progress = Progress::new("building", frames * (2 + opts.previews.len() as u64));
            let (cd, st) = std::thread::scope(|s| {
                let st = s.spawn(|| streaming::write(loaded, &partial, opts, rate, &progress));
                let cd = write_all(loaded, &partial, started, Some(&progress));
                (cd, st.join())
            });
            progress.done();
            let st = st.unwrap_or_else(|_| Err(anyhow::anyhow!("the streaming half failed")));
            match (cd, st) {
                (Ok(mut summary), Ok(made)) => {
                    summary.text.push_str(&made.text);
                    summary.json["streaming"] = made.json;
                    Ok(summary)
                }
                (Err(e), _) | (_, Err(e)) => Err(e),
            }
        }
    };
    match result {
        Ok(summary) => {
            if out.exists() {
                std::fs::remove_dir_all(out)
                    .with_context(|| format!("cannot replace {}", out.display()))?;
            }
            std::fs::rename(&partial, out).with_context(|| {
                format!("cannot rename {} to {}", partial.display(), out.display())
            })?;
            Ok(summary)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            Err(e.into())
        }
    }
}

fn write_all(
    loaded: &Loaded,
    dir: &Path,
    started: Instant,
    shared: Option<&Progress>,
) -> anyhow::Result<Summary> {
    let disc = &loaded.disc;
    let ddp_dir = dir.join("ddp");
    let cd_dir = dir.join("cd");
    std::fs::create_dir_all(&ddp_dir)
        .with_context(|| format!("cannot create {}", ddp_dir.display()))?;
    std::fs::create_dir_all(&cd_dir)
        .with_context(|| format!("cannot create {}", cd_dir.display()))?;
    let create = |p: &Path| -> anyhow::Result<BufWriter<File>> {
        Ok(BufWriter::with_capacity(
            1 << 20,
            File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        ))
    };
    let image_path = ddp_dir.join(ddp::IMAGE);
    let bin_path = cd_dir.join("album.bin");
    let mut image = checksum::HashingWriter::new(create(&image_path)?);
    let mut bin = create(&bin_path)?;

    // The CD audio.
    let mut stats: Vec<TrackStats> = disc
        .tracks
        .iter()
        .map(|_| TrackStats {
            true_peak: [TruePeak::new(), TruePeak::new()],
            peak: 0.0,
            clipped: 0,
        })
        .collect();
    let bounds: Vec<u64> = (0..disc.tracks.len())
        .map(|i| {
            disc.tracks[i].pregap.unwrap_or(disc.tracks[i].start()) as u64
                * SAMPLES_PER_FRAME as u64
        })
        .collect();
    let sources = &disc.sources;
    let open_source = move |i: usize| -> Result<Box<dyn SourceReader>, String> {
        Ok(Box::new(open(&sources[i])?))
    };
    let mut renderer = Renderer::new(disc, CD_RATE, 75, Box::new(open_source));
    let total = renderer.len();
    let own;
    let progress = match shared {
        Some(p) => p,
        None => {
            own = Progress::new("CD audio", disc.lead_out as u64);
            &own
        }
    };
    let mut q = CdQuantizer::new(disc.info.noise_shaping);
    let mut bytes = Vec::with_capacity(75 * 2352);
    let mut floats = [Vec::new(), Vec::new()];
    while let Some(block) = renderer.next_block()? {
        bytes.clear();
        q.push(&block, &mut bytes);
        image.write_all(&bytes).context("cannot write IMAGE.DAT")?;
        bin.write_all(&bytes).context("cannot write album.bin")?;
        // Per track: true peak of what was written, samples that clipped.
        let n = block.left.len();
        for ch in 0..2 {
            floats[ch].clear();
            floats[ch].extend(
                bytes
                    .chunks_exact(4)
                    .map(|b| i16::from_le_bytes([b[ch * 2], b[ch * 2 + 1]]) as f32 / 32768.0),
            );
        }
        let mut i = 0usize;
        while i < n {
            let pos = block.start + i as u64;
            let t = bounds.partition_point(|&b| b <= pos).saturating_sub(1);
            let end = bounds
                .get(t + 1)
                .map_or(n, |&b| ((b - block.start) as usize).min(n));
            if let Some(s) = stats.get_mut(t) {
                for (ch, x) in [block.left, block.right].into_iter().enumerate() {
                    let floor = s.peak.max(0.5);
                    s.peak = s
                        .peak
                        .max(s.true_peak[ch].block_max(&floats[ch][i..end], floor));
                    s.clipped += x[i..end]
                        .iter()
                        .filter(|v| !(-1.0..32767.5 / 32768.0).contains(*v))
                        .count() as u64;
                }
            }
            i = end;
        }
        progress.add(n as u64 / SAMPLES_PER_FRAME as u64);
    }
    if shared.is_none() {
        progress.done();
    }
    let (image, image_md5) = image.finish();
    let image_bytes = finish_file(image, &image_path)?;
    finish_file(bin, &bin_path)?;

    // The DDP's other files.
    let cd_text = match disc.cd_text() {
        Some(t) => t.encode().context("CD-Text")?,
        None => Vec::new(),
    };
    let made_by = format!("rackd {}", env!("CARGO_PKG_VERSION"));
    let ddp = Ddp::of_disc(disc, cd_text.len(), &made_by);
    let mut sums = Vec::new();
    for (name, data) in ddp.encode() {
        write_file(&ddp_dir.join(&name), &data)?;
        sums.push(checksum::Entry {
            file: name,
            md5: checksum::md5_bytes(&data),
        });
    }
    sums.push(checksum::Entry {
        file: ddp::IMAGE.into(),
        md5: image_md5,
    });
    if !cd_text.is_empty() {
        write_file(&ddp_dir.join(ddp::CDTEXT), &cd_text)?;
        sums.push(checksum::Entry {
            file: ddp::CDTEXT.into(),
            md5: checksum::md5_bytes(&cd_text),
        });
    }
    write_file(
        &ddp_dir.join(ddp::CHECKSUM),
        checksum::format(&sums).as_bytes(),
    )?;

    // cue/bin and TOC.
    write_file(&cd_dir.join("album.cue"), &cue::write(disc, "album.bin"))?;
    write_file(
        &cd_dir.join("album.toc"),
        toc::write(disc, "album.bin").as_bytes(),
    )?;

    // The PQ sheet.
    let true_peak: Vec<f64> = stats
        .iter()
        .map(|s| 20.0 * (s.peak.max(1e-10) as f64).log10())
        .collect();
    let sheet = pqsheet::SheetInfo {
        made_by: made_by.clone(),
        date: now_utc(),
        checksums: sums.clone(),
        true_peak: true_peak.clone(),
    };
    write_file(
        &dir.join("pq-sheet.txt"),
        pqsheet::text(disc, &sheet).as_bytes(),
    )?;
    write_file(
        &dir.join("pq-sheet.html"),
        pqsheet::html(disc, &sheet).as_bytes(),
    )?;

    // After conversion: what clips or goes over 0 dBTP.
    let mut warnings: Vec<String> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| d.message.clone())
        .collect();
    for (t, s) in disc.tracks.iter().zip(&stats) {
        if s.clipped > 0 {
            let m = format!(
                "track {}: {} samples clip at full scale after conversion to 16 bit",
                t.number, s.clipped
            );
            eprintln!("{}: warning: {m}", loaded.name);
            warnings.push(m);
        }
    }
    for (t, tp) in disc.tracks.iter().zip(&true_peak) {
        if *tp > 0.0 {
            let m = format!(
                "track {}: true peak {tp:+.2} dBTP after conversion: inter-sample overs on playback",
                t.number
            );
            eprintln!("{}: warning: {m}", loaded.name);
            warnings.push(m);
        }
    }

    let seconds = started.elapsed().as_secs_f64();
    let audio_seconds = total as f64 / CD_RATE as f64;
    let mut text = format!(
        "built {} tracks, {} ({} frames) in {:.1} s ({:.0}x real time)\n",
        disc.tracks.len(),
        Msf(disc.lead_out),
        disc.lead_out,
        seconds,
        audio_seconds / seconds.max(1e-9)
    );
    for (i, t) in disc.tracks.iter().enumerate() {
        text.push_str(&format!(
            "  {:02}  {}  {}  {:<15}  {:+6.1} dBTP  {}\n",
            t.number,
            Msf(t.start()),
            Msf(disc.play_end(i) - t.start()),
            t.isrc.as_ref().map_or("-".into(), |i| i.dashed()),
            true_peak[i],
            t.text
                .get(&rackd_delivery::cdtext::Field::Title)
                .map_or("", String::as_str)
        ));
    }
    text.push_str(&format!(
        "  ddp/ ({} bytes of IMAGE.DAT), cd/album.cue + album.bin + album.toc, pq-sheet.html, pq-sheet.txt\n",
        image_bytes
    ));
    let json = serde_json::json!({
        "schema": "rackd-album-build/1",
        "tracks": disc.tracks.iter().enumerate().map(|(i, t)| serde_json::json!({
            "number": t.number,
            "start": t.start(),
            "pregap_frames": disc.gap(i),
            "length_frames": disc.play_end(i) - t.start(),
            "isrc": t.isrc.as_ref().map(|i| i.as_str().to_string()),
            "true_peak_dbtp": true_peak[i],
            "clipped": stats[i].clipped,
        })).collect::<Vec<_>>(),
        "lead_out": disc.lead_out,
        "length": Msf(disc.lead_out).to_string(),
        "upc": disc.info.upc.as_ref().map(|u| u.as_str().to_string()),
        "ddp_checksums": sums.iter().map(|s| serde_json::json!({"file": s.file, "md5": s.md5})).collect::<Vec<_>>(),
        "image_bytes": image_bytes,
        "warnings": warnings,
        "seconds": seconds,
        "realtime": audio_seconds / seconds.max(1e-9),
    });
    Ok(Summary { text, json })
}

fn write_file(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    let mut f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(data)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Flushes and syncs a written file; its size.
fn finish_file(w: BufWriter<File>, path: &Path) -> anyhow::Result<u64> {
    let f = w
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.sync_all()
        .with_context(|| format!("cannot write {}", path.display()))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len == 0 {
        bail!("{} is empty", path.display());
    }
    Ok(len)
}

/// The current UTC time as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
