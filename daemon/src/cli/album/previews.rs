//! Codec previews: each track's master through the real encoders (ffmpeg's
//! native AAC, libopus, libmp3lame), decoded to 32-bit float with nothing
//! trimmed by the decoder, the codec's delay removed exactly
//! (`rackd_delivery::streaming::codec`), and measured while it decodes:
//! true and sample peak, overs, loudness. Jobs (one track, one codec) run
//! in parallel on a pool of workers, each driving its own ffmpeg processes.

use crate::audio_file::{Reader, wav_header};
use rackd_delivery::render::{Resampled, SourceReader};
use rackd_delivery::streaming::codec::{Codec, Delay};
use rackd_delivery::streaming::overs::{OverDetector, Overs};
use rackd_dsp::analysis::{Scan, ScanResult};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

/// The Debian package that has ffmpeg with all three encoders.
pub const FFMPEG_PACKAGE: &str = "ffmpeg";

/// Samples of the reference compared with the decoded audio.
const WINDOW: usize = 8192;
/// Lags searched either way.
const MAX_LAG: usize = 2048;

/// Checks that ffmpeg runs and has the encoders; the message says what to install.
pub fn check_ffmpeg(codecs: &[Codec]) -> Result<(), String> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-encoders"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| {
            format!(
                "codec previews need ffmpeg, which cannot be run ({e}): install the Debian package {FFMPEG_PACKAGE} (sudo apt-get install {FFMPEG_PACKAGE}), or build without --previews"
            )
        })?;
    let list = String::from_utf8_lossy(&out.stdout);
    for c in codecs {
        let has = list
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(c.encoder()));
        if !has {
            return Err(format!(
                "this ffmpeg has no {} encoder ({}) for the {} preview: install Debian's {FFMPEG_PACKAGE} package, which has it, or leave {} out of --previews",
                c.encoder(),
                c.name(),
                c.name(),
                c.id()
            ));
        }
    }
    Ok(())
}

/// One preview to make.
#[derive(Debug, Clone)]
pub struct Job {
    /// Index of the track in the disc.
    pub index: usize,
    /// Track number.
    pub number: u8,
    /// The master.
    pub wav: PathBuf,
    /// The master's rate.
    pub rate: u32,
    /// The master's length in samples.
    pub frames: u64,
    /// The codec.
    pub codec: Codec,
    /// Where the encoded file (and, when kept, the decoded WAV) go, and
    /// their name without extension.
    pub dir: PathBuf,
    /// File stem (`03 Tunnel`).
    pub stem: String,
    /// Keep the files for listening.
    pub keep: bool,
}

/// What a preview found.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Index of the track.
    pub index: usize,
    /// Track number.
    pub number: u8,
    /// The codec.
    pub codec: Codec,
    /// Delay removed.
    pub delay: Delay,
    /// Lag against the master (0 = aligned), `None` when the compared stretch was silent.
    pub lag: Option<i64>,
    /// Overs and peaks.
    pub overs: Overs,
    /// Loudness and peaks of the decoded audio.
    pub scan: ScanResult,
    /// Files kept (names in the previews folder).
    pub files: Vec<String>,
}

struct WavSource(Box<Reader>);

impl SourceReader for WavSource {
    fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, String> {
        self.0.read_stereo(left, right).map_err(|e| e.to_string())
    }
}

/// Drains a child's stderr on a thread (a full pipe would stall it); its text.
fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        s
    })
}

fn ffmpeg_error(what: &str, status: std::process::ExitStatus, stderr: &str) -> String {
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    format!("ffmpeg {what} failed ({status}): {}", last.trim())
}

/// Makes one preview.
pub fn run(job: &Job) -> Result<Outcome, String> {
    let codec = job.codec;
    let rate = codec.rate();
    let len = if job.rate == rate {
        job.frames
    } else {
        (job.frames as u128 * rate as u128).div_ceil(job.rate as u128) as u64
    };
    let encoded = job.dir.join(format!("{}.{}", job.stem, codec.extension()));
    // Where the compared stretch starts: the middle of the track.
    let w0 = (len as usize / 2).saturating_sub(WINDOW / 2);

    // Encode: the master (resampled here, exactly aligned) into ffmpeg's stdin.
    let mut enc = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "f32le",
            "-ar",
        ])
        .arg(rate.to_string())
        .args(["-ac", "2", "-i", "pipe:0"])
        .args(codec.encode_args())
        .arg(&encoded)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run ffmpeg: {e}"))?;
    let enc_err = drain(enc.stderr.take().expect("piped"));
    let mut reference = Vec::with_capacity(WINDOW);
    let fed = (|| -> Result<(), String> {
        let reader = Reader::open(&job.wav, 2).map_err(|e| e.to_string())?;
        let src: Box<dyn SourceReader> = Box::new(WavSource(Box::new(reader)));
        let mut src: Box<dyn SourceReader> = if job.rate == rate {
            src
        } else {
            Box::new(Resampled::new(src, job.rate, rate, job.frames)?)
        };
        let mut stdin = BufWriter::with_capacity(1 << 16, enc.stdin.take().expect("piped"));
        let (mut l, mut r) = (vec![0f32; 8192], vec![0f32; 8192]);
        let mut bytes = Vec::with_capacity(8192 * 8);
        let mut pos = 0usize;
        loop {
            let n = src.read(&mut l, &mut r)?;
            if n == 0 {
                break;
            }
            bytes.clear();
            for i in 0..n {
                bytes.extend_from_slice(&l[i].to_le_bytes());
                bytes.extend_from_slice(&r[i].to_le_bytes());
                let at = pos + i;
                if at >= w0 && at < w0 + WINDOW {
                    reference.push(l[i] + r[i]);
                }
            }
            pos += n;
            stdin
                .write_all(&bytes)
                .map_err(|e| format!("ffmpeg stopped taking audio ({e})"))?;
        }
        stdin
            .flush()
            .map_err(|e| format!("ffmpeg stopped taking audio ({e})"))
    })();
    let status = enc.wait().map_err(|e| format!("ffmpeg: {e}"))?;
    let stderr = enc_err.join().unwrap_or_default();
    if !status.success() {
        return Err(ffmpeg_error("encoding", status, &stderr));
    }
    fed?;
    let delay = codec.delay(
        &std::fs::read(&encoded).map_err(|e| format!("cannot read {}: {e}", encoded.display()))?,
    );

    // Decode with nothing trimmed; drop the delay; measure the rest as it comes.
    let mut dec = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-flags2",
            "+skip_manual",
            "-i",
        ])
        .arg(&encoded)
        .args(["-f", "f32le", "-ac", "2", "-ar"])
        .arg(rate.to_string())
        .arg("pipe:1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run ffmpeg: {e}"))?;
    let dec_err = drain(dec.stderr.take().expect("piped"));
    let mut out = dec.stdout.take().expect("piped");
    let decoded_name = format!("{}.{}.wav", job.stem, codec.id());
    let mut kept = if job.keep {
        let p = job.dir.join(&decoded_name);
        let mut w = BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(&p).map_err(|e| format!("cannot create {}: {e}", p.display()))?,
        );
        let data = u32::try_from(len * 8).map_err(|_| "preview over 4 GiB".to_string())?;
        w.write_all(&wav_header(rate, 3, 32, data))
            .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        Some((p, w))
    } else {
        None
    };
    let mut scan = Scan::new(rate as f64, 2);
    let mut overs = OverDetector::new();
    let lo = w0.saturating_sub(MAX_LAG);
    let mut decoded_window = Vec::with_capacity(WINDOW + 2 * MAX_LAG);
    let mut skip = delay.samples;
    let mut taken = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    let mut have = 0usize;
    let (mut l, mut r) = (Vec::new(), Vec::new());
    loop {
        let n = out
            .read(&mut buf[have..])
            .map_err(|e| format!("reading ffmpeg's decode: {e}"))?;
        if n == 0 {
            break;
        }
        have += n;
        let frames = have / 8;
        l.clear();
        r.clear();
        for f in buf[..frames * 8].chunks_exact(8) {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            if taken + (l.len() as u64) >= len {
                break;
            }
            l.push(f32::from_le_bytes([f[0], f[1], f[2], f[3]]));
            r.push(f32::from_le_bytes([f[4], f[5], f[6], f[7]]));
        }
        buf.copy_within(frames * 8..have, 0);
        have -= frames * 8;
        if l.is_empty() {
            continue;
        }
        scan.push(&[&l, &r]);
        overs.push(&l, &r);
        for i in 0..l.len() {
            let at = taken as usize + i;
            if at >= lo && at < w0 + WINDOW + MAX_LAG {
                decoded_window.push(l[i] + r[i]);
            }
        }
        if let Some((p, w)) = &mut kept {
            let mut b = Vec::with_capacity(l.len() * 8);
            for i in 0..l.len() {
                b.extend_from_slice(&l[i].to_le_bytes());
                b.extend_from_slice(&r[i].to_le_bytes());
            }
            w.write_all(&b)
                .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        }
        taken += l.len() as u64;
    }
    drop(out);
    let status = dec.wait().map_err(|e| format!("ffmpeg: {e}"))?;
    let stderr = dec_err.join().unwrap_or_default();
    if !status.success() {
        return Err(ffmpeg_error("decoding", status, &stderr));
    }
    if taken < len {
        return Err(format!(
            "the decoded {} is {} samples shorter than the master after removing {} samples of delay",
            codec.name(),
            len - taken,
            delay.samples
        ));
    }
    let mut files = Vec::new();
    if let Some((p, w)) = kept {
        let f = w
            .into_inner()
            .map_err(|e| format!("cannot write {}: {}", p.display(), e.error()))?;
        f.sync_all()
            .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        files.push(format!("{}.{}", job.stem, codec.extension()));
        files.push(decoded_name);
    } else {
        let _ = std::fs::remove_file(&encoded);
    }
    Ok(Outcome {
        index: job.index,
        number: job.number,
        codec,
        delay,
        lag: best_lag(&reference, &decoded_window, w0 - lo),
        overs: overs.finish(),
        scan: scan.result(),
        files,
    })
}

/// The lag of `decoded` (which starts `before` samples ahead of `reference`)
/// where it correlates best with `reference`: normalized by the decoded
/// stretch's energy (so a louder stretch, as before a fade-out, does not
/// win), on first differences (which whiten music enough that the
/// neighbours of the true lag fall well below it); among lags within 0.5 %
/// of the best (a periodic signal repeats every period) the one nearest 0.
/// `None` when the reference is silent.
fn best_lag(reference: &[f32], decoded: &[f32], before: usize) -> Option<i64> {
    let diff =
        |x: &[f32]| -> Vec<f64> { x.windows(2).map(|w| w[1] as f64 - w[0] as f64).collect() };
    let (r, d) = (diff(reference), diff(decoded));
    let energy: f64 = r.iter().map(|x| x * x).sum();
    if r.is_empty() || energy < 1e-9 || d.len() < r.len() {
        return None;
    }
    let n = r.len();
    let mut e: f64 = d[..n].iter().map(|x| x * x).sum();
    let c: Vec<(i64, f64)> = (0..=d.len() - n)
        .map(|start| {
            if start > 0 {
                e += d[start + n - 1].powi(2) - d[start - 1].powi(2);
            }
            let v: f64 = r.iter().zip(&d[start..]).map(|(a, b)| a * b).sum();
            (start as i64 - before as i64, v / e.max(1e-30).sqrt())
        })
        .collect();
    let max = c.iter().map(|x| x.1).fold(f64::MIN, f64::max);
    c.iter()
        .filter(|x| x.1 >= max * 0.995 && x.1 > 0.0)
        .min_by_key(|x| x.0.abs())
        .map(|x| x.0)
}

/// Runs `jobs` on `workers` threads as they arrive; results in any order.
/// `done` hears of each finished job. A failed job sets `failed` (the
/// build stops rendering) and the workers stop taking jobs.
pub fn pool(
    workers: usize,
    jobs: std::sync::mpsc::Receiver<Job>,
    failed: &AtomicBool,
    done: &(dyn Fn(&Job) + Sync),
) -> Vec<Result<Outcome, (Job, String)>> {
    let jobs = std::sync::Mutex::new(jobs);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..workers.max(1) {
            s.spawn(|| {
                loop {
                    let job = {
                        let rx = jobs.lock().unwrap_or_else(|e| e.into_inner());
                        rx.recv()
                    };
                    let Ok(job) = job else { break };
                    if failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let r = run(&job).map_err(|e| (job.clone(), e));
                    if r.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    done(&job);
                    results.lock().unwrap_or_else(|e| e.into_inner()).push(r);
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// Where kept previews go, for messages.
pub fn folder(dir: &Path, keep: bool) -> PathBuf {
    dir.join(if keep { "previews" } else { ".previews" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_of_a_shifted_noise() {
        let mut seed = 7u64;
        let x: Vec<f32> = (0..12_000)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                ((seed >> 33) as f32 / 2f32.powi(31)) - 0.5
            })
            .collect();
        let reference = &x[3000..3000 + 1024];
        // decoded[k] = x[k + 3000 - 100 - 7]: the audio comes 7 samples late.
        let decoded: Vec<f32> = (0..1300)
            .map(|k| x[(k + 3000 - 100 - 7) as usize])
            .collect();
        assert_eq!(best_lag(reference, &decoded, 100), Some(7));
        let decoded: Vec<f32> = (0..1300).map(|k| x[k + 3000 - 100]).collect();
        assert_eq!(best_lag(reference, &decoded, 100), Some(0));
        assert_eq!(best_lag(&[0.0; 64], &decoded, 0), None);
        // Louder elsewhere (a fade-out): still the matching stretch.
        let faded: Vec<f32> = (0..1300)
            .map(|k| x[k + 3000 - 100] * (1.0 + (1300 - k) as f32 / 50.0))
            .collect();
        assert_eq!(best_lag(reference, &faded, 100), Some(0));
        // A tone repeats every period: the lag nearest 0 of the equal peaks.
        let tone: Vec<f32> = (0..2000).map(|i| (i as f32 * 0.3).sin()).collect();
        assert_eq!(best_lag(&tone[200..1200], &tone[100..1400], 100), Some(0));
    }
}
