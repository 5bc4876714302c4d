//! Conversions between Erlang terms and JSON values, and argument decoding that reports
//! bad input as an [`Error::InvalidInput`] instead of raising `badarg`.
//!
//! Terms to JSON: maps with binary or atom keys → objects; proper lists → arrays; UTF-8
//! binaries → strings; integers and floats → numbers; `true`/`false`/`null` → literals;
//! any other atom → a string. Tuples, pids, refs, ports, funs, non-UTF-8 binaries and
//! improper lists are refused with an error naming what was found.
//!
//! JSON to terms: objects → maps with binary keys, arrays → lists, strings → binaries,
//! `null` → the atom `null`.

use aion_core::payload::Payload;
use aion_core::Error;
use rustler::types::map::MapIterator;
use rustler::{Atom, Binary, Encoder, Env, Term, TermType};
use serde_json::{Map, Number, Value};

mod atoms {
    rustler::atoms! { null, true_ = "true", false_ = "false" }
}

use aion_core::payload::{too_deep, MAX_DEPTH};

/// Converts a term to a JSON value.
pub(crate) fn term_to_value(term: Term<'_>) -> Result<Value, Error> {
    to_value(term, 0)
}

fn bad(what: &str) -> Error {
    Error::InvalidInput(format!("not JSON-compatible: {what}"))
}

fn to_value(term: Term<'_>, depth: usize) -> Result<Value, Error> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    match term.get_type() {
        TermType::Atom => {
            let atom: Atom = term.decode().map_err(|_| bad("an unreadable atom"))?;
            if atom == atoms::null() {
                Ok(Value::Null)
            } else if atom == atoms::true_() {
                Ok(Value::Bool(true))
            } else if atom == atoms::false_() {
                Ok(Value::Bool(false))
            } else {
                Ok(Value::String(
                    atom.to_term(term.get_env())
                        .atom_to_string()
                        .map_err(|_| bad("an unreadable atom"))?,
                ))
            }
        }
        TermType::Binary => Ok(Value::String(binary_to_string(term, "a binary")?)),
        TermType::Integer => {
            if let Ok(i) = term.decode::<i64>() {
                Ok(Value::from(i))
            } else if let Ok(u) = term.decode::<u64>() {
                Ok(Value::from(u))
            } else {
                Err(bad("an integer outside the 64-bit range"))
            }
        }
        TermType::Float => {
            let f: f64 = term.decode().map_err(|_| bad("an unreadable float"))?;
            Number::from_f64(f)
                .map(Value::Number)
                .ok_or_else(|| bad("a non-finite float"))
        }
        TermType::List => {
            let len = term.list_length().map_err(|_| bad("an improper list"))?;
            let mut items = Vec::with_capacity(len);
            let mut iter = term
                .into_list_iterator()
                .map_err(|_| bad("an improper list"))?;
            for item in iter.by_ref() {
                items.push(to_value(item, depth + 1)?);
            }
            Ok(Value::Array(items))
        }
        TermType::Map => {
            let iter = MapIterator::new(term).ok_or_else(|| bad("an unreadable map"))?;
            let mut object = Map::new();
            for (key, value) in iter {
                let key = match key.get_type() {
                    TermType::Binary => binary_to_string(key, "a map key")?,
                    TermType::Atom => key
                        .atom_to_string()
                        .map_err(|_| bad("an unreadable atom key"))?,
                    _ => return Err(bad("a map key that is not a binary or an atom")),
                };
                if object.contains_key(&key) {
                    return Err(bad(&format!("a map with the key {key:?} twice")));
                }
                object.insert(key, to_value(value, depth + 1)?);
            }
            Ok(Value::Object(object))
        }
        TermType::Tuple => Err(bad("a tuple")),
        TermType::Pid => Err(bad("a pid")),
        TermType::Port => Err(bad("a port")),
        TermType::Ref => Err(bad("a reference")),
        TermType::Fun => Err(bad("a fun")),
        TermType::Unknown => Err(bad("an unknown term")),
    }
}

fn binary_to_string(term: Term<'_>, what: &str) -> Result<String, Error> {
    let bin: Binary = term
        .decode()
        .map_err(|_| bad(&format!("{what} that is a bitstring")))?;
    std::str::from_utf8(bin.as_slice())
        .map(str::to_string)
        .map_err(|_| bad(&format!("{what} that is not UTF-8")))
}

/// Converts a JSON value to a term.
pub(crate) fn value_to_term<'a>(env: Env<'a>, value: &Value) -> Term<'a> {
    match value {
        Value::Null => atoms::null().encode(env),
        Value::Bool(b) => b.encode(env),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.encode(env)
            } else if let Some(u) = n.as_u64() {
                u.encode(env)
            } else {
                n.as_f64().unwrap_or(0.0).encode(env)
            }
        }
        Value::String(s) => s.encode(env),
        Value::Array(items) => items
            .iter()
            .map(|v| value_to_term(env, v))
            .collect::<Vec<_>>()
            .encode(env),
        Value::Object(object) => {
            let mut map = Term::map_new(env);
            for (k, v) in object {
                if let Ok(next) = map.map_put(k.as_str(), value_to_term(env, v)) {
                    map = next;
                }
            }
            map
        }
    }
}

/// A map whose top-level keys are atoms (field names we own), values converted from JSON.
pub(crate) fn object_to_atom_map<'a>(env: Env<'a>, object: &Map<String, Value>) -> Term<'a> {
    let mut map = Term::map_new(env);
    for (k, v) in object {
        if let Ok(atom) = Atom::from_str(env, k) {
            if let Ok(next) = map.map_put(atom, value_to_term(env, v)) {
                map = next;
            }
        }
    }
    map
}

/// A UTF-8 binary argument; anything else is an [`Error::InvalidInput`] naming `what`.
pub(crate) fn text_arg(term: Term<'_>, what: &str) -> Result<String, Error> {
    if term.get_type() != TermType::Binary {
        return Err(Error::InvalidInput(format!("{what} must be a binary")));
    }
    let bin: Binary = term
        .decode()
        .map_err(|_| Error::InvalidInput(format!("{what} must be a binary")))?;
    std::str::from_utf8(bin.as_slice())
        .map(str::to_string)
        .map_err(|_| Error::InvalidInput(format!("{what} must be UTF-8")))
}

/// The longest id, type or name (bytes).
const MAX_NAME_BYTES: usize = 255;

/// An id, a type or a name: a UTF-8 binary of 1 to 255 bytes.
pub(crate) fn name_arg(term: Term<'_>, what: &str) -> Result<String, Error> {
    let name = text_arg(term, what)?;
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(Error::InvalidInput(format!(
            "{what} must be 1 to {MAX_NAME_BYTES} bytes, not {}",
            name.len()
        )));
    }
    Ok(name)
}

/// A JSON text argument (a binary), parsed and checked against the payload limits.
pub(crate) fn json_arg(term: Term<'_>, what: &str) -> Result<Value, Error> {
    let text = text_arg(term, what)?;
    let value = serde_json::from_str(&text)
        .map_err(|e| Error::InvalidInput(format!("{what} is not JSON: {e}")))?;
    aion_core::payload::check_depth(&value)?;
    Ok(value)
}

/// A payload argument (JSON text, a binary): checked and kept as the text it is (see
/// `aion_core::payload::Payload`).
pub(crate) fn payload_arg(term: Term<'_>, what: &str) -> Result<Payload, Error> {
    Payload::from_text(text_arg(term, what)?, what)
}

/// A non-negative integer argument.
pub(crate) fn u64_arg(term: Term<'_>, what: &str) -> Result<u64, Error> {
    term.decode::<u64>()
        .map_err(|_| Error::InvalidInput(format!("{what} must be a non-negative integer")))
}

/// An integer argument.
pub(crate) fn i64_arg(term: Term<'_>, what: &str) -> Result<i64, Error> {
    term.decode::<i64>()
        .map_err(|_| Error::InvalidInput(format!("{what} must be an integer")))
}

/// The `NowMs` and `Tag` arguments every recording NIF takes: the time stamped on new
/// events and the tag of the `{aion_durable, Tag, _}` answer.
pub(crate) fn stamp_args(now: Term<'_>, tag: Term<'_>) -> Result<(i64, u64), Error> {
    Ok((i64_arg(now, "time")?, u64_arg(tag, "tag")?))
}

pub(crate) fn is_null(term: Term<'_>) -> bool {
    term.decode::<Atom>().is_ok_and(|a| a == atoms::null())
}

/// A UTF-8 binary argument, or the atom `null`.
pub(crate) fn optional_text_arg(term: Term<'_>, what: &str) -> Result<Option<String>, Error> {
    if is_null(term) {
        Ok(None)
    } else {
        text_arg(term, what).map(Some)
    }
}

/// An id or a name (see [`name_arg`]), or the atom `null`.
pub(crate) fn optional_name_arg(term: Term<'_>, what: &str) -> Result<Option<String>, Error> {
    if is_null(term) {
        Ok(None)
    } else {
        name_arg(term, what).map(Some)
    }
}
