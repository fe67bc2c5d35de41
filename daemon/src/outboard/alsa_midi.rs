//! MIDI devices on ALSA sequencer ports (USB MIDI interfaces) through midir:
//! the same interface to the scheduler as the JACK MIDI link. midir's input
//! thread hands each message to a channel the port task reads; a port that
//! disappears (interface unplugged) closes the link, and the scheduler's
//! backoff reopens it when it is back.

use super::scheduler::{Incoming, Link};
use midir::{Ignore, MidiInput, MidiInputConnection, MidiOutput, MidiOutputConnection};
use rackd_protocol::device::DeviceMessage;
use std::io;
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// DIN MIDI: 31 250 baud, 10 bits a byte (a USB interface's DIN output too).
const BYTE_TIME: Duration = Duration::from_micros(320);
/// Messages from the input thread not yet read by the port task.
const QUEUE: usize = 1024;
/// How often an idle link checks that its port is still there.
const WATCH: Duration = Duration::from_secs(1);
const SEQUENCER: &str = "/dev/snd/seq";
const CLIENT: &str = "rackd";

/// Why an ALSA MIDI port could not be found or opened; each says what to
/// change (the port name in the config, or the machine).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlsaMidiError {
    #[error("no port name given")]
    NoPortName,
    #[error("no ALSA MIDI port at {wanted}; {listed}")]
    NoPortAt { wanted: String, listed: String },
    #[error("no ALSA MIDI port matches {wanted:?}; {listed}")]
    NoMatch { wanted: String, listed: String },
    #[error(
        "{wanted:?} matches several ALSA MIDI ports ({matches}); give more of the name or client:port"
    )]
    Several { wanted: String, matches: String },
    #[error("ALSA sequencer unavailable: {0}; is this a machine with MIDI hardware?")]
    Unavailable(String),
    #[error("cannot connect to {port}: {why}")]
    ConnectTo { port: String, why: String },
    #[error("cannot connect from {port}: {why}")]
    ConnectFrom { port: String, why: String },
}

/// Which of `names` (ALSA ports as midir lists them: `Client:Port C:P`)
/// `wanted` means: a `client:port` address (`20:0`) matches that address; a
/// name matches exactly, or else the one name containing it (case
/// insensitive). Gives the index, or why none.
pub fn match_port(names: &[String], wanted: &str) -> Result<usize, AlsaMidiError> {
    let wanted = wanted.trim();
    if wanted.is_empty() {
        return Err(AlsaMidiError::NoPortName);
    }
    let listed = || {
        if names.is_empty() {
            "there are no ALSA MIDI ports".to_string()
        } else {
            format!("ports: {}", names.join(", "))
        }
    };
    if is_address(wanted) {
        return names
            .iter()
            .position(|n| n.rsplit(' ').next() == Some(wanted))
            .ok_or_else(|| AlsaMidiError::NoPortAt {
                wanted: wanted.to_string(),
                listed: listed(),
            });
    }
    // The name without midir's ` C:P` suffix, for exact matches.
    let bare = |n: &str| match n.rsplit_once(' ') {
        Some((name, addr)) if is_address(addr) => name.to_string(),
        _ => n.to_string(),
    };
    if let Some(i) = names.iter().position(|n| bare(n) == wanted) {
        return Ok(i);
    }
    let lower = wanted.to_lowercase();
    let hits: Vec<usize> = (0..names.len())
        .filter(|&i| names[i].to_lowercase().contains(&lower))
        .collect();
    match hits.as_slice() {
        [i] => Ok(*i),
        [] => Err(AlsaMidiError::NoMatch {
            wanted: wanted.to_string(),
            listed: listed(),
        }),
        many => Err(AlsaMidiError::Several {
            wanted: wanted.to_string(),
            matches: many
                .iter()
                .map(|&i| names[i].as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Whether `s` is an ALSA sequencer address `client:port` (both numbers).
fn is_address(s: &str) -> bool {
    s.split_once(':').is_some_and(|(c, p)| {
        !c.is_empty()
            && !p.is_empty()
            && c.bytes().all(|b| b.is_ascii_digit())
            && p.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Opens the sequencer as a midir client, or says why not (the device node
/// is looked at first, so a machine without one does not make alsa-lib
/// print its own error on every retry).
fn sequencer<T>(open: impl FnOnce() -> Result<T, midir::InitError>) -> Result<T, AlsaMidiError> {
    if let Err(e) = std::fs::metadata(SEQUENCER) {
        return Err(AlsaMidiError::Unavailable(format!("{SEQUENCER}: {e}")));
    }
    open().map_err(|e| {
        let detail = match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(Path::new(SEQUENCER))
        {
            Err(os) => format!("{SEQUENCER}: {os}"),
            Ok(_) => e.to_string(),
        };
        AlsaMidiError::Unavailable(detail)
    })
}

/// The names of a midir client's ports.
fn output_names(out: &MidiOutput) -> (Vec<midir::MidiOutputPort>, Vec<String>) {
    let ports = out.ports();
    let names = ports
        .iter()
        .map(|p| out.port_name(p).unwrap_or_else(|_| p.id()))
        .collect();
    (ports, names)
}

fn input_names(inp: &MidiInput) -> (Vec<midir::MidiInputPort>, Vec<String>) {
    let ports = inp.ports();
    let names = ports
        .iter()
        .map(|p| inp.port_name(p).unwrap_or_else(|_| p.id()))
        .collect();
    (ports, names)
}

/// The open connections of one device port.
struct Open {
    out: MidiOutputConnection,
    /// Kept for its input thread; None when the device has no input port.
    _input: Option<MidiInputConnection<()>>,
    from_device: mpsc::Receiver<Vec<u8>>,
    /// A second client that lists ports, to notice the port going away.
    watcher: MidiOutput,
    /// `client:port` of the output port.
    out_id: String,
}

/// A device's MIDI port on the ALSA sequencer.
pub struct AlsaMidiLink {
    port: String,
    input: Option<String>,
    open: Option<Open>,
    next_watch: Option<Instant>,
}

impl AlsaMidiLink {
    /// A link that sends to the ALSA port matching `port` and reads replies
    /// from the one matching `input` (or `port`, when unset: a USB
    /// interface's in and out carry the same name).
    pub fn new(port: String, input: Option<String>) -> Self {
        AlsaMidiLink {
            port,
            input,
            open: None,
            next_watch: None,
        }
    }

    fn connect(&self) -> Result<Open, AlsaMidiError> {
        let out = sequencer(|| MidiOutput::new(CLIENT))?;
        let (ports, names) = output_names(&out);
        let i = match_port(&names, &self.port)?;
        let out_id = ports[i].id();
        let out = out
            .connect(&ports[i], "out")
            .map_err(|e| AlsaMidiError::ConnectTo {
                port: names[i].clone(),
                why: e.to_string(),
            })?;

        let mut inp = sequencer(|| MidiInput::new(CLIENT))?;
        // SysEx (identity replies, readback) is what the device answers with.
        inp.ignore(Ignore::None);
        let (ports, names) = input_names(&inp);
        let wanted = self.input.as_deref().unwrap_or(&self.port);
        let (tx, from_device) = mpsc::channel(QUEUE);
        let input = match match_port(&names, wanted) {
            Ok(i) => Some(
                inp.connect(
                    &ports[i],
                    "in",
                    move |_, bytes, _| {
                        if tx.try_send(bytes.to_vec()).is_err() {
                            tracing::debug!("ALSA MIDI input queue full; message dropped");
                        }
                    },
                    (),
                )
                .map_err(|e| AlsaMidiError::ConnectFrom {
                    port: names[i].clone(),
                    why: e.to_string(),
                })?,
            ),
            Err(e) if self.input.is_some() => return Err(e),
            Err(_) => {
                tracing::info!(
                    "ALSA MIDI port {:?} has no input side; no readback or reports",
                    self.port
                );
                None
            }
        };
        let watcher = sequencer(|| MidiOutput::new(CLIENT))?;
        Ok(Open {
            out,
            _input: input,
            from_device,
            watcher,
            out_id,
        })
    }

    /// Whether the output port is still on the sequencer.
    fn port_present(&self) -> bool {
        self.open
            .as_ref()
            .is_some_and(|o| o.watcher.find_port_by_id(&o.out_id).is_some())
    }
}

impl Link for AlsaMidiLink {
    async fn open(&mut self) -> io::Result<()> {
        self.open = None;
        let open = self.connect().map_err(io::Error::other)?;
        self.open = Some(open);
        self.next_watch = Some(Instant::now() + WATCH);
        Ok(())
    }

    fn is_open(&self) -> bool {
        self.open.is_some()
    }

    fn close(&mut self) {
        self.open = None;
    }

    async fn send(&mut self, msg: &DeviceMessage) -> io::Result<()> {
        let open = self.open.as_mut().ok_or(io::ErrorKind::NotConnected)?;
        match msg {
            // midir encodes one message per call: NRPN and 14-bit sets go as several.
            DeviceMessage::Midi(b) => rackd_protocol::device::midi::split_messages(b)
                .iter()
                .try_for_each(|m| open.out.send(m))
                .map_err(|e| io::Error::other(format!("ALSA MIDI send: {e}"))),
            _ => Err(io::Error::other("not a MIDI message")),
        }
    }

    async fn recv(&mut self, until: Instant) -> io::Result<Option<Incoming>> {
        loop {
            let watch = self.next_watch.unwrap_or(until);
            let open = self.open.as_mut().ok_or(io::ErrorKind::NotConnected)?;
            match tokio::time::timeout_at(until.min(watch), open.from_device.recv()).await {
                Ok(Some(m)) => return Ok(Some(Incoming::Midi(m))),
                Ok(None) => return Err(io::Error::other("the ALSA MIDI input stopped")),
                Err(_) => {}
            }
            if Instant::now() >= watch {
                if !self.port_present() {
                    return Err(io::Error::other(format!(
                        "the ALSA MIDI port {:?} went away",
                        self.port
                    )));
                }
                self.next_watch = Some(Instant::now() + WATCH);
            }
            if Instant::now() >= until {
                return Ok(None);
            }
        }
    }

    fn wire_time(&self, bytes: usize) -> Duration {
        BYTE_TIME * bytes as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        [
            "Midi Through:Midi Through Port-0 14:0",
            "UM-ONE:UM-ONE MIDI 1 20:0",
            "MIDI4x4:MIDI4x4 MIDI 1 24:0",
            "MIDI4x4:MIDI4x4 MIDI 2 24:1",
            "Foo:Bar 120:0",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn ports_match_by_name_part_or_address() {
        let n = names();
        assert_eq!(match_port(&n, "UM-ONE"), Ok(1));
        assert_eq!(match_port(&n, "um-one midi"), Ok(1));
        assert_eq!(match_port(&n, "MIDI4x4 MIDI 2"), Ok(3));
        assert_eq!(match_port(&n, "24:1"), Ok(3));
        // An address is matched whole, not as part of 120:0.
        assert_eq!(match_port(&n, "20:0"), Ok(1));
        assert_eq!(match_port(&n, "120:0"), Ok(4));
        // An exact name wins over names that contain it.
        let mut n2 = n.clone();
        n2.push("UM-ONE:UM-ONE MIDI 1 Extra 28:0".into());
        assert_eq!(match_port(&n2, "UM-ONE:UM-ONE MIDI 1"), Ok(1));
    }

    #[test]
    fn unmatched_and_ambiguous_ports_say_why() {
        let n = names();
        let e = match_port(&n, "MIDI4x4").unwrap_err().to_string();
        assert!(e.contains("matches several"), "{e}");
        assert!(e.contains("24:0") && e.contains("24:1"), "{e}");
        let e = match_port(&n, "Scarlett").unwrap_err().to_string();
        assert!(
            e.starts_with("no ALSA MIDI port matches \"Scarlett\""),
            "{e}"
        );
        assert!(e.contains("UM-ONE:UM-ONE MIDI 1 20:0"), "{e}");
        let e = match_port(&n, "30:0").unwrap_err().to_string();
        assert!(e.starts_with("no ALSA MIDI port at 30:0"), "{e}");
        let e = match_port(&[], "UM-ONE").unwrap_err().to_string();
        assert!(e.contains("there are no ALSA MIDI ports"), "{e}");
        assert!(match_port(&n, " ").is_err());
    }

    #[test]
    fn addresses_are_two_numbers() {
        assert!(is_address("20:0"));
        assert!(!is_address("a2j:in"));
        assert!(!is_address("20:"));
        assert!(!is_address(":0"));
    }

    #[test]
    fn no_sequencer_is_a_clear_error() {
        if Path::new(SEQUENCER).exists() {
            return;
        }
        let e = AlsaMidiLink::new("UM-ONE".into(), None)
            .connect()
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with("ALSA sequencer unavailable: /dev/snd/seq"),
            "{e}"
        );
        assert!(e.ends_with("is this a machine with MIDI hardware?"), "{e}");
    }
}
