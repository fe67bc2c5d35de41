//! What each streaming service does to a master's level: its reference
//! loudness, whether it turns quiet masters up (and how far), and whether it
//! plays albums in album mode. Each row says where its figures come from;
//! where a service publishes nothing, the row says who measured it.
//!
//! Track mode: every track is brought to the target on its own. Album mode:
//! one gain for the whole album, set by its loudest track, so the tracks keep
//! their relative levels (a quiet ballad stays quieter than the single).

/// How a service treats a master quieter than its target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TurnUp {
    /// Quiet masters play as they are: the service only turns loud ones down.
    Never,
    /// Turned up only as far as the true peak stays at or below `ceiling` dBTP.
    WithinHeadroom {
        /// dBTP the raised master may reach.
        ceiling: f64,
    },
    /// Turned up to the target whatever the peak; a limiter catches sample
    /// values above `limiter` dBFS (the master's peaks get limited).
    WithLimiter {
        /// dBFS (sample values) where the limiter engages.
        limiter: f64,
    },
}

/// One service (or one setting of a service).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Platform {
    /// Short name for JSON and the command line (`spotify`, `apple-music`…).
    pub id: &'static str,
    /// The name people use.
    pub name: &'static str,
    /// Reference loudness, LUFS (BS.1770 integrated).
    pub target: f64,
    /// What happens below the target.
    pub turn_up: TurnUp,
    /// Whether an album played in order gets one gain for all its tracks.
    pub album_mode: bool,
    /// Where the figures come from.
    pub source: &'static str,
}

const SPOTIFY: &str = "Spotify for Artists, \"Loudness normalization\" (support.spotify.com/us/artists/article/loudness-normalization): \
-14 LUFS (ITU 1770) by default, Loud -11, Quiet -19; positive gain only while 1 dB of true-peak headroom is left, except Loud, \
which is set regardless of true peak with a limiter engaging at -1 dB sample values (5 ms attack, 100 ms decay); \
an entire album is normalized at once, tracks individually on shuffle and in playlists";

/// The services in the report, in the order it lists them.
pub const PLATFORMS: [Platform; 8] = [
    Platform {
        id: "spotify",
        name: "Spotify (normal)",
        target: -14.0,
        turn_up: TurnUp::WithinHeadroom { ceiling: -1.0 },
        album_mode: true,
        source: SPOTIFY,
    },
    Platform {
        id: "spotify-loud",
        name: "Spotify (loud)",
        target: -11.0,
        turn_up: TurnUp::WithLimiter { limiter: -1.0 },
        album_mode: true,
        source: SPOTIFY,
    },
    Platform {
        id: "spotify-quiet",
        name: "Spotify (quiet)",
        target: -19.0,
        turn_up: TurnUp::WithinHeadroom { ceiling: -1.0 },
        album_mode: true,
        source: SPOTIFY,
    },
    Platform {
        id: "apple-music",
        name: "Apple Music (Sound Check)",
        target: -16.0,
        turn_up: TurnUp::WithinHeadroom { ceiling: -1.0 },
        album_mode: true,
        source: "Apple publishes no figure. -16 LUFS as reported when Sound Check became the default (Production Expert, \
\"Apple choose -16LUFS loudness level for Apple Music\", following AES TD1008); quiet masters raised within the peak headroom and \
albums kept at their relative levels as measured by Ian Shepherd (productionadvice.co.uk/sound-check-album-mode)",
    },
    Platform {
        id: "youtube",
        name: "YouTube",
        target: -14.0,
        turn_up: TurnUp::Never,
        album_mode: false,
        source: "YouTube publishes no figure. -14 LUFS, loud uploads turned down only, each video on its own, \
as read from \"Stats for nerds\" (content loudness) by Ian Shepherd (productionadvice.co.uk/youtube-music)",
    },
    Platform {
        id: "tidal",
        name: "Tidal",
        target: -14.0,
        turn_up: TurnUp::Never,
        album_mode: true,
        source: "Tidal to MeterPlugs (meterplugs.com/blog/2016/10/07/tidal-adds-loudness-normalization): -14 LUFS by ITU-R BS.1770-4, \
music below -14 LUFS is not raised; album normalization after Eelco Grimm's study for Tidal of 4.2 million albums \
(melodiefabriek.com/sound-tech/examined-4-2-million-albums-loudness)",
    },
    Platform {
        id: "amazon-music",
        name: "Amazon Music",
        target: -14.0,
        turn_up: TurnUp::Never,
        album_mode: false,
        source: "Amazon publishes no figure. -14 LUFS, loud masters turned down, per track, as measured by third parties \
(apu.software/amazon-music-loudness, which also advises -2 dBTP)",
    },
    Platform {
        id: "deezer",
        name: "Deezer",
        target: -15.0,
        turn_up: TurnUp::Never,
        album_mode: false,
        source: "Deezer publishes no figure. -15 LUFS as reported by Production Expert (\"Deezer normalise to -15LUFS\") and \
apu.software/deezer-loudness-target; loud masters turned down, per track",
    },
];

/// A programme as the services measure it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Programme {
    /// Integrated loudness, LUFS (−inf when silent).
    pub loudness: f64,
    /// Highest true peak over the channels, dBTP.
    pub true_peak: f64,
    /// Highest sample peak, dBFS.
    pub sample_peak: f64,
}

/// What one service does to one programme.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gain {
    /// The gain that would reach the target, dB.
    pub wanted: f64,
    /// The gain the service applies, dB.
    pub applied: f64,
    /// Loudness it plays at, LUFS.
    pub loudness_after: f64,
    /// True peak after the gain (before any limiter), dBTP.
    pub true_peak_after: f64,
    /// The service's limiter works on it (Spotify Loud).
    pub limited: bool,
}

impl Platform {
    /// The gain for a loudness, given the true peak that bounds a raise.
    fn applied(&self, loudness: f64, true_peak: f64) -> (f64, f64) {
        if !loudness.is_finite() {
            return (0.0, 0.0);
        }
        let wanted = self.target - loudness;
        let applied = if wanted <= 0.0 {
            wanted
        } else {
            match self.turn_up {
                TurnUp::Never => 0.0,
                TurnUp::WithinHeadroom { ceiling } => wanted.min((ceiling - true_peak).max(0.0)),
                TurnUp::WithLimiter { .. } => wanted,
            }
        };
        (wanted, applied)
    }

    fn result(&self, p: &Programme, wanted: f64, applied: f64) -> Gain {
        let limited = match self.turn_up {
            TurnUp::WithLimiter { limiter } => applied > 0.0 && p.sample_peak + applied > limiter,
            _ => false,
        };
        Gain {
            wanted,
            applied,
            loudness_after: p.loudness + applied,
            true_peak_after: p.true_peak + applied,
            limited,
        }
    }

    /// Track mode: the programme brought to the target on its own.
    pub fn track_gain(&self, p: &Programme) -> Gain {
        let (wanted, applied) = self.applied(p.loudness, p.true_peak);
        self.result(p, wanted, applied)
    }

    /// Album mode for every track: one gain, set by the loudest track, a
    /// raise bounded by the album's highest true peak. A service without
    /// album mode plays each track in track mode.
    pub fn album_gains(&self, tracks: &[Programme]) -> Vec<Gain> {
        if !self.album_mode {
            return tracks.iter().map(|t| self.track_gain(t)).collect();
        }
        let loudest = tracks
            .iter()
            .map(|t| t.loudness)
            .filter(|l| l.is_finite())
            .fold(f64::NEG_INFINITY, f64::max);
        let peak = tracks
            .iter()
            .map(|t| t.true_peak)
            .fold(f64::NEG_INFINITY, f64::max);
        let (_, applied) = self.applied(loudest, peak);
        tracks
            .iter()
            .map(|t| {
                let wanted = if t.loudness.is_finite() {
                    self.target - t.loudness
                } else {
                    0.0
                };
                self.result(t, wanted, applied)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(loudness: f64, true_peak: f64) -> Programme {
        Programme {
            loudness,
            true_peak,
            sample_peak: true_peak - 0.1,
        }
    }

    fn by_id(id: &str) -> Platform {
        *PLATFORMS.iter().find(|p| p.id == id).unwrap()
    }

    #[test]
    fn spotify_example_from_its_page() {
        // "If a track loudness level is -20 dB LUFS, and its True Peak maximum
        // is -5 dB FS, we only lift the track up to -16 dB LUFS."
        let g = by_id("spotify").track_gain(&p(-20.0, -5.0));
        assert!((g.loudness_after - -16.0).abs() < 1e-9);
        assert!((g.applied - 4.0).abs() < 1e-9 && (g.wanted - 6.0).abs() < 1e-9);
        // Loud: to -11 regardless of peak, into the limiter.
        let g = by_id("spotify-loud").track_gain(&p(-20.0, -5.0));
        assert!((g.loudness_after - -11.0).abs() < 1e-9 && g.limited);
    }

    #[test]
    fn album_mode_keeps_relative_levels_and_track_mode_does_not() {
        let tracks = [p(-10.0, -1.0), p(-13.0, -4.0), p(-16.0, -7.0)];
        let tidal = by_id("tidal");
        let album: Vec<f64> = tidal
            .album_gains(&tracks)
            .iter()
            .map(|g| g.applied)
            .collect();
        assert_eq!(album, [-4.0, -4.0, -4.0]);
        let track: Vec<f64> = tracks.iter().map(|t| tidal.track_gain(t).applied).collect();
        assert_eq!(track, [-4.0, -1.0, 0.0]);
        // Apple raises in track mode within headroom: -16 → -16 needs 0 dB.
        let apple = by_id("apple-music");
        let q = apple.track_gain(&p(-20.0, -2.5));
        assert!((q.applied - 1.5).abs() < 1e-9);
        // YouTube has no album mode: album gains are track gains.
        let yt = by_id("youtube");
        let a: Vec<f64> = yt.album_gains(&tracks).iter().map(|g| g.applied).collect();
        assert_eq!(a, [-4.0, -1.0, 0.0]);
        // A quiet album raised in album mode is bounded by its highest peak.
        let quiet = [p(-20.0, -3.0), p(-24.0, -9.0)];
        let s = by_id("spotify").album_gains(&quiet);
        assert!(s.iter().all(|g| (g.applied - 2.0).abs() < 1e-9));
    }

    #[test]
    fn every_row_names_its_source() {
        for p in PLATFORMS {
            assert!(p.source.len() > 40, "{}", p.id);
            assert!((-24.0..=-8.0).contains(&p.target));
        }
    }
}
