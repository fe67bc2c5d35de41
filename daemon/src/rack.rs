//! The rack model: every address the rack answers to ([`ParamTree`]), where
//! each value goes ([`Target`]) and the slot-layout rule ([`play_order`]),
//! shared by the hub, the engine and the outboard drivers.

#[cfg(test)]
pub(crate) mod test_rig;
mod tree;

pub use tree::{ParamEntry, ParamTree, Target, play_order};
