//! A TOML document as a tree that remembers where every key and value stood.
//!
//! `toml` stops at the first error and forgets positions once a value is
//! parsed. Hardware profiles and the daemon's config are read section by
//! section from this tree with serde derive, so that every problem in a file
//! is reported at once, each with its line.

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::ops::Range;

/// A parsed TOML value with the byte range it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Range<usize>,
    pub kind: Kind,
}

/// The value of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Array(Vec<Node>),
    /// Entries in file order: key, the key's span, the value.
    Table(Vec<(String, Range<usize>, Node)>),
}

impl Node {
    /// The value under `key` when this node is a table.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, n)| n)
    }

    /// The key's span and value under `key` when this node is a table.
    pub fn entry(&self, key: &str) -> Option<(Range<usize>, &Node)> {
        match &self.kind {
            Kind::Table(entries) => entries
                .iter()
                .find(|(k, _, _)| k == key)
                .map(|(_, s, n)| (s.clone(), n)),
            _ => None,
        }
    }

    /// The i-th element when this node is an array.
    pub fn at(&self, i: usize) -> Option<&Node> {
        match &self.kind {
            Kind::Array(items) => items.get(i),
            _ => None,
        }
    }

    /// Parses a whole document.
    pub fn parse(text: &str) -> Result<Node, toml::de::Error> {
        toml::from_str(text)
    }
}

impl<'de> de::Deserialize<'de> for Node {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned: toml::Spanned<KindSeed> = de::Deserialize::deserialize(d)?;
        let span = spanned.span();
        Ok(Node {
            span,
            kind: spanned.into_inner().0,
        })
    }
}

/// Newtype so `Kind` can be deserialized inside `toml::Spanned`.
struct KindSeed(Kind);

impl<'de> de::Deserialize<'de> for KindSeed {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor).map(KindSeed)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TOML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Kind, E> {
        i64::try_from(v)
            .map(Kind::Int)
            .map_err(|_| E::custom("integer too large"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Kind, E> {
        Ok(Kind::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(n) = seq.next_element::<Node>()? {
            items.push(n);
        }
        Ok(Kind::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<toml::Spanned<String>>()? {
            let span = key.span();
            let value: Node = map.next_value()?;
            entries.push((key.into_inner(), span, value));
        }
        Ok(Kind::Table(entries))
    }
}

/// A deserialization error with the span it belongs to (if known yet).
#[derive(Debug, Clone, PartialEq)]
pub struct DeError {
    pub message: String,
    pub span: Option<Range<usize>>,
}

impl DeError {
    fn or_span(mut self, span: &Range<usize>) -> Self {
        if self.span.is_none() {
            self.span = Some(span.clone());
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            message: msg.to_string(),
            span: None,
        }
    }
}

/// Deserializes a typed section out of a node; errors carry the innermost span.
pub fn from_node<'de, T: de::Deserialize<'de>>(node: &Node) -> Result<T, DeError> {
    T::deserialize(NodeDe(node)).map_err(|e| e.or_span(&node.span))
}

struct NodeDe<'a>(&'a Node);

impl<'de> de::Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.0.kind {
            Kind::Str(s) => visitor.visit_str(s),
            Kind::Int(i) => visitor.visit_i64(*i),
            Kind::Float(x) => visitor.visit_f64(*x),
            Kind::Bool(b) => visitor.visit_bool(*b),
            Kind::Array(items) => visitor.visit_seq(Seq {
                items: items.iter(),
            }),
            Kind::Table(entries) => visitor.visit_map(Map {
                entries: entries.iter(),
                value: None,
            }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.0.kind {
            Kind::Str(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            _ => Err(de::Error::custom("expected a string naming a choice")),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

struct Seq<'a> {
    items: std::slice::Iter<'a, Node>,
}

impl<'de> SeqAccess<'de> for Seq<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(n) => seed
                .deserialize(NodeDe(n))
                .map(Some)
                .map_err(|e| e.or_span(&n.span)),
            None => Ok(None),
        }
    }
}

struct Map<'a> {
    entries: std::slice::Iter<'a, (String, Range<usize>, Node)>,
    value: Option<&'a Node>,
}

impl<'de> MapAccess<'de> for Map<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((k, span, v)) => {
                self.value = Some(v);
                let de: de::value::StrDeserializer<'_, DeError> = k.as_str().into_deserializer();
                seed.deserialize(de).map(Some).map_err(|e| e.or_span(span))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let n = self
            .value
            .take()
            .ok_or_else(|| <DeError as de::Error>::custom("value without a key"))?;
        seed.deserialize(NodeDe(n)).map_err(|e| e.or_span(&n.span))
    }
}

/// The field names serde derive lists for a struct type.
///
/// Serde stops at the first unknown key of a table; asking the type for its
/// fields lets the loader report every unknown key at once.
pub fn fields_of<'de, T: de::Deserialize<'de>>() -> &'static [&'static str] {
    struct Probe<'a>(&'a std::cell::Cell<&'static [&'static str]>);

    impl<'de> de::Deserializer<'de> for Probe<'_> {
        type Error = DeError;

        fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, DeError> {
            Err(de::Error::custom("probe"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, DeError> {
            self.0.set(fields);
            Err(de::Error::custom("probe"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }

    let cell = std::cell::Cell::new(&[][..]);
    let _ = T::deserialize(Probe(&cell));
    cell.get()
}

/// Removes every key of a table that the struct `T` does not have and returns
/// an error for each, at its key's span; the rest then deserializes further.
pub fn strip_unknown<'de, T: de::Deserialize<'de>>(node: &mut Node) -> Vec<DeError> {
    let fields = fields_of::<T>();
    let Kind::Table(entries) = &mut node.kind else {
        return vec![];
    };
    let mut errors = Vec::new();
    entries.retain(|(k, span, _)| {
        let known = fields.contains(&k.as_str());
        if !known {
            let mut e = <DeError as de::Error>::unknown_field(k, fields);
            e.span = Some(span.clone());
            errors.push(e);
        }
        known
    });
    errors
}

impl Node {
    /// The value under `key` for changing, when this node is a table.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.kind {
            Kind::Table(entries) => entries
                .iter_mut()
                .find(|(k, _, _)| k == key)
                .map(|(_, _, n)| n),
            _ => None,
        }
    }

    /// The elements when this node is an array (none otherwise).
    pub fn items_mut(&mut self) -> &mut [Node] {
        match &mut self.kind {
            Kind::Array(items) => items,
            _ => &mut [],
        }
    }
}

/// A problem [`from_node_all`] found: where, the key path inside the node
/// (`send`, `osc.address`, `return_channels[1]`; empty for the node itself)
/// and serde's message.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The span of the offending key or value.
    pub span: Range<usize>,
    /// The key path inside the deserialized node.
    pub path: String,
    /// What serde said.
    pub error: DeError,
}

/// Deserializes `node` into `T`, and when a key's value is of the wrong type
/// reports it, removes it and tries again, so one bad key does not hide the
/// rest of a table (and the table still reaches the checks that follow).
/// `None` when `T` cannot be made even then (a required key missing).
pub fn from_node_all<T: for<'de> de::Deserialize<'de>>(node: &Node) -> (Option<T>, Vec<Found>) {
    const MAX_RETRIES: usize = 256;
    let mut node = node.clone();
    let mut found = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    for _ in 0..MAX_RETRIES {
        match from_node::<T>(&node) {
            Ok(value) => return (Some(value), found),
            Err(error) => {
                let span = error.span.clone().unwrap_or(node.span.clone());
                // A key taken out for its type is then missing: said already.
                let said = removed
                    .iter()
                    .any(|k| error.message == format!("missing field `{k}`"));
                match remove_at(&mut node, &span) {
                    Some(path) => {
                        removed.push(path.rsplit(['.', '[']).next().unwrap_or(&path).to_string());
                        found.push(Found { span, path, error });
                    }
                    None => {
                        if !said {
                            found.push(Found {
                                span,
                                path: String::new(),
                                error,
                            });
                        }
                        return (None, found);
                    }
                }
            }
        }
    }
    (None, found)
}

/// Removes the innermost table entry (or array item) whose key or value
/// holds `span`; returns its path.
fn remove_at(node: &mut Node, span: &Range<usize>) -> Option<String> {
    match &mut node.kind {
        Kind::Table(entries) => {
            let i = entries.iter().position(|(_, k, v)| {
                k == span || (v.span.start <= span.start && span.end <= v.span.end)
            })?;
            let (key, kspan, value) = &mut entries[i];
            if kspan != span
                && value.span != *span
                && let Some(inner) = remove_at(value, span)
            {
                return Some(format!("{key}.{inner}").replace(".[", "["));
            }
            let key = key.clone();
            entries.remove(i);
            Some(key)
        }
        Kind::Array(items) => {
            let i = items
                .iter()
                .position(|v| v.span.start <= span.start && span.end <= v.span.end)?;
            if items[i].span != *span
                && let Some(inner) = remove_at(&mut items[i], span)
            {
                return Some(format!("[{i}].{inner}"));
            }
            items.remove(i);
            Some(format!("[{i}]"))
        }
        _ => None,
    }
}

/// 1-based line number of a byte offset (a scan of the text; for many
/// lookups in one text use [`LineIndex`]).
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Line numbers of byte offsets in one text, each in O(log lines): a file
/// with thousands of problems is still checked in linear time.
#[derive(Debug, Clone)]
pub struct LineIndex {
    /// Byte offset where each line after the first starts.
    starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes `text`.
    pub fn new(text: &str) -> Self {
        LineIndex {
            starts: text
                .bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1)
                .collect(),
        }
    }

    /// The 1-based line of `offset`.
    pub fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct S {
        a: u8,
        b: Option<String>,
    }

    #[test]
    fn every_wrong_type_of_a_table_is_found_and_the_rest_still_read() {
        let text = "a = \"x\"\nb = 3\n";
        let root = Node::parse(text).unwrap();
        let (value, found) = from_node_all::<S>(&root);
        // `a` is required: without it there is no S, but `b` was still looked at.
        assert!(value.is_none());
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].path, "a");
        assert_eq!(line_of(text, found[0].span.start), 1);
        assert_eq!(found[1].path, "b");
        let text = "a = 1\nb = 3\n";
        let (value, found) = from_node_all::<S>(&Node::parse(text).unwrap());
        assert!(value.is_some_and(|s| s.a == 1 && s.b.is_none()));
        assert_eq!(found.len(), 1);
    }

    #[test]
    fn line_index_agrees_with_a_scan() {
        let text = "a = 1\n\n[x]\nb = 2\n";
        let index = LineIndex::new(text);
        for offset in 0..=text.len() + 3 {
            assert_eq!(index.line(offset), line_of(text, offset), "{offset}");
        }
    }

    #[test]
    fn lists_every_unknown_key() {
        assert_eq!(fields_of::<S>(), ["a", "b"]);
        let mut root = Node::parse("a = 1\nx = 2\nb = \"\"\ny = 3\n").unwrap();
        let errs = strip_unknown::<S>(&mut root);
        assert!(from_node::<S>(&root).is_ok());
        let lines: Vec<usize> = errs
            .iter()
            .map(|e| {
                line_of(
                    "a = 1\nx = 2\nb = \"\"\ny = 3\n",
                    e.span.clone().unwrap().start,
                )
            })
            .collect();
        assert_eq!(lines, [2, 4]);
        assert!(errs[0].message.starts_with("unknown field `x`, expected"));
    }

    #[test]
    fn keeps_spans_and_reports_innermost_error() {
        let text = "[x]\na = 1\n\n[[p]]\na = 2\nzz = 3\n\n[[p]]\na = 300\n";
        let root = Node::parse(text).unwrap();
        let x: S = from_node(root.get("x").unwrap()).unwrap();
        assert_eq!(x.a, 1);
        let p = root.get("p").unwrap();
        let e = from_node::<S>(p.at(0).unwrap()).unwrap_err();
        assert_eq!(line_of(text, e.span.clone().unwrap().start), 6, "{e}");
        assert!(e.message.contains("zz"));
        let e = from_node::<S>(p.at(1).unwrap()).unwrap_err();
        assert_eq!(line_of(text, e.span.clone().unwrap().start), 9, "{e}");
        let (kspan, _) = p.at(1).unwrap().entry("a").unwrap();
        assert_eq!(line_of(text, kspan.start), 9);
    }
}
