//! The digital half of the delivery: one master per track for the
//! distributor, split as players play the album (index 01 to the next
//! track's index 01: a pregap is the previous track's tail, a segue is cut
//! at the index with no sample lost), at the sources' rate, 24-bit or
//! 32-bit float, with metadata (BWF `bext` + `axml` in [`bwf`], FLAC and
//! Vorbis comments in [`flac`]); the loudness each service will play it at
//! ([`platforms`]); the album's loudness plan ([`plan`]); codec previews
//! ([`codec`], [`overs`]); and the delivery report ([`report`]).
//!
//! Concatenating the masters gives the album's continuous audio from track
//! 1's index 01 to the lead-out at the masters' rate, sample for sample: the
//! files are cut from one render of the [`Disc`] ([`crate::render`]).

pub mod bwf;
pub mod codec;
pub mod flac;
pub mod overs;
pub mod plan;
pub mod platforms;
pub mod report;

use crate::album::{Disc, DiscTrack};
use crate::cdtext::Field;
use crate::frames;
use bwf::SampleFormat;
use rackd_dsp::analysis::ScanResult;
use rackd_dsp::dither::Rng;

/// Loudness and peaks of a programme, in the units reports use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measure {
    /// Integrated loudness, LUFS.
    pub integrated: f64,
    /// Loudness range, LU.
    pub lra: f64,
    /// Highest momentary loudness, LUFS.
    pub max_momentary: f64,
    /// Highest short-term loudness, LUFS.
    pub max_short_term: f64,
    /// Highest true peak over the channels, dBTP.
    pub true_peak: f64,
    /// Highest sample peak, dBFS.
    pub sample_peak: f64,
}

fn db(x: f32) -> f64 {
    20.0 * (x as f64).log10()
}

impl Measure {
    /// From a `rackd_dsp` scan.
    pub fn of(scan: &ScanResult) -> Measure {
        Measure {
            integrated: scan.integrated,
            lra: scan.lra,
            max_momentary: scan.max_momentary,
            max_short_term: scan.max_short_term,
            true_peak: db(scan.true_peak.iter().fold(0f32, |m, v| m.max(*v))),
            sample_peak: db(scan.sample_peak.iter().fold(0f32, |m, v| m.max(*v))),
        }
    }

    /// Peak-to-loudness ratio: true peak minus integrated loudness, dB.
    pub fn plr(&self) -> f64 {
        self.true_peak - self.integrated
    }

    /// As the platforms see it.
    pub fn programme(&self) -> platforms::Programme {
        platforms::Programme {
            loudness: self.integrated,
            true_peak: self.true_peak,
            sample_peak: self.sample_peak,
        }
    }

    /// The `bext` loudness fields.
    pub fn bext(&self) -> bwf::BextLoudness {
        bwf::BextLoudness {
            integrated: self.integrated,
            range: self.lra,
            max_true_peak: self.true_peak,
            max_momentary: self.max_momentary,
            max_short_term: self.max_short_term,
        }
    }
}

/// Where a track's master starts and ends in the album's audio at a rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackSpan {
    /// Track number.
    pub number: u8,
    /// First sample (from the disc's frame 0).
    pub start: u64,
    /// One past the last.
    pub end: u64,
}

impl TrackSpan {
    /// Samples.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Whether it has no samples.
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// Each track from its index 01 to the next track's index 01 (or the lead-out).
pub fn spans(disc: &Disc, rate: u32) -> Vec<TrackSpan> {
    (0..disc.tracks.len())
        .map(|i| TrackSpan {
            number: disc.tracks[i].number,
            start: frames::to_samples(disc.tracks[i].start(), rate),
            end: frames::to_samples(disc.play_end(i), rate),
        })
        .collect()
}

/// `NN Title` (or `NN`), safe as a file name on every system a
/// distributor's ingest may run on.
pub fn file_stem(track: &DiscTrack) -> String {
    let title = track
        .text
        .get(&Field::Title)
        .map(|t| {
            t.chars()
                .map(|c| {
                    if c.is_control() || "/\\:*?\"<>|".contains(c) {
                        '_'
                    } else {
                        c
                    }
                })
                .collect::<String>()
                .trim()
                .trim_end_matches('.')
                .to_string()
        })
        .unwrap_or_default();
    if title.is_empty() {
        format!("{:02}", track.number)
    } else {
        format!("{:02} {title}", track.number)
    }
}

/// The rate of the masters: `requested`, or the tracks' sources' rate. Never
/// above a source's rate (masters are not upsampled); when the sources
/// differ and nothing is requested, the lowest (with a note for the caller).
pub fn choose_rate(disc: &Disc, requested: Option<u32>) -> Result<(u32, Option<String>), String> {
    let mut rates: Vec<(u8, u32)> = disc
        .clips
        .iter()
        .filter(|c| c.track > 0)
        .map(|c| (c.track, disc.source_info[c.source].rate))
        .collect();
    rates.sort_by_key(|r| r.1);
    let Some(&(_, lowest)) = rates.first() else {
        return Err("the album has no tracks".into());
    };
    match requested {
        Some(r) => {
            if !(8_000..=384_000).contains(&r) {
                return Err(format!(
                    "--rate {r}: give a sample rate in Hz, e.g. 44100, 48000 or 96000"
                ));
            }
            if let Some(&(t, src)) = rates.iter().find(|x| x.1 < r) {
                return Err(format!(
                    "--rate {r} would upsample track {t} (its source is {src} Hz): streaming masters are never upsampled; choose {src} or lower"
                ));
            }
            Ok((r, None))
        }
        None => {
            let highest = rates.last().map_or(lowest, |r| r.1);
            let note = (highest != lowest).then(|| {
                format!(
                    "the tracks' sources are at {lowest} to {highest} Hz: the streaming masters are at {lowest} Hz (never upsampled); --rate chooses another"
                )
            });
            Ok((lowest, note))
        }
    }
}

/// Makes the delivered samples from the rendered float: on the 24-bit
/// grid with TPDF dither where processing made the sample (an untouched
/// 24-bit source passes bit for bit), or float as rendered.
pub struct Quantizer {
    format: SampleFormat,
    rng: [Rng; 2],
    /// Samples that hit full scale (24-bit) or went above it (float).
    pub clipped: u64,
}

impl Quantizer {
    /// A quantizer with a fixed seed (builds repeat exactly).
    pub fn new(format: SampleFormat) -> Self {
        Quantizer {
            format,
            rng: [Rng::new(0x5eed_0024), Rng::new(0x5eed_0025)],
            clipped: 0,
        }
    }

    /// Replaces `x` with what the file will hold.
    pub fn apply(&mut self, ch: usize, x: &mut [f32], processed: &[bool]) {
        const SCALE: f64 = 8_388_608.0;
        for (v, &p) in x.iter_mut().zip(processed) {
            let s = rackd_dsp::sanitize(*v);
            match self.format {
                SampleFormat::Float32 => {
                    if s.abs() > 1.0 {
                        self.clipped += 1;
                    }
                    *v = s;
                }
                SampleFormat::Pcm24 => {
                    let y = s as f64 * SCALE;
                    let q = if !p && y == y.round() {
                        y
                    } else {
                        (y + self.rng[ch].tpdf()).round()
                    };
                    if !(-SCALE..SCALE).contains(&q) {
                        self.clipped += 1;
                    }
                    *v = (q.clamp(-SCALE, SCALE - 1.0) / SCALE) as f32;
                }
            }
        }
    }
}

/// The Description of a master's `bext`: `NN Title - Album - Artist`.
pub fn description(disc: &Disc, i: usize) -> String {
    let t = &disc.tracks[i];
    let mut parts = vec![file_stem(t)];
    if let Some(a) = disc.info.text.get(&Field::Title) {
        parts.push(a.clone());
    }
    if let Some(p) = t
        .text
        .get(&Field::Performer)
        .or(disc.info.text.get(&Field::Performer))
    {
        parts.push(p.clone());
    }
    parts.join(" - ")
}

/// `M=` of a coding history line.
fn mode(channels: usize) -> &'static str {
    if channels == 1 { "mono" } else { "stereo" }
}

/// The `bext` coding history of track `i`: its sources, then this build
/// (gain, fades, conversions).
pub fn coding_history(
    disc: &Disc,
    i: usize,
    rate: u32,
    format: SampleFormat,
    made_by: &str,
) -> Vec<String> {
    let number = disc.tracks[i].number;
    let mut lines = Vec::new();
    let mut steps = Vec::new();
    for c in disc.clips.iter().filter(|c| c.track == number) {
        let info = disc.source_info[c.source];
        let name = disc.sources[c.source]
            .path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        lines.push(format!(
            "A=PCM,F={},M={},T={}",
            info.rate,
            mode(info.channels),
            name
        ));
        if info.rate != rate {
            steps.push(format!("resampled {} to {rate} Hz", info.rate));
        }
        if info.channels == 1 {
            steps.push("dual mono".into());
        }
        if c.gain_db != 0.0 {
            steps.push(format!("gain {:+.2} dB", c.gain_db));
        }
        if let Some(f) = c.fade_in {
            steps.push(format!("fade-in {:.2} s {}", f.seconds, f.curve.name()));
        }
        if let Some(f) = c.fade_out {
            steps.push(format!("fade-out {:.2} s {}", f.seconds, f.curve.name()));
        }
    }
    if disc.is_segue(i) {
        steps.push(format!("segue from track {}", number - 1));
    }
    let w = match format {
        SampleFormat::Pcm24 => "W=24".to_string(),
        SampleFormat::Float32 => "W=32".to_string(),
    };
    let mut t = made_by.to_string();
    if !steps.is_empty() {
        t.push_str(": ");
        t.push_str(&steps.join(", "));
    }
    if format == SampleFormat::Pcm24 {
        t.push_str(", TPDF dither to 24 bit where processed");
    }
    lines.push(format!("A=PCM,F={rate},{w},M=stereo,T={t}"));
    lines
}

/// Title, artist, album and track number for `LIST`/`INFO`.
pub fn info_tags(disc: &Disc, i: usize) -> Vec<([u8; 4], String)> {
    let t = &disc.tracks[i];
    let mut v = Vec::new();
    if let Some(x) = t.text.get(&Field::Title) {
        v.push((*b"INAM", x.clone()));
    }
    if let Some(x) = t
        .text
        .get(&Field::Performer)
        .or(disc.info.text.get(&Field::Performer))
    {
        v.push((*b"IART", x.clone()));
    }
    if let Some(x) = disc.info.text.get(&Field::Title) {
        v.push((*b"IPRD", x.clone()));
    }
    v.push((*b"ITRK", t.number.to_string()));
    v
}

/// ReplayGain 2.0 tags (reference −18 LUFS), for FLAC when asked.
pub fn replaygain_tags(track: &Measure, album: &Measure) -> Vec<(String, String)> {
    let gain = |m: &Measure| format!("{:+.2} dB", -18.0 - m.integrated);
    let peak = |m: &Measure| format!("{:.6}", 10f64.powf(m.true_peak / 20.0));
    vec![
        ("REPLAYGAIN_REFERENCE_LOUDNESS".into(), "-18.00 LUFS".into()),
        ("REPLAYGAIN_TRACK_GAIN".into(), gain(track)),
        ("REPLAYGAIN_TRACK_PEAK".into(), peak(track)),
        ("REPLAYGAIN_ALBUM_GAIN".into(), gain(album)),
        ("REPLAYGAIN_ALBUM_PEAK".into(), peak(album)),
    ]
}

/// The Vorbis comments of track `i`'s FLAC.
pub fn flac_tags(disc: &Disc, i: usize) -> Vec<(String, String)> {
    let t = &disc.tracks[i];
    let mut v: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, x: Option<&String>| {
        if let Some(x) = x {
            v.push((k.into(), x.clone()));
        }
    };
    put("TITLE", t.text.get(&Field::Title));
    put(
        "ARTIST",
        t.text
            .get(&Field::Performer)
            .or(disc.info.text.get(&Field::Performer)),
    );
    put("ALBUM", disc.info.text.get(&Field::Title));
    put("ALBUMARTIST", disc.info.text.get(&Field::Performer));
    put("COMPOSER", t.text.get(&Field::Composer));
    put("DATE", disc.info.date.as_ref());
    v.push(("TRACKNUMBER".into(), t.number.to_string()));
    v.push(("TRACKTOTAL".into(), disc.tracks.len().to_string()));
    if let Some(isrc) = &t.isrc {
        v.push(("ISRC".into(), isrc.as_str().into()));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::album::{Clip, DiscInfo, Flags, Source, SourceInfo, SourceKind};
    use std::path::PathBuf;

    fn disc(rates: &[u32]) -> Disc {
        let mut clips = Vec::new();
        let mut tracks = Vec::new();
        let mut at = 150;
        for (i, &rate) in rates.iter().enumerate() {
            clips.push(Clip {
                source: i,
                from: 0,
                to: rate as u64 * 5,
                at,
                gain_db: 0.0,
                fade_in: None,
                fade_out: None,
                track: i as u8 + 1,
            });
            tracks.push(DiscTrack {
                number: i as u8 + 1,
                pregap: Some(at - 150),
                indexes: vec![at],
                isrc: None,
                flags: Flags::default(),
                text: Default::default(),
                line: None,
            });
            at += 375 + 150;
        }
        Disc {
            info: DiscInfo::default(),
            sources: rates
                .iter()
                .map(|_| Source {
                    path: PathBuf::from("a.wav"),
                    kind: SourceKind::File,
                    line: None,
                })
                .collect(),
            source_info: rates
                .iter()
                .map(|&rate| SourceInfo {
                    rate,
                    frames: rate as u64 * 5,
                    channels: 2,
                    exact16: false,
                    peak: 0.5,
                })
                .collect(),
            clips,
            tracks,
            lead_out: at - 150,
        }
    }

    #[test]
    fn spans_run_from_index_01_to_the_next_and_tile_the_album() {
        let d = disc(&[96_000, 96_000, 96_000]);
        let s = spans(&d, 96_000);
        assert_eq!(s[0].start, 150 * 1280);
        for w in s.windows(2) {
            assert_eq!(w[0].end, w[1].start, "no gap, no overlap");
        }
        assert_eq!(s[2].end, d.lead_out as u64 * 1280);
    }

    #[test]
    fn rate_is_the_sources_and_never_above() {
        let d = disc(&[96_000, 48_000]);
        let (r, note) = choose_rate(&d, None).unwrap();
        assert_eq!(r, 48_000);
        assert!(note.unwrap().contains("never upsampled"));
        assert_eq!(choose_rate(&d, Some(44_100)).unwrap().0, 44_100);
        let e = choose_rate(&d, Some(96_000)).unwrap_err();
        assert!(e.contains("upsample track 2"), "{e}");
        assert_eq!(choose_rate(&disc(&[88_200]), None).unwrap(), (88_200, None));
    }

    #[test]
    fn untouched_24_bit_samples_pass_and_processed_ones_are_dithered() {
        let mut q = Quantizer::new(SampleFormat::Pcm24);
        let grid = 1234.0f32 / 8_388_608.0;
        let mut x = [grid, grid, 0.1, 1.5];
        q.apply(0, &mut x, &[false, true, false, true]);
        assert_eq!(x[0], grid);
        assert!((x[1] - grid).abs() <= 2.0 / 8_388_608.0);
        assert_eq!(x[2] * 8_388_608.0, (x[2] * 8_388_608.0).round());
        assert_eq!(x[3], (8_388_607.0 / 8_388_608.0) as f32);
        assert_eq!(q.clipped, 1);
    }

    #[test]
    fn file_names_are_safe() {
        let mut t = disc(&[44_100]).tracks[0].clone();
        t.text.insert(Field::Title, "AC/DC: \"Live\"?".into());
        assert_eq!(file_stem(&t), "01 AC_DC_ _Live__");
        t.text.clear();
        assert_eq!(file_stem(&t), "01");
    }
}
