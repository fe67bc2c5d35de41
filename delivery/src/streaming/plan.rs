//! The album's loudness plan (`rackd album loudness`): the gain that brings
//! each track to a target, keeping the album's relative levels (one gain,
//! the loudest track reaches the target) or per track, refused when a gain
//! would push a true peak past the ceiling. Nothing is limited or
//! compressed: a plan that does not fit says how much headroom is missing.

use super::platforms::Programme;

/// How gains are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One gain for every track: the loudest track reaches the target.
    KeepRelative,
    /// Each track to the target on its own.
    PerTrack,
}

/// One track's line of the plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackPlan {
    /// Loudness now, LUFS.
    pub loudness: f64,
    /// True peak now, dBTP.
    pub true_peak: f64,
    /// Loudness minus the loudest track's, LU (0 for the loudest, negative below).
    pub to_loudest: f64,
    /// The gain to add, dB (0 for a silent track).
    pub gain: f64,
    /// Loudness after the gain, LUFS.
    pub loudness_after: f64,
    /// True peak after the gain, dBTP.
    pub true_peak_after: f64,
}

/// A gain the plan cannot give without passing the ceiling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Refusal {
    /// 1-based track number.
    pub track: usize,
    /// The gain the plan wanted, dB.
    pub gain: f64,
    /// The true peak it would give, dBTP.
    pub true_peak_after: f64,
    /// dB of headroom missing.
    pub missing: f64,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "track {}: {:+.2} dB would put its true peak at {:+.2} dBTP: {:.2} dB of headroom missing \
(lower the target by {:.2} LU, or bring the peak down: nothing is limited for you)",
            self.track, self.gain, self.true_peak_after, self.missing, self.missing
        )
    }
}

/// The plan for `tracks` at `target` LUFS with peaks at most `max_tp` dBTP.
pub fn plan(
    tracks: &[Programme],
    target: f64,
    max_tp: f64,
    mode: Mode,
) -> Result<Vec<TrackPlan>, Vec<Refusal>> {
    let loudest = tracks
        .iter()
        .map(|t| t.loudness)
        .filter(|l| l.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    let album_gain = if loudest.is_finite() {
        target - loudest
    } else {
        0.0
    };
    let mut refused = Vec::new();
    let lines: Vec<TrackPlan> = tracks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let gain = if !t.loudness.is_finite() {
                0.0
            } else {
                match mode {
                    Mode::KeepRelative => album_gain,
                    Mode::PerTrack => target - t.loudness,
                }
            };
            // Keep what is printed and written to two decimals, as the check.
            let gain = (gain * 100.0).round() / 100.0;
            let after = t.true_peak + gain;
            if t.loudness.is_finite() && after > max_tp + 1e-9 {
                refused.push(Refusal {
                    track: i + 1,
                    gain,
                    true_peak_after: after,
                    missing: after - max_tp,
                });
            }
            TrackPlan {
                loudness: t.loudness,
                true_peak: t.true_peak,
                to_loudest: t.loudness - loudest,
                gain,
                loudness_after: t.loudness + gain,
                true_peak_after: after,
            }
        })
        .collect();
    if refused.is_empty() {
        Ok(lines)
    } else {
        Err(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(loudness: f64, true_peak: f64) -> Programme {
        Programme {
            loudness,
            true_peak,
            sample_peak: true_peak,
        }
    }

    #[test]
    fn keep_relative_moves_every_track_by_the_loudest_tracks_gain() {
        let t = [p(-10.0, -1.0), p(-13.0, -3.0), p(-16.0, -6.0)];
        let lines = plan(&t, -14.0, -1.0, Mode::KeepRelative).unwrap();
        assert!(lines.iter().all(|l| (l.gain - -4.0).abs() < 1e-12));
        assert_eq!(
            lines.iter().map(|l| l.to_loudest).collect::<Vec<_>>(),
            [0.0, -3.0, -6.0]
        );
        let per = plan(&t, -14.0, -1.0, Mode::PerTrack).unwrap();
        assert_eq!(
            per.iter().map(|l| l.gain).collect::<Vec<_>>(),
            [-4.0, -1.0, 2.0]
        );
        assert!(per.iter().all(|l| (l.loudness_after - -14.0).abs() < 1e-12));
    }

    #[test]
    fn a_gain_past_the_ceiling_is_refused_with_the_missing_headroom() {
        let t = [p(-16.0, -2.0), p(-18.0, -1.5)];
        let r = plan(&t, -14.0, -1.0, Mode::PerTrack).unwrap_err();
        assert_eq!(r.len(), 2);
        assert!((r[0].missing - 1.0).abs() < 1e-9);
        assert!((r[1].missing - 3.5).abs() < 1e-9);
        assert!(r[1].to_string().contains("3.50 dB of headroom missing"));
        // Keep-relative: the loudest track gets +2 dB, its peak -2+2 = 0 → 1 dB short.
        let r = plan(&t, -14.0, -1.0, Mode::KeepRelative).unwrap_err();
        assert_eq!(r[0].track, 1);
    }

    #[test]
    fn a_silent_track_is_left_alone() {
        let t = [p(-12.0, -2.0), p(f64::NEG_INFINITY, f64::NEG_INFINITY)];
        let lines = plan(&t, -14.0, -1.0, Mode::PerTrack).unwrap();
        assert_eq!(lines[1].gain, 0.0);
    }
}
