//! Keeps panics and `aion_core` errors from crossing the NIF boundary as exceptions, and
//! gives every error one shape on the BEAM side.
//!
//! An error is `{error, Reason}` with `Reason` a tagged tuple whose first element is the
//! error's kind ([`Error::kind`]) as an atom: `{invalid_input, Detail}`,
//! `{not_found, Detail}`, `{not_running, Detail}`, `{not_started, Detail}`,
//! `{already_exists, Detail}`,
//! `{stale_head, Detail}`, `{inbox_pending, Detail}`, `{store, Detail}`, `{corrupt, Detail}`,
//! `{internal, Detail}`,
//! `{payload_too_large, Size, Limit}` and
//! `{non_determinism, #{seq, recorded, requested}}`. Details are binaries for people; code
//! matches on the atoms.

use std::panic::{catch_unwind, AssertUnwindSafe};

use aion_core::Error;
use rustler::{Atom, Encoder, Env, Term};

mod atoms {
    rustler::atoms! { ok, error, seq, recorded, requested }
}

/// Runs `body`; `Ok(term)` becomes `{ok, Term}`, `Err(e)` becomes `{error, Reason}` (see
/// [`reason_term`]) and a panic becomes `{error, {internal, Detail}}`.
pub(crate) fn reply<'a>(env: Env<'a>, body: impl FnOnce() -> Result<Term<'a>, Error>) -> Term<'a> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(term)) => (atoms::ok(), term).encode(env),
        Ok(Err(err)) => error_term(env, &err),
        Err(panic) => {
            let detail = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            error_term(
                env,
                &Error::Internal(format!("panic in aion_nif: {detail}")),
            )
        }
    }
}

/// `{error, Reason}`.
pub(crate) fn error_term<'a>(env: Env<'a>, err: &Error) -> Term<'a> {
    (atoms::error(), reason_term(env, err)).encode(env)
}

/// The reason term of `err`: a tuple tagged with its kind.
pub(crate) fn reason_term<'a>(env: Env<'a>, err: &Error) -> Term<'a> {
    let kind = match Atom::from_str(env, err.kind()) {
        Ok(atom) => atom,
        Err(_) => return (atoms::error(), err.detail()).encode(env),
    };
    match err {
        Error::NonDeterminism {
            seq,
            recorded,
            requested,
        } => {
            let report = Term::map_from_pairs(
                env,
                &[
                    (atoms::seq().encode(env), seq.encode(env)),
                    (atoms::recorded().encode(env), recorded.encode(env)),
                    (atoms::requested().encode(env), requested.encode(env)),
                ],
            )
            .unwrap_or_else(|_| err.detail().encode(env));
            (kind, report).encode(env)
        }
        Error::PayloadTooLarge { size, limit } => (kind, *size, *limit).encode(env),
        _ => (kind, err.detail()).encode(env),
    }
}
