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
    source: Source,
    /// Frames of the current block not handed out yet start here.
    pos: usize,
    /// What the header says (frames is the header's count, when it has one).
    pub info: AudioInfo,
    /// Frames decoded so far.
    pub decoded: u64,
    ended: bool,
}

/// Where a [`Reader`]'s blocks come from.
enum Source {
    /// Packets through symphonia's decoder.
    Packets {
        format: Box<dyn symphonia::core::formats::FormatReader>,
        decoder: Box<dyn symphonia::core::codecs::Decoder>,
        track_id: u32,
        buf: Option<AudioBuffer<f32>>,
    },
    /// The plain PCM or float samples of a WAV file, converted here.
    Pcm(PcmData),
}

/// How the samples of a plain WAV file are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PcmEncoding {
    S16,
    S24,
    S32,
    F32,
    F64,
}

impl PcmEncoding {
    fn bytes(self) -> usize {
        match self {
            PcmEncoding::S16 => 2,
            PcmEncoding::S24 => 3,
            PcmEncoding::S32 | PcmEncoding::F32 => 4,
            PcmEncoding::F64 => 8,
        }
    }
}

/// Frames converted per block of a plain WAV file.
const PCM_FRAMES: usize = 16_384;

/// The data chunk of a plain WAV file whose header symphonia parsed, read
/// straight from the file. Its samples are the ones symphonia's decoder
/// gives (the same conversions to f32), without its packet and buffer
/// copies: decoding was a tenth of `rackd analyze`'s time.
struct PcmData {
    file: File,
    /// File offset of the next frame.
    at: u64,
    encoding: PcmEncoding,
    channels: usize,
    /// Bytes of whole frames not read yet.
    left: u64,
    raw: Vec<u8>,
    planes: Vec<Vec<f32>>,
}

impl PcmData {
    /// Reads and converts the next block; false at the end of the data.
    fn next(&mut self) -> std::io::Result<bool> {
        use std::os::unix::fs::FileExt;
        let frame = self.channels * self.encoding.bytes();
        let want = (self.left as usize).min(PCM_FRAMES * frame);
        self.raw.resize(want, 0);
        let mut got = 0;
        while got < want {
            match self
                .file
                .read_at(&mut self.raw[got..], self.at + got as u64)
            {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        // A file cut short ends at its last whole frame, as with symphonia.
        let frames = got / frame;
        self.left = if got < want {
            0
        } else {
            self.left - want as u64
        };
        self.at += want as u64;
        for p in &mut self.planes {
            p.clear();
        }
        if frames == 0 {
            return Ok(false);
        }
        let raw = &self.raw[..frames * frame];
        for (c, plane) in self.planes.iter_mut().enumerate() {
            plane.resize(frames, 0.0);
            convert_plane(self.encoding, raw, frame, c, plane);
        }
        Ok(true)
    }
}

/// Channel `c` of interleaved little-endian frames `frame` bytes apart, as
/// f32: integers divided by 2^(bits − 1) (exact), floats as they are, by
/// the formulas of symphonia's sample conversion.
fn convert_plane(encoding: PcmEncoding, raw: &[u8], frame: usize, c: usize, out: &mut [f32]) {
    let at = c * encoding.bytes();
    let frames = raw.chunks_exact(frame).map(|f| &f[at..]);
    match encoding {
        PcmEncoding::S16 => {
            for (o, f) in out.iter_mut().zip(frames) {
                *o = i16::from_le_bytes([f[0], f[1]]) as f32 / 32_768.0;
            }
        }
        PcmEncoding::S24 => {
            for (o, f) in out.iter_mut().zip(frames) {
                let v = i32::from_le_bytes([0, f[0], f[1], f[2]]) >> 8;
                *o = v as f32 / 8_388_608.0;
            }
        }
        PcmEncoding::S32 => {
            for (o, f) in out.iter_mut().zip(frames) {
                let v = i32::from_le_bytes([f[0], f[1], f[2], f[3]]);
                *o = (v as f64 / 2_147_483_648.0) as f32;
            }
        }
        PcmEncoding::F32 => {
            for (o, f) in out.iter_mut().zip(frames) {
                *o = f32::from_le_bytes([f[0], f[1], f[2], f[3]]);
            }
        }
        PcmEncoding::F64 => {
            for (o, f) in out.iter_mut().zip(frames) {
                *o = f64::from_le_bytes([f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]]) as f32;
            }
        }
    }
}

/// The encoding of a WAV file whose samples [`PcmData`] can read: a RIFF
/// file whose `fmt ` chunk says PCM (16, 24 or 32 bits) or IEEE float (32
/// or 64), directly or as WAVE_FORMAT_EXTENSIBLE with every bit valid, in
/// frames of exactly one sample per channel: the encoding, the channel
/// count and where the `data` chunk's samples begin.
fn plain_wav(file: &mut File) -> Option<(PcmEncoding, usize, u64)> {
    use std::io::{Seek, SeekFrom};
    let layout = RiffLayout::read(file);
    file.seek(SeekFrom::Start(0)).ok()?;
    let layout = layout?;
    let f = &layout.fmt;
    if f.len() < 16 {
        return None;
    }
    let le16 = |i: usize| u16::from_le_bytes([f[i], f[i + 1]]);
    let (mut tag, chans, align, bits) = (le16(0), le16(2), le16(12), le16(14));
    if tag == 0xFFFE {
        // cbSize, valid bits, channel mask, then the sub-format GUID whose
        // first two bytes are the format tag.
        if f.len() < 40 || le16(18) != bits {
            return None;
        }
        tag = le16(24);
    }
    let encoding = match (tag, bits) {
        (1, 16) => PcmEncoding::S16,
        (1, 24) => PcmEncoding::S24,
        (1, 32) => PcmEncoding::S32,
        (3, 32) => PcmEncoding::F32,
        (3, 64) => PcmEncoding::F64,
        _ => return None,
    };
    let chans = chans as usize;
    (align as usize == chans * encoding.bytes()).then_some((encoding, chans, layout.data_start))
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
        mut file: File,
        path: &Path,
        max_channels: usize,
    ) -> Result<Reader, AudioFileError> {
        // A second handle on the same file for reading the samples
        // (positioned reads: the shared offset does not matter).
        let plain = plain_wav(&mut file).and_then(|p| Some((p, file.try_clone().ok()?)));
        match Self::open_source(path, max_channels, Box::new(file)) {
            Ok(r) => match plain {
                Some((p, samples)) => Ok(r.reading_samples(p, samples)),
                None => Ok(r),
            },
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
            source: Source::Packets {
                format,
                decoder,
                track_id,
                buf: None,
            },
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

    /// The same reader taking a plain WAV file's samples from `file` itself
    /// (see [`PcmData`]) when symphonia read the header as the same
    /// encoding, channels and single track; else unchanged.
    fn reading_samples(
        self,
        (encoding, channels, data_start): (PcmEncoding, usize, u64),
        file: File,
    ) -> Reader {
        use symphonia::core::codecs as c;
        let Source::Packets {
            format, decoder, ..
        } = &self.source
        else {
            return self;
        };
        let params = decoder.codec_params();
        let same = match encoding {
            PcmEncoding::S16 => params.codec == c::CODEC_TYPE_PCM_S16LE,
            PcmEncoding::S24 => params.codec == c::CODEC_TYPE_PCM_S24LE,
            PcmEncoding::S32 => params.codec == c::CODEC_TYPE_PCM_S32LE,
            PcmEncoding::F32 => params.codec == c::CODEC_TYPE_PCM_F32LE,
            PcmEncoding::F64 => params.codec == c::CODEC_TYPE_PCM_F64LE,
        } && params.bits_per_coded_sample == params.bits_per_sample
            && channels == self.info.channels
            && format.tracks().len() == 1;
        let (true, Some(frames)) = (same, params.n_frames) else {
            return self;
        };
        Reader {
            source: Source::Pcm(PcmData {
                file,
                at: data_start,
                encoding,
                channels,
                left: frames * (channels * encoding.bytes()) as u64,
                raw: Vec::new(),
                planes: vec![Vec::with_capacity(PCM_FRAMES); channels],
            }),
            ..self
        }
    }

    /// The current block's channel `c` (all of it, handed out or not).
    fn plane(&self, c: usize) -> &[f32] {
        match &self.source {
            Source::Packets { buf, .. } => buf.as_ref().map_or(&[], |b| b.chan(c)),
            Source::Pcm(p) => &p.planes[c],
        }
    }

    /// The next decoded block as planar f32 channels, or `None` at the end.
    pub fn next_block(&mut self) -> Result<Option<Vec<&[f32]>>, AudioFileError> {
        if !self.fill()? {
            return Ok(None);
        }
        let end = self.plane(0).len();
        let pos = std::mem::replace(&mut self.pos, end);
        Ok(Some(
            (0..self.info.channels)
                .map(|c| &self.plane(c)[pos..])
                .collect(),
        ))
    }

    /// Decodes packets until some frames are pending; false at the end.
    fn fill(&mut self) -> Result<bool, AudioFileError> {
        while self.pos >= self.plane(0).len() {
            if self.ended {
                return Ok(false);
            }
            let frames = match &mut self.source {
                Source::Pcm(p) => match p.next() {
                    Ok(true) => p.planes[0].len(),
                    Ok(false) => {
                        self.ended = true;
                        continue;
                    }
                    Err(e) => {
                        return Err(AudioFileError::Read {
                            frames: self.decoded,
                            source: SymphoniaError::IoError(e),
                        });
                    }
                },
                Source::Packets {
                    format,
                    decoder,
                    track_id,
                    buf,
                } => {
                    let packet = match format.next_packet() {
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
                    if packet.track_id() != *track_id {
                        continue;
                    }
                    let decoded =
                        decoder
                            .decode(&packet)
                            .map_err(|source| AudioFileError::Corrupt {
                                frames: self.decoded,
                                source,
                            })?;
                    let spec = *decoded.spec();
                    let need = decoded.capacity() as u64;
                    let b = match buf {
                        Some(b) if b.capacity() as u64 >= need && *b.spec() == spec => b,
                        _ => buf.insert(AudioBuffer::new(need, spec)),
                    };
                    decoded.convert(b);
                    b.frames()
                }
            };
            self.pos = 0;
            self.decoded += frames as u64;
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
            let k = (self.plane(0).len() - self.pos).min(left.len() - n);
            let r = if self.info.channels > 1 { 1 } else { 0 };
            left[n..n + k].copy_from_slice(&self.plane(0)[self.pos..self.pos + k]);
            right[n..n + k].copy_from_slice(&self.plane(r)[self.pos..self.pos + k]);
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
                None
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
/// `on_block` may give back an earlier block that is no longer needed: the
/// next one is gathered into its memory (no fresh pages to fault in).
pub fn decode_gathered(
    path: &Path,
    max_channels: usize,
    progress: bool,
    on_block: &mut dyn FnMut(u32, Vec<Vec<f32>>) -> Option<Vec<Vec<f32>>>,
) -> Result<AudioInfo, AudioFileError> {
    let mut gathered: Option<(u32, Vec<Vec<f32>>)> = None;
    let mut spare: Option<Vec<Vec<f32>>> = None;
    let info = decode(path, max_channels, progress, &mut |rate, planes| {
        let (_, g) = gathered.get_or_insert_with(|| {
            let block = match spare.take() {
                Some(mut b) if b.len() == planes.len() => {
                    b.iter_mut().for_each(Vec::clear);
                    b
                }
                _ => planes
                    .iter()
                    .map(|_| Vec::with_capacity(2 * AHEAD_FRAMES))
                    .collect(),
            };
            (rate, block)
        });
        for (g, p) in g.iter_mut().zip(planes) {
            g.extend_from_slice(p);
        }
        if g[0].len() >= AHEAD_FRAMES
            && let Some((rate, block)) = gathered.take()
        {
            spare = on_block(rate, block);
        }
    });
    if let Some((rate, block)) = gathered.take() {
        on_block(rate, block);
    }
    info
}

/// Frames [`decode_ahead`] gathers before handing them over.
pub const AHEAD_FRAMES: usize = 16_384;

/// Where a WAV file's `fmt ` chunk (its bytes) and `data` chunk are.
struct RiffLayout {
    fmt: Vec<u8>,
    data_start: u64,
    data_len: u64,
}

/// A WAV file whose `data` chunk comes before its `fmt ` chunk, read as a
/// canonical one (`RIFF`, `fmt `, `data`) so symphonia can decode it.
struct RiffInOrder {
    header: Vec<u8>,
    file: File,
    data_start: u64,
    data_len: u64,
    pos: u64,
}

impl RiffLayout {
    /// Where the chunks of a RIFF/WAVE file are, read from its start; `None`
    /// when it is not one with a `fmt ` and a `data` chunk.
    fn read(file: &mut File) -> Option<RiffLayout> {
        use std::io::{Read, Seek, SeekFrom};
        let len = file.metadata().ok()?.len();
        let mut head = [0u8; 12];
        file.seek(SeekFrom::Start(0)).ok()?;
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
                // The first of each, as symphonia reads them.
                b"fmt " if fmt.is_none() && size <= 64 => {
                    let mut b = vec![0u8; size as usize];
                    file.read_exact(&mut b).ok()?;
                    fmt = Some(b);
                }
                b"data" if data.is_none() => data = Some((at + 8, size)),
                _ => {}
            }
            at += 8 + size + (size & 1);
        }
        let (fmt, (data_start, data_len)) = (fmt?, data?);
        Some(RiffLayout {
            fmt,
            data_start,
            data_len,
        })
    }
}

impl RiffInOrder {
    /// The chunks of `path` in order, or `None` when it is not RIFF/WAVE
    /// with one `fmt ` and one `data` chunk.
    fn open(path: &Path) -> Option<RiffInOrder> {
        let mut file = File::open(path).ok()?;
        let RiffLayout {
            fmt,
            data_start,
            data_len,
        } = RiffLayout::read(&mut file)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A RIFF/WAVE file: `fmt ` (tag, channels, bits; WAVE_FORMAT_EXTENSIBLE
    /// with `ext`), a `fact` chunk, then `data` with `data` as its bytes and
    /// `stated` as its stated length.
    fn wav(tag: u16, ext: bool, chans: u16, bits: u16, data: &[u8], stated: u32) -> Vec<u8> {
        let align = chans * bits / 8;
        let mut fmt = Vec::new();
        fmt.extend_from_slice(&(if ext { 0xFFFE } else { tag }).to_le_bytes());
        fmt.extend_from_slice(&chans.to_le_bytes());
        fmt.extend_from_slice(&96_000u32.to_le_bytes());
        fmt.extend_from_slice(&(96_000 * align as u32).to_le_bytes());
        fmt.extend_from_slice(&align.to_le_bytes());
        fmt.extend_from_slice(&bits.to_le_bytes());
        if ext {
            fmt.extend_from_slice(&22u16.to_le_bytes());
            fmt.extend_from_slice(&bits.to_le_bytes());
            fmt.extend_from_slice(&3u32.to_le_bytes());
            fmt.extend_from_slice(&tag.to_le_bytes());
            fmt.extend_from_slice(&[
                0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
            ]);
        }
        let mut f = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        f.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
        f.extend_from_slice(&fmt);
        f.extend_from_slice(b"fact");
        f.extend_from_slice(&4u32.to_le_bytes());
        f.extend_from_slice(&(data.len() as u32 / align as u32).to_le_bytes());
        f.extend_from_slice(b"data");
        f.extend_from_slice(&stated.to_le_bytes());
        f.extend_from_slice(data);
        let riff = (f.len() - 8) as u32;
        f[4..8].copy_from_slice(&riff.to_le_bytes());
        f
    }

    /// Bytes that cover the extremes of every encoding (full scale both
    /// ways, zero, ±1 LSB, NaN and infinities for floats) and pseudo-random
    /// values in between.
    fn samples(bytes: usize, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes * n);
        let mut seed = 0x2545_f491_u64;
        for i in 0..n {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let v = match i % 9 {
                0 => 0u64,
                1 => u64::MAX,
                2 => 1,
                3 => 1 << (8 * bytes - 1),
                4 => (1 << (8 * bytes - 1)) - 1,
                _ => seed,
            };
            out.extend_from_slice(&v.to_le_bytes()[..bytes]);
        }
        if bytes == 4 {
            out[..4].copy_from_slice(&f32::NAN.to_le_bytes());
            out[4..8].copy_from_slice(&f32::NEG_INFINITY.to_le_bytes());
        }
        if bytes == 8 {
            out[..8].copy_from_slice(&f64::NAN.to_le_bytes());
            out[8..16].copy_from_slice(&1e300f64.to_le_bytes());
        }
        out
    }

    /// Every frame `reader` gives, per channel, as bits.
    fn drain(mut reader: Reader) -> (AudioInfo, Vec<Vec<u32>>) {
        let mut planes = vec![Vec::new(); reader.info.channels];
        while let Some(block) = reader.next_block().unwrap() {
            for (p, b) in planes.iter_mut().zip(block) {
                p.extend(b.iter().map(|x| x.to_bits()));
            }
        }
        (reader.info, planes)
    }

    /// The plain-WAV path gives what symphonia's decoder gives, to the bit,
    /// for every encoding it takes, whole and cut short.
    #[test]
    fn plain_wav_samples_are_symphonias() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (1, false, 2, 16),
            (1, false, 2, 24),
            (1, true, 2, 24),
            (1, false, 1, 32),
            (3, false, 2, 32),
            (3, true, 6, 32),
            (3, false, 2, 64),
        ];
        for (tag, ext, chans, bits) in cases {
            let align = chans as usize * bits as usize / 8;
            // More than two blocks, not a whole number of them.
            let frames = 2 * PCM_FRAMES + 1001;
            let data = samples(bits as usize / 8, frames * chans as usize);
            let whole = wav(tag, ext, chans, bits, &data, data.len() as u32);
            // Cut short inside a frame: the header states more than is there.
            let cut = whole[..whole.len() - align * 300 - 1].to_vec();
            for (name, bytes) in [("whole", whole), ("cut", cut)] {
                let path = dir
                    .path()
                    .join(format!("{tag}-{ext}-{chans}-{bits}-{name}.wav"));
                std::fs::write(&path, &bytes).unwrap();
                let fast = Reader::open(&path, 8).unwrap();
                assert!(
                    matches!(fast.source, Source::Pcm(_)),
                    "{path:?} is read by the plain path"
                );
                let file = File::open(&path).unwrap();
                let packets = Reader::open_source(&path, 8, Box::new(file)).unwrap();
                assert!(matches!(packets.source, Source::Packets { .. }));
                let (fast_info, fast) = drain(fast);
                let (info, reference) = drain(packets);
                assert_eq!(fast_info, info, "{path:?}");
                assert_eq!(fast.len(), chans as usize);
                let expect = if name == "whole" {
                    frames
                } else {
                    frames - 301
                };
                assert_eq!(reference[0].len(), expect, "{path:?}");
                assert!(
                    fast == reference,
                    "{path:?}: samples differ from symphonia's"
                );
            }
        }
    }

    /// What the plain path does not take goes through symphonia as before.
    #[test]
    fn other_wavs_go_through_symphonia() {
        let dir = tempfile::tempdir().unwrap();
        let data = samples(1, 4000);
        // 8-bit PCM, and an extensible 24-bit container with 20 valid bits.
        let eight = wav(1, false, 2, 8, &data, data.len() as u32);
        let mut twenty = wav(1, true, 2, 24, &samples(3, 4000), 12_000);
        // Valid bits sit after cbSize: 12 (RIFF) + 8 (chunk header) + 18.
        twenty[38..40].copy_from_slice(&20u16.to_le_bytes());
        for (name, bytes) in [("eight", eight), ("twenty", twenty)] {
            let path = dir.path().join(format!("{name}.wav"));
            std::fs::write(&path, &bytes).unwrap();
            let r = Reader::open(&path, 8).unwrap();
            assert!(matches!(r.source, Source::Packets { .. }), "{name}");
        }
    }
}
