//! Offline analysis of a whole programme: what `rackd analyze` reports.
//!
//! [`Scan`] is the loudness core (BS.1770 integrated, LRA, max M/S, sample and
//! true peak) on its own so it can be benchmarked against other meters;
//! [`Analyzer`] adds the mix checks a mastering engineer asks for.

use crate::loudness::{GateStore, Loudness, MAX_CHANNELS, combined_integrated, energy_to_lufs};
use crate::truepeak::TruePeak;

/// Converts a linear amplitude to dB (−inf for 0).
fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

/// Loudness, loudness range and peaks of a programme, fed block by block.
pub struct Scan {
    loudness: Loudness,
    tp: Vec<TruePeak>,
    true_peak: Vec<f32>,
    sample_peak: Vec<f32>,
    frames: u64,
    sample_rate: f64,
}

/// What [`Scan`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanResult {
    /// Integrated loudness, LUFS (−inf if everything was below the gate).
    pub integrated: f64,
    /// Loudness range, LU.
    pub lra: f64,
    /// Highest momentary loudness (10 ms hop), LUFS.
    pub max_momentary: f64,
    /// Highest short-term loudness (10 ms hop), LUFS.
    pub max_short_term: f64,
    /// Sample peak per channel, linear.
    pub sample_peak: Vec<f32>,
    /// True peak per channel (BS.1770 Annex 2, 4×), linear.
    pub true_peak: Vec<f32>,
    /// Frames measured.
    pub frames: u64,
    /// Sample rate, Hz.
    pub sample_rate: f64,
}

impl Scan {
    /// A scan for `channels` planar channels at `sample_rate`.
    pub fn new(sample_rate: f64, channels: usize) -> Self {
        let channels = channels.clamp(1, MAX_CHANNELS);
        Scan {
            loudness: Loudness::exact(sample_rate, channels),
            tp: (0..channels).map(|_| TruePeak::new()).collect(),
            true_peak: vec![0.0; channels],
            sample_peak: vec![0.0; channels],
            frames: 0,
            sample_rate,
        }
    }

    /// Feeds planar audio (one slice per channel, equally long).
    pub fn push(&mut self, input: &[&[f32]]) {
        self.push_folding(input, None);
    }

    /// [`Scan::push`] for stereo that also measures the fold-down
    /// `gain · (L + R)` into `fold` (see [`Loudness::process_with_fold`]).
    fn push_folding(&mut self, input: &[&[f32]], fold: Option<(&mut Loudness, f64)>) {
        match (fold, input) {
            (Some((fold, gain)), &[l, r]) => {
                self.loudness.process_with_fold([l, r], fold, gain);
            }
            _ => {
                self.loudness.process(input);
            }
        }
        for (ch, data) in input.iter().enumerate().take(self.sample_peak.len()) {
            if let Some(tp) = self.tp.get_mut(ch) {
                let floor = self.true_peak[ch];
                let m = tp.block_max(data, floor);
                self.true_peak[ch] = self.true_peak[ch].max(m);
            }
            let sp = crate::truepeak::sample_peak(data);
            self.sample_peak[ch] = self.sample_peak[ch].max(sp);
        }
        self.frames += input.first().map_or(0, |c| c.len()) as u64;
    }

    /// The integrated-loudness gating blocks, for album loudness.
    pub fn gate_blocks(&self) -> &GateStore {
        self.loudness.gate_blocks()
    }

    /// The results so far.
    pub fn result(&mut self) -> ScanResult {
        ScanResult {
            integrated: self.loudness.integrated(),
            lra: self.loudness.loudness_range(),
            max_momentary: self.loudness.max_momentary(),
            max_short_term: self.loudness.max_short_term(),
            sample_peak: self.sample_peak.clone(),
            true_peak: self.true_peak.clone(),
            frames: self.frames,
            sample_rate: self.sample_rate,
        }
    }
}

/// A streaming service's loudness normalization, as far as it is published.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Platform {
    /// Service name.
    pub name: &'static str,
    /// Reference loudness, LUFS.
    pub target: f64,
    /// Whether quiet masters are turned up (else only loud ones are turned down).
    pub turns_up: bool,
    /// When turning up: the true peak the service will not push past, dBTP.
    pub up_peak_limit: f64,
}

/// Services in the streaming preview.
pub const PLATFORMS: [Platform; 6] = [
    Platform {
        name: "Spotify",
        target: -14.0,
        turns_up: true,
        up_peak_limit: -1.0,
    },
    Platform {
        name: "Apple Music",
        target: -16.0,
        turns_up: true,
        up_peak_limit: -1.0,
    },
    Platform {
        name: "YouTube",
        target: -14.0,
        turns_up: false,
        up_peak_limit: -1.0,
    },
    Platform {
        name: "Tidal",
        target: -14.0,
        turns_up: false,
        up_peak_limit: -1.0,
    },
    Platform {
        name: "Amazon Music",
        target: -14.0,
        turns_up: false,
        up_peak_limit: -1.0,
    },
    Platform {
        name: "Deezer",
        target: -15.0,
        turns_up: false,
        up_peak_limit: -1.0,
    },
];

/// What one service would do to this master.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    /// The service.
    pub platform: Platform,
    /// Gain it would need to reach its target, dB.
    pub wanted_gain: f64,
    /// Gain it applies, dB (0 when it only turns down and the master is quiet).
    pub applied_gain: f64,
    /// True peak after that gain, dBTP.
    pub true_peak_after: f64,
    /// Loudness after that gain, LUFS.
    pub loudness_after: f64,
}

/// The streaming preview for a master of `integrated` LUFS and `true_peak` dBTP.
pub fn streaming_preview(integrated: f64, true_peak: f64) -> Vec<Preview> {
    PLATFORMS
        .iter()
        .map(|p| {
            let wanted = p.target - integrated;
            let applied = if !integrated.is_finite() {
                0.0
            } else if wanted <= 0.0 {
                wanted
            } else if p.turns_up {
                wanted.min((p.up_peak_limit - true_peak).max(0.0))
            } else {
                0.0
            };
            Preview {
                platform: *p,
                wanted_gain: wanted,
                applied_gain: applied,
                true_peak_after: true_peak + applied,
                loudness_after: integrated + applied,
            }
        })
        .collect()
}

/// A run of this many identical loud samples is a flat top: clipped at full
/// scale, or clipped below it by a converter, plug-in or bounce.
pub const FLAT_RUN: u32 = 3;
/// Flat tops only count above this magnitude (−6 dBFS).
pub const FLAT_LEVEL: f32 = 0.5;
/// Silence threshold for head and tail, dBFS.
pub const SILENCE_DBFS: f64 = -60.0;

#[derive(Debug, Clone, Default)]
struct ChannelStats {
    sum: f64,
    sum_sq: f64,
    run: u32,
    last: f32,
    clipped_runs: u64,
    clipped_samples: u64,
    longest_run: u32,
    bits_mask: u32,
    not_24bit: bool,
}

impl ChannelStats {
    /// Which of the 24 bits the samples use; any sample between 24-bit
    /// steps marks the data as more than 24 bits (float).
    fn bits(&mut self, data: &[f32]) {
        if self.not_24bit {
            return;
        }
        let (mut mask, mut between) = (0u32, false);
        for &x in data {
            let scaled = x * 8_388_608.0;
            // A whole number of 24-bit steps (`fract() == 0`, without the call).
            let inside = scaled.abs() <= 8_388_608.0;
            // SAFETY: in range (anything else, NaN too, is 0 here), so the
            // cast needs no saturation and the loop stays on the vector unit.
            let whole = unsafe { (if inside { scaled } else { 0.0 }).to_int_unchecked::<i32>() };
            let step = inside && whole as f32 == scaled;
            mask |= if step { whole as u32 } else { 0 };
            between |= !step;
        }
        self.bits_mask |= mask;
        self.not_24bit |= between;
    }

    /// Runs of identical loud samples (clipped or brick-walled stretches).
    fn flat_runs(&mut self, data: &[f32]) {
        let Some(&last) = data.last() else {
            return;
        };
        if crate::truepeak::sample_peak(data) < FLAT_LEVEL {
            // Nothing loud (NaN is not loud either): every sample starts a
            // run of one.
            self.run = 1;
            self.last = last;
            return;
        }
        for &x in data {
            let a = x.abs();
            if a >= FLAT_LEVEL && x == self.last {
                self.run += 1;
            } else {
                self.run = 1;
            }
            if a >= FLAT_LEVEL && self.run == FLAT_RUN {
                self.clipped_runs += 1;
                self.clipped_samples += FLAT_RUN as u64;
            } else if a >= FLAT_LEVEL && self.run > FLAT_RUN {
                self.clipped_samples += 1;
            }
            if self.run >= FLAT_RUN {
                self.longest_run = self.longest_run.max(self.run);
            }
            self.last = x;
        }
    }
}

/// Everything `rackd analyze` reports for one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Loudness and peaks.
    pub scan: ScanResult,
    /// Channels.
    pub channels: usize,
    /// Peak-to-loudness ratio: true peak minus integrated loudness, dB.
    pub plr: f64,
    /// DC offset per channel (mean), linear.
    pub dc_offset: Vec<f64>,
    /// RMS per channel, dBFS (sine = −3 dBFS at full scale).
    pub rms_dbfs: Vec<f64>,
    /// Runs of clipped samples per channel (≥ 3 identical samples above −6 dBFS).
    pub clipped_runs: Vec<u64>,
    /// Samples in those runs per channel.
    pub clipped_samples: Vec<u64>,
    /// Longest such run over all channels, samples.
    pub longest_clip_run: u32,
    /// Correlation of L and R over the whole file (stereo), −1..1.
    pub correlation: Option<f64>,
    /// Integrated loudness lost when L and R are folded to mono, LU (positive = quieter).
    pub mono_loss: Option<f64>,
    /// Left minus right RMS, dB (stereo).
    pub balance_db: Option<f64>,
    /// Silence before the first sample above −60 dBFS, seconds.
    pub head_silence: f64,
    /// Silence after the last sample above −60 dBFS, seconds.
    pub tail_silence: f64,
    /// Bits that carry information (e.g. 16 in a padded 24-bit file); None for float data.
    pub effective_bits: Option<u32>,
    /// The streaming preview.
    pub preview: Vec<Preview>,
}

/// A whole-programme analyzer: feed planar blocks, then call [`Analyzer::finish`].
pub struct Analyzer {
    scan: Scan,
    /// Loudness of the mono fold-down (stereo only), fed by the scan.
    mono: Option<Loudness>,
    stats: Vec<ChannelStats>,
    cross: f64,
    first_loud: Option<u64>,
    last_loud: u64,
    frames: u64,
    silence: f32,
}

impl Analyzer {
    /// An analyzer for `channels` channels at `sample_rate`.
    pub fn new(sample_rate: f64, channels: usize) -> Self {
        let channels = channels.clamp(1, MAX_CHANNELS);
        Analyzer {
            scan: Scan::new(sample_rate, channels),
            mono: (channels == 2).then(|| Loudness::exact(sample_rate, 1)),
            stats: vec![ChannelStats::default(); channels],
            cross: 0.0,
            first_loud: None,
            last_loud: 0,
            frames: 0,
            silence: 10f32.powf(SILENCE_DBFS as f32 / 20.0),
        }
    }

    /// Feeds planar audio (one slice per channel, equally long).
    pub fn push(&mut self, input: &[&[f32]]) {
        let n = input.iter().map(|c| c.len()).min().unwrap_or(0);
        let input: Vec<&[f32]> = input.iter().map(|c| &c[..n]).collect();
        // (L+R)/2 on both speakers carries the energy of (L+R)/√2 on one.
        let fold = std::f64::consts::FRAC_1_SQRT_2;
        self.scan
            .push_folding(&input, self.mono.as_mut().map(|m| (m, fold)));
        let chans = input.len().min(self.stats.len());
        if chans == 2 {
            // Both channels and their product in one pass: the sums run side
            // by side, each in sample order.
            let [a, b] = &mut self.stats[..] else {
                unreachable!("two channels")
            };
            let (mut s0, mut q0, mut s1, mut q1) = (a.sum, a.sum_sq, b.sum, b.sum_sq);
            let mut cross = 0.0;
            for (&l, &r) in input[0].iter().zip(input[1]) {
                let (l, r) = (l as f64, r as f64);
                s0 += l;
                q0 += l * l;
                s1 += r;
                q1 += r * r;
                cross += l * r;
            }
            (a.sum, a.sum_sq, b.sum, b.sum_sq) = (s0, q0, s1, q1);
            self.cross += cross;
        } else {
            for (st, data) in self.stats.iter_mut().zip(&input) {
                for &x in data.iter() {
                    let xd = x as f64;
                    st.sum += xd;
                    st.sum_sq += xd * xd;
                }
            }
        }
        for (st, data) in self.stats.iter_mut().zip(&input) {
            st.bits(data);
            st.flat_runs(data);
        }
        // Only the first loud frame ever and the last one matter.
        let loud = |i: usize| input.iter().any(|c| c[i].abs() > self.silence);
        if self.first_loud.is_none()
            && let Some(i) = (0..n).find(|&i| loud(i))
        {
            self.first_loud = Some(self.frames + i as u64);
        }
        if let Some(i) = (0..n).rev().find(|&i| loud(i)) {
            self.last_loud = self.frames + i as u64;
        }
        self.frames += n as u64;
    }

    /// The integrated-loudness gating blocks, for album loudness.
    pub fn gate_blocks(&self) -> &GateStore {
        self.scan.gate_blocks()
    }

    /// The programme meter's readings for a [`crate::series::Series`] built
    /// with [`crate::series::Series::without_loudness`], as
    /// [`Loudness::record_every`] gives them; call before the first block.
    pub fn record_loudness_every(&mut self, steps: u64) {
        self.scan.loudness.record_every(steps);
    }

    /// What [`Analyzer::record_loudness_every`] kept.
    pub fn recorded_loudness(&self) -> &[[f64; 2]] {
        self.scan.loudness.recorded()
    }

    /// An analyzer that leaves the true peak to a [`crate::series::Series`]
    /// fed the same audio: the largest of its windows' true peaks is the
    /// programme's, computed once. Finish it with
    /// [`Analyzer::finish_with_true_peak`].
    pub fn without_true_peak(sample_rate: f64, channels: usize) -> Self {
        let mut a = Analyzer::new(sample_rate, channels);
        a.scan.tp.clear();
        a
    }

    /// [`Analyzer::finish`] with the true peak per channel measured
    /// elsewhere (for an analyzer built [`Analyzer::without_true_peak`]).
    pub fn finish_with_true_peak(&mut self, true_peak: &[f32]) -> Report {
        for (mine, &theirs) in self.scan.true_peak.iter_mut().zip(true_peak) {
            *mine = mine.max(theirs);
        }
        self.finish()
    }

    /// Finishes the analysis.
    pub fn finish(&mut self) -> Report {
        let scan = self.scan.result();
        let channels = self.stats.len();
        let frames = self.frames.max(1) as f64;
        let tp = scan.true_peak.iter().fold(0f32, |m, &v| m.max(v)) as f64;
        let tp_db = db(tp);
        let plr = tp_db - scan.integrated;
        let rms: Vec<f64> = self
            .stats
            .iter()
            .map(|s| (s.sum_sq / frames).sqrt())
            .collect();
        let rms_dbfs = rms
            .iter()
            .map(|&r| db(r * std::f64::consts::SQRT_2))
            .collect();
        let stereo = channels == 2;
        let correlation = stereo.then(|| {
            let d = (self.stats[0].sum_sq * self.stats[1].sum_sq).sqrt();
            if d > 0.0 { self.cross / d } else { 0.0 }
        });
        let mono_loss = self
            .mono
            .as_ref()
            .map(|m| scan.integrated - m.integrated())
            .filter(|v| v.is_finite());
        let balance_db = stereo
            .then(|| db(rms[0]) - db(rms[1]))
            .filter(|v| v.is_finite());
        let sr = scan.sample_rate;
        let (head, tail) = match self.first_loud {
            Some(first) => (
                first as f64 / sr,
                (self.frames - 1 - self.last_loud) as f64 / sr,
            ),
            None => (self.frames as f64 / sr, self.frames as f64 / sr),
        };
        let effective_bits = if self.stats.iter().any(|s| s.not_24bit) {
            None
        } else {
            let mask = self.stats.iter().fold(0u32, |m, s| m | s.bits_mask);
            Some(if mask == 0 {
                0
            } else {
                24 - mask.trailing_zeros().min(24)
            })
        };
        Report {
            preview: streaming_preview(scan.integrated, tp_db),
            channels,
            plr,
            dc_offset: self.stats.iter().map(|s| s.sum / frames).collect(),
            rms_dbfs,
            clipped_runs: self.stats.iter().map(|s| s.clipped_runs).collect(),
            clipped_samples: self.stats.iter().map(|s| s.clipped_samples).collect(),
            longest_clip_run: self.stats.iter().map(|s| s.longest_run).max().unwrap_or(0),
            correlation,
            mono_loss,
            balance_db,
            head_silence: head,
            tail_silence: tail,
            effective_bits,
            scan,
        }
    }
}

/// Integrated loudness of several programmes played as one album.
pub fn album_integrated(blocks: &[&GateStore]) -> f64 {
    combined_integrated(blocks)
}

/// Loudness of a mean-square energy, re-exported for callers that sum energies.
pub fn lufs(energy: f64) -> f64 {
    energy_to_lufs(energy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(fs: f64, f: f64, amp: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (amp * (2.0 * std::f64::consts::PI * f * i as f64 / fs).sin()) as f32)
            .collect()
    }

    #[test]
    fn bit_use_of_odd_samples_is_the_plain_formulas() {
        let step = 1.0 / 8_388_608.0;
        let odd = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            step,
            -step,
            3.0 * step,
            0.5 * step,
            1.0 + step,
            2.0,
            -2.0,
            0.999_999_9,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e-30,
        ];
        for &x in &odd {
            // The plain formulas: a whole number of 24-bit steps within full
            // scale, and the bits of that number.
            let scaled = x * 8_388_608.0;
            let whole = scaled.abs() <= 8_388_608.0 && scaled.fract() == 0.0;
            let mut st = ChannelStats::default();
            st.bits(&[x]);
            assert_eq!(st.not_24bit, !whole, "{x}");
            assert_eq!(
                st.bits_mask,
                if whole { scaled as i32 as u32 } else { 0 },
                "{x}"
            );
        }
    }

    #[test]
    fn mix_checks_on_a_known_signal() {
        let fs = 48_000.0;
        let mut l = vec![0.0f32; 48_000];
        l.extend(sine(fs, 1000.0, 0.5, 480_000));
        l.extend(vec![0.0; 24_000]);
        // Right: same tone, polarity inverted, 6 dB lower, plus DC.
        let mut r: Vec<f32> = l.iter().map(|x| -x * 0.5 + 0.0005).collect();
        // Three clipped samples in a row on the right.
        r[100_000] = 1.0;
        r[100_001] = 1.0;
        r[100_002] = 1.0;
        // Reduce to 16-bit values.
        for x in l.iter_mut().chain(r.iter_mut()) {
            *x = (*x * 32768.0).round() / 32768.0;
        }
        let mut a = Analyzer::new(fs, 2);
        for (cl, cr) in l.chunks(4096).zip(r.chunks(4096)) {
            a.push(&[cl, cr]);
        }
        let rep = a.finish();
        assert_eq!(rep.effective_bits, Some(16));
        assert!(
            (rep.head_silence - 1.0).abs() < 0.001,
            "{}",
            rep.head_silence
        );
        assert!(
            (rep.tail_silence - 0.5).abs() < 0.001,
            "{}",
            rep.tail_silence
        );
        assert!(rep.correlation.unwrap() < -0.99);
        assert!((rep.balance_db.unwrap() - 6.02).abs() < 0.05);
        assert!((rep.dc_offset[1] - 0.0005).abs() < 5e-5);
        assert_eq!(rep.clipped_runs, vec![0, 1]);
        // Out of phase: mono fold loses most of the level.
        assert!(rep.mono_loss.unwrap() > 5.0);
        assert!((rep.scan.sample_peak[1] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn preview_turns_down_loud_masters_and_only_some_turn_up() {
        let loud = streaming_preview(-8.0, 0.5);
        let spotify = &loud[0];
        assert!((spotify.applied_gain - -6.0).abs() < 1e-9);
        assert!((spotify.true_peak_after - -5.5).abs() < 1e-9);
        let quiet = streaming_preview(-20.0, -6.0);
        // Spotify turns up 6 dB, but only to −1 dBTP → 5 dB.
        assert!((quiet[0].applied_gain - 5.0).abs() < 1e-9);
        // YouTube never turns up.
        assert_eq!(quiet[2].applied_gain, 0.0);
        assert!((quiet[2].wanted_gain - 6.0).abs() < 1e-9);
    }
}
