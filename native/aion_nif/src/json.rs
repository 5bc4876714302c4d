//! JSON codec NIFs: the one place Erlang terms become JSON text and back.

use rustler::{Encoder, Env, Term};

use crate::convert::{json_arg, term_to_value, value_to_term};
use crate::guard::reply;

/// `nif_json_encode(Term) -> {ok, Json} | {error, <<"invalid: not JSON-compatible: ...">>}`.
#[rustler::nif]
fn nif_json_encode<'a>(env: Env<'a>, term: Term<'a>) -> Term<'a> {
    reply(env, || {
        let value = term_to_value(term)?;
        Ok(value.to_string().encode(env))
    })
}

/// `nif_json_decode(Json) -> {ok, Term} | {error, <<"invalid: ...">>}`.
#[rustler::nif]
fn nif_json_decode<'a>(env: Env<'a>, json: Term<'a>) -> Term<'a> {
    reply(env, || {
        let value = json_arg(json, "JSON text")?;
        Ok(value_to_term(env, &value))
    })
}
