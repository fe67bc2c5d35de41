//! Audio files in and out: decoding WAV, FLAC and AIFF (symphonia) for
//! `rackd analyze`, `rackd render` and `rackd album`, and writing WAV.

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

/// Why a file could not be decoded: one readable line each, for the
/// command or the report that names the file.
#[derive(Debug, thiserror::Error)]
pub enum AudioFileError {
    #[error("cannot open: {0}")]
    Open(#[source] std::io::Error),
    #[error("not a WAV, FLAC or AIFF file this build can read ({0})")]
    NotAudio(#[source] SymphoniaError),
    #[error("no audio track")]
    NoAudioTrack,
    #[error("sample rate not stated")]
    NoSampleRate,
    #[error("channel count not stated")]
    NoChannelCount,
    #[error("{channels} channels; this command takes 1 to {max}")]
    Channels { channels: usize, max: usize },
    #[error("unsupported encoding ({0})")]
    Encoding(#[source] SymphoniaError),
    #[error("read error after {frames} frames ({source})")]
    Read { frames: u64, source: SymphoniaError },
    #[error("corrupt audio after {frames} frames ({source})")]
    Corrupt { frames: u64, source: SymphoniaError },
    /// The caller's callback asked to stop.
    #[error("stopped")]
    Stopped,
    #[error("no audio in the file")]
    Empty,
}

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

/// A file being decoded, block by block, at the pace the caller asks for
/// (`decode` pushes blocks to a callback; album rendering pulls from
/// several files at once).
pub struct Reader {
    format: Box<dyn symphonia::core::formats::FormatReader>,
    decoder: Box<dyn symphonia::core::codecs::Decoder>,
    track_id: u32,
    buf: Option<AudioBuffer<f32>>,
    /// Frames of `buf` not handed out yet start here.
    pos: usize,
    /// What the header says (frames is the header's count, when it has one).
    pub info: AudioInfo,
    /// Frames decoded so far.
    pub decoded: u64,
    ended: bool,
}

impl Reader {
    /// Opens `path`; `max_channels` bounds what the caller can handle.
    /// Errors are one readable line.
    pub fn open(path: &Path, max_channels: usize) -> Result<Reader, AudioFileError> {
        let file = File::open(path).map_err(AudioFileError::Open)?;
        Self::from_file(file, path, max_channels)
    }

    /// [`Reader::open`] of a file already open (a print's source, opened
    /// once where it was checked); `path` names it and gives the format hint.
    pub fn from_file(
        file: File,
        path: &Path,
        max_channels: usize,
    ) -> Result<Reader, AudioFileError> {
        match Self::open_source(path, max_channels, Box::new(file)) {
            Ok(r) => Ok(r),
            // symphonia wants `fmt ` before `data`; RIFF allows any order.
            Err(e) => match RiffInOrder::open(path) {
                Some(src) => Self::open_source(path, max_channels, Box::new(src)),
                None => Err(e),
            },
        }
    }

    fn open_source(
        path: &Path,
        max_channels: usize,
        source: Box<dyn symphonia::core::io::MediaSource>,
    ) -> Result<Reader, AudioFileError> {
        let mss = MediaSourceStream::new(source, Default::default());
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
            .map_err(AudioFileError::NotAudio)?;
        let format = probed.format;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or(AudioFileError::NoAudioTrack)?;
        let track_id = track.id;
        let params = track.codec_params.clone();
        let sample_rate = params.sample_rate.ok_or(AudioFileError::NoSampleRate)?;
        let channels = params
            .channels
            .map(|c| c.count())
            .ok_or(AudioFileError::NoChannelCount)?;
        if channels == 0 || channels > max_channels {
            return Err(AudioFileError::Channels {
                channels,
                max: max_channels,
            });
        }
        let float = matches!(
            params.sample_format,
            Some(
                symphonia::core::sample::SampleFormat::F32
                    | symphonia::core::sample::SampleFormat::F64
            )
        );
        let decoder = symphonia::default::get_codecs()
            .make(&params, &DecoderOptions::default())
            .map_err(AudioFileError::Encoding)?;
        Ok(Reader {
            format,
            decoder,
            track_id,
            buf: None,
            pos: 0,
            info: AudioInfo {
                sample_rate,
                channels,
                bits_per_sample: params.bits_per_sample,
                float,
                frames: params.n_frames.unwrap_or(0),
            },
            decoded: 0,
            ended: false,
        })
    }

    /// The next decoded block as planar f32 channels, or `None` at the end.
    pub fn next_block(&mut self) -> Result<Option<Vec<&[f32]>>, AudioFileError> {
        if !self.fill()? {
            return Ok(None);
        }
        let b = self.buf.as_ref().expect("filled");
        let pos = std::mem::replace(&mut self.pos, b.frames());
        Ok(Some(
            (0..self.info.channels).map(|c| &b.chan(c)[pos..]).collect(),
        ))
    }

    /// Decodes packets until some frames are pending; false at the end.
    fn fill(&mut self) -> Result<bool, AudioFileError> {
        while self.buf.as_ref().is_none_or(|b| self.pos >= b.frames()) {
            if self.ended {
                return Ok(false);
            }
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                Err(SymphoniaError::IoError(e))
                    if e.kind() == std::io::ErrorKind::UnexpectedEof =>
                {
                    self.ended = true;
                    continue;
                }
                Err(SymphoniaError::ResetRequired) => {
                    self.ended = true;
                    continue;
                }
                Err(e) => {
                    return Err(AudioFileError::Read {
                        frames: self.decoded,
                        source: e,
                    });
                }
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            let decoded =
                self.decoder
                    .decode(&packet)
                    .map_err(|source| AudioFileError::Corrupt {
                        frames: self.decoded,
                        source,
                    })?;
            let spec = *decoded.spec();
            let need = decoded.capacity() as u64;
            let b = match &mut self.buf {
                Some(b) if b.capacity() as u64 >= need && *b.spec() == spec => b,
                _ => self.buf.insert(AudioBuffer::new(need, spec)),
            };
            decoded.convert(b);
            self.pos = 0;
            self.decoded += b.frames() as u64;
        }
        Ok(true)
    }

    /// Fills up to `left.len()` frames, planar stereo (a mono file on both
    /// sides); returns how many, 0 at the end.
    pub fn read_stereo(
        &mut self,
        left: &mut [f32],
        right: &mut [f32],
    ) -> Result<usize, AudioFileError> {
        let mut n = 0;
        while n < left.len() {
            if !self.fill()? {
                break;
            }
            let b = self.buf.as_ref().expect("filled");
            let k = (b.frames() - self.pos).min(left.len() - n);
            let l = &b.chan(0)[self.pos..self.pos + k];
            let r = &b.chan(if self.info.channels > 1 { 1 } else { 0 })[self.pos..self.pos + k];
            left[n..n + k].copy_from_slice(l);
            right[n..n + k].copy_from_slice(r);
            self.pos += k;
            n += k;
        }
        Ok(n)
    }
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
) -> Result<AudioInfo, AudioFileError> {
    let file = File::open(path).map_err(AudioFileError::Open)?;
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
) -> Result<AudioInfo, AudioFileError> {
    let mut reader = Reader::from_file(file, path, max_channels)?;
    let sample_rate = reader.info.sample_rate;
    let total = reader.info.frames;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    let mut frames = 0u64;
    let mut shown = u64::MAX;
    while let Some(planes) = reader.next_block()? {
        frames += planes[0].len() as u64;
        if !on_block(sample_rate, &planes) {
            return Err(AudioFileError::Stopped);
        }
        if progress && total > 0 {
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
        return Err(AudioFileError::Empty);
    }
    Ok(AudioInfo {
        frames,
        ..reader.info
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
) -> Result<AudioInfo, AudioFileError> {
    /// Blocks decoded ahead at most (bounds the memory).
    const AHEAD: usize = 8;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(u32, Vec<Vec<f32>>)>(AHEAD);
        let decoder = scope.spawn(move || {
            decode_gathered(path, max_channels, progress, &mut |rate, block| {
                // The receiver only goes away with this scope.
                let _ = tx.send((rate, block));
            })
        });
        for (rate, planes) in rx {
            let planes: Vec<&[f32]> = planes.iter().map(Vec::as_slice).collect();
            on_block(rate, &planes);
        }
        decoder.join().expect("decoder thread")
    })
}

/// [`decode`] handing over owned blocks of at least [`AHEAD_FRAMES`] frames
/// (the last one may be shorter), for passing on to other threads.
pub fn decode_gathered(
    path: &Path,
    max_channels: usize,
    progress: bool,
    on_block: &mut dyn FnMut(u32, Vec<Vec<f32>>),
) -> Result<AudioInfo, AudioFileError> {
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
            && let Some((rate, block)) = gathered.take()
        {
            on_block(rate, block);
        }
    });
    if let Some((rate, block)) = gathered.take() {
        on_block(rate, block);
    }
    info
}

/// Frames [`decode_ahead`] gathers before handing them over.
pub const AHEAD_FRAMES: usize = 16_384;

/// A WAV file whose `data` chunk comes before its `fmt ` chunk, read as a
/// canonical one (`RIFF`, `fmt `, `data`) so symphonia can decode it.
struct RiffInOrder {
    header: Vec<u8>,
    file: File,
    data_start: u64,
    data_len: u64,
    pos: u64,
}

impl RiffInOrder {
    /// The chunks of `path` in order, or `None` when it is not RIFF/WAVE
    /// with one `fmt ` and one `data` chunk.
    fn open(path: &Path) -> Option<RiffInOrder> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = File::open(path).ok()?;
        let len = file.metadata().ok()?.len();
        let mut head = [0u8; 12];
        file.read_exact(&mut head).ok()?;
        if &head[..4] != b"RIFF" || &head[8..12] != b"WAVE" {
            return None;
        }
        let (mut fmt, mut data) = (None, None);
        let mut at = 12u64;
        while at + 8 <= len {
            file.seek(SeekFrom::Start(at)).ok()?;
            let mut h = [0u8; 8];
            file.read_exact(&mut h).ok()?;
            let size = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as u64;
            let size = size.min(len - at - 8);
            match &h[..4] {
                b"fmt " if size <= 64 => {
                    let mut b = vec![0u8; size as usize];
                    file.read_exact(&mut b).ok()?;
                    fmt = Some(b);
                }
                b"data" => data = Some((at + 8, size)),
                _ => {}
            }
            at += 8 + size + (size & 1);
        }
        let (fmt, (data_start, data_len)) = (fmt?, data?);
        let mut header = Vec::with_capacity(28 + fmt.len());
        header.extend_from_slice(b"RIFF");
        header.extend_from_slice(&((4 + 8 + fmt.len() as u64 + 8 + data_len) as u32).to_le_bytes());
        header.extend_from_slice(b"WAVEfmt ");
        header.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
        header.extend_from_slice(&fmt);
        header.extend_from_slice(b"data");
        header.extend_from_slice(&(data_len as u32).to_le_bytes());
        Some(RiffInOrder {
            header,
            file,
            data_start,
            data_len,
            pos: 0,
        })
    }

    fn total(&self) -> u64 {
        self.header.len() as u64 + self.data_len
    }
}

impl std::io::Read for RiffInOrder {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::io::{Seek, SeekFrom};
        let h = self.header.len() as u64;
        if self.pos < h {
            let n = ((h - self.pos) as usize).min(buf.len());
            buf[..n].copy_from_slice(&self.header[self.pos as usize..self.pos as usize + n]);
            self.pos += n as u64;
            return Ok(n);
        }
        let left = self.total().saturating_sub(self.pos);
        if left == 0 {
            return Ok(0);
        }
        self.file
            .seek(SeekFrom::Start(self.data_start + self.pos - h))?;
        let n = (left as usize).min(buf.len());
        let got = self.file.read(&mut buf[..n])?;
        self.pos += got as u64;
        Ok(got)
    }
}

impl std::io::Seek for RiffInOrder {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            std::io::SeekFrom::Start(n) => n as i64,
            std::io::SeekFrom::End(n) => self.total() as i64 + n,
            std::io::SeekFrom::Current(n) => self.pos as i64 + n,
        };
        if target < 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start",
            ));
        }
        self.pos = target as u64;
        Ok(self.pos)
    }
}

impl symphonia::core::io::MediaSource for RiffInOrder {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.total())
    }
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
    u32::try_from(36 + frames * 2 * format.bytes()).map_err(|_| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "WAV output over 4 GiB")
    })?;
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
        let tag: u16 = if format == WavFormat::Float32 { 3 } else { 1 };
        let mut w = BufWriter::with_capacity(1 << 16, File::create(path)?);
        w.write_all(&wav_header(sample_rate, tag, format.bytes() as u16 * 8, 0))?;
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

/// The canonical 44-byte header of a stereo WAV file: format `tag` (1 PCM,
/// 3 float), `bits` per sample, `data_len` bytes of samples.
pub fn wav_header(sample_rate: u32, tag: u16, bits: u16, data_len: u32) -> [u8; 44] {
    let block = 2 * bits / 8;
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&(36u32.wrapping_add(data_len)).to_le_bytes());
    h[8..16].copy_from_slice(b"WAVEfmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&tag.to_le_bytes());
    h[22..24].copy_from_slice(&2u16.to_le_bytes());
    h[24..28].copy_from_slice(&sample_rate.to_le_bytes());
    h[28..32].copy_from_slice(&(sample_rate * block as u32).to_le_bytes());
    h[32..34].copy_from_slice(&block.to_le_bytes());
    h[34..36].copy_from_slice(&bits.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_len.to_le_bytes());
    h
}
