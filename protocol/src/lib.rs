//! Pure protocol logic for rackd: no I/O, no async.
//!
//! The parameter model, the OSC address space (patterns, framing, routing),
//! song paths and rack state all live here so the daemon, tests and tools
//! agree on one definition.

pub mod api;
pub mod device;
pub mod layout;
pub mod mcu;
pub mod osc;
pub mod oscquery;
pub mod param;
pub mod profile;
pub mod song;
pub mod state;
pub mod toml_tree;
