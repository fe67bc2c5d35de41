//! CD-Text in the lead-in, as 18-byte packs (the `CDTEXT.BIN` of a DDP and
//! the binary `CDTEXTFILE` of a cue sheet): one block, ISO-8859-1, with the
//! three size-information packs at the end.
//!
//! A pack is: type (0x80 title … 0x85 message, 0x87 genre, 0x8f size
//! information), track number of its first character, sequence number,
//! block and character position, 12 bytes of text, CRC-16 (polynomial
//! 0x1021, initial 0, inverted, big-endian) over the first 16 bytes.

use std::collections::BTreeMap;
use thiserror::Error;

/// The bytes of one pack.
pub const PACK_BYTES: usize = 18;
/// Packs one block can hold (size packs included).
pub const MAX_PACKS: usize = 253;
/// The language code of English (the only one rackd writes).
pub const ENGLISH: u8 = 0x09;

/// The text fields a disc or a track can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// 0x80.
    Title,
    /// 0x81.
    Performer,
    /// 0x82.
    Songwriter,
    /// 0x83.
    Composer,
    /// 0x84.
    Arranger,
    /// 0x85.
    Message,
}

impl Field {
    /// All text fields, in pack-type order.
    pub const ALL: [Field; 6] = [
        Field::Title,
        Field::Performer,
        Field::Songwriter,
        Field::Composer,
        Field::Arranger,
        Field::Message,
    ];

    /// The pack type byte.
    pub fn pack_type(self) -> u8 {
        0x80 + self as u8
    }

    /// The name used in album.toml, JSON and cue sheets (lowercase).
    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Performer => "performer",
            Field::Songwriter => "songwriter",
            Field::Composer => "composer",
            Field::Arranger => "arranger",
            Field::Message => "message",
        }
    }

    /// From its name (any case).
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }
}

/// The genre codes of the CD-Text specification, by code.
pub const GENRES: [&str; 29] = [
    "",
    "Not defined",
    "Adult Contemporary",
    "Alternative Rock",
    "Childrens",
    "Classical",
    "Contemporary Christian",
    "Country",
    "Dance",
    "Easy Listening",
    "Erotic",
    "Folk",
    "Gospel",
    "Hip Hop",
    "Jazz",
    "Latin",
    "Musical",
    "New Age",
    "Opera",
    "Operetta",
    "Pop",
    "Rap",
    "Reggae",
    "Rock",
    "Rhythm & Blues",
    "Sound Effects",
    "Soundtrack",
    "Spoken Word",
    "World Music",
];

/// Text of a disc or a track, by field.
pub type Fields = BTreeMap<Field, String>;

/// The CD-Text of a disc: disc fields, one set per track, and the genre.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CdText {
    /// Disc (album) fields.
    pub disc: Fields,
    /// Fields of tracks 1..=N (index 0 is track 1).
    pub tracks: Vec<Fields>,
    /// Genre code (see [`GENRES`]) and supplementary text.
    pub genre: Option<(u16, String)>,
    /// Language code of the block.
    pub language: u8,
}

/// Why CD-Text cannot be written or read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CdTextError {
    /// A character without an ISO-8859-1 form.
    #[error(
        "{what}: {ch:?} (U+{code:04X}) has no ISO-8859-1 form, which CD-Text needs: replace it"
    )]
    NotLatin1 {
        /// Which field.
        what: String,
        /// The character.
        ch: char,
        /// Its code point.
        code: u32,
    },
    /// Too much text for one block.
    #[error(
        "CD-Text needs {packs} packs, more than the {MAX_PACKS} a block holds: shorten the texts (about {over} characters too many)"
    )]
    TooLong {
        /// Packs needed.
        packs: usize,
        /// Characters over, roughly.
        over: usize,
    },
    /// The binary is not a whole number of packs.
    #[error("CD-Text is {0} bytes, not a multiple of 18-byte packs")]
    Truncated(usize),
    /// A pack's CRC does not match.
    #[error("CD-Text pack {index} (type 0x{kind:02X}) has a bad CRC: the file is damaged")]
    Crc {
        /// Pack index.
        index: usize,
        /// Pack type.
        kind: u8,
    },
}

/// UTF-8 → ISO-8859-1 bytes, or the first character that has no form there.
pub fn to_latin1(text: &str, what: &str) -> Result<Vec<u8>, CdTextError> {
    text.chars()
        .map(|c| {
            u8::try_from(c as u32).map_err(|_| CdTextError::NotLatin1 {
                what: what.to_string(),
                ch: c,
                code: c as u32,
            })
        })
        .collect()
}

/// ISO-8859-1 bytes → text.
pub fn from_latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

/// CRC-16/CCITT as CD-Text stores it: polynomial 0x1021, initial 0, inverted.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    !crc
}

impl CdText {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.disc.is_empty() && self.tracks.iter().all(BTreeMap::is_empty) && self.genre.is_none()
    }

    /// The packs of one block (English unless `language` says otherwise).
    pub fn encode(&self) -> Result<Vec<u8>, CdTextError> {
        let language = if self.language == 0 {
            ENGLISH
        } else {
            self.language
        };
        let mut packs: Vec<[u8; 16]> = Vec::new();
        let mut counts = [0usize; 16];
        for field in Field::ALL {
            let any = self.disc.contains_key(&field)
                || self.tracks.iter().any(|t| t.contains_key(&field));
            if !any {
                continue;
            }
            // (byte, track, offset in its string) for every byte of the stream.
            let mut stream: Vec<(u8, u8, usize)> = Vec::new();
            for t in 0..=self.tracks.len() {
                let fields = if t == 0 {
                    &self.disc
                } else {
                    &self.tracks[t - 1]
                };
                let what = if t == 0 {
                    format!("disc {}", field.name())
                } else {
                    format!("track {t} {}", field.name())
                };
                let text = to_latin1(fields.get(&field).map_or("", String::as_str), &what)?;
                for (i, b) in text.iter().chain(std::iter::once(&0)).enumerate() {
                    stream.push((*b, t as u8, i));
                }
            }
            for chunk in stream.chunks(12) {
                let mut p = [0u8; 16];
                p[0] = field.pack_type();
                p[1] = chunk[0].1;
                p[3] = chunk[0].2.min(15) as u8;
                for (i, c) in chunk.iter().enumerate() {
                    p[4 + i] = c.0;
                }
                packs.push(p);
                counts[field as usize] += 1;
            }
        }
        if let Some((code, text)) = &self.genre {
            let mut bytes = code.to_be_bytes().to_vec();
            bytes.extend(to_latin1(text, "genre")?);
            bytes.push(0);
            for (i, chunk) in bytes.chunks(12).enumerate() {
                let mut p = [0u8; 16];
                p[0] = 0x87;
                p[3] = (i * 12).min(15) as u8;
                p[4..4 + chunk.len()].copy_from_slice(chunk);
                packs.push(p);
                counts[7] += 1;
            }
        }
        let total = packs.len() + 3;
        if total > MAX_PACKS {
            return Err(CdTextError::TooLong {
                packs: total,
                over: (total - MAX_PACKS) * 12,
            });
        }
        counts[15] = 3;
        let counts = counts.map(|c| c as u8);
        let mut size = [0u8; 36];
        size[0] = 0x00; // ISO-8859-1
        size[1] = 1;
        size[2] = self.tracks.len() as u8;
        size[4..20].copy_from_slice(&counts);
        size[20] = (total - 1) as u8;
        size[28] = language;
        for i in 0..3 {
            let mut p = [0u8; 16];
            p[0] = 0x8f;
            p[1] = i as u8;
            p[4..16].copy_from_slice(&size[i * 12..i * 12 + 12]);
            packs.push(p);
        }
        let mut out = Vec::with_capacity(packs.len() * PACK_BYTES);
        for (seq, mut p) in packs.into_iter().enumerate() {
            p[2] = seq as u8;
            out.extend_from_slice(&p);
            out.extend_from_slice(&crc16(&p).to_be_bytes());
        }
        Ok(out)
    }

    /// Reads the packs of block 0 back into text; any other blocks are
    /// ignored. A pack with a bad CRC is an error (the file is damaged).
    pub fn decode(bytes: &[u8]) -> Result<CdText, CdTextError> {
        if bytes.len() % PACK_BYTES != 0 {
            return Err(CdTextError::Truncated(bytes.len()));
        }
        let mut streams: BTreeMap<u8, (u8, Vec<u8>)> = BTreeMap::new();
        let mut text = CdText::default();
        let mut last_track = 0u8;
        for (index, p) in bytes.chunks_exact(PACK_BYTES).enumerate() {
            if crc16(&p[..16]) != u16::from_be_bytes([p[16], p[17]]) {
                return Err(CdTextError::Crc { index, kind: p[0] });
            }
            if (p[3] >> 4) & 7 != 0 {
                continue;
            }
            match p[0] {
                0x80..=0x87 => {
                    let s = streams.entry(p[0]).or_insert((p[1] & 0x7f, Vec::new()));
                    s.1.extend_from_slice(&p[4..16]);
                }
                0x8f if p[1] == 0 => {
                    last_track = p[6];
                }
                0x8f if p[1] == 2 => {
                    text.language = p[8];
                }
                _ => {}
            }
        }
        for (kind, (first_track, data)) in streams {
            if kind == 0x87 {
                if data.len() >= 2 {
                    let code = u16::from_be_bytes([data[0], data[1]]);
                    let rest = &data[2..];
                    let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
                    text.genre = Some((code, from_latin1(&rest[..end])));
                }
                continue;
            }
            let field = Field::ALL[(kind - 0x80) as usize];
            let mut track = first_track as usize;
            let mut previous = String::new();
            let mut parts = data.split(|&b| b == 0).peekable();
            while let Some(part) = parts.next() {
                // The last part is the padding after the final terminator.
                if parts.peek().is_none() {
                    break;
                }
                let s = if part == b"\t" {
                    previous.clone()
                } else {
                    from_latin1(part)
                };
                if last_track > 0 && track > last_track as usize {
                    break;
                }
                if track == 0 {
                    text.disc.insert(field, s.clone());
                } else if track <= 99 {
                    if text.tracks.len() < track {
                        text.tracks.resize(track, Fields::new());
                    }
                    text.tracks[track - 1].insert(field, s.clone());
                }
                previous = s;
                track += 1;
            }
        }
        if text.tracks.len() < last_track as usize {
            text.tracks.resize(last_track as usize, Fields::new());
        }
        if last_track == 0 {
            while text
                .tracks
                .last()
                .is_some_and(|t| t.values().all(String::is_empty))
            {
                text.tracks.pop();
            }
        }
        // Fields written empty where a track had none carry nothing.
        text.disc.retain(|_, v| !v.is_empty());
        for t in &mut text.tracks {
            t.retain(|_, v| !v.is_empty());
        }
        Ok(text)
    }
}

/// The genre code for a name (any case), if the list has it.
pub fn genre_code(name: &str) -> Option<u16> {
    GENRES
        .iter()
        .position(|g| !g.is_empty() && g.eq_ignore_ascii_case(name))
        .map(|i| i as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CdText {
        let mut t = CdText::default();
        t.disc.insert(Field::Title, "Disc".into());
        t.disc.insert(Field::Performer, "Artist".into());
        for name in ["Track One", "Track Two", "Track Three"] {
            let mut f = Fields::new();
            f.insert(Field::Title, name.into());
            f.insert(Field::Performer, "Artist".into());
            t.tracks.push(f);
        }
        t
    }

    #[test]
    fn packs_laid_out_as_the_format_says() {
        let bytes = sample().encode().unwrap();
        assert_eq!(bytes.len() % 18, 0);
        let packs: Vec<&[u8]> = bytes.chunks(18).collect();
        // Titles: "Disc\0Track One\0Track Two\0Track Three\0" = 37 bytes → 4 packs.
        assert_eq!(packs.len(), 4 + 3 + 3);
        assert_eq!(&packs[0][..4], &[0x80, 0, 0, 0]);
        assert_eq!(&packs[0][4..16], b"Disc\0Track O");
        // Pack 1 starts at "ne" of track 1's title (character 7).
        assert_eq!(&packs[1][..4], &[0x80, 1, 1, 7]);
        // Pack 2 starts at track 2's terminator (character 9).
        assert_eq!(&packs[2][..4], &[0x80, 2, 2, 9]);
        assert_eq!(&packs[3][..4], &[0x80, 3, 3, 11]);
        // Size information: 4 title packs, 3 performer packs, 3 size packs, last seq 9, English.
        let size: Vec<u8> = packs[7..].iter().flat_map(|p| p[4..16].to_vec()).collect();
        assert_eq!(&size[..6], &[0, 1, 3, 0, 4, 3]);
        assert_eq!(size[19], 3);
        assert_eq!(size[20], 9);
        assert_eq!(size[28], ENGLISH);
    }

    #[test]
    fn round_trip_and_crc() {
        let mut t = sample();
        t.genre = Some((20, "Indie".into()));
        t.tracks[1].insert(Field::Composer, "Zoë".into());
        let bytes = t.encode().unwrap();
        let back = CdText::decode(&bytes).unwrap();
        assert_eq!(back.disc, t.disc);
        assert_eq!(back.tracks, t.tracks);
        assert_eq!(back.genre, t.genre);
        let mut bad = bytes.clone();
        bad[5] ^= 1;
        assert!(matches!(
            CdText::decode(&bad),
            Err(CdTextError::Crc { index: 0, .. })
        ));
    }

    #[test]
    fn refuses_what_latin1_cannot_carry_and_overlong_text() {
        let mut t = sample();
        t.tracks[0].insert(Field::Title, "Ω".into());
        let e = t.encode().unwrap_err().to_string();
        assert!(e.contains("track 1 title") && e.contains("U+03A9"), "{e}");
        let mut t = sample();
        t.disc.insert(Field::Message, "x".repeat(3100));
        assert!(matches!(t.encode(), Err(CdTextError::TooLong { .. })));
    }

    #[test]
    fn crc_of_a_known_pack() {
        // CRC-16/XMODEM of "123456789" is 0x31C3; CD-Text stores it inverted.
        assert_eq!(crc16(b"123456789"), !0x31C3);
    }
}
