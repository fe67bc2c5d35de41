//! What runs on the audio thread: drain the parameter queue, run the chain,
//! the monitor section, the safety ceiling and the meters. No allocation,
//! lock, log or syscall.

use rackd_dsp::{Chain, Monitor, Processor, SafetyCeiling};

/// A change for the audio thread; `Copy` so the queue never allocates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RtCommand {
    /// Processor parameter of a slot, in real units.
    Param { slot: u16, index: u16, value: f32 },
    /// Bypass of a slot (crossfaded).
    Bypass { slot: u16, bypass: bool },
    /// Monitor section parameter (`Monitor::params` index), in real units.
    Monitor { index: u16, value: f32 },
}

/// Everything the audio callback owns.
pub struct RtProcess {
    chain: Chain,
    /// Level, mute, dim and mono; between the chain and the ceiling, so the
    /// ceiling holds whatever the monitor level is.
    monitor: Monitor,
    commands: rtrb::Consumer<RtCommand>,
    /// Program meter before the chain (passes audio untouched).
    input_meter: Box<dyn Processor>,
    /// Program meter after the safety ceiling.
    output_meter: Box<dyn Processor>,
    safety: SafetyCeiling,
}

impl RtProcess {
    /// Assembles the audio-thread side (built off the audio thread).
    pub fn new(
        chain: Chain,
        monitor: Monitor,
        commands: rtrb::Consumer<RtCommand>,
        input_meter: Box<dyn Processor>,
        output_meter: Box<dyn Processor>,
        safety: SafetyCeiling,
    ) -> Self {
        RtProcess {
            chain,
            monitor,
            commands,
            input_meter,
            output_meter,
            safety,
        }
    }

    /// Latency of the chain's engaged slots, in samples.
    pub fn latency(&self) -> usize {
        self.chain.latency()
    }

    /// One period: inputs in, outputs out. All four slices have the same length.
    pub fn process(&mut self, in_l: &[f32], in_r: &[f32], out_l: &mut [f32], out_r: &mut [f32]) {
        while let Ok(cmd) = self.commands.pop() {
            match cmd {
                RtCommand::Param { slot, index, value } => {
                    self.chain.set_param(slot as usize, index as usize, value)
                }
                RtCommand::Bypass { slot, bypass } => {
                    self.chain.set_bypass(slot as usize, bypass, false)
                }
                RtCommand::Monitor { index, value } => {
                    self.monitor.set_param(index as usize, value)
                }
            }
        }
        let n = in_l.len().min(in_r.len()).min(out_l.len()).min(out_r.len());
        let (out_l, out_r) = (&mut out_l[..n], &mut out_r[..n]);
        out_l.copy_from_slice(&in_l[..n]);
        out_r.copy_from_slice(&in_r[..n]);
        self.input_meter.process(out_l, out_r);
        self.chain.process(out_l, out_r);
        self.monitor.process(out_l, out_r);
        self.safety.process(out_l, out_r);
        self.output_meter.process(out_l, out_r);
    }
}
