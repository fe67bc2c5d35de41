//! Outboard gear: one scheduler task per port (serial line, OSC device
//! address) that drives the devices on it; live changes from surfaces go to
//! the gear, device reports come back to the hub, and the recall engine
//! (`recall.rs`) puts every remote device back to a snapshot.

pub(crate) mod alsa_midi;
pub mod midi;
pub(crate) mod osc;
pub(crate) mod recall;
pub(crate) mod scheduler;
pub(crate) mod serial;
pub(crate) mod sheet;

use crate::config::{DeviceLink, MidiBackend};
use crate::hub::{Event, HubHandle, Origin, Target};
use crate::profiles::Device;
use rackd_protocol::param::Value;
use rackd_protocol::profile::{OscProto, TransportKind};
use scheduler::{Link, Pacer, Port, PortDevice};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Where a device stands, for `/rackd/status` and recall reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not tried yet.
    Connecting,
    /// Answering.
    Online,
    /// Absent, unplugged or silent; retried with backoff.
    Offline,
    /// Set by hand from the recall sheet; nothing to confirm.
    Manual,
    /// Set by hand: a recall is waiting for the engineer's confirmation.
    Waiting,
}

/// A device's live status, shared between its port task and the surfaces.
#[derive(Debug)]
pub struct DeviceStatus {
    port: String,
    inner: Mutex<(State, Option<String>)>,
}

impl DeviceStatus {
    /// A device about to connect on `port`.
    pub fn new(port: &str) -> Self {
        DeviceStatus {
            port: port.to_string(),
            inner: Mutex::new((State::Connecting, None)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (State, Option<String>)> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.lock().0
    }

    /// Why it is offline, if it is.
    pub fn last_error(&self) -> Option<String> {
        self.lock().1.clone()
    }

    /// Records a new state (and why).
    pub fn set(&self, state: State, why: Option<String>) {
        *self.lock() = (state, why);
    }
}

/// Progress callback of a recall: device, steps done, steps in all.
pub type Progress = Arc<dyn Fn(&str, usize, usize) + Send + Sync>;

/// Work for a port task.
pub enum Job {
    /// A live change from a surface.
    Set {
        device: usize,
        param: String,
        value: Value,
    },
    /// Send every value, read back; answers verified parameter count or why it failed.
    Recall {
        device: usize,
        values: Vec<(String, Value)>,
        progress: Progress,
        reply: oneshot::Sender<Result<usize, String>>,
    },
}

/// Why a manual recall could not be confirmed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfirmError {
    #[error("no device {0:?}")]
    NoDevice(String),
    #[error("{0}: no recall is waiting for confirmation")]
    NothingWaiting(String),
    #[error("{0} is not a manual device")]
    NotManual(String),
}

/// The running outboard drivers.
pub struct Outboard {
    devices: Vec<Device>,
    status: Vec<Arc<DeviceStatus>>,
    ports: Vec<Option<mpsc::Sender<Job>>>,
}

impl Outboard {
    /// Starts one task per port for the tree's devices, and the observer that
    /// sends live changes to the gear.
    pub fn start(hub: HubHandle) -> Arc<Outboard> {
        let devices = hub.tree().devices().to_vec();
        let mut status = Vec::new();
        let mut ports: Vec<Option<mpsc::Sender<Job>>> = vec![None; devices.len()];
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, d) in devices.iter().enumerate() {
            let (port, state) = match &d.link {
                DeviceLink::Serial { path, .. } => (path.display().to_string(), State::Connecting),
                DeviceLink::Osc { address, .. } => (format!("osc:{address}"), State::Connecting),
                DeviceLink::Midi {
                    backend: MidiBackend::Alsa,
                    port,
                    ..
                } => (format!("alsa:{port}"), State::Connecting),
                DeviceLink::Midi { port, .. } => (format!("midi:{port}"), State::Connecting),
                DeviceLink::None => ("manual".to_string(), State::Manual),
            };
            let s = Arc::new(DeviceStatus::new(&port));
            if state != State::Connecting {
                s.set(state, None);
            } else {
                groups.entry(port).or_default().push(i);
            }
            status.push(s);
        }
        for (name, members) in groups {
            let (tx, rx) = mpsc::channel(256);
            let port_devices: Vec<PortDevice> = members
                .iter()
                .map(|&i| PortDevice {
                    index: i,
                    device: devices[i].clone(),
                    status: status[i].clone(),
                    pacer: Pacer::new(&devices[i].profile.pacing),
                    midi: Default::default(),
                })
                .collect();
            let first = &devices[members[0]];
            match &first.link {
                DeviceLink::Serial { path, baud, .. } => {
                    let link =
                        serial::SerialLink::new(path.clone(), *baud, &first.profile, &first.ctx);
                    spawn_port(name, link, port_devices, hub.clone(), rx);
                }
                DeviceLink::Osc { address, tcp } => {
                    let tcp = tcp.unwrap_or_else(|| {
                        first.profile.osc.as_ref().map(|o| o.protocol) == Some(OscProto::Tcp)
                    });
                    if tcp {
                        let link = osc::OscTcpLink::new(address.clone());
                        spawn_port(name, link, port_devices, hub.clone(), rx);
                    } else {
                        let link = osc::OscLink::new(address.clone());
                        spawn_port(name, link, port_devices, hub.clone(), rx);
                    }
                }
                DeviceLink::Midi {
                    backend: MidiBackend::Alsa,
                    port,
                    input,
                    ..
                } => {
                    let link = alsa_midi::AlsaMidiLink::new(port.clone(), input.clone());
                    spawn_port(name, link, port_devices, hub.clone(), rx);
                }
                DeviceLink::Midi { port, input, .. } => {
                    let link = midi::MidiLink::new(port.clone(), input.clone());
                    spawn_port(name, link, port_devices, hub.clone(), rx);
                }
                _ => continue,
            }
            for &i in &members {
                ports[i] = Some(tx.clone());
            }
        }
        let outboard = Arc::new(Outboard {
            devices,
            status,
            ports,
        });
        tokio::spawn(follow_hub(hub, outboard.clone()));
        outboard
    }

    /// The devices, in config order.
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    /// `/rackd/status` `devices`: each device's state and why.
    pub fn status(&self) -> Vec<rackd_protocol::api::DeviceStatus> {
        self.devices
            .iter()
            .zip(&self.status)
            .map(|(d, s)| {
                let (state, why) = s.lock().clone();
                rackd_protocol::api::DeviceStatus {
                    id: d.id.clone(),
                    profile: d.profile.id().to_string(),
                    port: s.port.clone(),
                    state: format!("{state:?}").to_lowercase(),
                    error: why,
                    safe: d.safe,
                }
            })
            .collect()
    }

    /// The device's current state.
    pub fn state(&self, device: usize) -> Option<State> {
        self.status.get(device).map(|s| s.state())
    }

    /// Marks a manual device as waiting for confirmation of a recall (`what`).
    pub fn await_confirmation(&self, device: usize, what: &str) {
        if let Some(s) = self.status.get(device) {
            s.set(
                State::Waiting,
                Some(format!("recall of {what} not confirmed yet")),
            );
        }
    }

    /// The engineer has set a manual device by hand (`/rackd/recall/confirm`).
    pub fn confirm(&self, id: &str) -> Result<(), ConfirmError> {
        let i = self
            .devices
            .iter()
            .position(|d| d.id == id)
            .ok_or_else(|| ConfirmError::NoDevice(id.to_string()))?;
        match self.status[i].state() {
            State::Waiting => {
                self.status[i].set(State::Manual, None);
                tracing::info!("outboard {id}: manual recall confirmed");
                Ok(())
            }
            State::Manual => Err(ConfirmError::NothingWaiting(id.to_string())),
            _ => Err(ConfirmError::NotManual(id.to_string())),
        }
    }

    /// Queues a job on the device's port; false when it has no driver.
    async fn send(&self, device: usize, job: Job) -> bool {
        match self.ports.get(device).and_then(Option::as_ref) {
            Some(tx) => tx.send(job).await.is_ok(),
            None => false,
        }
    }
}

fn spawn_port<L: Link>(
    name: String,
    link: L,
    devices: Vec<PortDevice>,
    hub: HubHandle,
    rx: mpsc::Receiver<Job>,
) {
    let port = Port {
        name,
        link,
        devices,
        hub: Some(hub),
        retry_after: Duration::from_secs(1),
        line_free: None,
    };
    tokio::spawn(port.run(rx));
}

/// Sends live changes of `/outboard/...` to the gear. Recalls are sent by the
/// recall engine and device reports came from the gear, so neither is echoed.
async fn follow_hub(hub: HubHandle, outboard: Arc<Outboard>) {
    let mut events = hub.subscribe();
    loop {
        match events.recv().await {
            Ok(Event::Changed {
                address,
                value,
                origin,
            }) => {
                if matches!(
                    origin,
                    Origin::Recall(_) | Origin::Device(_) | Origin::Restore
                ) {
                    continue;
                }
                let Some(entry) = hub.tree().get(&address) else {
                    continue;
                };
                let Target::Outboard { device, param } = entry.target else {
                    continue;
                };
                let Some(d) = outboard.devices.get(device) else {
                    continue;
                };
                if d.transport() == TransportKind::Manual {
                    continue;
                }
                let Some(def) = d.profile.params.get(param) else {
                    continue;
                };
                outboard
                    .send(
                        device,
                        Job::Set {
                            device,
                            param: def.id.clone(),
                            value,
                        },
                    )
                    .await;
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!("outboard missed {n} changes; the next recall resends them");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
