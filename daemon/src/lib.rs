//! rackd: the daemon of a hybrid mastering room's rack machine.
//!
//! I/O wiring only: the hard logic is in `rackd-protocol` and `rackd-dsp`.
//! See ARCHITECTURE.md for the map.

pub mod analyze;
pub mod audio_file;
pub mod cli;
pub mod config;
pub mod ctl;
pub mod demo;
pub mod engine;
pub mod hub;
pub mod logging;
pub mod outboard;
pub mod print;
pub mod profile_cmd;
pub mod profiles;
pub mod render;
pub mod report;
pub mod run;
pub mod simulate;
pub mod store;
pub mod surface;
pub mod systemd;
