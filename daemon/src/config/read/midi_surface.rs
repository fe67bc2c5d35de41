//! `[[midi_surface]]`: Mackie Control surfaces, their MIDI ports and banks.

use super::super::raw::*;
use super::Reader;
use crate::config::{
    ConfigError, MidiBackend, MidiSurfaceConfig, SurfaceBanks, SurfaceLink, is_address_part,
};
use rackd_protocol::api::address as addr;
use rackd_protocol::mcu::{Model, STRIPS};
use rackd_protocol::toml_tree::{Kind, Node, fields_of};
use std::collections::HashSet;
use std::ops::Range;

/// Most units (a main unit and its extenders) one surface drives.
const MAX_UNITS: usize = 8;

impl Reader<'_> {
    pub(super) fn midi_surface(
        &mut self,
        i: usize,
        item: &Node,
        ids: &mut HashSet<String>,
    ) -> Option<MidiSurfaceConfig> {
        let key = format!("midi_surface[{i}]");
        let mut item = item.clone();
        // Unknown keys of the port tables first, so one does not hide the others.
        let fields = fields_of::<RawSurfaceMidi>();
        let mut strays = Vec::new();
        if let Some(sub) = item.get_mut("midi") {
            strays.extend(stray_keys(sub, fields, &format!("{key}.midi")));
        }
        if let Some(Node {
            kind: Kind::Array(list),
            ..
        }) = item.get_mut("extenders")
        {
            for (j, sub) in list.iter_mut().enumerate() {
                strays.extend(stray_keys(sub, fields, &format!("{key}.extenders[{j}]")));
            }
        }
        for (k, span) in strays {
            self.error(
                &span,
                &k,
                format!("unknown key; known keys here: {}", fields.join(", ")),
            );
        }
        let item = &item;
        let s: RawMidiSurface = self.section(Some(item), &key);
        let span = |k: &str| item.entry(k).map_or(item.span.clone(), |(s, _)| s);

        let id = s.id.unwrap_or_default();
        if !is_address_part(&id) {
            self.error(
                &span("id"),
                &format!("{key}.id"),
                format!("{id:?} must be 1..32 of a-z, 0-9, _ or -"),
            );
        } else if !ids.insert(id.clone()) {
            self.error(
                &span("id"),
                &format!("{key}.id"),
                format!("surface id {id:?} is used twice"),
            );
        }
        match s.protocol.as_deref() {
            Some("mcu") => {}
            None => self.error(
                &item.span,
                &format!("{key}.protocol"),
                "missing: protocol = \"mcu\" (Mackie Control, and surfaces in MC mode)",
            ),
            Some(other) => self.error(
                &span("protocol"),
                &format!("{key}.protocol"),
                format!(
                    "{other:?}: rackd speaks \"mcu\" (Mackie Control, and surfaces in MC mode)"
                ),
            ),
        }
        let model = match s.model.as_deref().unwrap_or("mcu") {
            "mcu" => Model::Mcu,
            "xt" => Model::Xt,
            other => {
                self.error(
                    &span("model"),
                    &format!("{key}.model"),
                    format!("{other:?}: choose \"mcu\" (a main unit, SysEx id 0x14) or \"xt\" (an extender, 0x15)"),
                );
                Model::Mcu
            }
        };
        let mut units = Vec::new();
        match s.midi {
            Some(m) => units.push(self.surface_link(m, &span("midi"), &format!("{key}.midi"))),
            None => self.error(
                &item.span,
                &format!("{key}.midi"),
                "missing: midi = { port = \"…\", input = \"…\" } (the surface's MIDI ports)",
            ),
        }
        for (j, m) in s.extenders.unwrap_or_default().into_iter().enumerate() {
            units.push(self.surface_link(m, &span("extenders"), &format!("{key}.extenders[{j}]")));
        }
        if units.len() > MAX_UNITS {
            self.error(
                &span("extenders"),
                &format!("{key}.extenders"),
                format!("at most {} extenders", MAX_UNITS - 1),
            );
        }
        let strips = STRIPS * units.len().max(1);
        let banks = match s.banks {
            None => SurfaceBanks::Auto,
            Some(RawBanks::Word(w)) if w == "auto" => SurfaceBanks::Auto,
            Some(RawBanks::Word(w)) => {
                self.error(
                    &span("banks"),
                    &format!("{key}.banks"),
                    format!("{w:?}: give \"auto\" or a list of banks, each a list of parameter addresses"),
                );
                SurfaceBanks::Auto
            }
            Some(RawBanks::Lists(lists)) => {
                for (b, bank) in lists.iter().enumerate() {
                    let bkey = format!("{key}.banks[{b}]");
                    if bank.len() > strips {
                        self.error(
                            &span("banks"),
                            &bkey,
                            format!(
                                "{} addresses, but the surface has {strips} strips ({STRIPS} a unit)",
                                bank.len()
                            ),
                        );
                    }
                    for (j, a) in bank.iter().enumerate() {
                        if !a.is_empty() && !is_parameter_address(a) {
                            self.error(
                                &span("banks"),
                                &format!("{bkey}[{j}]"),
                                format!("{a:?} is not a parameter address (/chain/…, /outboard/…, /monitor/…; \"\" for an empty strip)"),
                            );
                        }
                    }
                }
                if lists.is_empty() {
                    self.error(
                        &span("banks"),
                        &format!("{key}.banks"),
                        "no banks; give at least one, or \"auto\"",
                    );
                }
                SurfaceBanks::Lists(lists)
            }
        };
        let master = match s.master {
            None => Some(addr::monitor("level")),
            Some(m) if m.is_empty() => None,
            Some(m) => {
                if !is_parameter_address(&m) {
                    self.error(
                        &span("master"),
                        &format!("{key}.master"),
                        format!(
                            "{m:?} is not a parameter address (\"\" leaves the master fader unused)"
                        ),
                    );
                }
                Some(m)
            }
        };
        let (file, line) = self.locate(&span("banks"));
        Some(MidiSurfaceConfig {
            id,
            model,
            units,
            banks,
            master,
            file,
            line,
        })
    }

    fn surface_link(&mut self, m: RawSurfaceMidi, span: &Range<usize>, key: &str) -> SurfaceLink {
        let backend = match m.backend.as_deref().unwrap_or("jack") {
            "jack" => MidiBackend::Jack,
            "alsa" => MidiBackend::Alsa,
            other => {
                self.error(
                    span,
                    &format!("{key}.backend"),
                    format!("unknown MIDI backend {other:?}; choose jack or alsa"),
                );
                MidiBackend::Jack
            }
        };
        let port = m.port.unwrap_or_default();
        if port.is_empty() {
            self.error(
                span,
                &format!("{key}.port"),
                "missing: the port the surface listens on",
            );
        }
        let input = m.input.filter(|s| !s.is_empty());
        if backend == MidiBackend::Jack && input.is_none() {
            self.error(
                span,
                &format!("{key}.input"),
                "missing: the JACK port the surface sends on",
            );
        }
        SurfaceLink {
            backend,
            port,
            input,
        }
    }
}

/// Whether `a` names a parameter of the address space (checked against the
/// rack once it is known: [`check_banks`]).
fn is_parameter_address(a: &str) -> bool {
    [
        addr::CHAIN_PREFIX,
        addr::OUTBOARD_PREFIX,
        addr::MONITOR_PREFIX,
    ]
    .iter()
    .any(|p| a.strip_prefix(p).is_some_and(|rest| rest.len() > 1))
}

/// Keys of table `node` not in `fields`, removed, with their dotted keys.
fn stray_keys(node: &mut Node, fields: &[&str], prefix: &str) -> Vec<(String, Range<usize>)> {
    let mut out = Vec::new();
    if let Kind::Table(entries) = &mut node.kind {
        entries.retain(|(k, span, _)| {
            let ok = fields.contains(&k.as_str());
            if !ok {
                out.push((format!("{prefix}.{k}"), span.clone()));
            }
            ok
        });
    }
    out
}

/// Every bank address and master fader that the rack does not have, as
/// config errors at the surface's `banks` line (`known`: the parameter tree).
pub fn check_banks(
    surfaces: &[MidiSurfaceConfig],
    known: impl Fn(&str) -> bool,
) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for (i, s) in surfaces.iter().enumerate() {
        let mut unknown = |key: String, a: &str| {
            if !a.is_empty() && !known(a) {
                errors.push(ConfigError {
                    file: s.file.clone(),
                    line: s.line,
                    key,
                    message: format!("the rack has no parameter {a} (see rackd ctl describe)"),
                });
            }
        };
        if let SurfaceBanks::Lists(lists) = &s.banks {
            for (b, bank) in lists.iter().enumerate() {
                for (j, a) in bank.iter().enumerate() {
                    unknown(format!("midi_surface[{i}].banks[{b}][{j}]"), a);
                }
            }
        }
        if let Some(m) = &s.master {
            unknown(format!("midi_surface[{i}].master"), m);
        }
    }
    errors
}
