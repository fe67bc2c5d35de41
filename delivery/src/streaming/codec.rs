//! The lossy codecs of the previews: what each service-like encode is
//! (encoder, bit rate, sample rate), the delay each encoder puts before the
//! audio, and where the encoded file records it.
//!
//! A decoder's raw output starts with the encoder's delay: AAC priming
//! (1024 samples from ffmpeg's native encoder, written to the MP4 edit
//! list), Opus pre-skip (312 samples at 48 kHz from libopus, in the
//! `OpusHead`), MP3 encoder delay (576 from LAME, in the LAME tag) plus the
//! MP3 decoder's own 529. The preview reads the figure from the file it
//! made (falling back to the encoder's known value), decodes without the
//! decoder trimming anything, and removes exactly that many samples, so the
//! decoded audio lines up with the master to the sample.

/// A codec of the previews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Codec {
    /// AAC-LC at 256 kbit/s (Apple Music's AAC), ffmpeg's native encoder, in MP4.
    Aac,
    /// Opus at 160 kbit/s (YouTube's music streams), libopus, in Ogg.
    Opus,
    /// MP3 at 320 kbit/s (downloads, Amazon's MP3s), LAME.
    Mp3,
}

/// MP3 decoders output 528 + 1 samples before the encoder's delay.
pub const MP3_DECODER_DELAY: u64 = 529;

/// How many leading samples of the decoder's output are not audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delay {
    /// Samples at the codec's rate.
    pub samples: u64,
    /// Read from the file's header (else the encoder's known figure).
    pub from_file: bool,
}

impl Codec {
    /// All of them, in report order.
    pub const ALL: [Codec; 3] = [Codec::Aac, Codec::Opus, Codec::Mp3];

    /// From `aac`, `opus` or `mp3`.
    pub fn from_name(name: &str) -> Option<Codec> {
        match name.trim().to_ascii_lowercase().as_str() {
            "aac" | "m4a" => Some(Codec::Aac),
            "opus" => Some(Codec::Opus),
            "mp3" => Some(Codec::Mp3),
            _ => None,
        }
    }

    /// `aac,opus,mp3` → codecs in report order; an unknown name is an error naming it.
    pub fn parse_list(list: &str) -> Result<Vec<Codec>, String> {
        let mut v = Vec::new();
        for part in list.split(',').filter(|p| !p.trim().is_empty()) {
            match Codec::from_name(part) {
                Some(c) if !v.contains(&c) => v.push(c),
                Some(_) => {}
                None => {
                    return Err(format!(
                        "unknown codec {:?} in --previews: aac, opus or mp3",
                        part.trim()
                    ));
                }
            }
        }
        if v.is_empty() {
            return Err("--previews needs at least one of aac, opus, mp3".into());
        }
        v.sort();
        Ok(v)
    }

    /// Short name (file names, JSON).
    pub fn id(self) -> &'static str {
        match self {
            Codec::Aac => "aac",
            Codec::Opus => "opus",
            Codec::Mp3 => "mp3",
        }
    }

    /// Name for people.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Aac => "AAC",
            Codec::Opus => "Opus",
            Codec::Mp3 => "MP3",
        }
    }

    /// The ffmpeg encoder.
    pub fn encoder(self) -> &'static str {
        match self {
            Codec::Aac => "aac",
            Codec::Opus => "libopus",
            Codec::Mp3 => "libmp3lame",
        }
    }

    /// kbit/s.
    pub fn kbps(self) -> u32 {
        match self {
            Codec::Aac => 256,
            Codec::Opus => 160,
            Codec::Mp3 => 320,
        }
    }

    /// The rate the service encodes at: 44.1 kHz for AAC and MP3 (what
    /// Apple's and the stores' encodes are), 48 kHz for Opus (its only
    /// full-band rate).
    pub fn rate(self) -> u32 {
        match self {
            Codec::Aac | Codec::Mp3 => 44_100,
            Codec::Opus => 48_000,
        }
    }

    /// File extension of the encoded preview.
    pub fn extension(self) -> &'static str {
        match self {
            Codec::Aac => "m4a",
            Codec::Opus => "opus",
            Codec::Mp3 => "mp3",
        }
    }

    /// ffmpeg arguments after the input: the encode into its container.
    pub fn encode_args(self) -> Vec<String> {
        let mut v: Vec<String> = ["-c:a", self.encoder(), "-b:a"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.push(format!("{}k", self.kbps()));
        match self {
            Codec::Aac => v.extend(["-f", "mp4"].map(String::from)),
            Codec::Opus => v.extend(["-f", "ogg"].map(String::from)),
            Codec::Mp3 => v.extend(["-f", "mp3", "-id3v2_version", "0"].map(String::from)),
        }
        v
    }

    /// The delay the encoder is known to add (what the header should say).
    pub fn nominal_delay(self) -> u64 {
        match self {
            Codec::Aac => 1024,
            Codec::Opus => 312,
            Codec::Mp3 => 576 + MP3_DECODER_DELAY,
        }
    }

    /// What the delay is called.
    pub fn delay_name(self) -> &'static str {
        match self {
            Codec::Aac => "AAC priming (MP4 edit list)",
            Codec::Opus => "Opus pre-skip (OpusHead)",
            Codec::Mp3 => "MP3 encoder delay (LAME tag) + 529 decoder delay",
        }
    }

    /// The delay of an encoded file: read from its header, or the encoder's figure.
    pub fn delay(self, file: &[u8]) -> Delay {
        let read = match self {
            Codec::Aac => mp4_priming(file),
            Codec::Opus => opus_pre_skip(file),
            Codec::Mp3 => lame_delay(file).map(|(d, _)| d + MP3_DECODER_DELAY),
        };
        match read {
            Some(samples) => Delay {
                samples,
                from_file: true,
            },
            None => Delay {
                samples: self.nominal_delay(),
                from_file: false,
            },
        }
    }
}

/// Ogg Opus: the pre-skip of the `OpusHead` in the first page.
pub fn opus_pre_skip(file: &[u8]) -> Option<u64> {
    if file.get(..4)? != b"OggS" {
        return None;
    }
    let segments = *file.get(26)? as usize;
    let p = 27 + segments;
    if file.get(p..p + 8)? != b"OpusHead" {
        return None;
    }
    Some(u16::from_le_bytes([*file.get(p + 10)?, *file.get(p + 11)?]) as u64)
}

/// MP3: the encoder delay and padding of the LAME tag in the first frame's
/// Xing/Info header (after an ID3v2 tag if there is one).
pub fn lame_delay(file: &[u8]) -> Option<(u64, u64)> {
    let mut i = 0;
    if file.get(..3)? == b"ID3" {
        let s = file.get(6..10)?;
        let size = ((s[0] as usize) << 21)
            | ((s[1] as usize) << 14)
            | ((s[2] as usize) << 7)
            | s[3] as usize;
        i = 10 + size + if file.get(5)? & 0x10 != 0 { 10 } else { 0 };
    }
    let h = file.get(i..i + 4)?;
    if h[0] != 0xff || h[1] & 0xe0 != 0xe0 {
        return None;
    }
    let mpeg1 = (h[1] >> 3) & 3 == 3;
    let mono = (h[3] >> 6) & 3 == 3;
    let side = match (mpeg1, mono) {
        (true, true) => 17,
        (true, false) => 32,
        (false, true) => 9,
        (false, false) => 17,
    };
    let x = i + 4 + side;
    let tag = file.get(x..x + 4)?;
    if tag != b"Xing" && tag != b"Info" {
        return None;
    }
    let flags = u32::from_be_bytes(file.get(x + 4..x + 8)?.try_into().ok()?);
    let mut o = x + 8;
    for (bit, len) in [(1, 4), (2, 4), (4, 100), (8, 4)] {
        if flags & bit != 0 {
            o += len;
        }
    }
    let d = file.get(o + 21..o + 24)?;
    let delay = ((d[0] as u64) << 4) | (d[1] as u64 >> 4);
    let padding = (((d[1] & 0x0f) as u64) << 8) | d[2] as u64;
    Some((delay, padding))
}

/// MP4: the media time of the audio track's first edit (`moov/trak/edts/elst`),
/// the priming the decoder's output starts with.
pub fn mp4_priming(file: &[u8]) -> Option<u64> {
    fn boxes(data: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
        let mut at = 0usize;
        std::iter::from_fn(move || {
            let h = data.get(at..at + 8)?;
            let mut size = u32::from_be_bytes(h[..4].try_into().ok()?) as usize;
            let mut head = 8;
            if size == 1 {
                size = u64::from_be_bytes(data.get(at + 8..at + 16)?.try_into().ok()?) as usize;
                head = 16;
            } else if size == 0 {
                size = data.len() - at;
            }
            if size < head || at.checked_add(size).is_none_or(|end| end > data.len()) {
                return None;
            }
            let kind = &data[at + 4..at + 8];
            let body = &data[at + head..at + size];
            at += size;
            Some((kind, body))
        })
    }
    let child = |data: &'_ [u8], kind: &[u8]| -> Option<Vec<u8>> {
        boxes(data)
            .find(|(k, _)| *k == kind)
            .map(|(_, b)| b.to_vec())
    };
    let moov = child(file, b"moov")?;
    for (k, trak) in boxes(&moov) {
        if k != b"trak" {
            continue;
        }
        let Some(edts) = child(trak, b"edts") else {
            continue;
        };
        let elst = child(&edts, b"elst")?;
        let version = *elst.first()?;
        let count = u32::from_be_bytes(elst.get(4..8)?.try_into().ok()?);
        let entry = if version == 1 { 20 } else { 12 };
        for e in 0..count as usize {
            let at = 8 + e * entry;
            let media_time = if version == 1 {
                i64::from_be_bytes(elst.get(at + 8..at + 16)?.try_into().ok()?)
            } else {
                i32::from_be_bytes(elst.get(at + 4..at + 8)?.try_into().ok()?) as i64
            };
            if media_time >= 0 {
                return Some(media_time as u64);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fbox(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn names_and_lists() {
        assert_eq!(
            Codec::parse_list("mp3, aac,opus,aac").unwrap(),
            [Codec::Aac, Codec::Opus, Codec::Mp3]
        );
        assert!(
            Codec::parse_list("aac,vorbis")
                .unwrap_err()
                .contains("vorbis")
        );
        assert!(Codec::parse_list("").is_err());
    }

    #[test]
    fn opus_head_pre_skip() {
        let mut f = b"OggS".to_vec();
        f.resize(26, 0);
        f.push(1);
        f.push(19);
        f.extend_from_slice(b"OpusHead\x01\x02");
        f.extend_from_slice(&312u16.to_le_bytes());
        f.extend_from_slice(&[0; 7]);
        assert_eq!(opus_pre_skip(&f), Some(312));
        assert_eq!(Codec::Opus.delay(&f).samples, 312);
        assert_eq!(
            Codec::Opus.delay(b"nope"),
            Delay {
                samples: 312,
                from_file: false
            }
        );
    }

    #[test]
    fn lame_tag_delay_after_an_id3_tag() {
        // ID3v2 of 5 bytes, an MPEG-1 stereo frame header, 32 bytes side info,
        // "Info" with frames+bytes flags, then the LAME extension.
        let mut f = b"ID3\x04\x00\x00\x00\x00\x00\x05".to_vec();
        f.extend_from_slice(&[0; 5]);
        f.extend_from_slice(&[0xff, 0xfb, 0x90, 0x00]);
        f.extend_from_slice(&[0; 32]);
        f.extend_from_slice(b"Info");
        f.extend_from_slice(&3u32.to_be_bytes());
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(b"Lavc59.37");
        f.extend_from_slice(&[0; 12]);
        // delay 576 (0x240), padding 1080 (0x438): 24 0 | 4 38
        f.extend_from_slice(&[0x24, 0x04, 0x38]);
        f.extend_from_slice(&[0; 20]);
        assert_eq!(lame_delay(&f), Some((576, 1080)));
        assert_eq!(Codec::Mp3.delay(&f).samples, 1105);
    }

    #[test]
    fn mp4_edit_list_media_time() {
        let elst = {
            let mut b = vec![0, 0, 0, 0];
            b.extend_from_slice(&1u32.to_be_bytes());
            b.extend_from_slice(&88_200u32.to_be_bytes());
            b.extend_from_slice(&1024i32.to_be_bytes());
            b.extend_from_slice(&[0, 1, 0, 0]);
            fbox(b"elst", &b)
        };
        let trak = fbox(
            b"trak",
            &[fbox(b"tkhd", &[0; 8]), fbox(b"edts", &elst)].concat(),
        );
        let file = [
            fbox(b"ftyp", b"M4A "),
            fbox(b"mdat", &[0; 16]),
            fbox(b"moov", &[fbox(b"mvhd", &[0; 4]), trak].concat()),
        ]
        .concat();
        assert_eq!(mp4_priming(&file), Some(1024));
        assert_eq!(mp4_priming(&file[..20]), None);
    }
}
