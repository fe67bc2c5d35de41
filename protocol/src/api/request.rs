//! What a client asks: one OSC message becomes one [`Request`], or a
//! [`RequestError`] the sender reads in `/rackd/error`. `rackd ctl` builds its
//! messages from the same type, so the two sides cannot drift apart.

use super::address as addr;
use crate::osc::codec::{arg_to_value, value_to_arg};
use crate::osc::pattern::Pattern;
use crate::param::Value;
use rosc::{OscMessage, OscType};

/// A request to the daemon.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Set (`value`) or query (`None`) a parameter or every parameter a
    /// pattern matches; `norm`: the `A/norm` fader position.
    Param {
        /// The address or pattern, without `/norm`.
        address: String,
        /// The value is a 0..1 fader position.
        norm: bool,
        /// `None`: a query.
        value: Option<Value>,
    },
    /// `/chain/<slot>/measure`: an insert's round trip.
    Measure {
        /// The insert slot.
        slot: String,
    },
    /// `/rackd/subscribe`: feedback for a lease.
    Subscribe {
        /// Where UDP feedback goes (else: the sender's own port or TCP connection).
        reply_port: Option<u16>,
        /// What it wants (empty: every parameter and snapshot event).
        patterns: Vec<String>,
    },
    /// `/rackd/unsubscribe`.
    Unsubscribe {
        /// The port subscribed with, if any.
        reply_port: Option<u16>,
    },
    /// `/rackd/snapshot/save`.
    Save {
        /// Song path.
        song: String,
        /// The engineer's note.
        note: String,
        /// This revision's own recall safes (`DEVICE`, `DEVICE/PARAM`).
        safes: Vec<String>,
    },
    /// `/rackd/snapshot/recall`.
    Recall {
        /// Song path.
        song: String,
        /// A revision, else the latest.
        rev: Option<u32>,
        /// Every value to the gear, or only what changed.
        mode: RecallMode,
    },
    /// `/rackd/recall/undo`.
    Undo,
    /// `/rackd/recall/confirm`: a manual device has been set by hand.
    Confirm {
        /// Device id.
        device: String,
    },
    /// `/rackd/recall/sheet`: what to set by hand for a song.
    Sheet {
        /// `SONG`, `SONG@REV` or `current`.
        song: String,
    },
    /// `/rackd/snapshot/list`.
    List {
        /// Song path prefix (empty: all).
        prefix: String,
    },
    /// `/rackd/snapshot/history`.
    History {
        /// Song path.
        song: String,
    },
    /// `/rackd/snapshot/diff`.
    Diff {
        /// From (`SONG`, `SONG@REV` or `current`).
        a: String,
        /// To.
        b: String,
    },
    /// `/rackd/snapshot/export`.
    Export {
        /// Song path.
        song: String,
    },
    /// `/rackd/snapshot/import`.
    Import {
        /// The export document (JSON).
        document: String,
    },
    /// `/rackd/describe`.
    Describe,
    /// `/rackd/info`.
    Info,
    /// `/rackd/status`.
    Status,
    /// `/rackd/ping`: answered with its arguments (an end marker for ctl).
    Ping {
        /// Echoed back.
        args: Vec<OscType>,
    },
    /// `/rackd/chain/layout`: query (`None`) or set the slots that play, in order.
    Layout {
        /// Slot ids in play order.
        slots: Option<Vec<String>>,
    },
    /// `/rackd/print`: the print pass.
    Print(PrintRequest),
    /// `/rackd/print/cancel`.
    PrintCancel,
}

/// What a recall sends to the gear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecallMode {
    /// Every value of every remote device (the gear may have been touched).
    #[default]
    Full,
    /// Only the values the recall changed in the rack state.
    Changed,
}

/// What to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintRequest {
    /// Song to recall first.
    pub song: String,
    /// Source file as the client names it (resolved in `[files] input_dirs`).
    pub input: String,
    /// WAV file to write (under `[files] output_dir`).
    pub output: String,
    /// 16, 24 or 32 (float).
    pub bits: u32,
    /// Replace `output` when it exists.
    pub overwrite: bool,
}

/// A message that is not a request the daemon understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RequestError {
    /// What is wrong, for the sender.
    pub message: String,
}

impl RequestError {
    fn new(message: impl Into<String>) -> Self {
        RequestError {
            message: message.into(),
        }
    }
}

type Parsed = Result<Request, RequestError>;

fn int_arg(a: &OscType) -> Option<i64> {
    match a {
        OscType::Int(i) => Some(i64::from(*i)),
        OscType::Long(i) => Some(*i),
        _ => None,
    }
}

fn text_arg(a: &OscType) -> Option<String> {
    match a {
        OscType::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn str_arg(args: &[OscType], i: usize, what: &str) -> Result<String, RequestError> {
    args.get(i)
        .and_then(text_arg)
        .ok_or_else(|| RequestError::new(format!("argument {} must be a string: {what}", i + 1)))
}

fn port_of(p: i64) -> Result<u16, RequestError> {
    u16::try_from(p)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| RequestError::new(format!("reply port {p} is not 1..65535")))
}

impl Request {
    /// Whether it changes the rack, the gear or the store (what a
    /// read-only client may not do); queries, subscriptions and pings do not.
    pub fn changes(&self) -> bool {
        match self {
            Request::Param { value, .. } => value.is_some(),
            Request::Layout { slots } => slots.is_some(),
            Request::Measure { .. }
            | Request::Save { .. }
            | Request::Recall { .. }
            | Request::Undo
            | Request::Confirm { .. }
            | Request::Import { .. }
            | Request::Print(_)
            | Request::PrintCancel => true,
            Request::Subscribe { .. }
            | Request::Unsubscribe { .. }
            | Request::Sheet { .. }
            | Request::List { .. }
            | Request::History { .. }
            | Request::Diff { .. }
            | Request::Export { .. }
            | Request::Describe
            | Request::Info
            | Request::Status
            | Request::Ping { .. } => false,
        }
    }

    /// The request an OSC message makes.
    pub fn parse(msg: &OscMessage) -> Parsed {
        let args = msg.args.as_slice();
        if let Some(cmd) = msg.addr.strip_prefix(addr::RACKD_PREFIX) {
            return Self::command(cmd, args);
        }
        if let Some(slot) = msg
            .addr
            .strip_prefix(addr::CHAIN_PREFIX)
            .and_then(|a| a.strip_suffix(addr::MEASURE_SUFFIX))
        {
            if !args.is_empty() {
                return Err(RequestError::new("measure takes no arguments"));
            }
            return Ok(Request::Measure { slot: slot.into() });
        }
        let (base, norm) = match msg.addr.strip_suffix(addr::NORM_SUFFIX) {
            Some(base) if !base.is_empty() => (base, true),
            _ => (msg.addr.as_str(), false),
        };
        let value =
            match args {
                [] => None,
                [arg] => Some(arg_to_value(arg).ok_or_else(|| {
                    RequestError::new(format!("unsupported argument type {arg:?}"))
                })?),
                _ => {
                    return Err(RequestError::new(format!(
                        "expected one value, got {} arguments",
                        args.len()
                    )));
                }
            };
        Ok(Request::Param {
            address: base.into(),
            norm,
            value,
        })
    }

    fn command(cmd: &str, args: &[OscType]) -> Parsed {
        let text = |i: usize| args.get(i).and_then(text_arg).unwrap_or_default();
        match cmd {
            "subscribe" => {
                let (reply_port, rest) = match args.first().and_then(int_arg) {
                    Some(p) => (Some(port_of(p)?), &args[1..]),
                    None => (None, args),
                };
                let mut patterns = Vec::new();
                for a in rest {
                    let text = text_arg(a).ok_or(RequestError::new("patterns must be strings"))?;
                    Pattern::parse(&text)
                        .map_err(|e| RequestError::new(format!("pattern {text:?}: {e}")))?;
                    patterns.push(text);
                }
                Ok(Request::Subscribe {
                    reply_port,
                    patterns,
                })
            }
            "unsubscribe" => Ok(Request::Unsubscribe {
                reply_port: args.first().and_then(int_arg).map(port_of).transpose()?,
            }),
            "snapshot/save" => Ok(Request::Save {
                song: str_arg(args, 0, "song")?,
                note: text(1),
                safes: (2..args.len())
                    .map(|i| str_arg(args, i, "recall safe"))
                    .collect::<Result<_, _>>()?,
            }),
            "snapshot/recall" => {
                let song = str_arg(args, 0, "song")?;
                let (mut rev, mut mode) = (None, RecallMode::Full);
                for a in &args[1..] {
                    match (int_arg(a), text_arg(a).as_deref()) {
                        (Some(r), _) => {
                            rev =
                                Some(u32::try_from(r).ok().filter(|r| *r > 0).ok_or(
                                    RequestError::new("revision must be a positive integer"),
                                )?)
                        }
                        (_, Some("full")) => mode = RecallMode::Full,
                        (_, Some("changed")) => mode = RecallMode::Changed,
                        _ => {
                            return Err(RequestError::new(
                                "expected a revision number, \"full\" or \"changed\"",
                            ));
                        }
                    }
                }
                Ok(Request::Recall { song, rev, mode })
            }
            "recall/undo" => Ok(Request::Undo),
            "recall/confirm" => Ok(Request::Confirm {
                device: str_arg(args, 0, "device")?,
            }),
            "recall/sheet" => Ok(Request::Sheet {
                song: str_arg(args, 0, "song (SONG, SONG@REV or current)")?,
            }),
            "snapshot/list" => Ok(Request::List { prefix: text(0) }),
            "snapshot/history" => Ok(Request::History {
                song: str_arg(args, 0, "song")?,
            }),
            "snapshot/diff" => Ok(Request::Diff {
                a: str_arg(args, 0, "first snapshot (SONG, SONG@REV or current)")?,
                b: str_arg(args, 1, "second snapshot (SONG, SONG@REV or current)")?,
            }),
            "snapshot/export" => Ok(Request::Export {
                song: str_arg(args, 0, "song")?,
            }),
            "snapshot/import" => Ok(Request::Import {
                document: str_arg(args, 0, "export document (JSON)")?,
            }),
            "describe" => Ok(Request::Describe),
            "info" => Ok(Request::Info),
            "status" => Ok(Request::Status),
            "ping" => Ok(Request::Ping {
                args: args.to_vec(),
            }),
            "chain/layout" => {
                if args.is_empty() {
                    return Ok(Request::Layout { slots: None });
                }
                let mut slots = Vec::new();
                for (i, a) in args.iter().enumerate() {
                    let text = text_arg(a).ok_or_else(|| {
                        RequestError::new(format!("argument {i}: expected slot ids"))
                    })?;
                    slots.extend(
                        text.split([',', ' '])
                            .filter(|t| !t.is_empty())
                            .map(str::to_string),
                    );
                }
                Ok(Request::Layout { slots: Some(slots) })
            }
            "print" => Self::print(args),
            "print/cancel" => Ok(Request::PrintCancel),
            _ => Err(RequestError::new(format!("unknown command /rackd/{cmd}"))),
        }
    }

    fn print(args: &[OscType]) -> Parsed {
        let mut print = PrintRequest {
            song: str_arg(args, 0, "song")?,
            input: str_arg(args, 1, "input file")?,
            output: str_arg(args, 2, "output file")?,
            bits: 24,
            overwrite: false,
        };
        for (i, arg) in args.iter().enumerate().skip(3) {
            match arg {
                OscType::Bool(b) => print.overwrite = *b,
                OscType::String(s) if s == "overwrite" => print.overwrite = true,
                a if i == 3 && int_arg(a).is_some() => {
                    let bits = int_arg(a).unwrap_or(0);
                    if ![16, 24, 32].contains(&bits) {
                        return Err(RequestError::new(format!(
                            "bits {bits}: choose 16, 24 or 32"
                        )));
                    }
                    print.bits = bits as u32;
                }
                other => {
                    return Err(RequestError::new(format!(
                        "argument {} ({other:?}): after song, input and output come bits \
                         (16, 24 or 32) and \"overwrite\"",
                        i + 1
                    )));
                }
            }
        }
        Ok(Request::Print(print))
    }

    /// The OSC message that makes this request (what `rackd ctl` sends).
    pub fn to_message(&self) -> OscMessage {
        let s = |x: &str| OscType::String(x.to_string());
        let (address, args): (String, Vec<OscType>) = match self {
            Request::Param {
                address,
                norm,
                value,
            } => (
                if *norm {
                    addr::norm(address)
                } else {
                    address.clone()
                },
                value.iter().map(value_to_arg).collect(),
            ),
            Request::Measure { slot } => (addr::measure(slot), vec![]),
            Request::Subscribe {
                reply_port,
                patterns,
            } => (
                addr::SUBSCRIBE.into(),
                reply_port
                    .map(|p| OscType::Int(p.into()))
                    .into_iter()
                    .chain(patterns.iter().map(|p| s(p)))
                    .collect(),
            ),
            Request::Unsubscribe { reply_port } => (
                addr::UNSUBSCRIBE.into(),
                reply_port
                    .map(|p| OscType::Int(p.into()))
                    .into_iter()
                    .collect(),
            ),
            Request::Save { song, note, safes } => (
                addr::SNAPSHOT_SAVE.into(),
                [song, note]
                    .into_iter()
                    .chain(safes)
                    .map(|x| s(x))
                    .collect(),
            ),
            Request::Recall { song, rev, mode } => {
                let mut args = vec![s(song)];
                if let Some(r) = rev {
                    args.push(OscType::Int(*r as i32));
                }
                if *mode == RecallMode::Changed {
                    args.push(s("changed"));
                }
                (addr::SNAPSHOT_RECALL.into(), args)
            }
            Request::Undo => (addr::RECALL_UNDO.into(), vec![]),
            Request::Confirm { device } => (addr::RECALL_CONFIRM.into(), vec![s(device)]),
            Request::Sheet { song } => (addr::RECALL_SHEET.into(), vec![s(song)]),
            Request::List { prefix } => (addr::SNAPSHOT_LIST.into(), vec![s(prefix)]),
            Request::History { song } => (addr::SNAPSHOT_HISTORY.into(), vec![s(song)]),
            Request::Diff { a, b } => (addr::SNAPSHOT_DIFF.into(), vec![s(a), s(b)]),
            Request::Export { song } => (addr::SNAPSHOT_EXPORT.into(), vec![s(song)]),
            Request::Import { document } => (addr::SNAPSHOT_IMPORT.into(), vec![s(document)]),
            Request::Describe => (addr::DESCRIBE.into(), vec![]),
            Request::Info => (addr::INFO.into(), vec![]),
            Request::Status => (addr::STATUS.into(), vec![]),
            Request::Ping { args } => (addr::PING.into(), args.clone()),
            Request::Layout { slots } => (
                addr::CHAIN_LAYOUT.into(),
                slots.iter().flatten().map(|x| s(x)).collect(),
            ),
            Request::Print(p) => {
                let mut args = vec![
                    s(&p.song),
                    s(&p.input),
                    s(&p.output),
                    OscType::Int(p.bits as i32),
                ];
                if p.overwrite {
                    args.push(s("overwrite"));
                }
                (addr::PRINT.into(), args)
            }
            Request::PrintCancel => (addr::PRINT_CANCEL.into(), vec![]),
        };
        OscMessage {
            addr: address,
            args,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(address: &str, args: Vec<OscType>) -> OscMessage {
        OscMessage {
            addr: address.into(),
            args,
        }
    }

    fn s(x: &str) -> OscType {
        OscType::String(x.into())
    }

    #[test]
    fn only_requests_that_change_something_are_changes() {
        let changes = |address: &str, args: Vec<OscType>| {
            Request::parse(&msg(address, args)).unwrap().changes()
        };
        assert!(changes("/chain/trim/gain", vec![OscType::Float(1.0)]));
        assert!(!changes("/chain/trim/gain", vec![]));
        assert!(changes("/rackd/chain/layout", vec![s("trim")]));
        assert!(!changes("/rackd/chain/layout", vec![]));
        assert!(changes("/rackd/snapshot/save", vec![s("a/b")]));
        assert!(changes("/rackd/snapshot/recall", vec![s("a/b")]));
        assert!(changes("/rackd/recall/undo", vec![]));
        assert!(changes("/rackd/recall/confirm", vec![s("eq")]));
        assert!(changes("/chain/gear/measure", vec![]));
        assert!(changes("/rackd/print/cancel", vec![]));
        for (address, args) in [
            ("/rackd/snapshot/history", vec![s("a/b")]),
            ("/rackd/snapshot/diff", vec![s("a/b"), s("current")]),
            ("/rackd/snapshot/list", vec![]),
            ("/rackd/recall/sheet", vec![s("a/b")]),
            ("/rackd/describe", vec![]),
            ("/rackd/status", vec![]),
            ("/rackd/ping", vec![]),
            ("/rackd/subscribe", vec![s("/chain/*/gain")]),
        ] {
            assert!(!changes(address, args), "{address}");
        }
    }

    #[test]
    fn every_request_survives_its_own_message() {
        let requests = [
            Request::Param {
                address: "/chain/trim/gain".into(),
                norm: false,
                value: Some(Value::Float(-3.5)),
            },
            Request::Param {
                address: "/chain/*/bypass".into(),
                norm: false,
                value: None,
            },
            Request::Param {
                address: "/chain/trim/gain".into(),
                norm: true,
                value: Some(Value::Float(0.25)),
            },
            Request::Measure {
                slot: "gear".into(),
            },
            Request::Subscribe {
                reply_port: Some(9000),
                patterns: vec!["/meter/out/*".into()],
            },
            Request::Unsubscribe { reply_port: None },
            Request::Save {
                song: "a/b".into(),
                note: "n".into(),
                safes: vec!["eq".into()],
            },
            Request::Recall {
                song: "a/b".into(),
                rev: Some(3),
                mode: RecallMode::Changed,
            },
            Request::Undo,
            Request::Confirm { device: "p".into() },
            Request::Sheet {
                song: "current".into(),
            },
            Request::List { prefix: "a".into() },
            Request::History { song: "a/b".into() },
            Request::Diff {
                a: "a/b@1".into(),
                b: "current".into(),
            },
            Request::Export { song: "a/b".into() },
            Request::Import {
                document: "{}".into(),
            },
            Request::Describe,
            Request::Info,
            Request::Status,
            Request::Ping {
                args: vec![OscType::Int(7)],
            },
            Request::Layout {
                slots: Some(vec!["eq".into(), "trim".into()]),
            },
            Request::Layout { slots: None },
            Request::Print(PrintRequest {
                song: "a/b".into(),
                input: "mix.wav".into(),
                output: "master.wav".into(),
                bits: 16,
                overwrite: true,
            }),
            Request::PrintCancel,
        ];
        for r in requests {
            let m = r.to_message();
            assert_eq!(Request::parse(&m), Ok(r.clone()), "{m:?}");
        }
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        for (address, args, expected) in [
            (
                "/rackd/snapshot/save",
                vec![],
                "argument 1 must be a string: song",
            ),
            (
                "/rackd/snapshot/recall",
                vec![s("a"), OscType::Int(0)],
                "revision must be a positive integer",
            ),
            (
                "/rackd/snapshot/recall",
                vec![s("a"), s("some")],
                "expected a revision number",
            ),
            (
                "/rackd/subscribe",
                vec![OscType::Int(70_000)],
                "reply port 70000",
            ),
            (
                "/rackd/subscribe",
                vec![OscType::Float(1.0)],
                "patterns must be strings",
            ),
            (
                "/rackd/subscribe",
                vec![s("/chain/[")],
                "pattern \"/chain/[\"",
            ),
            (
                "/rackd/print",
                vec![s("a"), s("b"), s("c"), OscType::Int(-1)],
                "bits -1: choose 16, 24 or 32",
            ),
            (
                "/rackd/print",
                vec![s("a"), s("b"), s("c"), OscType::Int(24), OscType::Int(2)],
                "argument 5",
            ),
            (
                "/rackd/chain/layout",
                vec![OscType::Int(1)],
                "argument 0: expected slot ids",
            ),
            ("/rackd/bogus", vec![], "unknown command /rackd/bogus"),
            (
                "/chain/gear/measure",
                vec![OscType::Int(1)],
                "measure takes no arguments",
            ),
            (
                "/chain/trim/gain",
                vec![OscType::Float(1.0), OscType::Float(2.0)],
                "expected one value, got 2 arguments",
            ),
            (
                "/chain/trim/gain",
                vec![OscType::Nil],
                "unsupported argument type",
            ),
        ] {
            let e = Request::parse(&msg(address, args)).unwrap_err();
            assert!(e.message.contains(expected), "{address}: {e}");
        }
    }

    #[test]
    fn layout_takes_ids_in_one_string_or_several() {
        let one = Request::parse(&msg("/rackd/chain/layout", vec![s("eq, trim meter")]));
        let many = Request::parse(&msg(
            "/rackd/chain/layout",
            vec![s("eq"), s("trim"), s("meter")],
        ));
        assert_eq!(one, many);
    }
}
