//! `aion_core`: the pure-Rust heart of aion, a durable workflow engine for the BEAM.
//!
//! Nothing here knows about Erlang. The crate holds:
//! - [`event`]: the durable event model every workflow history is made of;
//! - [`replay`]: the per-run resolver that answers workflow commands from history
//!   (replay) or turns them into new events (live), and detects non-determinism;
//! - [`retry`]: activity options and retry policy math;
//! - [`store`]: the [`store::EventStore`] trait, the in-memory and SQLite backends, and the
//!   group-commit queue that lets many runs share one fsync;
//! - [`history`]: the exported history document read by the replayer;
//! - [`payload`]: the limits every payload is checked against where it enters;
//! - [`error`]: the single error type; each variant has a kind, the atom that tags it on
//!   the BEAM side (`{invalid_input, _}`, `{non_determinism, _}` ...).
#![warn(missing_docs)]
#![deny(unused_must_use)]

pub mod error;
pub mod event;
pub mod history;
pub mod payload;
pub mod replay;
pub mod retry;
pub mod store;

pub use error::Error;
pub use event::{Event, EventKind};
