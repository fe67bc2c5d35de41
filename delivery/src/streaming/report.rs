//! The delivery report (`report.json`, schema `rackd-delivery-report/1`,
//! and `report.html`): per track and for the album, loudness, LRA, max
//! momentary and short-term, true peak, PLR; per service the gain in track
//! and album mode and the true peak after it; the codec previews; and
//! warnings in plain words.

use super::Measure;
use super::codec::{Codec, Delay};
use super::overs::{Overs, recommended_ceiling};
use super::platforms::{Gain, PLATFORMS, Platform, TurnUp};
use serde_json::{Value, json};

/// A track quieter than the loudest by at least this is pointed out.
pub const QUIET_TRACK_LU: f64 = 2.0;
/// A master peaking above this gets the codec warning.
pub const CODEC_HEADROOM_DBTP: f64 = -1.0;

/// One track of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackLine {
    /// Track number.
    pub number: u8,
    /// Title, when given.
    pub title: Option<String>,
    /// The master's file name (in `streaming/`).
    pub file: String,
    /// ISRC.
    pub isrc: Option<String>,
    /// Where it starts, seconds from track 1's index 01.
    pub start: f64,
    /// Length, seconds.
    pub seconds: f64,
    /// As delivered.
    pub measure: Measure,
}

/// One codec preview of one track.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewLine {
    /// Track number.
    pub track: u8,
    /// The codec.
    pub codec: Codec,
    /// Delay removed.
    pub delay: Delay,
    /// Lag of the decoded audio against the master found by cross-correlation
    /// (0 = aligned), `None` when the checked stretch was silent.
    pub lag: Option<i64>,
    /// Overs and peaks of the decoded audio.
    pub overs: Overs,
    /// Loudness of the decoded audio.
    pub measure: Measure,
    /// The master's figures, for the changes.
    pub master: Measure,
    /// The kept preview files (in `previews/`), when asked.
    pub files: Vec<String>,
}

impl PreviewLine {
    /// dBTP that leaves no overs after this codec.
    pub fn ceiling(&self) -> f64 {
        recommended_ceiling(self.master.true_peak, self.measure.true_peak)
    }

    /// Overs of both kinds.
    pub fn overs_total(&self) -> u64 {
        self.overs.on_sample + self.overs.inter_sample
    }
}

/// The whole report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Album title.
    pub title: Option<String>,
    /// Album artist.
    pub performer: Option<String>,
    /// UPC/EAN.
    pub upc: Option<String>,
    /// Masters' rate, Hz.
    pub rate: u32,
    /// Masters' sample format (`24-bit PCM`, `32-bit float`).
    pub format: String,
    /// `rackd x.y.z`.
    pub made_by: String,
    /// When.
    pub date: String,
    /// Per track.
    pub tracks: Vec<TrackLine>,
    /// The album as one programme.
    pub album: Measure,
    /// Codec previews.
    pub previews: Vec<PreviewLine>,
    /// Notes from the build (rate chosen, hidden track not delivered…).
    pub notes: Vec<String>,
}

fn fmt_db(v: f64) -> String {
    if v.is_finite() {
        format!("{v:+.1}")
    } else {
        "-inf".into()
    }
}

fn measure_json(m: &Measure) -> Value {
    json!({
        "integrated_lufs": m.integrated,
        "lra_lu": m.lra,
        "max_momentary_lufs": m.max_momentary,
        "max_short_term_lufs": m.max_short_term,
        "true_peak_dbtp": m.true_peak,
        "sample_peak_dbfs": m.sample_peak,
        "plr_db": m.plr(),
    })
}

fn gain_json(g: &Gain) -> Value {
    json!({
        "gain_db": g.applied,
        "wanted_db": g.wanted,
        "loudness_lufs": g.loudness_after,
        "true_peak_dbtp": g.true_peak_after,
        "limited": g.limited,
    })
}

fn turn_up_text(p: &Platform) -> String {
    match p.turn_up {
        TurnUp::Never => "never".into(),
        TurnUp::WithinHeadroom { ceiling } => format!("within headroom to {ceiling} dBTP"),
        TurnUp::WithLimiter { limiter } => format!("always, limiter at {limiter} dBFS"),
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Report {
    /// Per service, per track: (track mode, album mode).
    pub fn gains(&self) -> Vec<(Platform, Vec<(Gain, Gain)>)> {
        let progs: Vec<_> = self.tracks.iter().map(|t| t.measure.programme()).collect();
        PLATFORMS
            .iter()
            .map(|p| {
                let album = p.album_gains(&progs);
                let lines = progs
                    .iter()
                    .zip(album)
                    .map(|(t, a)| (p.track_gain(t), a))
                    .collect();
                (*p, lines)
            })
            .collect()
    }

    /// What the engineer should know, in plain words.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        let gains = self.gains();
        let loudest = self
            .tracks
            .iter()
            .filter(|t| t.measure.integrated.is_finite())
            .max_by(|a, b| a.measure.integrated.total_cmp(&b.measure.integrated));
        if let Some(top) = loudest {
            for (i, t) in self.tracks.iter().enumerate() {
                let d = top.measure.integrated - t.measure.integrated;
                if !t.measure.integrated.is_finite() || d < QUIET_TRACK_LU {
                    continue;
                }
                let mut plays: Vec<String> = Vec::new();
                for (p, lines) in &gains {
                    if p.album_mode && ["tidal", "spotify", "apple-music"].contains(&p.id) {
                        plays.push(format!(
                            "{} plays it at {:.1} LUFS",
                            p.name, lines[i].1.loudness_after
                        ));
                    }
                }
                w.push(format!(
                    "track {} is {d:.1} LU quieter than the album (track {} is the loudest): in album mode {}",
                    t.number,
                    top.number,
                    plays.join(", ")
                ));
            }
        }
        for (p, lines) in &gains {
            for (t, (tr, al)) in self.tracks.iter().zip(lines) {
                for (mode, g) in [("track", tr), ("album", al)] {
                    if g.limited {
                        w.push(format!(
                            "{} raises track {} by {:.1} dB in {mode} mode into its limiter (peaks would reach {:+.1} dBFS)",
                            p.name,
                            t.number,
                            g.applied,
                            t.measure.sample_peak + g.applied
                        ));
                    }
                }
            }
        }
        for t in &self.tracks {
            if t.measure.true_peak > CODEC_HEADROOM_DBTP {
                w.push(format!(
                    "track {} peaks at {:+.2} dBTP: lossy encodes add inter-sample overs above {CODEC_HEADROOM_DBTP} dBTP{}",
                    t.number,
                    t.measure.true_peak,
                    if self.previews.is_empty() {
                        " (check with --previews)"
                    } else {
                        " (see the codec previews)"
                    }
                ));
            }
        }
        for p in &self.previews {
            if p.overs_total() > 0 {
                w.push(format!(
                    "{}: track {} has {} inter-sample and {} on-sample overs after encoding: set the limiter to {:.1} dBTP for no {} overs",
                    p.codec.name(),
                    p.track,
                    p.overs.inter_sample,
                    p.overs.on_sample,
                    p.ceiling(),
                    p.codec.name()
                ));
            }
            if let Some(lag) = p.lag.filter(|l| *l != 0) {
                w.push(format!(
                    "{}: track {}'s decoded preview is {lag} samples off the master after removing {} samples of delay",
                    p.codec.name(),
                    p.track,
                    p.delay.samples
                ));
            }
        }
        w
    }

    /// `rackd-delivery-report/1`.
    pub fn json(&self) -> Value {
        let gains = self.gains();
        let tracks: Vec<Value> = self
            .tracks
            .iter()
            .enumerate()
            .map(|(i, t)| {
                json!({
                    "number": t.number,
                    "title": t.title,
                    "file": t.file,
                    "isrc": t.isrc,
                    "start_seconds": t.start,
                    "seconds": t.seconds,
                    "measure": measure_json(&t.measure),
                    "platforms": gains.iter().map(|(p, lines)| json!({
                        "id": p.id,
                        "track_mode": gain_json(&lines[i].0),
                        "album_mode": gain_json(&lines[i].1),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let previews: Vec<Value> = self
            .previews
            .iter()
            .map(|p| {
                json!({
                    "track": p.track,
                    "codec": p.codec.id(),
                    "encoder": p.codec.encoder(),
                    "bitrate_kbps": p.codec.kbps(),
                    "rate": p.codec.rate(),
                    "delay_samples": p.delay.samples,
                    "delay": p.codec.delay_name(),
                    "delay_from_file": p.delay.from_file,
                    "alignment_lag": p.lag,
                    "true_peak_dbtp": p.measure.true_peak,
                    "sample_peak_dbfs": p.measure.sample_peak,
                    "integrated_lufs": p.measure.integrated,
                    "loudness_change_lu": p.measure.integrated - p.master.integrated,
                    "true_peak_change_db": p.measure.true_peak - p.master.true_peak,
                    "on_sample_overs": p.overs.on_sample,
                    "inter_sample_overs": p.overs.inter_sample,
                    "overs": p.overs.first.iter().map(|o| json!({
                        "time_seconds": o.sample as f64 / p.codec.rate() as f64,
                        "sample": o.sample,
                        "channel": if o.channel == 0 { "left" } else { "right" },
                        "level_dbfs": o.level_db,
                        "kind": if o.inter_sample { "inter-sample" } else { "on-sample" },
                    })).collect::<Vec<_>>(),
                    "recommended_ceiling_dbtp": p.ceiling(),
                    "files": p.files,
                })
            })
            .collect();
        json!({
            "schema": "rackd-delivery-report/1",
            "made_by": self.made_by,
            "date": self.date,
            "album": {
                "title": self.title,
                "performer": self.performer,
                "upc": self.upc,
                "rate": self.rate,
                "format": self.format,
                "measure": measure_json(&self.album),
            },
            "tracks": tracks,
            "platforms": PLATFORMS.iter().map(|p| json!({
                "id": p.id,
                "name": p.name,
                "target_lufs": p.target,
                "turns_up": turn_up_text(p),
                "album_mode": p.album_mode,
                "source": p.source,
            })).collect::<Vec<_>>(),
            "previews": previews,
            "notes": self.notes,
            "warnings": self.warnings(),
        })
    }

    /// A page for people.
    pub fn html(&self) -> String {
        let mut h = String::new();
        let title = self.title.clone().unwrap_or_else(|| "Album".into());
        h.push_str(&format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} — delivery report</title>\n\
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #bbb;padding:3px 8px;text-align:right}}\
th{{background:#eee}}td.l,th.l{{text-align:left}}.warn{{color:#a40}}small{{color:#555}}</style></head><body>\n",
            esc(&title)
        ));
        h.push_str(&format!(
            "<h1>{}</h1>\n<p>{}{} · masters {} Hz, {} · {} · {}</p>\n",
            esc(&title),
            self.performer.as_deref().map(esc).unwrap_or_default(),
            self.upc
                .as_deref()
                .map(|u| format!(" · UPC/EAN {u}"))
                .unwrap_or_default(),
            self.rate,
            esc(&self.format),
            esc(&self.made_by),
            esc(&self.date)
        ));
        let w = self.warnings();
        if !w.is_empty() || !self.notes.is_empty() {
            h.push_str("<h2>Warnings</h2>\n<ul>\n");
            for x in &w {
                h.push_str(&format!("<li class=\"warn\">{}</li>\n", esc(x)));
            }
            for x in &self.notes {
                h.push_str(&format!("<li>{}</li>\n", esc(x)));
            }
            h.push_str("</ul>\n");
        }
        h.push_str("<h2>Loudness</h2>\n<table>\n<tr><th>#</th><th class=\"l\">file</th><th class=\"l\">ISRC</th><th>length</th><th>integrated LUFS</th><th>LRA LU</th><th>max M LUFS</th><th>max S LUFS</th><th>true peak dBTP</th><th>PLR dB</th></tr>\n");
        let row = |h: &mut String, n: &str, file: &str, isrc: &str, secs: f64, m: &Measure| {
            h.push_str(&format!(
                "<tr><td>{n}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}:{:04.1}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td></tr>\n",
                esc(file),
                esc(isrc),
                (secs / 60.0) as u64,
                secs % 60.0,
                fmt_db(m.integrated),
                m.lra,
                fmt_db(m.max_momentary),
                fmt_db(m.max_short_term),
                fmt_db(m.true_peak),
                m.plr()
            ));
        };
        for t in &self.tracks {
            row(
                &mut h,
                &t.number.to_string(),
                &t.file,
                t.isrc.as_deref().unwrap_or("-"),
                t.seconds,
                &t.measure,
            );
        }
        let total: f64 = self.tracks.iter().map(|t| t.seconds).sum();
        row(&mut h, "album", "", "", total, &self.album);
        h.push_str("</table>\n<h2>What the services play</h2>\n<p><small>Gain each service applies, dB, and the loudness (LUFS) it plays at; track mode / album mode (album mode: one gain for the album, set by its loudest track).</small></p>\n<table>\n<tr><th class=\"l\">service</th><th>target</th>");
        for t in &self.tracks {
            h.push_str(&format!("<th>track {}</th>", t.number));
        }
        h.push_str("</tr>\n");
        for (p, lines) in self.gains() {
            h.push_str(&format!(
                "<tr><td class=\"l\">{}</td><td>{:.0}</td>",
                esc(p.name),
                p.target
            ));
            for (tr, al) in &lines {
                h.push_str(&format!(
                    "<td>{} → {} / {} → {}{}</td>",
                    fmt_db(tr.applied),
                    fmt_db(tr.loudness_after),
                    fmt_db(al.applied),
                    fmt_db(al.loudness_after),
                    if tr.limited || al.limited {
                        " (limiter)"
                    } else {
                        ""
                    }
                ));
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table>\n");
        if !self.previews.is_empty() {
            h.push_str("<h2>Codec previews</h2>\n<table>\n<tr><th>#</th><th class=\"l\">codec</th><th>true peak dBTP</th><th>change dB</th><th>on-sample overs</th><th>inter-sample overs</th><th>loudness change LU</th><th>delay removed</th><th>aligned</th><th>ceiling for no overs</th></tr>\n");
            for p in &self.previews {
                h.push_str(&format!(
                    "<tr><td>{}</td><td class=\"l\">{} {} kbit/s</td><td>{}</td><td>{:+.2}</td><td>{}</td><td>{}</td><td>{:+.2}</td><td>{}</td><td>{}</td><td>{:.1} dBTP</td></tr>\n",
                    p.track,
                    p.codec.name(),
                    p.codec.kbps(),
                    fmt_db(p.measure.true_peak),
                    p.measure.true_peak - p.master.true_peak,
                    p.overs.on_sample,
                    p.overs.inter_sample,
                    p.measure.integrated - p.master.integrated,
                    p.delay.samples,
                    p.lag.map_or("not checked".into(), |l| if l == 0 { "yes".into() } else { format!("{l} off") }),
                    p.ceiling()
                ));
            }
            h.push_str("</table>\n");
            for p in self.previews.iter().filter(|p| !p.overs.first.is_empty()) {
                h.push_str(&format!(
                    "<h3>Track {} {}: first overs</h3>\n<table><tr><th>time s</th><th class=\"l\">channel</th><th>level dBFS</th><th class=\"l\">kind</th></tr>\n",
                    p.track,
                    p.codec.name()
                ));
                for o in &p.overs.first {
                    h.push_str(&format!(
                        "<tr><td>{:.6}</td><td class=\"l\">{}</td><td>{:+.2}</td><td class=\"l\">{}</td></tr>\n",
                        o.sample as f64 / p.codec.rate() as f64,
                        if o.channel == 0 { "left" } else { "right" },
                        o.level_db,
                        if o.inter_sample { "inter-sample" } else { "on-sample" }
                    ));
                }
                h.push_str("</table>\n");
            }
        }
        h.push_str("<h2>Sources of the service figures</h2>\n<ul>\n");
        for p in PLATFORMS {
            h.push_str(&format!(
                "<li><b>{}</b>: {:.0} LUFS, turns up {}, {}. <small>{}</small></li>\n",
                esc(p.name),
                p.target,
                esc(&turn_up_text(&p)),
                if p.album_mode {
                    "album mode"
                } else {
                    "track mode only"
                },
                esc(p.source)
            ));
        }
        h.push_str("</ul>\n</body></html>\n");
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(integrated: f64, true_peak: f64) -> Measure {
        Measure {
            integrated,
            lra: 3.0,
            max_momentary: integrated + 3.0,
            max_short_term: integrated + 1.5,
            true_peak,
            sample_peak: true_peak - 0.2,
        }
    }

    fn report() -> Report {
        let tracks = [(-10.9, -0.5), (-11.0, -1.5), (-14.1, -3.0)]
            .iter()
            .enumerate()
            .map(|(i, &(l, p))| TrackLine {
                number: i as u8 + 1,
                title: Some(format!("T<{i}>")),
                file: format!("0{} T.wav", i + 1),
                isrc: None,
                start: 0.0,
                seconds: 200.0,
                measure: m(l, p),
            })
            .collect();
        Report {
            title: Some("A & B".into()),
            performer: None,
            upc: None,
            rate: 96_000,
            format: "24-bit PCM".into(),
            made_by: "rackd".into(),
            date: "2026-12-02".into(),
            tracks,
            album: m(-11.5, -0.5),
            previews: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn quiet_track_warning_in_the_issue_s_words() {
        let w = report().warnings();
        // 14.1 - 10.9 = 3.2 LU; Tidal's album gain is -14 - (-10.9) = -3.1 → -17.2.
        assert!(
            w.iter().any(
                |x| x.starts_with("track 3 is 3.2 LU quieter than the album")
                    && x.contains("Tidal plays it at -17.2 LUFS")
            ),
            "{w:?}"
        );
        assert!(
            w.iter()
                .any(|x| x.starts_with("track 1 peaks at -0.50 dBTP"))
        );
        assert!(!w.iter().any(|x| x.starts_with("track 2 is")));
    }

    #[test]
    fn json_and_html_carry_every_track_and_service() {
        let r = report();
        let j = r.json();
        assert_eq!(j["schema"], "rackd-delivery-report/1");
        assert_eq!(j["tracks"].as_array().unwrap().len(), 3);
        assert_eq!(
            j["tracks"][0]["platforms"].as_array().unwrap().len(),
            PLATFORMS.len()
        );
        let tidal = &j["tracks"][2]["platforms"][5];
        assert_eq!(tidal["id"], "tidal");
        assert!((tidal["album_mode"]["gain_db"].as_f64().unwrap() - -3.1).abs() < 1e-9);
        assert_eq!(tidal["track_mode"]["gain_db"].as_f64().unwrap(), 0.0);
        let html = r.html();
        assert!(html.contains("A &amp; B"));
        assert!(html.contains("01 T.wav") && html.contains("Tidal"));
    }
}
