//! The parameter model: specs in real units, values, tapers and normalization.
//!
//! Everything the rack holds is a value in real units (dB, Hz, ms, ratio,
//! enum label, detent index). Normalization (0..1) only exists at the edges —
//! faders on a surface — and is defined here, once.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The real unit a value is held in; shown to engineers and in `/rackd/describe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Decibels (gain, level, threshold).
    Db,
    /// Decibels relative to full scale (ceilings).
    Dbfs,
    /// Hertz (filter frequencies).
    Hz,
    /// Milliseconds (attack, release, delay).
    Ms,
    /// A ratio such as 4:1, stored as 4.0.
    Ratio,
    /// Percent (mix, width).
    Percent,
    /// Plain number without a unit (Q, detent index).
    None,
}

impl Unit {
    /// Short suffix for human output (`-3.5 dB`).
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Db => "dB",
            Unit::Dbfs => "dBFS",
            Unit::Hz => "Hz",
            Unit::Ms => "ms",
            Unit::Ratio => ":1",
            Unit::Percent => "%",
            Unit::None => "",
        }
    }
}

/// How a continuous range maps onto 0..1 for faders.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Taper {
    /// Equal steps in real units per fader travel.
    Linear,
    /// Equal ratios per fader travel (frequencies, times); needs min > 0.
    Log,
}

/// What kind of values a parameter takes and where they may lie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ParamKind {
    /// A continuous value in `min..=max`, optionally quantized to `step`.
    Continuous {
        min: f64,
        max: f64,
        taper: Taper,
        /// Resolution the device or processor actually has (0 = none).
        #[serde(default)]
        step: f64,
    },
    /// An integer in `min..=max` (detent index, stepped knob position).
    Stepped { min: i64, max: i64 },
    /// Off (0) or on (1).
    Switch,
    /// One of a list of labels; stored as the label.
    Enum { labels: Vec<String> },
}

/// Out-of-range input: clamp it to the range, or refuse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OutOfRange {
    /// Clamp to the nearest end and report the value taken.
    #[default]
    Clamp,
    /// Refuse the change with an error.
    Reject,
}

/// A parameter's full description: the contract between hub, surfaces and engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamSpec {
    /// Last address component (`gain`, `bypass`).
    pub id: String,
    /// Human name for surfaces and sheets.
    pub name: String,
    /// Real unit of the value.
    pub unit: Unit,
    /// Range, steps and taper.
    #[serde(flatten)]
    pub kind: ParamKind,
    /// Value on a fresh rack.
    pub default: Value,
    /// What to do with out-of-range input.
    #[serde(default)]
    pub out_of_range: OutOfRange,
}

/// A value in real units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// Stepped index or switch state.
    Int(i64),
    /// Continuous value.
    Float(f64),
    /// Enum label.
    Text(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Text(s) => write!(f, "{s}"),
        }
    }
}

impl Value {
    /// The value as a number, for the engine (enum labels have no number).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(x) => Some(*x),
            Value::Text(_) => None,
        }
    }
}

/// Why a value was not taken; the message goes back to the sender as is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    /// The value is not a number where a number is needed, or vice versa.
    #[error("{param}: expected {expected}, got {got}")]
    WrongType {
        param: String,
        expected: &'static str,
        got: String,
    },
    /// The value is outside the range and the spec says reject.
    #[error("{param}: {got} is outside {min}..{max}")]
    OutOfRange {
        param: String,
        got: String,
        min: String,
        max: String,
    },
    /// NaN or infinity: never a setting.
    #[error("{param}: value is not a finite number")]
    NotFinite { param: String },
    /// An enum label or index that the parameter does not have.
    #[error("{param}: unknown choice {got:?}; choices are {choices}")]
    UnknownChoice {
        param: String,
        got: String,
        choices: String,
    },
    /// A normalized value outside 0..1.
    #[error("{param}: normalized value {got} is outside 0..1")]
    NormOutOfRange { param: String, got: f64 },
}

impl ParamSpec {
    /// A continuous parameter with linear taper.
    pub fn linear(id: &str, name: &str, unit: Unit, min: f64, max: f64, default: f64) -> Self {
        ParamSpec {
            id: id.into(),
            name: name.into(),
            unit,
            kind: ParamKind::Continuous {
                min,
                max,
                taper: Taper::Linear,
                step: 0.0,
            },
            default: Value::Float(default),
            out_of_range: OutOfRange::Clamp,
        }
    }

    /// A continuous parameter with log taper (frequencies, times).
    pub fn log(id: &str, name: &str, unit: Unit, min: f64, max: f64, default: f64) -> Self {
        let mut spec = Self::linear(id, name, unit, min, max, default);
        if let ParamKind::Continuous { taper, .. } = &mut spec.kind {
            *taper = Taper::Log;
        }
        spec
    }

    /// An on/off switch.
    pub fn switch(id: &str, name: &str, default: bool) -> Self {
        ParamSpec {
            id: id.into(),
            name: name.into(),
            unit: Unit::None,
            kind: ParamKind::Switch,
            default: Value::Int(default as i64),
            out_of_range: OutOfRange::Clamp,
        }
    }

    /// A stepped control (detent index).
    pub fn stepped(id: &str, name: &str, min: i64, max: i64, default: i64) -> Self {
        ParamSpec {
            id: id.into(),
            name: name.into(),
            unit: Unit::None,
            kind: ParamKind::Stepped { min, max },
            default: Value::Int(default),
            out_of_range: OutOfRange::Clamp,
        }
    }

    /// A choice among labels.
    pub fn choice(id: &str, name: &str, labels: &[&str], default: &str) -> Self {
        ParamSpec {
            id: id.into(),
            name: name.into(),
            unit: Unit::None,
            kind: ParamKind::Enum {
                labels: labels.iter().map(|s| s.to_string()).collect(),
            },
            default: Value::Text(default.into()),
            out_of_range: OutOfRange::Clamp,
        }
    }

    /// Builder: refuse out-of-range values instead of clamping.
    pub fn rejecting(mut self) -> Self {
        self.out_of_range = OutOfRange::Reject;
        self
    }

    /// Builder: quantize a continuous value to `step`.
    pub fn with_step(mut self, new_step: f64) -> Self {
        if let ParamKind::Continuous { step, .. } = &mut self.kind {
            *step = new_step;
        }
        self
    }

    /// Takes an incoming value and returns what the parameter will hold:
    /// clamped or quantized, or an error the sender can read.
    pub fn accept(&self, input: &Value) -> Result<Value, ParamError> {
        let param = || self.id.clone();
        match &self.kind {
            ParamKind::Continuous { min, max, step, .. } => {
                let x = match input {
                    Value::Float(x) => *x,
                    Value::Int(i) => *i as f64,
                    Value::Text(s) => {
                        s.trim().parse::<f64>().map_err(|_| ParamError::WrongType {
                            param: param(),
                            expected: "a number",
                            got: format!("{s:?}"),
                        })?
                    }
                };
                if !x.is_finite() {
                    return Err(ParamError::NotFinite { param: param() });
                }
                let mut x = self.limit(x, *min, *max)?;
                if *step > 0.0 {
                    x = min + ((x - min) / step).round() * step;
                    // Drop binary noise (-3.4999999999996 → -3.5) so stored values read as typed.
                    x = ((x * 1e9).round() / 1e9).clamp(*min, *max);
                }
                Ok(Value::Float(x))
            }
            ParamKind::Stepped { min, max } => {
                let i = self.integer(input)?;
                let i = self.limit(i as f64, *min as f64, *max as f64)? as i64;
                Ok(Value::Int(i))
            }
            ParamKind::Switch => {
                let i = match input {
                    Value::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
                        "on" | "true" | "1" => 1,
                        "off" | "false" | "0" => 0,
                        _ => {
                            return Err(ParamError::WrongType {
                                param: param(),
                                expected: "on/off, 1/0",
                                got: format!("{s:?}"),
                            });
                        }
                    },
                    other => self.integer(other)?,
                };
                Ok(Value::Int((i != 0) as i64))
            }
            ParamKind::Enum { labels } => {
                let choices = || labels.join(", ");
                match input {
                    Value::Text(s) => labels
                        .iter()
                        .find(|l| l.eq_ignore_ascii_case(s.trim()))
                        .map(|l| Value::Text(l.clone()))
                        .ok_or_else(|| ParamError::UnknownChoice {
                            param: param(),
                            got: s.clone(),
                            choices: choices(),
                        }),
                    other => {
                        let i = self.integer(other)?;
                        usize::try_from(i)
                            .ok()
                            .and_then(|i| labels.get(i))
                            .map(|l| Value::Text(l.clone()))
                            .ok_or_else(|| ParamError::UnknownChoice {
                                param: param(),
                                got: i.to_string(),
                                choices: choices(),
                            })
                    }
                }
            }
        }
    }

    /// Rounds a numeric input to an integer, refusing NaN and text.
    fn integer(&self, input: &Value) -> Result<i64, ParamError> {
        match input {
            Value::Int(i) => Ok(*i),
            Value::Float(x) if x.is_finite() => {
                Ok(x.round().clamp(i64::MIN as f64, i64::MAX as f64) as i64)
            }
            Value::Float(_) => Err(ParamError::NotFinite {
                param: self.id.clone(),
            }),
            Value::Text(s) => s.trim().parse::<i64>().map_err(|_| ParamError::WrongType {
                param: self.id.clone(),
                expected: "an integer",
                got: format!("{s:?}"),
            }),
        }
    }

    fn limit(&self, x: f64, min: f64, max: f64) -> Result<f64, ParamError> {
        if (min..=max).contains(&x) {
            return Ok(x);
        }
        match self.out_of_range {
            OutOfRange::Clamp => Ok(x.clamp(min, max)),
            OutOfRange::Reject => Err(ParamError::OutOfRange {
                param: self.id.clone(),
                got: x.to_string(),
                min: min.to_string(),
                max: max.to_string(),
            }),
        }
    }

    /// The value as a fader position 0..1 (taper applied).
    pub fn to_norm(&self, value: &Value) -> f64 {
        let n = match (&self.kind, value) {
            (
                ParamKind::Continuous {
                    min, max, taper, ..
                },
                v,
            ) => {
                let x = v.as_f64().unwrap_or(*min);
                match taper {
                    Taper::Log if *min > 0.0 => (x / min).ln() / (max / min).ln(),
                    _ => (x - min) / (max - min),
                }
            }
            (ParamKind::Stepped { min, max }, v) => {
                let x = v.as_f64().unwrap_or(*min as f64);
                if max == min {
                    0.0
                } else {
                    (x - *min as f64) / (*max - *min) as f64
                }
            }
            (ParamKind::Switch, v) => v.as_f64().unwrap_or(0.0),
            (ParamKind::Enum { labels }, Value::Text(s)) => {
                let i = labels.iter().position(|l| l == s).unwrap_or(0);
                if labels.len() <= 1 {
                    0.0
                } else {
                    i as f64 / (labels.len() - 1) as f64
                }
            }
            (ParamKind::Enum { .. }, _) => 0.0,
        };
        if n.is_finite() {
            n.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// A fader position 0..1 as a value in real units (then passed through `accept`).
    pub fn from_norm(&self, norm: f64) -> Result<Value, ParamError> {
        if !norm.is_finite() || !(0.0..=1.0).contains(&norm) {
            return Err(ParamError::NormOutOfRange {
                param: self.id.clone(),
                got: norm,
            });
        }
        let raw = match &self.kind {
            ParamKind::Continuous {
                min, max, taper, ..
            } => Value::Float(match taper {
                Taper::Log if *min > 0.0 => min * (max / min).powf(norm),
                _ => min + norm * (max - min),
            }),
            ParamKind::Stepped { min, max } => {
                Value::Int(min + (norm * (*max - *min) as f64).round() as i64)
            }
            ParamKind::Switch => Value::Int((norm >= 0.5) as i64),
            ParamKind::Enum { labels } => {
                let i = (norm * (labels.len().saturating_sub(1)) as f64).round() as usize;
                Value::Text(labels.get(i).cloned().unwrap_or_default())
            }
        };
        self.accept(&raw)
    }

    /// The value the engine gets: enum labels become their index.
    pub fn engine_value(&self, value: &Value) -> f32 {
        match (&self.kind, value) {
            (ParamKind::Enum { labels }, Value::Text(s)) => {
                labels.iter().position(|l| l == s).unwrap_or(0) as f32
            }
            (_, v) => v.as_f64().unwrap_or(0.0) as f32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn clamps_and_reports_value_taken() {
        let gain = ParamSpec::linear("gain", "Gain", Unit::Db, -24.0, 24.0, 0.0);
        assert_eq!(gain.accept(&Value::Float(30.0)), Ok(Value::Float(24.0)));
        assert_eq!(gain.accept(&Value::Int(-3)), Ok(Value::Float(-3.0)));
        assert!(gain.accept(&Value::Float(f64::NAN)).is_err());
        assert!(gain.accept(&Value::Text("loud".into())).is_err());
    }

    #[test]
    fn rejecting_spec_refuses_out_of_range() {
        let spec = ParamSpec::linear("x", "X", Unit::Db, 0.0, 1.0, 0.0).rejecting();
        assert!(matches!(
            spec.accept(&Value::Float(2.0)),
            Err(ParamError::OutOfRange { .. })
        ));
    }

    #[test]
    fn quantizes_to_step() {
        let spec = ParamSpec::linear("g", "G", Unit::Db, -10.0, 10.0, 0.0).with_step(0.5);
        assert_eq!(spec.accept(&Value::Float(1.3)), Ok(Value::Float(1.5)));
        let fine = ParamSpec::linear("g", "G", Unit::Db, -24.0, 24.0, 0.0).with_step(0.01);
        assert_eq!(fine.accept(&Value::Float(-3.5)), Ok(Value::Float(-3.5)));
    }

    #[test]
    fn enum_by_label_or_index() {
        let spec = ParamSpec::choice("mode", "Mode", &["stereo", "ms"], "stereo");
        assert_eq!(
            spec.accept(&Value::Text("MS".into())),
            Ok(Value::Text("ms".into()))
        );
        assert_eq!(
            spec.accept(&Value::Int(0)),
            Ok(Value::Text("stereo".into()))
        );
        assert!(spec.accept(&Value::Int(5)).is_err());
        assert_eq!(spec.engine_value(&Value::Text("ms".into())), 1.0);
    }

    #[test]
    fn log_taper_midpoint_is_geometric_mean() {
        let f = ParamSpec::log("freq", "Freq", Unit::Hz, 20.0, 20000.0, 1000.0);
        let mid = f.from_norm(0.5).unwrap().as_f64().unwrap();
        assert!((mid - (20.0f64 * 20000.0).sqrt()).abs() < 1e-6);
        assert!(f.from_norm(1.5).is_err());
    }

    proptest! {
        #[test]
        fn norm_round_trips(n in 0.0f64..=1.0) {
            for spec in [
                ParamSpec::linear("g", "G", Unit::Db, -24.0, 24.0, 0.0),
                ParamSpec::log("f", "F", Unit::Hz, 20.0, 20000.0, 1000.0),
            ] {
                let v = spec.from_norm(n).unwrap();
                prop_assert!((spec.to_norm(&v) - n).abs() < 1e-9);
            }
        }

        #[test]
        fn accept_never_leaves_range(x in proptest::num::f64::ANY) {
            let spec = ParamSpec::linear("g", "G", Unit::Db, -24.0, 24.0, 0.0);
            if let Ok(Value::Float(v)) = spec.accept(&Value::Float(x)) {
                prop_assert!((-24.0..=24.0).contains(&v));
            }
        }
    }
}
