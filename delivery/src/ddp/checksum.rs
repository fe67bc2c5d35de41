//! Checksum files found next to DDPs. rackd writes `CHECKSUM.MD5` in
//! `md5sum` format; the reader takes the files other tools write too
//! (`MD5_CHECKSUM.MD5` with CRLF, `MD5-Checksum.md5`, `Checksum.chk`, plain
//! `md5sum` output, BSD `MD5 (name) = hash`, `name=hash`, `name hash`):
//! any line with one 32-digit hex word and a file name.

use md5::{Digest, Md5};
use std::io::{self, Write};

/// An MD5 of one file, as lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// File name as written in the checksum file.
    pub file: String,
    /// 32 hex digits, lowercase.
    pub md5: String,
}

/// Whether a file name looks like a checksum file (checked without case).
pub fn is_checksum_file(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with(".md5") || n.ends_with(".chk") || n == "checksum.txt" || n == "md5sum.txt"
}

/// The entries of a checksum file; lines with nothing recognizable are skipped.
pub fn parse(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for raw in text.lines() {
        let line = raw.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        // BSD: MD5 (name) = hash
        if let Some(rest) = line.strip_prefix("MD5 (") {
            if let Some((name, hash)) = rest.rsplit_once(") = ") {
                if is_md5(hash.trim()) {
                    out.push(Entry {
                        file: name.to_string(),
                        md5: hash.trim().to_ascii_lowercase(),
                    });
                }
            }
            continue;
        }
        let words: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == '=' || c == ',' || c == ';' || c == '\t')
            .filter(|w| !w.is_empty())
            .collect();
        let Some(pos) = words.iter().position(|w| is_md5(w)) else {
            continue;
        };
        let md5 = words[pos].to_ascii_lowercase();
        let name = if pos == 0 {
            // md5sum: "hash  name" or "hash *name"; the name may have spaces.
            let after = line[line.find(words[0]).unwrap_or(0) + 32..].trim_start();
            after.trim_start_matches('*').trim().to_string()
        } else {
            words[..pos].join(" ").trim_end_matches(':').to_string()
        };
        if !name.is_empty() {
            out.push(Entry { file: name, md5 });
        }
    }
    out
}

fn is_md5(w: &str) -> bool {
    w.len() == 32 && w.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Lines in `md5sum` format for `entries` (`md5sum -c` reads them).
pub fn format(entries: &[Entry]) -> String {
    entries
        .iter()
        .map(|e| format!("{} *{}\n", e.md5, e.file))
        .collect()
}

/// A writer that passes bytes on and hashes them.
pub struct HashingWriter<W: Write> {
    inner: W,
    hash: Md5,
    /// Bytes written.
    pub bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hash: Md5::new(),
            bytes: 0,
        }
    }

    /// The writer back and the MD5 as hex.
    pub fn finish(self) -> (W, String) {
        (self.inner, hex(&self.hash.finalize()))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// MD5 of everything `r` gives, as hex.
pub fn md5_of(r: &mut dyn io::Read) -> io::Result<String> {
    let mut h = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// MD5 of bytes, as hex.
pub fn md5_bytes(b: &[u8]) -> String {
    hex(&Md5::digest(b))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_formats_other_tools_write() {
        let h = "d41d8cd98f00b204e9800998ecf8427e";
        let up = h.to_ascii_uppercase();
        let cases = [
            format!("{h}  IMAGE.DAT\n"),
            format!("{h} *IMAGE.DAT\n"),
            format!("{up} *IMAGE.DAT\r\n"),
            format!("MD5 (IMAGE.DAT) = {h}\n"),
            format!("IMAGE.DAT={h}\n"),
            format!("; comment\r\nIMAGE.DAT {up}\r\n"),
            format!("IMAGE.DAT: {h}\n"),
        ];
        for c in cases {
            assert_eq!(
                parse(&c),
                vec![Entry {
                    file: "IMAGE.DAT".into(),
                    md5: h.into()
                }],
                "{c:?}"
            );
        }
        assert_eq!(md5_bytes(b""), h);
        assert_eq!(
            parse(&format(&parse(&format!("{h}  a b.wav\n"))))[0].file,
            "a b.wav"
        );
    }
}
