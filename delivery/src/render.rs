//! Plays a [`Disc`] as audio at any sample rate, block by block, streaming
//! each clip from its source (a 79-minute album never sits in memory).
//!
//! Clips whose source is at another rate go through rubato's synchronous
//! FFT resampler; gains, fades and crossfades are applied in float. Every
//! output sample carries a flag saying whether processing made it: a sample
//! copied from a source at the output rate with no gain or fade on it is
//! *untouched*, and [`CdQuantizer`] puts untouched samples of 16-bit-exact
//! sources on the disc as they are, dithering only what processing made.
//! Gaps, the first pause and the padding to a frame are digital silence.

use crate::album::{Clip, Curve, Disc, SourceInfo};
use crate::frames;
use rackd_dsp::dither::Rng;
use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
use rubato::{Fft, FixedSync, Resampler, WindowFunction};
use thiserror::Error;

/// Reads a source from its first sample: planar stereo (mono on both sides).
pub trait SourceReader: Send {
    /// Fills up to `left.len()` frames; returns how many, 0 at the end.
    fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, String>;
}

/// Opens source `index` of the disc for reading from its start.
pub type OpenSource<'a> = dyn FnMut(usize) -> Result<Box<dyn SourceReader>, String> + 'a;

/// Why rendering stopped.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RenderError {
    /// The source could not be opened or read.
    #[error("{path}: {message}")]
    Source {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The resampler refused (it should not).
    #[error("resampling {path}: {message}")]
    Resample {
        /// The file.
        path: String,
        /// The resampler's message.
        message: String,
    },
}

/// Source frames fed to the resampler per call.
const CHUNK: usize = 4096;

/// A stretch of a source: skips `from` samples, then gives `len` samples
/// and ends. A source that ends early is an error (it changed since it was read).
pub struct Trimmed {
    inner: Box<dyn SourceReader>,
    skip: u64,
    left: u64,
    scratch: [Vec<f32>; 2],
}

impl Trimmed {
    /// Samples `from..from + len` of `inner`.
    pub fn new(inner: Box<dyn SourceReader>, from: u64, len: u64) -> Self {
        Trimmed {
            inner,
            skip: from,
            left: len,
            scratch: [Vec::new(), Vec::new()],
        }
    }
}

/// The message for a source shorter than it was when the album was checked.
fn ended_early(missing: u64) -> String {
    format!(
        "ended {missing} samples early: the file changed since it was checked; check the album again"
    )
}

impl SourceReader for Trimmed {
    fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, String> {
        while self.skip > 0 {
            let k = (self.skip as usize).min(CHUNK);
            let [a, b] = &mut self.scratch;
            a.resize(k, 0.0);
            b.resize(k, 0.0);
            let got = self.inner.read(a, b)?;
            if got == 0 {
                return Err(ended_early(self.skip + self.left));
            }
            self.skip -= got as u64;
        }
        let want = (self.left as usize).min(left.len());
        let mut n = 0;
        while n < want {
            let got = self.inner.read(&mut left[n..want], &mut right[n..want])?;
            if got == 0 {
                return Err(ended_early(self.left - n as u64));
            }
            n += got;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// A source at another rate, resampled (rubato's synchronous FFT
/// resampler) with its delay removed: `len` input samples give exactly
/// `ceil(len × to / from)` output samples.
pub struct Resampled {
    inner: Box<dyn SourceReader>,
    fft: Fft<f32>,
    delay: usize,
    /// Input samples still to come.
    in_left: u64,
    /// Output samples still to give.
    out_left: u64,
    inbuf: [Vec<f32>; 2],
    outbuf: [Vec<f32>; 2],
    out_pos: usize,
    out_len: usize,
}

impl Resampled {
    /// `len` samples of `inner` at `from` Hz, given at `to` Hz.
    pub fn new(inner: Box<dyn SourceReader>, from: u32, to: u32, len: u64) -> Result<Self, String> {
        // One FFT per chunk (no sub-chunks): the longest filter, so the
        // sharpest cutoff rubato's synchronous resampler gives (flat to 20 kHz).
        let fft = Fft::<f32>::new_custom(
            from as usize,
            to as usize,
            CHUNK,
            1,
            2,
            WindowFunction::BlackmanHarris2,
            FixedSync::Input,
        )
        .map_err(|e| e.to_string())?;
        let cap = fft.output_frames_max();
        Ok(Resampled {
            inner,
            delay: fft.output_delay(),
            fft,
            in_left: len,
            out_left: (len as u128 * to as u128).div_ceil(from as u128) as u64,
            inbuf: [vec![0.0; CHUNK], vec![0.0; CHUNK]],
            outbuf: [vec![0.0; cap], vec![0.0; cap]],
            out_pos: 0,
            out_len: 0,
        })
    }

    fn refill(&mut self) -> Result<(), String> {
        while self.out_pos == self.out_len {
            let need = self.fft.input_frames_next();
            let mut n = 0;
            while n < need && self.in_left > 0 {
                let want = need.min(n + self.in_left as usize);
                let [l, r] = &mut self.inbuf;
                let got = self.inner.read(&mut l[n..want], &mut r[n..want])?;
                if got == 0 {
                    return Err(ended_early(self.in_left));
                }
                n += got;
                self.in_left -= got as u64;
            }
            let input =
                SequentialSliceOfVecs::new(&self.inbuf, 2, need).map_err(|e| e.to_string())?;
            let cap = self.outbuf[0].len();
            let mut output = SequentialSliceOfVecs::new_mut(&mut self.outbuf, 2, cap)
                .map_err(|e| e.to_string())?;
            let idx = rubato::Indexing {
                input_offset: 0,
                output_offset: 0,
                partial_len: (n < need).then_some(n),
                active_channels_mask: None,
            };
            let (_, produced) = self
                .fft
                .process_into_buffer(&input, &mut output, Some(&idx))
                .map_err(|e| e.to_string())?;
            let drop = self.delay.min(produced);
            self.delay -= drop;
            self.out_pos = drop;
            self.out_len = produced;
        }
        Ok(())
    }
}

impl SourceReader for Resampled {
    fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, String> {
        let mut n = 0;
        while n < left.len() && self.out_left > 0 {
            self.refill()?;
            let k = (self.out_len - self.out_pos)
                .min(left.len() - n)
                .min(self.out_left as usize);
            left[n..n + k].copy_from_slice(&self.outbuf[0][self.out_pos..self.out_pos + k]);
            right[n..n + k].copy_from_slice(&self.outbuf[1][self.out_pos..self.out_pos + k]);
            self.out_pos += k;
            self.out_left -= k as u64;
            n += k;
        }
        Ok(n)
    }
}

struct ClipStream {
    /// Output sample where the clip's first sample plays.
    start: u64,
    /// Output samples it has.
    len: u64,
    /// The clip's samples at the output rate.
    reader: Box<dyn SourceReader>,
    path: String,
    outbuf: [Vec<f32>; 2],
    out_pos: usize,
    out_len: usize,
    gain: f32,
    fade_in: (u64, Curve),
    fade_out: (u64, Curve),
    /// Copied samples come out unchanged (same rate, no gain).
    plain: bool,
    exact16: bool,
}

impl ClipStream {
    fn new(
        clip: &Clip,
        info: SourceInfo,
        rate: u32,
        reader: Box<dyn SourceReader>,
        path: String,
    ) -> Result<Self, RenderError> {
        let n = clip.to - clip.from;
        let trimmed: Box<dyn SourceReader> = Box::new(Trimmed::new(reader, clip.from, n));
        let resampled = info.rate != rate;
        let reader: Box<dyn SourceReader> = if resampled {
            Box::new(
                Resampled::new(trimmed, info.rate, rate, n).map_err(|message| {
                    RenderError::Resample {
                        path: path.clone(),
                        message,
                    }
                })?,
            )
        } else {
            trimmed
        };
        let fade = |f: Option<crate::album::Fade>| {
            f.map_or((0, Curve::Linear), |f| {
                ((f.seconds * rate as f64).round() as u64, f.curve)
            })
        };
        Ok(ClipStream {
            start: frames::to_samples(clip.at, rate),
            len: clip.len_at(info.rate, rate),
            reader,
            path,
            outbuf: [vec![0.0; CHUNK], vec![0.0; CHUNK]],
            out_pos: 0,
            out_len: 0,
            gain: 10f64.powf(clip.gain_db / 20.0) as f32,
            fade_in: fade(clip.fade_in),
            fade_out: fade(clip.fade_out),
            plain: !resampled && clip.gain_db == 0.0,
            exact16: info.exact16,
        })
    }

    /// Refills `outbuf` with the next output samples.
    fn refill(&mut self) -> Result<(), RenderError> {
        let [l, r] = &mut self.outbuf;
        self.out_pos = 0;
        self.out_len = self
            .reader
            .read(l, r)
            .map_err(|message| RenderError::Source {
                path: self.path.clone(),
                message,
            })?;
        Ok(())
    }

    /// The gain at output sample `j` of the clip, and whether it is 1.
    fn envelope(&self, j: u64) -> (f32, bool) {
        let mut g = self.gain as f64;
        let mut faded = false;
        if j < self.fade_in.0 {
            g *= self
                .fade_in
                .1
                .gain((j as f64 + 0.5) / self.fade_in.0 as f64);
            faded = true;
        }
        let from_end = self.len - j;
        if from_end <= self.fade_out.0 {
            g *= self
                .fade_out
                .1
                .gain((from_end as f64 - 0.5) / self.fade_out.0 as f64);
            faded = true;
        }
        (g as f32, faded)
    }

    /// Adds the clip's samples for output positions `pos..pos+out.len()`.
    fn mix(
        &mut self,
        pos: u64,
        left: &mut [f32],
        right: &mut [f32],
        processed: &mut [bool],
        covered: &mut [bool],
    ) -> Result<(), RenderError> {
        let n = left.len() as u64;
        let first = self.start.max(pos);
        let last = (self.start + self.len).min(pos + n);
        let mut p = first;
        while p < last {
            if self.out_pos == self.out_len {
                self.refill()?;
                if self.out_len == 0 {
                    return Err(RenderError::Source {
                        path: self.path.clone(),
                        message: ended_early(self.start + self.len - p),
                    });
                }
            }
            let take = ((last - p) as usize).min(self.out_len - self.out_pos);
            let o = (p - pos) as usize;
            let j0 = p - self.start;
            let in_fade = j0 < self.fade_in.0 || self.len - (j0 + take as u64) < self.fade_out.0;
            let (sl, sr) = (
                &self.outbuf[0][self.out_pos..self.out_pos + take],
                &self.outbuf[1][self.out_pos..self.out_pos + take],
            );
            if !in_fade {
                let g = self.gain;
                let touched = !self.plain;
                for k in 0..take {
                    left[o + k] += sl[k] * g;
                    right[o + k] += sr[k] * g;
                    processed[o + k] |= touched || covered[o + k];
                    covered[o + k] = true;
                }
            } else {
                for k in 0..take {
                    let (g, faded) = self.envelope(j0 + k as u64);
                    left[o + k] += sl[k] * g;
                    right[o + k] += sr[k] * g;
                    processed[o + k] |= !self.plain || faded || covered[o + k];
                    covered[o + k] = true;
                }
            }
            if !self.exact16 {
                // Word-length reduction is processing too (for 16-bit output).
                for x in &mut processed[o..o + take] {
                    *x = true;
                }
            }
            self.out_pos += take;
            p += take as u64;
        }
        Ok(())
    }

    fn finished_by(&self, pos: u64) -> bool {
        self.start + self.len <= pos
    }
}

/// One block of output.
#[derive(Debug)]
pub struct Block<'a> {
    /// Output sample of its first sample (0 = first sample of the disc).
    pub start: u64,
    /// Left channel.
    pub left: &'a [f32],
    /// Right channel.
    pub right: &'a [f32],
    /// Per sample: made by processing (resampled, gained, faded, mixed, or
    /// from a source that is not 16-bit exact). Untouched samples are the
    /// source's own values.
    pub processed: &'a [bool],
}

/// Plays a disc at one sample rate.
pub struct Renderer<'a> {
    disc: &'a Disc,
    rate: u32,
    open: Box<OpenSource<'a>>,
    pos: u64,
    end: u64,
    next_clip: usize,
    active: Vec<ClipStream>,
    block: usize,
    left: Vec<f32>,
    right: Vec<f32>,
    processed: Vec<bool>,
    covered: Vec<bool>,
    /// `processed` marks only what gain, fades, mixing and resampling made
    /// (for outputs wider than 16 bit, where a source's own word length is kept).
    wide: bool,
}

impl<'a> Renderer<'a> {
    /// A renderer of `disc` at `rate`, from frame 0 to the lead-out, in
    /// blocks of `block_frames` CD frames.
    pub fn new(disc: &'a Disc, rate: u32, block_frames: u32, open: Box<OpenSource<'a>>) -> Self {
        let block = frames::to_samples(block_frames.max(1), rate) as usize;
        Renderer {
            disc,
            rate,
            open,
            pos: 0,
            end: frames::to_samples(disc.lead_out, rate),
            next_clip: 0,
            active: Vec::new(),
            block,
            left: vec![0.0; block],
            right: vec![0.0; block],
            processed: vec![false; block],
            covered: vec![false; block],
            wide: false,
        }
    }

    /// For an output wider than 16 bit (the streaming masters): a sample
    /// copied untouched from any source counts as unprocessed, whatever its
    /// word length, so the output's quantizer can pass it as it is.
    pub fn wide_output(mut self) -> Self {
        self.wide = true;
        self
    }

    /// Total output samples.
    pub fn len(&self) -> u64 {
        self.end
    }

    /// Whether the disc has no audio at all.
    pub fn is_empty(&self) -> bool {
        self.end == 0
    }

    /// The output rate.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// The next block, or `None` after the lead-out.
    pub fn next_block(&mut self) -> Result<Option<Block<'_>>, RenderError> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let n = ((self.end - self.pos) as usize).min(self.block);
        let block_end = self.pos + n as u64;
        while let Some(clip) = self.disc.clips.get(self.next_clip) {
            let start = frames::to_samples(clip.at, self.rate);
            if start >= block_end {
                break;
            }
            let info = self.disc.source_info[clip.source];
            let path = self.disc.sources[clip.source].path.display().to_string();
            let reader = (self.open)(clip.source).map_err(|message| RenderError::Source {
                path: path.clone(),
                message,
            })?;
            let mut stream = ClipStream::new(clip, info, self.rate, reader, path)?;
            stream.exact16 |= self.wide;
            self.active.push(stream);
            self.next_clip += 1;
        }
        let (l, r, p, c) = (
            &mut self.left[..n],
            &mut self.right[..n],
            &mut self.processed[..n],
            &mut self.covered[..n],
        );
        l.fill(0.0);
        r.fill(0.0);
        p.fill(false);
        c.fill(false);
        for s in &mut self.active {
            s.mix(self.pos, l, r, p, c)?;
        }
        self.active.retain(|s| !s.finished_by(block_end));
        let start = self.pos;
        self.pos = block_end;
        Ok(Some(Block {
            start,
            left: &self.left[..n],
            right: &self.right[..n],
            processed: &self.processed[..n],
        }))
    }
}

/// 16-bit CD samples from float: TPDF dither (optionally noise-shaped),
/// applied once and only to samples processing made; untouched samples of
/// 16-bit-exact sources are taken as they are.
pub struct CdQuantizer {
    rng: [Rng; 2],
    err: [[f64; 2]; 2],
    shaped: bool,
    /// Samples that hit full scale when quantized (per channel sum).
    pub clipped: u64,
}

impl CdQuantizer {
    /// A quantizer; the same seed gives the same bytes (builds repeat exactly).
    pub fn new(noise_shaping: bool) -> Self {
        CdQuantizer {
            rng: [Rng::new(0x5eed_0001), Rng::new(0x5eed_0002)],
            err: [[0.0; 2]; 2],
            shaped: noise_shaping,
            clipped: 0,
        }
    }

    fn one(&mut self, ch: usize, x: f32, processed: bool) -> i16 {
        let v = rackd_dsp::sanitize(x) as f64 * 32768.0;
        if !processed {
            self.err[ch] = [0.0; 2];
            return v.round().clamp(-32768.0, 32767.0) as i16;
        }
        let [e1, e2] = self.err[ch];
        let shaped = if self.shaped { v - 2.0 * e1 + e2 } else { v };
        let q = (shaped + self.rng[ch].tpdf()).round();
        if !(-32768.0..=32767.0).contains(&q) {
            self.clipped += 1;
        }
        let q = q.clamp(-32768.0, 32767.0);
        self.err[ch] = [(q - shaped).clamp(-2.0, 2.0), e1];
        q as i16
    }

    /// Appends the block as 16-bit little-endian interleaved stereo (the
    /// layout of IMAGE.DAT and a CDRWIN .bin).
    pub fn push(&mut self, block: &Block, out: &mut Vec<u8>) {
        out.reserve(block.left.len() * 4);
        for i in 0..block.left.len() {
            let p = block.processed[i];
            let l = self.one(0, block.left[i], p);
            let r = self.one(1, block.right[i], p);
            out.extend_from_slice(&l.to_le_bytes());
            out.extend_from_slice(&r.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::album::{DiscInfo, DiscTrack, Fade, Flags, Source, SourceKind};
    use std::path::PathBuf;

    struct Memory {
        l: Vec<f32>,
        r: Vec<f32>,
        pos: usize,
    }

    impl SourceReader for Memory {
        fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, String> {
            let n = left.len().min(self.l.len() - self.pos);
            left[..n].copy_from_slice(&self.l[self.pos..self.pos + n]);
            right[..n].copy_from_slice(&self.r[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    /// Source samples `from..to` at frame 150, untouched.
    fn clip(from: u64, to: u64) -> Clip {
        Clip {
            source: 0,
            from,
            to,
            at: 150,
            gain_db: 0.0,
            fade_in: None,
            fade_out: None,
            track: 1,
        }
    }

    fn disc(rate: u32, samples: u64, clip: Clip, exact16: bool) -> Disc {
        Disc {
            info: DiscInfo::default(),
            sources: vec![Source {
                path: PathBuf::from("s.wav"),
                kind: SourceKind::File,
                line: None,
            }],
            source_info: vec![SourceInfo {
                rate,
                frames: samples,
                channels: 2,
                exact16,
                peak: 0.5,
            }],
            lead_out: clip.at + clip.frames(rate),
            clips: vec![clip],
            tracks: vec![DiscTrack {
                number: 1,
                pregap: Some(0),
                indexes: vec![150],
                isrc: None,
                flags: Flags::default(),
                text: Default::default(),
                line: None,
            }],
        }
    }

    fn tone(n: usize, rate: f64, hz: f64, amp: f64) -> Vec<f32> {
        (0..n)
            .map(|i| {
                ((amp * (2.0 * std::f64::consts::PI * hz * i as f64 / rate).sin() * 32768.0)
                    .round()
                    / 32768.0) as f32
            })
            .collect()
    }

    fn render(d: &Disc, data: Vec<f32>, rate: u32) -> (Vec<i16>, Vec<bool>) {
        let data2 = data.clone();
        let open = move |_: usize| -> Result<Box<dyn SourceReader>, String> {
            Ok(Box::new(Memory {
                l: data2.clone(),
                r: data2.iter().map(|x| -x).collect(),
                pos: 0,
            }))
        };
        let mut r = Renderer::new(d, rate, 10, Box::new(open));
        let mut q = CdQuantizer::new(false);
        let mut bytes = Vec::new();
        let mut mask = Vec::new();
        while let Some(b) = r.next_block().unwrap() {
            mask.extend_from_slice(b.processed);
            q.push(&b, &mut bytes);
        }
        let s = bytes
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        (s, mask)
    }

    #[test]
    fn untouched_cd_audio_is_bit_exact_and_silence_is_zero() {
        let x = tone(44_100, 44_100.0, 997.0, 0.5);
        let clip = Clip {
            gain_db: 0.0,
            fade_in: None,
            ..clip(100, 44_000)
        };
        let d = disc(44_100, 44_100, clip, true);
        let (s, mask) = render(&d, x.clone(), 44_100);
        let start = 150 * 588;
        assert!(s[..start * 2].iter().all(|&v| v == 0));
        for i in 0..43_900 {
            assert_eq!(
                s[(start + i) * 2],
                (x[100 + i] * 32768.0) as i16,
                "sample {i}"
            );
            assert_eq!(s[(start + i) * 2 + 1], (-x[100 + i] * 32768.0) as i16);
        }
        assert!(s[(start + 43_900) * 2..].iter().all(|&v| v == 0), "padding");
        assert!(!mask.iter().any(|&p| p));
    }

    #[test]
    fn fades_and_gain_are_processed_and_dithered_once() {
        let x = tone(44_100, 44_100.0, 997.0, 0.5);
        let clip = Clip {
            gain_db: 0.0,
            fade_in: Some(Fade {
                seconds: 0.1,
                curve: Curve::SCurve,
            }),
            ..clip(0, 44_100)
        };
        let d = disc(44_100, 44_100, clip, true);
        let (s, mask) = render(&d, x.clone(), 44_100);
        let start = 150 * 588;
        assert!(mask[start..start + 4410].iter().all(|&p| p));
        assert!(!mask[start + 4410..start + 44_100].iter().any(|&p| p));
        // After the fade, the source comes through exactly.
        for i in 4410..44_100 {
            assert_eq!(s[(start + i) * 2], (x[i] * 32768.0) as i16);
        }
        // Inside the fade: the curve times the source, within dither (±1 LSB + rounding).
        for i in (0..4410).step_by(97) {
            let g = Curve::SCurve.gain((i as f64 + 0.5) / 4410.0);
            let want = x[i] as f64 * g * 32768.0;
            assert!((s[(start + i) * 2] as f64 - want).abs() <= 1.5, "{i}");
        }
    }

    #[test]
    fn resampled_clip_has_its_length_and_level() {
        let x = tone(96_000, 96_000.0, 1000.0, 0.5);
        let clip = Clip {
            gain_db: -6.0206,
            fade_in: None,
            ..clip(0, 96_000)
        };
        let d = disc(96_000, 96_000, clip, false);
        let (s, mask) = render(&d, x, 44_100);
        let start = 150 * 588;
        assert!(mask[start..start + 44_100].iter().all(|&p| p));
        // 1 kHz at half scale minus 6 dB: peak about 0.25 FS away from the edges.
        let peak = s[(start + 4410) * 2..(start + 40_000) * 2]
            .iter()
            .step_by(2)
            .map(|v| v.unsigned_abs())
            .max()
            .unwrap();
        assert!((peak as f64 / 32768.0 - 0.25).abs() < 0.002, "{peak}");
    }
}
