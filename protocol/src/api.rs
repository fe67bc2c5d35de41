//! The `/rackd/*` contract as types: every address written once
//! ([`address`]), every request parsed once ([`Request`]), every reply and
//! report typed ([`Reply`], [`report`]). The OSC server and `rackd ctl` share
//! them, and so will any other front end (HTTP, WebSocket, a MIDI surface).

pub mod address;
pub mod reply;
pub mod report;
pub mod request;
pub mod sheet;

pub use reply::{Reply, ReplyError};
pub use report::{
    ClientCounts, Describe, DescribedDevice, DescribedMeter, DescribedParam, DescribedSlot,
    DeviceOutcome, DeviceReport, DeviceStatus, ExportedRevision, Health, HttpCounts, ImportReport,
    Info, Measured, MidiSurfaceStatus, OscCounts, PrintReport, RecallReport, RevisionInfo,
    SongExport, SongSummary, Status, StoreHealth,
};
pub use request::{PrintRequest, RecallMode, Request, RequestError};
pub use sheet::{ControlKind, PanelMarking, Sheet, SheetControl, SheetDevice, SheetRow};
