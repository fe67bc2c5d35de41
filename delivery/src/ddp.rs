//! DDP 2.00 for audio CDs, written and read.
//!
//! The layout follows what the widely used writers agree on (the DCA
//! specification is licensed; the field map here comes from public
//! reverse-engineering work and readers of other tools' images):
//!
//! - `DDPID` (128 bytes): level `DDP 2.00` at 0, UPC/EAN at 8 (13), map
//!   stream start at 21 (8), length at 29 (8), media number at 37, master
//!   id at 38 (48), book at 86, type `CD` at 87, sides and layers at 89–92,
//!   then a 2-digit user-text length and the text, at 93 (the CD layout)
//!   or at 97 (writers that fill the DVD fields first).
//! - `DDPMS`: one 128-byte `VVVM` packet per stream: type at 4 (`D0` main
//!   data, `S0` subcode), pointer 6 (8), length 14 (8; sectors for `D0`,
//!   bytes otherwise), start 22 (8), subcode descriptor 30 (8, `PQ DESCR`
//!   or `CDTEXT`), CD mode 38 (`DA`), storage mode 40, scrambled 41,
//!   pre-gap part 1 at 42 (4), part 2 (the first pause in the stream, 150)
//!   at 46 (4), post-gap 50 (4), media 54, track 55 (2), index 57 (2),
//!   ISRC 59 (12), name length 71 (3, `017`), file name 74 (17), then
//!   next-track pre-gap, pause to add and file offset fields.
//! - `PQDESCR`: 64-byte `VVVS` packets: track at 4 (`00` lead-in, `AA`
//!   lead-out), index 6, time hh:mm:ss:ff at 8 (4 × 2 digits, absolute, frame
//!   0 = the first sector of the image), control at 16 (hex control nibble,
//!   then `1`, or `S` for SCMS), 18 (reserved), ISRC 20 (12), UPC/EAN 32
//!   (13), user text 45 (19).
//! - `IMAGE.DAT`: headerless 16-bit little-endian stereo, 2352-byte
//!   sectors, from the first sector of the first pause to the lead-out.
//! - `CDTEXT.BIN`: the lead-in CD-Text packs ([`crate::cdtext`]).
//!
//! Numbers are written zero-padded and text space-padded; the reader takes
//! numbers padded either way.

pub mod checksum;
pub mod info;

use crate::album::{Diagnostic, Disc, Flags};
use crate::cdtext::{CdText, CdTextError};
use crate::frames::{BYTES_PER_FRAME, FIRST_PAUSE, Msf};
use crate::redbook;
use thiserror::Error;

/// The identification file.
pub const DDPID: &str = "DDPID";
/// The map stream.
pub const DDPMS: &str = "DDPMS";
/// The PQ descriptor rackd writes.
pub const PQDESCR: &str = "PQDESCR";
/// The main data rackd writes.
pub const IMAGE: &str = "IMAGE.DAT";
/// The CD-Text rackd writes.
pub const CDTEXT: &str = "CDTEXT.BIN";
/// The checksum file rackd writes (`md5sum -c` format).
pub const CHECKSUM: &str = "CHECKSUM.MD5";

const ID_LEN: usize = 128;
const MAP_LEN: usize = 128;
const PQ_LEN: usize = 64;

/// Why a DDP cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DdpError {
    /// A file is not what its format says.
    #[error("{file}: {message}")]
    Format {
        /// The DDP file.
        file: String,
        /// What is wrong, at which offset.
        message: String,
    },
    /// A file the map stream names is missing or unreadable.
    #[error("{file}: {message}")]
    Missing {
        /// The file.
        file: String,
        /// Why it could not be read.
        message: String,
    },
    /// The CD-Text stream is damaged.
    #[error("{file}: {source}")]
    CdText {
        /// The file.
        file: String,
        /// What is wrong.
        source: CdTextError,
    },
}

fn format_err(file: &str, message: impl Into<String>) -> DdpError {
    DdpError::Format {
        file: file.to_string(),
        message: message.into(),
    }
}

/// A text field: trimmed, `None` when blank.
fn text_at(b: &[u8], at: usize, len: usize) -> Option<String> {
    let s: String = b
        .get(at..at + len)?
        .iter()
        .map(|&c| if c == 0 { ' ' } else { c as char })
        .collect();
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// A number field padded with spaces or zeros; `Ok(None)` when blank.
fn num_at(
    file: &str,
    b: &[u8],
    at: usize,
    len: usize,
    what: &str,
) -> Result<Option<u64>, DdpError> {
    match text_at(b, at, len) {
        None => Ok(None),
        Some(s) => s
            .parse::<u64>()
            .map(Some)
            .map_err(|_| format_err(file, format!("{what} at byte {at} is {s:?}, not a number"))),
    }
}

fn put(buf: &mut [u8], at: usize, len: usize, text: &str) {
    let b = text.as_bytes();
    let n = b.len().min(len);
    buf[at..at + n].copy_from_slice(&b[..n]);
}

fn put_num(buf: &mut [u8], at: usize, len: usize, v: u64) {
    put(buf, at, len, &format!("{v:0len$}"));
}

/// The identification file's fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    /// `DDP 2.00`.
    pub level: String,
    /// UPC/EAN.
    pub upc: Option<String>,
    /// Master id.
    pub master_id: Option<String>,
    /// `CD`.
    pub disc_type: Option<String>,
    /// Free text.
    pub user_text: Option<String>,
}

impl Identity {
    /// The 128 bytes of `DDPID`.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![b' '; ID_LEN];
        put(&mut b, 0, 8, &self.level);
        put(&mut b, 8, 13, self.upc.as_deref().unwrap_or(""));
        put(&mut b, 38, 48, self.master_id.as_deref().unwrap_or(""));
        put(&mut b, 87, 2, self.disc_type.as_deref().unwrap_or("CD"));
        if let Some(t) = &self.user_text {
            let t = &t[..t.len().min(33)];
            put_num(&mut b, 93, 2, t.len() as u64);
            put(&mut b, 95, 33, t);
        }
        b
    }

    /// Reads `DDPID`; the user text is looked for at both places writers put it.
    pub fn decode(b: &[u8]) -> Result<Identity, DdpError> {
        if b.len() < ID_LEN {
            return Err(format_err(
                DDPID,
                format!("{} bytes, the identification file has 128", b.len()),
            ));
        }
        let level = text_at(b, 0, 8).unwrap_or_default();
        if !level.starts_with("DDP") {
            return Err(format_err(
                DDPID,
                format!(
                    "level is {level:?}, not \"DDP 2.00\": this is not a DDP identification file"
                ),
            ));
        }
        let text_at_len = |at: usize, max: usize| -> Option<String> {
            let n = text_at(b, at, 2)?.parse::<usize>().ok()?;
            (n > 0 && n <= max).then(|| text_at(b, at + 2, n)).flatten()
        };
        Ok(Identity {
            level,
            upc: text_at(b, 8, 13),
            master_id: text_at(b, 38, 48),
            disc_type: text_at(b, 87, 2),
            user_text: text_at_len(93, 33).or_else(|| text_at_len(97, 29)),
        })
    }
}

/// One stream of the map.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MapEntry {
    /// `D0`, `S0`, ….
    pub kind: String,
    /// Data stream pointer.
    pub pointer: u64,
    /// Length: sectors for main data, bytes otherwise (either is accepted).
    pub length: u64,
    /// Start sector on the disc.
    pub start: u64,
    /// Subcode descriptor (`PQ DESCR`, `CDTEXT`).
    pub sub: Option<String>,
    /// CD mode (`DA`).
    pub cd_mode: Option<String>,
    /// Pause in the stream before track 1 (pre-gap part 2).
    pub pre2: u64,
    /// File name.
    pub file: String,
}

impl MapEntry {
    fn encode(&self) -> [u8; MAP_LEN] {
        let mut b = [b' '; MAP_LEN];
        put(&mut b, 0, 4, "VVVM");
        put(&mut b, 4, 2, &self.kind);
        put_num(&mut b, 6, 8, self.pointer);
        put_num(&mut b, 14, 8, self.length);
        put_num(&mut b, 22, 8, self.start);
        put(&mut b, 30, 8, self.sub.as_deref().unwrap_or(""));
        if self.kind == "D0" {
            put(&mut b, 38, 2, self.cd_mode.as_deref().unwrap_or("DA"));
            put(&mut b, 40, 1, "0");
            put(&mut b, 41, 1, "0");
            put_num(&mut b, 42, 4, 0);
            put_num(&mut b, 46, 4, self.pre2);
            put_num(&mut b, 50, 4, 0);
            put_num(&mut b, 99, 8, 0);
            put_num(&mut b, 107, 9, 0);
        }
        put_num(&mut b, 71, 3, 17);
        put(&mut b, 74, 17, &self.file);
        b
    }

    fn decode(b: &[u8], index: usize) -> Result<MapEntry, DdpError> {
        let what = |f: &str| format!("stream {} {f}", index + 1);
        if &b[..4] != b"VVVM" {
            return Err(format_err(
                DDPMS,
                format!(
                    "packet {} at byte {} does not start with VVVM",
                    index + 1,
                    index * MAP_LEN
                ),
            ));
        }
        let name_len = num_at(DDPMS, b, 71, 3, &what("name length"))?.unwrap_or(17) as usize;
        let file = text_at(b, 74, name_len.clamp(1, 54)).unwrap_or_default();
        Ok(MapEntry {
            kind: text_at(b, 4, 2).unwrap_or_default(),
            pointer: num_at(DDPMS, b, 6, 8, &what("pointer"))?.unwrap_or(0),
            length: num_at(DDPMS, b, 14, 8, &what("length"))?.unwrap_or(0),
            start: num_at(DDPMS, b, 22, 8, &what("start"))?.unwrap_or(0),
            sub: text_at(b, 30, 8),
            cd_mode: text_at(b, 38, 2),
            pre2: num_at(DDPMS, b, 46, 4, &what("pre-gap"))?.unwrap_or(0),
            file,
        })
    }
}

/// Where a PQ entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PqTrack {
    /// `00`.
    LeadIn,
    /// 1..=99.
    Track(u8),
    /// `AA`.
    LeadOut,
}

/// One PQ descriptor entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PqEntry {
    /// Track.
    pub track: PqTrack,
    /// Index.
    pub index: u8,
    /// Absolute frame.
    pub frame: u32,
    /// Control nibble (pre-emphasis bit 0, copy bit 1).
    pub control: u8,
    /// SCMS.
    pub scms: bool,
    /// ISRC.
    pub isrc: Option<String>,
    /// UPC/EAN.
    pub upc: Option<String>,
}

impl PqEntry {
    fn encode(&self) -> [u8; PQ_LEN] {
        let mut b = [b' '; PQ_LEN];
        put(&mut b, 0, 4, "VVVS");
        let track = match self.track {
            PqTrack::LeadIn => "00".to_string(),
            PqTrack::Track(n) => format!("{n:02}"),
            PqTrack::LeadOut => "AA".to_string(),
        };
        put(&mut b, 4, 2, &track);
        put_num(&mut b, 6, 2, self.index as u64);
        let (m, s, f) = Msf(self.frame).parts();
        put(&mut b, 8, 8, &format!("00{m:02}{s:02}{f:02}"));
        put(
            &mut b,
            16,
            2,
            &format!("{:X}{}", self.control, if self.scms { 'S' } else { '1' }),
        );
        put(&mut b, 18, 2, "00");
        put(&mut b, 20, 12, self.isrc.as_deref().unwrap_or(""));
        put(&mut b, 32, 13, self.upc.as_deref().unwrap_or(""));
        b
    }

    fn decode(file: &str, b: &[u8], index: usize) -> Result<PqEntry, DdpError> {
        let at = index * PQ_LEN;
        if &b[..4] != b"VVVS" {
            return Err(format_err(
                file,
                format!("entry {} at byte {at} does not start with VVVS", index + 1),
            ));
        }
        let what = |f: &str| format!("entry {} {f}", index + 1);
        let track = match text_at(b, 4, 2).as_deref() {
            Some("AA") | Some("aa") => PqTrack::LeadOut,
            Some(t) => match t.parse::<u8>() {
                Ok(0) => PqTrack::LeadIn,
                Ok(n) if n <= 99 => PqTrack::Track(n),
                _ => {
                    return Err(format_err(
                        file,
                        format!(
                            "entry {} at byte {at}: track {t:?} is not 00..99 or AA",
                            index + 1
                        ),
                    ));
                }
            },
            None => {
                return Err(format_err(
                    file,
                    format!("entry {} at byte {at} has no track number", index + 1),
                ));
            }
        };
        let idx = num_at(file, b, 6, 2, &what("index"))?.unwrap_or(0);
        let hh = num_at(file, b, 8, 2, &what("hours"))?.unwrap_or(0);
        let mm = num_at(file, b, 10, 2, &what("minutes"))?.unwrap_or(0);
        let ss = num_at(file, b, 12, 2, &what("seconds"))?.unwrap_or(0);
        let ff = num_at(file, b, 14, 2, &what("frames"))?.unwrap_or(0);
        if idx > 99 || ss >= 60 || ff >= 75 {
            return Err(format_err(
                file,
                format!(
                    "entry {} at byte {at}: index {idx} time {hh:02}:{mm:02}:{ss:02}:{ff:02} is out of range",
                    index + 1
                ),
            ));
        }
        let ctrl = text_at(b, 16, 2).unwrap_or_default();
        let mut chars = ctrl.chars();
        let control = chars.next().and_then(|c| c.to_digit(16)).unwrap_or(0) as u8;
        let scms = matches!(chars.next(), Some('S' | 's'));
        Ok(PqEntry {
            track,
            index: idx as u8,
            frame: (((hh * 60 + mm) * 60 + ss) * 75 + ff) as u32,
            control,
            scms,
            isrc: text_at(b, 20, 12),
            upc: text_at(b, 32, 13),
        })
    }
}

/// A track as the PQ list describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DdpTrack {
    /// Number.
    pub number: u8,
    /// Index 00, relative to the image (0 = its first sector).
    pub pregap: Option<u32>,
    /// Index 01.. relative to the image.
    pub indexes: Vec<u32>,
    /// ISRC.
    pub isrc: Option<String>,
    /// Flags.
    pub flags: Flags,
}

/// A DDP as read (or about to be written).
#[derive(Debug, Clone, PartialEq)]
pub struct Ddp {
    /// DDPID.
    pub identity: Identity,
    /// DDPMS.
    pub map: Vec<MapEntry>,
    /// The PQ entries as stored.
    pub pq: Vec<PqEntry>,
    /// The track table derived from them.
    pub tracks: Vec<DdpTrack>,
    /// Lead-out relative to the image.
    pub lead_out: u32,
    /// The disc's UPC (from DDPID or the PQ lead-in).
    pub upc: Option<String>,
    /// CD-Text, when the DDP has a CD-Text stream.
    pub cd_text: Option<CdText>,
    /// Absolute frame of the image's first sector.
    pub image_start: u32,
    /// What the reader had to accept (a second lead-out entry, …).
    pub notes: Vec<String>,
}

impl Ddp {
    /// The main data stream.
    pub fn image(&self) -> Option<&MapEntry> {
        self.map.iter().find(|m| m.kind == "D0")
    }

    /// The stream the PQ descriptor is in.
    pub fn pq_stream(&self) -> Option<&MapEntry> {
        self.map.iter().find(|m| {
            m.kind == "S0"
                && m.sub
                    .as_deref()
                    .is_some_and(|s| s.replace(' ', "").eq_ignore_ascii_case("PQDESCR"))
        })
    }

    /// The CD-Text stream.
    pub fn cd_text_stream(&self) -> Option<&MapEntry> {
        self.map.iter().find(|m| {
            m.sub
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("CDTEXT"))
        })
    }

    /// What rackd writes for `disc`: the identification, the map, the PQ
    /// list. `cd_text_len` is the size of the CD-Text stream, 0 for none.
    pub fn of_disc(disc: &Disc, cd_text_len: usize, user_text: &str) -> Ddp {
        let upc = disc.info.upc.as_ref().map(|u| u.as_str().to_string());
        let mut pq = Vec::new();
        let first = disc.tracks.first().map(|t| t.flags).unwrap_or_default();
        pq.push(PqEntry {
            track: PqTrack::LeadIn,
            index: 0,
            frame: 0,
            control: first.control(),
            scms: first.scms,
            isrc: None,
            upc: upc.clone(),
        });
        for t in &disc.tracks {
            let isrc = t.isrc.as_ref().map(|i| i.as_str().to_string());
            let entry = |index: u8, frame: u32, isrc: Option<String>| PqEntry {
                track: PqTrack::Track(t.number),
                index,
                frame,
                control: t.flags.control(),
                scms: t.flags.scms,
                isrc,
                upc: None,
            };
            if let Some(p) = t.pregap {
                pq.push(entry(0, p, isrc.clone()));
            }
            for (k, &f) in t.indexes.iter().enumerate() {
                pq.push(entry(
                    k as u8 + 1,
                    f,
                    if k == 0 { isrc.clone() } else { None },
                ));
            }
        }
        let last = disc.tracks.last().map(|t| t.flags).unwrap_or_default();
        pq.push(PqEntry {
            track: PqTrack::LeadOut,
            index: 1,
            frame: disc.lead_out,
            control: last.control(),
            scms: last.scms,
            isrc: None,
            upc: None,
        });
        let mut map = vec![
            MapEntry {
                kind: "D0".into(),
                length: disc.lead_out as u64,
                cd_mode: Some("DA".into()),
                pre2: FIRST_PAUSE as u64,
                file: IMAGE.into(),
                ..MapEntry::default()
            },
            MapEntry {
                kind: "S0".into(),
                length: (pq.len() * PQ_LEN) as u64,
                sub: Some("PQ DESCR".into()),
                file: PQDESCR.into(),
                ..MapEntry::default()
            },
        ];
        if cd_text_len > 0 {
            map.push(MapEntry {
                kind: "S0".into(),
                length: cd_text_len as u64,
                sub: Some("CDTEXT".into()),
                file: CDTEXT.into(),
                ..MapEntry::default()
            });
        }
        let tracks = derive_tracks(&pq, 0).0;
        Ddp {
            identity: Identity {
                level: "DDP 2.00".into(),
                upc: upc.clone(),
                master_id: disc.info.master_id.clone(),
                disc_type: Some("CD".into()),
                user_text: Some(user_text.to_string()),
            },
            map,
            tracks,
            lead_out: disc.lead_out,
            upc,
            cd_text: disc.cd_text(),
            image_start: 0,
            pq,
            notes: Vec::new(),
        }
    }

    /// The bytes of `DDPID`, `DDPMS` and the PQ descriptor, by file name.
    pub fn encode(&self) -> Vec<(String, Vec<u8>)> {
        let mut ms = Vec::new();
        for m in &self.map {
            ms.extend_from_slice(&m.encode());
        }
        let mut pq = Vec::new();
        for e in &self.pq {
            pq.extend_from_slice(&e.encode());
        }
        let pq_name = self
            .pq_stream()
            .map_or(PQDESCR.to_string(), |m| m.file.clone());
        vec![
            (DDPID.to_string(), self.identity.encode()),
            (DDPMS.to_string(), ms),
            (pq_name, pq),
        ]
    }

    /// Reads a DDP. `read` returns the bytes of a file of the DDP by the
    /// name the map gives (the caller matches names without regard to case).
    /// The image itself is not read here, only its size through `size`.
    pub fn read(read: &mut dyn FnMut(&str) -> Result<Vec<u8>, String>) -> Result<Ddp, DdpError> {
        let missing = |file: &str, message: String| DdpError::Missing {
            file: file.to_string(),
            message,
        };
        let id = read(DDPID).map_err(|e| missing(DDPID, e))?;
        let identity = Identity::decode(&id)?;
        let ms = read(DDPMS).map_err(|e| missing(DDPMS, e))?;
        if ms.is_empty() || ms.len() % MAP_LEN != 0 {
            return Err(format_err(
                DDPMS,
                format!("{} bytes, not a whole number of 128-byte packets", ms.len()),
            ));
        }
        let map = ms
            .chunks_exact(MAP_LEN)
            .enumerate()
            .map(|(i, b)| MapEntry::decode(b, i))
            .collect::<Result<Vec<_>, _>>()?;
        let mut ddp = Ddp {
            identity,
            map,
            pq: Vec::new(),
            tracks: Vec::new(),
            lead_out: 0,
            upc: None,
            cd_text: None,
            image_start: 0,
            notes: Vec::new(),
        };
        let image = ddp
            .image()
            .cloned()
            .ok_or_else(|| format_err(DDPMS, "no D0 main data stream: nothing to press"))?;
        ddp.image_start = image.start as u32;
        let pq_entry = ddp
            .pq_stream()
            .cloned()
            .ok_or_else(|| format_err(DDPMS, "no S0 stream with a PQ DESCR subcode descriptor"))?;
        let pq = read(&pq_entry.file).map_err(|e| missing(&pq_entry.file, e))?;
        if pq.is_empty() || pq.len() % PQ_LEN != 0 {
            return Err(format_err(
                &pq_entry.file,
                format!("{} bytes, not a whole number of 64-byte entries", pq.len()),
            ));
        }
        ddp.pq = pq
            .chunks_exact(PQ_LEN)
            .enumerate()
            .map(|(i, b)| PqEntry::decode(&pq_entry.file, b, i))
            .collect::<Result<Vec<_>, _>>()?;
        let (tracks, lead_out, notes) = derive_tracks(&ddp.pq, ddp.image_start);
        ddp.notes = notes;
        ddp.tracks = tracks;
        ddp.lead_out =
            lead_out.ok_or_else(|| format_err(&pq_entry.file, "no lead-out (track AA) entry"))?;
        ddp.upc = ddp
            .identity
            .upc
            .clone()
            .or_else(|| ddp.pq.iter().find_map(|e| e.upc.clone()));
        if let Some(ct) = ddp.cd_text_stream().cloned() {
            let bytes = read(&ct.file).map_err(|e| missing(&ct.file, e))?;
            ddp.cd_text = Some(CdText::decode(&bytes).map_err(|source| DdpError::CdText {
                file: ct.file.clone(),
                source,
            })?);
        }
        Ok(ddp)
    }

    /// The checks `rackd ddp verify` runs on the tables (sizes and checksums
    /// are the caller's, who has the files): PQ consistency and the Red Book.
    pub fn check(&self, image_bytes: u64) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let image_name = self.image().map_or(IMAGE.to_string(), |m| m.file.clone());
        if image_bytes % BYTES_PER_FRAME as u64 != 0 {
            out.push(Diagnostic::error(
                None,
                format!(
                    "{image_name}: {image_bytes} bytes is not a whole number of 2352-byte sectors"
                ),
            ));
        }
        let sectors = image_bytes / BYTES_PER_FRAME as u64;
        if let Some(m) = self.image() {
            if m.length != sectors && m.length != image_bytes {
                out.push(Diagnostic::error(
                    None,
                    format!(
                        "{image_name}: {sectors} sectors, but DDPMS says {}",
                        m.length
                    ),
                ));
            }
        }
        if sectors != self.lead_out as u64 {
            out.push(Diagnostic::error(
                None,
                format!(
                    "{image_name}: {sectors} sectors, but the PQ lead-out is at {} ({})",
                    self.lead_out,
                    Msf(self.lead_out)
                ),
            ));
        }
        for (i, t) in self.tracks.iter().enumerate() {
            if t.number as usize != i + 1 {
                out.push(Diagnostic::error(
                    None,
                    format!(
                        "PQ: track {} follows track {i}: tracks must count 1, 2, 3…",
                        t.number
                    ),
                ));
            }
            if let Some(isrc) = &t.isrc {
                if crate::codes::Isrc::parse(isrc).is_err() {
                    out.push(Diagnostic::error(
                        None,
                        format!("PQ: track {}: ISRC {isrc:?} is not CCXXXYYNNNNN", t.number),
                    ));
                }
            }
        }
        if let Some(u) = &self.upc {
            if let Err(e) = crate::codes::Upc::parse(u) {
                out.push(Diagnostic::error(None, e.to_string()));
            }
        }
        out.extend(redbook::check_table(&self.table()));
        out
    }

    /// The disc this DDP describes (tables and text, no clips), for writing
    /// a cue sheet or a TOC of its image.
    pub fn to_disc(&self) -> Disc {
        let text = self.cd_text.clone().unwrap_or_default();
        Disc {
            info: crate::album::DiscInfo {
                text: text.disc.clone(),
                genre: text.genre.clone(),
                upc: self
                    .upc
                    .as_deref()
                    .and_then(|u| crate::codes::Upc::parse(u).ok()),
                master_id: self.identity.master_id.clone(),
                language: text.language,
                cd_text: self.cd_text.is_some(),
                noise_shaping: false,
                date: None,
            },
            sources: Vec::new(),
            source_info: Vec::new(),
            clips: Vec::new(),
            tracks: self
                .tracks
                .iter()
                .enumerate()
                .map(|(i, t)| crate::album::DiscTrack {
                    number: t.number,
                    pregap: t.pregap,
                    indexes: t.indexes.clone(),
                    isrc: t
                        .isrc
                        .as_deref()
                        .and_then(|i| crate::codes::Isrc::parse(i).ok())
                        .map(|(i, _)| i),
                    flags: t.flags,
                    text: text.tracks.get(i).cloned().unwrap_or_default(),
                    line: None,
                })
                .collect(),
            lead_out: self.lead_out,
        }
    }

    /// Index 01 of track `i` (0-based) and where it ends: the next track's
    /// index 01, or the lead-out.
    pub fn span(&self, i: usize) -> (u32, u32) {
        let start = self.tracks[i].indexes.first().copied().unwrap_or(0);
        let next = self
            .tracks
            .get(i + 1)
            .and_then(|t| t.indexes.first().copied())
            .unwrap_or(self.lead_out);
        (start, next)
    }

    /// The table the Red Book rules look at.
    pub fn table(&self) -> redbook::Table {
        redbook::Table {
            tracks: self
                .tracks
                .iter()
                .map(|t| redbook::TableTrack {
                    number: t.number,
                    pregap: t.pregap,
                    indexes: t.indexes.clone(),
                    copy_permitted: t.flags.copy_permitted,
                    scms: t.flags.scms,
                    line: None,
                })
                .collect(),
            lead_out: self.lead_out,
        }
    }
}

/// Tracks from PQ entries: indexes by track, frames made relative to the
/// image, the lead-out (the first `AA` entry; a second one that agrees is
/// accepted), and notes on what had to be accepted.
fn derive_tracks(pq: &[PqEntry], offset: u32) -> (Vec<DdpTrack>, Option<u32>, Vec<String>) {
    let mut tracks: Vec<DdpTrack> = Vec::new();
    let mut lead_out = None;
    let mut notes = Vec::new();
    let rel = |f: u32| f.saturating_sub(offset);
    for e in pq {
        match e.track {
            PqTrack::LeadIn => {}
            PqTrack::LeadOut => match lead_out {
                None => lead_out = Some(rel(e.frame)),
                Some(l) if l == rel(e.frame) => {
                    notes.push("the lead-out is given twice (same time)".to_string())
                }
                Some(l) => notes.push(format!(
                    "a second lead-out entry at {} differs from the first at {}; the first is used",
                    Msf(rel(e.frame)),
                    Msf(l)
                )),
            },
            PqTrack::Track(n) => {
                if tracks.last().is_none_or(|t| t.number != n) {
                    tracks.push(DdpTrack {
                        number: n,
                        pregap: None,
                        indexes: Vec::new(),
                        isrc: None,
                        flags: Flags::default(),
                    });
                }
                let t = tracks.last_mut().expect("pushed");
                if t.isrc.is_none() {
                    t.isrc = e.isrc.clone();
                }
                if e.index == 0 {
                    t.pregap = Some(rel(e.frame));
                } else {
                    if e.index == 1 {
                        t.flags = Flags {
                            pre_emphasis: e.control & 1 != 0,
                            copy_permitted: e.control & 2 != 0,
                            scms: e.scms,
                        };
                    }
                    // Some writers repeat an entry; keep one per index.
                    if e.index as usize > t.indexes.len() {
                        t.indexes.push(rel(e.frame));
                    }
                }
            }
        }
    }
    (tracks, lead_out, notes)
}
