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
    decode_file(file, path, max_channels, progress, &mut |rate, planes| {
        on_block(rate, planes);
        true
    })
}

/// [`decode`] of a file already open (`path` names it in messages and gives
/// the format hint); `on_block` returns false to stop, which is an error
/// ("stopped").
pub fn decode_file(
    file: File,
    path: &Path,
    max_channels: usize,
    progress: bool,
    on_block: &mut dyn FnMut(u32, &[&[f32]]) -> bool,
) -> Result<AudioInfo, String> {
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
        if !on_block(sample_rate, &planes) {
            return Err("stopped".into());
        }
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
    let bytes = format.bytes();
    let data_len = frames * 2 * bytes;
    let riff_len = u32::try_from(36 + data_len).map_err(|_| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "WAV output over 4 GiB")
    })?;
    let mut w = BufWriter::new(File::create(path)?);
    w.write_all(b"RIFF")?;
    w.write_all(&riff_len.to_le_bytes())?;
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
    w.write_all(&(data_len as u32).to_le_bytes())?;
    for i in 0..frames {
        for x in [left[i], right[i]] {
            match format {
                WavFormat::Float32 => w.write_all(&x.to_le_bytes())?,
                WavFormat::Pcm16 => {
                    let v = (x as f64 * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
                    w.write_all(&v.to_le_bytes())?;
                }
                WavFormat::Pcm24 => {
                    let v = (x as f64 * 8_388_608.0)
                        .round()
                        .clamp(-8_388_608.0, 8_388_607.0) as i32;
                    w.write_all(&v.to_le_bytes()[..3])?;
                }
            }
        }
    }
    w.flush()
}
