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
    /// `process` for slots that exchange audio with the outside (hardware
    /// inserts): `io` holds this period's port buffers, `offset` is where this
    /// block starts in them.
    fn process_io(
        &mut self,
        left: &mut [f32],
        right: &mut [f32],
        io: &mut dyn crate::insert::InsertIo,
        offset: usize,
    ) {
        let _ = (io, offset);
        self.process(left, right);
    }
    /// The most latency this processor can report (sizes the chain's dry
    /// delay line for click-free, aligned bypass).
    fn max_latency(&self) -> usize {
        self.latency()
    }
    /// Whether the chain runs it even while bypassed: delay lines stay full
    /// and an insert's sends keep flowing, so engaging it is seamless.
    fn always_run(&self) -> bool {
        self.max_latency() > 0
    }
    /// Hardware inserts: start a round-trip measurement (no-op elsewhere).
    fn start_measure(&mut self) {}
}

/// The built-in processor kinds a chain slot can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotKind {
    /// Gain in dB plus polarity.
    Trim,
    /// Peak/RMS meter point; passes audio through untouched.
    Meter,
    /// 8-band parametric EQ.
    Eq,
    /// Feed-forward compressor.
    Compressor,
    /// True-peak lookahead limiter.
    Limiter,
    /// TPDF dither to 16/24 bit.
    Dither,
    /// Polarity, swap, balance, M/S and width.
    Stereo,
    /// Programme meter: true peak, BS.1770 loudness, correlation.
    Loudness,
    /// Hardware insert: send and return ports to analog gear.
    Insert,
}

impl SlotKind {
    /// Parses the kind name used in config files.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Every kind, in config-documentation order.
    pub const ALL: [SlotKind; 9] = [
        SlotKind::Trim,
        SlotKind::Meter,
        SlotKind::Eq,
        SlotKind::Compressor,
        SlotKind::Limiter,
        SlotKind::Dither,
        SlotKind::Stereo,
        SlotKind::Loudness,
        SlotKind::Insert,
    ];

    /// The kind's config name.
    pub const fn name(self) -> &'static str {
        match self {
            SlotKind::Trim => "trim",
            SlotKind::Meter => "meter",
            SlotKind::Eq => "eq",
            SlotKind::Compressor => "compressor",
            SlotKind::Limiter => "limiter",
            SlotKind::Dither => "dither",
            SlotKind::Stereo => "stereo",
            SlotKind::Loudness => "loudness",
            SlotKind::Insert => "insert",
        }
    }

    /// Every kind's config name, for error messages.
    pub const NAMES: &'static [&'static str] = &{
        let mut names = [""; Self::ALL.len()];
        let mut i = 0;
        while i < names.len() {
            names[i] = Self::ALL[i].name();
            i += 1;
        }
        names
    };

    /// The kind's parameters; every slot also gets `bypass` from the chain.
    pub fn params(self) -> Vec<ParamSpec> {
        match self {
            SlotKind::Trim => crate::trim::Trim::params(),
            SlotKind::Meter | SlotKind::Loudness => Vec::new(),
            SlotKind::Eq => crate::eq::Equalizer::params(),
            SlotKind::Compressor => crate::compressor::Compressor::params(),
            SlotKind::Limiter => crate::limiter::Limiter::params(),
            SlotKind::Dither => crate::dither::Dither::params(),
            SlotKind::Stereo => crate::stereo::Stereo::params(),
            SlotKind::Insert => crate::insert::HardwareInsert::params(),
        }
    }

    /// Builds the processor with default parameters (off the audio thread: it
    /// allocates). Meters, gain reduction and NaN reports go to `meters`. An
    /// insert built here is insert 0 and keeps no measurements; the engine
    /// builds its inserts with [`crate::insert::HardwareInsert::new`].
    pub fn build(
        self,
        sample_rate: f32,
        max_block: usize,
        meters: std::sync::Arc<crate::Meters>,
    ) -> Box<dyn Processor> {
        // Every processor here works sample by sample; no block buffers needed.
        let _ = max_block;
        match self {
            SlotKind::Trim => Box::new(crate::trim::Trim::new(sample_rate).reporting_to(meters)),
            SlotKind::Meter => Box::new(crate::meter::MeterProcessor::new(meters, sample_rate)),
            SlotKind::Eq => Box::new(crate::eq::Equalizer::new(sample_rate, meters)),
            SlotKind::Compressor => {
                Box::new(crate::compressor::Compressor::new(sample_rate, meters))
            }
            SlotKind::Limiter => Box::new(crate::limiter::Limiter::new(sample_rate, meters)),
            SlotKind::Dither => Box::new(crate::dither::Dither::new(meters)),
            SlotKind::Stereo => Box::new(crate::stereo::Stereo::new(sample_rate, meters)),
            SlotKind::Loudness => {
                Box::new(crate::program_meter::ProgramMeter::new(meters, sample_rate))
            }
            SlotKind::Insert => Box::new(crate::insert::HardwareInsert::new(
                sample_rate,
                0,
                None,
                meters,
            )),
        }
    }
}
