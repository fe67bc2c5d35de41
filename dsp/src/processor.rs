//! The processor trait every chain slot implements, and the slot kinds the hub knows.

use rackd_protocol::param::ParamSpec;

/// A stereo real-time processor. `process` must not allocate, lock, log or block.
pub trait Processor: Send {
    /// Sets parameter `index` (position in its kind's spec list) to a value in real units.
    /// Called on the audio thread between blocks; must be cheap and allocation-free.
    fn set_param(&mut self, index: usize, value: f32);
    /// Processes one block in place; `left` and `right` have the same length.
    fn process(&mut self, left: &mut [f32], right: &mut [f32]);
    /// Latency this processor adds, in samples.
    fn latency(&self) -> usize {
        0
    }
    /// Clears internal state (filters, envelopes) without changing parameters.
    fn reset(&mut self) {}
}

/// The built-in processor kinds a chain slot can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotKind {
    /// Gain in dB plus polarity.
    Trim,
    /// Peak/RMS meter point; passes audio through untouched.
    Meter,
}

impl SlotKind {
    /// Parses the kind name used in config files.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "trim" => Some(SlotKind::Trim),
            "meter" => Some(SlotKind::Meter),
            _ => None,
        }
    }

    /// Every kind's config name, for error messages.
    pub const NAMES: &'static [&'static str] = &["trim", "meter"];

    /// The kind's parameters; every slot also gets `bypass` from the chain.
    pub fn params(self) -> Vec<ParamSpec> {
        match self {
            SlotKind::Trim => crate::trim::Trim::params(),
            SlotKind::Meter => Vec::new(),
        }
    }
}
