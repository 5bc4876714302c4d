//! `aion_nif`: the rustler NIF library that exposes [`aion_core`] to the BEAM as the
//! module `aion_flow_ffi`.
//!
//! It stays thin: each entry point decodes its arguments (returning `{error, Msg}` for bad
//! input instead of raising), calls one `aion_core` function, and encodes the answer.
//! Appends are not written on the calling scheduler: they go to the group-commit writer
//! thread, which sends `{aion_durable, Tag, ok | {error, Msg}}` to the caller when the
//! append is durable.
#![warn(missing_docs)]

mod activity;
mod answer;
mod cluster;
mod command;
mod communication;
mod convert;
mod determinism;
mod engine;
mod guard;
mod json;
mod run;
mod timer;

rustler::init!("aion_flow_ffi");
