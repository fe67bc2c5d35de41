//! The album: what goes onto the disc and where.
//!
//! Two inputs describe an album — an `album.toml` ([`spec`]) and a CDRWIN
//! cue sheet ([`crate::cue`]). Both name their sources, and once the
//! sources' lengths and rates are known ([`SourceInfo`]) both lay out the
//! same thing: a [`Disc`], where every position is a CD frame (1/75 s).
//! Audio is a list of [`Clip`]s on that timeline (a stretch of a source, its
//! gain, its fades); tracks and indexes are frames. Nothing in a `Disc` is
//! tied to 44.1 kHz: [`crate::render`] plays it at any sample rate (CD
//! audio here, streaming masters at the source's rate for issue 10).

pub mod edit;
pub mod spec;

use crate::cdtext::{CdText, Field, Fields};
use crate::codes::{Isrc, Upc};
use std::fmt;
use std::path::PathBuf;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Said, changes nothing (a normalized ISRC).
    Note,
    /// Printed, exit 0: what plants often question.
    Warning,
    /// Refused: nothing is built.
    Error,
}

/// One finding, with the line of the album file it is about when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error, warning or note.
    pub severity: Severity,
    /// 1-based line in the album file.
    pub line: Option<usize>,
    /// What and what to do, naming the track and rule.
    pub message: String,
}

impl Diagnostic {
    /// An error.
    pub fn error(line: Option<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            line,
            message: message.into(),
        }
    }

    /// A warning.
    pub fn warning(line: Option<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            line,
            message: message.into(),
        }
    }

    /// A note.
    pub fn note(line: Option<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Note,
            line,
            message: message.into(),
        }
    }

    /// `file:line: error: message`, the way `rackd check` prints.
    pub fn display<'a>(&'a self, file: &'a str) -> impl fmt::Display + 'a {
        struct D<'a>(&'a Diagnostic, &'a str);
        impl fmt::Display for D<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let kind = match self.0.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                    Severity::Note => "note",
                };
                match self.0.line {
                    Some(l) => write!(f, "{}:{l}: {kind}: {}", self.1, self.0.message),
                    None => write!(f, "{}: {kind}: {}", self.1, self.0.message),
                }
            }
        }
        D(self, file)
    }
}

/// Whether any finding refuses the album.
pub fn has_errors(d: &[Diagnostic]) -> bool {
    d.iter().any(|d| d.severity == Severity::Error)
}

/// How a source's bytes are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// WAV, FLAC or AIFF, told apart by their headers.
    File,
    /// Headerless 16-bit 44.1 kHz stereo, little-endian (cue `BINARY`).
    RawLittle,
    /// Headerless 16-bit 44.1 kHz stereo, big-endian (cue `MOTOROLA`).
    RawBig,
}

/// A file the album takes audio from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Path as resolved against the album file's folder.
    pub path: PathBuf,
    /// How to read it.
    pub kind: SourceKind,
    /// Line of the album file that names it.
    pub line: Option<usize>,
}

/// What reading a source found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceInfo {
    /// Hz.
    pub rate: u32,
    /// Sample frames.
    pub frames: u64,
    /// 1 (taken as dual mono) or 2.
    pub channels: usize,
    /// Every sample lies on the 16-bit grid (16-bit or 8-bit files, or a
    /// wider or float container that carries exactly 16 bits): such samples
    /// reach the disc exactly, without dither, when nothing else touches them.
    pub exact16: bool,
    /// Largest absolute sample.
    pub peak: f32,
}

/// The shape of a fade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// Gain proportional to time.
    Linear,
    /// sin/cos: two of them crossfade at constant power.
    EqualPower,
    /// Exponential in gain (nearly straight in dB), zero at the start.
    Logarithmic,
    /// Raised cosine: gentle at both ends.
    SCurve,
}

impl Curve {
    /// The gain of a fade-in at `x` (0 = start, 1 = full level).
    pub fn gain(self, x: f64) -> f64 {
        let x = x.clamp(0.0, 1.0);
        match self {
            Curve::Linear => x,
            Curve::EqualPower => (x * std::f64::consts::FRAC_PI_2).sin(),
            Curve::Logarithmic => (1000f64.powf(x) - 1.0) / 999.0,
            Curve::SCurve => (1.0 - (x * std::f64::consts::PI).cos()) / 2.0,
        }
    }

    /// From album.toml's names.
    pub fn from_name(name: &str) -> Option<Curve> {
        match name.to_ascii_lowercase().as_str() {
            "linear" => Some(Curve::Linear),
            "equal-power" | "equal_power" | "equalpower" => Some(Curve::EqualPower),
            "logarithmic" | "log" => Some(Curve::Logarithmic),
            "s-curve" | "s_curve" | "scurve" => Some(Curve::SCurve),
            _ => None,
        }
    }

    /// The name album.toml uses.
    pub fn name(self) -> &'static str {
        match self {
            Curve::Linear => "linear",
            Curve::EqualPower => "equal-power",
            Curve::Logarithmic => "logarithmic",
            Curve::SCurve => "s-curve",
        }
    }
}

/// A fade: its length in seconds and its curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fade {
    /// Seconds.
    pub seconds: f64,
    /// Shape.
    pub curve: Curve,
}

/// The subcode flags of a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    /// Pre-emphasis (50/15 µs) was applied to the audio.
    pub pre_emphasis: bool,
    /// Digital copy permitted (DCP).
    pub copy_permitted: bool,
    /// Serial Copy Management System.
    pub scms: bool,
}

impl Flags {
    /// The Q-channel control nibble (pre-emphasis bit 0, copy bit 1).
    pub fn control(self) -> u8 {
        (self.pre_emphasis as u8) | ((self.copy_permitted as u8) << 1)
    }

    /// Names of the flags set, as cue sheets and PQ sheets write them.
    pub fn names(self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.copy_permitted {
            v.push("DCP");
        }
        if self.pre_emphasis {
            v.push("PRE");
        }
        if self.scms {
            v.push("SCMS");
        }
        v
    }
}

/// A stretch of a source placed on the disc.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// Index into the album's sources.
    pub source: usize,
    /// First source sample.
    pub from: u64,
    /// One past the last source sample.
    pub to: u64,
    /// Frame on the disc where the clip's first sample plays.
    pub at: u32,
    /// Gain in dB (0 = untouched).
    pub gain_db: f64,
    /// Fade at the start.
    pub fade_in: Option<Fade>,
    /// Fade at the end.
    pub fade_out: Option<Fade>,
    /// The track it belongs to (0 = hidden audio before track 1), for messages.
    pub track: u8,
}

impl Clip {
    /// Sample frames of the clip at `rate` once converted from the source's rate
    /// (what a resampler gives: rounded up).
    pub fn len_at(&self, source_rate: u32, rate: u32) -> u64 {
        let n = self.to - self.from;
        if source_rate == rate {
            n
        } else {
            (n as u128 * rate as u128).div_ceil(source_rate as u128) as u64
        }
    }

    /// Whole CD frames the clip covers (its audio padded to a frame).
    pub fn frames(&self, source_rate: u32) -> u32 {
        crate::frames::frames_for_cd_samples(self.len_at(source_rate, crate::frames::CD_RATE))
    }
}

/// One track as it lands on the disc.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscTrack {
    /// 1..=99.
    pub number: u8,
    /// Start of the pregap (index 00), absent for a track that begins with
    /// no pause (a segue, or gap 0).
    pub pregap: Option<u32>,
    /// Index 01, 02, … as frames.
    pub indexes: Vec<u32>,
    /// The ISRC.
    pub isrc: Option<Isrc>,
    /// Subcode flags.
    pub flags: Flags,
    /// CD-Text fields.
    pub text: Fields,
    /// Line of the album file that starts it.
    pub line: Option<usize>,
}

impl DiscTrack {
    /// Index 01.
    pub fn start(&self) -> u32 {
        self.indexes[0]
    }
}

/// Disc-wide data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DiscInfo {
    /// CD-Text fields of the disc.
    pub text: Fields,
    /// Genre code and text.
    pub genre: Option<(u16, String)>,
    /// UPC/EAN.
    pub upc: Option<Upc>,
    /// Master id for the DDPID (48 characters at most).
    pub master_id: Option<String>,
    /// CD-Text language code.
    pub language: u8,
    /// Write CD-Text at all.
    pub cd_text: bool,
    /// Noise-shape the dither.
    pub noise_shaping: bool,
    /// Release date (`2026` or `2026-03-01`), for the streaming masters' tags.
    pub date: Option<String>,
}

/// The disc: clips on the timeline, tracks and indexes, the lead-out.
#[derive(Debug, Clone, PartialEq)]
pub struct Disc {
    /// Disc-wide data.
    pub info: DiscInfo,
    /// The sources clips read from.
    pub sources: Vec<Source>,
    /// What those sources are.
    pub source_info: Vec<SourceInfo>,
    /// Audio, sorted by `at`.
    pub clips: Vec<Clip>,
    /// Tracks in order.
    pub tracks: Vec<DiscTrack>,
    /// First frame after the last track.
    pub lead_out: u32,
}

impl Disc {
    /// The CD-Text to write, or `None` when off or empty. Fields some
    /// tracks have and others do not are written empty where missing.
    pub fn cd_text(&self) -> Option<CdText> {
        if !self.info.cd_text {
            return None;
        }
        let t = CdText {
            disc: self.info.text.clone(),
            tracks: self.tracks.iter().map(|t| t.text.clone()).collect(),
            genre: self.info.genre.clone(),
            language: self.info.language,
        };
        (!t.is_empty()).then_some(t)
    }

    /// The frame where track `i` (0-based) ends: the next track's first
    /// frame (its index 00, or its index 01 when it has no pregap), or the lead-out.
    pub fn track_end(&self, i: usize) -> u32 {
        self.tracks
            .get(i + 1)
            .map_or(self.lead_out, |t| t.pregap.unwrap_or(t.start()))
    }

    /// The frame where what players call track `i` ends: the next track's index 01.
    pub fn play_end(&self, i: usize) -> u32 {
        self.tracks
            .get(i + 1)
            .map_or(self.lead_out, DiscTrack::start)
    }

    /// The gap before track `i` in frames (index 00 to index 01).
    pub fn gap(&self, i: usize) -> u32 {
        let t = &self.tracks[i];
        t.pregap.map_or(0, |p| t.start().saturating_sub(p))
    }

    /// Whether track `i` begins inside continuous audio (a segue from the previous one).
    pub fn is_segue(&self, i: usize) -> bool {
        i > 0
            && self.clips.iter().any(|c| {
                let rate = self.source_info[c.source].rate;
                c.at < self.tracks[i].start() && c.at + c.frames(rate) > self.tracks[i].start()
            })
    }

    /// The CD-Text field names used by some tracks but not all.
    pub fn uneven_text_fields(&self) -> Vec<Field> {
        Field::ALL
            .into_iter()
            .filter(|f| {
                let n = self
                    .tracks
                    .iter()
                    .filter(|t| t.text.contains_key(f))
                    .count();
                n > 0 && n < self.tracks.len()
            })
            .collect()
    }
}
