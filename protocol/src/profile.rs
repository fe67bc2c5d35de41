//! Hardware profiles: one TOML file per device model, describing how to reach
//! its parameters (MIDI, OSC, serial) or, for gear without remote control, its
//! front panel for the recall sheet.
//!
//! `load_profile` checks a file completely and reports every problem as
//! `file:line: message`, so a profile author fixes a file in one pass.

pub mod template;
mod validate;

use crate::param::{OutOfRange, ParamKind, ParamSpec, Taper, Unit, Value};
use crate::toml_tree::{self as tree, Kind, Node, line_of, strip_unknown};
use serde::{Deserialize, Serialize};

/// One problem in a profile file, shown as `file:line: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ProfileError {
    /// The file name given to `load_profile`.
    pub file: String,
    /// 1-based line of the offending key or table.
    pub line: usize,
    /// What is wrong and, where it helps, what would be right.
    pub message: String,
}

/// A validated hardware profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Who made the device and where the facts come from.
    pub device: Identity,
    /// How fast the device may be fed.
    #[serde(default)]
    pub pacing: Pacing,
    /// MIDI transport settings, for MIDI devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub midi: Option<MidiTransport>,
    /// OSC transport settings, for OSC devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub osc: Option<OscTransport>,
    /// Serial line settings, for RS-232/RS-485 devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<SerialTransport>,
    /// Front panel, for gear set by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<ManualPanel>,
    /// The parameters, in panel order.
    #[serde(rename = "param")]
    pub params: Vec<ParamDef>,
}

/// Identity of the device model and the document the profile's facts come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// Profile id used in configs (`profile = "generic-midi-cc-eq"`); lowercase, digits, `-`.
    pub id: String,
    /// Manufacturer, or "Generic" for profiles not tied to a product.
    pub vendor: String,
    /// Model name.
    pub model: String,
    /// What the device does.
    pub kind: DeviceKind,
    /// True for profiles not describing a real product (then no document is needed).
    #[serde(default)]
    pub generic: bool,
    /// One line for `rackd profile list`.
    #[serde(default)]
    pub description: String,
    /// The document the facts come from.
    pub source: Source,
}

/// A cited document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Title of the manual or specification.
    pub title: String,
    /// Its edition, revision or date as printed on it; required for named products,
    /// so a reader can tell which version of the manual the facts come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edition: Option<String>,
    /// The pages or sections the facts were read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// Where it is published; required for named products.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// What a device does, for grouping in lists and sheets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// Equalizer.
    Eq,
    /// Compressor.
    Compressor,
    /// Limiter.
    Limiter,
    /// AD/DA converter.
    Converter,
    /// Insert or monitor switcher.
    Switcher,
    /// Preamp or line amp.
    Preamp,
    /// Anything else.
    Processor,
}

/// How fast a device may be fed; the scheduler honours the tightest limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Pacing {
    /// Minimum gap between two messages, in ms.
    #[serde(default)]
    pub min_interval_ms: u32,
    /// At most this many messages per second (0 = no limit).
    #[serde(default)]
    pub max_per_second: u32,
    /// Wait for the acknowledgement of a message before sending the next.
    #[serde(default)]
    pub wait_ack: bool,
}

/// Byte order of 14-bit controller pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ByteOrder {
    /// MSB controller first, then LSB (MIDI 1.0 recommendation).
    #[default]
    MsbFirst,
    /// LSB first, then MSB (devices that latch on the MSB).
    LsbFirst,
}

/// MIDI settings of a device model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MidiTransport {
    /// Order of 14-bit CC pairs.
    #[serde(default)]
    pub cc14_order: ByteOrder,
    /// Omit repeated status bytes inside multi-message sets (NRPN, 14-bit CC).
    #[serde(default)]
    pub running_status: bool,
    /// Default SysEx device id (the config may override it).
    #[serde(default)]
    pub device_id: u8,
    /// Messages sent when the device connects: SysEx/hex templates with `{dev}`, `{ch}`.
    #[serde(default)]
    pub init: Vec<String>,
    /// The answer expected to the universal identity request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<MidiIdentity>,
}

/// What a device answers to the MIDI universal identity request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MidiIdentity {
    /// Manufacturer id: one byte, or three starting with 00.
    pub manufacturer: Vec<u8>,
    /// Family code (14-bit, sent LSB first), if it is to be checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<u16>,
    /// Family member (model) code, if it is to be checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<u16>,
}

/// Network transport for an OSC device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OscProto {
    /// Datagrams.
    #[default]
    Udp,
    /// Stream with SLIP framing.
    Tcp,
}

/// OSC settings of a device model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OscTransport {
    /// UDP or TCP.
    #[serde(default)]
    pub protocol: OscProto,
    /// The device's usual port (the config may override it).
    #[serde(default)]
    pub port: u16,
    /// Addresses sent without arguments when the device connects (e.g. `/xremote`).
    #[serde(default)]
    pub init: Vec<String>,
    /// Address queried to check the device answers, and the reply address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<OscIdentity>,
}

/// An OSC identity query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OscIdentity {
    /// Address sent without arguments.
    pub query: String,
    /// Address of the expected reply (default: the query address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// The reply's first (string) argument, when the model is known: another
    /// device answering with something else is on the wrong port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Text or binary serial protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SerialFormat {
    /// Text commands and replies, split on the terminator.
    #[default]
    Ascii,
    /// Hex templates with checksums.
    Binary,
}

/// Serial line settings of a device model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SerialTransport {
    /// Line speed.
    pub baud: u32,
    /// Data bits, parity, stop bits, e.g. `8N1`.
    #[serde(default = "default_frame")]
    pub frame: String,
    /// Text or binary.
    #[serde(default)]
    pub format: SerialFormat,
    /// End of a text reply (`"\r"`, `"\r\n"`); commands carry their own in the template.
    #[serde(default = "default_terminator")]
    pub terminator: String,
    /// Pattern of a positive acknowledgement (`"OK"`, `"06"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<String>,
    /// Pattern of an error reply (`"ERR {any}"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long to wait for a reply.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u32,
    /// How often to resend after a timeout or error.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// The line is an RS-485 bus shared by several devices, told apart by `{dev}`.
    #[serde(default)]
    pub rs485: bool,
    /// Default bus address (the config may override it).
    #[serde(default)]
    pub address: u8,
    /// Commands sent when the device connects.
    #[serde(default)]
    pub init: Vec<String>,
    /// Query sent to check the device answers, and the pattern of its reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<SerialIdentity>,
}

fn default_frame() -> String {
    "8N1".into()
}
fn default_terminator() -> String {
    "\r".into()
}
fn default_timeout() -> u32 {
    200
}
fn default_retries() -> u32 {
    2
}

/// A serial identity query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SerialIdentity {
    /// Command to send.
    pub query: String,
    /// Pattern of the reply.
    pub reply: String,
}

/// The front panel of a device set by hand, as rows of controls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualPanel {
    /// Rows from top to bottom.
    #[serde(rename = "row")]
    pub rows: Vec<PanelRow>,
}

/// One row (or section) of a front panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PanelRow {
    /// Section name printed on the sheet ("LOW FREQUENCY").
    #[serde(default)]
    pub label: String,
    /// Parameter ids from left to right.
    pub controls: Vec<String>,
}

/// The kind of a parameter in a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    /// A knob or fader with a continuous range.
    #[default]
    Continuous,
    /// A stepped knob: positions `min..=max`, optionally with printed detent labels.
    Stepped,
    /// On/off.
    Switch,
    /// One of a list of labels (mode selector).
    Enum,
}

/// What the front panel of a hand-set device shows for a control, so the
/// recall sheet says how the engineer finds the position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PanelMark {
    /// Every position (or the real-unit scale) is printed on the panel.
    Printed,
    /// Detented, but the document gives no legend for the positions: the
    /// engineer counts clicks from the fully counter-clockwise end.
    Counted,
    /// A pot without a printed scale: the value is its rotation, 0 % fully
    /// counter-clockwise, 100 % fully clockwise.
    Rotation,
}

/// How the device's integer range maps onto the real range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Curve {
    /// Equal real steps per device step.
    #[default]
    Linear,
    /// Equal ratios per device step (frequencies, times); min > 0.
    Log,
    /// The device value is proportional to amplitude; the real value is in dB.
    Db,
    /// Piecewise linear through `table = [[device, real], …]`.
    Table,
}

/// One parameter of a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamDef {
    /// Address component (`/outboard/<device>/<id>`).
    pub id: String,
    /// Name printed on surfaces and sheets.
    pub name: String,
    /// Unit of the real value.
    #[serde(default = "default_unit")]
    pub unit: Unit,
    /// Continuous, stepped, switch or enum.
    #[serde(rename = "type", default)]
    pub kind: ParamType,
    /// Lower end in real units (stepped: first position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Upper end in real units (stepped: last position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Device curve of a continuous parameter.
    #[serde(default)]
    pub taper: Curve,
    /// Points `[device value, real value]` for `taper = "table"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<Vec<(f64, f64)>>,
    /// Resolution of a continuous parameter in real units (0 = none).
    #[serde(default)]
    pub step: f64,
    /// Printed labels of a stepped knob's positions, from `min` to `max`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detents: Option<Vec<String>>,
    /// Choices of an enum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    /// Value on a fresh rack (default: min, off, first label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// Manual devices: what the panel shows (default: rotation for a
    /// continuous control, printed for the others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub panel: Option<PanelMark>,
    /// Manual devices: what the document says the fully counter-clockwise and
    /// fully clockwise ends of a continuous control do (`["off", "+30 dB"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends: Option<Vec<String>>,
    /// A short remark from the document the engineer needs at the control
    /// ("0 to +24 dB", "active in MANUAL"), shown on sheets and by `profile show`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// MIDI mapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub midi: Option<MidiMap>,
    /// OSC mapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub osc: Option<OscMap>,
    /// Serial mapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<SerialMap>,
}

fn default_unit() -> Unit {
    Unit::None
}

/// How a parameter's value becomes the device's number; shared by all transports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Scaling {
    /// Device value at the real minimum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_min: Option<f64>,
    /// Device value at the real maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_max: Option<f64>,
    /// Device value of each position (stepped, switch, enum), in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<i64>>,
}

/// MIDI mapping of one parameter: exactly one of `cc`, `cc14`, `nrpn`, `rpn`, `program`, `sysex`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MidiMap {
    /// 7-bit control change number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cc: Option<u8>,
    /// 14-bit control change: MSB controller 0..31 (LSB is +32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cc14: Option<u8>,
    /// NRPN parameter number 0..16383.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nrpn: Option<u16>,
    /// RPN parameter number 0..16383.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpn: Option<u16>,
    /// NRPN/RPN data entry width: 7 (CC 6 only) or 14 (CC 6 + 38).
    #[serde(default = "default_bits")]
    pub bits: u8,
    /// The value selects a program (program change).
    #[serde(default)]
    pub program: bool,
    /// SysEx template to set the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sysex: Option<String>,
    /// Parameter address bytes for `{addr}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub address: Vec<u8>,
    /// SysEx template of a readback request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// SysEx pattern of the device's report (default: the `sysex` template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// Device value at the real minimum (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_min: Option<f64>,
    /// Device value at the real maximum (default: the encoding's maximum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_max: Option<f64>,
    /// Device value of each position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<i64>>,
}

fn default_bits() -> u8 {
    14
}

/// OSC mapping of one parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OscMap {
    /// Address the value is sent to.
    pub address: String,
    /// Type tag of the argument: `f`, `i`, `d` or `s`.
    #[serde(default = "default_arg")]
    pub arg: String,
    /// Address sent without arguments to read the value back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Address of the device's report (default: `address`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// Which argument of the report holds the value.
    #[serde(default)]
    pub reply_arg: usize,
    /// Device value at the real minimum (e.g. 0.0 for a normalized fader).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_min: Option<f64>,
    /// Device value at the real maximum (e.g. 1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_max: Option<f64>,
    /// Device value of each position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<i64>>,
}

fn default_arg() -> String {
    "f".into()
}

/// Serial mapping of one parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SerialMap {
    /// Command template that sets the value.
    pub set: String,
    /// Command template that asks for the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Pattern of the reply carrying the value (also for reports the device sends by itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// Command code for `{code}` (text protocols).
    #[serde(default)]
    pub code: String,
    /// Address bytes for `{addr}` (binary protocols).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub address: Vec<u8>,
    /// Device value at the real minimum (omit to send real units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_min: Option<f64>,
    /// Device value at the real maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_max: Option<f64>,
    /// Device value of each position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<i64>>,
}

/// Which transport a profile uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// MIDI (DIN, USB, JACK).
    Midi,
    /// OSC over UDP/TCP.
    Osc,
    /// RS-232 / RS-485.
    Serial,
    /// Set by hand from the recall sheet.
    Manual,
}

impl Profile {
    /// The profile id.
    pub fn id(&self) -> &str {
        &self.device.id
    }

    /// Which transport reaches the device.
    pub fn transport(&self) -> TransportKind {
        if self.midi.is_some() {
            TransportKind::Midi
        } else if self.osc.is_some() {
            TransportKind::Osc
        } else if self.serial.is_some() {
            TransportKind::Serial
        } else {
            TransportKind::Manual
        }
    }

    /// A parameter by id.
    pub fn param(&self, id: &str) -> Option<&ParamDef> {
        self.params.iter().find(|p| p.id == id)
    }

    /// The parameter specs the hub registers under `/outboard/<device>/`.
    pub fn params(&self) -> Vec<ParamSpec> {
        self.params.iter().map(ParamDef::spec).collect()
    }
}

impl ParamDef {
    /// The range as the hub sees it.
    pub fn spec(&self) -> ParamSpec {
        let kind = match self.kind {
            ParamType::Continuous => {
                let (min, max) = (self.min.unwrap_or(0.0), self.max.unwrap_or(1.0));
                let taper = match self.taper {
                    Curve::Log => Taper::Log,
                    Curve::Table if min > 0.0 && max / min >= 10.0 => Taper::Log,
                    _ => Taper::Linear,
                };
                ParamKind::Continuous {
                    min,
                    max,
                    taper,
                    step: self.step,
                }
            }
            ParamType::Stepped => {
                let (min, max) = self.stepped_range();
                ParamKind::Stepped { min, max }
            }
            ParamType::Switch => ParamKind::Switch,
            ParamType::Enum => ParamKind::Enum {
                labels: self.labels.clone().unwrap_or_default(),
            },
        };
        let default = self.default.clone().unwrap_or_else(|| match &kind {
            ParamKind::Continuous { min, .. } => Value::Float(*min),
            ParamKind::Stepped { min, .. } => Value::Int(*min),
            ParamKind::Switch => Value::Int(0),
            ParamKind::Enum { labels } => Value::Text(labels.first().cloned().unwrap_or_default()),
        });
        let mut spec = ParamSpec {
            id: self.id.clone(),
            name: self.name.clone(),
            unit: self.unit,
            kind,
            default: Value::Int(0),
            out_of_range: OutOfRange::Clamp,
        };
        spec.default = spec.accept(&default).unwrap_or(spec.default.clone());
        spec
    }

    /// What the front panel shows for this control (the default when unset).
    pub fn panel_mark(&self) -> PanelMark {
        self.panel.unwrap_or(match self.kind {
            ParamType::Continuous => PanelMark::Rotation,
            _ => PanelMark::Printed,
        })
    }

    /// First and last position of a stepped control (detents alone imply 0..n-1).
    pub fn stepped_range(&self) -> (i64, i64) {
        let n = self.detents.as_ref().map_or(0, Vec::len) as i64;
        let min = self.min.map_or(0, |m| m as i64);
        let max = self.max.map_or(min.saturating_add(n - 1), |m| m as i64);
        (min, max)
    }

    /// Number of distinct positions, or `None` for a continuous parameter.
    pub fn positions(&self) -> Option<usize> {
        match self.kind {
            ParamType::Continuous => None,
            ParamType::Stepped => {
                let (min, max) = self.stepped_range();
                Some((max as i128 - min as i128 + 1).clamp(0, usize::MAX as i128) as usize)
            }
            ParamType::Switch => Some(2),
            ParamType::Enum => Some(self.labels.as_ref().map_or(0, Vec::len)),
        }
    }

    /// The printed label of a value: a detent label, an enum label, on/off.
    pub fn label_of(&self, value: &Value) -> Option<String> {
        match self.kind {
            ParamType::Stepped => {
                let (min, _) = self.stepped_range();
                let i = value.as_f64()?.round() as i64 - min;
                self.detents
                    .as_ref()?
                    .get(usize::try_from(i).ok()?)
                    .cloned()
            }
            ParamType::Switch => Some(if value.as_f64()? != 0.0 { "on" } else { "off" }.into()),
            ParamType::Enum => match value {
                Value::Text(s) => Some(s.clone()),
                _ => None,
            },
            ParamType::Continuous => None,
        }
    }

    /// The scaling of the mapping for `transport`.
    pub fn scaling(&self, transport: TransportKind) -> Scaling {
        let (raw_min, raw_max, values) = match transport {
            TransportKind::Midi => self
                .midi
                .as_ref()
                .map(|m| (m.raw_min, m.raw_max, m.values.clone())),
            TransportKind::Osc => self
                .osc
                .as_ref()
                .map(|m| (m.raw_min, m.raw_max, m.values.clone())),
            TransportKind::Serial => self
                .serial
                .as_ref()
                .map(|m| (m.raw_min, m.raw_max, m.values.clone())),
            TransportKind::Manual => None,
        }
        .unwrap_or_default();
        Scaling {
            raw_min,
            raw_max,
            values,
        }
    }
}

/// Removes unknown keys from every table of the document and reports each,
/// so serde then reports the next problem of a table instead of stopping.
fn strip_all_unknown(root: &mut Node) -> Vec<tree::DeError> {
    fn strip<'de, T: Deserialize<'de>>(out: &mut Vec<tree::DeError>, n: Option<&mut Node>) {
        if let Some(n) = n {
            out.extend(strip_unknown::<T>(n));
        }
    }
    let mut out = Vec::new();
    if let Some(d) = root.get_mut("device") {
        strip::<Source>(&mut out, d.get_mut("source"));
        strip::<Identity>(&mut out, Some(d));
    }
    strip::<Pacing>(&mut out, root.get_mut("pacing"));
    if let Some(m) = root.get_mut("midi") {
        strip::<MidiIdentity>(&mut out, m.get_mut("identity"));
        strip::<MidiTransport>(&mut out, Some(m));
    }
    if let Some(m) = root.get_mut("osc") {
        strip::<OscIdentity>(&mut out, m.get_mut("identity"));
        strip::<OscTransport>(&mut out, Some(m));
    }
    if let Some(m) = root.get_mut("serial") {
        strip::<SerialIdentity>(&mut out, m.get_mut("identity"));
        strip::<SerialTransport>(&mut out, Some(m));
    }
    if let Some(m) = root.get_mut("manual") {
        if let Some(rows) = m.get_mut("row") {
            for row in rows.items_mut() {
                strip::<PanelRow>(&mut out, Some(row));
            }
        }
        strip::<ManualPanel>(&mut out, Some(m));
    }
    if let Some(params) = root.get_mut("param") {
        for p in params.items_mut() {
            strip::<MidiMap>(&mut out, p.get_mut("midi"));
            strip::<OscMap>(&mut out, p.get_mut("osc"));
            strip::<SerialMap>(&mut out, p.get_mut("serial"));
            strip::<ParamDef>(&mut out, Some(p));
        }
    }
    out
}

const TOP_KEYS: &[&str] = &[
    "device", "pacing", "midi", "osc", "serial", "manual", "param",
];

/// [`load_profile`] of a profile file: also refuses a file whose name is not
/// its id (`eq-1.toml` holding `id = "eq-2"`), since profiles are found by
/// file name and a mismatch shadows or hides another.
pub fn load_profile_file(text: &str, file: &str) -> Result<Profile, Vec<ProfileError>> {
    let profile = load_profile(text, file)?;
    let stem = std::path::Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    if stem != profile.id() {
        let line = Node::parse(text)
            .ok()
            .and_then(|root| root.get("device")?.entry("id").map(|(span, _)| span.start))
            .map_or(1, |offset| line_of(text, offset));
        return Err(vec![ProfileError {
            file: file.to_string(),
            line,
            message: format!(
                "the id {:?} is not the file's name {stem:?}: name the file {}.toml or change the id",
                profile.id(),
                profile.id()
            ),
        }]);
    }
    Ok(profile)
}

/// Parses and checks a profile; on failure returns every problem found, in file order.
pub fn load_profile(text: &str, file: &str) -> Result<Profile, Vec<ProfileError>> {
    let err = |offset: usize, message: String| ProfileError {
        file: file.to_string(),
        line: line_of(text, offset),
        message,
    };
    let mut root = match Node::parse(text) {
        Ok(root) => root,
        Err(e) => {
            let offset = e.span().map_or(0, |s| s.start);
            let message = e.message().trim().to_string();
            return Err(vec![err(offset, message)]);
        }
    };
    let mut errors = Vec::new();
    let stripped = strip_all_unknown(&mut root);
    let de = |errors: &mut Vec<ProfileError>, e: tree::DeError| {
        errors.push(err(e.span.map_or(0, |s| s.start), e.message));
    };
    if let Kind::Table(entries) = &root.kind {
        for (key, span, _) in entries {
            if !TOP_KEYS.contains(&key.as_str()) {
                errors.push(err(
                    span.start,
                    format!(
                        "unknown section `{key}`, expected one of {}",
                        TOP_KEYS.join(", ")
                    ),
                ));
            }
        }
    }
    for e in stripped {
        de(&mut errors, e);
    }
    // Every wrong type of a section is reported and the section still read
    // without it, so the checks after (duplicate ids, placeholders) run too.
    fn section<T: for<'de> Deserialize<'de>>(
        root: &Node,
        key: &str,
        errors: &mut Vec<ProfileError>,
        de: &impl Fn(&mut Vec<ProfileError>, tree::DeError),
    ) -> Option<T> {
        let node = root.get(key)?;
        let (value, found) = tree::from_node_all::<T>(node);
        for f in found {
            de(errors, f.error);
        }
        value
    }
    let device: Option<Identity> = section(&root, "device", &mut errors, &de);
    if root.get("device").is_none() {
        errors.push(err(
            0,
            "missing [device] section (id, vendor, model, kind, source)".into(),
        ));
    }
    let pacing: Option<Pacing> = section(&root, "pacing", &mut errors, &de);
    let midi: Option<MidiTransport> = section(&root, "midi", &mut errors, &de);
    let osc: Option<OscTransport> = section(&root, "osc", &mut errors, &de);
    let serial: Option<SerialTransport> = section(&root, "serial", &mut errors, &de);
    let manual: Option<ManualPanel> = section(&root, "manual", &mut errors, &de);
    let mut params = Vec::new();
    let mut param_nodes = Vec::new();
    match root.get("param") {
        None => errors.push(err(
            text.len(),
            "no parameters: add at least one [[param]] table".into(),
        )),
        Some(Node {
            kind: Kind::Array(items),
            ..
        }) => {
            for node in items {
                let (param, found) = tree::from_node_all::<ParamDef>(node);
                for f in found {
                    de(&mut errors, f.error);
                }
                if let Some(p) = param {
                    params.push(p);
                    param_nodes.push(node);
                }
            }
        }
        Some(node) => errors.push(err(
            node.span.start,
            "`param` must be an array of [[param]] tables".into(),
        )),
    }
    let device_ok = device.is_some();
    let profile = Profile {
        device: device.unwrap_or_else(|| Identity {
            id: "unknown".into(),
            vendor: String::new(),
            model: String::new(),
            kind: DeviceKind::Processor,
            generic: true,
            description: String::new(),
            source: Source {
                title: String::new(),
                edition: None,
                section: None,
                url: None,
            },
        }),
        pacing: pacing.unwrap_or_default(),
        midi,
        osc,
        serial,
        manual,
        params,
    };
    let at = validate::Locator {
        text,
        root: &root,
        params: &param_nodes,
    };
    for (offset, message) in validate::check(&profile, &at, device_ok) {
        errors.push(err(offset, message));
    }
    if errors.is_empty() {
        Ok(profile)
    } else {
        errors.sort_by(|a, b| (a.line, &a.message).cmp(&(b.line, &b.message)));
        errors.dedup();
        Err(errors)
    }
}
