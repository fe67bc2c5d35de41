//! `rackd album build --streaming` (per-track masters, FLAC, codec
//! previews, the delivery report) and `rackd album loudness` (the album's
//! loudness plan). The logic is in `rackd_delivery::streaming`; this file
//! renders, writes files, runs the meters and the preview pool.
//!
//! The build renders the disc once at the masters' rate and cuts it at each
//! track's index 01: the render thread quantizes and writes the WAVs, a
//! meter thread measures every track and the whole album (BS.1770 through
//! `rackd_dsp::analysis::Scan`), a FLAC thread encodes when asked, and as
//! each track's WAV is complete its previews start on the preview pool, so
//! encoders run while the rest of the album renders.

use super::previews::{self, Job, Outcome};
use super::{BuildError, Loaded, Progress, now_utc, open, write_file};
use anyhow::{Context, anyhow, bail};
use rackd_delivery::album::Disc;
use rackd_delivery::album::edit::set_gains;
use rackd_delivery::cdtext::Field;
use rackd_delivery::render::{Renderer, SourceReader};
use rackd_delivery::streaming::bwf::{self, SampleFormat};
use rackd_delivery::streaming::codec::Codec;
use rackd_delivery::streaming::flac;
use rackd_delivery::streaming::plan::{self, Mode};
use rackd_delivery::streaming::report::{PreviewLine, Report, TrackLine};
use rackd_delivery::streaming::{self as st, Measure, Quantizer, TrackSpan};
use rackd_dsp::analysis::{Scan, ScanResult};
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
use std::time::Instant;

/// The streaming options of `rackd album build`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct StreamingArgs {
    /// Also write streaming/ (one BWF master per track) and report.json/.html.
    #[arg(long)]
    pub streaming: bool,
    /// Codec previews, e.g. aac,opus,mp3 (runs ffmpeg; implies --streaming).
    #[arg(long, value_name = "CODECS")]
    pub previews: Option<String>,
    /// Sample rate of the masters in Hz (default: the sources'; never above them).
    #[arg(long, value_name = "HZ")]
    pub rate: Option<u32>,
    /// 24 (PCM, the default) or 32 (float) bits.
    #[arg(long)]
    pub bits: Option<u32>,
    /// Also write a FLAC of each master (24-bit, with Vorbis comments).
    #[arg(long)]
    pub flac: bool,
    /// ReplayGain 2.0 tags in the FLACs.
    #[arg(long)]
    pub replaygain: bool,
    /// Keep the previews for listening: previews/NN Title.m4a|opus|mp3 and the decoded .wav.
    #[arg(long)]
    pub keep_previews: bool,
}

/// What the streaming half of a build makes.
#[derive(Debug, Clone)]
pub struct Options {
    /// Sample format of the masters.
    pub format: SampleFormat,
    /// Rate asked for.
    pub rate: Option<u32>,
    /// FLACs too.
    pub flac: bool,
    /// ReplayGain tags in the FLACs.
    pub replaygain: bool,
    /// Codecs to preview.
    pub previews: Vec<Codec>,
    /// Keep the preview files.
    pub keep_previews: bool,
}

impl StreamingArgs {
    /// `None` when no streaming output was asked; a usage error in words.
    pub fn options(&self) -> Result<Option<Options>, String> {
        let previews = match &self.previews {
            Some(list) => Codec::parse_list(list)?,
            None => Vec::new(),
        };
        if !self.streaming && previews.is_empty() {
            for (set, name) in [
                (self.rate.is_some(), "--rate"),
                (self.bits.is_some(), "--bits"),
                (self.flac, "--flac"),
                (self.replaygain, "--replaygain"),
                (self.keep_previews, "--keep-previews"),
            ] {
                if set {
                    return Err(format!(
                        "{name} is an option of the streaming masters: add --streaming"
                    ));
                }
            }
            return Ok(None);
        }
        let format = match self.bits.unwrap_or(24) {
            24 => SampleFormat::Pcm24,
            32 => SampleFormat::Float32,
            b => {
                return Err(format!(
                    "--bits {b}: streaming masters are 24-bit PCM (24) or 32-bit float (32); the CD image is the 16-bit deliverable"
                ));
            }
        };
        if self.flac && format == SampleFormat::Float32 {
            return Err("--flac holds integer samples: use it with --bits 24".into());
        }
        if self.replaygain && !self.flac {
            return Err("--replaygain tags the FLACs: add --flac".into());
        }
        if self.keep_previews && previews.is_empty() {
            return Err(
                "--keep-previews keeps the codec previews: add --previews aac,opus,mp3".into(),
            );
        }
        Ok(Some(Options {
            format,
            rate: self.rate,
            flac: self.flac,
            replaygain: self.replaygain,
            previews,
            keep_previews: self.keep_previews,
        }))
    }
}

/// Checks everything that can be checked before a file is written: the
/// rate, ffmpeg and its encoders. Returns the rate and a note about it.
pub fn preflight(loaded: &Loaded, opts: &Options) -> Result<(u32, Option<String>), BuildError> {
    let rate = st::choose_rate(&loaded.disc, opts.rate).map_err(BuildError::Refused)?;
    if !opts.previews.is_empty() {
        previews::check_ffmpeg(&opts.previews).map_err(|m| BuildError::Failed(anyhow!(m)))?;
    }
    Ok(rate)
}

/// A stretch of one track's audio as delivered.
struct Piece {
    track: usize,
    left: Vec<f32>,
    right: Vec<f32>,
}

enum Msg {
    Audio(Arc<Piece>),
    /// The track is complete.
    End(usize),
}

/// Renders the disc at `rate` from track 1's index 01 to the lead-out,
/// quantized as delivered; hands `on` each track's pieces, then the track's
/// end. Returns the samples that clipped.
fn render_tracks(
    disc: &Disc,
    rate: u32,
    format: SampleFormat,
    progress: &Progress,
    on: &mut dyn FnMut(Msg) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    let spans = st::spans(disc, rate);
    let sources = &disc.sources;
    let open_source = move |i: usize| -> Result<Box<dyn SourceReader>, String> {
        Ok(Box::new(open(&sources[i])?))
    };
    let mut renderer = Renderer::new(disc, rate, 75, Box::new(open_source)).wide_output();
    let mut q = Quantizer::new(format);
    let mut track = 0usize;
    while let Some(block) = renderer.next_block()? {
        let n = block.left.len();
        progress.add(n as u64 * 75 / rate as u64);
        let (bs, be) = (block.start, block.start + n as u64);
        while track < spans.len() {
            let s = spans[track];
            let (a, b) = (s.start.max(bs), s.end.min(be));
            if a < b {
                let (i, j) = ((a - bs) as usize, (b - bs) as usize);
                let mut left = block.left[i..j].to_vec();
                let mut right = block.right[i..j].to_vec();
                q.apply(0, &mut left, &block.processed[i..j]);
                q.apply(1, &mut right, &block.processed[i..j]);
                on(Msg::Audio(Arc::new(Piece { track, left, right })))?;
            }
            if s.end <= be {
                on(Msg::End(track))?;
                track += 1;
            } else {
                break;
            }
        }
    }
    Ok(q.clipped)
}

/// Measures every track and the album as one programme.
fn meter(rx: Receiver<Msg>, rate: u32, tracks: usize) -> (Vec<ScanResult>, ScanResult) {
    let mut album = Scan::new(rate as f64, 2);
    let mut scans: Vec<Option<Scan>> = (0..tracks).map(|_| None).collect();
    let mut done: Vec<Option<ScanResult>> = vec![None; tracks];
    for m in rx {
        match m {
            Msg::Audio(p) => {
                album.push(&[&p.left, &p.right]);
                scans[p.track]
                    .get_or_insert_with(|| Scan::new(rate as f64, 2))
                    .push(&[&p.left, &p.right]);
            }
            Msg::End(t) => {
                let mut s = scans[t].take().unwrap_or_else(|| Scan::new(rate as f64, 2));
                done[t] = Some(s.result());
            }
        }
    }
    let results = done
        .into_iter()
        .map(|d| d.unwrap_or_else(|| Scan::new(rate as f64, 2).result()))
        .collect();
    (results, album.result())
}

/// One track's WAV being written.
struct Master {
    path: PathBuf,
    file: BufWriter<File>,
    loudness_at: u64,
    written: u64,
    expected: u64,
}

/// One track's FLAC being written.
struct FlacFile {
    path: PathBuf,
    file: BufWriter<File>,
    enc: flac::Encoder,
    buf: Vec<u8>,
    tags_len: usize,
}

const VENDOR: &str = concat!("rackd ", env!("CARGO_PKG_VERSION"));

fn create(path: &Path) -> anyhow::Result<BufWriter<File>> {
    Ok(BufWriter::with_capacity(
        1 << 20,
        File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
    ))
}

fn close(w: BufWriter<File>, path: &Path) -> anyhow::Result<File> {
    let f = w
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.sync_all()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(f)
}

fn patch(path: &Path, at: u64, bytes: &[u8]) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    f.seek(SeekFrom::Start(at))
        .and_then(|_| f.write_all(bytes))
        .and_then(|_| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Encodes the FLACs (a thread of its own).
fn flacs(
    rx: Receiver<Msg>,
    disc: &Disc,
    dir: &Path,
    rate: u32,
    spans: &[TrackSpan],
) -> anyhow::Result<Vec<(PathBuf, usize)>> {
    let mut open: Option<(usize, FlacFile)> = None;
    let mut made = Vec::new();
    for m in rx {
        match m {
            Msg::Audio(p) => {
                if open.as_ref().is_none_or(|(t, _)| *t != p.track) {
                    let path = dir.join(format!("{}.flac", st::file_stem(&disc.tracks[p.track])));
                    let enc = flac::Encoder::new(rate, 24, spans[p.track].len());
                    let tags = st::flac_tags(disc, p.track);
                    let header = enc.header(VENDOR, &tags);
                    let mut file = create(&path)?;
                    file.write_all(&header)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    let tags_len = header.len() - flac::TAGS_OFFSET as usize;
                    open = Some((
                        p.track,
                        FlacFile {
                            path,
                            file,
                            enc,
                            buf: Vec::new(),
                            tags_len,
                        },
                    ));
                }
                let (_, f) = open.as_mut().expect("opened");
                let to_int = |x: &[f32]| -> Vec<i32> {
                    x.iter().map(|v| (*v as f64 * 8_388_608.0) as i32).collect()
                };
                f.buf.clear();
                f.enc.push(&to_int(&p.left), &to_int(&p.right), &mut f.buf);
                f.file
                    .write_all(&f.buf)
                    .with_context(|| format!("cannot write {}", f.path.display()))?;
            }
            Msg::End(_) => {
                if let Some((_, mut f)) = open.take() {
                    f.buf.clear();
                    let info = f.enc.finish(&mut f.buf);
                    f.file
                        .write_all(&f.buf)
                        .with_context(|| format!("cannot write {}", f.path.display()))?;
                    let mut file = close(f.file, &f.path)?;
                    file.seek(SeekFrom::Start(flac::STREAMINFO_OFFSET))
                        .and_then(|_| file.write_all(&info))
                        .and_then(|_| file.sync_all())
                        .with_context(|| format!("cannot write {}", f.path.display()))?;
                    made.push((f.path, f.tags_len));
                }
            }
        }
    }
    Ok(made)
}

/// What the streaming half made, for the build's summary.
pub struct Made {
    /// Lines for a terminal.
    pub text: String,
    /// For `--json`.
    pub json: serde_json::Value,
}

/// Writes `dir/streaming/`, the previews and `dir/report.json|html`.
pub fn write(
    loaded: &Loaded,
    dir: &Path,
    opts: &Options,
    rate: (u32, Option<String>),
    progress: &Progress,
) -> anyhow::Result<Made> {
    let started = Instant::now();
    let disc = &loaded.disc;
    let (rate, rate_note) = rate;
    let sdir = dir.join("streaming");
    std::fs::create_dir_all(&sdir).with_context(|| format!("cannot create {}", sdir.display()))?;
    let pdir = previews::folder(dir, opts.keep_previews);
    if !opts.previews.is_empty() {
        std::fs::create_dir_all(&pdir)
            .with_context(|| format!("cannot create {}", pdir.display()))?;
    }
    let spans = st::spans(disc, rate);
    let made_by = format!("rackd {}", env!("CARGO_PKG_VERSION"));
    let stamp = now_utc();
    let (date, time) = (stamp[..10].to_string(), stamp[11..19].to_string());
    let first = spans.first().map_or(0, |s| s.start);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let failed = std::sync::atomic::AtomicBool::new(false);
    let track_frames = |t: usize| (disc.play_end(t) - disc.tracks[t].start()) as u64;

    let (meter_tx, meter_rx) = sync_channel::<Msg>(16);
    let (flac_tx, flac_rx) = sync_channel::<Msg>(16);
    let (job_tx, job_rx) = channel::<Job>();
    let mut masters: Vec<(PathBuf, u64)> = Vec::new();
    let outcome = std::thread::scope(|s| {
        let meter = s.spawn(move || meter(meter_rx, rate, disc.tracks.len()));
        let flac = opts
            .flac
            .then(|| s.spawn(|| flacs(flac_rx, disc, &sdir, rate, &spans)));
        let flac_tx: Option<SyncSender<Msg>> = opts.flac.then_some(flac_tx);
        let (failed, track_frames) = (&failed, &track_frames);
        let pool = (!opts.previews.is_empty()).then(|| {
            s.spawn(move || {
                previews::pool(workers, job_rx, failed, &|j: &Job| {
                    progress.add(track_frames(j.index))
                })
            })
        });
        let job_tx = (!opts.previews.is_empty()).then_some(job_tx);
        let mut current: Option<(usize, Master)> = None;
        let rendered = render_tracks(disc, rate, opts.format, progress, &mut |msg| match msg {
            _ if failed.load(std::sync::atomic::Ordering::Relaxed) => {
                bail!("stopped: a codec preview failed")
            }
            Msg::Audio(p) => {
                if current.as_ref().is_none_or(|(t, _)| *t != p.track) {
                    let i = p.track;
                    let path = sdir.join(format!("{}.wav", st::file_stem(&disc.tracks[i])));
                    let header = bwf::Header {
                        rate,
                        format: opts.format,
                        frames: spans[i].len(),
                        description: st::description(disc, i),
                        date: date.clone(),
                        time: time.clone(),
                        time_reference: spans[i].start - first,
                        coding_history: st::coding_history(disc, i, rate, opts.format, &made_by),
                        isrc: disc.tracks[i].isrc.clone(),
                        info: st::info_tags(disc, i),
                    };
                    let (bytes, loudness_at) = header
                        .encode()
                        .map_err(|e| anyhow!("track {}: {e}", disc.tracks[i].number))?;
                    let mut file = create(&path)?;
                    file.write_all(&bytes)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    current = Some((
                        i,
                        Master {
                            path,
                            file,
                            loudness_at,
                            written: 0,
                            expected: spans[i].len(),
                        },
                    ));
                }
                let (_, m) = current.as_mut().expect("opened");
                let mut bytes = Vec::new();
                bwf::push_samples(opts.format, &p.left, &p.right, &mut bytes);
                m.file
                    .write_all(&bytes)
                    .with_context(|| format!("cannot write {}", m.path.display()))?;
                m.written += p.left.len() as u64;
                if let Some(tx) = &flac_tx {
                    tx.send(Msg::Audio(p.clone()))
                        .map_err(|_| anyhow!("the FLAC encoder stopped"))?;
                }
                meter_tx
                    .send(Msg::Audio(p))
                    .map_err(|_| anyhow!("the meter stopped"))?;
                Ok(())
            }
            Msg::End(t) => {
                let (_, m) = current.take().filter(|(i, _)| *i == t).ok_or_else(|| {
                    anyhow!("track {} has no audio at {rate} Hz", disc.tracks[t].number)
                })?;
                if m.written != m.expected {
                    bail!(
                        "{}: {} samples written, {} expected",
                        m.path.display(),
                        m.written,
                        m.expected
                    );
                }
                close(m.file, &m.path)?;
                if let Some(tx) = &flac_tx {
                    tx.send(Msg::End(t))
                        .map_err(|_| anyhow!("the FLAC encoder stopped"))?;
                }
                meter_tx
                    .send(Msg::End(t))
                    .map_err(|_| anyhow!("the meter stopped"))?;
                if let Some(tx) = &job_tx {
                    for &codec in &opts.previews {
                        let _ = tx.send(Job {
                            index: t,
                            number: disc.tracks[t].number,
                            wav: m.path.clone(),
                            rate,
                            frames: m.expected,
                            codec,
                            dir: pdir.clone(),
                            stem: st::file_stem(&disc.tracks[t]),
                            keep: opts.keep_previews,
                        });
                    }
                }
                masters.push((m.path, m.loudness_at));
                Ok(())
            }
        });
        drop(meter_tx);
        drop(flac_tx);
        drop(job_tx);
        let measured = meter.join().map_err(|_| anyhow!("the meter failed"));
        let flacs = flac.map(|h| h.join().map_err(|_| anyhow!("the FLAC encoder failed")));
        let previewed = pool.map(|h| h.join().map_err(|_| anyhow!("the previews failed")));
        (rendered, measured, flacs, previewed)
    });
    let (rendered, measured, flacs, previewed) = outcome;
    let previewed = previewed.transpose()?.unwrap_or_default();
    if let Some(Err((job, e))) = previewed.iter().find(|r| r.is_err()) {
        bail!("{} preview of track {}: {e}", job.codec.name(), job.number);
    }
    let clipped = rendered?;
    let (scans, album_scan) = measured?;
    let flacs = flacs.transpose()?.transpose()?.unwrap_or_default();
    let mut outcomes: Vec<Outcome> = Vec::new();
    for o in previewed.into_iter().flatten() {
        outcomes.push(o);
    }
    outcomes.sort_by_key(|o| (o.index, o.codec));

    // Loudness into every master's bext, ReplayGain into the FLACs.
    let measures: Vec<Measure> = scans.iter().map(Measure::of).collect();
    let album = Measure::of(&album_scan);
    for ((path, at), m) in masters.iter().zip(&measures) {
        patch(path, *at, &m.bext().to_bytes())?;
    }
    if opts.replaygain {
        for (i, (path, len)) in flacs.iter().enumerate() {
            let mut tags = st::flac_tags(disc, i);
            tags.extend(st::replaygain_tags(&measures[i], &album));
            let region = flac::tags_region(VENDOR, &tags, *len)
                .ok_or_else(|| anyhow!("{}: the tags do not fit", path.display()))?;
            patch(path, flac::TAGS_OFFSET, &region)?;
        }
    }
    if !opts.keep_previews && !opts.previews.is_empty() {
        let _ = std::fs::remove_dir_all(&pdir);
    }

    // The report.
    let mut notes: Vec<String> = rate_note.into_iter().collect();
    if disc.clips.iter().any(|c| c.track == 0) {
        notes.push("the hidden audio before track 1 is not in the streaming masters (streaming has no index 00): deliver it as a track of its own if it should be heard".into());
    }
    if clipped > 0 {
        notes.push(format!(
            "{clipped} samples clip at full scale in the masters: lower the gain or use --bits 32"
        ));
    }
    let text_of = |f: &Option<&String>| f.cloned();
    let report = Report {
        title: text_of(&disc.info.text.get(&Field::Title)),
        performer: text_of(&disc.info.text.get(&Field::Performer)),
        upc: disc.info.upc.as_ref().map(|u| u.as_str().to_string()),
        rate,
        format: match opts.format {
            SampleFormat::Pcm24 => "24-bit PCM".into(),
            SampleFormat::Float32 => "32-bit float".into(),
        },
        made_by: made_by.clone(),
        date: stamp.clone(),
        tracks: disc
            .tracks
            .iter()
            .enumerate()
            .map(|(i, t)| TrackLine {
                number: t.number,
                title: t.text.get(&Field::Title).cloned(),
                file: format!("{}.wav", st::file_stem(t)),
                isrc: t.isrc.as_ref().map(|x| x.as_str().to_string()),
                start: (spans[i].start - first) as f64 / rate as f64,
                seconds: spans[i].len() as f64 / rate as f64,
                measure: measures[i],
            })
            .collect(),
        album,
        previews: outcomes
            .iter()
            .map(|o| PreviewLine {
                track: o.number,
                codec: o.codec,
                delay: o.delay,
                lag: o.lag,
                overs: o.overs.clone(),
                measure: Measure::of(&o.scan),
                master: measures[o.index],
                files: o.files.clone(),
            })
            .collect(),
        notes,
    };
    let json = report.json();
    write_file(
        &dir.join("report.json"),
        serde_json::to_string_pretty(&json)
            .unwrap_or_default()
            .as_bytes(),
    )?;
    write_file(&dir.join("report.html"), report.html().as_bytes())?;
    for w in report.warnings() {
        eprintln!("{}: warning: {w}", loaded.name);
    }
    for n in &report.notes {
        eprintln!("{}: note: {n}", loaded.name);
    }

    let seconds = started.elapsed().as_secs_f64();
    let audio = spans.iter().map(|s| s.len()).sum::<u64>() as f64 / rate as f64;
    let mut text = format!(
        "  streaming/: {} masters at {rate} Hz, {}{}{}; report.json, report.html ({:.1} s, {:.0}x real time)\n",
        disc.tracks.len(),
        report.format,
        if opts.flac { " + FLAC" } else { "" },
        if opts.previews.is_empty() {
            String::new()
        } else {
            format!(
                ", previews {}",
                opts.previews
                    .iter()
                    .map(|c| c.id())
                    .collect::<Vec<_>>()
                    .join(",")
            )
        },
        seconds,
        audio / seconds.max(1e-9)
    );
    for t in &report.tracks {
        text.push_str(&format!(
            "  {:02}  {:6.1} LUFS  LRA {:4.1}  {:+6.1} dBTP  {}\n",
            t.number, t.measure.integrated, t.measure.lra, t.measure.true_peak, t.file
        ));
    }
    text.push_str(&format!(
        "  album {:6.1} LUFS  LRA {:4.1}  {:+6.1} dBTP\n",
        album.integrated, album.lra, album.true_peak
    ));
    let mut json_summary = serde_json::json!({
        "rate": rate,
        "format": report.format,
        "flac": opts.flac,
        "seconds": seconds,
        "realtime": audio / seconds.max(1e-9),
        "report": "report.json",
    });
    json_summary["files"] = disc
        .tracks
        .iter()
        .map(|t| serde_json::Value::from(format!("streaming/{}.wav", st::file_stem(t))))
        .collect();
    Ok(Made {
        text,
        json: json_summary,
    })
}

/// `rackd album loudness`.
#[derive(clap::Args, Debug, Clone)]
pub struct LoudnessArgs {
    /// album.toml or a CDRWIN cue sheet.
    pub album: PathBuf,
    /// Target loudness, LUFS.
    #[arg(long, default_value_t = -14.0, allow_negative_numbers = true)]
    pub target: f64,
    /// Highest true peak a gain may reach, dBTP.
    #[arg(long, default_value_t = -1.0, allow_negative_numbers = true)]
    pub max_tp: f64,
    /// One gain for all tracks: the loudest reaches the target (the default).
    #[arg(long, conflicts_with = "per_track")]
    pub keep_relative: bool,
    /// Each track to the target on its own.
    #[arg(long)]
    pub per_track: bool,
    /// Write the gains into the album.toml (comments and layout kept).
    #[arg(long)]
    pub apply: bool,
    /// Measure at this rate (default: the sources', as the masters).
    #[arg(long, value_name = "HZ")]
    pub rate: Option<u32>,
    /// Print JSON (schema rackd-album-loudness/1).
    #[arg(long)]
    pub json: bool,
}

/// Measures every track as delivered (at the masters' rate, 24-bit) and the album.
fn measure(disc: &Disc, rate: u32) -> anyhow::Result<(Vec<Measure>, Measure)> {
    let progress = Progress::new("measuring", disc.lead_out as u64);
    let (tx, rx) = sync_channel::<Msg>(16);
    let tracks = disc.tracks.len();
    let (rendered, measured) = std::thread::scope(|s| {
        let m = s.spawn(move || meter(rx, rate, tracks));
        let r = render_tracks(disc, rate, SampleFormat::Pcm24, &progress, &mut |m| {
            tx.send(m).map_err(|_| anyhow!("the meter stopped"))
        });
        drop(tx);
        (r, m.join())
    });
    progress.done();
    rendered?;
    let (scans, album) = measured.map_err(|_| anyhow!("the meter failed"))?;
    Ok((scans.iter().map(Measure::of).collect(), Measure::of(&album)))
}

/// Runs `rackd album loudness`; exit 0, 1 (runtime), 2 (refused).
pub fn loudness_main(args: &LoudnessArgs) -> ExitCode {
    let loaded = match super::load(&args.album) {
        Ok(l) => l,
        Err(code) => return code,
    };
    loaded.print();
    let disc = &loaded.disc;
    let refuse = |m: String| {
        eprintln!("rackd album loudness: {m}");
        ExitCode::from(2)
    };
    if !(-40.0..=0.0).contains(&args.target) || !(-20.0..=0.0).contains(&args.max_tp) {
        return refuse(format!(
            "--target {} LUFS / --max-tp {} dBTP: give a target in -40..0 LUFS and a ceiling in -20..0 dBTP",
            args.target, args.max_tp
        ));
    }
    let is_cue = args
        .album
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("cue"));
    if args.apply && is_cue {
        return refuse(
            "--apply writes gains into an album.toml; a cue sheet has no gain: convert it to an album.toml first"
                .into(),
        );
    }
    let rate = match st::choose_rate(disc, args.rate) {
        Ok((r, note)) => {
            if let Some(n) = note {
                eprintln!("{}: note: {n}", loaded.name);
            }
            r
        }
        Err(m) => return refuse(m),
    };
    let (tracks, album) = match measure(disc, rate) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("rackd album loudness: {e:#}");
            return ExitCode::from(1);
        }
    };
    let mode = if args.per_track {
        Mode::PerTrack
    } else {
        Mode::KeepRelative
    };
    let progs: Vec<_> = tracks.iter().map(Measure::programme).collect();
    let planned = plan::plan(&progs, args.target, args.max_tp, mode);
    let mode_name = match mode {
        Mode::KeepRelative => "keep-relative",
        Mode::PerTrack => "per-track",
    };
    let old_gain = |i: usize| -> f64 {
        disc.clips
            .iter()
            .find(|c| c.track == disc.tracks[i].number)
            .map_or(0.0, |c| c.gain_db)
    };
    let lines = match &planned {
        Ok(l) => l.clone(),
        Err(_) => plan::plan(&progs, args.target, f64::INFINITY, mode).unwrap_or_default(),
    };
    let mut applied = false;
    if let (Ok(lines), true) = (&planned, args.apply) {
        let gains: Vec<f64> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| old_gain(i) + l.gain)
            .collect();
        let result = std::fs::read_to_string(&args.album)
            .map_err(|e| anyhow!("cannot read {}: {e}", args.album.display()))
            .and_then(|text| set_gains(&text, &gains).map_err(|e| anyhow!("{e}")))
            .and_then(|text| {
                let tmp = args.album.with_extension("toml.rackd-new");
                std::fs::write(&tmp, text)
                    .and_then(|_| std::fs::rename(&tmp, &args.album))
                    .map_err(|e| anyhow!("cannot write {}: {e}", args.album.display()))
            });
        match result {
            Ok(()) => applied = true,
            Err(e) => {
                eprintln!("rackd album loudness: {e:#}");
                return ExitCode::from(1);
            }
        }
    }
    if args.json {
        let j = serde_json::json!({
            "schema": "rackd-album-loudness/1",
            "rate": rate,
            "target_lufs": args.target,
            "max_true_peak_dbtp": args.max_tp,
            "mode": mode_name,
            "album": {"integrated_lufs": album.integrated, "lra_lu": album.lra, "true_peak_dbtp": album.true_peak},
            "tracks": lines.iter().enumerate().map(|(i, l)| serde_json::json!({
                "number": disc.tracks[i].number,
                "integrated_lufs": l.loudness,
                "lra_lu": tracks[i].lra,
                "true_peak_dbtp": l.true_peak,
                "to_loudest_lu": l.to_loudest,
                "gain_db": l.gain,
                "gain_now_db": old_gain(i),
                "loudness_after_lufs": l.loudness_after,
                "true_peak_after_dbtp": l.true_peak_after,
            })).collect::<Vec<_>>(),
            "refused": planned.as_ref().err().map(|r| r.iter().map(|x| x.to_string()).collect::<Vec<_>>()).unwrap_or_default(),
            "applied": applied,
        });
        println!("{}", serde_json::to_string_pretty(&j).unwrap_or_default());
    } else {
        println!(
            "{}: {} tracks at {rate} Hz; album {:.1} LUFS, LRA {:.1} LU, {:+.1} dBTP",
            loaded.name,
            disc.tracks.len(),
            album.integrated,
            album.lra,
            album.true_peak
        );
        println!(
            " #   loudness   true peak  to loudest     gain  ->  loudness   true peak   (target {} LUFS, {mode_name}, max {} dBTP)",
            args.target, args.max_tp
        );
        for (i, l) in lines.iter().enumerate() {
            println!(
                "{:2}  {:6.1} LUFS  {:+5.1} dBTP  {:+6.1} LU  {:+6.2} dB  {:6.1} LUFS  {:+5.1} dBTP",
                disc.tracks[i].number,
                l.loudness,
                l.true_peak,
                l.to_loudest,
                l.gain,
                l.loudness_after,
                l.true_peak_after
            );
        }
        if applied {
            println!("{}: gains written", args.album.display());
        }
    }
    match planned {
        Ok(_) => ExitCode::SUCCESS,
        Err(refused) => {
            for r in refused {
                eprintln!("{}: error: {r}", loaded.name);
            }
            ExitCode::from(2)
        }
    }
}
