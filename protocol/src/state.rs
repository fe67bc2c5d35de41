//! The rack state as stored in snapshots: every parameter's value, by address.

use crate::param::Value;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything a snapshot holds: parameter values in real units keyed by OSC address.
///
/// A `BTreeMap` so serialized states are ordered and diffs read top to bottom.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RackState {
    /// Values by address (`/chain/trim/gain` → -3.5).
    pub values: BTreeMap<String, Value>,
}

/// One difference between two states.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Parameter address.
    pub address: String,
    /// Value in the first state (`None`: absent there).
    pub before: Option<Value>,
    /// Value in the second state (`None`: absent there).
    pub after: Option<Value>,
}

impl RackState {
    /// The differences from `self` to `other`, ordered by address.
    pub fn diff(&self, other: &RackState) -> Vec<Change> {
        let mut changes = Vec::new();
        for (address, before) in &self.values {
            match other.values.get(address) {
                Some(after) if after == before => {}
                after => changes.push(Change {
                    address: address.clone(),
                    before: Some(before.clone()),
                    after: after.cloned(),
                }),
            }
        }
        for (address, after) in &other.values {
            if !self.values.contains_key(address) {
                changes.push(Change {
                    address: address.clone(),
                    before: None,
                    after: Some(after.clone()),
                });
            }
        }
        changes.sort_by(|a, b| a.address.cmp(&b.address));
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_lists_changed_added_removed() {
        let mut a = RackState::default();
        a.values
            .insert("/chain/trim/gain".into(), Value::Float(0.0));
        a.values.insert("/chain/trim/invert".into(), Value::Int(0));
        let mut b = a.clone();
        b.values
            .insert("/chain/trim/gain".into(), Value::Float(-3.5));
        b.values.remove("/chain/trim/invert");
        b.values.insert("/chain/eq/bypass".into(), Value::Int(1));
        let d = a.diff(&b);
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].address, "/chain/eq/bypass");
        assert_eq!(d[1].after, Some(Value::Float(-3.5)));
        assert_eq!(d[2].after, None);
        assert!(a.diff(&a).is_empty());
    }

    #[test]
    fn json_round_trip_keeps_types() {
        let mut a = RackState::default();
        a.values.insert("/a".into(), Value::Float(-3.0));
        a.values.insert("/b".into(), Value::Int(1));
        a.values.insert("/c".into(), Value::Text("ms".into()));
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<RackState>(&json).unwrap(), a);
    }
}
