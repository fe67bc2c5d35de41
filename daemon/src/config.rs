//! The daemon's configuration: TOML through the `config` crate, `RACKD_…`
//! environment overrides, and a validation pass that reports every error with
//! its file and line (not only the first), as `rackd check` promises.

use anyhow::Context as _;
use ipnet::IpNet;
use rackd_dsp::SlotKind;
use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Default config path, as the systemd unit uses it.
pub const DEFAULT_PATH: &str = "/etc/rackd/rackd.toml";

/// Which audio backend runs the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// A JACK client (waits for the server when none runs).
    Jack,
    /// Internally clocked, no hardware.
    Null,
}

/// `[daemon]`: where state lives and how much is logged.
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonConfig {
    /// Directory of the SQLite database.
    pub state_dir: PathBuf,
    /// tracing filter (`info`, `debug`, `rackd=debug`).
    pub log_level: String,
    /// Debounce of the autosave of the live state, in ms.
    pub autosave_ms: u64,
}

/// `[audio]`: backend, ports and the output safety ceiling.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioConfig {
    /// Backend to run.
    pub backend: BackendKind,
    /// JACK client name.
    pub client_name: String,
    /// JACK ports to connect our two inputs from (left, right).
    pub connect_inputs: Vec<String>,
    /// JACK ports to connect our two outputs to (left, right).
    pub connect_outputs: Vec<String>,
    /// Null backend: sample rate.
    pub sample_rate: u32,
    /// Null backend: frames per period.
    pub period: u32,
    /// Null backend: level of a 1 kHz test tone on the input, None for silence.
    pub test_tone_db: Option<f32>,
    /// Output safety ceiling in dBFS; nothing a client sends goes above it.
    pub ceiling_dbfs: f32,
}

/// `[osc]`: where surfaces reach the daemon and who may.
#[derive(Debug, Clone, PartialEq)]
pub struct OscConfig {
    /// UDP and TCP listen address.
    pub listen: SocketAddr,
    /// Client networks allowed to talk to the daemon.
    pub allow: Vec<IpNet>,
}

/// `[[surface]]`: a fixed host:port that always gets feedback, no lease.
#[derive(Debug, Clone, PartialEq)]
pub struct StaticSurface {
    /// UDP destination.
    pub address: SocketAddr,
    /// OSC patterns of the feedback it wants (all parameters when empty).
    pub patterns: Vec<String>,
}

/// `[[chain]]`: one slot of the DSP chain.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotConfig {
    /// Address component: `/chain/<id>/...`.
    pub id: String,
    /// Built-in processor kind.
    pub kind: SlotKind,
}

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it came from, if any (for reloads and messages).
    pub file: Option<PathBuf>,
    /// `[daemon]`.
    pub daemon: DaemonConfig,
    /// `[audio]`.
    pub audio: AudioConfig,
    /// `[osc]`.
    pub osc: OscConfig,
    /// `[[surface]]`.
    pub surfaces: Vec<StaticSurface>,
    /// `[[chain]]`.
    pub chain: Vec<SlotConfig>,
}

/// One problem in the configuration, located as precisely as we can.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// File name, or `environment` for a `RACKD_…` override.
    pub file: String,
    /// 1-based line, when the key is in the file.
    pub line: Option<usize>,
    /// Dotted key (`osc.listen`, `chain[1].kind`).
    pub key: String,
    /// What is wrong and what is expected.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}: {}", self.file, line, self.key, self.message),
            None => write!(f, "{}: {}: {}", self.file, self.key, self.message),
        }
    }
}

/// All problems found; `rackd check` prints each on its own line.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// The built-in demo rack: what `rackd demo` runs when given no file.
pub const DEMO_TOML: &str = r#"# rackd demo rack
[daemon]
log_level = "info"

[audio]
backend = "jack"
client_name = "rackd-demo"
test_tone_db = -18.0
ceiling_dbfs = -0.3

[osc]
listen = "127.0.0.1:7770"
allow = ["127.0.0.0/8", "::1/128"]

[[chain]]
id = "trim"
kind = "trim"

[[chain]]
id = "meter"
kind = "meter"
"#;

impl Config {
    /// Loads a file with `RACKD_…` overrides from the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                file: path.display().to_string(),
                line: None,
                key: "-".into(),
                message: format!("cannot read the file: {e}"),
            }])
        })?;
        let mut cfg = Self::from_toml(&text, &path.display().to_string(), env_overrides())?;
        cfg.file = Some(path.to_path_buf());
        Ok(cfg)
    }

    /// Parses TOML text plus explicit environment overrides (`RACKD_OSC__LISTEN=…`).
    pub fn from_toml(
        text: &str,
        file: &str,
        env: BTreeMap<String, String>,
    ) -> Result<Config, ConfigErrors> {
        let located = |key: &str, message: String| ConfigError {
            file: file.to_string(),
            line: None,
            key: key.to_string(),
            message,
        };
        // Syntax errors first: the config crate would hide the line.
        if let Err(e) = text.parse::<toml::Table>() {
            let line = e.span().map(|s| text[..s.start].lines().count().max(1));
            return Err(ConfigErrors(vec![ConfigError {
                line,
                ..located("-", e.message().to_string())
            }]));
        }
        let env_keys: HashSet<String> = env
            .keys()
            .filter_map(|k| k.strip_prefix("RACKD_"))
            .map(|k| k.to_ascii_lowercase().replace("__", "."))
            .collect();
        let merged = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix("RACKD")
                    .prefix_separator("_")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("osc.allow")
                    .with_list_parse_key("audio.connect_inputs")
                    .with_list_parse_key("audio.connect_outputs")
                    .source(Some(env.into_iter().collect())),
            )
            .build()
            .and_then(|c| c.try_deserialize::<Json>())
            .map_err(|e| ConfigErrors(vec![located("-", e.to_string())]))?;
        let mut reader = Reader {
            file: file.to_string(),
            lines: KeyLines::new(text),
            env_keys,
            errors: Vec::new(),
        };
        let cfg = reader.config(&merged);
        if reader.errors.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigErrors(reader.errors))
        }
    }

    /// The built-in demo configuration with the given OSC port and state dir.
    pub fn demo(osc_port: u16, state_dir: &Path) -> anyhow::Result<Config> {
        let mut cfg = Self::from_toml(DEMO_TOML, "<demo>", env_overrides())
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("the built-in demo config is invalid")?;
        cfg.osc.listen.set_port(osc_port);
        cfg.daemon.state_dir = state_dir.to_path_buf();
        Ok(cfg)
    }
}

/// The process's `RACKD_…` variables.
pub fn env_overrides() -> BTreeMap<String, String> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("RACKD_"))
        .collect()
}

/// Default state dir: systemd's `$STATE_DIRECTORY`, else `/var/lib/rackd`.
fn default_state_dir() -> PathBuf {
    std::env::var_os("STATE_DIRECTORY")
        .map(|s| {
            // systemd may pass several, colon-separated; the first is ours.
            let s = s.to_string_lossy().to_string();
            PathBuf::from(s.split(':').next().unwrap_or("/var/lib/rackd"))
        })
        .unwrap_or_else(|| PathBuf::from("/var/lib/rackd"))
}

/// Finds the line of a dotted key in the TOML text, for error messages.
struct KeyLines {
    /// `(dotted key, line)`; array-of-table entries get their index: `chain[1].kind`.
    keys: Vec<(String, usize)>,
}

impl KeyLines {
    fn new(text: &str) -> Self {
        let mut keys = Vec::new();
        let mut table = String::new();
        let mut array_counts: BTreeMap<String, usize> = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            let n = i + 1;
            if let Some(name) = line.strip_prefix("[[").and_then(|l| l.split("]]").next()) {
                let name = name.trim().to_string();
                let idx = array_counts.entry(name.clone()).or_insert(0);
                table = format!("{name}[{idx}]");
                *idx += 1;
                keys.push((table.clone(), n));
            } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
                table = name.trim().to_string();
                keys.push((table.clone(), n));
            } else if let Some((key, _)) = line.split_once('=') {
                let key = key.trim().trim_matches('"');
                if !key.is_empty() && !key.starts_with('#') {
                    let full = if table.is_empty() {
                        key.to_string()
                    } else {
                        format!("{table}.{key}")
                    };
                    keys.push((full, n));
                }
            }
        }
        KeyLines { keys }
    }

    /// The line of `key`, or of its closest enclosing table.
    fn line_of(&self, key: &str) -> Option<usize> {
        let mut k = key;
        loop {
            if let Some((_, n)) = self.keys.iter().find(|(name, _)| name == k) {
                return Some(*n);
            }
            // `osc.allow[2]` → `osc.allow` → `osc`
            let cut = k.rfind(['.', '['])?;
            k = &k[..cut];
        }
    }
}

/// Walks the merged config tree, collecting every error instead of stopping at one.
struct Reader {
    file: String,
    lines: KeyLines,
    env_keys: HashSet<String>,
    errors: Vec<ConfigError>,
}

impl Reader {
    fn error(&mut self, key: &str, message: impl Into<String>) {
        let plain = key.split('[').next().unwrap_or(key);
        let (file, line) = if self.env_keys.contains(plain) {
            (
                format!(
                    "environment RACKD_{}",
                    plain.replace('.', "__").to_uppercase()
                ),
                None,
            )
        } else {
            (self.file.clone(), self.lines.line_of(key))
        };
        self.errors.push(ConfigError {
            file,
            line,
            key: key.to_string(),
            message: message.into(),
        });
    }

    /// A table, reporting keys it does not know.
    fn table<'a>(
        &mut self,
        parent: &'a Json,
        key: &str,
        known: &[&str],
    ) -> Option<&'a Map<String, Json>> {
        let value = if key.is_empty() {
            Some(parent)
        } else {
            lookup(parent, key)
        };
        match value {
            None => None,
            Some(Json::Object(map)) => {
                for k in map.keys() {
                    if !known.contains(&k.as_str()) {
                        let full = if key.is_empty() {
                            k.clone()
                        } else {
                            format!("{key}.{k}")
                        };
                        self.error(
                            &full,
                            format!("unknown key; known keys here: {}", known.join(", ")),
                        );
                    }
                }
                Some(map)
            }
            Some(_) => {
                self.error(key, "expected a table");
                None
            }
        }
    }

    fn string(
        &mut self,
        map: Option<&Map<String, Json>>,
        table: &str,
        key: &str,
        default: &str,
    ) -> String {
        match map.and_then(|m| m.get(key)) {
            None => default.to_string(),
            Some(Json::String(s)) => s.clone(),
            Some(other) => {
                self.error(
                    &join(table, key),
                    format!("expected a string, found {other}"),
                );
                default.to_string()
            }
        }
    }

    fn number(
        &mut self,
        map: Option<&Map<String, Json>>,
        table: &str,
        key: &str,
        range: (f64, f64),
    ) -> Option<f64> {
        let v = map.and_then(|m| m.get(key))?;
        match v
            .as_f64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        {
            Some(x) if x >= range.0 && x <= range.1 => Some(x),
            Some(x) => {
                self.error(
                    &join(table, key),
                    format!("{x} is outside {}..{}", range.0, range.1),
                );
                None
            }
            None => {
                self.error(&join(table, key), format!("expected a number, found {v}"));
                None
            }
        }
    }

    fn strings(
        &mut self,
        map: Option<&Map<String, Json>>,
        table: &str,
        key: &str,
    ) -> Option<Vec<String>> {
        match map.and_then(|m| m.get(key))? {
            Json::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Json::String(s) => out.push(s.clone()),
                        other => self.error(
                            &format!("{}[{i}]", join(table, key)),
                            format!("expected a string, found {other}"),
                        ),
                    }
                }
                Some(out)
            }
            Json::String(s) if s.is_empty() => Some(Vec::new()),
            Json::String(s) => Some(s.split(',').map(|p| p.trim().to_string()).collect()),
            other => {
                self.error(
                    &join(table, key),
                    format!("expected a list of strings, found {other}"),
                );
                None
            }
        }
    }

    fn config(&mut self, root: &Json) -> Config {
        self.table(
            root,
            "",
            &["daemon", "audio", "osc", "surface", "chain", "device"],
        );

        let d = self.table(root, "daemon", &["state_dir", "log_level", "autosave_ms"]);
        let state_dir = match d.and_then(|m| m.get("state_dir")) {
            Some(_) => PathBuf::from(self.string(d, "daemon", "state_dir", "")),
            None => default_state_dir(),
        };
        let log_level = self.string(d, "daemon", "log_level", "info");
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            self.error(
                "daemon.log_level",
                format!("{log_level:?} is not a log filter (try info, debug, rackd=debug)"),
            );
        }
        let autosave_ms = self
            .number(d, "daemon", "autosave_ms", (0.0, 60_000.0))
            .unwrap_or(500.0) as u64;

        let a = self.table(
            root,
            "audio",
            &[
                "backend",
                "client_name",
                "connect_inputs",
                "connect_outputs",
                "sample_rate",
                "period",
                "test_tone_db",
                "ceiling_dbfs",
            ],
        );
        let backend = match self.string(a, "audio", "backend", "jack").as_str() {
            "jack" => BackendKind::Jack,
            "null" => BackendKind::Null,
            other => {
                self.error(
                    "audio.backend",
                    format!("unknown backend {other:?}; choose jack or null"),
                );
                BackendKind::Null
            }
        };
        let client_name = self.string(a, "audio", "client_name", "rackd");
        if client_name.is_empty() || client_name.len() > 60 || client_name.contains(':') {
            self.error("audio.client_name", "must be 1..60 characters without ':'");
        }
        let connect_inputs = self
            .strings(a, "audio", "connect_inputs")
            .unwrap_or_default();
        let connect_outputs = self
            .strings(a, "audio", "connect_outputs")
            .unwrap_or_default();
        for (key, list) in [
            ("connect_inputs", &connect_inputs),
            ("connect_outputs", &connect_outputs),
        ] {
            if list.len() > 2 {
                self.error(&join("audio", key), "at most two ports (left, right)");
            }
        }
        let sample_rate = self
            .number(a, "audio", "sample_rate", (8000.0, 384_000.0))
            .unwrap_or(48_000.0) as u32;
        let period = self
            .number(a, "audio", "period", (16.0, 8192.0))
            .unwrap_or(256.0) as u32;
        let test_tone_db = self
            .number(a, "audio", "test_tone_db", (-120.0, 0.0))
            .map(|x| x as f32);
        let ceiling_dbfs = self
            .number(a, "audio", "ceiling_dbfs", (-60.0, 0.0))
            .unwrap_or(-0.3) as f32;

        let o = self.table(root, "osc", &["listen", "allow"]);
        let listen_text = self.string(o, "osc", "listen", "127.0.0.1:7770");
        let listen = listen_text.parse::<SocketAddr>().unwrap_or_else(|_| {
            self.error(
                "osc.listen",
                format!("{listen_text:?} is not HOST:PORT (e.g. 127.0.0.1:7770)"),
            );
            SocketAddr::from(([127, 0, 0, 1], 7770))
        });
        let allow_text = self
            .strings(o, "osc", "allow")
            .unwrap_or_else(|| vec!["127.0.0.0/8".into(), "::1/128".into()]);
        let mut allow = Vec::new();
        for (i, net) in allow_text.iter().enumerate() {
            match net
                .parse::<IpNet>()
                .or_else(|_| net.parse::<std::net::IpAddr>().map(IpNet::from))
            {
                Ok(n) => allow.push(n),
                Err(_) => self.error(
                    &format!("osc.allow[{i}]"),
                    format!("{net:?} is not a network (e.g. 192.168.1.0/24)"),
                ),
            }
        }

        let mut surfaces = Vec::new();
        for (i, item) in array(root, "surface").iter().enumerate() {
            let key = format!("surface[{i}]");
            let s = self.table(item, "", &["address", "patterns"]).cloned();
            let s = s.as_ref();
            let addr_text = self.string(s, &key, "address", "");
            let patterns = self.strings(s, &key, "patterns").unwrap_or_default();
            for (j, p) in patterns.iter().enumerate() {
                if let Err(e) = rackd_protocol::osc::pattern::validate(p) {
                    self.error(&format!("{key}.patterns[{j}]"), e.to_string());
                }
            }
            match addr_text.parse::<SocketAddr>() {
                Ok(address) => surfaces.push(StaticSurface { address, patterns }),
                Err(_) => self.error(
                    &format!("{key}.address"),
                    format!("{addr_text:?} is not HOST:PORT"),
                ),
            }
        }

        let mut chain = Vec::new();
        let mut ids = HashSet::new();
        for (i, item) in array(root, "chain").iter().enumerate() {
            let key = format!("chain[{i}]");
            let s = self.table(item, "", &["id", "kind"]).cloned();
            let s = s.as_ref();
            let id = self.string(s, &key, "id", "");
            let kind_text = self.string(s, &key, "kind", "");
            if !is_address_part(&id) {
                self.error(
                    &format!("{key}.id"),
                    format!("{id:?} must be 1..32 of a-z, 0-9, _ or -"),
                );
            } else if id == "in" || id == "out" {
                self.error(
                    &format!("{key}.id"),
                    "\"in\" and \"out\" are the fixed meter points; choose another id",
                );
            } else if !ids.insert(id.clone()) {
                self.error(
                    &format!("{key}.id"),
                    format!("slot id {id:?} is used twice"),
                );
            }
            match SlotKind::from_name(&kind_text) {
                Some(kind) => chain.push(SlotConfig { id, kind }),
                None => self.error(
                    &format!("{key}.kind"),
                    format!(
                        "unknown slot kind {kind_text:?}; choose one of {}",
                        SlotKind::NAMES.join(", ")
                    ),
                ),
            }
        }
        if !array(root, "device").is_empty() {
            self.error(
                "device",
                "outboard devices are not supported by this build yet (hardware recall lands with the recall issue); remove [[device]]",
            );
        }

        Config {
            file: None,
            daemon: DaemonConfig {
                state_dir,
                log_level,
                autosave_ms,
            },
            audio: AudioConfig {
                backend,
                client_name,
                connect_inputs,
                connect_outputs,
                sample_rate,
                period,
                test_tone_db,
                ceiling_dbfs,
            },
            osc: OscConfig { listen, allow },
            surfaces,
            chain,
        }
    }
}

fn join(table: &str, key: &str) -> String {
    if table.is_empty() {
        key.to_string()
    } else {
        format!("{table}.{key}")
    }
}

fn lookup<'a>(root: &'a Json, key: &str) -> Option<&'a Json> {
    key.split('.').try_fold(root, |v, k| v.get(k))
}

fn array<'a>(root: &'a Json, key: &str) -> &'a [Json] {
    root.get(key)
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Whether `s` is usable as one OSC address part for a slot or device id.
pub fn is_address_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigErrors> {
        Config::from_toml(text, "rackd.toml", BTreeMap::new())
    }

    #[test]
    fn demo_config_is_valid() {
        let cfg = parse(DEMO_TOML).unwrap();
        assert_eq!(cfg.chain.len(), 2);
        assert_eq!(cfg.osc.listen.port(), 7770);
    }

    #[test]
    fn reports_every_error_with_line() {
        let text = "[audio]\nbackend = \"alsa\"\nceiling_dbfs = 3.0\n\n[osc]\nlisten = \"nowhere\"\nbogus = 1\n\n[[chain]]\nid = \"trim\"\nkind = \"fuzz\"\n";
        let errs = parse(text).unwrap_err().0;
        let lines: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("rackd.toml:2: audio.backend")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("rackd.toml:3: audio.ceiling_dbfs")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("rackd.toml:6: osc.listen")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("rackd.toml:7: osc.bogus")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("rackd.toml:11: chain[0].kind")),
            "{lines:?}"
        );
        assert_eq!(errs.len(), 5, "{lines:?}");
    }

    #[test]
    fn syntax_error_has_line() {
        let errs = parse("[osc]\nlisten = \n").unwrap_err().0;
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, Some(2), "{errs:?}");
    }

    #[test]
    fn environment_overrides_and_is_named_in_errors() {
        let mut env = BTreeMap::new();
        env.insert(
            "RACKD_OSC__LISTEN".to_string(),
            "127.0.0.1:9999".to_string(),
        );
        let cfg = Config::from_toml(DEMO_TOML, "x.toml", env.clone()).unwrap();
        assert_eq!(cfg.osc.listen.port(), 9999);
        env.insert("RACKD_OSC__LISTEN".to_string(), "bad".to_string());
        let errs = Config::from_toml(DEMO_TOML, "x.toml", env).unwrap_err().0;
        assert!(
            errs[0]
                .to_string()
                .starts_with("environment RACKD_OSC__LISTEN"),
            "{errs:?}"
        );
    }

    #[test]
    fn duplicate_slot_ids_refused() {
        let errs = parse(
            "[[chain]]\nid = \"a\"\nkind = \"trim\"\n[[chain]]\nid = \"a\"\nkind = \"meter\"\n",
        )
        .unwrap_err()
        .0;
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, Some(5));
    }
}
