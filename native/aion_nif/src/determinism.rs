//! Determinism NIFs: workflow time, seeded randomness and ids, side effects, versioning.

use aion_core::replay::{Recorded, SideEffect};
use rustler::{Encoder, Env, ResourceArc, Term};

use crate::convert::{name_arg, payload_arg, stamp_args, u64_arg};
use crate::guard::reply;
use crate::run::RunResource;

mod atoms {
    rustler::atoms! { replayed, live }
}

/// `nif_run_now(Run) -> {ok, Ms}`: workflow time, identical on replay.
pub(crate) fn nif_run_now(env: Env<'_>, resource: ResourceArc<RunResource>) -> Term<'_> {
    reply(env, || Ok(resource.lock()?.now().encode(env)))
}

/// `nif_run_random(Run) -> {ok, Float}`: `[0, 1)`, seeded from the run.
pub(crate) fn nif_run_random(env: Env<'_>, resource: ResourceArc<RunResource>) -> Term<'_> {
    reply(env, || Ok(resource.lock()?.random().encode(env)))
}

/// `nif_run_uuid(Run) -> {ok, Binary}`: a v4 UUID seeded from the run.
pub(crate) fn nif_run_uuid(env: Env<'_>, resource: ResourceArc<RunResource>) -> Term<'_> {
    reply(env, || Ok(resource.lock()?.uuid().encode(env)))
}

/// `nif_run_side_effect(Run) -> {ok, {replayed, Json}} | {ok, {live, Ordinal}}`.
pub(crate) fn nif_run_side_effect(env: Env<'_>, resource: ResourceArc<RunResource>) -> Term<'_> {
    reply(env, || {
        Ok(match resource.lock()?.side_effect()? {
            SideEffect::Replayed(value) => (atoms::replayed(), value.text()).encode(env),
            SideEffect::Live { ordinal } => (atoms::live(), ordinal).encode(env),
        })
    })
}

/// `nif_run_side_effect_record(Run, Ordinal, Json, NowMs, Tag) -> {ok, recording}`.
pub(crate) fn nif_run_side_effect_record<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    ordinal: Term<'a>,
    value: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let ordinal = u64_arg(ordinal, "side effect")?;
        let value = payload_arg(value, "side effect value")?;
        let (now, tag) = stamp_args(now, tag)?;
        let mut run = resource.lock()?;
        let append = run.record_side_effect(ordinal, value, now)?;
        resource.maybe_submit(&run, env, Some(append), tag)
    })
}

/// `nif_run_patched(Run, ChangeId, NowMs, Tag) -> {ok, {done | recording, boolean()}}`.
pub(crate) fn nif_run_patched<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    change_id: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let change_id = name_arg(change_id, "change id")?;
        let (now, tag) = stamp_args(now, tag)?;
        let mut run = resource.lock()?;
        let answer: Recorded<bool> = run.patched(&change_id, now)?;
        resource.recorded(&run, env, answer, tag)
    })
}
