//! rackd: the daemon of a hybrid mastering room's rack machine.
//!
//! I/O wiring only: the hard logic is in `rackd-protocol` and `rackd-dsp`.
//! See ARCHITECTURE.md for the map.

pub mod audio_file;
pub mod cli;
pub mod config;
pub mod engine;
pub(crate) mod files;
pub mod hub;
pub mod outboard;
pub(crate) mod print;
pub(crate) mod profiles;
pub(crate) mod rack;
pub(crate) mod report;
pub mod service;
pub mod store;
pub mod surface;
