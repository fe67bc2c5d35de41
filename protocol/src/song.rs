//! Song paths (`client/album/03 song`) and references to their revisions.
//!
//! A song path names a snapshot in the store and travels through OSC, the CLI
//! and export files, so it is validated once, here.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest song path accepted, in bytes.
pub const MAX_SONG_PATH: usize = 256;

/// A validated song path: `/`-separated parts, no `.`/`..`, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SongPath(String);

/// Why a song path or reference was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SongError {
    /// Empty path.
    #[error("song path is empty")]
    Empty,
    /// Over [`MAX_SONG_PATH`] bytes.
    #[error("song path is {0} bytes; the limit is {MAX_SONG_PATH}")]
    TooLong(usize),
    /// A control character (newline, tab, NUL, …).
    #[error("song path contains a control character")]
    ControlCharacter,
    /// An empty part, `.` or `..`, or a leading/trailing `/`.
    #[error(
        "song path part {0:?} is not allowed (no empty parts, '.', '..' or leading/trailing '/')"
    )]
    BadPart(String),
    /// A backslash, which would read as a Windows path separator in exports.
    #[error("song path contains a backslash; use '/' between parts")]
    Backslash,
    /// `SONG@REV` with a revision that is not a positive number.
    #[error("revision {0:?} is not a positive number")]
    BadRevision(String),
}

impl SongPath {
    /// Validates and wraps a song path.
    pub fn new(path: &str) -> Result<Self, SongError> {
        if path.is_empty() {
            return Err(SongError::Empty);
        }
        if path.len() > MAX_SONG_PATH {
            return Err(SongError::TooLong(path.len()));
        }
        if path.chars().any(char::is_control) {
            return Err(SongError::ControlCharacter);
        }
        if path.contains('\\') {
            return Err(SongError::Backslash);
        }
        for part in path.split('/') {
            if part.trim().is_empty() || part == "." || part == ".." {
                return Err(SongError::BadPart(part.to_string()));
            }
        }
        Ok(SongPath(path.to_string()))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the song lies under `prefix` (`client/album` matches `client/album/01 x`).
    pub fn has_prefix(&self, prefix: &str) -> bool {
        let prefix = prefix.trim_end_matches('/');
        prefix.is_empty()
            || self.0 == prefix
            || (self.0.starts_with(prefix) && self.0[prefix.len()..].starts_with('/'))
    }
}

impl fmt::Display for SongPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for SongPath {
    type Error = SongError;
    fn try_from(s: String) -> Result<Self, SongError> {
        SongPath::new(&s)
    }
}

impl From<SongPath> for String {
    fn from(p: SongPath) -> String {
        p.0
    }
}

/// What `diff` and `recall` refer to: the live state, or a song at a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SongRef {
    /// The rack as it is now.
    Current,
    /// A song's latest revision (`rev == None`) or a given one.
    Song { path: SongPath, rev: Option<u32> },
}

impl SongRef {
    /// Parses `current`, `SONG` or `SONG@REV`.
    pub fn parse(text: &str) -> Result<Self, SongError> {
        if text == "current" {
            return Ok(SongRef::Current);
        }
        match text.rsplit_once('@') {
            Some((path, rev)) => {
                let rev = rev
                    .parse::<u32>()
                    .ok()
                    .filter(|r| *r > 0)
                    .ok_or_else(|| SongError::BadRevision(rev.to_string()))?;
                Ok(SongRef::Song {
                    path: SongPath::new(path)?,
                    rev: Some(rev),
                })
            }
            None => Ok(SongRef::Song {
                path: SongPath::new(text)?,
                rev: None,
            }),
        }
    }
}

impl fmt::Display for SongRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SongRef::Current => f.write_str("current"),
            SongRef::Song { path, rev: None } => write!(f, "{path}"),
            SongRef::Song { path, rev: Some(r) } => write!(f, "{path}@{r}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_ordinary_paths() {
        assert!(SongPath::new("client/album/01 intro").is_ok());
        assert!(SongPath::new("Bob's Band/LP — 2026/03 Song (alt mix)").is_ok());
    }

    #[test]
    fn refuses_traversal_and_control() {
        for bad in [
            "", "../x", "a/../b", "a//b", "/abs", "trail/", "a\nb", "a\\b", "a/./b",
        ] {
            assert!(SongPath::new(bad).is_err(), "{bad:?}");
        }
        assert!(SongPath::new(&"x".repeat(300)).is_err());
    }

    #[test]
    fn parses_refs() {
        assert_eq!(SongRef::parse("current"), Ok(SongRef::Current));
        let r = SongRef::parse("a/b@3").unwrap();
        assert_eq!(r.to_string(), "a/b@3");
        assert!(SongRef::parse("a/b@0").is_err());
        assert!(SongRef::parse("a/b@x").is_err());
    }

    #[test]
    fn prefix_respects_parts() {
        let p = SongPath::new("client/album/01").unwrap();
        assert!(p.has_prefix("client/album"));
        assert!(p.has_prefix("client/album/"));
        assert!(p.has_prefix(""));
        assert!(!p.has_prefix("client/alb"));
    }

    proptest! {
        #[test]
        fn valid_paths_survive_display(s in "\\PC{0,300}") {
            if let Ok(p) = SongPath::new(&s) {
                prop_assert_eq!(SongPath::new(p.as_str()).unwrap(), p);
            }
        }
    }
}
