//! `rackd ddp info`: the disc as the plant will read it, as text or JSON.
//!
//! JSON schema `rackd-ddp/1` (fields are added, never changed or removed):
//!
//! ```text
//! {
//!   "schema": "rackd-ddp/1",
//!   "level": "DDP 2.00",
//!   "upc": "4006381333931" | null,          // from DDPID, else the PQ lead-in
//!   "master_id": string | null,
//!   "user_text": string | null,
//!   "lead_out": 123456,                      // frame; 0 = first sector of the image
//!   "length": "MM:SS:FF",                    // the lead-out as disc time
//!   "tracks": [{
//!     "number": 1,
//!     "isrc": "USS1Z2600001" | null,
//!     "flags": { "pre_emphasis": bool, "copy_permitted": bool, "scms": bool },
//!     "start": 150,                          // index 01, frame
//!     "pregap_frames": 150,                  // index 00 to index 01 (0: none)
//!     "length_frames": 18000,                // index 01 to the next index 01 / lead-out
//!     "indexes": [{ "number": 0, "frame": 0 }, { "number": 1, "frame": 150 }, …],
//!     "cd_text": { "title": "…", "performer": "…", … }   // by field name, {} when none
//!   }, …],
//!   "cd_text": null | {                      // null: the DDP has no CD-Text stream
//!     "disc": { "title": "…", … },
//!     "genre": { "code": 20, "text": "…" } | null,
//!     "language": 9
//!   },
//!   "streams": [{ "type": "D0", "file": "IMAGE.DAT", "sub": null | "PQ DESCR" | "CDTEXT",
//!                 "length": 123456, "start": 0, "pre_gap": 150, "bytes": 290368512 | null }],
//!   "notes": [string]                        // what the reader accepted (a second lead-out, …)
//! }
//! ```

use super::Ddp;
use crate::cdtext::Fields;
use crate::frames::Msf;
use serde_json::{Value, json};

fn fields(f: &Fields) -> Value {
    Value::Object(
        f.iter()
            .map(|(k, v)| (k.name().to_string(), Value::String(v.clone())))
            .collect(),
    )
}

/// The `rackd-ddp/1` document; `size` gives a stream file's size in bytes.
pub fn json(ddp: &Ddp, size: &dyn Fn(&str) -> Option<u64>) -> Value {
    let tracks: Vec<Value> = ddp
        .tracks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let (start, next) = ddp.span(i);
            let mut indexes = Vec::new();
            if let Some(p) = t.pregap {
                indexes.push(json!({"number": 0, "frame": p}));
            }
            for (k, f) in t.indexes.iter().enumerate() {
                indexes.push(json!({"number": k + 1, "frame": f}));
            }
            let text = ddp
                .cd_text
                .as_ref()
                .and_then(|c| c.tracks.get(i))
                .map_or(json!({}), fields);
            json!({
                "number": t.number,
                "isrc": t.isrc,
                "flags": {
                    "pre_emphasis": t.flags.pre_emphasis,
                    "copy_permitted": t.flags.copy_permitted,
                    "scms": t.flags.scms,
                },
                "start": start,
                "pregap_frames": t.pregap.map_or(0, |p| start.saturating_sub(p)),
                "length_frames": next.saturating_sub(start),
                "indexes": indexes,
                "cd_text": text,
            })
        })
        .collect();
    let cd_text = ddp.cd_text.as_ref().map(|c| {
        json!({
            "disc": fields(&c.disc),
            "genre": c.genre.as_ref().map(|(code, text)| json!({"code": code, "text": text})),
            "language": c.language,
        })
    });
    let streams: Vec<Value> = ddp
        .map
        .iter()
        .map(|m| {
            json!({
                "type": m.kind,
                "file": m.file,
                "sub": m.sub,
                "length": m.length,
                "start": m.start,
                "pre_gap": m.pre2,
                "bytes": size(&m.file),
            })
        })
        .collect();
    json!({
        "schema": "rackd-ddp/1",
        "level": ddp.identity.level,
        "upc": ddp.upc,
        "master_id": ddp.identity.master_id,
        "user_text": ddp.identity.user_text,
        "lead_out": ddp.lead_out,
        "length": Msf(ddp.lead_out).to_string(),
        "tracks": tracks,
        "cd_text": cd_text,
        "streams": streams,
        "notes": ddp.notes,
    })
}

/// The same as a table for a terminal.
pub fn text(ddp: &Ddp, size: &dyn Fn(&str) -> Option<u64>) -> String {
    let mut s = String::new();
    let line = |s: &mut String, t: String| {
        s.push_str(&t);
        s.push('\n');
    };
    line(
        &mut s,
        format!(
            "{}  UPC/EAN {}  master id {}  length {} ({} frames)",
            ddp.identity.level,
            ddp.upc.as_deref().unwrap_or("-"),
            ddp.identity.master_id.as_deref().unwrap_or("-"),
            Msf(ddp.lead_out),
            ddp.lead_out
        ),
    );
    if let Some(c) = &ddp.cd_text {
        for (k, v) in &c.disc {
            line(&mut s, format!("  disc {}: {v}", k.name()));
        }
        if let Some((code, text)) = &c.genre {
            let name = crate::cdtext::GENRES
                .get(*code as usize)
                .copied()
                .unwrap_or("?");
            line(&mut s, format!("  genre: {name} {text}"));
        }
    } else {
        line(&mut s, "  no CD-Text".into());
    }
    line(
        &mut s,
        " trk idx  start     frame       length    ISRC             flags  CD-Text".into(),
    );
    for (i, t) in ddp.tracks.iter().enumerate() {
        let (start, next) = ddp.span(i);
        let mut all: Vec<(usize, u32)> = Vec::new();
        if let Some(p) = t.pregap {
            all.push((0, p));
        }
        all.extend(t.indexes.iter().enumerate().map(|(k, f)| (k + 1, *f)));
        for (k, f) in all {
            let first = k == 1;
            let text = ddp
                .cd_text
                .as_ref()
                .and_then(|c| c.tracks.get(i))
                .map(|f| {
                    f.iter()
                        .map(|(k, v)| format!("{}={v}", k.name()))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            line(
                &mut s,
                format!(
                    " {:>3} {:>3}  {}  {:>8}  {:>11}  {:<15}  {:<5}  {}",
                    t.number,
                    format!("{k:02}"),
                    Msf(f),
                    f,
                    if first {
                        Msf(next.saturating_sub(start)).to_string()
                    } else {
                        String::new()
                    },
                    if first {
                        t.isrc
                            .as_deref()
                            .and_then(|i| crate::codes::Isrc::parse(i).ok())
                            .map_or("-".into(), |(i, _)| i.dashed())
                    } else {
                        String::new()
                    },
                    if first {
                        t.flags.names().join(",")
                    } else {
                        String::new()
                    },
                    if first { text } else { String::new() }
                ),
            );
        }
    }
    line(
        &mut s,
        format!(" lead-out  {}  {:>8}", Msf(ddp.lead_out), ddp.lead_out),
    );
    line(&mut s, "streams:".into());
    for m in &ddp.map {
        line(
            &mut s,
            format!(
                "  {} {:<17} {:<8} length {:>9} start {} pre-gap {}  {}",
                m.kind,
                m.file,
                m.sub.as_deref().unwrap_or(""),
                m.length,
                m.start,
                m.pre2,
                size(&m.file).map_or("missing".into(), |b| format!("{b} bytes"))
            ),
        );
    }
    for n in &ddp.notes {
        line(&mut s, format!("note: {n}"));
    }
    s
}
