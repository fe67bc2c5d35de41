//! The `/rackd/*` contract as types: every address written once
//! ([`address`]), every request parsed once ([`Request`]), every reply and
//! report typed ([`Reply`], [`report`]). The OSC server and `rackd ctl` share
//! them, and so will any other front end (HTTP, WebSocket, a MIDI surface).

pub mod address;
pub mod reply;
pub mod report;
pub mod request;

pub use reply::{Reply, ReplyError};
pub use report::{
    ClientCounts, Describe, DescribedDevice, DescribedParam, DescribedSlot, DeviceOutcome,
    DeviceReport, DeviceStatus, ExportedRevision, Health, HttpCounts, ImportReport, Info, Measured,
    OscCounts, PrintReport, RecallReport, RevisionInfo, SongExport, SongSummary, Status,
    StoreHealth,
};
pub use request::{PrintRequest, RecallMode, Request, RequestError};
