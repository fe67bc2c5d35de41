//! rackd-delivery: what the mastering engineer hands the pressing plant.
//!
//! Pure logic, no I/O beyond `std::io` traits and no async: the album model
//! with every disc position in CD frames ([`frames`], [`album`]), the Red
//! Book rules ([`redbook`]), conversion of the sequence to audio at any
//! sample rate ([`render`]), DDP 2.0 images written and read ([`ddp`]), the
//! PQ descriptor, CD-Text ([`cdtext`]), CDRWIN cue sheets ([`cue`]), cdrdao
//! TOC files ([`toc`]) and the plant's PQ sheet ([`pqsheet`]); and the
//! streaming masters, loudness plan, codec previews and delivery report
//! ([`streaming`]). The `rackd`
//! binary wires files and terminals to it.

pub mod album;
pub mod cdtext;
pub mod codes;
pub mod cue;
pub mod ddp;
pub mod frames;
pub mod pqsheet;
pub mod redbook;
pub mod render;
pub mod streaming;
pub mod toc;
