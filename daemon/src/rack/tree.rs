//! The parameter tree: every address the rack answers to, with its spec and
//! where its value goes (which chain slot and processor parameter, the
//! monitor section, or an outboard device).

use crate::config::SlotConfig;
use crate::profiles::Device;
use rackd_protocol::api::{Describe, DescribedDevice, DescribedParam, DescribedSlot};
use rackd_protocol::param::{ParamSpec, Value};
use rackd_protocol::state::RackState;
use std::collections::BTreeMap;

use rackd_protocol::api::address::MONITOR_PREFIX;

/// The slot layout rule, for the hub and the engine alike: the active slots
/// (`(active, position)` in config order) sorted by position, ties in config order.
pub fn play_order(slots: impl IntoIterator<Item = (bool, i64)>) -> Vec<usize> {
    let mut order: Vec<(i64, usize)> = slots
        .into_iter()
        .enumerate()
        .filter(|(_, (active, _))| *active)
        .map(|(slot, (_, position))| (position, slot))
        .collect();
    order.sort();
    order.into_iter().map(|(_, slot)| slot).collect()
}

/// Where a parameter's value is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Processor parameter `index` of chain slot `slot`.
    ChainParam { slot: usize, index: usize },
    /// The bypass switch of chain slot `slot`.
    ChainBypass { slot: usize },
    /// Where slot `slot` plays in the chain (lower first; ties in config order).
    ChainPosition { slot: usize },
    /// Whether slot `slot` is in the chain at all (added/removed live).
    ChainActive { slot: usize },
    /// Monitor parameter `index` (order of `rackd_dsp::Monitor::params`),
    /// at `/monitor/<param>`.
    Monitor { index: usize },
    /// Parameter `param` (profile order) of outboard device `device` (config
    /// order); the outboard drivers act on it, the engine ignores it.
    Outboard { device: usize, param: usize },
}

/// One parameter: its contract and its destination.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamEntry {
    /// Unit, range, taper, default.
    pub spec: ParamSpec,
    /// Where the value goes.
    pub target: Target,
}

/// All parameters by address; built once from the config, shared read-only.
#[derive(Debug, Clone, Default)]
pub struct ParamTree {
    entries: BTreeMap<String, ParamEntry>,
    slots: Vec<SlotConfig>,
    devices: Vec<Device>,
}

impl ParamTree {
    /// Builds `/chain/<slot>/<param>` (and `bypass`, `position`, `active` on
    /// every slot: the slot layout lives in the state, so snapshots carry it)
    /// from the chain config, plus the monitor section's `/monitor/<param>`.
    pub fn from_chain(chain: &[SlotConfig]) -> Self {
        let mut entries = BTreeMap::new();
        for (index, spec) in rackd_dsp::Monitor::params().into_iter().enumerate() {
            entries.insert(
                format!("{MONITOR_PREFIX}{}", spec.id),
                ParamEntry {
                    spec,
                    target: Target::Monitor { index },
                },
            );
        }
        for (slot, cfg) in chain.iter().enumerate() {
            entries.insert(
                format!("/chain/{}/bypass", cfg.id),
                ParamEntry {
                    spec: ParamSpec::switch("bypass", "Bypass", false),
                    target: Target::ChainBypass { slot },
                },
            );
            entries.insert(
                format!("/chain/{}/position", cfg.id),
                ParamEntry {
                    spec: ParamSpec::stepped(
                        "position",
                        "Position in the chain",
                        0,
                        999,
                        slot as i64,
                    ),
                    target: Target::ChainPosition { slot },
                },
            );
            entries.insert(
                format!("/chain/{}/active", cfg.id),
                ParamEntry {
                    spec: ParamSpec::switch("active", "In the chain", cfg.active),
                    target: Target::ChainActive { slot },
                },
            );
            for (index, spec) in cfg.kind.params().into_iter().enumerate() {
                entries.insert(
                    format!("/chain/{}/{}", cfg.id, spec.id),
                    ParamEntry {
                        spec,
                        target: Target::ChainParam { slot, index },
                    },
                );
            }
        }
        ParamTree {
            entries,
            slots: chain.to_vec(),
            devices: Vec::new(),
        }
    }

    /// The chain's parameters plus `/outboard/<device>/<param>` for every device.
    pub fn from_rack(chain: &[SlotConfig], devices: &[Device]) -> Self {
        let mut tree = Self::from_chain(chain);
        for (device, d) in devices.iter().enumerate() {
            for (param, spec) in d.profile.params().into_iter().enumerate() {
                tree.entries.insert(
                    format!("/outboard/{}/{}", d.id, spec.id),
                    ParamEntry {
                        spec,
                        target: Target::Outboard { device, param },
                    },
                );
            }
        }
        tree.devices = devices.to_vec();
        tree
    }

    /// The outboard devices the tree was built from, in config order.
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    /// The entry at an exact address.
    pub fn get(&self, address: &str) -> Option<&ParamEntry> {
        self.entries.get(address)
    }

    /// All addresses, sorted.
    pub fn addresses(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// All entries, sorted by address.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ParamEntry)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the tree has no parameters.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a recall sets this address. The monitor section (how loud the
    /// room listens) and an insert's measured round trip (a fact of the
    /// wiring, not of the song) stay as they are; a restore brings them back.
    pub fn recalled(&self, address: &str) -> bool {
        if address.starts_with(MONITOR_PREFIX) {
            return false;
        }
        match self.get(address).map(|e| e.target) {
            Some(Target::ChainParam { slot, index }) => {
                !(self
                    .slots
                    .get(slot)
                    .is_some_and(|s| s.kind == rackd_dsp::SlotKind::Insert)
                    && index == rackd_dsp::HardwareInsert::LATENCY)
            }
            _ => true,
        }
    }

    /// The slot layout of a state: configured slot indexes in play order.
    pub fn layout(&self, state: &RackState) -> Vec<usize> {
        let value = |slot: usize, what: &str, default: i64| {
            state
                .values
                .get(&format!("/chain/{}/{what}", self.slots[slot].id))
                .and_then(Value::as_f64)
                .map_or(default, |v| v as i64)
        };
        play_order((0..self.slots.len()).map(|s| {
            (
                value(s, "active", self.slots[s].active as i64) != 0,
                value(s, "position", s as i64),
            )
        }))
    }

    /// The index of the slot with id `id`.
    pub fn slot_index(&self, id: &str) -> Option<usize> {
        self.slots.iter().position(|s| s.id == id)
    }

    /// The chain slots the tree was built from.
    pub fn slots(&self) -> &[SlotConfig] {
        &self.slots
    }

    /// A fresh rack: every parameter at its default.
    pub fn defaults(&self) -> RackState {
        RackState {
            values: self
                .entries
                .iter()
                .map(|(k, e)| (k.clone(), e.spec.default.clone()))
                .collect(),
        }
    }

    /// `/rackd/describe`: every address with its unit, range, steps and value.
    pub fn describe(&self, state: &RackState) -> Describe {
        Describe {
            chain: self
                .slots
                .iter()
                .map(|s| DescribedSlot {
                    id: s.id.clone(),
                    kind: s.kind.name().to_string(),
                })
                .collect(),
            devices: self
                .devices
                .iter()
                .map(|d| DescribedDevice {
                    id: d.id.clone(),
                    profile: d.profile.id().to_string(),
                    vendor: d.profile.device.vendor.clone(),
                    model: d.profile.device.model.clone(),
                    transport: d.profile.transport(),
                    safe: d.safe,
                })
                .collect(),
            params: self
                .entries
                .iter()
                .map(|(address, e)| DescribedParam {
                    spec: e.spec.clone(),
                    address: address.clone(),
                    value: state.values.get(address).unwrap_or(&e.spec.default).clone(),
                    detents: self.detent_labels(e.target),
                })
                .collect(),
            meters: crate::engine::described_meters(&self.slots),
        }
    }

    /// The printed detent labels of an outboard stepped control (none for
    /// every other parameter).
    fn detent_labels(&self, target: Target) -> Vec<String> {
        match target {
            Target::Outboard { device, param } => self
                .devices
                .get(device)
                .and_then(|d| d.profile.params.get(param))
                .filter(|p| p.kind == rackd_protocol::profile::ParamType::Stepped)
                .and_then(|p| p.detents.clone())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Checks a value for `address` and returns what the parameter will hold.
    pub fn accept(&self, address: &str, value: &Value) -> Option<Result<Value, String>> {
        self.get(address)
            .map(|e| e.spec.accept(value).map_err(|err| err.to_string()))
    }
}
