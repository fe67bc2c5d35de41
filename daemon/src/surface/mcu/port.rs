//! One surface unit's MIDI ports: a JACK client of its own (the outboard
//! drivers' [`JackMidi`], whose process callback only moves fixed-size
//! packets through `rtrb` rings), or ALSA sequencer ports through the
//! outboard's ALSA link. Either notices the surface going away and coming
//! back, so the surface task can set it to the current state at once.

use crate::config::{MidiBackend, SurfaceLink};
use crate::outboard::alsa_midi::AlsaMidiLink;
use crate::outboard::midi::JackMidi;
use crate::outboard::scheduler::{Incoming, Link};
use rackd_protocol::device::DeviceMessage;
use std::collections::VecDeque;

/// Most messages waiting for room in the JACK ring (a full refresh is ~80).
const BACKLOG: usize = 4096;

/// What a link check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// As before.
    Same,
    /// The surface's ports are (again) connected: send it everything.
    CameBack,
    /// They went away, for this reason.
    Gone(String),
}

/// One unit's ports.
pub struct Port {
    kind: Kind,
    /// Why the unit is not connected, `None` while it is.
    pub offline: Option<String>,
    backlog: VecDeque<Vec<u8>>,
}

enum Kind {
    Jack {
        client: String,
        send_to: String,
        receive_from: String,
        midi: Option<JackMidi>,
    },
    Alsa {
        link: AlsaMidiLink,
    },
}

impl Port {
    /// Ports for `link`; `client` names the JACK client.
    pub fn new(link: &SurfaceLink, client: String) -> Port {
        let kind = match link.backend {
            MidiBackend::Jack => Kind::Jack {
                client,
                send_to: link.port.clone(),
                receive_from: link.input.clone().unwrap_or_default(),
                midi: None,
            },
            MidiBackend::Alsa => Kind::Alsa {
                link: AlsaMidiLink::new(link.port.clone(), link.input.clone()),
            },
        };
        Port {
            kind,
            offline: Some("not opened yet".into()),
            backlog: VecDeque::new(),
        }
    }

    /// Opens what is closed and (re)connects the surface's ports.
    pub async fn check(&mut self) -> Change {
        let result = match &mut self.kind {
            Kind::Jack {
                client,
                send_to,
                receive_from,
                midi,
            } => {
                if midi.as_ref().is_some_and(JackMidi::is_gone) {
                    *midi = None;
                }
                if midi.is_none() {
                    match JackMidi::open(client, None, None) {
                        Ok(m) => *midi = Some(m),
                        Err(e) => return self.went(format!("JACK: {e}")),
                    }
                }
                match midi.as_ref() {
                    Some(m) => {
                        let r = m.connect(Some(send_to), Some(receive_from));
                        if r.is_ok() && self.offline.is_some() {
                            // Let the new connection take before the state goes out.
                            tokio::time::sleep(m.settle_time()).await;
                        }
                        r.map_err(|e| e.to_string())
                    }
                    None => Err("no JACK client".to_string()),
                }
            }
            Kind::Alsa { link } => {
                if link.is_open() {
                    Ok(())
                } else {
                    link.open().await.map_err(|e| e.to_string())
                }
            }
        };
        match result {
            Ok(()) if self.offline.is_some() => {
                self.offline = None;
                Change::CameBack
            }
            Ok(()) => Change::Same,
            Err(e) => self.went(e),
        }
    }

    fn went(&mut self, why: String) -> Change {
        self.backlog.clear();
        if self.offline.as_deref() == Some(why.as_str()) {
            return Change::Same;
        }
        let first = self.offline.replace(why.clone()).is_none();
        if first {
            Change::Gone(why)
        } else {
            Change::Same
        }
    }

    /// The next message the surface sent, if any.
    pub async fn try_recv(&mut self) -> Option<Vec<u8>> {
        match &mut self.kind {
            Kind::Jack { midi, .. } => midi.as_mut()?.try_recv(),
            Kind::Alsa { link } => {
                if !link.is_open() {
                    return None;
                }
                match link.recv(tokio::time::Instant::now()).await {
                    Ok(Some(Incoming::Midi(m))) => Some(m),
                    Ok(_) => None,
                    Err(e) => {
                        link.close();
                        self.went(e.to_string());
                        None
                    }
                }
            }
        }
    }

    /// Queues one message for the surface (dropped while it is away).
    pub fn send(&mut self, bytes: Vec<u8>) {
        if self.offline.is_none() && self.backlog.len() < BACKLOG {
            self.backlog.push_back(bytes);
        }
    }

    /// Hands queued messages to the link, as many as it takes now.
    pub async fn drain(&mut self) {
        while let Some(m) = self.backlog.front() {
            let sent = match &mut self.kind {
                Kind::Jack { midi, .. } => match midi.as_mut() {
                    Some(j) => j.send(m).is_ok(),
                    None => false,
                },
                Kind::Alsa { link } => link.send(&DeviceMessage::Midi(m.clone())).await.is_ok(),
            };
            if !sent {
                return;
            }
            self.backlog.pop_front();
        }
    }

    /// The JACK client's name as JACK made it, for logs.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Jack {
                midi: Some(m),
                send_to,
                receive_from,
                ..
            } => format!("JACK {} ↔ {send_to}, {receive_from}", m.name()),
            Kind::Jack { send_to, .. } => format!("JACK → {send_to}"),
            Kind::Alsa { .. } => "ALSA sequencer".into(),
        }
    }
}
