//! V-pots: how far a turn moves a parameter (with acceleration), and how its
//! LED ring shows the value for each kind of parameter.

use crate::param::{ParamKind, ParamSpec, Unit, Value};

/// Fader travel (0..1) one tick moves at a slow turn: 200 ticks end to end.
const TICK: f64 = 1.0 / 200.0;
/// Ticks closer than this are a fast turn.
const FAST_MS: u64 = 25;
/// Ticks closer than this (but not fast) are a brisk turn.
const BRISK_MS: u64 = 60;
/// Most travel one message can move.
const MAX_STEP: f64 = 0.25;

/// Acceleration of one V-pot: the surface's own (more ticks in a message
/// when turned fast) times rackd's (messages close together in time).
#[derive(Debug, Clone, Default)]
pub struct Accel {
    last: Option<(u64, i8)>,
}

impl Accel {
    /// Fader travel (signed, 0..1 scale) for `ticks` arriving at `now_ms`.
    pub fn travel(&mut self, ticks: i8, now_ms: u64) -> f64 {
        if ticks == 0 {
            return 0.0;
        }
        let sign = ticks.signum();
        let speed = match self.last {
            Some((t, s)) if s == sign && now_ms.saturating_sub(t) < FAST_MS => 4.0,
            Some((t, s)) if s == sign && now_ms.saturating_sub(t) < BRISK_MS => 2.0,
            _ => 1.0,
        };
        self.last = Some((now_ms, sign));
        let n = f64::from(ticks.unsigned_abs());
        // Several ticks in one message already mean a fast turn: grow faster than linearly.
        let travel = TICK * n * n.sqrt() * speed;
        f64::from(sign) * travel.min(MAX_STEP)
    }
}

/// How a V-pot's ring of 11 LEDs shows a value (the MCU's ring modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingMode {
    /// One LED: frequencies, choices, steps.
    Dot = 0,
    /// From the centre to the value: gains that boost and cut.
    BoostCut = 1,
    /// From the left to the value: levels, times, amounts.
    Wrap = 2,
    /// Out from the centre both ways: widths.
    Spread = 3,
}

/// The ring mode for a parameter's kind: boost/cut for gains around 0 dB
/// (and balances around the centre), dot for frequencies and choices,
/// spread for widths, wrap for everything else.
pub fn ring_mode(spec: &ParamSpec) -> RingMode {
    match (&spec.kind, spec.unit) {
        (ParamKind::Enum { .. } | ParamKind::Stepped { .. }, _) => RingMode::Dot,
        (ParamKind::Switch, _) => RingMode::Wrap,
        (_, Unit::Hz) => RingMode::Dot,
        _ if spec.id.contains("width") => RingMode::Spread,
        (ParamKind::Continuous { min, max, .. }, Unit::Db | Unit::Percent)
            if *min < 0.0 && *max > 0.0 =>
        {
            RingMode::BoostCut
        }
        _ => RingMode::Wrap,
    }
}

/// The ring position (1..11; spread 1..6) for `value`.
pub fn ring_position(mode: RingMode, spec: &ParamSpec, value: &Value) -> u8 {
    let norm = spec.to_norm(value);
    match (mode, &spec.kind) {
        (RingMode::Spread, _) => 1 + (norm * 5.0).round() as u8,
        (RingMode::BoostCut, ParamKind::Continuous { min, max, .. }) => {
            let x = value.as_f64().unwrap_or(0.0);
            let side = if x < 0.0 { x / min } else { x / max };
            let offset = (side.clamp(0.0, 1.0) * 5.0).round() as i8;
            (6 + if x < 0.0 { -offset } else { offset }) as u8
        }
        _ => 1 + (norm * 10.0).round() as u8,
    }
}

/// The ring CC's value: `0 c m m p p p p` (centre LED, mode, position).
pub fn ring_byte(mode: RingMode, position: u8, centre: bool) -> u8 {
    (u8::from(centre) << 6) | ((mode as u8) << 4) | position.min(11)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_follow_the_parameter_kind() {
        let gain = ParamSpec::linear("gain", "Gain", Unit::Db, -24.0, 24.0, 0.0);
        let freq = ParamSpec::log("b1_freq", "F", Unit::Hz, 10.0, 40_000.0, 1000.0);
        let width = ParamSpec::linear("width", "Width", Unit::Percent, 0.0, 200.0, 100.0);
        let thr = ParamSpec::linear("threshold", "T", Unit::Db, -60.0, 0.0, -18.0);
        let choice = ParamSpec::choice("type", "T", &["bell", "shelf"], "bell");
        assert_eq!(ring_mode(&gain), RingMode::BoostCut);
        assert_eq!(ring_mode(&freq), RingMode::Dot);
        assert_eq!(ring_mode(&width), RingMode::Spread);
        assert_eq!(ring_mode(&thr), RingMode::Wrap);
        assert_eq!(ring_mode(&choice), RingMode::Dot);
    }

    #[test]
    fn positions_and_bytes() {
        let gain = ParamSpec::linear("gain", "Gain", Unit::Db, -24.0, 24.0, 0.0);
        let p = |x: f64| ring_position(RingMode::BoostCut, &gain, &Value::Float(x));
        assert_eq!(p(0.0), 6);
        assert_eq!(p(24.0), 11);
        assert_eq!(p(-24.0), 1);
        assert_eq!(p(-12.0), 3); // 6 - round(2.5), halves away from zero
        let level = ParamSpec::linear("level", "L", Unit::Db, -60.0, 12.0, 0.0);
        // Boost/cut around 0 dB, whatever the range's ends.
        assert_eq!(
            ring_position(RingMode::BoostCut, &level, &Value::Float(0.0)),
            6
        );
        assert_eq!(
            ring_position(RingMode::BoostCut, &level, &Value::Float(12.0)),
            11
        );
        let width = ParamSpec::linear("width", "W", Unit::Percent, 0.0, 200.0, 100.0);
        assert_eq!(
            ring_position(RingMode::Spread, &width, &Value::Float(200.0)),
            6
        );
        assert_eq!(
            ring_position(RingMode::Spread, &width, &Value::Float(0.0)),
            1
        );
        // Boost/cut at the centre: 0 0 01 0110 = 0x16; wrap at 11 with the centre LED: 0x6B.
        assert_eq!(ring_byte(RingMode::BoostCut, 6, false), 0x16);
        assert_eq!(ring_byte(RingMode::Wrap, 11, true), 0x6B);
        assert_eq!(ring_byte(RingMode::Dot, 0, false), 0x00);
    }

    #[test]
    fn acceleration_grows_with_speed() {
        let mut a = Accel::default();
        let slow = a.travel(1, 0);
        assert!((slow - TICK).abs() < 1e-12);
        // Same direction 10 ms later: four times as far.
        assert!((a.travel(1, 10) - 4.0 * TICK).abs() < 1e-12);
        // 40 ms later: twice.
        assert!((a.travel(1, 50) - 2.0 * TICK).abs() < 1e-12);
        // A reversal starts slow again.
        assert!((a.travel(-1, 55) + TICK).abs() < 1e-12);
        // Four ticks in one message: 4 * 2 = 8 ticks' travel.
        let mut b = Accel::default();
        assert!((b.travel(4, 1000) - 8.0 * TICK).abs() < 1e-12);
        // Capped.
        assert!(b.travel(63, 1001) <= MAX_STEP);
        assert_eq!(b.travel(0, 1002), 0.0);
    }
}
