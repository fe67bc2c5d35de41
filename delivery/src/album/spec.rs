//! `album.toml`: the album as the engineer writes it. Every problem is
//! reported at once, each with its line, like the config.
//!
//! ```toml
//! [disc]
//! title = "Night Drive"            # CD-Text: title performer songwriter composer arranger message
//! performer = "The Examples"
//! genre = "Pop"                    # a CD-Text genre name, or any text
//! upc = "4006381333931"            # UPC/EAN-13 (a 12-digit UPC-A gets a leading 0)
//! master_id = "ND-2026-01"
//! isrc = "US-S1Z-26-00001"         # first ISRC; tracks without one count up from it
//! gap = 2.0                        # default silence before tracks 2.. (seconds or "MM:SS:FF")
//! first_pause = 2.0                # track 1's pregap (at least 2 s)
//! cd_text = true                   # default: on when any text is given
//! language = "en"
//! dither = "tpdf"                  # or "shaped" (noise-shaped TPDF)
//!
//! [hidden]                         # audio before track 1 (HTOA), in track 1's index 00
//! source = "hidden.wav"
//!
//! [[track]]
//! source = "01 intro.flac"         # WAV, FLAC or AIFF, any rate and depth, relative to this file
//! title = "Intro"
//! trim_start = 0.25                # cut from the start / end of the source
//! trim_end = "00:01:00"
//! fade_in = 0.5                    # seconds (linear), or { length = 0.5, curve = "s-curve" }
//! fade_out = { length = 3, curve = "logarithmic" }   # linear, equal-power, logarithmic, s-curve
//! gain = -1.5                      # dB
//! gap = 2.0                        # silence before this track
//! crossfade = 4.0                  # or { length = 4, curve = "equal-power" }: segue from the previous track
//! indexes = [30.0, "01:15:00"]     # index 02, 03, … from the track's start
//! isrc = "USS1Z2600002"
//! pre_emphasis = false
//! copy = false                     # digital copy permitted
//! scms = false
//! ```

use super::{
    Clip, Diagnostic, Disc, DiscInfo, DiscTrack, Fade, Flags, Source, SourceInfo, SourceKind,
};
use crate::album::Curve;
use crate::cdtext::{self, Field, Fields};
use crate::codes::{Isrc, Upc};
use crate::frames::{self, FRAMES_PER_SECOND};
use std::path::Path;
use toml_edit::{ImDocument, Item, Table, Value};

/// A time as written: seconds, or CD frames (`"MM:SS:FF"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Time {
    /// Seconds.
    Seconds(f64),
    /// CD frames.
    Frames(u32),
}

impl Time {
    /// Whole CD frames, rounded to the nearest.
    pub fn frames(self) -> u32 {
        match self {
            Time::Seconds(s) => frames::from_seconds(s),
            Time::Frames(f) => f,
        }
    }

    /// Samples at `rate`.
    pub fn samples(self, rate: u32) -> u64 {
        match self {
            Time::Seconds(s) => (s * rate as f64).round().max(0.0) as u64,
            Time::Frames(f) => frames::to_samples(f, rate),
        }
    }

    /// Seconds.
    pub fn seconds(self) -> f64 {
        match self {
            Time::Seconds(s) => s,
            Time::Frames(f) => frames::to_seconds(f),
        }
    }
}

/// A stretch of one source with its trims, gain and fades.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipSpec {
    /// Index into the sources.
    pub source: usize,
    /// Cut from the start.
    pub trim_start: Time,
    /// Cut from the end.
    pub trim_end: Time,
    /// dB.
    pub gain_db: f64,
    /// Fade at the start.
    pub fade_in: Option<Fade>,
    /// Fade at the end.
    pub fade_out: Option<Fade>,
    /// Line of its table.
    pub line: Option<usize>,
}

/// A crossfade from the previous track.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crossfade {
    /// Overlap.
    pub length: Time,
    /// Curve of the outgoing track's fade.
    pub out_curve: Curve,
    /// Curve of the incoming track's fade.
    pub in_curve: Curve,
}

/// One `[[track]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackSpec {
    /// Its audio.
    pub clip: ClipSpec,
    /// Silence before it (`None`: the disc default).
    pub gap: Option<Time>,
    /// Segue from the previous track instead of a gap.
    pub crossfade: Option<Crossfade>,
    /// Index 02, 03, … from index 01, with their lines.
    pub indexes: Vec<(Time, Option<usize>)>,
    /// ISRC (given or counted).
    pub isrc: Option<Isrc>,
    /// Flags.
    pub flags: Flags,
    /// CD-Text.
    pub text: Fields,
    /// Line of `[[track]]`.
    pub line: Option<usize>,
}

/// A parsed `album.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlbumSpec {
    /// Disc-wide data.
    pub info: DiscInfo,
    /// Files named.
    pub sources: Vec<Source>,
    /// Audio before track 1.
    pub hidden: Option<ClipSpec>,
    /// Tracks in order.
    pub tracks: Vec<TrackSpec>,
    /// Default gap before tracks 2..
    pub gap: Time,
    /// Track 1's pregap.
    pub first_pause: Time,
}

const DISC_KEYS: &[&str] = &[
    "title",
    "performer",
    "songwriter",
    "composer",
    "arranger",
    "message",
    "genre",
    "upc",
    "master_id",
    "isrc",
    "gap",
    "first_pause",
    "cd_text",
    "language",
    "dither",
    "date",
];
const CLIP_KEYS: &[&str] = &[
    "source",
    "trim_start",
    "trim_end",
    "gain",
    "fade_in",
    "fade_out",
];
const TRACK_KEYS: &[&str] = &[
    "gap",
    "crossfade",
    "indexes",
    "isrc",
    "pre_emphasis",
    "copy",
    "scms",
    "title",
    "performer",
    "songwriter",
    "composer",
    "arranger",
    "message",
];

struct Ctx<'a> {
    text: &'a str,
    out: Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn line(&self, span: Option<std::ops::Range<usize>>) -> Option<usize> {
        span.map(|s| line_at(self.text, s.start))
    }

    fn err(&mut self, line: Option<usize>, msg: impl Into<String>) {
        self.out.push(Diagnostic::error(line, msg));
    }

    fn key_line(&self, table: &Table, key: &str) -> Option<usize> {
        self.line(table.key(key).and_then(|k| k.span()))
            .or_else(|| self.line(table.get(key).and_then(Item::span)))
    }

    fn check_keys(&mut self, table: &Table, allowed: &[&str], what: &str) {
        for (k, _) in table.iter() {
            if !allowed.contains(&k) {
                let line = self.key_line(table, k);
                self.err(
                    line,
                    format!(
                        "unknown key `{k}` in {what} (known: {})",
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    fn string(&mut self, table: &Table, key: &str, what: &str) -> Option<String> {
        let item = table.get(key)?;
        match item.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                let line = self.key_line(table, key);
                self.err(line, format!("{what}: `{key}` must be a string"));
                None
            }
        }
    }

    fn bool(&mut self, table: &Table, key: &str, what: &str) -> Option<bool> {
        let item = table.get(key)?;
        match item.as_bool() {
            Some(b) => Some(b),
            None => {
                let line = self.key_line(table, key);
                self.err(line, format!("{what}: `{key}` must be true or false"));
                None
            }
        }
    }

    fn number(&mut self, table: &Table, key: &str, what: &str) -> Option<f64> {
        let item = table.get(key)?;
        match item
            .as_float()
            .or_else(|| item.as_integer().map(|i| i as f64))
        {
            Some(x) if x.is_finite() => Some(x),
            _ => {
                let line = self.key_line(table, key);
                self.err(line, format!("{what}: `{key}` must be a number"));
                None
            }
        }
    }

    fn time_value(&mut self, v: &Value, line: Option<usize>, what: &str) -> Option<Time> {
        if let Some(x) = v.as_float().or_else(|| v.as_integer().map(|i| i as f64)) {
            if x.is_finite() && x >= 0.0 {
                return Some(Time::Seconds(x));
            }
        } else if let Some(s) = v.as_str() {
            if let Some(m) = frames::Msf::parse(s) {
                return Some(Time::Frames(m.0));
            }
            if let Some((m, sec)) = s.split_once(':') {
                if let (Ok(m), Ok(sec)) = (m.trim().parse::<u32>(), sec.trim().parse::<f64>()) {
                    if (0.0..60.0).contains(&sec) {
                        return Some(Time::Seconds(m as f64 * 60.0 + sec));
                    }
                }
            }
        }
        self.err(
            line,
            format!(
                "{what} must be seconds (2.5), \"MM:SS:FF\" in CD frames or \"M:SS.sss\", got {}",
                v.to_string().trim()
            ),
        );
        None
    }

    fn time(&mut self, table: &Table, key: &str, what: &str) -> Option<Time> {
        let item = table.get(key)?;
        let line = self.key_line(table, key);
        match item.as_value() {
            Some(v) => self.time_value(v, line, &format!("{what}: `{key}`")),
            None => {
                self.err(line, format!("{what}: `{key}` must be a time"));
                None
            }
        }
    }

    fn curve(&mut self, v: &Value, line: Option<usize>, what: &str) -> Option<Curve> {
        match v.as_str().and_then(Curve::from_name) {
            Some(c) => Some(c),
            None => {
                self.err(
                    line,
                    format!(
                        "{what}: curve must be linear, equal-power, logarithmic or s-curve, got {}",
                        v.to_string().trim()
                    ),
                );
                None
            }
        }
    }

    /// `fade_in = 0.5` or `{ length = 0.5, curve = "s-curve" }`.
    fn fade(&mut self, table: &Table, key: &str, what: &str) -> Option<Fade> {
        let item = table.get(key)?;
        let line = self.key_line(table, key);
        let what = format!("{what}: `{key}`");
        if let Some(t) = item.as_inline_table() {
            let mut length = None;
            let mut curve = Curve::Linear;
            for (k, v) in t.iter() {
                match k {
                    "length" => length = self.time_value(v, line, &format!("{what}.length")),
                    "curve" => {
                        if let Some(c) = self.curve(v, line, &what) {
                            curve = c;
                        }
                    }
                    _ => self.err(
                        line,
                        format!("{what}: unknown key `{k}` (known: length, curve)"),
                    ),
                }
            }
            return match length {
                Some(l) => Some(Fade {
                    seconds: l.seconds(),
                    curve,
                }),
                None => {
                    self.err(line, format!("{what} needs a `length`"));
                    None
                }
            };
        }
        let t = self.time_value(item.as_value()?, line, &what)?;
        Some(Fade {
            seconds: t.seconds(),
            curve: Curve::Linear,
        })
    }

    fn text_fields(&mut self, table: &Table, what: &str) -> Fields {
        let mut fields = Fields::new();
        for f in Field::ALL {
            if let Some(s) = self.string(table, f.name(), what) {
                if let Err(e) = cdtext::to_latin1(&s, &format!("{what} {}", f.name())) {
                    let line = self.key_line(table, f.name());
                    self.err(line, e.to_string());
                }
                fields.insert(f, s);
            }
        }
        fields
    }
}

/// The 1-based line of byte `offset` in `text`.
pub fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

impl AlbumSpec {
    /// Parses `text` (the contents of an album.toml in `folder`). Returns the
    /// spec when it could be read, and every finding.
    pub fn parse(text: &str, folder: &Path) -> (Option<AlbumSpec>, Vec<Diagnostic>) {
        let mut cx = Ctx {
            text,
            out: Vec::new(),
        };
        let doc = match ImDocument::parse(text.to_string()) {
            Ok(d) => d,
            Err(e) => {
                let line = cx.line(e.span());
                let msg = e.message().trim().to_string();
                cx.err(line, format!("not valid TOML: {msg}"));
                return (None, cx.out);
            }
        };
        let root = doc.as_table();
        cx.check_keys(root, &["disc", "hidden", "track"], "the album file");
        let mut info = DiscInfo {
            language: cdtext::ENGLISH,
            ..DiscInfo::default()
        };
        let mut gap = Time::Seconds(2.0);
        let mut first_pause = Time::Seconds(2.0);
        let mut first_isrc = None;
        let mut cd_text = None;
        let empty = Table::new();
        let disc = match root.get("disc") {
            Some(Item::Table(t)) => t,
            Some(other) => {
                let line = cx.line(other.span());
                cx.err(line, "`disc` must be a table: [disc]");
                &empty
            }
            None => &empty,
        };
        cx.check_keys(disc, DISC_KEYS, "[disc]");
        info.text = cx.text_fields(disc, "disc");
        if let Some(g) = cx.string(disc, "genre", "[disc]") {
            let code = cdtext::genre_code(&g).unwrap_or(1);
            info.genre = Some((code, if code == 1 { g } else { String::new() }));
        }
        if let Some(u) = cx.string(disc, "upc", "[disc]") {
            match Upc::parse(&u) {
                Ok(u) => info.upc = Some(u),
                Err(e) => {
                    let line = cx.key_line(disc, "upc");
                    cx.err(line, e.to_string());
                }
            }
        }
        if let Some(m) = cx.string(disc, "master_id", "[disc]") {
            if m.len() > 48 || !m.is_ascii() {
                let line = cx.key_line(disc, "master_id");
                cx.err(line, "[disc] master_id: at most 48 ASCII characters");
            } else {
                info.master_id = Some(m);
            }
        }
        if let Some(i) = cx.string(disc, "isrc", "[disc]") {
            let line = cx.key_line(disc, "isrc");
            first_isrc = parse_isrc(&mut cx, &i, line, "[disc] isrc");
        }
        if let Some(t) = cx.time(disc, "gap", "[disc]") {
            gap = t;
        }
        if let Some(t) = cx.time(disc, "first_pause", "[disc]") {
            first_pause = t;
        }
        if let Some(b) = cx.bool(disc, "cd_text", "[disc]") {
            cd_text = Some(b);
        }
        if let Some(item) = disc.get("language") {
            let line = cx.key_line(disc, "language");
            match (item.as_str(), item.as_integer()) {
                (Some(s), _)
                    if s.eq_ignore_ascii_case("en") || s.eq_ignore_ascii_case("english") =>
                {
                    info.language = cdtext::ENGLISH
                }
                (_, Some(n)) if (1..=255).contains(&n) => info.language = n as u8,
                _ => cx.err(
                    line,
                    "[disc] language: \"en\" or a CD-Text language code 1..255",
                ),
            }
        }
        if let Some(item) = disc.get("date") {
            let line = cx.key_line(disc, "date");
            let text = item
                .as_str()
                .map(str::to_string)
                .or_else(|| item.as_integer().map(|y| y.to_string()))
                .unwrap_or_default();
            if valid_date(&text) {
                info.date = Some(text);
            } else {
                cx.err(
                    line,
                    "[disc] date: the release date as \"YYYY\" or \"YYYY-MM-DD\"",
                );
            }
        }
        if let Some(d) = cx.string(disc, "dither", "[disc]") {
            match d.as_str() {
                "tpdf" => {}
                "shaped" => info.noise_shaping = true,
                _ => {
                    let line = cx.key_line(disc, "dither");
                    cx.err(line, "[disc] dither: \"tpdf\" or \"shaped\"");
                }
            }
        }

        let mut sources = Vec::new();
        let hidden = match root.get("hidden") {
            Some(Item::Table(t)) => {
                cx.check_keys(t, CLIP_KEYS, "[hidden]");
                let line = cx.line(t.span());
                clip_spec(&mut cx, t, folder, &mut sources, "[hidden]", line)
            }
            Some(other) => {
                let line = cx.line(other.span());
                cx.err(line, "`hidden` must be a table: [hidden]");
                None
            }
            None => None,
        };

        let mut tracks = Vec::new();
        match root.get("track") {
            Some(Item::ArrayOfTables(a)) => {
                let mut next_isrc = first_isrc;
                for (i, t) in a.iter().enumerate() {
                    let n = i + 1;
                    let what = format!("track {n}");
                    let line = cx.line(t.span());
                    let mut keys: Vec<&str> = CLIP_KEYS.to_vec();
                    keys.extend_from_slice(TRACK_KEYS);
                    cx.check_keys(t, &keys, &format!("[[track]] {n}"));
                    let clip = clip_spec(&mut cx, t, folder, &mut sources, &what, line);
                    let text = cx.text_fields(t, &what);
                    let isrc = match cx.string(t, "isrc", &what) {
                        Some(s) => {
                            let l = cx.key_line(t, "isrc");
                            parse_isrc(&mut cx, &s, l, &what)
                        }
                        None => next_isrc.clone(),
                    };
                    next_isrc = match &isrc {
                        Some(code) => match code.next() {
                            Ok(n) => Some(n),
                            Err(e) => {
                                if i + 1 < a.len() {
                                    cx.err(line, e.to_string());
                                }
                                None
                            }
                        },
                        None => None,
                    };
                    let flags = Flags {
                        pre_emphasis: cx.bool(t, "pre_emphasis", &what).unwrap_or(false),
                        copy_permitted: cx.bool(t, "copy", &what).unwrap_or(false),
                        scms: cx.bool(t, "scms", &what).unwrap_or(false),
                    };
                    let gap = cx.time(t, "gap", &what);
                    let crossfade = crossfade(&mut cx, t, &what);
                    if crossfade.is_some() && gap.is_some() {
                        let l = cx.key_line(t, "crossfade");
                        cx.err(l, format!("{what}: give `gap` or `crossfade`, not both"));
                    }
                    if crossfade.is_some() && n == 1 {
                        let l = cx.key_line(t, "crossfade");
                        cx.err(l, "track 1 has no previous track to crossfade from");
                    }
                    if crossfade.is_some() && t.contains_key("fade_in") {
                        let l = cx.key_line(t, "fade_in");
                        cx.err(
                            l,
                            format!("{what}: the crossfade is the fade-in: remove `fade_in` or the crossfade"),
                        );
                    }
                    if crossfade.is_some()
                        && i > 0
                        && a.get(i - 1).is_some_and(|p| p.contains_key("fade_out"))
                    {
                        let l = cx.key_line(t, "crossfade");
                        cx.err(
                            l,
                            format!("{what}: the crossfade is track {i}'s fade-out: remove track {i}'s `fade_out` or the crossfade"),
                        );
                    }
                    let mut indexes = Vec::new();
                    if let Some(item) = t.get("indexes") {
                        let l = cx.key_line(t, "indexes");
                        match item.as_array() {
                            Some(arr) => {
                                for v in arr.iter() {
                                    let vl = cx.line(v.span()).or(l);
                                    if let Some(time) =
                                        cx.time_value(v, vl, &format!("{what}: an index"))
                                    {
                                        indexes.push((time, vl));
                                    }
                                }
                            }
                            None => cx.err(
                                l,
                                format!(
                                    "{what}: `indexes` must be a list of times from the track start"
                                ),
                            ),
                        }
                    }
                    if let Some(clip) = clip {
                        tracks.push(TrackSpec {
                            clip,
                            gap,
                            crossfade,
                            indexes,
                            isrc,
                            flags,
                            text,
                            line,
                        });
                    }
                }
            }
            Some(other) => {
                let line = cx.line(other.span());
                cx.err(line, "tracks are written [[track]], one table per track");
            }
            None => {}
        }
        if tracks.is_empty() && !super::has_errors(&cx.out) {
            cx.err(
                None,
                "the album has no [[track]]: a disc needs 1 to 99 tracks",
            );
        }
        info.cd_text = cd_text.unwrap_or(true);
        let spec = AlbumSpec {
            info,
            sources,
            hidden,
            tracks,
            gap,
            first_pause,
        };
        let ok = !super::has_errors(&cx.out);
        (ok.then_some(spec), cx.out)
    }

    /// Places everything on the disc once the sources are known.
    pub fn layout(&self, infos: &[SourceInfo]) -> (Option<Disc>, Vec<Diagnostic>) {
        let mut out = Vec::new();
        let mut clips: Vec<Clip> = Vec::new();
        let mut tracks: Vec<DiscTrack> = Vec::new();
        let make_clip = |c: &ClipSpec, track: u8, out: &mut Vec<Diagnostic>| -> Option<Clip> {
            let info = infos[c.source];
            let from = c.trim_start.samples(info.rate);
            let cut = c.trim_end.samples(info.rate);
            if from + cut >= info.frames {
                out.push(Diagnostic::error(
                    c.line,
                    format!(
                        "{}: the trims leave nothing of {} ({:.3} s long)",
                        if track == 0 {
                            "hidden track".to_string()
                        } else {
                            format!("track {track}")
                        },
                        self.sources[c.source].path.display(),
                        info.frames as f64 / info.rate as f64
                    ),
                ));
                return None;
            }
            let seconds = (info.frames - cut - from) as f64 / info.rate as f64;
            for (name, fade) in [("fade_in", c.fade_in), ("fade_out", c.fade_out)] {
                if let Some(f) = fade.filter(|f| f.seconds > seconds) {
                    out.push(Diagnostic::error(
                        c.line,
                        format!(
                            "{}: {name} of {:.2} s is longer than its audio ({:.3} s of {}): shorten the fade",
                            if track == 0 {
                                "hidden track".to_string()
                            } else {
                                format!("track {track}")
                            },
                            f.seconds,
                            seconds,
                            self.sources[c.source].path.display(),
                        ),
                    ));
                    return None;
                }
            }
            Some(Clip {
                source: c.source,
                from,
                to: info.frames - cut,
                at: 0,
                gain_db: c.gain_db,
                fade_in: c.fade_in,
                fade_out: c.fade_out,
                track,
            })
        };
        let mut pos = self.first_pause.frames();
        if let Some(h) = &self.hidden {
            if let Some(mut c) = make_clip(h, 0, &mut out) {
                c.at = pos;
                pos += c.frames(infos[c.source].rate);
                clips.push(c);
            }
        }
        let mut end = pos;
        for (i, t) in self.tracks.iter().enumerate() {
            let n = (i + 1) as u8;
            let Some(mut clip) = make_clip(&t.clip, n, &mut out) else {
                continue;
            };
            let rate = infos[clip.source].rate;
            let len = clip.frames(rate);
            let (pregap, start) = if i == 0 {
                (Some(0), pos)
            } else if let Some(x) = t.crossfade {
                let overlap = x.length.frames();
                let prev = clips.last_mut().filter(|c| c.track == n - 1);
                let Some(prev) = prev else {
                    continue;
                };
                let prev_len = prev.frames(infos[prev.source].rate);
                if overlap > prev_len || overlap > len {
                    out.push(Diagnostic::error(
                        t.line,
                        format!(
                            "track {n}: crossfade of {:.2} s is longer than track {} ({:.2} s) or track {n} ({:.2} s): a crossfade must fit in both",
                            frames::to_seconds(overlap),
                            n - 1,
                            frames::to_seconds(prev_len),
                            frames::to_seconds(len)
                        ),
                    ));
                    continue;
                }
                // The outgoing fade ends with the outgoing audio, which stops
                // short of its last frame by the padding.
                let prev_rate = infos[prev.source].rate;
                let pad = prev_len as u64 * 588 - prev.len_at(prev_rate, frames::CD_RATE);
                prev.fade_out = Some(Fade {
                    seconds: (overlap as u64 * 588).saturating_sub(pad) as f64 / 44_100.0,
                    curve: x.out_curve,
                });
                clip.fade_in = Some(Fade {
                    seconds: frames::to_seconds(overlap),
                    curve: x.in_curve,
                });
                (None, end - overlap)
            } else {
                let g = t.gap.unwrap_or(self.gap).frames();
                ((g > 0).then_some(end), end + g)
            };
            clip.at = start;
            end = start + len;
            let mut indexes = vec![start];
            for (time, _) in &t.indexes {
                indexes.push(start + time.frames());
            }
            clips.push(clip);
            tracks.push(DiscTrack {
                number: n,
                pregap,
                indexes,
                isrc: t.isrc.clone(),
                flags: t.flags,
                text: t.text.clone(),
                line: t.line,
            });
        }
        if super::has_errors(&out) {
            return (None, out);
        }
        clips.sort_by_key(|c| c.at);
        let disc = Disc {
            info: self.info.clone(),
            sources: self.sources.clone(),
            source_info: infos.to_vec(),
            clips,
            tracks,
            lead_out: end,
        };
        (Some(disc), out)
    }
}

/// `YYYY` or `YYYY-MM-DD` with a month and day that exist.
pub(crate) fn valid_date(text: &str) -> bool {
    if !text.is_ascii() {
        return false;
    }
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    match b.len() {
        4 => digits(0..4),
        10 => {
            let (m, d) = (
                text[5..7].parse::<u32>().unwrap_or(0),
                text[8..10].parse::<u32>().unwrap_or(0),
            );
            digits(0..4)
                && b[4] == b'-'
                && b[7] == b'-'
                && digits(5..7)
                && digits(8..10)
                && (1..=12).contains(&m)
                && (1..=31).contains(&d)
        }
        _ => false,
    }
}

fn parse_isrc(cx: &mut Ctx, text: &str, line: Option<usize>, what: &str) -> Option<Isrc> {
    match Isrc::parse(text) {
        Ok((i, changed)) => {
            if changed {
                cx.out.push(Diagnostic::note(
                    line,
                    format!(
                        "{what}: ISRC {text:?} taken as {} ({})",
                        i.as_str(),
                        i.dashed()
                    ),
                ));
            }
            Some(i)
        }
        Err(e) => {
            cx.err(line, format!("{what}: {e}"));
            None
        }
    }
}

fn clip_spec(
    cx: &mut Ctx,
    t: &Table,
    folder: &Path,
    sources: &mut Vec<Source>,
    what: &str,
    line: Option<usize>,
) -> Option<ClipSpec> {
    let source = match cx.string(t, "source", what) {
        Some(s) => {
            let l = cx.key_line(t, "source");
            sources.push(Source {
                path: folder.join(s),
                kind: SourceKind::File,
                line: l,
            });
            Some(sources.len() - 1)
        }
        None => {
            if !t.contains_key("source") {
                cx.err(
                    line,
                    format!("{what} needs a `source` (a WAV, FLAC or AIFF file)"),
                );
            }
            None
        }
    };
    let trim_start = cx.time(t, "trim_start", what).unwrap_or(Time::Seconds(0.0));
    let trim_end = cx.time(t, "trim_end", what).unwrap_or(Time::Seconds(0.0));
    let gain_db = cx.number(t, "gain", what).unwrap_or(0.0);
    if !(-60.0..=24.0).contains(&gain_db) {
        let l = cx.key_line(t, "gain");
        cx.err(
            l,
            format!("{what}: gain {gain_db} dB is outside -60..+24 dB"),
        );
    }
    let fade_in = cx.fade(t, "fade_in", what);
    let fade_out = cx.fade(t, "fade_out", what);
    Some(ClipSpec {
        source: source?,
        trim_start,
        trim_end,
        gain_db,
        fade_in,
        fade_out,
        line,
    })
}

fn crossfade(cx: &mut Ctx, t: &Table, what: &str) -> Option<Crossfade> {
    let item = t.get("crossfade")?;
    let line = cx.key_line(t, "crossfade");
    let what = format!("{what}: `crossfade`");
    if let Some(tab) = item.as_inline_table() {
        let mut x = Crossfade {
            length: Time::Frames(0),
            out_curve: Curve::EqualPower,
            in_curve: Curve::EqualPower,
        };
        let mut length = None;
        for (k, v) in tab.iter() {
            match k {
                "length" => length = cx.time_value(v, line, &format!("{what}.length")),
                "curve" => {
                    if let Some(c) = cx.curve(v, line, &what) {
                        x.out_curve = c;
                        x.in_curve = c;
                    }
                }
                "out_curve" => {
                    if let Some(c) = cx.curve(v, line, &what) {
                        x.out_curve = c;
                    }
                }
                "in_curve" => {
                    if let Some(c) = cx.curve(v, line, &what) {
                        x.in_curve = c;
                    }
                }
                _ => cx.err(
                    line,
                    format!(
                        "{what}: unknown key `{k}` (known: length, curve, out_curve, in_curve)"
                    ),
                ),
            }
        }
        return match length {
            Some(l) if l.frames() > 0 => Some(Crossfade { length: l, ..x }),
            _ => {
                cx.err(line, format!("{what} needs a `length` above 0"));
                None
            }
        };
    }
    let length = cx.time_value(item.as_value()?, line, &what)?;
    if length.frames() == 0 {
        cx.err(
            line,
            format!("{what} must be longer than one CD frame (1/{FRAMES_PER_SECOND} s)"),
        );
        return None;
    }
    Some(Crossfade {
        length,
        out_curve: Curve::EqualPower,
        in_curve: Curve::EqualPower,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(seconds: f64, rate: u32) -> SourceInfo {
        SourceInfo {
            rate,
            frames: (seconds * rate as f64) as u64,
            channels: 2,
            exact16: true,
            peak: 0.5,
        }
    }

    #[test]
    fn every_problem_with_its_line() {
        let text = "[disc]\ntitle = \"A\"\nupc = \"4006381333932\"\nbogus = 1\n\n[[track]]\nsource = \"a.wav\"\nisrc = \"nope\"\ngain = \"loud\"\n\n[[track]]\ntitle = \"Ω\"\n";
        let (spec, d) = AlbumSpec::parse(text, Path::new("/x"));
        assert!(spec.is_none());
        let lines: Vec<(Option<usize>, &str)> =
            d.iter().map(|d| (d.line, d.message.as_str())).collect();
        let has = |line: usize, part: &str| {
            lines
                .iter()
                .any(|(l, m)| *l == Some(line) && m.contains(part))
        };
        assert!(has(3, "check digit"), "{lines:?}");
        assert!(has(4, "unknown key `bogus`"), "{lines:?}");
        assert!(has(8, "ISRC"), "{lines:?}");
        assert!(has(9, "must be a number"), "{lines:?}");
        assert!(has(11, "needs a `source`"), "{lines:?}");
        assert!(has(12, "ISO-8859-1"), "{lines:?}");
    }

    #[test]
    fn layout_in_frames_with_gap_segue_hidden_and_counted_isrc() {
        let text = r#"
[disc]
isrc = "us-s1z-26-00001"
[hidden]
source = "h.wav"
[[track]]
source = "1.wav"
indexes = ["00:02:00"]
[[track]]
source = "2.wav"
gap = 1.0
[[track]]
source = "3.wav"
crossfade = 2.0
"#;
        let (spec, d) = AlbumSpec::parse(text, Path::new("/x"));
        let spec = spec.unwrap_or_else(|| panic!("{d:?}"));
        assert!(d.iter().any(|d| d.message.contains("USS1Z2600001")));
        let infos = [
            info(3.0, 44_100),
            info(10.0, 48_000),
            info(10.0, 44_100),
            info(10.0, 96_000),
        ];
        let (disc, d) = spec.layout(&infos);
        let disc = disc.unwrap_or_else(|| panic!("{d:?}"));
        let t = &disc.tracks;
        assert_eq!(t[0].pregap, Some(0));
        assert_eq!(t[0].indexes, vec![150 + 225, 150 + 225 + 150]);
        assert_eq!(t[1].pregap, Some(375 + 750));
        assert_eq!(t[1].start(), 375 + 750 + 75);
        assert_eq!(t[2].pregap, None);
        assert_eq!(t[2].start(), 375 + 750 + 75 + 750 - 150);
        assert_eq!(disc.lead_out, t[2].start() + 750);
        assert_eq!(t[2].isrc.as_ref().unwrap().as_str(), "USS1Z2600003");
        assert!(disc.is_segue(2) && !disc.is_segue(1));
        assert_eq!(disc.clips[0].at, 150);
        assert_eq!(disc.clips[0].track, 0);
    }
}
