//! The meter points the audio thread publishes and what each streams.

use rackd_dsp::Meters;
use std::sync::Arc;

/// One quantity a meter point streams as `/meter/<point>/<quantity>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// Sample peak per channel since the last read, dBFS (`,ff`).
    Peak,
    /// Running RMS per channel, dBFS (`,ff`).
    Rms,
    /// True peak (BS.1770 Annex 2) per channel since the last read, dBTP (`,ff`).
    TruePeak,
    /// Momentary loudness, LUFS (`,f`).
    LufsM,
    /// Short-term loudness, LUFS (`,f`).
    LufsS,
    /// Integrated loudness since start, LUFS (`,f`).
    LufsI,
    /// Loudness range, LU (`,f`).
    Lra,
    /// Phase correlation −1..1 (`,f`).
    Correlation,
    /// Largest gain reduction since the last read, dB (`,f`).
    GainReduction,
}

impl Quantity {
    /// The last address part.
    pub fn name(self) -> &'static str {
        match self {
            Quantity::Peak => "peak",
            Quantity::Rms => "rms",
            Quantity::TruePeak => "true_peak",
            Quantity::LufsM => "lufs_m",
            Quantity::LufsS => "lufs_s",
            Quantity::LufsI => "lufs_i",
            Quantity::Lra => "lra",
            Quantity::Correlation => "correlation",
            Quantity::GainReduction => "gain_reduction",
        }
    }
}

/// What a program meter (the `in` and `out` points, `loudness` slots) streams.
pub const PROGRAM: &[Quantity] = &[
    Quantity::Peak,
    Quantity::Rms,
    Quantity::TruePeak,
    Quantity::LufsM,
    Quantity::LufsS,
    Quantity::LufsI,
    Quantity::Lra,
    Quantity::Correlation,
];

impl Quantity {
    /// Values in one message: left and right, or one.
    pub fn channels(self) -> u8 {
        match self {
            Quantity::Peak | Quantity::Rms | Quantity::TruePeak => 2,
            _ => 1,
        }
    }
}

/// What a slot of `kind` meters (nothing for most).
pub fn slot_quantities(kind: rackd_dsp::SlotKind) -> &'static [Quantity] {
    use rackd_dsp::SlotKind;
    match kind {
        SlotKind::Meter => &[Quantity::Peak, Quantity::Rms],
        SlotKind::Loudness => PROGRAM,
        SlotKind::Compressor | SlotKind::Limiter => &[Quantity::GainReduction],
        _ => &[],
    }
}

/// The meter streams of a chain: `in`, each slot that meters, `out`.
pub fn described(slots: &[crate::config::SlotConfig]) -> Vec<rackd_protocol::api::DescribedMeter> {
    let points = std::iter::once(("in", PROGRAM))
        .chain(
            slots
                .iter()
                .map(|s| (s.id.as_str(), slot_quantities(s.kind))),
        )
        .chain(std::iter::once(("out", PROGRAM)));
    points
        .flat_map(|(point, quantities)| {
            quantities
                .iter()
                .map(move |q| rackd_protocol::api::DescribedMeter {
                    address: rackd_protocol::api::address::meter(point, q.name()),
                    point: point.to_string(),
                    quantity: q.name().to_string(),
                    channels: q.channels(),
                })
        })
        .collect()
}

/// One place in the signal path that publishes readings.
#[derive(Debug, Clone)]
pub struct MeterPoint {
    /// Address part: `in`, `out` or a slot id.
    pub name: String,
    /// Lock-free readings written by the audio thread.
    pub meters: Arc<Meters>,
    /// What it streams.
    pub quantities: &'static [Quantity],
}

/// The meter points the audio thread publishes: `in` (before the chain),
/// `out` (after the safety ceiling) and every slot that measures something.
#[derive(Debug, Clone)]
pub struct MeterPoints {
    /// Points in signal order.
    pub points: Vec<MeterPoint>,
}
