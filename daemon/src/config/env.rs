//! `RACKD_<SECTION>__<KEY>` environment overrides, parsed by the `config`
//! crate (numbers, booleans, comma-separated lists) and put into the config
//! tree, where errors in them are reported under the variable's name.
//!
//! Only variables that name a config section are config: `RACKD_CONNECT`
//! (for `rackd ctl`) and other client settings are not, and are left alone.

use config::{Source as _, ValueKind};
use rackd_protocol::toml_tree::{Kind, Node};
use std::collections::BTreeMap;
use std::ops::Range;

/// Sections the environment can override (tables, not arrays of tables).
const SECTIONS: [&str; 5] = ["daemon", "audio", "osc", "http", "files"];

/// Keys whose value is a list; `a,b` in the environment is split there.
const LISTS: [&str; 6] = [
    "osc.allow",
    "http.mdns_interfaces",
    "files.input_dirs",
    "daemon.profile_dirs",
    "audio.connect_inputs",
    "audio.connect_outputs",
];

/// What the environment adds to a config tree.
pub(super) struct Overrides {
    /// The variable of each override, in the order of their spans.
    pub(super) names: Vec<String>,
    /// Variables that look like a mistyped override (`RACKD_OSC_LISTEN`).
    pub(super) suspicious: Vec<String>,
}

/// Puts the config variables of `env` into `root`; the nodes they make get
/// spans `text_len + 1 + index` (past the text, so errors name the variable).
pub(super) fn apply(root: &mut Node, env: &BTreeMap<String, String>, text_len: usize) -> Overrides {
    let mut config_vars = BTreeMap::new();
    let mut suspicious = Vec::new();
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("RACKD_") else {
            continue;
        };
        let lower = rest.to_ascii_lowercase();
        match lower.split_once("__") {
            Some((section, _)) if SECTIONS.contains(&section) => {
                config_vars.insert(name.clone(), value.clone());
            }
            _ if SECTIONS.iter().any(|s| lower.starts_with(&format!("{s}_"))) => {
                suspicious.push(name.clone());
            }
            _ => {}
        }
    }
    let mut source = config::Environment::with_prefix("RACKD")
        .prefix_separator("_")
        .separator("__")
        .try_parsing(true)
        .list_separator(",");
    for key in LISTS {
        source = source.with_list_parse_key(key);
    }
    let parsed = source
        .source(Some(config_vars.clone().into_iter().collect()))
        .collect();
    let mut names = Vec::new();
    let Ok(parsed) = parsed else {
        return Overrides { names, suspicious };
    };
    for (key, value) in parsed {
        let var = format!("RACKD_{}", key.replace('.', "__").to_ascii_uppercase());
        let at = text_len + 1 + names.len();
        names.push(var);
        let span = at..at + 1;
        let path: Vec<&str> = key.split('.').collect();
        set(root, &path, node(&value.kind, &span), &span);
    }
    Overrides { names, suspicious }
}

/// A tree node for a value from the environment.
fn node(value: &ValueKind, span: &Range<usize>) -> Node {
    let kind = match value {
        ValueKind::Nil => Kind::Str(String::new()),
        ValueKind::Boolean(b) => Kind::Bool(*b),
        ValueKind::I64(i) => Kind::Int(*i),
        ValueKind::I128(i) => Kind::Int(*i as i64),
        ValueKind::U64(u) => Kind::Int(*u as i64),
        ValueKind::U128(u) => Kind::Int(*u as i64),
        ValueKind::Float(x) => Kind::Float(*x),
        ValueKind::String(s) => Kind::Str(s.clone()),
        ValueKind::Array(items) => Kind::Array(items.iter().map(|v| node(&v.kind, span)).collect()),
        ValueKind::Table(t) => Kind::Table(
            t.iter()
                .map(|(k, v)| (k.clone(), span.clone(), node(&v.kind, span)))
                .collect(),
        ),
    };
    Node {
        span: span.clone(),
        kind,
    }
}

/// Sets `path` in the tables under `root` to `value`, making tables on the way.
fn set(root: &mut Node, path: &[&str], value: Node, span: &Range<usize>) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let Kind::Table(entries) = &mut root.kind else {
        return;
    };
    let i = match entries.iter().position(|(k, _, _)| k == first) {
        Some(i) => i,
        None => {
            let table = Node {
                span: span.clone(),
                kind: Kind::Table(Vec::new()),
            };
            entries.push((first.to_string(), span.clone(), table));
            entries.len() - 1
        }
    };
    if rest.is_empty() {
        entries[i].1 = span.clone();
        entries[i].2 = value;
    } else {
        set(&mut entries[i].2, rest, value, span);
    }
}
