//! The codes a plant prints in the PQ list: ISRC per track, UPC/EAN per disc.

use std::fmt;
use thiserror::Error;

/// An ISRC: `CCXXXYYNNNNN` (country, registrant, year, designation).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Isrc(String);

/// Why an ISRC or UPC/EAN was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodeError {
    /// Wrong shape.
    #[error(
        "ISRC {0:?} is not 12 characters CCXXXYYNNNNN (country letters, 3-character registrant, 2-digit year, 5-digit designation)"
    )]
    Isrc(String),
    /// The designation cannot count further.
    #[error("ISRC {0} cannot be counted up past designation 99999: give the next track's ISRC")]
    IsrcOverflow(String),
    /// Not 12 or 13 digits.
    #[error("UPC/EAN {0:?} is not 13 digits (or a 12-digit UPC-A)")]
    UpcLength(String),
    /// Check digit does not match.
    #[error(
        "UPC/EAN {code} has check digit {given}, the digits before it give {expected}: check the barcode"
    )]
    UpcCheck {
        /// The 13 digits.
        code: String,
        /// The last digit given.
        given: u32,
        /// The check digit computed.
        expected: u32,
    },
}

impl Isrc {
    /// Parses an ISRC; dashes, spaces and lowercase are normalized. Returns
    /// the code and whether the text had to be normalized (the caller notes it).
    pub fn parse(text: &str) -> Result<(Isrc, bool), CodeError> {
        let norm: String = text
            .chars()
            .filter(|c| *c != '-' && *c != ' ')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let b = norm.as_bytes();
        let ok = b.len() == 12
            && b[..2].iter().all(u8::is_ascii_uppercase)
            && b[2..5].iter().all(u8::is_ascii_alphanumeric)
            && b[5..].iter().all(u8::is_ascii_digit);
        if !ok {
            return Err(CodeError::Isrc(text.to_string()));
        }
        let changed = norm != text;
        Ok((Isrc(norm), changed))
    }

    /// The 12 characters as stored on the disc.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `CC-XXX-YY-NNNNN`, as people read it.
    pub fn dashed(&self) -> String {
        let s = &self.0;
        format!("{}-{}-{}-{}", &s[..2], &s[2..5], &s[5..7], &s[7..])
    }

    /// The next designation code, for "counted up from the first one".
    pub fn next(&self) -> Result<Isrc, CodeError> {
        let n: u32 = self.0[7..].parse().unwrap_or(u32::MAX);
        if n >= 99_999 {
            return Err(CodeError::IsrcOverflow(self.dashed()));
        }
        Ok(Isrc(format!("{}{:05}", &self.0[..7], n + 1)))
    }
}

impl fmt::Display for Isrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.dashed())
    }
}

/// A UPC/EAN-13 barcode as the disc's catalog number (13 digits).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Upc(String);

impl Upc {
    /// Parses 13 digits (or 12 for UPC-A, which gets a leading 0), spaces and
    /// dashes ignored, and checks the check digit.
    pub fn parse(text: &str) -> Result<Upc, CodeError> {
        let digits: String = text.chars().filter(|c| *c != ' ' && *c != '-').collect();
        if !digits.bytes().all(|b| b.is_ascii_digit()) || !(12..=13).contains(&digits.len()) {
            return Err(CodeError::UpcLength(text.to_string()));
        }
        let code = if digits.len() == 12 {
            format!("0{digits}")
        } else {
            digits
        };
        let d: Vec<u32> = code.bytes().map(|b| (b - b'0') as u32).collect();
        let sum: u32 = d[..12]
            .iter()
            .enumerate()
            .map(|(i, x)| if i % 2 == 0 { *x } else { 3 * x })
            .sum();
        let expected = (10 - sum % 10) % 10;
        if d[12] != expected {
            return Err(CodeError::UpcCheck {
                code,
                given: d[12],
                expected,
            });
        }
        Ok(Upc(code))
    }

    /// The 13 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Upc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isrc_forms() {
        let (i, changed) = Isrc::parse("us-s1z-99-00001").unwrap();
        assert!(changed);
        assert_eq!(i.as_str(), "USS1Z9900001");
        assert_eq!(i.dashed(), "US-S1Z-99-00001");
        assert_eq!(i.next().unwrap().as_str(), "USS1Z9900002");
        assert!(!Isrc::parse("USS1Z9900001").unwrap().1);
        for bad in [
            "USS1Z990001",
            "1SS1Z9900001",
            "USS1Z99A0001",
            "USS1Z99000011",
        ] {
            assert!(Isrc::parse(bad).is_err(), "{bad}");
        }
        assert!(Isrc::parse("USS1Z9999999").unwrap().0.next().is_err());
    }

    #[test]
    fn upc_check_digit() {
        // Check digits worked by hand: 4006381333931 (a textbook EAN-13).
        assert_eq!(
            Upc::parse("4006381333931").unwrap().as_str(),
            "4006381333931"
        );
        assert_eq!(
            Upc::parse("036000291452").unwrap().as_str(),
            "0036000291452"
        );
        assert!(matches!(
            Upc::parse("4006381333932"),
            Err(CodeError::UpcCheck { expected: 1, .. })
        ));
        assert!(Upc::parse("40063813339").is_err());
        assert!(Upc::parse("40063813339x1").is_err());
    }
}
