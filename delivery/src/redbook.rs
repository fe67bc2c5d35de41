//! The Red Book rules a plant checks, run on a laid-out [`Disc`] before any
//! build (and by `rackd ddp verify` on a DDP's table). Each finding names the
//! track and the rule.

use crate::album::{Diagnostic, Disc};
use crate::frames::{FIRST_PAUSE, FRAMES_PER_SECOND, Msf};

/// Shortest track: 4 s.
pub const MIN_TRACK: u32 = 4 * FRAMES_PER_SECOND;
/// Longest disc the rules allow (79:57:00).
pub const MAX_DISC: u32 = (79 * 60 + 57) * FRAMES_PER_SECOND;
/// Past 74 minutes some plants question a disc.
pub const WARN_74: u32 = 74 * 60 * FRAMES_PER_SECOND;
/// Past 79:38 some plants refuse it.
pub const WARN_7938: u32 = (79 * 60 + 38) * FRAMES_PER_SECOND;

/// The table the rules look at: what a `Disc` or a DDP's PQ list says.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Per track: number, pregap start (index 00), index 01.., flags, line.
    pub tracks: Vec<TableTrack>,
    /// Lead-out frame.
    pub lead_out: u32,
}

/// One track of a [`Table`].
#[derive(Debug, Clone, PartialEq)]
pub struct TableTrack {
    /// Track number.
    pub number: u8,
    /// Index 00.
    pub pregap: Option<u32>,
    /// Index 01, 02, ….
    pub indexes: Vec<u32>,
    /// Copy permitted.
    pub copy_permitted: bool,
    /// SCMS.
    pub scms: bool,
    /// Line in the album file.
    pub line: Option<usize>,
}

impl Table {
    /// The table of a laid-out disc.
    pub fn of(disc: &Disc) -> Table {
        Table {
            tracks: disc
                .tracks
                .iter()
                .map(|t| TableTrack {
                    number: t.number,
                    pregap: t.pregap,
                    indexes: t.indexes.clone(),
                    copy_permitted: t.flags.copy_permitted,
                    scms: t.flags.scms,
                    line: t.line,
                })
                .collect(),
            lead_out: disc.lead_out,
        }
    }
}

fn secs(frames: u32) -> String {
    format!("{:.2} s", frames as f64 / FRAMES_PER_SECOND as f64)
}

/// The rules on positions and flags.
pub fn check_table(t: &Table) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let n = t.tracks.len();
    if n == 0 || n > 99 {
        out.push(Diagnostic::error(
            None,
            format!("the disc has {n} tracks; the Red Book allows 1 to 99"),
        ));
    }
    for (i, tr) in t.tracks.iter().enumerate() {
        let line = tr.line;
        let num = tr.number;
        if tr.indexes.is_empty() {
            out.push(Diagnostic::error(
                line,
                format!("track {num} has no index 01"),
            ));
            continue;
        }
        if tr.indexes.len() > 99 {
            out.push(Diagnostic::error(
                line,
                format!(
                    "track {num} has {} indexes; the Red Book allows at most 99",
                    tr.indexes.len()
                ),
            ));
        }
        let start = tr.indexes[0];
        let next = t
            .tracks
            .get(i + 1)
            .and_then(|t| t.indexes.first().copied())
            .unwrap_or(t.lead_out);
        let end = t.tracks.get(i + 1).map_or(t.lead_out, |t| {
            t.pregap.or(t.indexes.first().copied()).unwrap_or(0)
        });
        if next < start + MIN_TRACK {
            out.push(Diagnostic::error(
                line,
                format!(
                    "track {num} is {} from index 01 to {}; the Red Book minimum is 4 s",
                    secs(next.saturating_sub(start)),
                    if i + 1 < n {
                        "the next track's index 01"
                    } else {
                        "the lead-out"
                    }
                ),
            ));
        }
        if i == 0 {
            // The disc starts in track 1's pregap even where a PQ list has no index 00 entry.
            let p = tr.pregap.unwrap_or(0);
            if p != 0 || start < FIRST_PAUSE {
                out.push(Diagnostic::error(
                    line,
                    format!(
                        "track 1's pregap is {} ({} frames); the first pause must be at least 2 s (150 frames) from the start of the disc",
                        secs(start),
                        start
                    ),
                ));
            }
        }
        if let Some(p) = tr.pregap {
            if p > start {
                out.push(Diagnostic::error(
                    line,
                    format!(
                        "track {num}: index 00 at {} is after index 01 at {}",
                        Msf(p),
                        Msf(start)
                    ),
                ));
            }
        }
        for (k, w) in tr.indexes.windows(2).enumerate() {
            if w[1] <= w[0] {
                out.push(Diagnostic::error(
                    line,
                    format!(
                        "track {num}: index {:02} at {} is not after index {:02} at {}: indexes must be in order",
                        k + 2,
                        Msf(w[1]),
                        k + 1,
                        Msf(w[0])
                    ),
                ));
            }
        }
        if let Some(&last) = tr.indexes.last() {
            if tr.indexes.len() > 1 && last >= end {
                out.push(Diagnostic::error(
                    line,
                    format!(
                        "track {num}: index {:02} at {} is past the end of the track at {}",
                        tr.indexes.len(),
                        Msf(last),
                        Msf(end)
                    ),
                ));
            }
        }
        if tr.copy_permitted && tr.scms {
            out.push(Diagnostic::error(
                line,
                format!(
                    "track {num}: copy permitted (DCP) and SCMS are both set; SCMS is its own copy rule: set one"
                ),
            ));
        }
    }
    if t.lead_out > MAX_DISC {
        out.push(Diagnostic::error(
            None,
            format!(
                "the disc is {} long, over the 79:57:00 a CD holds",
                Msf(t.lead_out)
            ),
        ));
    } else if t.lead_out > WARN_7938 {
        out.push(Diagnostic::warning(
            None,
            format!(
                "the disc is {} long, past 79:38:00: some plants refuse discs that long",
                Msf(t.lead_out)
            ),
        ));
    } else if t.lead_out > WARN_74 {
        out.push(Diagnostic::warning(
            None,
            format!(
                "the disc is {} long, past 74:00:00: some plants and players question it",
                Msf(t.lead_out)
            ),
        ));
    }
    out
}

/// All rules on a laid-out disc: positions, flags, CD-Text, and the
/// warnings plants question (uneven gaps, mono sources, text given for some
/// tracks only).
pub fn check(disc: &Disc) -> Vec<Diagnostic> {
    let mut out = check_table(&Table::of(disc));
    if let Some(text) = disc.cd_text() {
        if let Err(e) = text.encode() {
            out.push(Diagnostic::error(None, e.to_string()));
        }
    }
    let gaps: Vec<(u8, u32)> = (1..disc.tracks.len())
        .filter(|&i| !disc.is_segue(i))
        .map(|i| (disc.tracks[i].number, disc.gap(i)))
        .collect();
    if let Some(&(_, first)) = gaps.first() {
        if gaps.iter().any(|&(_, g)| g != first) {
            let list: Vec<String> = gaps
                .iter()
                .map(|(n, g)| format!("{n}: {}", secs(*g)))
                .collect();
            out.push(Diagnostic::warning(
                None,
                format!("uneven gaps before tracks ({})", list.join(", ")),
            ));
        }
    }
    for (i, src) in disc.sources.iter().enumerate() {
        if disc.source_info.get(i).is_some_and(|s| s.channels == 1) {
            out.push(Diagnostic::warning(
                src.line,
                format!(
                    "{} is mono: it goes onto the disc as dual mono",
                    src.path.display()
                ),
            ));
        }
    }
    if disc.info.cd_text {
        for f in disc.uneven_text_fields() {
            let missing: Vec<String> = disc
                .tracks
                .iter()
                .filter(|t| !t.text.contains_key(&f))
                .map(|t| t.number.to_string())
                .collect();
            out.push(Diagnostic::warning(
                None,
                format!(
                    "CD-Text {} is given for some tracks but not for track(s) {}: written empty there",
                    f.name(),
                    missing.join(", ")
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(starts: &[u32], lead_out: u32) -> Table {
        Table {
            tracks: starts
                .iter()
                .enumerate()
                .map(|(i, &s)| TableTrack {
                    number: i as u8 + 1,
                    pregap: Some(if i == 0 { 0 } else { s - 150 }),
                    indexes: vec![s],
                    copy_permitted: false,
                    scms: false,
                    line: None,
                })
                .collect(),
            lead_out,
        }
    }

    #[test]
    fn a_good_table_passes() {
        assert!(check_table(&table(&[150, 1000, 2000], 3000)).is_empty());
        // A PQ list without track 1's index 00 entry: the disc still starts in its pregap.
        let mut t = table(&[150, 1000], 2000);
        t.tracks[0].pregap = None;
        assert!(check_table(&t).is_empty());
    }

    #[test]
    fn each_rule_once() {
        let msg = |t: &Table| {
            check_table(t)
                .into_iter()
                .map(|d| d.message)
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert!(msg(&table(&[], 0)).contains("0 tracks"));
        assert!(msg(&table(&[150, 400], 1000)).contains("track 1 is 3.33 s"));
        assert!(msg(&table(&[100, 1000], 2000)).contains("first pause must be at least 2 s"));
        let mut t = table(&[150, 1000], 2000);
        t.tracks[1].indexes = vec![1000, 1500, 1400];
        assert!(msg(&t).contains("index 03 at 00:18:50 is not after index 02"));
        let mut t = table(&[150], 2000);
        t.tracks[0].copy_permitted = true;
        t.tracks[0].scms = true;
        assert!(msg(&t).contains("DCP) and SCMS"));
        assert!(msg(&table(&[150], MAX_DISC + 1)).contains("over the 79:57:00"));
        let w = check_table(&table(&[150], WARN_74 + 1));
        assert_eq!(w[0].severity, crate::album::Severity::Warning);
        let mut t = table(&[150], 2000);
        t.tracks[0].indexes = (0..100).map(|i| 150 + i * 10).collect();
        assert!(msg(&t).contains("100 indexes"));
    }
}
