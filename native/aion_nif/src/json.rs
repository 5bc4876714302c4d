//! JSON codec NIFs: the one place Erlang terms become JSON text and back.
//!
//! Each comes twice: on a normal scheduler for small payloads, and on a dirty CPU
//! scheduler for large ones (`aion_flow_ffi:json_encode/1` and `json_decode/1` choose by
//! size), so a large payload never holds a normal scheduler.

use rustler::{Encoder, Env, Term};

use crate::convert::{json_arg, term_to_value, value_to_term};
use crate::guard::reply;

fn encode<'a>(env: Env<'a>, term: Term<'a>) -> Term<'a> {
    reply(env, || {
        let value = term_to_value(term)?;
        Ok(value.to_string().encode(env))
    })
}

fn decode<'a>(env: Env<'a>, json: Term<'a>) -> Term<'a> {
    reply(env, || {
        let value = json_arg(json, "JSON text")?;
        Ok(value_to_term(env, &value))
    })
}

/// `nif_json_encode(Term) -> {ok, Json} | {error, {invalid_input, Detail}}`.
#[rustler::nif]
fn nif_json_encode<'a>(env: Env<'a>, term: Term<'a>) -> Term<'a> {
    encode(env, term)
}

/// `nif_json_encode_dirty(Term)`: `nif_json_encode` on a dirty CPU scheduler.
#[rustler::nif(schedule = "DirtyCpu")]
fn nif_json_encode_dirty<'a>(env: Env<'a>, term: Term<'a>) -> Term<'a> {
    encode(env, term)
}

/// `nif_json_decode(Json) -> {ok, Term} | {error, {invalid_input, Detail}}`.
#[rustler::nif]
fn nif_json_decode<'a>(env: Env<'a>, json: Term<'a>) -> Term<'a> {
    decode(env, json)
}

/// `nif_json_decode_dirty(Json)`: `nif_json_decode` on a dirty CPU scheduler.
#[rustler::nif(schedule = "DirtyCpu")]
fn nif_json_decode_dirty<'a>(env: Env<'a>, json: Term<'a>) -> Term<'a> {
    decode(env, json)
}
