//! OSC for control surfaces: address patterns, TCP stream framing and a
//! bounded, panic-free packet codec.
//!
//! Everything here is pure (no sockets); the daemon's surface server wires
//! these pieces to UDP and TCP.

pub mod codec;
pub mod framing;
pub mod pattern;
