//! Tablet layouts generated from the parameter tree (`/rackd/describe`):
//! one page per chain slot and per outboard device, the monitor section,
//! the meters and a snapshot page, for Open Stage Control (a session file,
//! JSON) and TouchOSC (the `.tosc` document's XML; the caller compresses
//! it). Controls carry real-unit ranges, or `A/norm` where the tool can
//! only scale linearly and the parameter has a log taper; choices become
//! buttons or menus; every layout subscribes to feedback itself.
//!
//! - `open_stage.rs`: the Open Stage Control session.
//! - `touchosc.rs`: the TouchOSC document.

mod open_stage;
mod touchosc;

pub use open_stage::open_stage_control;
pub use touchosc::touchosc_xml;

use crate::api::address as addr;
use crate::api::{Describe, DescribedMeter, DescribedParam};
use crate::profile::TransportKind;

/// Where the layout's messages go and how feedback finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The daemon's host (as the tablet reaches it).
    pub host: String,
    /// The daemon's OSC port.
    pub port: u16,
    /// The port feedback goes to (`None`: the port the layout sends from).
    pub reply_port: Option<u16>,
}

/// Stepped controls with at most this many positions get a button (or a
/// menu entry) per position; longer ones a fader.
pub const MAX_BUTTONS: i64 = 12;

/// The positions of a stepped control short enough for buttons.
pub fn step_buttons(min: i64, max: i64) -> Option<Vec<i64>> {
    (max >= min && max - min < MAX_BUTTONS).then(|| (min..=max).collect())
}

/// How often a layout renews its subscription (the lease is 10 s).
pub const RENEW_MS: u32 = 5000;

/// The patterns a layout subscribes to: every parameter (and `/norm` for
/// the log-taper faders), snapshot and recall events, and every meter.
pub fn subscribe_patterns() -> Vec<String> {
    [
        "/chain/*/*",
        "/chain/*/*/norm",
        "/outboard/*/*",
        "/outboard/*/*/norm",
        "/monitor/*",
        "/monitor/*/norm",
        "/meter/*/*",
        "/rackd/snapshot/*",
        "/rackd/recall/*",
    ]
    .map(String::from)
    .to_vec()
}

/// One page of a layout.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    /// Tab label.
    pub title: String,
    /// Name for ids (a-z, 0-9, _).
    pub key: String,
    /// Its parameters: `bypass` first, then by address.
    pub params: Vec<&'a DescribedParam>,
    /// Its meters.
    pub meters: Vec<&'a DescribedMeter>,
}

/// What the snapshot page offers: the manual devices to confirm.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    /// Parameter and meter pages.
    pub pages: Vec<Page<'a>>,
    /// Devices set by hand (a confirm button each).
    pub manual: Vec<String>,
}

/// The pages of a rack: each chain slot and outboard device, the monitor
/// section, all meters.
pub fn plan(d: &Describe) -> Plan<'_> {
    let params_under = |prefix: &str| {
        let mut p: Vec<&DescribedParam> = d
            .params
            .iter()
            .filter(|p| p.address.starts_with(prefix))
            .collect();
        p.sort_by_key(|p| (!p.address.ends_with("/bypass"), p.address.clone()));
        p
    };
    let mut pages = Vec::new();
    for s in &d.chain {
        let prefix = format!("{}{}/", addr::CHAIN_PREFIX, s.id);
        pages.push(Page {
            title: format!("{} ({})", s.id, s.kind),
            key: format!("chain_{}", key(&s.id)),
            params: params_under(&prefix),
            meters: d.meters.iter().filter(|m| m.point == s.id).collect(),
        });
    }
    for dev in &d.devices {
        pages.push(Page {
            title: format!("{} ({} {})", dev.id, dev.vendor, dev.model),
            key: format!("outboard_{}", key(&dev.id)),
            params: params_under(&addr::outboard_device(&dev.id)),
            meters: Vec::new(),
        });
    }
    let monitor = params_under(addr::MONITOR_PREFIX);
    if !monitor.is_empty() {
        pages.push(Page {
            title: "monitor".into(),
            key: "monitor".into(),
            params: monitor,
            meters: Vec::new(),
        });
    }
    if !d.meters.is_empty() {
        pages.push(Page {
            title: "meters".into(),
            key: "meters".into(),
            params: Vec::new(),
            meters: d.meters.iter().collect(),
        });
    }
    Plan {
        pages,
        manual: d
            .devices
            .iter()
            .filter(|dev| dev.transport == TransportKind::Manual)
            .map(|dev| dev.id.clone())
            .collect(),
    }
}

/// `s` as an id part: a-z, 0-9, `_`.
pub fn key(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The display range of a meter quantity: dBFS or LUFS from −60, LU 0..30,
/// correlation −1..1, gain reduction 0..24 dB.
pub fn meter_range(quantity: &str) -> (f64, f64) {
    match quantity {
        "peak" | "rms" | "true_peak" => (-60.0, 6.0),
        "lufs_m" | "lufs_s" | "lufs_i" => (-60.0, 0.0),
        "lra" => (0.0, 30.0),
        "correlation" => (-1.0, 1.0),
        _ => (0.0, 24.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{DescribedDevice, DescribedSlot};
    use crate::param::{ParamSpec, Unit};

    pub(super) fn rack() -> Describe {
        let p = |address: &str, spec: ParamSpec| DescribedParam {
            value: spec.default.clone(),
            spec,
            address: address.into(),
            detents: Vec::new(),
        };
        Describe {
            chain: vec![DescribedSlot {
                id: "eq".into(),
                kind: "eq".into(),
            }],
            devices: vec![DescribedDevice {
                id: "pultec".into(),
                profile: "x".into(),
                vendor: "Pultec".into(),
                model: "EQP-1A".into(),
                transport: TransportKind::Manual,
                safe: false,
            }],
            params: vec![
                p(
                    "/chain/eq/b1_freq",
                    ParamSpec::log(
                        "b1_freq",
                        "Band 1 frequency",
                        Unit::Hz,
                        10.0,
                        40_000.0,
                        100.0,
                    ),
                ),
                p(
                    "/chain/eq/b1_gain",
                    ParamSpec::linear("b1_gain", "Band 1 gain", Unit::Db, -24.0, 24.0, 0.0),
                ),
                p(
                    "/chain/eq/b1_type",
                    ParamSpec::choice("b1_type", "Band 1 type", &["bell", "low_shelf"], "bell"),
                ),
                p(
                    "/chain/eq/bypass",
                    ParamSpec::switch("bypass", "Bypass", false),
                ),
                p(
                    "/chain/eq/position",
                    ParamSpec::stepped("position", "Position", 0, 999, 0),
                ),
                p(
                    "/monitor/level",
                    ParamSpec::linear("level", "Monitor level", Unit::Db, -60.0, 12.0, 0.0),
                ),
                p(
                    "/outboard/pultec/low_boost",
                    ParamSpec::stepped("low_boost", "Low boost", 0, 10, 0),
                ),
            ],
            meters: vec![DescribedMeter {
                address: "/meter/out/peak".into(),
                point: "out".into(),
                quantity: "peak".into(),
                channels: 2,
            }],
        }
    }

    #[test]
    fn pages_per_slot_device_monitor_and_meters() {
        let d = rack();
        let plan = plan(&d);
        let titles: Vec<&str> = plan.pages.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(
            titles,
            ["eq (eq)", "pultec (Pultec EQP-1A)", "monitor", "meters"]
        );
        assert_eq!(plan.pages[0].params[0].address, "/chain/eq/bypass");
        assert_eq!(plan.pages[0].params.len(), 5);
        assert_eq!(plan.manual, ["pultec"]);
        let all: usize = plan.pages.iter().map(|p| p.params.len()).sum();
        assert_eq!(all, d.params.len());
    }
}
