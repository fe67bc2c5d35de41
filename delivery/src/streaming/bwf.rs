//! Broadcast WAVE headers for the streaming masters (EBU Tech 3285 v2):
//! `fmt `, `bext` (description, originator, date and time, time
//! reference, coding history, and the loudness fields), `axml` with the
//! ISRC as EBU Tech 3352 carries it (an EBUCore `dc:identifier`
//! `ISRC:CCXXXYYNNNNN`), a `LIST`/`INFO` with title, artist and album for
//! players, and the `data` chunk header. Not `INFO`/`ISRC`, which in RIFF
//! means "source" and says nothing about the recording.
//!
//! The header's sizes are exact before any sample is written (the track's
//! length is known); the loudness fields are patched in once the track has
//! been measured, at [`Header::loudness_offset`].

use crate::codes::Isrc;

/// Sample formats a streaming master can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    /// 24-bit integer PCM.
    Pcm24,
    /// 32-bit IEEE float (keeps anything above full scale).
    Float32,
}

impl SampleFormat {
    /// Bytes per sample.
    pub fn bytes(self) -> usize {
        match self {
            SampleFormat::Pcm24 => 3,
            SampleFormat::Float32 => 4,
        }
    }

    /// Bits per sample.
    pub fn bits(self) -> u16 {
        self.bytes() as u16 * 8
    }
}

/// The loudness fields of `bext` version 2, in their units (stored × 100).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BextLoudness {
    /// Integrated loudness, LUFS.
    pub integrated: f64,
    /// Loudness range, LU.
    pub range: f64,
    /// Highest true peak, dBTP.
    pub max_true_peak: f64,
    /// Highest momentary loudness, LUFS.
    pub max_momentary: f64,
    /// Highest short-term loudness, LUFS.
    pub max_short_term: f64,
}

/// "Not set" for a loudness field (Tech 3285 v2).
pub const LOUDNESS_UNSET: i16 = 0x7fff;

fn centi(v: f64) -> i16 {
    if v.is_finite() {
        (v * 100.0).round().clamp(-32_767.0, 32_766.0) as i16
    } else {
        LOUDNESS_UNSET
    }
}

impl BextLoudness {
    /// The ten bytes at [`Header::loudness_offset`].
    pub fn to_bytes(&self) -> [u8; 10] {
        let mut b = [0u8; 10];
        for (i, v) in [
            self.integrated,
            self.range,
            self.max_true_peak,
            self.max_momentary,
            self.max_short_term,
        ]
        .into_iter()
        .enumerate()
        {
            b[i * 2..i * 2 + 2].copy_from_slice(&centi(v).to_le_bytes());
        }
        b
    }
}

/// What goes into a streaming master's header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// Hz.
    pub rate: u32,
    /// Sample format.
    pub format: SampleFormat,
    /// Stereo sample frames in the data chunk.
    pub frames: u64,
    /// `bext` Description (ASCII, 256 at most).
    pub description: String,
    /// `bext` OriginationDate, `yyyy-mm-dd`.
    pub date: String,
    /// `bext` OriginationTime, `hh:mm:ss`.
    pub time: String,
    /// `bext` TimeReference: the first sample's position in samples (here:
    /// from the album's first track, so a DAW lays the files out as the album).
    pub time_reference: u64,
    /// `bext` CodingHistory lines (without line ends).
    pub coding_history: Vec<String>,
    /// The recording's ISRC, for `axml`.
    pub isrc: Option<Isrc>,
    /// Title, artist, album for `LIST`/`INFO` (INAM, IART, IPRD), and the
    /// track number (ITRK).
    pub info: Vec<([u8; 4], String)>,
}

/// Why a header cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BwfError {
    /// The audio does not fit RIFF's 32-bit sizes.
    #[error(
        "{0} bytes of audio do not fit a WAV file (4 GiB at most): choose a lower --rate or split the track"
    )]
    TooLong(u64),
}

/// The `bext` Originator.
pub const ORIGINATOR: &str = "rackd";

/// Text for a fixed ASCII field: non-ASCII characters become `?`, cut to `len`.
fn ascii(text: &str, len: usize) -> Vec<u8> {
    let mut b: Vec<u8> = text
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c as u8
            } else {
                b'?'
            }
        })
        .take(len)
        .collect();
    b.resize(len, 0);
    b
}

fn chunk(out: &mut Vec<u8>, id: &[u8; 4], body: &[u8]) {
    out.extend_from_slice(id);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    if body.len() % 2 == 1 {
        out.push(0);
    }
}

/// The `axml` body: EBUCore with the ISRC as Tech 3352 writes it.
pub fn axml(isrc: &Isrc) -> String {
    format!(
        concat!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
            "<ebuCoreMain xmlns=\"urn:ebu:metadata-schema:ebuCore_2012\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n",
            "  <coreMetadata>\n",
            "    <identifier typeLabel=\"GUID\" typeDefinition=\"Globally Unique Identifier\" formatLabel=\"ISRC\" ",
            "formatDefinition=\"International Standard Recording Code\" ",
            "formatLink=\"http://www.ebu.ch/metadata/cs/ebu_IdentifierFormatCodeCS.xml#3.7\">\n",
            "      <dc:identifier>ISRC:{}</dc:identifier>\n",
            "    </identifier>\n",
            "  </coreMetadata>\n",
            "</ebuCoreMain>\n"
        ),
        isrc.as_str()
    )
}

/// Size of `bext` before the coding history.
const BEXT_FIXED: usize = 602;
/// Offset of LoudnessValue inside `bext`'s body.
const BEXT_LOUDNESS: usize = 256 + 32 + 32 + 10 + 8 + 8 + 2 + 64;

impl Header {
    /// Bytes of audio.
    pub fn data_len(&self) -> u64 {
        self.frames * 2 * self.format.bytes() as u64
    }

    /// Everything up to the first sample, and the file offset of the ten
    /// loudness bytes (written as "not set" here).
    pub fn encode(&self) -> Result<(Vec<u8>, u64), BwfError> {
        let mut body = Vec::with_capacity(4096);
        body.extend_from_slice(b"WAVE");
        // fmt: PCM (tag 1) or IEEE float (tag 3, with cbSize).
        let block = 2 * self.format.bytes() as u16;
        let mut fmt = Vec::new();
        let tag: u16 = match self.format {
            SampleFormat::Pcm24 => 1,
            SampleFormat::Float32 => 3,
        };
        fmt.extend_from_slice(&tag.to_le_bytes());
        fmt.extend_from_slice(&2u16.to_le_bytes());
        fmt.extend_from_slice(&self.rate.to_le_bytes());
        fmt.extend_from_slice(&(self.rate * block as u32).to_le_bytes());
        fmt.extend_from_slice(&block.to_le_bytes());
        fmt.extend_from_slice(&self.format.bits().to_le_bytes());
        if self.format == SampleFormat::Float32 {
            fmt.extend_from_slice(&0u16.to_le_bytes());
        }
        chunk(&mut body, b"fmt ", &fmt);
        if self.format == SampleFormat::Float32 {
            let frames = u32::try_from(self.frames).unwrap_or(u32::MAX);
            chunk(&mut body, b"fact", &frames.to_le_bytes());
        }
        // bext version 2.
        let mut bext = Vec::with_capacity(BEXT_FIXED + 256);
        bext.extend(ascii(&self.description, 256));
        bext.extend(ascii(ORIGINATOR, 32));
        bext.extend(ascii("", 32));
        bext.extend(ascii(&self.date, 10));
        bext.extend(ascii(&self.time, 8));
        bext.extend_from_slice(&self.time_reference.to_le_bytes());
        bext.extend_from_slice(&2u16.to_le_bytes());
        bext.extend_from_slice(&[0u8; 64]);
        debug_assert_eq!(bext.len(), BEXT_LOUDNESS);
        for _ in 0..5 {
            bext.extend_from_slice(&LOUDNESS_UNSET.to_le_bytes());
        }
        bext.extend_from_slice(&[0u8; 180]);
        debug_assert_eq!(bext.len(), BEXT_FIXED);
        for line in &self.coding_history {
            bext.extend(
                line.chars()
                    .map(|c| if c.is_ascii() { c as u8 } else { b'?' }),
            );
            bext.extend_from_slice(b"\r\n");
        }
        let loudness_at = body.len() + 8 + 8 + BEXT_LOUDNESS;
        chunk(&mut body, b"bext", &bext);
        if let Some(isrc) = &self.isrc {
            chunk(&mut body, b"axml", axml(isrc).as_bytes());
        }
        if !self.info.is_empty() {
            let mut list = b"INFO".to_vec();
            for (id, text) in &self.info {
                let mut t = text.as_bytes().to_vec();
                t.push(0);
                chunk(&mut list, id, &t);
            }
            chunk(&mut body, b"LIST", &list);
        }
        let data = self.data_len();
        let riff = body.len() as u64 + 8 + data;
        if riff > u32::MAX as u64 {
            return Err(BwfError::TooLong(data));
        }
        body.extend_from_slice(b"data");
        body.extend_from_slice(&(data as u32).to_le_bytes());
        let mut out = Vec::with_capacity(body.len() + 8);
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(riff as u32).to_le_bytes());
        out.extend_from_slice(&body);
        Ok((out, loudness_at as u64))
    }
}

/// Appends stereo frames in the master's format (24-bit values are already
/// integers on the 24-bit grid, as [`super::Quantizer`] makes them).
pub fn push_samples(format: SampleFormat, left: &[f32], right: &[f32], out: &mut Vec<u8>) {
    out.reserve(left.len() * 2 * format.bytes());
    for (l, r) in left.iter().zip(right) {
        for x in [*l, *r] {
            match format {
                SampleFormat::Float32 => out.extend_from_slice(&x.to_le_bytes()),
                SampleFormat::Pcm24 => {
                    let v = (x as f64 * 8_388_608.0)
                        .round()
                        .clamp(-8_388_608.0, 8_388_607.0) as i32;
                    out.extend_from_slice(&v.to_le_bytes()[..3]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(format: SampleFormat) -> Header {
        Header {
            rate: 96_000,
            format,
            frames: 1000,
            description: "01 Intro - Night Drive - The Examples".into(),
            date: "2026-12-02".into(),
            time: "05:30:00".into(),
            time_reference: 12_345,
            coding_history: vec!["A=PCM,F=96000,W=24,M=stereo,T=rackd".into()],
            isrc: Some(Isrc::parse("USS1Z2600001").unwrap().0),
            info: vec![(*b"INAM", "Intro".into())],
        }
    }

    fn chunks(b: &[u8]) -> Vec<(String, usize, usize)> {
        let mut v = Vec::new();
        let mut at = 12;
        while at + 8 <= b.len() {
            let id = String::from_utf8_lossy(&b[at..at + 4]).into_owned();
            let size = u32::from_le_bytes(b[at + 4..at + 8].try_into().unwrap()) as usize;
            v.push((id.clone(), at + 8, size));
            if id == "data" {
                break;
            }
            at += 8 + size + size % 2;
        }
        v
    }

    #[test]
    fn layout_by_the_spec_offsets() {
        let (b, loud) = header(SampleFormat::Pcm24).encode().unwrap();
        let c = chunks(&b);
        let ids: Vec<&str> = c.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(ids, ["fmt ", "bext", "axml", "LIST", "data"]);
        let (_, bext, size) = c[1].clone();
        assert_eq!(size, 602 + "A=PCM,F=96000,W=24,M=stereo,T=rackd\r\n".len());
        // Version at 346, TimeReference at 338, loudness at 412 (Tech 3285 v2 table).
        assert_eq!(u16::from_le_bytes([b[bext + 346], b[bext + 347]]), 2);
        assert_eq!(
            u64::from_le_bytes(b[bext + 338..bext + 346].try_into().unwrap()),
            12_345
        );
        assert_eq!(loud as usize, bext + 412);
        assert_eq!(&b[bext + 256..bext + 261], b"rackd");
        assert_eq!(&b[bext + 320..bext + 330], b"2026-12-02");
        // RIFF size counts the data to come.
        let riff = u32::from_le_bytes(b[4..8].try_into().unwrap()) as usize;
        assert_eq!(riff, b.len() - 8 + 1000 * 6);
        assert_eq!(c[4].2, 6000);
        let l = BextLoudness {
            integrated: -14.123,
            range: 5.0,
            max_true_peak: -1.05,
            max_momentary: f64::NEG_INFINITY,
            max_short_term: -12.0,
        }
        .to_bytes();
        assert_eq!(i16::from_le_bytes([l[0], l[1]]), -1412);
        assert_eq!(i16::from_le_bytes([l[4], l[5]]), -105);
        assert_eq!(i16::from_le_bytes([l[6], l[7]]), 0x7fff);
    }

    #[test]
    fn float_masters_have_fact_and_an_18_byte_fmt() {
        let (b, _) = header(SampleFormat::Float32).encode().unwrap();
        let c = chunks(&b);
        assert_eq!(c[0].2, 18);
        assert_eq!(c[1].0, "fact");
        assert_eq!(u16::from_le_bytes([b[20], b[21]]), 3);
    }

    #[test]
    fn too_long_is_refused() {
        let mut h = header(SampleFormat::Float32);
        h.frames = 600_000_000;
        assert!(matches!(h.encode(), Err(BwfError::TooLong(_))));
    }
}
