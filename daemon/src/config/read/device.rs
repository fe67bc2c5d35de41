//! `[[device]]`: outboard gear and how it is reached.

use super::super::raw::*;
use super::Reader;
use crate::config::{DeviceConfig, DeviceLink, MidiBackend, is_address_part};
use rackd_protocol::toml_tree::{Kind, Node, fields_of};
use std::collections::HashSet;
use std::ops::Range;
use std::path::PathBuf;

impl Reader<'_> {
    pub(super) fn device(
        &mut self,
        i: usize,
        item: &Node,
        ids: &mut HashSet<String>,
    ) -> Option<DeviceConfig> {
        let key = format!("device[{i}]");
        // Unknown keys of the transport tables first, so that one of them
        // does not hide the others' problems.
        let mut item = item.clone();
        for (name, fields) in [
            ("serial", fields_of::<RawSerial>()),
            ("osc", fields_of::<RawOscLink>()),
            ("midi", fields_of::<RawMidi>()),
        ] {
            if let Some(sub) = item.get_mut(name) {
                let prefix = format!("{key}.{name}");
                strip_fields(sub, fields, |k, span| {
                    self.errors.push(self.problem(
                        &span,
                        &format!("{prefix}.{k}"),
                        format!("unknown key; known keys here: {}", fields.join(", ")),
                    ))
                });
            }
        }
        let item = &item;
        let d: RawDevice = self.section(Some(item), &key);
        let span = |k: &[&str]| {
            let mut node = item;
            let mut span = item.span.clone();
            for part in k {
                match node.entry(part) {
                    Some((s, n)) => {
                        span = s;
                        node = n;
                    }
                    None => break,
                }
            }
            span
        };
        let id = d.id.unwrap_or_default();
        let profile = d.profile.unwrap_or_default();
        if !is_address_part(&id) {
            self.error(
                &span(&["id"]),
                &format!("{key}.id"),
                format!("{id:?} must be 1..32 of a-z, 0-9, _ or -"),
            );
        } else if !ids.insert(id.clone()) {
            self.error(
                &span(&["id"]),
                &format!("{key}.id"),
                format!("device id {id:?} is used twice"),
            );
        }
        if profile.is_empty() {
            self.error(
                &span(&["profile"]),
                &format!("{key}.profile"),
                "missing: the hardware profile id (see `rackd profile list`)",
            );
        }
        let (safe, safe_params) = match d.safe {
            None => (false, Vec::new()),
            Some(RawSafe::Device(b)) => (b, Vec::new()),
            Some(RawSafe::Params(p)) => (false, p),
        };
        let given: Vec<&str> = [
            ("serial", d.serial.is_some()),
            ("osc", d.osc.is_some()),
            ("midi", d.midi.is_some()),
        ]
        .into_iter()
        .filter(|(_, g)| *g)
        .map(|(n, _)| n)
        .collect();
        if given.len() > 1 {
            self.error(
                &item.span,
                &key,
                format!(
                    "more than one transport ({}); a device has at most one",
                    given.join(", ")
                ),
            );
        }
        let link = if let Some(s) = d.serial {
            let t = format!("{key}.serial");
            let path = s.path.unwrap_or_default();
            if path.is_empty() {
                self.error(
                    &span(&["serial", "path"]),
                    &format!("{t}.path"),
                    "missing: the device node, e.g. /dev/ttyUSB0",
                );
            }
            DeviceLink::Serial {
                path: PathBuf::from(path),
                baud: self
                    .range(
                        s.baud,
                        (50.0, 4_000_000.0),
                        &span(&["serial", "baud"]),
                        &format!("{t}.baud"),
                    )
                    .map(|x| x as u32),
                address: self
                    .range(
                        s.address,
                        (0.0, 255.0),
                        &span(&["serial", "address"]),
                        &format!("{t}.address"),
                    )
                    .map(|x| x as u8),
            }
        } else if let Some(o) = d.osc {
            let t = format!("{key}.osc");
            let address = o.address.unwrap_or_default();
            let port_ok = address
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
            if !port_ok {
                self.error(
                    &span(&["osc", "address"]),
                    &format!("{t}.address"),
                    format!("{address:?} is not HOST:PORT (e.g. 192.168.1.20:9000)"),
                );
            }
            let tcp = match o.protocol.as_deref() {
                None | Some("") => None,
                Some("udp") => Some(false),
                Some("tcp") => Some(true),
                Some(other) => {
                    self.error(
                        &span(&["osc", "protocol"]),
                        &format!("{t}.protocol"),
                        format!("{other:?}: OSC devices speak \"udp\" or \"tcp\""),
                    );
                    None
                }
            };
            DeviceLink::Osc { address, tcp }
        } else if let Some(m) = d.midi {
            let t = format!("{key}.midi");
            let backend = match m.backend.as_deref().unwrap_or("jack") {
                "jack" => MidiBackend::Jack,
                "alsa" => MidiBackend::Alsa,
                other => {
                    self.error(
                        &span(&["midi", "backend"]),
                        &format!("{t}.backend"),
                        format!("unknown MIDI backend {other:?}; choose jack or alsa"),
                    );
                    MidiBackend::Jack
                }
            };
            let port = m.port.unwrap_or_default();
            if port.is_empty() {
                self.error(
                    &span(&["midi", "port"]),
                    &format!("{t}.port"),
                    "missing: the MIDI port name",
                );
            }
            DeviceLink::Midi {
                backend,
                port,
                input: m.input.filter(|s| !s.is_empty()),
                channel: self
                    .range(
                        m.channel,
                        (1.0, 16.0),
                        &span(&["midi", "channel"]),
                        &format!("{t}.channel"),
                    )
                    .unwrap_or(1.0) as u8,
                device_id: self
                    .range(
                        m.device_id,
                        (0.0, 127.0),
                        &span(&["midi", "device_id"]),
                        &format!("{t}.device_id"),
                    )
                    .map(|x| x as u8),
            }
        } else {
            DeviceLink::None
        };
        let (file, line) = self.locate(&span(&["profile"]));
        Some(DeviceConfig {
            id,
            profile,
            link,
            safe,
            safe_params,
            file,
            line,
        })
    }
}

/// Removes the keys of table `node` that are not in `fields`, calling
/// `report` for each.
fn strip_fields(node: &mut Node, fields: &[&str], mut report: impl FnMut(&str, Range<usize>)) {
    if let Kind::Table(entries) = &mut node.kind {
        entries.retain(|(k, span, _)| {
            let ok = fields.contains(&k.as_str());
            if !ok {
                report(k, span.clone());
            }
            ok
        });
    }
}
