//! The daemon's configuration: the TOML file, `RACKD_…` environment
//! overrides (parsed by the `config` crate), sections read with serde derive
//! and checked by a validation pass that reports every problem with its file
//! and line (not only the first), as `rackd check` promises (`read.rs`,
//! `env.rs`).

mod env;
mod raw;
mod read;

pub use read::check_banks;

use anyhow::Context as _;
use ipnet::IpNet;
use rackd_dsp::{CeilingMode, SlotKind};
use rackd_protocol::toml_tree::Node;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Largest config file read: a rack's config is a few KB.
const MAX_CONFIG_BYTES: usize = 4 << 20;
/// Problems `rackd check` prints before it says how many more there are.
const MAX_SHOWN: usize = 200;

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
    /// What the ceiling bounds: samples (no latency) or the true peak
    /// (lookahead limiter, its latency added to the monitor path).
    pub ceiling_mode: CeilingMode,
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
            ceiling_mode: CeilingMode::SamplePeak,
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
    /// A TCP connection that sends nothing and subscribes to nothing this
    /// long is closed.
    pub idle_timeout: std::time::Duration,
}

/// `[http]`: the engineer's page, OSCQuery and its WebSocket, on one port.
#[derive(Clone, PartialEq)]
pub struct HttpConfig {
    /// Whether the HTTP front end runs at all.
    pub enabled: bool,
    /// Listen address (loopback unless a token is set).
    pub listen: SocketAddr,
    /// The token that may change things (from `token` or `token_file`).
    pub token: Option<String>,
    /// The token that may look but not change.
    pub read_only_token: Option<String>,
    /// The name clients show (`HOST_INFO` `NAME`, the mDNS instance).
    pub name: String,
    /// Advertise `_oscjson._tcp` and `_osc._udp` over mDNS.
    pub mdns: bool,
    /// Interfaces mDNS announces on (names such as `eth0`, or `lo`); empty: every one but loopback.
    pub mdns_interfaces: Vec<String>,
}

impl std::fmt::Debug for HttpConfig {
    /// Tokens stay out of logs and debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |t: &Option<String>| if t.is_some() { "set" } else { "none" };
        f.debug_struct("HttpConfig")
            .field("enabled", &self.enabled)
            .field("listen", &self.listen)
            .field("token", &set(&self.token))
            .field("read_only_token", &set(&self.read_only_token))
            .field("name", &self.name)
            .field("mdns", &self.mdns)
            .field("mdns_interfaces", &self.mdns_interfaces)
            .finish()
    }
}

impl Default for HttpConfig {
    /// What a config without `[http]` gets: the page on loopback port 7771.
    fn default() -> Self {
        HttpConfig {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 7771)),
            token: None,
            read_only_token: None,
            name: "rackd".into(),
            mdns: false,
            mdns_interfaces: Vec::new(),
        }
    }
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

/// `[[midi_surface]]`: a hardware control surface (Mackie Control and
/// surfaces in MC mode) on MIDI ports, mapped onto rack parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct MidiSurfaceConfig {
    /// Name in logs and `/rackd/status`.
    pub id: String,
    /// The SysEx header of the first unit (`mcu`: 0x14, `xt`: 0x15).
    pub model: rackd_protocol::mcu::Model,
    /// The MIDI ports of each unit, left to right: the first unit, then
    /// the XT extenders (8 strips each).
    pub units: Vec<SurfaceLink>,
    /// What the strips control.
    pub banks: SurfaceBanks,
    /// The master fader's parameter (none: the master fader does nothing).
    pub master: Option<String>,
    /// Config file, for errors found once the parameter tree is known.
    pub file: String,
    /// Line of its `banks` key (else of the table).
    pub line: Option<usize>,
}

/// The MIDI ports of one surface unit.
#[derive(Debug, Clone, PartialEq)]
pub struct SurfaceLink {
    /// `jack` (JACK MIDI ports) or `alsa` (ALSA sequencer ports).
    pub backend: MidiBackend,
    /// The port the surface listens on (rackd sends to it).
    pub port: String,
    /// The port the surface sends on (ALSA: `port` when unset).
    pub input: Option<String>,
}

/// `banks =`: what the strips control, a bank of strips at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum SurfaceBanks {
    /// Every parameter of the slots in play order, then of the outboard
    /// devices (without bypass, position and active, which have buttons).
    Auto,
    /// Banks of parameter addresses, one per strip (`""`: an empty strip).
    Lists(Vec<Vec<String>>),
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
    /// `[http]`.
    pub http: HttpConfig,
    /// `[files]`.
    pub files: FilesConfig,
    /// `[[surface]]`.
    pub surfaces: Vec<StaticSurface>,
    /// `[[chain]]`.
    pub chain: Vec<SlotConfig>,
    /// `[[device]]`.
    pub devices: Vec<DeviceConfig>,
    /// `[[midi_surface]]`.
    pub midi_surfaces: Vec<MidiSurfaceConfig>,
    /// What was assumed or will not work as configured (printed by `rackd
    /// check`, logged at start), e.g. an insert on the null backend.
    pub warnings: Vec<ConfigError>,
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
    /// One problem per line; past [`MAX_SHOWN`], how many more there are.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().take(MAX_SHOWN).enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        if self.0.len() > MAX_SHOWN {
            write!(f, "\n… and {} more", self.0.len() - MAX_SHOWN)?;
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

# The engineer's page (/ui/) and OSCQuery, on loopback.
[http]
listen = "127.0.0.1:7771"
name = "rackd demo"

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
        let whole = |message: String, line: Option<usize>| ConfigError {
            file: file.to_string(),
            line,
            key: "-".into(),
            message,
        };
        if text.len() > MAX_CONFIG_BYTES {
            let message = format!(
                "{} bytes is more than a rack's config needs ({} at most); is this the right file?",
                text.len(),
                MAX_CONFIG_BYTES
            );
            return (None, vec![whole(message, None)]);
        }
        let mut root = match Node::parse(text) {
            Ok(root) => root,
            Err(e) => {
                let line = e
                    .span()
                    .map(|s| rackd_protocol::toml_tree::line_of(text, s.start));
                return (None, vec![whole(e.message().to_string(), line)]);
            }
        };
        let overrides = env::apply(&mut root, &env, text.len());
        let mut reader = read::Reader::new(file, text, overrides.names);
        let mut cfg = reader.config(&root);
        for name in overrides.suspicious {
            reader.warnings.push(ConfigError {
                file: "environment".into(),
                line: None,
                key: name.clone(),
                message: "not a config override (those are RACKD_<SECTION>__<KEY>, \
                          with two underscores); ignored"
                    .into(),
            });
        }
        cfg.warnings = reader.warnings;
        (Some(cfg), reader.errors)
    }

    /// The built-in demo configuration with the given OSC and HTTP ports and state dir.
    pub fn demo(osc_port: u16, http_port: u16, state_dir: &Path) -> anyhow::Result<Config> {
        let mut cfg = Self::from_toml(DEMO_TOML, "<demo>", env_overrides())
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("the built-in demo config is invalid")?;
        cfg.osc.listen.set_port(osc_port);
        cfg.http.listen.set_port(http_port);
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

/// Whether `s` is usable as one OSC address part for a slot or device id.
pub fn is_address_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests;
