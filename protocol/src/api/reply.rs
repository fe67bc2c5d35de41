//! What the daemon sends back: one [`Reply`] per OSC message, typed on both
//! ends. JSON replies carry one string argument; the others are plain OSC
//! arguments so that any surface can read them.

use super::address as addr;
use super::report::{
    Describe, ImportReport, Info, Measured, PrintReport, RecallReport, RevisionInfo, SongExport,
    SongSummary, Status,
};
use super::sheet::Sheet;
use crate::osc::codec::{arg_to_value, value_to_arg};
use crate::param::Value;
use crate::state::Change;
use rosc::{OscMessage, OscType};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A reply (to the sender) or a notification (to subscribers).
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A parameter's value in real units (query answer, value taken, feedback).
    Value {
        /// The parameter's address.
        address: String,
        /// Its value.
        value: Value,
    },
    /// A parameter's fader position, at `A/norm`.
    Norm {
        /// The parameter's address (without `/norm`).
        address: String,
        /// 0..1.
        position: f32,
    },
    /// `/chain/<slot>/measured ,iiff`.
    Measured {
        /// The insert slot.
        slot: String,
        /// What was found.
        measured: Measured,
    },
    /// `/rackd/subscribed ,i lease_seconds`.
    Subscribed {
        /// Seconds until it must be renewed.
        lease_s: u32,
    },
    /// `/rackd/unsubscribed`.
    Unsubscribed,
    /// `/rackd/snapshot/saved ,si song rev`.
    Saved {
        /// The song.
        song: String,
        /// The revision made.
        rev: u32,
    },
    /// `/rackd/snapshot/recalled ,si song rev` (to subscribers).
    Recalled {
        /// The song.
        song: String,
        /// The revision.
        rev: u32,
    },
    /// `/rackd/recall/report ,s json`.
    RecallReport(RecallReport),
    /// `/rackd/recall/progress ,sii device done total`.
    RecallProgress {
        /// Device id.
        device: String,
        /// Steps done.
        done: u32,
        /// Steps in all.
        total: u32,
    },
    /// `/rackd/recall/confirmed ,s device`.
    Confirmed {
        /// Device id.
        device: String,
    },
    /// `/rackd/recall/sheet ,s json`.
    Sheet(Box<Sheet>),
    /// `/rackd/snapshot/list ,s json`.
    List(Vec<SongSummary>),
    /// `/rackd/snapshot/history ,s json`.
    History(Vec<RevisionInfo>),
    /// `/rackd/snapshot/diff ,s json`.
    Diff(Vec<Change>),
    /// `/rackd/snapshot/export ,s json`.
    Export(Box<SongExport>),
    /// `/rackd/snapshot/imported ,s json`.
    Imported(ImportReport),
    /// `/rackd/describe ,s json`.
    Describe(Box<Describe>),
    /// `/rackd/info ,s json`.
    Info(Info),
    /// `/rackd/status ,s json`.
    Status(Box<Status>),
    /// `/rackd/pong`, with the ping's arguments.
    Pong(Vec<OscType>),
    /// `/rackd/chain/layout ,s...`: the slots playing, in order.
    Layout(Vec<String>),
    /// `/rackd/print/started ,s song`.
    PrintStarted {
        /// The song.
        song: String,
    },
    /// `/rackd/print/progress ,sf song fraction`.
    PrintProgress {
        /// The song.
        song: String,
        /// 0..1.
        fraction: f32,
    },
    /// `/rackd/print/done ,s json`.
    PrintDone(PrintReport),
    /// `/rackd/print/cancelled`.
    PrintCancelled,
    /// `/meter/<point>/<quantity> ,f` or `,ff` (dB, LUFS, LU, correlation…).
    Meter {
        /// `/meter/<point>/<quantity>`.
        address: String,
        /// One value, or left and right.
        values: Vec<f32>,
    },
    /// `/rackd/error ,ss address message`.
    Error {
        /// The address of the message that failed (empty for an undecodable packet).
        address: String,
        /// What went wrong, for the sender.
        message: String,
    },
}

/// A message that is not a reply of this kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected reply at {address}: {why}")]
pub struct ReplyError {
    /// Its address.
    pub address: String,
    /// What did not fit.
    pub why: String,
}

fn json<T: Serialize>(address: &str, body: &T) -> (String, Vec<OscType>) {
    let text = serde_json::to_string(body)
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string());
    (address.into(), vec![OscType::String(text)])
}

impl Reply {
    /// The OSC message of this reply.
    pub fn to_message(&self) -> OscMessage {
        let s = |x: &str| OscType::String(x.to_string());
        let (address, args) = match self {
            Reply::Value { address, value } => (address.clone(), vec![value_to_arg(value)]),
            Reply::Norm { address, position } => {
                (addr::norm(address), vec![OscType::Float(*position)])
            }
            Reply::Measured { slot, measured } => (
                addr::measured(slot),
                vec![
                    OscType::Int(measured.latency as i32),
                    OscType::Int(measured.inverted as i32),
                    OscType::Float(measured.gain_db),
                    OscType::Float(measured.confidence_db),
                ],
            ),
            Reply::Subscribed { lease_s } => {
                (addr::SUBSCRIBED.into(), vec![OscType::Int(*lease_s as i32)])
            }
            Reply::Unsubscribed => (addr::UNSUBSCRIBED.into(), vec![]),
            Reply::Saved { song, rev } => (
                addr::SNAPSHOT_SAVED.into(),
                vec![s(song), OscType::Int(*rev as i32)],
            ),
            Reply::Recalled { song, rev } => (
                addr::SNAPSHOT_RECALLED.into(),
                vec![s(song), OscType::Int(*rev as i32)],
            ),
            Reply::RecallReport(r) => json(addr::RECALL_REPORT, r),
            Reply::RecallProgress {
                device,
                done,
                total,
            } => (
                addr::RECALL_PROGRESS.into(),
                vec![
                    s(device),
                    OscType::Int(*done as i32),
                    OscType::Int(*total as i32),
                ],
            ),
            Reply::Confirmed { device } => (addr::RECALL_CONFIRMED.into(), vec![s(device)]),
            Reply::Sheet(sheet) => json(addr::RECALL_SHEET, sheet),
            Reply::List(songs) => json(addr::SNAPSHOT_LIST, songs),
            Reply::History(revs) => json(addr::SNAPSHOT_HISTORY, revs),
            Reply::Diff(changes) => json(addr::SNAPSHOT_DIFF, changes),
            Reply::Export(doc) => json(addr::SNAPSHOT_EXPORT, doc),
            Reply::Imported(r) => json(addr::SNAPSHOT_IMPORTED, r),
            Reply::Describe(d) => json(addr::DESCRIBE, d),
            Reply::Info(i) => json(addr::INFO, i),
            Reply::Status(st) => json(addr::STATUS, st),
            Reply::Pong(args) => (addr::PONG.into(), args.clone()),
            Reply::Layout(slots) => (
                addr::CHAIN_LAYOUT.into(),
                slots.iter().map(|x| s(x)).collect(),
            ),
            Reply::PrintStarted { song } => (addr::PRINT_STARTED.into(), vec![s(song)]),
            Reply::PrintProgress { song, fraction } => (
                addr::PRINT_PROGRESS.into(),
                vec![s(song), OscType::Float(*fraction)],
            ),
            Reply::PrintDone(r) => json(addr::PRINT_DONE, r),
            Reply::PrintCancelled => (addr::PRINT_CANCELLED.into(), vec![]),
            Reply::Meter { address, values } => (
                address.clone(),
                values.iter().map(|v| OscType::Float(*v)).collect(),
            ),
            Reply::Error { address, message } => (addr::ERROR.into(), vec![s(address), s(message)]),
        };
        OscMessage {
            addr: address,
            args,
        }
    }

    /// The reply an OSC message carries. Any address not of `/rackd/` or
    /// `/chain/<slot>/measured` is a parameter value.
    pub fn parse(msg: &OscMessage) -> Result<Reply, ReplyError> {
        let bad = |why: &str| ReplyError {
            address: msg.addr.clone(),
            why: why.into(),
        };
        let text = |i: usize| match msg.args.get(i) {
            Some(OscType::String(s)) => Ok(s.clone()),
            _ => Err(bad(&format!("argument {} is not a string", i + 1))),
        };
        let int = |i: usize| match msg.args.get(i) {
            Some(OscType::Int(v)) => Ok(*v),
            _ => Err(bad(&format!("argument {} is not an integer", i + 1))),
        };
        let float = |i: usize| match msg.args.get(i) {
            Some(OscType::Float(v)) => Ok(*v),
            _ => Err(bad(&format!("argument {} is not a float", i + 1))),
        };
        fn body<T: DeserializeOwned>(
            text: String,
            bad: impl Fn(&str) -> ReplyError,
        ) -> Result<T, ReplyError> {
            serde_json::from_str(&text).map_err(|e| bad(&format!("bad JSON: {e}")))
        }
        let count = |v: i32| u32::try_from(v).map_err(|_| bad("negative count"));
        Ok(match msg.addr.as_str() {
            addr::ERROR => Reply::Error {
                address: text(0)?,
                message: text(1)?,
            },
            addr::PONG => Reply::Pong(msg.args.clone()),
            addr::SUBSCRIBED => Reply::Subscribed {
                lease_s: count(int(0)?)?,
            },
            addr::UNSUBSCRIBED => Reply::Unsubscribed,
            addr::SNAPSHOT_SAVED => Reply::Saved {
                song: text(0)?,
                rev: count(int(1)?)?,
            },
            addr::SNAPSHOT_RECALLED => Reply::Recalled {
                song: text(0)?,
                rev: count(int(1)?)?,
            },
            addr::RECALL_REPORT => Reply::RecallReport(body(text(0)?, bad)?),
            addr::RECALL_PROGRESS => Reply::RecallProgress {
                device: text(0)?,
                done: count(int(1)?)?,
                total: count(int(2)?)?,
            },
            addr::RECALL_CONFIRMED => Reply::Confirmed { device: text(0)? },
            addr::RECALL_SHEET => Reply::Sheet(body(text(0)?, bad)?),
            addr::SNAPSHOT_LIST => Reply::List(body(text(0)?, bad)?),
            addr::SNAPSHOT_HISTORY => Reply::History(body(text(0)?, bad)?),
            addr::SNAPSHOT_DIFF => Reply::Diff(body(text(0)?, bad)?),
            addr::SNAPSHOT_EXPORT => Reply::Export(body(text(0)?, bad)?),
            addr::SNAPSHOT_IMPORTED => Reply::Imported(body(text(0)?, bad)?),
            addr::DESCRIBE => Reply::Describe(body(text(0)?, bad)?),
            addr::INFO => Reply::Info(body(text(0)?, bad)?),
            addr::STATUS => Reply::Status(body(text(0)?, bad)?),
            addr::CHAIN_LAYOUT => {
                Reply::Layout((0..msg.args.len()).map(text).collect::<Result<_, _>>()?)
            }
            addr::PRINT_STARTED => Reply::PrintStarted { song: text(0)? },
            addr::PRINT_PROGRESS => Reply::PrintProgress {
                song: text(0)?,
                fraction: float(1)?,
            },
            addr::PRINT_DONE => Reply::PrintDone(body(text(0)?, bad)?),
            addr::PRINT_CANCELLED => Reply::PrintCancelled,
            a if a.starts_with(addr::CHAIN_PREFIX) && a.ends_with("/measured") => {
                let slot = a
                    .strip_prefix(addr::CHAIN_PREFIX)
                    .and_then(|r| r.strip_suffix("/measured"))
                    .unwrap_or_default();
                Reply::Measured {
                    slot: slot.into(),
                    measured: Measured {
                        latency: usize::try_from(int(0)?).map_err(|_| bad("negative latency"))?,
                        inverted: int(1)? != 0,
                        gain_db: float(2)?,
                        confidence_db: float(3)?,
                    },
                }
            }
            a if a.starts_with(addr::RACKD_PREFIX) => return Err(bad("not a reply")),
            a if a.starts_with(addr::METER_PREFIX) => Reply::Meter {
                address: a.into(),
                values: (0..msg.args.len()).map(float).collect::<Result<_, _>>()?,
            },
            a => match (a.strip_suffix(addr::NORM_SUFFIX), msg.args.as_slice()) {
                (Some(base), [OscType::Float(p)]) => Reply::Norm {
                    address: base.into(),
                    position: *p,
                },
                (_, [arg]) => Reply::Value {
                    address: a.into(),
                    value: arg_to_value(arg).ok_or_else(|| bad("not a value"))?,
                },
                _ => return Err(bad("a value has one argument")),
            },
        })
    }

    /// A saved revision, as acknowledged.
    pub fn saved(info: &RevisionInfo) -> Reply {
        Reply::Saved {
            song: info.song.to_string(),
            rev: info.rev,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::report::{DeviceOutcome, DeviceReport};

    #[test]
    fn replies_survive_their_own_message() {
        let replies = [
            Reply::Value {
                address: "/chain/trim/gain".into(),
                value: Value::Float(-3.5),
            },
            Reply::Value {
                address: "/chain/eq/b1_type".into(),
                value: Value::Text("bell".into()),
            },
            Reply::Norm {
                address: "/chain/trim/gain".into(),
                position: 0.5,
            },
            Reply::Measured {
                slot: "gear".into(),
                measured: Measured {
                    latency: 356,
                    inverted: true,
                    gain_db: -6.0,
                    confidence_db: 40.0,
                },
            },
            Reply::Subscribed { lease_s: 10 },
            Reply::Saved {
                song: "a/b".into(),
                rev: 2,
            },
            Reply::RecallReport(RecallReport {
                song: "a/b".into(),
                rev: 2,
                changed: 1,
                unchanged: 5,
                skipped: vec![],
                refused: vec![],
                devices: vec![DeviceReport {
                    device: "eq".into(),
                    outcome: DeviceOutcome::Verified { verified: 4 },
                }],
                safes: vec![],
            }),
            Reply::RecallProgress {
                device: "eq".into(),
                done: 1,
                total: 4,
            },
            Reply::Layout(vec!["eq".into(), "trim".into()]),
            Reply::PrintProgress {
                song: "a/b".into(),
                fraction: 0.25,
            },
            Reply::PrintCancelled,
            Reply::Meter {
                address: "/meter/out/peak".into(),
                values: vec![-3.0, -4.5],
            },
            Reply::Error {
                address: "/chain/x".into(),
                message: "no parameter at /chain/x".into(),
            },
            Reply::Pong(vec![OscType::Int(3)]),
            Reply::Sheet(Box::new(Sheet {
                song: "a/b@2".into(),
                devices: vec![crate::api::SheetDevice {
                    device: "pultec".into(),
                    vendor: "Pultec".into(),
                    model: "EQP-1A".into(),
                    source: "Manual (1960)".into(),
                    rows: vec![crate::api::SheetRow {
                        label: "LOW FREQUENCY".into(),
                        controls: vec![crate::api::SheetControl {
                            param: "low_freq".into(),
                            name: "Low frequency".into(),
                            kind: crate::api::ControlKind::Knob,
                            panel: crate::api::PanelMarking::Printed,
                            value: Value::Text("60".into()),
                            label: "60".into(),
                            position: 0.5,
                            current: "20".into(),
                            current_position: 0.0,
                            detents: vec!["20".into(), "60".into(), "100".into()],
                            ends: vec![],
                            note: String::new(),
                            differs: true,
                        }],
                    }],
                }],
            })),
        ];
        for r in replies {
            let m = r.to_message();
            assert_eq!(Reply::parse(&m), Ok(r.clone()), "{m:?}");
        }
    }

    #[test]
    fn a_request_address_is_not_a_reply() {
        let m = OscMessage {
            addr: addr::SNAPSHOT_SAVE.into(),
            args: vec![],
        };
        assert!(Reply::parse(&m).is_err());
    }
}
