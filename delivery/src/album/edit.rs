//! Edits of an `album.toml` that keep everything else as the engineer
//! wrote it (comments, order, spacing): `rackd album loudness --apply`
//! writes each track's `gain`.

use thiserror::Error;
use toml_edit::{DocumentMut, Item, Value};

/// Why the file was not edited.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EditError {
    /// Not TOML (it was read before, so it changed meanwhile).
    #[error("the album file is no longer valid TOML ({0}): check it again")]
    Toml(String),
    /// The tracks are not what was measured.
    #[error(
        "the album file has {found} [[track]] tables but {expected} tracks were measured: it changed meanwhile, measure again"
    )]
    Tracks {
        /// Tracks in the file.
        found: usize,
        /// Gains given.
        expected: usize,
    },
}

/// `text` with track `i`'s `gain` set to `gains[i]` dB (to 0.01 dB). A
/// track without a `gain` key gets one after its other keys unless its gain
/// stays 0; an existing one keeps its spacing and end-of-line comment.
pub fn set_gains(text: &str, gains: &[f64]) -> Result<String, EditError> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| EditError::Toml(e.message().trim().to_string()))?;
    let tracks = doc.get_mut("track").and_then(Item::as_array_of_tables_mut);
    let found = tracks.as_ref().map_or(0, |t| t.len());
    let Some(tracks) = tracks.filter(|_| found == gains.len()) else {
        return Err(EditError::Tracks {
            found,
            expected: gains.len(),
        });
    };
    for (t, &g) in tracks.iter_mut().zip(gains) {
        let g = (g * 100.0).round() / 100.0;
        let g = if g == 0.0 { 0.0 } else { g };
        match t.get_mut("gain") {
            Some(item) if item.is_value() => {
                let decor = item
                    .as_value()
                    .map(|v| v.decor().clone())
                    .unwrap_or_default();
                let mut v = Value::from(g);
                *v.decor_mut() = decor;
                *item = Item::Value(v);
            }
            _ if g != 0.0 => {
                t.insert("gain", toml_edit::value(g));
            }
            _ => {}
        }
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gains_written_everything_else_kept() {
        let text = "# my album\n[disc]\ntitle = \"X\"   # the title\n\n[[track]]\nsource = \"a.wav\"\ngain = -1.0                # dB, by ear\n\n# the quiet one\n[[track]]\nsource = \"b.wav\"\n\n[[track]]\nsource = \"c.wav\"\n";
        let out = set_gains(text, &[-3.456, 2.0, 0.0]).unwrap();
        assert_eq!(
            out,
            "# my album\n[disc]\ntitle = \"X\"   # the title\n\n[[track]]\nsource = \"a.wav\"\ngain = -3.46                # dB, by ear\n\n# the quiet one\n[[track]]\nsource = \"b.wav\"\ngain = 2.0\n\n[[track]]\nsource = \"c.wav\"\n"
        );
        assert!(matches!(
            set_gains(text, &[1.0]),
            Err(EditError::Tracks {
                found: 3,
                expected: 1
            })
        ));
        assert!(matches!(set_gains("[[track", &[]), Err(EditError::Toml(_))));
    }
}
