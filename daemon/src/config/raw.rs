//! The config's sections as serde reads them: every key optional (defaults
//! and checks come after, in `read.rs`), unknown keys refused, numbers and
//! lists in the forms people and environment variables write them.

use serde::Deserialize;

/// A number given as an integer, a float or (from the environment) text.
#[derive(Debug, Clone, Copy)]
pub(super) struct Num(pub(super) f64);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Num;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Num, E> {
                Ok(Num(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Num, E> {
                v.trim()
                    .parse()
                    .map(Num)
                    .map_err(|_| E::invalid_type(serde::de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// A list of strings, or one string of comma-separated items.
#[derive(Debug, Clone, Default)]
pub(super) struct Strings(pub(super) Vec<String>);

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            One(String),
            Many(Vec<String>),
        }
        Ok(Strings(
            match Either::deserialize(d)
                .map_err(|_| serde::de::Error::custom("expected a list of strings"))?
            {
                Either::One(s) if s.is_empty() => Vec::new(),
                Either::One(s) => s.split(',').map(|p| p.trim().to_string()).collect(),
                Either::Many(v) => v,
            },
        ))
    }
}

/// The top-level tables a config may have.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Only its field names are used: they are the known tables.
pub(super) struct RawRoot {
    pub(super) daemon: (),
    pub(super) audio: (),
    pub(super) osc: (),
    pub(super) http: (),
    pub(super) files: (),
    pub(super) surface: (),
    pub(super) chain: (),
    pub(super) device: (),
    pub(super) midi_surface: (),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDaemon {
    pub(super) state_dir: Option<String>,
    pub(super) log_level: Option<String>,
    pub(super) autosave_ms: Option<Num>,
    pub(super) profile_dirs: Option<Strings>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAudio {
    pub(super) backend: Option<String>,
    pub(super) client_name: Option<String>,
    pub(super) connect_inputs: Option<Strings>,
    pub(super) connect_outputs: Option<Strings>,
    pub(super) sample_rate: Option<Num>,
    pub(super) period: Option<Num>,
    pub(super) test_tone_db: Option<Num>,
    pub(super) ceiling_dbfs: Option<Num>,
    pub(super) ceiling_mode: Option<String>,
    pub(super) host: Option<String>,
    pub(super) device: Option<String>,
    pub(super) buffer_size: Option<Num>,
    pub(super) channels: Option<Num>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOsc {
    pub(super) listen: Option<String>,
    pub(super) allow: Option<Strings>,
    pub(super) idle_timeout_s: Option<Num>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFiles {
    pub(super) input_dirs: Option<Strings>,
    pub(super) output_dir: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSurface {
    pub(super) address: Option<String>,
    pub(super) patterns: Option<Strings>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSlot {
    pub(super) id: Option<String>,
    pub(super) kind: Option<String>,
    pub(super) send: Option<Strings>,
    #[serde(rename = "return")]
    pub(super) returns: Option<Strings>,
    pub(super) send_channels: Option<Vec<Num>>,
    pub(super) return_channels: Option<Vec<Num>>,
    pub(super) active: Option<bool>,
}

/// `safe = true` (the whole device) or a list of its parameters.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawSafe {
    Device(bool),
    Params(Vec<String>),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDevice {
    pub(super) id: Option<String>,
    pub(super) profile: Option<String>,
    pub(super) serial: Option<RawSerial>,
    pub(super) osc: Option<RawOscLink>,
    pub(super) midi: Option<RawMidi>,
    pub(super) safe: Option<RawSafe>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSerial {
    pub(super) path: Option<String>,
    pub(super) baud: Option<Num>,
    pub(super) address: Option<Num>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOscLink {
    pub(super) address: Option<String>,
    pub(super) protocol: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMidi {
    pub(super) backend: Option<String>,
    pub(super) port: Option<String>,
    pub(super) input: Option<String>,
    pub(super) channel: Option<Num>,
    pub(super) device_id: Option<Num>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMidiSurface {
    pub(super) id: Option<String>,
    pub(super) protocol: Option<String>,
    pub(super) model: Option<String>,
    pub(super) midi: Option<RawSurfaceMidi>,
    pub(super) extenders: Option<Vec<RawSurfaceMidi>>,
    pub(super) banks: Option<RawBanks>,
    pub(super) master: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSurfaceMidi {
    pub(super) backend: Option<String>,
    pub(super) port: Option<String>,
    pub(super) input: Option<String>,
}

/// `banks = "auto"` or a list of banks of addresses.
pub(super) enum RawBanks {
    Word(String),
    Lists(Vec<Vec<String>>),
}

impl<'de> Deserialize<'de> for RawBanks {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Word(String),
            Lists(Vec<Vec<String>>),
        }
        Ok(
            match Either::deserialize(d).map_err(|_| {
                serde::de::Error::custom(
                    "expected \"auto\" or a list of banks, each a list of parameter addresses",
                )
            })? {
                Either::Word(w) => RawBanks::Word(w),
                Either::Lists(l) => RawBanks::Lists(l),
            },
        )
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    pub(super) enabled: Option<bool>,
    pub(super) listen: Option<String>,
    pub(super) token: Option<String>,
    pub(super) token_file: Option<String>,
    pub(super) read_only_token: Option<String>,
    pub(super) name: Option<String>,
    pub(super) mdns: Option<bool>,
    pub(super) mdns_interfaces: Option<Strings>,
}
