//! OSC 1.0 address patterns: `?`, `*`, `[abc]`, `[a-z]`, `[!a-z]`, `{foo,bar}`.
//!
//! Incoming messages and subscription filters may name many parameters at
//! once. Matching works one path part at a time (wildcards never cross `/`)
//! and runs a set-of-positions simulation over each part, so its cost is
//! bounded by `pattern length × address length` even for adversarial
//! patterns such as `*a*a*a*a*a*b`: no backtracking, no exponential blow-up.

/// Why a string is not a usable OSC address pattern; the message names the spot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Nothing to match; OSC addresses start with `/`.
    #[error("pattern is empty; an OSC address pattern starts with '/'")]
    Empty,
    /// OSC addresses are absolute; a pattern must start with `/`.
    #[error("pattern {pattern:?} does not start with '/'")]
    NoLeadingSlash {
        /// The offending pattern.
        pattern: String,
    },
    /// Control characters (and DEL) are never part of an OSC address.
    #[error("pattern has control character {code:#04x} at character {position}")]
    ControlChar {
        /// Character index in the pattern.
        position: usize,
        /// The character's code point.
        code: u32,
    },
    /// A `[` without its `]` in the same path part.
    #[error("'[' at character {position} is not closed by ']' in the same path part")]
    UnclosedBracket {
        /// Character index of the `[`.
        position: usize,
    },
    /// A `{` without its `}` in the same path part.
    #[error("'{{' at character {position} is not closed by '}}' in the same path part")]
    UnclosedBrace {
        /// Character index of the `{`.
        position: usize,
    },
    /// A `]` or `}` that closes nothing.
    #[error("'{ch}' at character {position} has no matching opening bracket")]
    UnmatchedClose {
        /// The stray closing character.
        ch: char,
        /// Its character index.
        position: usize,
    },
    /// `[]` or `[!]` can never match anything.
    #[error("character class at character {position} is empty and can never match")]
    EmptyClass {
        /// Character index of the `[`.
        position: usize,
    },
    /// A range such as `[z-a]` whose ends are swapped.
    #[error("range '{from}-{to}' in a character class is reversed; write '{to}-{from}'")]
    ReversedRange {
        /// First character of the range as written.
        from: char,
        /// Last character of the range as written.
        to: char,
    },
    /// Wildcards and brackets inside `{…}` are ambiguous; alternatives are literal strings.
    #[error(
        "'{ch}' at character {position} is not allowed inside '{{…}}'; alternatives are literal"
    )]
    NotAllowedInBraces {
        /// The offending character.
        ch: char,
        /// Its character index.
        position: usize,
    },
}

/// One element of a path part.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// Exactly this character.
    Literal(char),
    /// `?`: any single character.
    AnyChar,
    /// `*`: any run of characters, possibly empty.
    AnyRun,
    /// `[...]` or `[!...]`: one character in (or not in) the inclusive ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `{a,b,c}`: one of the literal alternatives.
    Alternatives(Vec<Vec<char>>),
}

impl Token {
    /// Whether a single-character token accepts `c`.
    fn accepts(&self, c: char) -> bool {
        match self {
            Token::Literal(l) => *l == c,
            Token::AnyChar => true,
            Token::Class { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
            Token::AnyRun | Token::Alternatives(_) => false,
        }
    }
}

/// A parsed address pattern, for matching many addresses without re-parsing
/// (subscription filters are checked against every change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    parts: Vec<Vec<Token>>,
}

impl Pattern {
    /// Parses and validates `pattern`; the error says what is wrong and where.
    pub fn parse(pattern: &str) -> Result<Pattern, PatternError> {
        if pattern.is_empty() {
            return Err(PatternError::Empty);
        }
        if !pattern.starts_with('/') {
            return Err(PatternError::NoLeadingSlash {
                pattern: pattern.to_owned(),
            });
        }
        let chars: Vec<char> = pattern.chars().collect();
        if let Some(position) = chars.iter().position(|c| c.is_control()) {
            return Err(PatternError::ControlChar {
                position,
                code: chars[position] as u32,
            });
        }
        let mut parts = Vec::new();
        let mut current = Vec::new();
        // Index 0 is the leading '/'.
        let mut i = 1;
        while i < chars.len() {
            let c = chars[i];
            match c {
                '/' => {
                    parts.push(std::mem::take(&mut current));
                    i += 1;
                }
                '?' => {
                    current.push(Token::AnyChar);
                    i += 1;
                }
                '*' => {
                    // Consecutive stars mean the same as one.
                    if current.last() != Some(&Token::AnyRun) {
                        current.push(Token::AnyRun);
                    }
                    i += 1;
                }
                '[' => {
                    let (token, next) = parse_class(&chars, i)?;
                    current.push(token);
                    i = next;
                }
                '{' => {
                    let (token, next) = parse_braces(&chars, i)?;
                    current.push(token);
                    i = next;
                }
                ']' | '}' => {
                    return Err(PatternError::UnmatchedClose { ch: c, position: i });
                }
                _ => {
                    current.push(Token::Literal(c));
                    i += 1;
                }
            }
        }
        parts.push(current);
        Ok(Pattern { parts })
    }

    /// Whether the concrete `address` is one this pattern names.
    pub fn matches(&self, address: &str) -> bool {
        let Some(rest) = address.strip_prefix('/') else {
            return false;
        };
        let mut address_parts = rest.split('/');
        for tokens in &self.parts {
            match address_parts.next() {
                Some(part) if part_matches(tokens, part) => {}
                _ => return false,
            }
        }
        address_parts.next().is_none()
    }
}

/// Parses `[...]` starting at `chars[open] == '['`; returns the token and the index after `]`.
fn parse_class(chars: &[char], open: usize) -> Result<(Token, usize), PatternError> {
    let mut i = open + 1;
    let negated = chars.get(i) == Some(&'!');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        match chars.get(i) {
            None | Some('/') => return Err(PatternError::UnclosedBracket { position: open }),
            Some(']') => break,
            Some(&from) => {
                // `a-z` is a range; a `-` right before `]` is a literal dash.
                if chars.get(i + 1) == Some(&'-') && !matches!(chars.get(i + 2), None | Some(']')) {
                    let to = chars[i + 2];
                    if to == '/' {
                        return Err(PatternError::UnclosedBracket { position: open });
                    }
                    if to < from {
                        return Err(PatternError::ReversedRange { from, to });
                    }
                    ranges.push((from, to));
                    i += 3;
                } else {
                    ranges.push((from, from));
                    i += 1;
                }
            }
        }
    }
    if ranges.is_empty() {
        return Err(PatternError::EmptyClass { position: open });
    }
    Ok((Token::Class { negated, ranges }, i + 1))
}

/// Parses `{a,b}` starting at `chars[open] == '{'`; returns the token and the index after `}`.
fn parse_braces(chars: &[char], open: usize) -> Result<(Token, usize), PatternError> {
    let mut alternatives = Vec::new();
    let mut current = Vec::new();
    let mut i = open + 1;
    loop {
        match chars.get(i) {
            None | Some('/') => return Err(PatternError::UnclosedBrace { position: open }),
            Some('}') => break,
            Some(',') => alternatives.push(std::mem::take(&mut current)),
            Some(&c @ ('[' | ']' | '{' | '*' | '?')) => {
                return Err(PatternError::NotAllowedInBraces { ch: c, position: i });
            }
            Some(&c) => current.push(c),
        }
        i += 1;
    }
    alternatives.push(current);
    alternatives.sort();
    alternatives.dedup();
    Ok((Token::Alternatives(alternatives), i + 1))
}

/// Matches one path part by tracking every position the tokens so far can end at.
fn part_matches(tokens: &[Token], part: &str) -> bool {
    // The common parts without building anything: a lone `*` (any part)
    // and plain text (the same characters). Every other part: the general
    // matcher below.
    match tokens {
        [Token::AnyRun] => return true,
        _ if tokens.iter().all(|t| matches!(t, Token::Literal(_))) => {
            let mut text = part.chars();
            return tokens
                .iter()
                .all(|t| matches!(t, Token::Literal(c) if text.next() == Some(*c)))
                && text.next().is_none();
        }
        _ => {}
    }
    part_matches_in_general(tokens, part)
}

fn part_matches_in_general(tokens: &[Token], part: &str) -> bool {
    let text: Vec<char> = part.chars().collect();
    let n = text.len();
    let mut reach = vec![false; n + 1];
    reach[0] = true;
    let mut next = vec![false; n + 1];
    for token in tokens {
        next.iter_mut().for_each(|r| *r = false);
        match token {
            Token::AnyRun => {
                if let Some(first) = reach.iter().position(|&r| r) {
                    next[first..].iter_mut().for_each(|r| *r = true);
                }
            }
            Token::Alternatives(alternatives) => {
                for pos in (0..=n).filter(|&p| reach[p]) {
                    for alt in alternatives {
                        if text[pos..].starts_with(alt) {
                            next[pos + alt.len()] = true;
                        }
                    }
                }
            }
            single => {
                for pos in (0..n).filter(|&p| reach[p]) {
                    if single.accepts(text[pos]) {
                        next[pos + 1] = true;
                    }
                }
            }
        }
        std::mem::swap(&mut reach, &mut next);
        if !reach.contains(&true) {
            return false;
        }
    }
    reach[n]
}

/// Whether `pattern` names `address`; an invalid pattern matches nothing
/// (call [`validate`] to tell the sender why).
pub fn matches(pattern: &str, address: &str) -> bool {
    Pattern::parse(pattern).is_ok_and(|p| p.matches(address))
}

/// Checks a pattern before it is stored (e.g. as a subscription filter), so a
/// typo is reported to the sender instead of silently matching nothing.
pub fn validate(pattern: &str) -> Result<(), PatternError> {
    Pattern::parse(pattern).map(|_| ())
}

/// Whether `address` uses pattern syntax, so a plain address can take the fast
/// exact lookup and a pattern goes through [`expand`].
pub fn is_pattern(address: &str) -> bool {
    address.contains(['*', '?', '[', ']', '{', '}'])
}

/// The known addresses a pattern names, in the order given; an invalid
/// pattern names none.
pub fn expand<'a>(pattern: &str, addresses: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    match Pattern::parse(pattern) {
        Ok(p) => addresses.into_iter().filter(|a| p.matches(a)).collect(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn literal_addresses() {
        assert!(matches("/chain/trim/gain", "/chain/trim/gain"));
        assert!(!matches("/chain/trim/gain", "/chain/trim/gai"));
        assert!(!matches("/chain/trim/gain", "/chain/trim/gain/norm"));
        assert!(!matches("/chain/trim", "/chain/trim/gain"));
        assert!(matches("/", "/"));
        assert!(!matches("/a", "a"));
    }

    #[test]
    fn question_mark_is_one_character() {
        assert!(matches("/eq/band?/freq", "/eq/band1/freq"));
        assert!(!matches("/eq/band?/freq", "/eq/band12/freq"));
        assert!(!matches("/eq/band?/freq", "/eq/band/freq"));
        assert!(!matches("/a?b", "/a/b"));
    }

    #[test]
    fn star_stays_within_one_part() {
        assert!(matches("/chain/*/bypass", "/chain/trim/bypass"));
        assert!(matches("/chain/*/bypass", "/chain//bypass"));
        assert!(!matches("/chain/*", "/chain/trim/bypass"));
        assert!(matches("/chain/*/*", "/chain/trim/bypass"));
        assert!(matches("/meter/out/lufs_*", "/meter/out/lufs_m"));
        assert!(matches("/meter/out/*_m", "/meter/out/lufs_m"));
        assert!(!matches("/meter/out/*_s", "/meter/out/lufs_m"));
        assert!(matches("/*", "/x"));
        assert!(matches("/a**b", "/ab"));
    }

    #[test]
    fn character_classes() {
        assert!(matches("/band[123]", "/band2"));
        assert!(!matches("/band[123]", "/band4"));
        assert!(matches("/band[1-4]", "/band4"));
        assert!(!matches("/band[1-4]", "/band5"));
        assert!(matches("/band[!1-4]", "/band5"));
        assert!(!matches("/band[!1-4]", "/band3"));
        assert!(matches("/x[a-c-]", "/x-"));
        assert_eq!(
            validate("/x[!]"),
            Err(PatternError::EmptyClass { position: 2 })
        );
        assert!(matches("/x[*?]", "/x*"));
        assert!(!matches("/x[*?]", "/xa"));
    }

    #[test]
    fn alternatives() {
        assert!(matches("/chain/{trim,eq}/gain", "/chain/eq/gain"));
        assert!(matches("/chain/{trim,eq}/gain", "/chain/trim/gain"));
        assert!(!matches("/chain/{trim,eq}/gain", "/chain/limiter/gain"));
        assert!(matches("/x/{a,ab}c", "/x/abc"));
        assert!(matches("/x/{a,ab}c", "/x/ac"));
        assert!(matches("/x/pre{,fix}", "/x/pre"));
        assert!(matches("/x/{lo,hi}_*", "/x/hi_shelf"));
    }

    #[test]
    fn invalid_patterns_are_reported() {
        assert_eq!(validate(""), Err(PatternError::Empty));
        assert!(matches!(
            validate("chain/trim"),
            Err(PatternError::NoLeadingSlash { .. })
        ));
        assert_eq!(
            validate("/a\u{1}b"),
            Err(PatternError::ControlChar {
                position: 2,
                code: 1
            })
        );
        assert_eq!(
            validate("/a[bc"),
            Err(PatternError::UnclosedBracket { position: 2 })
        );
        assert_eq!(
            validate("/a[b/c]"),
            Err(PatternError::UnclosedBracket { position: 2 })
        );
        assert_eq!(
            validate("/a{b,c"),
            Err(PatternError::UnclosedBrace { position: 2 })
        );
        assert_eq!(
            validate("/a}"),
            Err(PatternError::UnmatchedClose {
                ch: '}',
                position: 2
            })
        );
        assert_eq!(
            validate("/a]"),
            Err(PatternError::UnmatchedClose {
                ch: ']',
                position: 2
            })
        );
        assert_eq!(
            validate("/a[]"),
            Err(PatternError::EmptyClass { position: 2 })
        );
        assert_eq!(
            validate("/a[z-a]"),
            Err(PatternError::ReversedRange { from: 'z', to: 'a' })
        );
        assert_eq!(
            validate("/{a,*}"),
            Err(PatternError::NotAllowedInBraces {
                ch: '*',
                position: 4
            })
        );
        assert!(!matches("/a[bc", "/a["));
        assert_eq!(
            PatternError::UnclosedBracket { position: 2 }.to_string(),
            "'[' at character 2 is not closed by ']' in the same path part"
        );
    }

    #[test]
    fn is_pattern_spots_wildcards() {
        assert!(!is_pattern("/chain/trim/gain"));
        assert!(is_pattern("/chain/*/gain"));
        assert!(is_pattern("/chain/tri?/gain"));
        assert!(is_pattern("/band[12]"));
        assert!(is_pattern("/{a,b}"));
    }

    #[test]
    fn expand_returns_known_matches_in_order() {
        let known = [
            "/chain/trim/gain",
            "/chain/trim/bypass",
            "/chain/eq/bypass",
            "/outboard/pultec/bypass",
        ];
        assert_eq!(
            expand("/chain/*/bypass", known),
            vec!["/chain/trim/bypass", "/chain/eq/bypass"]
        );
        assert_eq!(
            expand("/*/*/bypass", known.iter().copied()),
            vec![
                "/chain/trim/bypass",
                "/chain/eq/bypass",
                "/outboard/pultec/bypass"
            ]
        );
        assert!(expand("/chain/[", known).is_empty());
        assert_eq!(expand("/chain/trim/gain", known), vec!["/chain/trim/gain"]);
    }

    /// A backtracking matcher needs about C(5000, 200) steps for the first
    /// case and never finishes; the position-set one does 200 × 5000. So the
    /// bound is "finishes at all" (60 s, on a thread), not a speed figure.
    #[test]
    fn adversarial_pattern_finishes() {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let start = std::time::Instant::now();
            let pattern = format!("/{}b", "*a".repeat(200));
            let address = format!("/{}", "a".repeat(5000));
            let with_b = format!("/{}b", "a".repeat(5000));
            let braces = format!("/{}", "{a,aa,aaa}".repeat(200));
            let results = (
                matches(&pattern, &address),
                matches(&pattern, &with_b),
                matches(&braces, &address),
            );
            let _ = tx.send((results, start.elapsed()));
        });
        let (results, took) = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("adversarial patterns did not finish within 60 s");
        println!("adversarial patterns matched in {took:?}");
        assert_eq!(results, (false, true, false));
    }

    proptest! {
        #[test]
        fn the_quick_paths_answer_as_the_general_matcher(
            pattern in "[a-c*]{0,6}|\\*|[a-c]{0,6}",
            part in "[a-c]{0,6}",
        ) {
            let parsed = Pattern::parse(&format!("/{pattern}")).unwrap();
            let tokens = &parsed.parts[0];
            prop_assert_eq!(part_matches(tokens, &part), part_matches_in_general(tokens, &part));
        }

        #[test]
        fn literal_address_matches_itself(parts in prop::collection::vec("[a-zA-Z0-9_.-]{0,12}", 1..6)) {
            let address = format!("/{}", parts.join("/"));
            prop_assert!(!is_pattern(&address));
            prop_assert!(validate(&address).is_ok());
            prop_assert!(matches(&address, &address));
            let star = format!("/{}", vec!["*"; parts.len()].join("/"));
            prop_assert!(matches(&star, &address));
            let longer = format!("{address}/x");
            prop_assert!(!matches(&address, &longer));
        }

        #[test]
        fn question_marks_match_same_length(part in "[a-z]{1,20}") {
            let address = format!("/{part}");
            let pattern = format!("/{}", "?".repeat(part.chars().count()));
            prop_assert!(matches(&pattern, &address));
            let shorter = format!("/{}", "?".repeat(part.chars().count() - 1));
            prop_assert!(!matches(&shorter, &address));
        }

        #[test]
        fn never_panics(pattern in "\\PC{0,40}|[/*?\\[\\]{}!,a-c-]{0,40}", address in "\\PC{0,40}|[/a-c]{0,40}") {
            let valid = validate(&pattern).is_ok();
            let matched = matches(&pattern, &address);
            prop_assert!(valid || !matched);
            let _ = is_pattern(&pattern);
            let _ = expand(&pattern, [address.as_str()]);
        }
    }
}
