//! Overs in decoded audio, as Apple's `afclip` reports them: on-sample
//! overs (a decoded float sample above full scale) and inter-sample overs
//! (the reconstructed waveform above full scale between samples whose
//! values are not), counted per channel position, with the first few listed
//! by time, channel and level; plus the true and sample peaks.
//!
//! The reconstruction is BS.1770's 4× true-peak interpolator
//! (`rackd_dsp::truepeak`). Blocks whose true peak stays at or below full
//! scale are passed at the meter's speed; only blocks with an over are
//! walked point by point to find where.

use rackd_dsp::truepeak::{DELAY, TAPS, TruePeak};

/// How many overs are listed one by one.
pub const LISTED: usize = 20;

/// One over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Over {
    /// Sample position (the sample, or the one before the reconstructed peak).
    pub sample: u64,
    /// 0 left, 1 right.
    pub channel: u8,
    /// Level, dBFS (above 0).
    pub level_db: f64,
    /// Between samples (else a sample itself is over).
    pub inter_sample: bool,
}

/// What was found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Overs {
    /// Samples above full scale.
    pub on_sample: u64,
    /// Positions between samples where the reconstruction passes full scale.
    pub inter_sample: u64,
    /// The first [`LISTED`] overs in time order.
    pub first: Vec<Over>,
    /// Highest true peak, linear.
    pub true_peak: f32,
    /// Highest sample peak, linear.
    pub sample_peak: f32,
}

struct Channel {
    fast: TruePeak,
    /// The last TAPS - 1 samples of the previous block, oldest first.
    history: Vec<f32>,
}

/// Finds overs in stereo audio fed block by block.
pub struct OverDetector {
    ch: [Channel; 2],
    pos: u64,
    found: Overs,
    scratch: Vec<f32>,
}

impl Default for OverDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl OverDetector {
    /// A detector at sample 0.
    pub fn new() -> Self {
        let ch = || Channel {
            fast: TruePeak::new(),
            history: vec![0.0; TAPS - 1],
        };
        OverDetector {
            ch: [ch(), ch()],
            pos: 0,
            found: Overs::default(),
            scratch: Vec::new(),
        }
    }

    /// Feeds planar stereo.
    pub fn push(&mut self, left: &[f32], right: &[f32]) {
        let n = left.len().min(right.len());
        let mut events: Vec<Over> = Vec::new();
        let want = LISTED.saturating_sub(self.found.first.len());
        for (c, data) in [&left[..n], &right[..n]].into_iter().enumerate() {
            let sp = data.iter().fold(0f32, |m, x| m.max(x.abs()));
            self.found.sample_peak = self.found.sample_peak.max(sp);
            let ch = &mut self.ch[c];
            // Floor at full scale so no chunk with an over is skipped.
            let tp = ch.fast.block_max(data, self.found.true_peak.min(1.0));
            self.found.true_peak = self.found.true_peak.max(tp);
            for (i, x) in data.iter().enumerate() {
                if x.abs() > 1.0 {
                    self.found.on_sample += 1;
                    if events.len() < want * 2 {
                        events.push(Over {
                            sample: self.pos + i as u64,
                            channel: c as u8,
                            level_db: 20.0 * (x.abs() as f64).log10(),
                            inter_sample: false,
                        });
                    }
                }
            }
            if tp > 1.0 {
                // Positions bs-DELAY .. be-DELAY, from the history and this block.
                self.scratch.clear();
                self.scratch.extend_from_slice(&ch.history);
                self.scratch.extend_from_slice(data);
                let mut slow = TruePeak::new();
                let h = ch.history.len();
                for (j, &x) in self.scratch.iter().enumerate() {
                    let v = slow.push(x);
                    // A full window from here on; it evaluates position j - DELAY.
                    if j < h {
                        continue;
                    }
                    let p = j - DELAY;
                    if v > 1.0
                        && self.scratch[p].abs() <= 1.0
                        && self.scratch.get(p + 1).is_none_or(|y| y.abs() <= 1.0)
                    {
                        self.found.inter_sample += 1;
                        if events.len() < want * 2 {
                            events.push(Over {
                                sample: (self.pos + p as u64).saturating_sub(h as u64),
                                channel: c as u8,
                                level_db: 20.0 * (v as f64).log10(),
                                inter_sample: true,
                            });
                        }
                    }
                }
            }
            let keep = TAPS - 1;
            if data.len() >= keep {
                ch.history.clear();
                ch.history.extend_from_slice(&data[data.len() - keep..]);
            } else {
                ch.history.drain(..data.len());
                ch.history.extend_from_slice(data);
            }
        }
        events.sort_by_key(|e| (e.sample, e.channel));
        self.found.first.extend(events.into_iter().take(want));
        self.pos += n as u64;
    }

    /// Samples fed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// What was found.
    pub fn finish(self) -> Overs {
        self.found
    }
}

/// The limiter ceiling that leaves no overs after a codec: the master's
/// true peak minus what the codec added, rounded down to 0.1 dB (never above 0).
pub fn recommended_ceiling(master_true_peak_db: f64, decoded_true_peak_db: f64) -> f64 {
    let added = (decoded_true_peak_db - master_true_peak_db).max(0.0);
    let c = (-added * 10.0).floor() / 10.0;
    if c == 0.0 { 0.0 } else { c }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(l: &[f32], r: &[f32], block: usize) -> Overs {
        let mut d = OverDetector::new();
        for (a, b) in l.chunks(block).zip(r.chunks(block)) {
            d.push(a, b);
        }
        d.finish()
    }

    #[test]
    fn a_sample_over_full_scale_is_found_where_it_is() {
        let mut l = vec![0.0f32; 10_000];
        l[7_777] = 1.25;
        let r = vec![0.0f32; 10_000];
        for block in [64, 1000, 4096] {
            let o = run(&l, &r, block);
            assert_eq!(o.on_sample, 1, "block {block}");
            assert_eq!(o.first[0].sample, 7_777);
            assert!(!o.first[0].inter_sample);
            assert!((o.first[0].level_db - 1.938).abs() < 0.01);
        }
    }

    #[test]
    fn a_quarter_rate_sine_peaking_between_samples() {
        // fs/4 at 45°: samples at ±0.99·sin(45°)·√2... every sample is
        // A/√2·√2? Build samples ±a at 45° phase: the waveform peaks at a·√2.
        let a = 0.8f32;
        let l: Vec<f32> = (0..8_192)
            .map(|i| if (i / 2) % 2 == 0 { a } else { -a })
            .collect();
        let r = vec![0.0f32; l.len()];
        let o = run(&l, &r, 1000);
        // 0.8·√2 = 1.131: above full scale between every pair of equal samples.
        assert_eq!(o.on_sample, 0);
        assert!(o.inter_sample > 3_000, "{}", o.inter_sample);
        assert!(o.first.iter().all(|e| e.inter_sample && e.channel == 0));
        assert!((20.0 * (o.true_peak as f64).log10() - 1.07).abs() < 0.1);
        // The same at half the level has none.
        let q: Vec<f32> = l.iter().map(|x| x * 0.5).collect();
        let o = run(&q, &r, 1000);
        assert_eq!(o.inter_sample + o.on_sample, 0);
        assert!(o.first.is_empty());
        // Block size does not change the count.
        assert_eq!(
            run(&l, &r, 4096).inter_sample,
            run(&l, &r, 333).inter_sample
        );
    }

    #[test]
    fn ceiling_from_the_added_peak() {
        assert_eq!(recommended_ceiling(-0.2, 1.13), -1.4);
        assert_eq!(recommended_ceiling(-1.0, -1.5), 0.0);
    }
}
