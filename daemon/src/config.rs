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
    /// cpal: an ALSA device directly, or cpal's JACK host.
    Cpal,
}

/// `audio.host`: which cpal host the cpal backend opens its device on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpalHost {
    /// ALSA devices directly (no sound server).
    Alsa,
    /// cpal's JACK host (two clients, `<name>_in` and `<name>_out`).
    Jack,
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
    /// Extra hardware-profile directories, searched after the system ones.
    pub profile_dirs: Vec<PathBuf>,
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
    /// cpal backend: the host to open the device on.
    pub host: CpalHost,
    /// cpal backend: device name (ALSA PCM id such as `hw:1,0`, or a listed
    /// device name; on the JACK host the client name base); None for the default.
    pub device: Option<String>,
    /// cpal backend: frames per buffer; None for the device's default.
    pub buffer_size: Option<u32>,
    /// cpal backend: channels opened each way. 1 and 2 are the main pair;
    /// the others carry hardware inserts (`send_channels`, `return_channels`).
    pub channels: u16,
}

impl Default for AudioConfig {
    /// What a config without `[audio]` gets (the reader's defaults).
    fn default() -> Self {
        AudioConfig {
            backend: BackendKind::Jack,
            client_name: "rackd".into(),
            connect_inputs: Vec::new(),
            connect_outputs: Vec::new(),
            sample_rate: 48_000,
            period: 256,
            test_tone_db: None,
            ceiling_dbfs: -0.3,
            host: CpalHost::Alsa,
            device: None,
            buffer_size: None,
            channels: 2,
        }
    }
}

/// `[osc]`: where surfaces reach the daemon and who may.
#[derive(Debug, Clone, PartialEq)]
pub struct OscConfig {
    /// UDP and TCP listen address.
    pub listen: SocketAddr,
    /// Client networks allowed to talk to the daemon.
    pub allow: Vec<IpNet>,
}

/// `[files]`: the only places a client may name files in (print sources and
/// results). Relative directories are under the state directory.
#[derive(Debug, Clone, PartialEq)]
pub struct FilesConfig {
    /// Where sources are looked up, in this order.
    pub input_dirs: Vec<PathBuf>,
    /// Where results are written.
    pub output_dir: PathBuf,
}

impl Default for FilesConfig {
    fn default() -> Self {
        FilesConfig {
            input_dirs: vec!["sources".into(), "prints".into()],
            output_dir: "prints".into(),
        }
    }
}

impl FilesConfig {
    /// The directories resolved against the state directory.
    pub fn roots(&self, state_dir: &Path) -> crate::files::FileRoots {
        crate::files::FileRoots::new(&self.input_dirs, &self.output_dir, state_dir)
    }
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
    /// Built-in processor kind, or `insert` for analog gear.
    pub kind: SlotKind,
    /// Insert only: JACK ports its sends connect to (interface outputs), L and R.
    pub send: Vec<String>,
    /// Insert only: JACK ports its returns connect from (interface inputs), L and R.
    pub returns: Vec<String>,
    /// Insert on the cpal backend: device output channels (1-based) of its sends, L and R.
    pub send_channels: Vec<u16>,
    /// Insert on the cpal backend: device input channels (1-based) of its returns, L and R.
    pub return_channels: Vec<u16>,
    /// Whether the slot plays in the default layout (`active = false` keeps
    /// it ready to be added live).
    pub active: bool,
}

impl SlotConfig {
    /// A slot that plays by default, with no insert ports.
    pub fn new(id: impl Into<String>, kind: SlotKind) -> Self {
        SlotConfig {
            id: id.into(),
            kind,
            send: Vec::new(),
            returns: Vec::new(),
            send_channels: Vec::new(),
            return_channels: Vec::new(),
            active: true,
        }
    }
}

/// Where an outboard device is connected (`[[device]]`'s transport section).
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceLink {
    /// Set by hand: no transport.
    None,
    /// RS-232 / RS-485 line.
    Serial {
        /// Device node (`/dev/ttyUSB0`).
        path: PathBuf,
        /// Overrides the profile's baud rate.
        baud: Option<u32>,
        /// RS-485 bus address, overriding the profile's.
        address: Option<u8>,
    },
    /// OSC over UDP or TCP.
    Osc {
        /// `host:port` of the device.
        address: String,
        /// `protocol = "tcp"` (true) or `"udp"` (false); unset: as the profile says.
        tcp: Option<bool>,
    },
    /// MIDI ports (JACK or ALSA sequencer) and channel.
    Midi {
        /// `backend = "jack"` (default) or `"alsa"`.
        backend: MidiBackend,
        /// Port the device listens on: a JACK port (`system:midi_playback_1`),
        /// or part of an ALSA sequencer port name, or its `client:port`.
        port: String,
        /// Port the device answers on, for readback and reports (ALSA: `port` when unset).
        input: Option<String>,
        /// Channel 1..16.
        channel: u8,
        /// SysEx device id, overriding the profile's.
        device_id: Option<u8>,
    },
}

/// `[[device]] midi.backend`: how a MIDI device's ports are reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MidiBackend {
    /// JACK MIDI ports.
    Jack,
    /// ALSA sequencer ports through midir (USB MIDI interfaces).
    Alsa,
}

/// `[[device]]`: one piece of outboard gear in the rack.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceConfig {
    /// Address part: `/outboard/<id>/...`.
    pub id: String,
    /// Hardware profile id.
    pub profile: String,
    /// Where it is connected.
    pub link: DeviceLink,
    /// Recall safe: recalls leave it alone.
    pub safe: bool,
    /// Parameters recalls leave alone (`safe = ["param", …]`).
    pub safe_params: Vec<String>,
    /// Config file, for errors found once the profile is known.
    pub file: String,
    /// Line of its `profile` key.
    pub line: Option<usize>,
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
    /// `[files]`.
    pub files: FilesConfig,
    /// `[[surface]]`.
    pub surfaces: Vec<StaticSurface>,
    /// `[[chain]]`.
    pub chain: Vec<SlotConfig>,
    /// `[[device]]`.
    pub devices: Vec<DeviceConfig>,
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

# Ready to be added live: `rackd ctl layout trim limiter meter`.
[[chain]]
id = "limiter"
kind = "limiter"
active = false
"#;

impl Config {
    /// Loads a file with `RACKD_…` overrides from the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        match Self::load_partial(path) {
            (Some(cfg), errors) if errors.is_empty() => Ok(cfg),
            (_, errors) => Err(ConfigErrors(errors)),
        }
    }

    /// Like [`Config::load`], but also returns what could be read of a file
    /// with errors, so `rackd check` can check its devices' profiles too.
    pub fn load_partial(path: &Path) -> (Option<Config>, Vec<ConfigError>) {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                let error = ConfigError {
                    file: path.display().to_string(),
                    line: None,
                    key: "-".into(),
                    message: format!("cannot read the file: {e}"),
                };
                return (None, vec![error]);
            }
        };
        let (cfg, errors) = Self::parse(&text, &path.display().to_string(), env_overrides());
        let cfg = cfg.map(|mut c| {
            c.file = Some(path.to_path_buf());
            c
        });
        (cfg, errors)
    }

    /// Parses TOML text plus explicit environment overrides (`RACKD_OSC__LISTEN=…`).
    pub fn from_toml(
        text: &str,
        file: &str,
        env: BTreeMap<String, String>,
    ) -> Result<Config, ConfigErrors> {
        match Self::parse(text, file, env) {
            (Some(cfg), errors) if errors.is_empty() => Ok(cfg),
            (_, errors) => Err(ConfigErrors(errors)),
        }
    }

    /// The config as far as it could be read, and every error found.
    fn parse(
        text: &str,
        file: &str,
        env: BTreeMap<String, String>,
    ) -> (Option<Config>, Vec<ConfigError>) {
        let located = |key: &str, message: String| ConfigError {
            file: file.to_string(),
            line: None,
            key: key.to_string(),
            message,
        };
        // Syntax errors first: the config crate would hide the line.
        if let Err(e) = text.parse::<toml::Table>() {
            let line = e.span().map(|s| text[..s.start].lines().count().max(1));
            let error = ConfigError {
                line,
                ..located("-", e.message().to_string())
            };
            return (None, vec![error]);
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
                    .with_list_parse_key("files.input_dirs")
                    .with_list_parse_key("daemon.profile_dirs")
                    .with_list_parse_key("audio.connect_inputs")
                    .with_list_parse_key("audio.connect_outputs")
                    .source(Some(env.into_iter().collect())),
            )
            .build()
            .and_then(|c| c.try_deserialize::<Json>());
        let merged = match merged {
            Ok(m) => m,
            Err(e) => return (None, vec![located("-", e.to_string())]),
        };
        let mut reader = Reader {
            file: file.to_string(),
            lines: KeyLines::new(text),
            env_keys,
            errors: Vec::new(),
        };
        let cfg = reader.config(&merged);
        (Some(cfg), reader.errors)
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

    /// A table of an array item or its sub-table, with unknown keys reported
    /// under their full name (`device[1].serial.bogus`).
    fn item_table(
        &mut self,
        value: Option<&Json>,
        name: &str,
        known: &[&str],
    ) -> Option<Map<String, Json>> {
        match value? {
            Json::Object(map) => {
                for k in map.keys() {
                    if !known.contains(&k.as_str()) {
                        self.error(
                            &format!("{name}.{k}"),
                            format!("unknown key; known keys here: {}", known.join(", ")),
                        );
                    }
                }
                Some(map.clone())
            }
            _ => {
                self.error(name, "expected a table");
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

    /// An insert's pair of cpal device channels (1-based, L and R): two
    /// different channels from 3 to `channels` (1 and 2 are the main pair).
    fn channel_pair(
        &mut self,
        map: Option<&Map<String, Json>>,
        table: &str,
        key: &str,
        channels: u16,
    ) -> Vec<u16> {
        let Some(value) = map.and_then(|m| m.get(key)) else {
            return Vec::new();
        };
        let numbers: Option<Vec<u16>> = value.as_array().and_then(|items| {
            items
                .iter()
                .map(|v| v.as_u64().and_then(|n| u16::try_from(n).ok()))
                .collect()
        });
        match numbers {
            Some(pair) if pair.len() == 2 && pair[0] != pair[1] => {
                if let Some(bad) = pair.iter().find(|&&c| c < 3 || c > channels) {
                    self.error(
                        &join(table, key),
                        format!(
                            "channel {bad} is not one of 3..{channels} (1 and 2 are the main pair; \
                             audio.channels opens {channels})"
                        ),
                    );
                    return Vec::new();
                }
                pair
            }
            _ => {
                self.error(
                    &join(table, key),
                    format!("expected two different channel numbers [L, R], found {value}"),
                );
                Vec::new()
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
            &[
                "daemon", "audio", "osc", "files", "surface", "chain", "device",
            ],
        );

        let d = self.table(
            root,
            "daemon",
            &["state_dir", "log_level", "autosave_ms", "profile_dirs"],
        );
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
        let profile_dirs = self
            .strings(d, "daemon", "profile_dirs")
            .unwrap_or_default()
            .into_iter()
            .map(PathBuf::from)
            .collect();

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
                "host",
                "device",
                "buffer_size",
                "channels",
            ],
        );
        let backend = match self.string(a, "audio", "backend", "jack").as_str() {
            "jack" => BackendKind::Jack,
            "null" => BackendKind::Null,
            "cpal" => BackendKind::Cpal,
            other => {
                self.error(
                    "audio.backend",
                    format!("unknown backend {other:?}; choose jack, cpal or null"),
                );
                BackendKind::Null
            }
        };
        let defaults = AudioConfig::default();
        let client_name = self.string(a, "audio", "client_name", &defaults.client_name);
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
            .unwrap_or(defaults.sample_rate as f64) as u32;
        let period = self
            .number(a, "audio", "period", (16.0, 8192.0))
            .unwrap_or(defaults.period as f64) as u32;
        let test_tone_db = self
            .number(a, "audio", "test_tone_db", (-120.0, 0.0))
            .map(|x| x as f32);
        let ceiling_dbfs = self
            .number(a, "audio", "ceiling_dbfs", (-60.0, 0.0))
            .unwrap_or(defaults.ceiling_dbfs as f64) as f32;
        let host = match self.string(a, "audio", "host", "alsa").as_str() {
            "alsa" => CpalHost::Alsa,
            "jack" => CpalHost::Jack,
            other => {
                self.error(
                    "audio.host",
                    format!("unknown cpal host {other:?}; choose alsa or jack"),
                );
                CpalHost::Alsa
            }
        };
        let device = Some(self.string(a, "audio", "device", "")).filter(|d| !d.is_empty());
        let buffer_size = self
            .number(a, "audio", "buffer_size", (16.0, 8192.0))
            .map(|x| x as u32);
        let channels = self
            .number(a, "audio", "channels", (2.0, 64.0))
            .map_or(2, |x| x as u16);

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

        let f = self.table(root, "files", &["input_dirs", "output_dir"]);
        let defaults = FilesConfig::default();
        let files = FilesConfig {
            input_dirs: self
                .strings(f, "files", "input_dirs")
                .map(|dirs| dirs.into_iter().map(PathBuf::from).collect())
                .unwrap_or(defaults.input_dirs),
            output_dir: match f.and_then(|m| m.get("output_dir")) {
                Some(_) => PathBuf::from(self.string(f, "files", "output_dir", "")),
                None => defaults.output_dir,
            },
        };
        if files.output_dir.as_os_str().is_empty() {
            self.error("files.output_dir", "an empty path; give a directory");
        }

        let mut chain = Vec::new();
        let mut ids = HashSet::new();
        for (i, item) in array(root, "chain").iter().enumerate() {
            let key = format!("chain[{i}]");
            let s = self
                .table(
                    item,
                    "",
                    &[
                        "id",
                        "kind",
                        "send",
                        "return",
                        "send_channels",
                        "return_channels",
                        "active",
                    ],
                )
                .cloned();
            let s = s.as_ref();
            let id = self.string(s, &key, "id", "");
            let kind_text = self.string(s, &key, "kind", "");
            let send = self.strings(s, &key, "send").unwrap_or_default();
            let returns = self.strings(s, &key, "return").unwrap_or_default();
            let send_channels = self.channel_pair(s, &key, "send_channels", channels);
            let return_channels = self.channel_pair(s, &key, "return_channels", channels);
            let active = match s.and_then(|m| m.get("active")) {
                None => true,
                Some(Json::Bool(b)) => *b,
                Some(other) => {
                    self.error(
                        &join(&key, "active"),
                        format!("expected true or false, found {other}"),
                    );
                    true
                }
            };
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
                Some(kind) => {
                    let insert = kind == SlotKind::Insert;
                    for (name, given) in [
                        ("send_channels", !send_channels.is_empty()),
                        ("return_channels", !return_channels.is_empty()),
                    ] {
                        if !insert && given {
                            self.error(
                                &join(&key, name),
                                format!("only an insert slot has {name}"),
                            );
                        }
                    }
                    for (name, ports) in [("send", &send), ("return", &returns)] {
                        if !insert && !ports.is_empty() {
                            self.error(
                                &join(&key, name),
                                format!("only an insert slot has {name} ports"),
                            );
                        } else if ports.len() > 2 {
                            self.error(
                                &join(&key, name),
                                format!(
                                    "a stereo insert has 2 {name} ports (L, R), not {}",
                                    ports.len()
                                ),
                            );
                        }
                    }
                    chain.push(SlotConfig {
                        id,
                        kind,
                        send,
                        returns,
                        send_channels,
                        return_channels,
                        active,
                    })
                }
                None => self.error(
                    &format!("{key}.kind"),
                    format!(
                        "unknown slot kind {kind_text:?}; choose one of {}",
                        SlotKind::NAMES.join(", ")
                    ),
                ),
            }
        }
        let mut devices = Vec::new();
        let mut device_ids = HashSet::new();
        for (i, item) in array(root, "device").iter().enumerate() {
            if let Some(dev) = self.device(i, item, &mut device_ids) {
                devices.push(dev);
            }
        }

        Config {
            file: None,
            daemon: DaemonConfig {
                state_dir,
                log_level,
                autosave_ms,
                profile_dirs,
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
                host,
                device,
                buffer_size,
                channels,
            },
            osc: OscConfig { listen, allow },
            files,
            surfaces,
            chain,
            devices,
        }
    }

    fn device(&mut self, i: usize, item: &Json, ids: &mut HashSet<String>) -> Option<DeviceConfig> {
        let key = format!("device[{i}]");
        let s = self.item_table(
            Some(item),
            &key,
            &["id", "profile", "serial", "osc", "midi", "safe"],
        );
        let s = s.as_ref();
        let id = self.string(s, &key, "id", "");
        let profile = self.string(s, &key, "profile", "");
        if !is_address_part(&id) {
            self.error(
                &format!("{key}.id"),
                format!("{id:?} must be 1..32 of a-z, 0-9, _ or -"),
            );
        } else if !ids.insert(id.clone()) {
            self.error(
                &format!("{key}.id"),
                format!("device id {id:?} is used twice"),
            );
        }
        if profile.is_empty() {
            self.error(
                &format!("{key}.profile"),
                "missing: the hardware profile id (see `rackd profile list`)",
            );
        }
        let (safe, safe_params) = match s.and_then(|m| m.get("safe")) {
            None => (false, Vec::new()),
            Some(Json::Bool(b)) => (*b, Vec::new()),
            Some(Json::Array(_)) => (false, self.strings(s, &key, "safe").unwrap_or_default()),
            Some(other) => {
                self.error(
                    &format!("{key}.safe"),
                    format!("expected true, false or a list of parameter ids, found {other}"),
                );
                (false, Vec::new())
            }
        };
        let sections: Vec<&str> = ["serial", "osc", "midi"]
            .into_iter()
            .filter(|k| s.is_some_and(|m| m.contains_key(*k)))
            .collect();
        if sections.len() > 1 {
            self.error(
                &key,
                format!(
                    "more than one transport ({}); a device has at most one",
                    sections.join(", ")
                ),
            );
        }
        let link = match sections.first().copied() {
            None => DeviceLink::None,
            Some("serial") => {
                let t = format!("{key}.serial");
                let m = self.item_table(item.get("serial"), &t, &["path", "baud", "address"]);
                let m = m.as_ref();
                let path = self.string(m, &t, "path", "");
                if path.is_empty() {
                    self.error(
                        &format!("{t}.path"),
                        "missing: the device node, e.g. /dev/ttyUSB0",
                    );
                }
                DeviceLink::Serial {
                    path: PathBuf::from(path),
                    baud: self
                        .number(m, &t, "baud", (50.0, 4_000_000.0))
                        .map(|x| x as u32),
                    address: self.number(m, &t, "address", (0.0, 255.0)).map(|x| x as u8),
                }
            }
            Some("osc") => {
                let t = format!("{key}.osc");
                let m = self.item_table(item.get("osc"), &t, &["address", "protocol"]);
                let m = m.as_ref();
                let address = self.string(m, &t, "address", "");
                let port_ok = address
                    .rsplit_once(':')
                    .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
                if !port_ok {
                    self.error(
                        &format!("{t}.address"),
                        format!("{address:?} is not HOST:PORT (e.g. 192.168.1.20:9000)"),
                    );
                }
                let tcp = match self.string(m, &t, "protocol", "").as_str() {
                    "" => None,
                    "udp" => Some(false),
                    "tcp" => Some(true),
                    other => {
                        self.error(
                            &format!("{t}.protocol"),
                            format!("{other:?}: OSC devices speak \"udp\" or \"tcp\""),
                        );
                        None
                    }
                };
                DeviceLink::Osc { address, tcp }
            }
            Some(_) => {
                let t = format!("{key}.midi");
                let m = self.item_table(
                    item.get("midi"),
                    &t,
                    &["backend", "port", "input", "channel", "device_id"],
                );
                let m = m.as_ref();
                let backend = match self.string(m, &t, "backend", "jack").as_str() {
                    "jack" => MidiBackend::Jack,
                    "alsa" => MidiBackend::Alsa,
                    other => {
                        self.error(
                            &format!("{t}.backend"),
                            format!("unknown MIDI backend {other:?}; choose jack or alsa"),
                        );
                        MidiBackend::Jack
                    }
                };
                let port = self.string(m, &t, "port", "");
                if port.is_empty() {
                    self.error(&format!("{t}.port"), "missing: the MIDI port name");
                }
                let input = Some(self.string(m, &t, "input", "")).filter(|s| !s.is_empty());
                DeviceLink::Midi {
                    backend,
                    port,
                    input,
                    channel: self.number(m, &t, "channel", (1.0, 16.0)).unwrap_or(1.0) as u8,
                    device_id: self
                        .number(m, &t, "device_id", (0.0, 127.0))
                        .map(|x| x as u8),
                }
            }
        };
        let line = self.lines.line_of(&format!("{key}.profile"));
        Some(DeviceConfig {
            id,
            profile,
            link,
            safe,
            safe_params,
            file: self.file.clone(),
            line,
        })
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
        assert_eq!(cfg.chain.len(), 3);
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
    fn devices_parse_with_transport_sections() {
        let cfg = parse(
            "[daemon]\nprofile_dirs = [\"/srv/profiles\"]\n\n[[device]]\nid = \"eq1\"\nprofile = \"generic-serial-ascii\"\nserial = { path = \"/dev/ttyUSB0\", baud = 38400 }\n\n[[device]]\nid = \"box\"\nprofile = \"generic-osc-device\"\nosc = { address = \"10.0.0.5:9000\", protocol = \"tcp\" }\nsafe = true\n\n[[device]]\nid = \"pultec\"\nprofile = \"generic-passive-eq-stepped\"\n\n[[device]]\nid = \"cc\"\nprofile = \"generic-midi-cc-eq\"\nmidi = { port = \"a2j:in\", input = \"a2j:out\", channel = 2 }\n",
        )
        .unwrap();
        assert_eq!(
            cfg.daemon.profile_dirs,
            vec![PathBuf::from("/srv/profiles")]
        );
        assert_eq!(cfg.devices.len(), 4);
        assert_eq!(
            cfg.devices[3].link,
            DeviceLink::Midi {
                backend: MidiBackend::Jack,
                port: "a2j:in".into(),
                input: Some("a2j:out".into()),
                channel: 2,
                device_id: None
            }
        );
        assert_eq!(
            cfg.devices[0].link,
            DeviceLink::Serial {
                path: "/dev/ttyUSB0".into(),
                baud: Some(38400),
                address: None
            }
        );
        assert!(cfg.devices[1].safe);
        assert_eq!(
            cfg.devices[1].link,
            DeviceLink::Osc {
                address: "10.0.0.5:9000".into(),
                tcp: Some(true)
            }
        );
        let errs = parse(
            "[[device]]\nid = \"b\"\nprofile = \"y\"\nosc = { address = \"h:1\", protocol = \"sctp\" }\n",
        )
        .unwrap_err()
        .0;
        assert!(
            errs[0].to_string().contains("\"sctp\": OSC devices speak"),
            "{errs:?}"
        );
        assert_eq!(cfg.devices[2].link, DeviceLink::None);
        assert_eq!(cfg.devices[0].line, Some(6));
    }

    #[test]
    fn device_errors_have_lines() {
        let errs = parse(
            "[[device]]\nid = \"EQ\"\nprofile = \"x\"\n[[device]]\nid = \"b\"\nprofile = \"y\"\nosc = { address = \"nowhere\", speed = 3 }\n",
        )
        .unwrap_err()
        .0;
        let lines: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("rackd.toml:2: device[0].id")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("rackd.toml:7: device[1].osc.address")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("rackd.toml:7: device[1].osc.speed")),
            "{lines:?}"
        );
        assert_eq!(errs.len(), 3, "{lines:?}");
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

    #[test]
    fn insert_slots_take_ports_and_others_refuse_them() {
        let cfg = parse(
            "[[chain]]
id = \"gear\"
kind = \"insert\"
send = [\"a:1\", \"a:2\"]
\
             return = \"b:1,b:2\"
active = false
",
        )
        .unwrap();
        assert_eq!(cfg.chain[0].send, ["a:1", "a:2"]);
        assert_eq!(cfg.chain[0].returns, ["b:1", "b:2"]);
        assert!(!cfg.chain[0].active);
        let errs = parse(
            "[[chain]]\nid = \"t\"\nkind = \"trim\"\nsend = [\"a:1\"]\n\
             [[chain]]\nid = \"g\"\nkind = \"insert\"\nreturn = [\"a\", \"b\", \"c\"]\nactive = 1\n",
        )
        .unwrap_err()
        .0;
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(errs.len(), 3, "{text:?}");
        assert!(
            text[0].contains("only an insert slot has send ports"),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.contains("2 return ports")),
            "{text:?}"
        );
        assert!(text.iter().any(|t| t.contains("true or false")), "{text:?}");

        let cfg = parse(
            "[audio]\nchannels = 6\n[[chain]]\nid = \"g\"\nkind = \"insert\"\n\
             send_channels = [5, 6]\nreturn_channels = [3, 4]\n",
        )
        .unwrap();
        assert_eq!(cfg.audio.channels, 6);
        assert_eq!(cfg.chain[0].send_channels, [5, 6]);
        let errs = parse(
            "[audio]\nchannels = 4\n[[chain]]\nid = \"g\"\nkind = \"insert\"\n\
             send_channels = [2, 5]\nreturn_channels = [3]\n\
             [[chain]]\nid = \"t\"\nkind = \"trim\"\nsend_channels = [3, 4]\n",
        )
        .unwrap_err()
        .0;
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(errs.len(), 3, "{text:?}");
        assert!(text[0].contains("channel 2 is not one of 3..4"), "{text:?}");
        assert!(
            text[1].contains("two different channel numbers"),
            "{text:?}"
        );
        assert!(
            text[2].contains("only an insert slot has send_channels"),
            "{text:?}"
        );
    }
}
