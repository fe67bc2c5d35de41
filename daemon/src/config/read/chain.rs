//! `[[chain]]`: the slots of the DSP chain.

use super::super::raw::*;
use super::{Reader, join};
use crate::config::{SlotConfig, is_address_part};
use rackd_dsp::SlotKind;
use rackd_protocol::toml_tree::Node;
use std::collections::HashSet;
use std::ops::Range;

impl Reader<'_> {
    pub(super) fn slot(
        &mut self,
        i: usize,
        item: &Node,
        channels: u16,
        ids: &mut HashSet<String>,
    ) -> Option<SlotConfig> {
        let key = format!("chain[{i}]");
        let s: RawSlot = self.section(Some(item), &key);
        let span = |k: &str| item.entry(k).map_or(item.span.clone(), |(s, _)| s);
        let id = s.id.unwrap_or_default();
        let kind_text = s.kind.unwrap_or_default();
        let send = s.send.unwrap_or_default().0;
        let returns = s.returns.unwrap_or_default().0;
        let send_channels = self.channel_pair(
            s.send_channels,
            &span("send_channels"),
            &key,
            "send_channels",
            channels,
        );
        let return_channels = self.channel_pair(
            s.return_channels,
            &span("return_channels"),
            &key,
            "return_channels",
            channels,
        );
        if !is_address_part(&id) {
            self.error(
                &span("id"),
                &format!("{key}.id"),
                format!("{id:?} must be 1..32 of a-z, 0-9, _ or -"),
            );
        } else if id == "in" || id == "out" {
            self.error(
                &span("id"),
                &format!("{key}.id"),
                "\"in\" and \"out\" are the fixed meter points; choose another id",
            );
        } else if !ids.insert(id.clone()) {
            self.error(
                &span("id"),
                &format!("{key}.id"),
                format!("slot id {id:?} is used twice"),
            );
        }
        let Some(kind) = SlotKind::from_name(&kind_text) else {
            self.error(
                &span("kind"),
                &format!("{key}.kind"),
                format!(
                    "unknown slot kind {kind_text:?}; choose one of {}",
                    SlotKind::NAMES.join(", ")
                ),
            );
            return None;
        };
        let insert = kind == SlotKind::Insert;
        for (name, given) in [
            ("send_channels", !send_channels.is_empty()),
            ("return_channels", !return_channels.is_empty()),
        ] {
            if !insert && given {
                self.error(
                    &span(name),
                    &join(&key, name),
                    format!("only an insert slot has {name}"),
                );
            }
        }
        for (name, ports) in [("send", &send), ("return", &returns)] {
            if !insert && !ports.is_empty() {
                self.error(
                    &span(name),
                    &join(&key, name),
                    format!("only an insert slot has {name} ports"),
                );
            } else if ports.len() > 2 {
                self.error(
                    &span(name),
                    &join(&key, name),
                    format!(
                        "a stereo insert has 2 {name} ports (L, R), not {}",
                        ports.len()
                    ),
                );
            }
        }
        Some(SlotConfig {
            id,
            kind,
            send,
            returns,
            send_channels,
            return_channels,
            active: s.active.unwrap_or(true),
        })
    }

    /// An insert's pair of cpal device channels (1-based, L and R): two
    /// different channels from 3 to `channels` (1 and 2 are the main pair).
    fn channel_pair(
        &mut self,
        value: Option<Vec<Num>>,
        span: &Range<usize>,
        table: &str,
        key: &str,
        channels: u16,
    ) -> Vec<u16> {
        let Some(value) = value else {
            return Vec::new();
        };
        let numbers: Option<Vec<u16>> = value
            .iter()
            .map(|n| (n.0.fract() == 0.0 && (0.0..=65535.0).contains(&n.0)).then_some(n.0 as u16))
            .collect();
        match numbers {
            Some(pair) if pair.len() == 2 && pair[0] != pair[1] => {
                if let Some(bad) = pair.iter().find(|&&c| c < 3 || c > channels) {
                    self.error(
                        span,
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
                let found: Vec<String> = value.iter().map(|n| n.0.to_string()).collect();
                self.error(
                    span,
                    &join(table, key),
                    format!(
                        "expected two different channel numbers [L, R], found [{}]",
                        found.join(", ")
                    ),
                );
                Vec::new()
            }
        }
    }
}
