//! CD frame arithmetic. Every position on the disc is a count of CD frames
//! (sectors): 1/75 s, 588 stereo samples at 44.1 kHz, 2352 bytes of audio.
//! Frame 0 is the first sector of the image (track 1's index 00, the start
//! of the first pause).

use std::fmt;

/// Frames per second on a CD.
pub const FRAMES_PER_SECOND: u32 = 75;
/// Stereo samples per frame at 44.1 kHz.
pub const SAMPLES_PER_FRAME: u32 = 588;
/// Bytes per frame of CD audio (588 × 2 channels × 2 bytes).
pub const BYTES_PER_FRAME: u32 = 2352;
/// The CD sample rate.
pub const CD_RATE: u32 = 44_100;
/// The first pause the Red Book asks for: 2 s.
pub const FIRST_PAUSE: u32 = 150;

/// Frames at `rate` → samples at that rate (exact at every rate that is a
/// multiple of 75 Hz, which all the usual ones are; floor otherwise).
pub fn to_samples(frames: u32, rate: u32) -> u64 {
    frames as u64 * rate as u64 / FRAMES_PER_SECOND as u64
}

/// Seconds → frames, to the nearest frame.
pub fn from_seconds(seconds: f64) -> u32 {
    (seconds * FRAMES_PER_SECOND as f64).round().max(0.0) as u32
}

/// Frames → seconds.
pub fn to_seconds(frames: u32) -> f64 {
    frames as f64 / FRAMES_PER_SECOND as f64
}

/// Samples at 44.1 kHz → whole frames, rounding up (a track's audio is
/// padded with digital silence to its last frame).
pub fn frames_for_cd_samples(samples: u64) -> u32 {
    samples.div_ceil(SAMPLES_PER_FRAME as u64) as u32
}

/// A disc position as minutes, seconds and frames, the way PQ sheets, cue
/// sheets and TOC files write it (`MM:SS:FF`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Msf(pub u32);

impl Msf {
    /// Minutes, seconds, frames.
    pub fn parts(self) -> (u32, u32, u32) {
        let f = self.0 % FRAMES_PER_SECOND;
        let s = self.0 / FRAMES_PER_SECOND;
        (s / 60, s % 60, f)
    }

    /// From minutes, seconds, frames; `None` when seconds or frames are out of range.
    pub fn from_parts(m: u32, s: u32, f: u32) -> Option<Self> {
        (s < 60 && f < FRAMES_PER_SECOND).then(|| Msf((m * 60 + s) * FRAMES_PER_SECOND + f))
    }

    /// Parses `MM:SS:FF` (minutes may have any number of digits).
    pub fn parse(text: &str) -> Option<Self> {
        let mut it = text.trim().split(':');
        let (m, s, f) = (it.next()?, it.next()?, it.next()?);
        if it.next().is_some() {
            return None;
        }
        let num = |x: &str| {
            (!x.is_empty() && x.len() <= 4 && x.bytes().all(|b| b.is_ascii_digit()))
                .then(|| x.parse::<u32>().ok())
                .flatten()
        };
        Msf::from_parts(num(m)?, num(s)?, num(f)?)
    }
}

impl fmt::Display for Msf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (m, s, fr) = self.parts();
        write!(f, "{m:02}:{s:02}:{fr:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msf_round_trip() {
        assert_eq!(Msf(150).to_string(), "00:02:00");
        assert_eq!(Msf(74 * 60 * 75).to_string(), "74:00:00");
        assert_eq!(Msf::parse("79:57:74"), Some(Msf((79 * 60 + 57) * 75 + 74)));
        assert_eq!(Msf::parse("00:60:00"), None);
        assert_eq!(Msf::parse("00:00:75"), None);
        assert_eq!(Msf::parse("1:2"), None);
        assert_eq!(Msf::parse("a:00:00"), None);
        assert_eq!(Msf::parse("100:00:00").map(|m| m.0), Some(100 * 60 * 75));
    }

    #[test]
    fn frames_and_samples() {
        assert_eq!(to_samples(1, 44_100), 588);
        assert_eq!(to_samples(1, 48_000), 640);
        assert_eq!(to_samples(1, 96_000), 1280);
        assert_eq!(to_samples(75, 32_000), 32_000);
        assert_eq!(frames_for_cd_samples(588), 1);
        assert_eq!(frames_for_cd_samples(589), 2);
        assert_eq!(from_seconds(2.0), 150);
    }
}
