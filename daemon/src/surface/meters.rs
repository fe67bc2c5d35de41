//! The meter feed: one task reads every meter point at about 25 Hz (taking
//! the held peaks, so they never go stale) and publishes the readings in
//! real units; every front end streams from the same frame, so none takes
//! readings away from another.

use crate::engine::{EngineControl, Quantity};
use rackd_protocol::api::address as addr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Meter stream rate: about 25 Hz.
pub const METER_PERIOD: Duration = Duration::from_millis(40);
/// Floor for meter values in dB (silence).
const METER_FLOOR_DB: f32 = -120.0;

/// One `/meter/<point>/<quantity>` reading.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// Its address.
    pub address: Arc<str>,
    /// One value, or left and right (dBFS, dBTP, LUFS, LU, dB, correlation).
    pub values: Vec<f32>,
}

/// Every meter reading of one tick, in the same order each tick.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeterFrame {
    /// Tick number (0: nothing read yet).
    pub tick: u64,
    /// One per meter address.
    pub readings: Vec<Reading>,
}

/// What a meter quantity is, for people and for OSCQuery's `UNIT`.
pub fn describe(quantity: &str) -> (&'static str, Option<&'static str>) {
    match quantity {
        "peak" => ("sample peak, dBFS (left, right)", Some("gain.db")),
        "rms" => ("RMS, dBFS (left, right)", Some("gain.db")),
        "true_peak" => ("true peak, dBTP (left, right)", Some("gain.db")),
        "lufs_m" => ("momentary loudness, LUFS", None),
        "lufs_s" => ("short-term loudness, LUFS", None),
        "lufs_i" => ("integrated loudness, LUFS", None),
        "lra" => ("loudness range, LU", None),
        "correlation" => ("phase correlation, -1..1", None),
        "gain_reduction" => ("gain reduction, dB", Some("gain.db")),
        _ => ("meter", None),
    }
}

/// Starts the feed; the receiver always holds the latest frame.
pub fn start(engine: &Arc<EngineControl>) -> watch::Receiver<Arc<MeterFrame>> {
    let points = engine.meters().points.clone();
    let addresses: Vec<Arc<str>> = points
        .iter()
        .flat_map(|p| {
            p.quantities
                .iter()
                .map(|q| Arc::from(addr::meter(&p.name, q.name())))
        })
        .collect();
    let first = MeterFrame {
        tick: 0,
        readings: addresses
            .iter()
            .zip(points.iter().flat_map(|p| p.quantities.iter()))
            .map(|(address, q)| Reading {
                address: address.clone(),
                values: vec![METER_FLOOR_DB; values_of(*q)],
            })
            .collect(),
    };
    let (tx, rx) = watch::channel(Arc::new(first));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(METER_PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        for n in 1u64.. {
            tick.tick().await;
            let mut readings = Vec::with_capacity(addresses.len());
            let mut names = addresses.iter();
            for point in &points {
                let r = point.meters.take();
                for q in point.quantities {
                    let pair = |v: [f32; 2]| vec![db(v[0]), db(v[1])];
                    let values = match q {
                        Quantity::Peak => pair(r.peak),
                        Quantity::Rms => pair(r.rms),
                        Quantity::TruePeak => pair(r.true_peak),
                        Quantity::LufsM => vec![finite(r.lufs_m)],
                        Quantity::LufsS => vec![finite(r.lufs_s)],
                        Quantity::LufsI => vec![finite(r.lufs_i)],
                        Quantity::Lra => vec![if r.lra.is_finite() { r.lra } else { 0.0 }],
                        Quantity::Correlation => vec![r.correlation],
                        Quantity::GainReduction => vec![r.gain_reduction],
                    };
                    if let Some(address) = names.next() {
                        readings.push(Reading {
                            address: address.clone(),
                            values,
                        });
                    }
                }
            }
            if tx.send(Arc::new(MeterFrame { tick: n, readings })).is_err() {
                return;
            }
        }
    });
    rx
}

/// How many values a quantity streams.
fn values_of(q: Quantity) -> usize {
    match q {
        Quantity::Peak | Quantity::Rms | Quantity::TruePeak => 2,
        _ => 1,
    }
}

/// A linear level in dB, floored for silence.
fn db(x: f32) -> f32 {
    if x > 0.0 {
        rackd_dsp::gain_to_db(x).max(METER_FLOOR_DB)
    } else {
        METER_FLOOR_DB
    }
}

/// Loudness is −inf in silence; surfaces get the floor instead.
fn finite(x: f32) -> f32 {
    if x.is_finite() {
        x.max(METER_FLOOR_DB)
    } else {
        METER_FLOOR_DB
    }
}
