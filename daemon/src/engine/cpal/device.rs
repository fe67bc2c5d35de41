//! Finding the devices: by PCM id or listed name on ALSA, our own clients
//! (no auto-connect) on cpal's JACK host; and the sample format to ask for.

use super::error::jack_open_error;
use super::{CpalBackend, JackDevice};
use crate::config::CpalHost;
use cpal::traits::{DeviceTrait, HostTrait};
use cpal::{HostId, SampleFormat, SupportedBufferSize};

/// The opened input and output device.
pub(super) struct Devices {
    pub(super) input: cpal::Device,
    pub(super) output: cpal::Device,
    /// Server/device period when the host knows it.
    pub(super) period: Option<usize>,
}

impl CpalBackend {
    /// Opens the configured input and output device.
    pub(super) fn open(&self) -> anyhow::Result<Devices> {
        match self.audio.host {
            CpalHost::Jack => {
                // Our own constructors: no auto-connect to system ports (the
                // config's connect_inputs/connect_outputs say what to wire).
                let base = self.jack_base();
                let input = JackDevice::default_input_device(base, false, false)
                    .map_err(|e| jack_open_error("input", &e))?;
                let output = JackDevice::default_output_device(base, false, false)
                    .map_err(|e| jack_open_error("output", &e))?;
                let period = match input.default_input_config()?.buffer_size() {
                    SupportedBufferSize::Range { max, .. } => Some(*max as usize),
                    SupportedBufferSize::Unknown => None,
                };
                Ok(Devices {
                    input: input.into(),
                    output: output.into(),
                    period,
                })
            }
            CpalHost::Alsa => {
                let host = cpal::host_from_id(HostId::Alsa)?;
                let (input, output) = match &self.audio.device {
                    None => (
                        host.default_input_device()
                            .ok_or_else(|| anyhow::anyhow!("no default input device"))?,
                        host.default_output_device()
                            .ok_or_else(|| anyhow::anyhow!("no default output device"))?,
                    ),
                    Some(name) => {
                        let device = find_alsa_device(&host, name)?;
                        (device.clone(), device)
                    }
                };
                Ok(Devices {
                    input,
                    output,
                    period: None,
                })
            }
        }
    }
}

/// An ALSA device by PCM id (`hw:1,0`, `default`, `null`) or by listed name.
fn find_alsa_device(host: &cpal::Host, name: &str) -> anyhow::Result<cpal::Device> {
    if let Some(d) = host.device_by_id(&cpal::DeviceId::new(HostId::Alsa, name)) {
        return Ok(d);
    }
    let mut names = Vec::new();
    for d in host.devices()? {
        let id = d.id().map(|i| i.id().to_string()).unwrap_or_default();
        let desc = d
            .description()
            .map(|x| x.name().to_string())
            .unwrap_or_default();
        if id == name || desc == name {
            return Ok(d);
        }
        names.push(id);
    }
    anyhow::bail!(
        "no ALSA device {name:?}; devices: {}",
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    )
}

/// The best sample format offering `want` channels at `rate`: float, then 32, then 16 bit.
pub(super) fn pick_format(
    configs: impl Iterator<Item = (u16, u32, u32, SampleFormat)>,
    rate: u32,
    want: usize,
    what: &str,
) -> anyhow::Result<SampleFormat> {
    let mut offered = Vec::new();
    let mut fitting = Vec::new();
    for (channels, min, max, format) in configs {
        if usize::from(channels) == want && (min..=max).contains(&rate) {
            fitting.push(format);
        } else if usize::from(channels) == want {
            offered.push(format!("{min}..{max} Hz {format}"));
        }
    }
    [SampleFormat::F32, SampleFormat::I32, SampleFormat::I16]
        .into_iter()
        .find(|f| fitting.contains(f))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no {want}-channel {what} at {rate} Hz in f32, i32 or i16{}",
                if offered.is_empty() {
                    String::new()
                } else {
                    format!(" (offered: {})", offered.join(", "))
                }
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_choice_prefers_float_and_checks_rate_and_channels() {
        let c = |ch, min, max, f| (ch, min, max, f);
        let f = pick_format(
            [
                c(2, 44_100, 48_000, SampleFormat::I16),
                c(2, 44_100, 48_000, SampleFormat::F32),
                c(1, 48_000, 48_000, SampleFormat::I32),
            ]
            .into_iter(),
            48_000,
            2,
            "output",
        )
        .unwrap();
        assert_eq!(f, SampleFormat::F32);
        let err = pick_format(
            [c(2, 44_100, 44_100, SampleFormat::F32)].into_iter(),
            48_000,
            2,
            "input",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("48000 Hz") && err.contains("44100..44100"),
            "{err}"
        );
    }
}
