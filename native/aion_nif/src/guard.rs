//! Keeps panics and `aion_core` errors from crossing the NIF boundary as exceptions.

use std::panic::{catch_unwind, AssertUnwindSafe};

use aion_core::Error;
use rustler::{Encoder, Env, Term};

mod atoms {
    rustler::atoms! { ok, error }
}

/// Runs `body`; `Ok(term)` becomes `{ok, Term}`, `Err(e)` becomes `{error, <<"prefix: detail">>}`
/// and a panic becomes `{error, <<"internal: ...">>}`.
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

/// `{error, <<"prefix: detail">>}`.
pub(crate) fn error_term<'a>(env: Env<'a>, err: &Error) -> Term<'a> {
    (atoms::error(), err.to_wire()).encode(env)
}
