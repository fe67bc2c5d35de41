//! Reading the config: the text becomes a span-keeping tree
//! ([`rackd_protocol::toml_tree`]), environment overrides are put into it,
//! each section is deserialized with serde derive (`deny_unknown_fields`)
//! into a raw form, and a validation pass turns the raw form into a
//! [`Config`]. Every problem is collected with its `file:line` (or the
//! environment variable it came from), not only the first, in time linear
//! in the size of the file.

mod chain;
mod device;
mod http;
mod midi_surface;

pub use midi_surface::check_banks;

use super::raw::*;
use super::{
    AudioConfig, BackendKind, Config, ConfigError, CpalHost, DaemonConfig, FilesConfig, OscConfig,
    SlotConfig, StaticSurface, default_state_dir,
};
use ipnet::IpNet;
use rackd_dsp::{CeilingMode, SlotKind};
use rackd_protocol::toml_tree::{DeError, Kind, LineIndex, Node, fields_of, from_node_all};
use serde::Deserialize;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::PathBuf;

/// Reads one config text into a [`Config`] and its problems.
pub(super) struct Reader<'a> {
    file: &'a str,
    text_len: usize,
    lines: LineIndex,
    /// Environment variables whose values were put into the tree, by the
    /// span offset they were given (past the end of the text).
    env: Vec<String>,
    pub(super) errors: Vec<ConfigError>,
    pub(super) warnings: Vec<ConfigError>,
}

impl<'a> Reader<'a> {
    /// A reader for `text` named `file`; `env` are the override variables
    /// whose nodes carry spans `text.len() + 1 + index`.
    pub(super) fn new(file: &'a str, text: &str, env: Vec<String>) -> Self {
        Reader {
            file,
            text_len: text.len(),
            lines: LineIndex::new(text),
            env,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Where a span is: a line of the file, or an environment variable.
    fn locate(&self, span: &Range<usize>) -> (String, Option<usize>) {
        match span.start.checked_sub(self.text_len + 1) {
            Some(i) => (
                format!(
                    "environment {}",
                    self.env.get(i).map_or("RACKD_…", String::as_str)
                ),
                None,
            ),
            None => (self.file.to_string(), Some(self.lines.line(span.start))),
        }
    }

    fn problem(&self, span: &Range<usize>, key: &str, message: String) -> ConfigError {
        let (file, line) = self.locate(span);
        ConfigError {
            file,
            line,
            key: key.to_string(),
            message,
        }
    }

    fn error(&mut self, span: &Range<usize>, key: &str, message: impl Into<String>) {
        let e = self.problem(span, key, message.into());
        self.errors.push(e);
    }

    fn warn(&mut self, span: &Range<usize>, key: &str, message: impl Into<String>) {
        let w = self.problem(span, key, message.into());
        self.warnings.push(w);
    }

    /// Reports every key of table `node` that `T` does not have and removes it.
    fn strip_unknown<'de, T: Deserialize<'de>>(&mut self, node: &mut Node, prefix: &str) {
        let fields = fields_of::<T>();
        let Kind::Table(entries) = &mut node.kind else {
            return;
        };
        let known: HashSet<&str> = fields.iter().copied().collect();
        let mut unknown = Vec::new();
        entries.retain(|(k, span, _)| {
            let ok = known.contains(k.as_str());
            if !ok {
                unknown.push((k.clone(), span.clone()));
            }
            ok
        });
        for (k, span) in unknown {
            self.error(
                &span,
                &join(prefix, &k),
                format!("unknown key; known keys here: {}", fields.join(", ")),
            );
        }
    }

    /// Deserializes `node` into `T`, reporting each type error at its key
    /// and reading on without that key; `None` when `node` is not a table.
    fn section<T: for<'de> Deserialize<'de> + Default>(
        &mut self,
        node: Option<&Node>,
        prefix: &str,
    ) -> T {
        let Some(node) = node else {
            return T::default();
        };
        if !matches!(node.kind, Kind::Table(_)) {
            self.error(&node.span, prefix, "expected a table");
            return T::default();
        }
        let mut node = node.clone();
        self.strip_unknown::<T>(&mut node, prefix);
        let (value, found) = from_node_all::<T>(&node);
        for f in found {
            let key = join(prefix, &f.path);
            self.error(&f.span, &key, friendly(&f.error));
        }
        value.unwrap_or_default()
    }

    /// The whole config from the tree.
    pub(super) fn config(&mut self, root: &Node) -> Config {
        let mut root = root.clone();
        self.strip_unknown::<RawRoot>(&mut root, "");
        let at = |key: &str| root.entry(key).map(|(span, _)| span);
        let span_of = |key: &str| at(key).unwrap_or(0..0);

        let d: RawDaemon = self.section(root.get("daemon"), "daemon");
        let daemon = self.daemon(d, &root);
        let a: RawAudio = self.section(root.get("audio"), "audio");
        let audio = self.audio(a, &root);
        let o: RawOsc = self.section(root.get("osc"), "osc");
        let osc = self.osc(o, &root);
        let h: RawHttp = self.section(root.get("http"), "http");
        let http = self.http(h, &root);
        let f: RawFiles = self.section(root.get("files"), "files");
        let files = FilesConfig {
            input_dirs: f
                .input_dirs
                .map(|d| d.0.into_iter().map(PathBuf::from).collect())
                .unwrap_or_else(|| FilesConfig::default().input_dirs),
            output_dir: f
                .output_dir
                .map(PathBuf::from)
                .unwrap_or_else(|| FilesConfig::default().output_dir),
        };
        if files.output_dir.as_os_str().is_empty() {
            let span = key_span(&root, &["files", "output_dir"]);
            self.error(&span, "files.output_dir", "an empty path; give a directory");
        }

        let surfaces = items(&root, "surface")
            .iter()
            .enumerate()
            .filter_map(|(i, item)| self.surface(i, item))
            .collect();
        let mut ids = HashSet::new();
        let chain = items(&root, "chain")
            .iter()
            .enumerate()
            .filter_map(|(i, item)| self.slot(i, item, audio.channels, &mut ids))
            .collect::<Vec<_>>();
        let mut device_ids = HashSet::new();
        let devices = items(&root, "device")
            .iter()
            .enumerate()
            .filter_map(|(i, item)| self.device(i, item, &mut device_ids))
            .collect();
        let mut surface_ids = HashSet::new();
        let midi_surfaces = items(&root, "midi_surface")
            .iter()
            .enumerate()
            .filter_map(|(i, item)| self.midi_surface(i, item, &mut surface_ids))
            .collect();

        self.backend_warnings(&chain, &audio, &root);
        if root.get("chain").is_none() && root.get("audio").is_none() {
            self.warn(
                &span_of(""),
                "-",
                format!(
                    "no [audio] and no [[chain]]: assuming backend {:?}, JACK client {:?}, \
                     OSC on {}, and an empty chain (signal passes through untouched)",
                    audio.backend, audio.client_name, osc.listen
                ),
            );
        }
        Config {
            file: None,
            daemon,
            audio,
            osc,
            http,
            files,
            surfaces,
            chain,
            devices,
            midi_surfaces,
            warnings: Vec::new(),
        }
    }

    fn daemon(&mut self, d: RawDaemon, root: &Node) -> DaemonConfig {
        let span = |k: &str| key_span(root, &["daemon", k]);
        let log_level = d.log_level.unwrap_or_else(|| "info".into());
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            self.error(
                &span("log_level"),
                "daemon.log_level",
                format!("{log_level:?} is not a log filter (try info, debug, rackd=debug)"),
            );
        }
        let autosave_ms = self
            .range(
                d.autosave_ms,
                (0.0, 60_000.0),
                &span("autosave_ms"),
                "daemon.autosave_ms",
            )
            .unwrap_or(500.0) as u64;
        DaemonConfig {
            state_dir: d
                .state_dir
                .map(PathBuf::from)
                .unwrap_or_else(default_state_dir),
            log_level,
            autosave_ms,
            profile_dirs: d
                .profile_dirs
                .unwrap_or_default()
                .0
                .into_iter()
                .map(PathBuf::from)
                .collect(),
        }
    }

    /// A number within `range`, else an error and `None`.
    fn range(
        &mut self,
        value: Option<Num>,
        (min, max): (f64, f64),
        span: &Range<usize>,
        key: &str,
    ) -> Option<f64> {
        let Num(x) = value?;
        if (min..=max).contains(&x) {
            Some(x)
        } else {
            self.error(span, key, format!("{x} is outside {min}..{max}"));
            None
        }
    }

    fn audio(&mut self, a: RawAudio, root: &Node) -> AudioConfig {
        let span = |k: &str| key_span(root, &["audio", k]);
        let defaults = AudioConfig::default();
        let backend = match a.backend.as_deref().unwrap_or("jack") {
            "jack" => BackendKind::Jack,
            "null" => BackendKind::Null,
            "cpal" => BackendKind::Cpal,
            other => {
                self.error(
                    &span("backend"),
                    "audio.backend",
                    format!("unknown backend {other:?}; choose jack, cpal or null"),
                );
                BackendKind::Null
            }
        };
        let client_name = a.client_name.unwrap_or(defaults.client_name);
        if client_name.is_empty() || client_name.len() > 60 || client_name.contains(':') {
            self.error(
                &span("client_name"),
                "audio.client_name",
                "must be 1..60 characters without ':'",
            );
        }
        let connect_inputs = a.connect_inputs.unwrap_or_default().0;
        let connect_outputs = a.connect_outputs.unwrap_or_default().0;
        for (key, list) in [
            ("connect_inputs", &connect_inputs),
            ("connect_outputs", &connect_outputs),
        ] {
            if list.len() > 2 {
                self.error(
                    &span(key),
                    &join("audio", key),
                    "at most two ports (left, right)",
                );
            }
        }
        let mut num = |v, r, k: &str| self.range(v, r, &span(k), &join("audio", k));
        let sample_rate = num(a.sample_rate, (8000.0, 384_000.0), "sample_rate")
            .map_or(defaults.sample_rate, |x| x as u32);
        let period = num(a.period, (16.0, 8192.0), "period").map_or(defaults.period, |x| x as u32);
        let test_tone_db = num(a.test_tone_db, (-120.0, 0.0), "test_tone_db").map(|x| x as f32);
        let ceiling_dbfs = num(a.ceiling_dbfs, (-60.0, 0.0), "ceiling_dbfs")
            .map_or(defaults.ceiling_dbfs, |x| x as f32);
        let ceiling_mode = match a.ceiling_mode.as_deref().unwrap_or("sample_peak") {
            "sample_peak" => CeilingMode::SamplePeak,
            "true_peak" => CeilingMode::TruePeak,
            other => {
                self.error(
                    &span("ceiling_mode"),
                    "audio.ceiling_mode",
                    format!("unknown ceiling mode {other:?}; choose sample_peak or true_peak"),
                );
                CeilingMode::SamplePeak
            }
        };
        let mut num = |v, r, k: &str| self.range(v, r, &span(k), &join("audio", k));
        let buffer_size = num(a.buffer_size, (16.0, 8192.0), "buffer_size").map(|x| x as u32);
        let channels = num(a.channels, (2.0, 64.0), "channels").map_or(2, |x| x as u16);
        let host = match a.host.as_deref().unwrap_or("alsa") {
            "alsa" => CpalHost::Alsa,
            "jack" => CpalHost::Jack,
            other => {
                self.error(
                    &span("host"),
                    "audio.host",
                    format!("unknown cpal host {other:?}; choose alsa or jack"),
                );
                CpalHost::Alsa
            }
        };
        AudioConfig {
            backend,
            client_name,
            connect_inputs,
            connect_outputs,
            sample_rate,
            period,
            test_tone_db,
            ceiling_dbfs,
            ceiling_mode,
            host,
            device: a.device.filter(|d| !d.is_empty()),
            buffer_size,
            channels,
        }
    }

    fn osc(&mut self, o: RawOsc, root: &Node) -> OscConfig {
        let span = |k: &str| key_span(root, &["osc", k]);
        let listen_text = o.listen.unwrap_or_else(|| "127.0.0.1:7770".into());
        let listen = listen_text.parse::<SocketAddr>().unwrap_or_else(|_| {
            self.error(
                &span("listen"),
                "osc.listen",
                format!("{listen_text:?} is not HOST:PORT (e.g. 127.0.0.1:7770)"),
            );
            SocketAddr::from(([127, 0, 0, 1], 7770))
        });
        let allow_text = o
            .allow
            .map(|a| a.0)
            .unwrap_or_else(|| vec!["127.0.0.0/8".into(), "::1/128".into()]);
        let mut allow = Vec::new();
        for (i, net) in allow_text.iter().enumerate() {
            match net
                .parse::<IpNet>()
                .or_else(|_| net.parse::<std::net::IpAddr>().map(IpNet::from))
            {
                Ok(n) => allow.push(n),
                Err(_) => self.error(
                    &span("allow"),
                    &format!("osc.allow[{i}]"),
                    format!("{net:?} is not a network (e.g. 192.168.1.0/24)"),
                ),
            }
        }
        let idle_timeout = self
            .range(
                o.idle_timeout_s,
                (1.0, 86_400.0),
                &span("idle_timeout_s"),
                "osc.idle_timeout_s",
            )
            .unwrap_or(30.0);
        OscConfig {
            listen,
            allow,
            idle_timeout: std::time::Duration::from_secs_f64(idle_timeout),
        }
    }

    fn surface(&mut self, i: usize, item: &Node) -> Option<StaticSurface> {
        let key = format!("surface[{i}]");
        let s: RawSurface = self.section(Some(item), &key);
        let span = |k: &str| item.entry(k).map_or(item.span.clone(), |(s, _)| s);
        let patterns = s.patterns.unwrap_or_default().0;
        for (j, p) in patterns.iter().enumerate() {
            if let Err(e) = rackd_protocol::osc::pattern::validate(p) {
                self.error(
                    &span("patterns"),
                    &format!("{key}.patterns[{j}]"),
                    e.to_string(),
                );
            }
        }
        let addr_text = s.address.unwrap_or_default();
        match addr_text.parse::<SocketAddr>() {
            Ok(address) => Some(StaticSurface { address, patterns }),
            Err(_) => {
                self.error(
                    &span("address"),
                    &format!("{key}.address"),
                    format!("{addr_text:?} is not HOST:PORT"),
                );
                None
            }
        }
    }

    /// What rackd would only find out at start: inserts on a backend that
    /// cannot serve them.
    fn backend_warnings(&mut self, chain: &[SlotConfig], audio: &AudioConfig, root: &Node) {
        for (i, slot) in chain.iter().enumerate() {
            if slot.kind != SlotKind::Insert {
                continue;
            }
            let why = match audio.backend {
                BackendKind::Jack => None,
                BackendKind::Cpal
                    if slot.send_channels.is_empty() || slot.return_channels.is_empty() =>
                {
                    Some("give it send_channels and return_channels (device channels 3 and up)")
                }
                BackendKind::Cpal => None,
                BackendKind::Null => Some("hardware inserts need the JACK or cpal backend"),
            };
            if let Some(why) = why {
                let span = items(root, "chain").get(i).map_or(0..0, |n| n.span.clone());
                self.warn(
                    &span,
                    &format!("chain[{i}]"),
                    format!(
                        "insert {}: no send and return on the {:?} backend, it returns silence ({why})",
                        slot.id, audio.backend
                    ),
                );
            }
        }
    }
}

/// The items of an array of tables (`[[chain]]`), none when absent.
fn items<'n>(root: &'n Node, key: &str) -> &'n [Node] {
    match root.get(key).map(|n| &n.kind) {
        Some(Kind::Array(items)) => items,
        _ => &[],
    }
}

/// The span of a key (of its closest enclosing table when absent).
fn key_span(root: &Node, path: &[&str]) -> Range<usize> {
    let mut node = root;
    let mut span = 0..0;
    for part in path {
        match node.entry(part) {
            Some((s, n)) => {
                span = s;
                node = n;
            }
            None => break,
        }
    }
    span
}

fn join(table: &str, key: &str) -> String {
    if key.is_empty() {
        table.to_string()
    } else if table.is_empty() {
        key.to_string()
    } else {
        format!("{table}.{key}")
    }
}

/// serde's words for a wrong type, as an engineer would say them.
fn friendly(e: &DeError) -> String {
    let m = &e.message;
    if let Some(rest) = m.strip_prefix("invalid type: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        let expected = match expected {
            "a boolean" => "true or false",
            other => other,
        };
        let found = found
            .trim_start_matches("integer ")
            .trim_start_matches("floating point ")
            .trim_start_matches("string ")
            .trim_matches('`');
        return format!("expected {expected}, found {found}");
    }
    m.clone()
}
