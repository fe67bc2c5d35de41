//! What the daemon answers with: the reports and documents of `/rackd/*`,
//! shared by the server that fills them in and `rackd ctl` that reads them.
//! Their JSON form is the wire format (a field added is fine; a field renamed
//! breaks surfaces in the field).

use crate::param::{ParamSpec, Value};
use crate::profile::TransportKind;
use crate::song::SongPath;
use crate::state::RackState;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One saved revision without its state: what `history` shows and `save` acknowledges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionInfo {
    /// The song.
    pub song: SongPath,
    /// Revision number, 1 for the first save of the song.
    pub rev: u32,
    /// When it was saved, RFC 3339 UTC with milliseconds (`2026-11-23T21:04:05.123Z`).
    pub saved_at: String,
    /// The engineer's note.
    pub note: String,
    /// Who saved it (`ctl`, an OSC client, `import:…`).
    pub origin: String,
}

/// One line of `list`: a song and its latest revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SongSummary {
    /// The song.
    pub song: SongPath,
    /// How many revisions it has.
    pub revisions: u32,
    /// Its newest revision number.
    pub latest_rev: u32,
    /// When the newest revision was saved.
    pub latest_at: String,
}

/// A song with all its revisions as a readable, versioned file, for moving it to another room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SongExport {
    /// Always [`SongExport::FORMAT`], so a stray JSON file is not taken for an export.
    pub format: String,
    /// [`SongExport::VERSION`] when written by this build.
    pub version: u32,
    /// The song.
    pub song: SongPath,
    /// When the file was written.
    pub exported_at: String,
    /// Every revision, oldest first.
    pub revisions: Vec<ExportedRevision>,
}

impl SongExport {
    /// The `format` of an export document.
    pub const FORMAT: &'static str = "rackd-song";
    /// The `version` this build writes.
    pub const VERSION: u32 = 1;
}

/// One revision inside a [`SongExport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedRevision {
    /// Revision number in the room it was exported from.
    pub rev: u32,
    /// When it was saved there.
    pub saved_at: String,
    /// The engineer's note.
    pub note: String,
    /// Who saved it there.
    pub origin: String,
    /// Every parameter value.
    pub state: RackState,
    /// The revision's recall safes (absent in files without any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub safes: Vec<String>,
}

/// What `import` did, so the engineer sees whether anything was new.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// The song imported into.
    pub song: SongPath,
    /// Revision numbers created here, in order.
    pub added: Vec<u32>,
    /// Revisions already present (same state, time and note), not added again.
    pub skipped: usize,
}

/// The outcome of a recall (or its undo), sent to the client and every observer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecallReport {
    /// Song path (a description for an undo).
    pub song: String,
    /// Revision recalled; 0 for an undo.
    pub rev: u32,
    /// Parameters whose value changed.
    pub changed: usize,
    /// Parameters already at the stored value.
    pub unchanged: usize,
    /// Stored addresses this rack does not have (saved on a different rack).
    pub skipped: Vec<String>,
    /// Stored values this rack's parameters refuse (`address: why`), left as they were.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
    /// One line per outboard device (empty without outboard gear).
    pub devices: Vec<DeviceReport>,
    /// The revision's own recall safes (`DEVICE`, `DEVICE/PARAM`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub safes: Vec<String>,
}

impl RecallReport {
    /// Whether this is the report of an undo, not of a snapshot.
    pub fn is_undo(&self) -> bool {
        self.rev == 0
    }

    /// The first device whose recall failed.
    pub fn failed(&self) -> Option<&DeviceReport> {
        self.devices
            .iter()
            .find(|d| matches!(d.outcome, DeviceOutcome::Failed { .. }))
    }
}

/// The outcome of a recall for one outboard device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "DeviceReportWire", from = "DeviceReportWire")]
pub struct DeviceReport {
    /// Device id.
    pub device: String,
    /// What happened to it.
    pub outcome: DeviceOutcome,
}

/// What a recall did to one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceOutcome {
    /// Every value sent and read back right (`verified` parameters read back).
    Verified {
        /// Parameters read back and found right.
        verified: usize,
    },
    /// Every value sent; the gear cannot be read back.
    Sent,
    /// Set by hand: waiting for the engineer to confirm the sheet.
    Waiting,
    /// Recall safe: left alone.
    Safe,
    /// A changed-only recall had nothing to send it.
    Unchanged,
    /// It did not take the recall.
    Failed {
        /// Why, for the engineer.
        why: String,
    },
}

impl fmt::Display for DeviceOutcome {
    /// The report line people read (and older clients compare).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceOutcome::Verified { .. } => f.write_str("set and verified"),
            DeviceOutcome::Sent => f.write_str("set (no readback)"),
            DeviceOutcome::Waiting => f.write_str("waiting for manual confirmation"),
            DeviceOutcome::Safe => f.write_str("safe (left alone)"),
            DeviceOutcome::Unchanged => f.write_str("unchanged (nothing to send)"),
            DeviceOutcome::Failed { why } => write!(f, "failed: {why}"),
        }
    }
}

/// A [`DeviceReport`] on the wire: the outcome as a word, the line people
/// read, the readback count and, for a failure, why.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DeviceReportWire {
    device: String,
    outcome: String,
    result: String,
    #[serde(default)]
    verified: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    why: Option<String>,
}

impl From<DeviceReport> for DeviceReportWire {
    fn from(r: DeviceReport) -> Self {
        let (word, verified, why) = match &r.outcome {
            DeviceOutcome::Verified { verified } => ("verified", *verified, None),
            DeviceOutcome::Sent => ("sent", 0, None),
            DeviceOutcome::Waiting => ("waiting", 0, None),
            DeviceOutcome::Safe => ("safe", 0, None),
            DeviceOutcome::Unchanged => ("unchanged", 0, None),
            DeviceOutcome::Failed { why } => ("failed", 0, Some(why.clone())),
        };
        DeviceReportWire {
            result: r.outcome.to_string(),
            device: r.device,
            outcome: word.into(),
            verified,
            why,
        }
    }
}

impl From<DeviceReportWire> for DeviceReport {
    fn from(w: DeviceReportWire) -> Self {
        let outcome = match w.outcome.as_str() {
            "verified" => DeviceOutcome::Verified {
                verified: w.verified,
            },
            "sent" => DeviceOutcome::Sent,
            "waiting" => DeviceOutcome::Waiting,
            "safe" => DeviceOutcome::Safe,
            "unchanged" => DeviceOutcome::Unchanged,
            _ => DeviceOutcome::Failed {
                why: w.why.unwrap_or(w.result),
            },
        };
        DeviceReport {
            device: w.device,
            outcome,
        }
    }
}

/// What a finished print did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrintReport {
    /// Song recalled.
    pub song: String,
    /// Revision recalled.
    pub rev: u32,
    /// File written (on the daemon's machine).
    pub output: String,
    /// Frames written (the source's length).
    pub frames: usize,
    /// Sample rate.
    pub sample_rate: u32,
    /// Chain latency removed, in samples.
    pub latency: usize,
    /// Outboard lines of the recall (what was set, what waits for hands).
    pub devices: Vec<DeviceReport>,
}

/// The outcome of a round-trip measurement of an insert.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// Round trip in samples (send written → return read).
    pub latency: usize,
    /// The return comes back with its polarity inverted.
    pub inverted: bool,
    /// Level of the return relative to the send, dB.
    pub gain_db: f32,
    /// How far the correlation peak stands out, dB.
    pub confidence_db: f32,
}

/// Whether the snapshot store can make saves durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    /// Every write so far reached the disk.
    Ok,
    /// It cannot write (permissions): saves are refused until that is fixed.
    ReadOnly,
    /// It failed otherwise (file replaced, disk full, damaged).
    Failing,
}

/// How the store is doing, for `/rackd/status` and systemd's status line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreHealth {
    /// `ok`, `read-only` or `failing`.
    pub health: Health,
    /// The last store fault, while not `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl StoreHealth {
    /// Everything written so far went to disk.
    pub fn ok() -> Self {
        StoreHealth {
            health: Health::Ok,
            error: None,
        }
    }

    /// Whether writes work.
    pub fn is_ok(&self) -> bool {
        self.health == Health::Ok
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Health::Ok => "ok",
            Health::ReadOnly => "read-only",
            Health::Failing => "failing",
        })
    }
}

/// `/rackd/status`: how this daemon is doing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// Seconds since start.
    pub uptime_s: u64,
    /// Audio backend name.
    pub backend: String,
    /// One-line audio state (`running: JACK client …`).
    pub audio: String,
    /// Whether audio is being processed now.
    pub running: bool,
    /// Hz, 0 while not running.
    pub sample_rate: u32,
    /// Frames per period.
    pub period: u32,
    /// Latency of the chain now playing, in samples.
    pub latency_samples: u32,
    /// What the output safety ceiling bounds: `sample_peak` or `true_peak`.
    #[serde(default)]
    pub ceiling_mode: String,
    /// Latency the monitor path adds after the chain (a true-peak
    /// ceiling's lookahead), in samples; the main outputs report both.
    #[serde(default)]
    pub monitor_latency_samples: u32,
    /// Slot ids playing, in order.
    pub layout: Vec<String>,
    /// Whether a print pass runs.
    pub printing: bool,
    /// The snapshot store's health.
    pub store: StoreHealth,
    /// Xruns reported by the backend since start.
    pub xruns: u64,
    /// Process cycles that did not follow the previous one (run late, twice or not at all).
    pub cycle_breaks: u64,
    /// Changes the audio thread has taken off its queue.
    pub changes_taken: u64,
    /// Slot-layout handovers the audio thread has finished.
    pub layout_changes: u64,
    /// DSP load, % of the period.
    pub dsp_load_percent: f64,
    /// How often the output safety ceiling had to act.
    pub ceiling_engagements: u64,
    /// Who is connected.
    pub clients: ClientCounts,
    /// OSC traffic counters.
    pub osc: OscCounts,
    /// Every outboard device.
    pub devices: Vec<DeviceStatus>,
    /// The HTTP/WebSocket front end, when it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpCounts>,
    /// Every MIDI control surface (`[[midi_surface]]`).
    #[serde(default)]
    pub midi_surfaces: Vec<MidiSurfaceStatus>,
}

/// The HTTP/WebSocket front end's traffic, in [`Status`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpCounts {
    /// Where it listens.
    pub listen: String,
    /// WebSocket clients connected now.
    pub websockets: usize,
    /// HTTP requests answered.
    pub requests: u64,
    /// Requests refused for a missing or wrong token (401).
    pub unauthorized: u64,
    /// Changes refused to a read-only token (403).
    pub read_only_refused: u64,
    /// Feedback values and meter frames dropped because a WebSocket client
    /// could not keep up.
    pub feedback_dropped: u64,
}

/// One MIDI control surface in [`Status`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MidiSurfaceStatus {
    /// Surface id.
    pub id: String,
    /// `online` (it has spoken), `connected` (ports linked, nothing heard
    /// yet) or `offline: why`, for its least connected unit.
    pub state: String,
    /// Units (a main unit and its extenders).
    pub units: usize,
    /// MCU messages taken from it.
    pub messages: u64,
    /// Messages that were not MCU messages (ignored).
    pub garbage: u64,
    /// Why the last of those was refused.
    pub last_garbage: Option<String>,
}

/// Who is connected, in [`Status`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCounts {
    /// Subscribers with leases and static surfaces.
    pub subscribers: usize,
    /// Static surfaces from the config.
    #[serde(rename = "static")]
    pub statics: usize,
    /// Open OSC TCP connections.
    pub tcp_connections: usize,
}

/// OSC traffic, in [`Status`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OscCounts {
    /// Messages handled.
    pub messages: u64,
    /// Packets that did not decode.
    pub bad_packets: u64,
    /// Packets from addresses not in `[osc] allow`.
    pub rejected_not_allowed: u64,
    /// Feedback values dropped because a subscriber could not keep up.
    pub feedback_dropped: u64,
    /// TCP connections refused because there was no room.
    #[serde(default)]
    pub refused_connections: u64,
    /// Bundles waiting for their time tag.
    #[serde(default)]
    pub scheduled_bundles: usize,
}

/// One outboard device in [`Status`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceStatus {
    /// Device id.
    pub id: String,
    /// Its profile.
    pub profile: String,
    /// The port it is on (`/dev/ttyUSB0`, `osc:host:port`, `manual`).
    pub port: String,
    /// `connecting`, `online`, `offline`, `manual` or `waiting`.
    pub state: String,
    /// Why it is offline or waiting.
    pub error: Option<String>,
    /// Recall safe as a whole.
    pub safe: bool,
}

/// `/rackd/info`: what this daemon is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// Always `rackd`.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Where OSC listens.
    pub osc: String,
    /// Audio backend name.
    pub backend: String,
    /// Number of parameters.
    pub params: usize,
    /// Slot ids in config order.
    pub chain: Vec<String>,
}

/// `/rackd/describe`: the parameter tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Describe {
    /// The configured slots, in config order.
    pub chain: Vec<DescribedSlot>,
    /// The outboard devices, in config order.
    pub devices: Vec<DescribedDevice>,
    /// Every parameter, by address.
    pub params: Vec<DescribedParam>,
    /// Every meter stream, in signal order.
    #[serde(default)]
    pub meters: Vec<DescribedMeter>,
}

/// A meter stream in [`Describe`]: `/meter/<point>/<quantity>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescribedMeter {
    /// Its address.
    pub address: String,
    /// `in`, `out` or a slot id.
    pub point: String,
    /// `peak`, `rms`, `true_peak`, `lufs_m`, … (dBFS, LUFS, LU, −1..1 or dB).
    pub quantity: String,
    /// Values per message: 2 (left, right) or 1.
    pub channels: u8,
}

/// A chain slot in [`Describe`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescribedSlot {
    /// Slot id.
    pub id: String,
    /// Slot kind (`eq`, `insert`, …).
    pub kind: String,
}

/// A device in [`Describe`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescribedDevice {
    /// Device id.
    pub id: String,
    /// Its profile.
    pub profile: String,
    /// Maker.
    pub vendor: String,
    /// Model.
    pub model: String,
    /// How it is reached.
    pub transport: TransportKind,
    /// Recall safe as a whole.
    pub safe: bool,
}

/// A parameter in [`Describe`]: its spec, address and current value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DescribedParam {
    /// Unit, range, taper, default.
    #[serde(flatten)]
    pub spec: ParamSpec,
    /// Its address.
    pub address: String,
    /// The value now.
    pub value: Value,
    /// A stepped control's printed detent labels, first position first
    /// (empty when the panel prints none). Not `labels`: an enum's spec has those.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detents: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_report_keeps_its_line_and_its_outcome_on_the_wire() {
        let reports = [
            DeviceOutcome::Verified { verified: 3 },
            DeviceOutcome::Sent,
            DeviceOutcome::Waiting,
            DeviceOutcome::Safe,
            DeviceOutcome::Unchanged,
            DeviceOutcome::Failed {
                why: "no reply".into(),
            },
        ]
        .map(|outcome| DeviceReport {
            device: "eq".into(),
            outcome,
        });
        for r in reports {
            let json = serde_json::to_value(&r).unwrap();
            assert_eq!(json["result"], r.outcome.to_string(), "{json}");
            let back: DeviceReport = serde_json::from_value(json).unwrap();
            assert_eq!(back, r);
        }
        let failed = serde_json::to_value(DeviceReport {
            device: "eq".into(),
            outcome: DeviceOutcome::Failed {
                why: "offline".into(),
            },
        })
        .unwrap();
        assert_eq!(failed["result"], "failed: offline");
        assert_eq!(failed["outcome"], "failed");
    }

    #[test]
    fn described_params_survive_their_json() {
        use crate::param::ParamSpec;
        for (spec, value, detents) in [
            (
                ParamSpec::choice("kind", "Kind", &["bell", "shelf"], "bell"),
                Value::Text("shelf".into()),
                vec![],
            ),
            (
                ParamSpec::stepped("freq", "Frequency", 0, 2, 0),
                Value::Int(1),
                vec!["20".to_string(), "30".into(), "60".into()],
            ),
        ] {
            let p = DescribedParam {
                spec,
                address: "/outboard/eq/x".into(),
                value,
                detents,
            };
            let text = serde_json::to_string(&p).unwrap();
            assert_eq!(
                serde_json::from_str::<DescribedParam>(&text).unwrap(),
                p,
                "{text}"
            );
        }
    }

    #[test]
    fn health_words_are_the_status_words() {
        for (h, word) in [
            (Health::Ok, "ok"),
            (Health::ReadOnly, "read-only"),
            (Health::Failing, "failing"),
        ] {
            assert_eq!(serde_json::to_value(h).unwrap(), word);
            assert_eq!(h.to_string(), word);
        }
    }
}
