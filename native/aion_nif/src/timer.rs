//! Timer and `with_timeout` NIFs.

use rustler::{Encoder, Env, ResourceArc, Term};

use crate::convert::{name_arg, stamp_args, u64_arg};
use crate::guard::reply;
use crate::run::{step_term, RunResource};

/// `nif_run_timer_start(Run, Name, Ms, NowMs, Tag) -> {ok, {done | recording, TimerId}}`.
pub(crate) fn nif_run_timer_start<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    name: Term<'a>,
    ms: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let name = name_arg(name, "timer name")?;
        let ms = u64_arg(ms, "timer duration")?;
        let (now, tag) = stamp_args(now, tag)?;
        let mut run = resource.lock()?;
        let answer = run.start_timer(&name, ms, now)?;
        resource.recorded(&run, env, answer, tag)
    })
}

/// `nif_run_timer_step(Run, TimerId, NowMs, Tag)` → `{ok, {completed, <<"null">>}}` (fired),
/// `{ok, cancelled}`, `{ok, timeout}`, `{ok, {wait, UntilMs}}` or `{ok, recording}` (wait
/// for Tag, then step again).
pub(crate) fn nif_run_timer_step<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    timer_id: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let timer_id = u64_arg(timer_id, "timer id")?;
        let (now, tag) = stamp_args(now, tag)?;
        let mut run = resource.lock()?;
        let step = run.timer_step(timer_id, now)?;
        step_term(&resource, &run, env, step, tag)
    })
}

/// `nif_run_timer_cancel(Run, TimerId, NowMs, Tag) -> {ok, done | recording}`.
pub(crate) fn nif_run_timer_cancel<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    timer_id: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let timer_id = u64_arg(timer_id, "timer id")?;
        let (now, tag) = stamp_args(now, tag)?;
        let mut run = resource.lock()?;
        let append = run.cancel_timer(timer_id, now)?;
        resource.maybe_submit(&run, env, append, tag)
    })
}

/// `nif_run_scope_enter(Run, Ms, NowMs, Tag) -> {ok, {done | recording, ScopeId}}`.
pub(crate) fn nif_run_scope_enter<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    ms: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let ms = u64_arg(ms, "timeout")?;
        let (now, tag) = stamp_args(now, tag)?;
        let mut run = resource.lock()?;
        let answer = run.enter_scope(ms, now)?;
        resource.recorded(&run, env, answer, tag)
    })
}

/// `nif_run_scope_exit(Run, ScopeId, NowMs, Tag) -> {ok, {done | recording, TimedOut}}`.
pub(crate) fn nif_run_scope_exit<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    scope_id: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let scope_id = u64_arg(scope_id, "scope id")?;
        let (now, tag) = stamp_args(now, tag)?;
        let mut run = resource.lock()?;
        let (timed_out, append) = run.exit_scope(scope_id, now)?;
        let state = resource.maybe_submit(&run, env, append, tag)?;
        Ok((state, timed_out).encode(env))
    })
}
