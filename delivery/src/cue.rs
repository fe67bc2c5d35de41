//! CDRWIN cue sheets, read as DAWs and rippers write them and written for
//! the `cd/` folder of a build.
//!
//! Read: `FILE` (`WAVE` of any rate and depth, `BINARY` raw little-endian,
//! `MOTOROLA` raw big-endian, `AIFF`), one per track or several tracks per
//! file (a gap may start in one file and end in the next), `TRACK nn AUDIO`,
//! `INDEX`, `PREGAP`/`POSTGAP` (silence not in the files), `ISRC`,
//! `CATALOG`, `FLAGS`, `TITLE`/`PERFORMER`/`SONGWRITER`/`COMPOSER`/
//! `ARRANGER`/`MESSAGE` (also after `REM`), `REM GENRE`; keywords in any
//! case; text in UTF-8 (or ISO-8859-1 when it is not UTF-8). A track 1 with
//! neither `INDEX 00` nor `PREGAP` gets the 2-second first pause, as CD
//! writers give it. Positions are `MM:SS:FF` in the file's own time.

use crate::album::{
    Clip, Diagnostic, Disc, DiscInfo, DiscTrack, Flags, Source, SourceInfo, SourceKind, has_errors,
};
use crate::cdtext::{self, Field, Fields};
use crate::codes::{Isrc, Upc};
use crate::frames::{self, FIRST_PAUSE, Msf};
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
struct CueTrack {
    number: u8,
    /// (index number, file, frame in the file, line).
    indexes: Vec<(u8, usize, u32, usize)>,
    pregap: u32,
    postgap: u32,
    isrc: Option<Isrc>,
    flags: Flags,
    text: Fields,
    line: usize,
}

/// A parsed cue sheet.
#[derive(Debug, Clone, PartialEq)]
pub struct CueSheet {
    /// Disc-wide data.
    pub info: DiscInfo,
    /// The files, in order.
    pub sources: Vec<Source>,
    tracks: Vec<CueTrack>,
}

/// Splits a cue line into words; quoted strings are one word.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

impl CueSheet {
    /// Parses the bytes of a cue sheet in `folder` (file names are relative to it).
    pub fn parse(bytes: &[u8], folder: &Path) -> (Option<CueSheet>, Vec<Diagnostic>) {
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t.trim_start_matches('\u{feff}').to_string(),
            Err(_) => cdtext::from_latin1(bytes),
        };
        let mut out = Vec::new();
        let mut info = DiscInfo {
            language: cdtext::ENGLISH,
            cd_text: true,
            ..DiscInfo::default()
        };
        let mut sources: Vec<Source> = Vec::new();
        let mut tracks: Vec<CueTrack> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let w = words(raw);
            let Some(first) = w.first() else {
                continue;
            };
            let mut key = first.to_ascii_uppercase();
            let mut args = &w[1..];
            if key == "REM" {
                // REM GENRE, REM COMPOSER …: taken; other remarks ignored.
                match args.first().map(|a| a.to_ascii_uppercase()) {
                    Some(k)
                        if k == "GENRE"
                            || k == "DATE"
                            || Field::from_name(&k).is_some_and(|f| f != Field::Title) =>
                    {
                        key = k;
                        args = &args[1..];
                    }
                    _ => continue,
                }
            }
            let err =
                |out: &mut Vec<Diagnostic>, m: String| out.push(Diagnostic::error(Some(line), m));
            let arg = |k: usize| args.get(k).map(String::as_str);
            match key.as_str() {
                "FILE" => {
                    let (Some(name), Some(kind)) = (arg(0), arg(1)) else {
                        err(
                            &mut out,
                            "FILE needs a name and a type: FILE \"a.wav\" WAVE".into(),
                        );
                        continue;
                    };
                    let kind = match kind.to_ascii_uppercase().as_str() {
                        "WAVE" | "AIFF" | "FLAC" => SourceKind::File,
                        "BINARY" => SourceKind::RawLittle,
                        "MOTOROLA" => SourceKind::RawBig,
                        other => {
                            err(
                                &mut out,
                                format!(
                                    "FILE type {other} is not supported: use WAVE, AIFF, BINARY or MOTOROLA"
                                ),
                            );
                            continue;
                        }
                    };
                    sources.push(Source {
                        path: folder.join(name),
                        kind,
                        line: Some(line),
                    });
                }
                "TRACK" => {
                    let number = arg(0).and_then(|n| n.parse::<u8>().ok());
                    let mode = arg(1).map(|m| m.to_ascii_uppercase());
                    match (number, mode.as_deref()) {
                        (Some(n), Some("AUDIO")) if (1..=99).contains(&n) => {
                            if sources.is_empty() {
                                err(&mut out, format!("TRACK {n:02} comes before any FILE"));
                            }
                            let expected = tracks.last().map_or(1, |t| t.number + 1);
                            if n != expected && tracks.last().is_some() {
                                err(
                                    &mut out,
                                    format!(
                                        "TRACK {n:02} follows track {:02}: tracks must count up by one",
                                        expected - 1
                                    ),
                                );
                            }
                            tracks.push(CueTrack {
                                number: n,
                                indexes: Vec::new(),
                                pregap: 0,
                                postgap: 0,
                                isrc: None,
                                flags: Flags::default(),
                                text: Fields::new(),
                                line,
                            });
                        }
                        (Some(_), Some(m)) if m != "AUDIO" => err(
                            &mut out,
                            format!("TRACK mode {m}: only AUDIO tracks go on an audio CD"),
                        ),
                        _ => err(&mut out, "TRACK needs a number 01..99 and AUDIO".into()),
                    }
                }
                "INDEX" | "PREGAP" | "POSTGAP" => {
                    let Some(t) = tracks.last_mut() else {
                        err(&mut out, format!("{key} outside a TRACK"));
                        continue;
                    };
                    let time_arg = if key == "INDEX" { arg(1) } else { arg(0) };
                    let Some(msf) = time_arg.and_then(Msf::parse) else {
                        err(
                            &mut out,
                            format!(
                                "{key}: time must be MM:SS:FF (frames 00..74), got {:?}",
                                time_arg.unwrap_or("")
                            ),
                        );
                        continue;
                    };
                    match key.as_str() {
                        "INDEX" => match arg(0).and_then(|n| n.parse::<u8>().ok()) {
                            Some(_) if sources.is_empty() => {
                                err(&mut out, "INDEX comes before any FILE".into())
                            }
                            Some(n) if n <= 99 => {
                                t.indexes.push((n, sources.len() - 1, msf.0, line));
                            }
                            _ => err(&mut out, "INDEX needs a number 00..99".into()),
                        },
                        "PREGAP" => t.pregap = msf.0,
                        _ => t.postgap = msf.0,
                    }
                }
                "ISRC" => {
                    let Some(t) = tracks.last_mut() else {
                        err(&mut out, "ISRC outside a TRACK".into());
                        continue;
                    };
                    match Isrc::parse(arg(0).unwrap_or("")) {
                        Ok((i, changed)) => {
                            if changed {
                                out.push(Diagnostic::note(
                                    Some(line),
                                    format!("ISRC taken as {} ({})", i.as_str(), i.dashed()),
                                ));
                            }
                            t.isrc = Some(i);
                        }
                        Err(e) => err(&mut out, format!("track {:02}: {e}", t.number)),
                    }
                }
                "CATALOG" => match Upc::parse(arg(0).unwrap_or("")) {
                    Ok(u) => info.upc = Some(u),
                    Err(e) => err(&mut out, e.to_string()),
                },
                "FLAGS" => {
                    let Some(t) = tracks.last_mut() else {
                        err(&mut out, "FLAGS outside a TRACK".into());
                        continue;
                    };
                    for f in args {
                        match f.to_ascii_uppercase().as_str() {
                            "DCP" => t.flags.copy_permitted = true,
                            "PRE" => t.flags.pre_emphasis = true,
                            "SCMS" => t.flags.scms = true,
                            "4CH" => err(
                                &mut out,
                                "FLAGS 4CH: four-channel audio is not supported".into(),
                            ),
                            other => {
                                err(&mut out, format!("unknown flag {other} (DCP, PRE, SCMS)"))
                            }
                        }
                    }
                }
                "DATE" => {
                    // REM DATE 2026, as EAC and most DAWs write it.
                    let d = args.join(" ");
                    if crate::album::spec::valid_date(&d) {
                        info.date = Some(d);
                    } else {
                        out.push(Diagnostic::warning(
                            Some(line),
                            format!("REM DATE {d:?} is not YYYY or YYYY-MM-DD: ignored"),
                        ));
                    }
                }
                "GENRE" => {
                    let g = args.join(" ");
                    let code = cdtext::genre_code(&g).unwrap_or(1);
                    info.genre = Some((code, if code == 1 { g } else { String::new() }));
                }
                "CDTEXTFILE" => out.push(Diagnostic::warning(
                    Some(line),
                    "CDTEXTFILE is ignored: CD-Text is taken from TITLE, PERFORMER, … lines",
                )),
                "SONGWRITER" | "TITLE" | "PERFORMER" | "COMPOSER" | "ARRANGER" | "MESSAGE" => {
                    let field = Field::from_name(&key).expect("a field name");
                    let value = args.join(" ");
                    let what = match tracks.last() {
                        Some(t) => format!("track {:02} {}", t.number, field.name()),
                        None => format!("disc {}", field.name()),
                    };
                    if let Err(e) = cdtext::to_latin1(&value, &what) {
                        err(&mut out, e.to_string());
                    }
                    match tracks.last_mut() {
                        Some(t) => t.text.insert(field, value),
                        None => info.text.insert(field, value),
                    };
                }
                "CATALOG_" => {}
                _ => err(&mut out, format!("unknown cue keyword {first}")),
            }
        }
        for t in &tracks {
            if !t.indexes.iter().any(|i| i.0 == 1) {
                out.push(Diagnostic::error(
                    Some(t.line),
                    format!("track {:02} has no INDEX 01", t.number),
                ));
            }
        }
        if tracks.is_empty() && !has_errors(&out) {
            out.push(Diagnostic::error(None, "the cue sheet has no TRACK"));
        }
        let ok = !has_errors(&out);
        (
            ok.then_some(CueSheet {
                info,
                sources,
                tracks,
            }),
            out,
        )
    }

    /// Places the files and tracks on the disc once the files are known.
    pub fn layout(&self, infos: &[SourceInfo]) -> (Option<Disc>, Vec<Diagnostic>) {
        let mut out = Vec::new();
        // Silence inserted before a file offset: (file, frame in file,
        // frames, after the previous track: a postgap moves index 00 too).
        let mut inserts: Vec<(usize, u32, u32, bool)> = Vec::new();
        let first = &self.tracks[0];
        if first.pregap == 0 && !first.indexes.iter().any(|i| i.0 == 0) {
            let (_, f, at, _) = first.indexes[0];
            inserts.push((f, at, FIRST_PAUSE, false));
        }
        for (k, t) in self.tracks.iter().enumerate() {
            if let Some(&(_, f, at, _)) = t.indexes.iter().find(|i| i.0 == 1) {
                if t.pregap > 0 {
                    inserts.push((f, at, t.pregap, false));
                }
            }
            if t.postgap > 0 {
                // After the track: before the next track's first index, or at the end of its last file.
                match self.tracks.get(k + 1).and_then(|n| n.indexes.first()) {
                    Some(&(_, f, at, _)) => inserts.push((f, at, t.postgap, true)),
                    None => {
                        let f = t.indexes.last().map_or(0, |i| i.1);
                        inserts.push((f, u32::MAX, t.postgap, true));
                    }
                }
            }
        }
        inserts.sort();
        // File frames → disc frames, and the clips.
        let mut clips = Vec::new();
        let mut file_start = vec![0u32; self.sources.len()];
        let mut pos = 0u32;
        for (f, info) in infos.iter().enumerate() {
            let per_frame = info.rate as u64 / frames::FRAMES_PER_SECOND as u64;
            let file_frames = info.frames.div_ceil(per_frame.max(1)) as u32;
            let mut cuts: Vec<(u32, u32)> = inserts
                .iter()
                .filter(|i| i.0 == f)
                .map(|i| (i.1.min(file_frames), i.2))
                .collect();
            cuts.push((file_frames, 0));
            file_start[f] = pos;
            let mut from = 0u32;
            for (at, silence) in cuts {
                if at > from {
                    let clip = Clip {
                        source: f,
                        from: frames::to_samples(from, info.rate),
                        to: frames::to_samples(at, info.rate).min(info.frames),
                        at: pos,
                        gain_db: 0.0,
                        fade_in: None,
                        fade_out: None,
                        track: 0,
                    };
                    pos += clip.frames(info.rate);
                    clips.push(clip);
                    from = at;
                }
                pos += silence;
            }
        }
        // Where a file frame lands: its file's start, plus the silence inserted before it.
        let place = |f: usize, at: u32, index1: bool| -> u32 {
            let shift: u32 = inserts
                .iter()
                .filter(|i| i.0 == f && (i.1 < at || (i.1 == at && (index1 || i.3))))
                .map(|i| i.2)
                .sum();
            file_start[f] + at + shift
        };
        let mut tracks = Vec::new();
        for t in &self.tracks {
            let mut pregap = None;
            let mut indexes = Vec::new();
            for &(n, f, at, line) in &t.indexes {
                if f >= infos.len() {
                    continue;
                }
                let file_frames = infos[f].frames.div_ceil(infos[f].rate as u64 / 75) as u32;
                if at > file_frames {
                    out.push(Diagnostic::error(
                        Some(line),
                        format!(
                            "track {:02}: INDEX {n:02} at {} is past the end of {} ({})",
                            t.number,
                            Msf(at),
                            self.sources[f].path.display(),
                            Msf(file_frames)
                        ),
                    ));
                }
                let frame = place(f, at, n >= 1);
                if n == 0 {
                    pregap = Some(frame);
                } else {
                    indexes.push(frame);
                }
            }
            if t.pregap > 0 || (t.number == 1 && pregap.is_none()) {
                let gap = if t.pregap > 0 { t.pregap } else { FIRST_PAUSE };
                pregap = Some(pregap.unwrap_or(indexes[0].saturating_sub(gap)));
            }
            tracks.push(DiscTrack {
                number: t.number,
                pregap,
                indexes,
                isrc: t.isrc.clone(),
                flags: t.flags,
                text: t.text.clone(),
                line: Some(t.line),
            });
        }
        // Every clip belongs to the track it starts in (for messages).
        for c in &mut clips {
            c.track = tracks
                .iter()
                .rev()
                .find(|t| t.pregap.unwrap_or(t.indexes[0]) <= c.at)
                .map_or(1, |t| t.number);
        }
        if has_errors(&out) {
            return (None, out);
        }
        let disc = Disc {
            info: self.info.clone(),
            sources: self.sources.clone(),
            source_info: infos.to_vec(),
            clips,
            tracks,
            lead_out: pos,
        };
        (Some(disc), out)
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "'"))
}

/// A CDRWIN cue sheet for `disc` played from one raw little-endian file
/// (`bin`, the image from frame 0: the first pause is in the file, as
/// index 00 of track 1). Text is ISO-8859-1, as CD-Text carries it.
pub fn write(disc: &Disc, bin: &str) -> Vec<u8> {
    let mut s = String::new();
    s.push_str(&format!(
        "REM COMMENT \"rackd {}\"\n",
        env!("CARGO_PKG_VERSION")
    ));
    if let Some(u) = &disc.info.upc {
        s.push_str(&format!("CATALOG {u}\n"));
    }
    let text = |s: &mut String, fields: &Fields, indent: &str| {
        for (f, v) in fields {
            let key = match f {
                Field::Title | Field::Performer | Field::Songwriter => {
                    f.name().to_ascii_uppercase()
                }
                _ => format!("REM {}", f.name().to_ascii_uppercase()),
            };
            s.push_str(&format!("{indent}{key} {}\n", quote(v)));
        }
    };
    if disc.info.cd_text {
        text(&mut s, &disc.info.text, "");
    }
    s.push_str(&format!("FILE {} BINARY\n", quote(bin)));
    for t in &disc.tracks {
        s.push_str(&format!("  TRACK {:02} AUDIO\n", t.number));
        let flags = t.flags.names();
        if !flags.is_empty() {
            s.push_str(&format!("    FLAGS {}\n", flags.join(" ")));
        }
        if disc.info.cd_text {
            text(&mut s, &t.text, "    ");
        }
        if let Some(i) = &t.isrc {
            s.push_str(&format!("    ISRC {}\n", i.as_str()));
        }
        if let Some(p) = t.pregap {
            s.push_str(&format!("    INDEX 00 {}\n", Msf(p)));
        }
        for (k, f) in t.indexes.iter().enumerate() {
            s.push_str(&format!("    INDEX {:02} {}\n", k + 1, Msf(*f)));
        }
    }
    s.chars()
        .map(|c| u8::try_from(c as u32).unwrap_or(b'?'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(frames: u64) -> SourceInfo {
        SourceInfo {
            rate: 44_100,
            frames: frames * 588,
            channels: 2,
            exact16: true,
            peak: 0.5,
        }
    }

    #[test]
    fn one_file_and_file_per_track_give_the_same_disc() {
        let one = b"catalog 4006381333931\nfile \"all.wav\" wave\n  track 01 audio\n    title \"One\"\n    index 01 00:00:00\n  track 02 audio\n    index 00 00:10:00\n    index 01 00:12:00\n";
        let split = b"FILE \"a.wav\" WAVE\n  TRACK 01 AUDIO\n    TITLE \"One\"\n    INDEX 01 00:00:00\n  TRACK 02 AUDIO\n    INDEX 00 00:10:00\nFILE \"b.wav\" WAVE\n    INDEX 01 00:00:00\nCATALOG 4006381333931\n";
        let (c1, d) = CueSheet::parse(one, Path::new("/m"));
        let c1 = c1.unwrap_or_else(|| panic!("{d:?}"));
        let (c2, d) = CueSheet::parse(split, Path::new("/m"));
        let c2 = c2.unwrap_or_else(|| panic!("{d:?}"));
        let (d1, _) = c1.layout(&[info(2000)]);
        let (d2, _) = c2.layout(&[info(900), info(1100)]);
        let (mut d1, mut d2) = (d1.unwrap(), d2.unwrap());
        for t in d1.tracks.iter_mut().chain(d2.tracks.iter_mut()) {
            t.line = None;
        }
        assert_eq!(d1.tracks, d2.tracks);
        assert_eq!(d1.lead_out, 150 + 2000);
        assert_eq!(d1.tracks[0].pregap, Some(0));
        assert_eq!(d1.tracks[0].indexes, vec![150]);
        assert_eq!(d1.tracks[1].pregap, Some(150 + 750));
        assert_eq!(d1.tracks[1].indexes, vec![150 + 900]);
        assert_eq!(d1.clips.len(), 1);
        assert_eq!(d2.clips.len(), 2);
        assert_eq!(d2.clips[1].at, 150 + 900);
    }

    #[test]
    fn pregap_and_postgap_are_silence_outside_the_files() {
        let cue = b"FILE \"a.bin\" BINARY\nTRACK 01 AUDIO\nPREGAP 00:03:00\nINDEX 01 00:00:00\nTRACK 02 AUDIO\nPREGAP 00:01:00\nINDEX 01 00:20:00\nPOSTGAP 00:02:00\n";
        let (c, d) = CueSheet::parse(cue, Path::new("/m"));
        let c = c.unwrap_or_else(|| panic!("{d:?}"));
        assert_eq!(c.sources[0].kind, SourceKind::RawLittle);
        let (disc, d) = c.layout(&[info(3000)]);
        let disc = disc.unwrap_or_else(|| panic!("{d:?}"));
        assert_eq!(disc.tracks[0].pregap, Some(0));
        assert_eq!(disc.tracks[0].indexes, vec![225]);
        assert_eq!(disc.tracks[1].pregap, Some(225 + 1500));
        assert_eq!(disc.tracks[1].indexes, vec![225 + 1500 + 75]);
        assert_eq!(disc.lead_out, 225 + 3000 + 75 + 150);
        assert_eq!(disc.clips[1].at, 225 + 1500 + 75);
    }

    #[test]
    fn errors_have_lines() {
        let cue = "FILE \"a.wav\" WAVE\nTRACK 01 MODE1/2352\nTRACK 01 AUDIO\nISRC XX\nINDEX 01 00:00:80\nTITLE \"Ω\"\nFROB\n";
        let (c, d) = CueSheet::parse(cue.as_bytes(), Path::new("/m"));
        assert!(c.is_none());
        let lines: Vec<usize> = d.iter().filter_map(|d| d.line).collect();
        for l in [2, 4, 5, 6, 7] {
            assert!(lines.contains(&l), "{l}: {d:?}");
        }
    }
}
