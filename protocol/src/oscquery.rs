//! OSCQuery, as the public proposal (Vidvox, "OSCQuery Proposal", 3rd
//! revision) defines it: the namespace as JSON nodes (`FULL_PATH`,
//! `CONTENTS`, `TYPE`, `VALUE`, `RANGE`, `ACCESS`, `UNIT`, `CLIPMODE`,
//! `DESCRIPTION`), single-attribute queries, `HOST_INFO`, and the WebSocket
//! commands (`LISTEN`, `IGNORE`, `PATH_CHANGED`). Pure: the daemon fills in
//! the leaves from the parameter tree and serves the JSON.

use crate::api::DescribedParam;
use crate::param::{OutOfRange, ParamKind, Unit, Value};
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;

/// `ACCESS`: no value (a container).
pub const ACCESS_NONE: u8 = 0;
/// `ACCESS`: the value can be read (and LISTENed to), not set (meters).
pub const ACCESS_READ: u8 = 1;
/// `ACCESS`: read and set (parameters).
pub const ACCESS_READ_WRITE: u8 = 3;

/// The optional attributes and streaming features this server provides,
/// for `HOST_INFO`'s `EXTENSIONS`. `LABELS` (a stepped control's printed
/// detent labels, one per position of `RANGE`'s `VALS`) is rackd's own.
pub const EXTENSIONS: &[&str] = &[
    "ACCESS",
    "VALUE",
    "RANGE",
    "DESCRIPTION",
    "UNIT",
    "CLIPMODE",
    "LISTEN",
    "PATH_CHANGED",
    "LABELS",
];

/// Attributes a client may ask for one at a time (`/path?VALUE`).
const ATTRIBUTES: &[&str] = &[
    "FULL_PATH",
    "CONTENTS",
    "TYPE",
    "VALUE",
    "RANGE",
    "ACCESS",
    "UNIT",
    "CLIPMODE",
    "DESCRIPTION",
    "LABELS",
];

/// The proposal's unit name of a real unit (its `units.md` list), when it has one.
pub fn unit_name(unit: Unit) -> Option<&'static str> {
    match unit {
        Unit::Db | Unit::Dbfs => Some("gain.db"),
        Unit::Hz => Some("time.hz"),
        Unit::Ms => Some("time.ms"),
        Unit::Ratio | Unit::Percent | Unit::None => None,
    }
}

/// The OSC type tag a parameter is set with and reported in.
pub fn type_tag(kind: &ParamKind) -> &'static str {
    match kind {
        ParamKind::Continuous { .. } => "f",
        ParamKind::Stepped { .. } | ParamKind::Switch => "i",
        ParamKind::Enum { .. } => "s",
    }
}

fn value_json(value: &Value) -> Json {
    match value {
        Value::Int(i) => json!(i),
        Value::Float(x) => json!(x),
        Value::Text(s) => json!(s),
    }
}

/// One meter reading as a `VALUE` item.
fn meter_json(value: f32) -> Json {
    json!(value)
}

/// One OSC method of the namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    /// Its OSC address.
    pub address: String,
    /// OSC type tag string (`f`, `ff`, `s`).
    pub type_tag: String,
    /// [`ACCESS_READ`] or [`ACCESS_READ_WRITE`].
    pub access: u8,
    /// One JSON item per type tag; empty while it has no value yet.
    pub value: Vec<Json>,
    /// One range object per type tag.
    pub range: Vec<Json>,
    /// One unit name per type tag, when it has a unit.
    pub unit: Option<&'static str>,
    /// `both` when values outside the range are clamped.
    pub clipmode: Option<&'static str>,
    /// What it is, for people.
    pub description: String,
    /// Printed detent labels of a stepped control.
    pub labels: Vec<String>,
}

impl Leaf {
    /// A parameter, as `rackd ctl describe` describes it.
    pub fn param(p: &DescribedParam) -> Leaf {
        let range = match &p.spec.kind {
            ParamKind::Continuous { min, max, .. } => json!({ "MIN": min, "MAX": max }),
            ParamKind::Stepped { min, max } if !p.detents.is_empty() => {
                json!({ "MIN": min, "MAX": max, "VALS": (*min..=*max).collect::<Vec<_>>() })
            }
            ParamKind::Stepped { min, max } => json!({ "MIN": min, "MAX": max }),
            ParamKind::Switch => json!({ "MIN": 0, "MAX": 1, "VALS": [0, 1] }),
            ParamKind::Enum { labels } => json!({ "VALS": labels }),
        };
        let clamps = p.spec.out_of_range == OutOfRange::Clamp
            && !matches!(p.spec.kind, ParamKind::Enum { .. });
        let unit_suffix = p.spec.unit.suffix();
        Leaf {
            address: p.address.clone(),
            type_tag: type_tag(&p.spec.kind).into(),
            access: ACCESS_READ_WRITE,
            value: vec![value_json(&p.value)],
            range: vec![range],
            unit: unit_name(p.spec.unit),
            clipmode: clamps.then_some("both"),
            description: if unit_suffix.is_empty() || unit_suffix == ":1" {
                p.spec.name.clone()
            } else {
                format!("{} ({unit_suffix})", p.spec.name)
            },
            labels: p.detents.clone(),
        }
    }

    /// A read-only stream of `values.len()` floats (a meter), with its last reading.
    pub fn meter(address: &str, values: &[f32], unit: Option<&'static str>, what: &str) -> Leaf {
        Leaf {
            address: address.into(),
            type_tag: "f".repeat(values.len()),
            access: ACCESS_READ,
            value: values.iter().map(|&v| meter_json(v)).collect(),
            range: Vec::new(),
            unit,
            clipmode: None,
            description: what.into(),
            labels: Vec::new(),
        }
    }

    fn attributes(&self, out: &mut Map<String, Json>) {
        let n = self.type_tag.len();
        out.insert("TYPE".into(), json!(self.type_tag));
        out.insert("ACCESS".into(), json!(self.access));
        if !self.value.is_empty() {
            out.insert("VALUE".into(), json!(self.value));
        }
        if !self.range.is_empty() {
            out.insert("RANGE".into(), json!(self.range));
        }
        if let Some(unit) = self.unit {
            out.insert("UNIT".into(), json!(vec![unit; n]));
        }
        if let Some(mode) = self.clipmode {
            out.insert("CLIPMODE".into(), json!(vec![mode; n]));
        }
        if !self.labels.is_empty() {
            out.insert("LABELS".into(), json!(self.labels));
        }
    }
}

/// Writes JSON text straight into a buffer (a namespace is written per
/// request: no intermediate tree of maps). With `holes`, each leaf's
/// `VALUE` is left out and its place recorded instead (a [`Skeleton`]).
struct Writer(Vec<u8>, Option<Vec<Hole>>);

impl Writer {
    fn value<T: serde::Serialize + ?Sized>(&mut self, v: &T) {
        // Writing into a Vec cannot fail; serializing these types cannot either.
        let _ = serde_json::to_writer(&mut self.0, v);
    }

    /// `,"KEY":["word","word"…]` with `word` `n` times, without building the list.
    fn repeated(&mut self, key: &str, word: &str, n: usize) {
        self.0.push(b',');
        self.value(key);
        self.0.extend_from_slice(b":[");
        for i in 0..n {
            if i > 0 {
                self.0.push(b',');
            }
            self.value(word);
        }
        self.0.push(b']');
    }

    fn key<T: serde::Serialize + ?Sized>(&mut self, first: bool, key: &str, v: &T) {
        if !first {
            self.0.push(b',');
        }
        self.value(key);
        self.0.push(b':');
        self.value(v);
    }
}

impl Leaf {
    fn write(&self, w: &mut Writer) {
        let n = self.type_tag.len();
        w.key(false, "TYPE", &self.type_tag);
        w.key(false, "ACCESS", &self.access);
        if let Some(holes) = &mut w.1 {
            holes.push(Hole {
                at: w.0.len(),
                address: self.address.clone(),
            });
        } else if !self.value.is_empty() {
            w.key(false, "VALUE", &self.value);
        }
        if !self.range.is_empty() {
            w.key(false, "RANGE", &self.range);
        }
        if let Some(unit) = self.unit {
            w.repeated("UNIT", unit, n);
        }
        if let Some(mode) = self.clipmode {
            w.repeated("CLIPMODE", mode, n);
        }
        if !self.labels.is_empty() {
            w.key(false, "LABELS", &self.labels);
        }
    }
}

/// A node: a container (with children) or a method (with a leaf).
#[derive(Debug, Clone, Default)]
struct Node {
    full_path: String,
    description: String,
    children: BTreeMap<String, Node>,
    leaf: Option<Leaf>,
}

impl Node {
    /// The same object as [`Node::to_json`], as text.
    fn write(&self, w: &mut Writer) {
        w.0.push(b'{');
        w.key(true, "FULL_PATH", &self.full_path);
        if !self.description.is_empty() {
            w.key(false, "DESCRIPTION", &self.description);
        }
        match &self.leaf {
            Some(leaf) => leaf.write(w),
            None => w.key(false, "ACCESS", &ACCESS_NONE),
        }
        if !self.children.is_empty() || self.leaf.is_none() {
            w.0.extend_from_slice(b",\"CONTENTS\":{");
            for (i, (name, child)) in self.children.iter().enumerate() {
                if i > 0 {
                    w.0.push(b',');
                }
                w.value(name);
                w.0.push(b':');
                child.write(w);
            }
            w.0.push(b'}');
        }
        w.0.push(b'}');
    }

    fn to_json(&self) -> Json {
        let mut out = Map::new();
        out.insert("FULL_PATH".into(), json!(self.full_path));
        if !self.description.is_empty() {
            out.insert("DESCRIPTION".into(), json!(self.description));
        }
        match &self.leaf {
            Some(leaf) => leaf.attributes(&mut out),
            None => {
                out.insert("ACCESS".into(), json!(ACCESS_NONE));
            }
        }
        if !self.children.is_empty() || self.leaf.is_none() {
            out.insert("CONTENTS".into(), self.contents());
        }
        Json::Object(out)
    }

    fn contents(&self) -> Json {
        Json::Object(
            self.children
                .iter()
                .map(|(name, child)| (name.clone(), child.to_json()))
                .collect(),
        )
    }
}

/// Why a query has no answer; each maps to the HTTP status the proposal names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// 404: no container or method at that path.
    #[error("no OSC node at {0}")]
    NotFound(String),
    /// 204: the attribute exists but this node cannot give it (the VALUE of a container).
    #[error("{0} has no value")]
    NoValue(String),
    /// 400: an attribute this server does not know or serve.
    #[error("unknown attribute {0:?}; this server serves {1}")]
    UnknownAttribute(String, String),
}

impl QueryError {
    /// The HTTP status code of this error.
    pub fn status(&self) -> u16 {
        match self {
            QueryError::NotFound(_) => 404,
            QueryError::NoValue(_) => 204,
            QueryError::UnknownAttribute(..) => 400,
        }
    }
}

/// The whole namespace.
#[derive(Debug, Clone, Default)]
pub struct Namespace {
    root: Node,
}

impl Namespace {
    /// The namespace of `leaves`, with a description for the root and for
    /// any container (`/chain/eq` → "eq slot, plays 2nd").
    pub fn new(
        root_description: &str,
        leaves: Vec<Leaf>,
        containers: &BTreeMap<String, String>,
    ) -> Namespace {
        let mut root = Node {
            full_path: "/".into(),
            description: root_description.into(),
            ..Node::default()
        };
        for leaf in leaves {
            let mut node = &mut root;
            let mut path = String::new();
            for part in leaf.address.split('/').filter(|p| !p.is_empty()) {
                path.push('/');
                path.push_str(part);
                // Most parts are already there (a slot's container): look up
                // before making an owned key.
                if !node.children.contains_key(part) {
                    node.children.insert(
                        part.to_string(),
                        Node {
                            full_path: path.clone(),
                            description: containers.get(&path).cloned().unwrap_or_default(),
                            ..Node::default()
                        },
                    );
                }
                node = node.children.get_mut(part).expect("inserted above");
            }
            node.description.clone_from(&leaf.description);
            node.leaf = Some(leaf);
        }
        Namespace { root }
    }

    fn node(&self, path: &str) -> Result<&Node, QueryError> {
        let mut node = &self.root;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            node = node
                .children
                .get(part)
                .ok_or_else(|| QueryError::NotFound(path.to_string()))?;
        }
        Ok(node)
    }

    /// `GET /path`: the node and everything under it.
    pub fn get(&self, path: &str) -> Result<Json, QueryError> {
        Ok(self.node(path)?.to_json())
    }

    /// [`Namespace::get`] as JSON text, written without building the tree
    /// of JSON values (what `GET /` of a large rack sends).
    pub fn get_text(&self, path: &str) -> Result<Vec<u8>, QueryError> {
        let mut w = Writer(Vec::with_capacity(64 * 1024), None);
        self.node(path)?.write(&mut w);
        Ok(w.0)
    }

    /// [`Namespace::get_text`] with every leaf's `VALUE` left out, to be
    /// filled in later with [`Skeleton::fill`]: the text of a namespace
    /// whose structure stays while its values move.
    pub fn skeleton(&self, path: &str) -> Result<Skeleton, QueryError> {
        let mut w = Writer(Vec::with_capacity(64 * 1024), Some(Vec::new()));
        self.node(path)?.write(&mut w);
        Ok(Skeleton {
            text: w.0,
            holes: w.1.unwrap_or_default(),
        })
    }

    /// `GET /path?ATTRIBUTE`: `{ATTRIBUTE: value}`, or `{}` when the node
    /// does not have it (the TYPE of a container).
    pub fn attribute(&self, path: &str, name: &str) -> Result<Json, QueryError> {
        if !ATTRIBUTES.contains(&name) {
            return Err(QueryError::UnknownAttribute(
                name.into(),
                ATTRIBUTES.join(", "),
            ));
        }
        let node = self.node(path)?;
        if name == "VALUE" && node.leaf.as_ref().is_none_or(|l| l.access & 1 == 0) {
            return Err(QueryError::NoValue(node.full_path.clone()));
        }
        let Json::Object(mut all) = node.to_json() else {
            unreachable!("a node is an object")
        };
        Ok(match all.remove(name) {
            Some(v) => json!({ name: v }),
            None => json!({}),
        })
    }
}

/// Where a leaf's `VALUE` goes in a [`Skeleton`].
#[derive(Debug, Clone)]
struct Hole {
    /// Byte offset in the text.
    at: usize,
    /// The leaf's address.
    address: String,
}

/// The current value of one leaf of a [`Skeleton`], as its [`Leaf`] has it.
#[derive(Debug, Clone, Copy)]
pub enum LeafValue<'a> {
    /// A parameter's value ([`Leaf::param`]).
    Param(&'a Value),
    /// A meter's readings ([`Leaf::meter`]); none: no `VALUE`.
    Meter(&'a [f32]),
}

/// A namespace's text without its values ([`Namespace::skeleton`]).
#[derive(Debug, Clone)]
pub struct Skeleton {
    text: Vec<u8>,
    holes: Vec<Hole>,
}

impl Skeleton {
    /// The leaves' addresses, in the order [`Skeleton::fill`] asks for their values.
    pub fn addresses(&self) -> impl Iterator<Item = &str> {
        self.holes.iter().map(|h| h.address.as_str())
    }

    /// The text with each leaf's value: `value(i)` for the `i`th address of
    /// [`Skeleton::addresses`]. The same bytes as [`Namespace::get_text`] of
    /// a namespace built with those values.
    pub fn fill<'a>(&self, mut value: impl FnMut(usize) -> LeafValue<'a>) -> Vec<u8> {
        let mut w = Writer(
            Vec::with_capacity(self.text.len() + 32 * self.holes.len()),
            None,
        );
        let mut from = 0;
        for (i, hole) in self.holes.iter().enumerate() {
            w.0.extend_from_slice(&self.text[from..hole.at]);
            from = hole.at;
            // The items a `Leaf` would hold, written as `Leaf::write` does.
            let items: Vec<Json> = match value(i) {
                LeafValue::Param(v) => vec![value_json(v)],
                LeafValue::Meter(values) => values.iter().map(|&v| meter_json(v)).collect(),
            };
            if !items.is_empty() {
                w.key(false, "VALUE", &items);
            }
        }
        w.0.extend_from_slice(&self.text[from..]);
        w.0
    }
}

/// What `?HOST_INFO` tells a client about this server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    /// `NAME`.
    pub name: String,
    /// `OSC_IP`: where the OSC server listens (`None`: this host).
    pub osc_ip: Option<String>,
    /// `OSC_PORT`.
    pub osc_port: u16,
    /// `WS_PORT` (the same port as HTTP).
    pub ws_port: u16,
}

impl HostInfo {
    /// The `HOST_INFO` object.
    pub fn to_json(&self) -> Json {
        let mut out = Map::new();
        out.insert("NAME".into(), json!(self.name));
        out.insert(
            "EXTENSIONS".into(),
            Json::Object(
                EXTENSIONS
                    .iter()
                    .map(|e| (e.to_string(), json!(true)))
                    .collect(),
            ),
        );
        if let Some(ip) = &self.osc_ip {
            out.insert("OSC_IP".into(), json!(ip));
        }
        out.insert("OSC_PORT".into(), json!(self.osc_port));
        out.insert("OSC_TRANSPORT".into(), json!("UDP"));
        out.insert("WS_PORT".into(), json!(self.ws_port));
        Json::Object(out)
    }
}

/// A command a client sends in a WebSocket text frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsCommand {
    /// Stream what is sent to this address (or, rackd's extension, every
    /// address an OSC pattern matches: `/chain/*/gain`).
    Listen(String),
    /// Stop streaming it.
    Ignore(String),
}

impl WsCommand {
    /// Parses `{"COMMAND": "LISTEN", "DATA": "/foo"}`.
    pub fn parse(text: &str) -> Result<WsCommand, String> {
        let json: Json =
            serde_json::from_str(text).map_err(|e| format!("not a JSON command: {e}"))?;
        let command = json
            .get("COMMAND")
            .and_then(Json::as_str)
            .ok_or("a command needs a \"COMMAND\" string")?;
        let data = json
            .get("DATA")
            .and_then(Json::as_str)
            .ok_or("LISTEN and IGNORE need a \"DATA\" string: an OSC address")?;
        if !data.starts_with('/') {
            return Err(format!("{data:?} is not an OSC address"));
        }
        match command {
            "LISTEN" => Ok(WsCommand::Listen(data.into())),
            "IGNORE" => Ok(WsCommand::Ignore(data.into())),
            other => Err(format!(
                "unknown command {other:?}; this server takes LISTEN and IGNORE"
            )),
        }
    }
}

/// The `PATH_CHANGED` notice for `path` (a WebSocket text frame).
pub fn path_changed(path: &str) -> String {
    json!({ "COMMAND": "PATH_CHANGED", "DATA": path }).to_string()
}

#[cfg(test)]
mod tests;
