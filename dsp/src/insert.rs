//! The hardware insert: a chain slot whose processing happens outside the
//! computer. It writes the send ports (to interface outputs wired to an
//! analog device) and reads the return ports (the device's output, back
//! through the converters), with send/return gain, polarity and a dry/wet mix
//! for parallel processing.
//!
//! Delay compensation: the dry signal is delayed by the measured round trip,
//! so dry and wet sum without comb filtering and the slot reports that round
//! trip as its latency (everything after it, and the print pass, line up).
//!
//! Measurement: on request the slot sends the test burst of [`crate::latency`]
//! instead of the programme and records the returns for
//! [`CAPTURE_LEN`](crate::latency::CAPTURE_LEN) samples into a lock-free ring;
//! the search runs off the audio thread. While it measures, the slot outputs
//! the dry signal only, so the burst never reaches the monitors.

use crate::delay::StereoDelay;
use crate::latency::{BURST_LEN, CAPTURE_LEN, MAX_LATENCY};
use crate::{Meters, Processor, Smoother, db_to_gain, sanitize};
use rackd_protocol::param::{ParamSpec, Unit};
use std::sync::Arc;

/// This period's port buffers of one hardware insert.
pub struct InsertPorts<'a> {
    /// What comes back from the device, per channel.
    pub returns: [&'a [f32]; 2],
    /// What goes out to the device, per channel.
    pub sends: [&'a mut [f32]; 2],
}

/// Gives hardware inserts their port buffers for the current period; the
/// backend implements it (JACK ports), everything else has none.
pub trait InsertIo {
    /// The buffers of insert number `index` (config order among inserts), or
    /// `None` when the backend has no ports for it (it then returns silence).
    fn ports(&mut self, index: usize) -> Option<InsertPorts<'_>>;
}

/// The backend has no insert ports (null, cpal, offline render).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoInserts;

impl InsertIo for NoInserts {
    fn ports(&mut self, _index: usize) -> Option<InsertPorts<'_>> {
        None
    }
}

/// Measurement state, as the audio thread sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    Idle,
    /// Samples of the capture done so far.
    Running(usize),
}

/// A hardware insert slot.
pub struct HardwareInsert {
    /// Which insert this is, for [`InsertIo::ports`].
    index: usize,
    send_gain: Smoother,
    return_gain: Smoother,
    /// +1 or −1 on the return, glided.
    sign: Smoother,
    /// Wet share 0..1.
    mix: Smoother,
    /// Round trip in samples: the dry delay and the reported latency.
    latency: usize,
    /// Dry delay, so dry and wet line up.
    dry: StereoDelay,
    burst: Vec<f32>,
    measure: Measure,
    /// Interleaved L/R returns during a measurement; `None` offline.
    capture: Option<rtrb::Producer<f32>>,
    /// Where NaN/Inf on the input or the return is reported.
    meters: Arc<Meters>,
}

impl HardwareInsert {
    /// Index of `send_gain` in [`HardwareInsert::params`].
    pub const SEND_GAIN: usize = 0;
    /// Index of `return_gain`.
    pub const RETURN_GAIN: usize = 1;
    /// Index of `invert` (return polarity).
    pub const INVERT: usize = 2;
    /// Index of `mix` (wet share in %).
    pub const MIX: usize = 3;
    /// Index of `latency` (measured round trip in samples).
    pub const LATENCY: usize = 4;

    /// Burst level: −20 dBFS, loud enough to be found, gentle on the gear.
    pub const BURST_LEVEL: f32 = 0.1;

    /// An insert at unity gain, fully wet, no compensation yet. `capture`
    /// receives measurement recordings (`2 * CAPTURE_LEN` samples each).
    pub fn new(
        sample_rate: f32,
        index: usize,
        capture: Option<rtrb::Producer<f32>>,
        meters: Arc<Meters>,
    ) -> Self {
        HardwareInsert {
            index,
            send_gain: Smoother::new(1.0, sample_rate, 0.02),
            return_gain: Smoother::new(1.0, sample_rate, 0.02),
            sign: Smoother::new(1.0, sample_rate, 0.01),
            mix: Smoother::new(1.0, sample_rate, 0.02),
            latency: 0,
            dry: StereoDelay::new(MAX_LATENCY),
            burst: crate::latency::burst(Self::BURST_LEVEL),
            measure: Measure::Idle,
            capture,
            meters,
        }
    }

    /// The insert's parameters.
    pub fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::linear("send_gain", "Send gain", Unit::Db, -24.0, 24.0, 0.0).with_step(0.01),
            ParamSpec::linear("return_gain", "Return gain", Unit::Db, -24.0, 24.0, 0.0)
                .with_step(0.01),
            ParamSpec::switch("invert", "Return polarity invert", false),
            ParamSpec::linear("mix", "Dry/wet", Unit::Percent, 0.0, 100.0, 100.0).with_step(0.1),
            ParamSpec::stepped("latency", "Round trip (samples)", 0, MAX_LATENCY as i64, 0),
        ]
    }

    /// Whether a measurement is under way.
    pub fn measuring(&self) -> bool {
        self.measure != Measure::Idle
    }
}

impl Processor for HardwareInsert {
    fn set_param(&mut self, index: usize, value: f32) {
        match index {
            Self::SEND_GAIN => self.send_gain.set_target(db_to_gain(value)),
            Self::RETURN_GAIN => self.return_gain.set_target(db_to_gain(value)),
            Self::INVERT => self.sign.set_target(if value >= 0.5 { -1.0 } else { 1.0 }),
            Self::MIX => self.mix.set_target((value / 100.0).clamp(0.0, 1.0)),
            Self::LATENCY => self.latency = (value.max(0.0) as usize).min(MAX_LATENCY),
            _ => {}
        }
    }

    /// Without ports (offline): the return is silence.
    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        self.process_io(left, right, &mut crate::insert::NoInserts, 0);
    }

    fn process_io(
        &mut self,
        left: &mut [f32],
        right: &mut [f32],
        io: &mut dyn InsertIo,
        offset: usize,
    ) {
        let n = left.len().min(right.len());
        let mut ports = io.ports(self.index);
        let mut bad = false;
        for i in 0..n {
            let x = [sanitize(left[i]), sanitize(right[i])];
            bad |= x[0] != left[i] || x[1] != right[i];
            let dry = self.dry.tick(x, self.latency);

            let send_gain = self.send_gain.next();
            let return_gain = self.return_gain.next() * self.sign.next();
            let mix = self.mix.next();
            let t = offset + i;
            let mut back = [0.0; 2];
            let send = match self.measure {
                Measure::Running(k) => {
                    let b = self.burst.get(k).copied().unwrap_or(0.0);
                    [b, b]
                }
                Measure::Idle => [x[0] * send_gain, x[1] * send_gain],
            };
            if let Some(p) = ports.as_mut() {
                for ch in 0..2 {
                    if let Some(s) = p.sends[ch].get_mut(t) {
                        *s = send[ch];
                    }
                    let r = p.returns[ch].get(t).copied().unwrap_or(0.0);
                    back[ch] = sanitize(r);
                    bad |= back[ch] != r;
                }
            }
            match self.measure {
                Measure::Running(k) => {
                    // Raw returns: the search reports gain and polarity itself.
                    if let Some(c) = self.capture.as_mut() {
                        let _ = c.push(back[0]);
                        let _ = c.push(back[1]);
                    }
                    self.measure = if k + 1 >= CAPTURE_LEN {
                        Measure::Idle
                    } else {
                        Measure::Running(k + 1)
                    };
                    // The burst never reaches the rest of the chain.
                    left[i] = dry[0];
                    right[i] = dry[1];
                }
                Measure::Idle => {
                    let wet = [back[0] * return_gain, back[1] * return_gain];
                    left[i] = dry[0] + (wet[0] - dry[0]) * mix;
                    right[i] = dry[1] + (wet[1] - dry[1]) * mix;
                }
            }
        }
        if bad {
            self.meters.report_nonfinite();
        }
    }

    fn latency(&self) -> usize {
        self.latency
    }

    fn max_latency(&self) -> usize {
        MAX_LATENCY
    }

    /// Sends must keep flowing and the dry line stay full while bypassed.
    fn always_run(&self) -> bool {
        true
    }

    fn start_measure(&mut self) {
        // A full capture ring means the last result was never collected: drop
        // this request rather than block (the caller times out and says so).
        let room = self.capture.as_ref().map_or(0, |c| c.slots());
        if room >= 2 * CAPTURE_LEN && BURST_LEN <= CAPTURE_LEN {
            self.measure = Measure::Running(0);
        }
    }

    fn reset(&mut self) {
        self.dry.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loop cable with a delay: what was sent `delay` samples ago comes back.
    struct Loop {
        delay: usize,
        gain: f32,
        line: [Vec<f32>; 2],
        sends: [Vec<f32>; 2],
        returns: [Vec<f32>; 2],
    }

    impl Loop {
        fn new(delay: usize, gain: f32, period: usize) -> Self {
            Loop {
                delay,
                gain,
                line: [Vec::new(), Vec::new()],
                sends: [vec![0.0; period], vec![0.0; period]],
                returns: [vec![0.0; period], vec![0.0; period]],
            }
        }

        /// Before a period: what comes back now.
        fn fill_returns(&mut self) {
            let n = self.returns[0].len();
            for ch in 0..2 {
                for i in 0..n {
                    let t = self.line[ch].len() + i;
                    self.returns[ch][i] = if t >= self.delay {
                        // Samples sent before this period are in `line`.
                        self.line[ch].get(t - self.delay).copied().unwrap_or(0.0) * self.gain
                    } else {
                        0.0
                    };
                }
            }
        }

        /// After a period: remember what was sent.
        fn take_sends(&mut self) {
            for ch in 0..2 {
                let s = self.sends[ch].clone();
                self.line[ch].extend_from_slice(&s);
            }
        }
    }

    impl InsertIo for Loop {
        fn ports(&mut self, _index: usize) -> Option<InsertPorts<'_>> {
            let [sl, sr] = &mut self.sends;
            Some(InsertPorts {
                returns: [&self.returns[0], &self.returns[1]],
                sends: [sl, sr],
            })
        }
    }

    /// Runs `input` through an insert on a loop with `delay` (delay >= period,
    /// as through real converters), period by period.
    fn run(insert: &mut HardwareInsert, lp: &mut Loop, input: &[f32]) -> Vec<f32> {
        let period = lp.sends[0].len();
        let mut out = Vec::new();
        for block in input.chunks(period) {
            lp.fill_returns();
            let mut l = block.to_vec();
            let mut r = block.to_vec();
            insert.process_io(&mut l, &mut r, lp, 0);
            lp.take_sends();
            out.extend_from_slice(&l);
        }
        out
    }

    fn noise(n: usize) -> Vec<f32> {
        let mut s = 0x1234_5678u32;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s as f32 / u32::MAX as f32 - 0.5) * 0.5
            })
            .collect()
    }

    #[test]
    fn compensated_half_mix_of_an_identical_return_is_the_input() {
        let delay = 300;
        let mut lp = Loop::new(delay, 1.0, 64);
        let mut ins = HardwareInsert::new(48_000.0, 0, None, Meters::new());
        ins.set_param(HardwareInsert::LATENCY, delay as f32);
        ins.set_param(HardwareInsert::MIX, 50.0);
        ins.mix.snap(0.5);
        let x = noise(48_00);
        let y = run(&mut ins, &mut lp, &x);
        assert_eq!(ins.latency(), delay);
        for i in delay..x.len() {
            assert!((y[i] - x[i - delay]).abs() < 1e-6, "at {i}");
        }
    }

    #[test]
    fn uncompensated_half_mix_combs() {
        let delay = 300;
        let mut lp = Loop::new(delay, 1.0, 64);
        let mut ins = HardwareInsert::new(48_000.0, 0, None, Meters::new());
        ins.set_param(HardwareInsert::MIX, 50.0);
        ins.mix.snap(0.5);
        let x = noise(4800);
        let y = run(&mut ins, &mut lp, &x);
        let err: f32 = (delay..x.len()).map(|i| (y[i] - x[i]).abs()).sum();
        assert!(err > 10.0, "a wrong latency must show: {err}");
    }

    #[test]
    fn measurement_records_the_burst_and_keeps_it_off_the_output() {
        let delay = 517;
        let mut lp = Loop::new(delay, -0.5, 128);
        let (p, mut c) = rtrb::RingBuffer::new(2 * CAPTURE_LEN);
        let mut ins = HardwareInsert::new(48_000.0, 0, Some(p), Meters::new());
        ins.start_measure();
        let x = vec![0.0; CAPTURE_LEN + 1024];
        let y = run(&mut ins, &mut lp, &x);
        assert!(!ins.measuring());
        assert!(y.iter().all(|&v| v == 0.0), "burst leaked to the output");
        assert_eq!(c.slots(), 2 * CAPTURE_LEN);
        let mut left = Vec::new();
        while let Ok(v) = c.pop() {
            left.push(v);
            let _ = c.pop();
        }
        let found =
            crate::latency::find_delay(&crate::latency::burst(HardwareInsert::BURST_LEVEL), &left)
                .unwrap();
        assert_eq!(found.delay, delay);
        assert!(found.inverted);
    }
}
