//! cdrdao TOC files: the same disc as the cue sheet, for `cdrdao write`,
//! with CD-Text and ISRCs. The `.bin` is little-endian, so every `FILE`
//! says `SWAP` (raw files are big-endian to cdrdao).

use crate::album::Disc;
use crate::cdtext::Fields;
use crate::frames::Msf;

/// A TOC string: quotes and backslashes escaped, non-ASCII as octal
/// ISO-8859-1 escapes (what cdrdao's parser reads).
fn string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => out.push_str(&format!("\\{:03o}", (c as u32).min(255))),
        }
    }
    out.push('"');
    out
}

fn cd_text(out: &mut String, fields: &Fields, indent: &str) {
    out.push_str(&format!("{indent}CD_TEXT {{\n{indent}  LANGUAGE 0 {{\n"));
    for (f, v) in fields {
        out.push_str(&format!(
            "{indent}    {} {}\n",
            f.name().to_ascii_uppercase(),
            string(v)
        ));
    }
    out.push_str(&format!("{indent}  }}\n{indent}}}\n"));
}

/// The TOC of `disc`, reading audio from `bin` (the image from frame 0).
pub fn write(disc: &Disc, bin: &str) -> String {
    let mut s = format!("// rackd {}\nCD_DA\n", env!("CARGO_PKG_VERSION"));
    if let Some(u) = &disc.info.upc {
        s.push_str(&format!("CATALOG \"{u}\"\n"));
    }
    let text = disc.cd_text();
    if let Some(t) = &text {
        s.push_str("CD_TEXT {\n  LANGUAGE_MAP {\n    0 : EN\n  }\n");
        s.push_str("  LANGUAGE 0 {\n");
        for (f, v) in &t.disc {
            s.push_str(&format!(
                "    {} {}\n",
                f.name().to_ascii_uppercase(),
                string(v)
            ));
        }
        s.push_str("  }\n}\n");
    }
    for (i, t) in disc.tracks.iter().enumerate() {
        let begin = t.pregap.unwrap_or(t.start());
        let end = disc.track_end(i);
        s.push_str(&format!("\n// Track {}\nTRACK AUDIO\n", t.number));
        s.push_str(if t.flags.copy_permitted {
            "COPY\n"
        } else {
            "NO COPY\n"
        });
        s.push_str(if t.flags.pre_emphasis {
            "PRE_EMPHASIS\n"
        } else {
            "NO PRE_EMPHASIS\n"
        });
        s.push_str("TWO_CHANNEL_AUDIO\n");
        if let Some(isrc) = &t.isrc {
            s.push_str(&format!("ISRC \"{}\"\n", isrc.as_str()));
        }
        if let Some(text) = &text {
            let mut fields = text.tracks.get(i).cloned().unwrap_or_default();
            // Fields other tracks have are written empty, as in the packs.
            for f in disc.uneven_text_fields() {
                fields.entry(f).or_default();
            }
            if !fields.is_empty() {
                cd_text(&mut s, &fields, "");
            }
        }
        s.push_str(&format!(
            "FILE {} SWAP {} {}\n",
            string(bin),
            Msf(begin),
            Msf(end - begin)
        ));
        if t.pregap.is_some() {
            s.push_str(&format!("START {}\n", Msf(t.start() - begin)));
        }
        for &x in &t.indexes[1..] {
            s.push_str(&format!("INDEX {}\n", Msf(x - t.start())));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn strings_are_escaped_for_cdrdao() {
        assert_eq!(super::string("a \"b\" é"), "\"a \\\"b\\\" \\351\"");
    }
}
