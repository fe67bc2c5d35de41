//! Audio files in and out: decoding WAV, FLAC and AIFF (symphonia) for
//! `rackd analyze` and `rackd render`, and writing WAV for `render`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use symphonia::core::audio::{AudioBuffer, Signal};
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// What a decoded file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioInfo {
    /// Hz.
    pub sample_rate: u32,
    /// Channel count.
    pub channels: usize,
    /// Bits per sample as stored, when stated.
    pub bits_per_sample: Option<u32>,
    /// Floating-point samples in the file.
    pub float: bool,
    /// Frames decoded.
    pub frames: u64,
}

/// Decodes `path`, handing planar f32 blocks (with the sample rate) to
/// `on_block` as they come.
/// `max_channels` bounds what the caller can handle. A progress percentage
/// goes to stderr when `progress` is set. Errors are one readable line.
pub fn decode(
    path: &Path,
    max_channels: usize,
    progress: bool,
    on_block: &mut dyn FnMut(u32, &[&[f32]]),
) -> Result<AudioInfo, String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            mss,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| format!("not a WAV, FLAC or AIFF file this build can read ({e})"))?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or("no audio track")?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    let sample_rate = params.sample_rate.ok_or("sample rate not stated")?;
    let channels = params
        .channels
        .map(|c| c.count())
        .ok_or("channel count not stated")?;
    if channels == 0 || channels > max_channels {
        return Err(format!(
            "{channels} channels; this command takes 1 to {max_channels}"
        ));
    }
    let float = matches!(
        params.sample_format,
        Some(
            symphonia::core::sample::SampleFormat::F32 | symphonia::core::sample::SampleFormat::F64
        )
    );
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| format!("unsupported encoding ({e})"))?;
    let total = params.n_frames;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    let mut buf: Option<AudioBuffer<f32>> = None;
    let mut frames = 0u64;
    let mut shown = u64::MAX;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break;
            }
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => return Err(format!("read error after {frames} frames ({e})")),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = decoder
            .decode(&packet)
            .map_err(|e| format!("corrupt audio after {frames} frames ({e})"))?;
        let spec = *decoded.spec();
        let need = decoded.capacity() as u64;
        let b = match &mut buf {
            Some(b) if b.capacity() as u64 >= need && *b.spec() == spec => b,
            _ => buf.insert(AudioBuffer::new(need, spec)),
        };
        decoded.convert(b);
        let planes: Vec<&[f32]> = (0..channels).map(|c| b.chan(c)).collect();
        on_block(sample_rate, &planes);
        frames += b.frames() as u64;
        if progress && let Some(total) = total.filter(|&t| t > 0) {
            let pct = (frames * 100 / total).min(100);
            if pct != shown {
                shown = pct;
                eprint!("\r{name} {pct:3}%");
            }
        }
    }
    if progress && shown != u64::MAX {
        eprint!("\r{}\r", " ".repeat(name.len() + 8));
    }
    if frames == 0 {
        return Err("no audio in the file".into());
    }
    Ok(AudioInfo {
        sample_rate,
        channels,
        bits_per_sample: params.bits_per_sample,
        float,
        frames,
    })
}

/// [`decode`] on a thread of its own: `on_block` runs on the caller's
/// thread while the next blocks decode, so decoding and what is done with
/// the audio overlap. The blocks come in order, gathered into blocks of at
/// least [`AHEAD_FRAMES`] frames (fewer hand-overs between the threads).
pub fn decode_ahead(
    path: &Path,
    max_channels: usize,
    progress: bool,
    on_block: &mut dyn FnMut(u32, &[&[f32]]),
) -> Result<AudioInfo, String> {
    /// Blocks decoded ahead at most (bounds the memory).
    const AHEAD: usize = 8;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(u32, Vec<Vec<f32>>)>(AHEAD);
        let decoder = scope.spawn(move || {
            let mut gathered: Option<(u32, Vec<Vec<f32>>)> = None;
            let info = decode(path, max_channels, progress, &mut |rate, planes| {
                let (_, g) = gathered.get_or_insert_with(|| {
                    (
                        rate,
                        planes
                            .iter()
                            .map(|_| Vec::with_capacity(2 * AHEAD_FRAMES))
                            .collect(),
                    )
                });
                for (g, p) in g.iter_mut().zip(planes) {
                    g.extend_from_slice(p);
                }
                if g[0].len() >= AHEAD_FRAMES
                    && let Some(block) = gathered.take()
                {
                    // The receiver only goes away with this scope.
                    let _ = tx.send(block);
                }
            });
            if let Some(block) = gathered.take() {
                let _ = tx.send(block);
            }
            info
        });
        for (rate, planes) in rx {
            let planes: Vec<&[f32]> = planes.iter().map(Vec::as_slice).collect();
            on_block(rate, &planes);
        }
        decoder.join().expect("decoder thread")
    })
}

/// Frames [`decode_ahead`] gathers before handing them over.
pub const AHEAD_FRAMES: usize = 16_384;

/// Sample formats `render` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavFormat {
    /// 16-bit integer PCM.
    Pcm16,
    /// 24-bit integer PCM.
    Pcm24,
    /// 32-bit IEEE float.
    Float32,
}

impl WavFormat {
    /// From a bit depth given on the command line.
    pub fn from_bits(bits: u32) -> Option<Self> {
        match bits {
            16 => Some(WavFormat::Pcm16),
            24 => Some(WavFormat::Pcm24),
            32 => Some(WavFormat::Float32),
            _ => None,
        }
    }

    fn bytes(self) -> usize {
        match self {
            WavFormat::Pcm16 => 2,
            WavFormat::Pcm24 => 3,
            WavFormat::Float32 => 4,
        }
    }
}

/// Writes a stereo WAV file. Integer formats round and clip to full scale;
/// dither is the chain's `dither` slot's job, not the writer's.
pub fn write_wav(
    path: &Path,
    sample_rate: u32,
    format: WavFormat,
    left: &[f32],
    right: &[f32],
) -> std::io::Result<()> {
    let frames = left.len().min(right.len());
    let mut w = WavWriter::create(path, sample_rate, format)?;
    w.write(&left[..frames], &right[..frames])?;
    w.finish()
}

/// A stereo WAV file written block by block as audio comes (so a long file
/// is never held whole in memory); `finish` fills in the sizes.
pub struct WavWriter {
    file: BufWriter<File>,
    format: WavFormat,
    data_len: u64,
    bytes: Vec<u8>,
}

impl WavWriter {
    /// Creates `path` and writes the header (sizes still 0).
    pub fn create(path: &Path, sample_rate: u32, format: WavFormat) -> std::io::Result<Self> {
        let bytes = format.bytes();
        let mut w = BufWriter::with_capacity(1 << 16, File::create(path)?);
        w.write_all(b"RIFF")?;
        w.write_all(&0u32.to_le_bytes())?;
        w.write_all(b"WAVEfmt ")?;
        w.write_all(&16u32.to_le_bytes())?;
        let tag: u16 = if format == WavFormat::Float32 { 3 } else { 1 };
        w.write_all(&tag.to_le_bytes())?;
        w.write_all(&2u16.to_le_bytes())?;
        w.write_all(&sample_rate.to_le_bytes())?;
        w.write_all(&(sample_rate * 2 * bytes as u32).to_le_bytes())?;
        w.write_all(&((2 * bytes) as u16).to_le_bytes())?;
        w.write_all(&((bytes * 8) as u16).to_le_bytes())?;
        w.write_all(b"data")?;
        w.write_all(&0u32.to_le_bytes())?;
        Ok(WavWriter {
            file: w,
            format,
            data_len: 0,
            bytes: Vec::new(),
        })
    }

    /// Appends frames (both channels the same length).
    pub fn write(&mut self, left: &[f32], right: &[f32]) -> std::io::Result<()> {
        let frames = left.len().min(right.len());
        let size = self.format.bytes();
        self.data_len += (frames * 2 * size) as u64;
        if 36 + self.data_len > u32::MAX as u64 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "WAV output over 4 GiB",
            ));
        }
        self.bytes.clear();
        self.bytes.reserve(frames * 2 * size);
        for (&l, &r) in left.iter().zip(right) {
            for x in [l, r] {
                match self.format {
                    WavFormat::Float32 => self.bytes.extend_from_slice(&x.to_le_bytes()),
                    WavFormat::Pcm16 => {
                        let v = (x as f64 * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
                        self.bytes.extend_from_slice(&v.to_le_bytes());
                    }
                    WavFormat::Pcm24 => {
                        let v = (x as f64 * 8_388_608.0)
                            .round()
                            .clamp(-8_388_608.0, 8_388_607.0)
                            as i32;
                        self.bytes.extend_from_slice(&v.to_le_bytes()[..3]);
                    }
                }
            }
        }
        self.file.write_all(&self.bytes)
    }

    /// Fills in the sizes and flushes.
    pub fn finish(mut self) -> std::io::Result<()> {
        use std::io::{Seek, SeekFrom};
        let data_len = self.data_len as u32;
        self.file.seek(SeekFrom::Start(4))?;
        self.file.write_all(&(36 + data_len).to_le_bytes())?;
        self.file.seek(SeekFrom::Start(40))?;
        self.file.write_all(&data_len.to_le_bytes())?;
        self.file.flush()
    }
}

/// Writes through a temporary file next to `path` (`path` + `.partial`)
/// and renames it, so a crash or a failure never leaves half a file under
/// the final name; the temporary file is removed when `write` fails.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = std::path::PathBuf::from(tmp);
    if let Err(e) = write(&tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path)
}
