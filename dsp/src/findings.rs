//! What a mastering engineer tells the mix engineer, found in the
//! measurements: each finding in plain words with its times and channel,
//! and whether the mix has to fix it or mastering will handle it.
//!
//! Input is the whole-file [`Report`], the 100 ms [`SeriesData`] and the
//! [`SpectrumData`]; nothing here reads audio.

use crate::analysis::Report;
use crate::series::{LOW_END_HZ, SeriesData};
use crate::spectrum::SpectrumData;

/// Who deals with a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remedy {
    /// Only a new mix (or bounce) fixes it.
    Mix,
    /// Mastering will take care of it.
    Mastering,
}

impl Remedy {
    /// `mix` or `mastering`.
    pub fn name(self) -> &'static str {
        match self {
            Remedy::Mix => "mix",
            Remedy::Mastering => "mastering",
        }
    }
}

/// The kinds of finding; [`Kind::name`] is what the JSON carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Runs of flat-topped samples on a channel.
    Clipping,
    /// True peak above 0 dBTP.
    TruePeakOver,
    /// True peak within 1 dB of full scale.
    Headroom,
    /// Samples at full scale without flat runs.
    FullScale,
    /// Correlation below 120 Hz under 0 for a while.
    LowEndOutOfPhase,
    /// Negative correlation over the whole file.
    OutOfPhase,
    /// Much loudness lost when folded to mono.
    MonoLoss,
    /// One side louder than the other.
    Balance,
    /// DC offset on a channel.
    DcOffset,
    /// Noise before the first note.
    HeadNoise,
    /// Noise after the last note.
    TailNoise,
    /// Low peak-to-loudness ratio.
    OverLimited,
    /// Louder than any streaming service plays.
    Loud,
    /// Little loudness range.
    NarrowRange,
    /// Fewer bits in use than the file stores.
    PaddedBits,
    /// Sample rate below 44.1 kHz.
    LowSampleRate,
    /// Spectrum ends in a brick wall: lower-rate or lossy source.
    ContentEdge,
    /// Nothing above the gate.
    Silent,
    /// Long digital silence at the start.
    HeadSilence,
    /// Long digital silence at the end.
    TailSilence,
}

impl Kind {
    /// Stable name (JSON `kind`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Clipping => "clipping",
            Kind::TruePeakOver => "true_peak_over",
            Kind::Headroom => "headroom",
            Kind::FullScale => "full_scale",
            Kind::LowEndOutOfPhase => "low_end_out_of_phase",
            Kind::OutOfPhase => "out_of_phase",
            Kind::MonoLoss => "mono_loss",
            Kind::Balance => "balance",
            Kind::DcOffset => "dc_offset",
            Kind::HeadNoise => "head_noise",
            Kind::TailNoise => "tail_noise",
            Kind::OverLimited => "over_limited",
            Kind::Loud => "loud",
            Kind::NarrowRange => "narrow_range",
            Kind::PaddedBits => "padded_bits",
            Kind::LowSampleRate => "low_sample_rate",
            Kind::ContentEdge => "content_edge",
            Kind::Silent => "silent",
            Kind::HeadSilence => "head_silence",
            Kind::TailSilence => "tail_silence",
        }
    }
}

/// One thing worth telling, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// What it is.
    pub kind: Kind,
    /// Who deals with it.
    pub remedy: Remedy,
    /// The channel it is on, when it is on one.
    pub channel: Option<usize>,
    /// Where it starts (or first happens), seconds.
    pub start_s: Option<f64>,
    /// Where it ends, seconds.
    pub end_s: Option<f64>,
    /// Every stretch it covers, seconds (for marking plots).
    pub spans: Vec<(f64, f64)>,
    /// The line for the engineer.
    pub text: String,
    /// What to do about it.
    pub advice: String,
}

impl Finding {
    fn new(kind: Kind, remedy: Remedy, text: String, advice: &str) -> Self {
        Finding {
            kind,
            remedy,
            channel: None,
            start_s: None,
            end_s: None,
            spans: Vec::new(),
            text,
            advice: advice.to_string(),
        }
    }

    fn on(mut self, channel: usize) -> Self {
        self.channel = Some(channel);
        self
    }

    fn at(mut self, start: f64, end: Option<f64>) -> Self {
        self.start_s = Some(start);
        self.end_s = end;
        self
    }
}

/// What the file says about itself, beyond its samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileFacts {
    /// Hz.
    pub sample_rate: u32,
    /// Bits per sample as stored, when stated.
    pub stored_bits: Option<u32>,
    /// Floating-point samples.
    pub float: bool,
}

/// Bits that carry signal, at most the stored depth; None for float data.
pub fn effective_bits(report: &Report, facts: &FileFacts) -> Option<u32> {
    if facts.float {
        return None;
    }
    match (report.effective_bits, facts.stored_bits) {
        (Some(e), Some(b)) => Some(e.min(b)),
        (e, _) => e,
    }
}

/// `L`, `R`, `mono` or `ch N`, as the findings name channels.
pub fn channel_label(ch: usize, channels: usize) -> String {
    match (channels, ch) {
        (1, _) => "mono".into(),
        (2, 0) => "L".into(),
        (2, 1) => "R".into(),
        _ => format!("ch {}", ch + 1),
    }
}

/// `m:ss.fff` with `decimals` digits of seconds.
pub fn timecode(secs: f64, decimals: usize) -> String {
    let scale = 10f64.powi(decimals as i32);
    let total = (secs.max(0.0) * scale).round() / scale;
    let m = (total / 60.0).floor();
    let s = total - m * 60.0;
    let width = if decimals > 0 { decimals + 3 } else { 2 };
    format!("{m:.0}:{s:0width$.decimals$}")
}

fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

/// Noise floors below this (dither, digital silence) are not called noise, dBFS.
const NOISE_FLOOR_DBFS: f64 = -80.0;
/// A note rises this far above the noise floor, dB.
const NOTE_RISE_DB: f64 = 12.0;
/// The noise must be this far below the programme, dB.
const NOISE_BELOW_DB: f64 = 20.0;
/// Shortest noise stretch reported, seconds.
const MIN_NOISE_S: f64 = 0.3;
/// Shortest out-of-phase low end reported, seconds.
const MIN_PHASE_S: f64 = 1.0;
/// Low end quieter than this is not judged, dBFS.
const LOW_END_FLOOR_DBFS: f64 = -50.0;
/// Highest sample rate the lower-rate check names: 44.1 and 48 kHz projects.
const PROJECT_RATES: [f64; 2] = [44_100.0, 48_000.0];

/// Everything worth telling about one file.
pub fn detect(
    report: &Report,
    series: &SeriesData,
    spectrum: &SpectrumData,
    facts: &FileFacts,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let channels = report.channels;
    let label = |ch| channel_label(ch, channels);
    let hop = series.hop_s();
    let scan = &report.scan;
    let tp = db(scan.true_peak.iter().fold(0f32, |m, &v| m.max(v)) as f64);
    let sp = db(scan.sample_peak.iter().fold(0f32, |m, &v| m.max(v)) as f64);
    let secs = scan.frames as f64 / scan.sample_rate;
    let sr = scan.sample_rate;

    for (ch, c) in series.clips.iter().enumerate() {
        if c.runs == 0 {
            continue;
        }
        let first = c.first.unwrap_or(0) as f64 / sr;
        let longest = c.longest_at as f64 / sr;
        let f = Finding::new(
            Kind::Clipping,
            Remedy::Mix,
            format!(
                "clipping: {} run{} ({} samples), first at {} ({}), longest {} samples at {}",
                c.runs,
                if c.runs == 1 { "" } else { "s" },
                c.samples,
                timecode(first, 3),
                label(ch),
                c.longest,
                timecode(longest, 3)
            ),
            "Clipped in the mix: bring the mix bus (or the clipping plug-in, \
             converter or bounce) down and bounce again; mastering cannot \
             rebuild flattened peaks.",
        );
        out.push(f.on(ch).at(first, None));
    }

    if tp > 0.0 {
        out.push(true_peak_overs(series, tp, channels));
    } else if tp > -1.0 {
        out.push(Finding::new(
            Kind::Headroom,
            Remedy::Mastering,
            format!(
                "true peak {tp:+.1} dBTP: less than 1 dB headroom; lossy encoding (AAC, MP3, Opus) may clip"
            ),
            "Mastering sets the final true-peak ceiling.",
        ));
    }
    if sp >= -0.01 && series.clips.iter().all(|c| c.runs == 0) {
        out.push(Finding::new(
            Kind::FullScale,
            Remedy::Mix,
            format!("sample peak {sp:+.2} dBFS: at full scale"),
            "Leave headroom in the mix (peaks around −6 to −3 dBFS); \
             mastering sets the final level.",
        ));
    }

    if channels == 2 {
        if let Some(f) = low_end_phase(series) {
            out.push(f);
        }
        if let Some(c) = report.correlation
            && c < 0.0
        {
            out.push(Finding::new(
                Kind::OutOfPhase,
                Remedy::Mix,
                format!(
                    "correlation {c:+.2} over the file: out-of-phase content; the mix will fall apart in mono"
                ),
                "Check the polarity of stereo-miked sources and wideners.",
            ));
        }
        if let Some(loss) = report.mono_loss
            && loss > 3.0
        {
            out.push(Finding::new(
                Kind::MonoLoss,
                Remedy::Mix,
                format!(
                    "folded to mono it loses {loss:.1} LU: check phase and wide stereo effects"
                ),
                "Check the mix in mono; narrow or fix the elements that vanish.",
            ));
        }
        if let Some(b) = report.balance_db
            && b.abs() > 1.0
        {
            let side = if b > 0.0 { "left" } else { "right" };
            out.push(Finding::new(
                Kind::Balance,
                Remedy::Mastering,
                format!("{side} is {:.1} dB louder than the other side", b.abs()),
                "Mastering can re-balance the sides; say if it is meant.",
            ));
        }
    }

    for ch in 0..channels {
        let dc = report.dc_offset[ch];
        if dc.abs() > 0.001 {
            let f = Finding::new(
                Kind::DcOffset,
                Remedy::Mix,
                format!(
                    "DC offset {:.1} dBFS on {}: high-pass it before it eats headroom",
                    db(dc.abs()),
                    label(ch)
                ),
                "Find the track or plug-in that adds DC (a faulty converter or \
                 saturator): the mix-bus compressor has been reacting to it.",
            );
            out.push(f.on(ch));
        }
    }

    out.extend(noise(series, hop));

    let i = scan.integrated;
    if i.is_finite() {
        if report.plr < 8.0 {
            let plr = series.short_term_plr();
            let lowest = plr
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .min_by(|a, b| a.1.total_cmp(b.1));
            let mut text = format!(
                "over-limited: PLR {:.1} dB, heavily limited, little transient life left",
                report.plr
            );
            let mut f_at = None;
            if let Some((k, v)) = lowest {
                let t = series.start_s(k) + hop;
                text.push_str(&format!(
                    " (short-term PLR down to {v:.1} dB at {})",
                    timecode(t, 1)
                ));
                f_at = Some(t);
            }
            let mut f = Finding::new(
                Kind::OverLimited,
                Remedy::Mix,
                text,
                "Send a version without the mix-bus limiter or clipper; \
                 mastering can add loudness but cannot undo limiting.",
            );
            if let Some(t) = f_at {
                f = f.at(t, None);
            }
            out.push(f);
        }
        if i > -9.0 {
            out.push(Finding::new(
                Kind::Loud,
                Remedy::Mastering,
                format!(
                    "integrated {i:.1} LUFS: every streaming service turns this down ({:.1} dB on Spotify)",
                    -14.0 - i
                ),
                "Mastering chooses the loudness for the release.",
            ));
        }
        if scan.lra < 3.0 && secs > 30.0 {
            out.push(Finding::new(
                Kind::NarrowRange,
                Remedy::Mix,
                format!(
                    "loudness range {:.1} LU: very little macro-dynamics",
                    scan.lra
                ),
                "Let sections differ in level; automation of the mix bus \
                 or a lighter bus compressor keeps the song's shape.",
            ));
        }
    } else {
        out.push(Finding::new(
            Kind::Silent,
            Remedy::Mix,
            "no audio above the −70 LUFS gate: the file is silent".into(),
            "Bounce again: the file is empty.",
        ));
    }

    if let (Some(e), Some(bits)) = (effective_bits(report, facts), facts.stored_bits)
        && e < bits
        && e > 0
    {
        out.push(Finding::new(
            Kind::PaddedBits,
            Remedy::Mix,
            format!(
                "{bits}-bit file carries only {e} bits: it was bounced or truncated at {e} bit"
            ),
            "Bounce again at 24-bit (or 32-bit float), without dither.",
        ));
    }
    if facts.sample_rate < 44_100 {
        out.push(Finding::new(
            Kind::LowSampleRate,
            Remedy::Mix,
            format!("sample rate {} Hz: below CD quality", facts.sample_rate),
            "Bounce at the session's sample rate (44.1 kHz or higher).",
        ));
    }
    if let Some(edge) = spectrum.content_edge() {
        out.push(content_edge(edge, sr));
    }
    if report.head_silence > 2.0 && i.is_finite() {
        out.push(
            Finding::new(
                Kind::HeadSilence,
                Remedy::Mastering,
                format!(
                    "{:.1} s of silence before the music starts",
                    report.head_silence
                ),
                "Mastering trims the start.",
            )
            .at(0.0, Some(report.head_silence)),
        );
    }
    if report.tail_silence > 5.0 && i.is_finite() {
        out.push(
            Finding::new(
                Kind::TailSilence,
                Remedy::Mastering,
                format!(
                    "{:.1} s of silence after the music ends",
                    report.tail_silence
                ),
                "Mastering trims the end.",
            )
            .at(secs - report.tail_silence, Some(secs)),
        );
    }
    out
}

/// Windows above 0 dBTP, grouped into places.
fn true_peak_overs(series: &SeriesData, tp: f64, channels: usize) -> Finding {
    let hop = series.hop_s();
    let mut places = Vec::new();
    let mut first: Option<(usize, usize)> = None;
    let mut highest = (0usize, 0usize, 0f32);
    let mut open: Option<usize> = None;
    for i in 0..series.len() {
        let mut over = false;
        for ch in 0..series.channels {
            let v = series.true_peak[ch][i];
            if v > 1.0 {
                over = true;
                first.get_or_insert((i, ch));
                if v > highest.2 {
                    highest = (i, ch, v);
                }
            }
        }
        match (over, open) {
            (true, None) => open = Some(i),
            (false, Some(s)) => {
                places.push((series.start_s(s), series.start_s(i)));
                open = None;
            }
            _ => {}
        }
    }
    if let Some(s) = open {
        places.push((series.start_s(s), series.start_s(series.len())));
    }
    let mut text = format!("true peak {tp:+.1} dBTP: inter-sample overs after encoding");
    if let Some((i, ch)) = first {
        text.push_str(&format!(
            " in {} place{}, first at {} ({}), highest {:+.1} dBTP at {} ({})",
            places.len(),
            if places.len() == 1 { "" } else { "s" },
            timecode(series.start_s(i), 1),
            channel_label(ch, channels),
            db(highest.2 as f64),
            timecode(series.start_s(highest.0), 1),
            channel_label(highest.1, channels)
        ));
    }
    text.push_str("; converters and lossy encoders will clip");
    let mut f = Finding::new(
        Kind::TruePeakOver,
        Remedy::Mastering,
        text,
        "Mastering's true-peak limiter will hold the ceiling (−1 dBTP for streaming).",
    );
    if let Some((i, ch)) = first {
        f = f
            .on(ch)
            .at(series.start_s(i), Some(series.start_s(i) + hop));
    }
    f.spans = places;
    f
}

/// Stretches where the low end's correlation is under 0 while there is low end.
fn low_end_phase(series: &SeriesData) -> Option<Finding> {
    let floor = 10f64.powf(LOW_END_FLOOR_DBFS / 20.0);
    let bad: Vec<bool> = (0..series.len())
        .map(|i| series.low_correlation[i] < 0.0 && series.low_rms[i] > floor)
        .collect();
    let min_len = (MIN_PHASE_S / series.hop_s()).round() as usize;
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bad.len() {
        if !bad[i] {
            i += 1;
            continue;
        }
        let start = i;
        // Allow gaps of up to two windows (a note ending, a kick between).
        let mut end = i;
        let mut j = i;
        while j < bad.len() && j <= end + 3 {
            if bad[j] {
                end = j;
            }
            j += 1;
        }
        if end + 1 - start >= min_len {
            spans.push((start, end + 1));
        }
        i = end + 1;
    }
    let &(s, e) = spans.first()?;
    let lowest = spans
        .iter()
        .flat_map(|&(a, b)| series.low_correlation[a..b].iter().copied())
        .fold(f64::INFINITY, f64::min);
    let secs: Vec<(f64, f64)> = spans
        .iter()
        .map(|&(a, b)| {
            (
                series.start_s(a),
                series
                    .start_s(b)
                    .min(series.frames as f64 / series.sample_rate),
            )
        })
        .collect();
    let list: Vec<String> = secs
        .iter()
        .take(4)
        .map(|&(a, b)| format!("{} to {}", timecode(a, 1), timecode(b, 1)))
        .collect();
    let more = if secs.len() > 4 {
        format!(" and {} more", secs.len() - 4)
    } else {
        String::new()
    };
    let mut f = Finding::new(
        Kind::LowEndOutOfPhase,
        Remedy::Mix,
        format!(
            "low end out of phase: correlation below {LOW_END_HZ:.0} Hz under 0 from {}{more} (lowest {lowest:+.2})",
            list.join(", ")
        ),
        "Check the polarity and timing of the bass, kick and any stereo-miked \
         low source; keep the low end mono. Mastering can mono the lows, but \
         the cancelled bass will not come back.",
    )
    .at(series.start_s(s), Some(series.start_s(e)));
    f.spans = secs;
    Some(f)
}

/// Noise before the first note and after the last.
fn noise(series: &SeriesData, hop: f64) -> Vec<Finding> {
    let n = series.len();
    let mut out = Vec::new();
    if n < 4 {
        return out;
    }
    // Sine-referenced RMS, loudest channel, per window.
    let level: Vec<f64> = (0..n)
        .map(|i| {
            let r = series.rms.iter().fold(0f32, |m, c| m.max(c[i]));
            db(r as f64 * std::f64::consts::SQRT_2)
        })
        .collect();
    let silent = |i: usize| series.peak.iter().all(|c| c[i] == 0.0);
    let mut sorted: Vec<f64> = level.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return out;
    }
    sorted.sort_by(f64::total_cmp);
    let loud = sorted[(sorted.len() - 1) * 95 / 100];
    let power_mean = |r: std::ops::Range<usize>| {
        let len = r.len().max(1) as f64;
        10.0 * (r.map(|i| 10f64.powf(level[i] / 10.0)).sum::<f64>() / len).log10()
    };
    let median3 = |a: usize| {
        let mut v = [level[a], level[a + 1], level[a + 2]];
        v.sort_by(f64::total_cmp);
        v[1]
    };
    let is_noise = |floor: f64| floor >= NOISE_FLOOR_DBFS && floor < loud - NOISE_BELOW_DB;
    let min_windows = (MIN_NOISE_S / hop).round() as usize;

    // Head: from the first non-silent window to the first note.
    if let Some(s0) = (0..n).find(|&i| !silent(i))
        && s0 + 3 <= n
    {
        let floor = median3(s0);
        if is_noise(floor)
            && let Some(note) = (s0..n).find(|&i| level[i] > floor + NOTE_RISE_DB)
            && note - s0 >= min_windows
        {
            let lvl = power_mean(s0..note);
            let (a, b) = (series.start_s(s0), series.start_s(note));
            out.push(
                Finding::new(
                    Kind::HeadNoise,
                    Remedy::Mix,
                    format!(
                        "noise before the first note: {lvl:.0} dBFS for {:.1} s ({} to {})",
                        b - a,
                        timecode(a, 1),
                        timecode(b, 1)
                    ),
                    "Clean up the start (mute or gate what hisses or hums before \
                     the music); mastering can fade it, but not take it out from \
                     under the music.",
                )
                .at(a, Some(b)),
            );
        }
    }
    // Tail: from the last note to the last non-silent window.
    if let Some(e0) = (0..n).rev().find(|&i| !silent(i))
        && e0 >= 2
    {
        let floor = median3(e0 - 2);
        if is_noise(floor)
            && let Some(note) = (0..=e0).rev().find(|&i| level[i] > floor + NOTE_RISE_DB)
            && e0 - note >= min_windows
        {
            let lvl = power_mean(note + 1..e0 + 1);
            let end = (series.frames as f64 / series.sample_rate).min(series.start_s(e0 + 1));
            let a = series.start_s(note + 1);
            out.push(
                Finding::new(
                    Kind::TailNoise,
                    Remedy::Mix,
                    format!(
                        "noise after the last note: {lvl:.0} dBFS for {:.1} s ({} to {})",
                        end - a,
                        timecode(a, 1),
                        timecode(end, 1)
                    ),
                    "Clean up the end (mute or gate what is left running after \
                     the music); noise in the tail cannot be taken out without \
                     touching the reverb.",
                )
                .at(a, Some(end)),
            );
        }
    }
    out
}

/// A brick-wall edge in the spectrum, in words.
fn content_edge(edge: f64, sr: f64) -> Finding {
    let khz = |f: f64| {
        let k = f / 1000.0;
        if (k - k.round()).abs() < 0.05 {
            format!("{k:.0}")
        } else {
            format!("{k:.1}")
        }
    };
    // The project rate whose Nyquist the edge sits just under.
    let project = PROJECT_RATES
        .iter()
        .copied()
        .find(|&r| r < sr * 0.99 && edge >= 0.88 * r / 2.0 && edge <= 1.02 * r / 2.0);
    match project {
        Some(r) => Finding::new(
            Kind::ContentEdge,
            Remedy::Mix,
            format!(
                "sample rate {} kHz, project likely {} kHz: nothing above {} kHz",
                khz(sr),
                khz(r),
                khz(edge)
            ),
            "Bounce at the session's own sample rate: converting up adds nothing \
             and converting twice costs quality.",
        ),
        None => Finding::new(
            Kind::ContentEdge,
            Remedy::Mix,
            format!(
                "nothing above {} kHz: a lossy-coded (MP3, AAC) or low-passed source in the mix",
                khz(edge)
            ),
            "Find the track that came from an MP3/AAC (or the steep low-pass) \
             and replace it with the original.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timecodes_read_like_a_clock() {
        assert_eq!(timecode(83.412, 3), "1:23.412");
        assert_eq!(timecode(42.0, 1), "0:42.0");
        assert_eq!(timecode(59.96, 1), "1:00.0");
        assert_eq!(timecode(7.0, 0), "0:07");
        assert_eq!(timecode(121.007, 3), "2:01.007");
    }

    #[test]
    fn edges_name_the_project_rate_or_a_lossy_source() {
        assert!(
            content_edge(21_800.0, 96_000.0)
                .text
                .contains("project likely 44.1 kHz")
        );
        assert!(
            content_edge(23_500.0, 96_000.0)
                .text
                .contains("project likely 48 kHz")
        );
        assert!(
            content_edge(21_600.0, 48_000.0)
                .text
                .contains("sample rate 48 kHz, project likely 44.1 kHz")
        );
        assert!(
            content_edge(16_000.0, 44_100.0)
                .text
                .contains("nothing above 16 kHz: a lossy")
        );
    }
}
