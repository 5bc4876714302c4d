//! Signal, update, child-workflow and fan-out NIFs.

use aion_core::event::{ChildStatus, Delivery, Vocabulary};
use aion_core::replay::{Awaitable, ChildPolicy, Outgoing, Recorded, Run, Step};
use aion_core::Error;
use rustler::{Atom, Encoder, Env, ResourceArc, Term};

use crate::convert::{
    json_arg, name_arg, optional_name_arg, payload_arg, stamp_args, text_arg, u64_arg,
};
use crate::guard::reply;
use crate::run::{children_term, step_term, stop_term, RunResource};

mod atoms {
    rustler::atoms! { ok, activity, child, delivered, deliver }
}

/// `nif_run_signal_step(Run, Name, NowMs, Tag)`: the await step of `receive_signal`.
pub(crate) fn nif_run_signal_step<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    name: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let name = name_arg(name, "signal name")?;
        let (now, tag) = stamp_args(now, tag)?;
        let mut run = resource.lock()?;
        let step = run.signal_step(&name, now)?;
        step_term(&resource, &run, env, step, tag)
    })
}

/// `nif_run_send_signal(Run, Target, Name, PayloadJson, NowMs, Tag)` →
/// `{ok, {done | recording, {delivered, Result}}}` or
/// `{ok, {done | recording, {deliver, Ordinal, SignalId}}}`.
pub(crate) fn nif_run_send_signal<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    target: Term<'a>,
    name: Term<'a>,
    payload: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let target = name_arg(target, "target workflow id")?;
        let name = name_arg(name, "signal name")?;
        let payload = payload_arg(payload, "signal payload")?;
        let (now, tag) = stamp_args(now, tag)?;
        let mut run = resource.lock()?;
        let answer = run.send_signal(&target, &name, payload, now)?;
        let encode = |out: Outgoing| match out {
            Outgoing::Delivered(result) => (atoms::delivered(), result.name()).encode(env),
            Outgoing::Deliver { ordinal, signal_id } => {
                (atoms::deliver(), ordinal, signal_id).encode(env)
            }
        };
        let answer = match answer {
            Recorded::Replayed(out) => Recorded::Replayed(encode(out)),
            Recorded::Live(out, append) => Recorded::Live(encode(out), append),
        };
        resource.recorded(&run, env, answer, tag)
    })
}

/// `nif_run_signal_delivered(Run, Ordinal, Result, NowMs, Tag) -> {ok, done | recording}`.
pub(crate) fn nif_run_signal_delivered<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    ordinal: Term<'a>,
    result: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let ordinal = u64_arg(ordinal, "signal ordinal")?;
        let result = Delivery::parse(&text_arg(result, "delivery result")?)?;
        let (now, tag) = stamp_args(now, tag)?;
        let mut run = resource.lock()?;
        let append = run.signal_delivered(ordinal, result, now)?;
        resource.maybe_submit(&run, env, append, tag)
    })
}

/// `nif_run_accept_update(Run, UpdateId, Name, ArgsJson, NowMs, Tag) -> {ok, recording}`.
pub(crate) fn nif_run_accept_update<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    update_id: Term<'a>,
    name: Term<'a>,
    arguments: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let update_id = text_arg(update_id, "update id")?;
        let name = name_arg(name, "update name")?;
        let args = payload_arg(arguments, "update arguments")?;
        let (now, tag) = stamp_args(now, tag)?;
        let mut run = resource.lock()?;
        let append = run.accept_update(&update_id, &name, args, now)?;
        resource.maybe_submit(&run, env, Some(append), tag)
    })
}

/// `nif_run_complete_update(Run, UpdateId, ok | error, Json, NowMs, Tag)` →
/// `{ok, done | recording}`.
pub(crate) fn nif_run_complete_update<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    update_id: Term<'a>,
    kind: Atom,
    value: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let update_id = text_arg(update_id, "update id")?;
        let value = json_arg(value, "update result")?;
        let (now, tag) = stamp_args(now, tag)?;
        let result = if kind == atoms::ok() {
            Ok(value)
        } else {
            Err(value)
        };
        let mut run = resource.lock()?;
        let append = match run.complete_update(&update_id, result, now)? {
            Recorded::Replayed(()) => None,
            Recorded::Live((), append) => Some(append),
        };
        resource.maybe_submit(&run, env, append, tag)
    })
}

/// `nif_run_start_child(Run, Type, InputJson, ChildId | null, Policy, NowMs, Tag)` →
/// `{ok, {done | recording, {Ordinal, ChildId, Create}}}`: create the child (idempotently)
/// when `Create` is true, once the append is durable.
#[allow(clippy::too_many_arguments)] // one argument per field of ChildStarted
pub(crate) fn nif_run_start_child<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    workflow_type: Term<'a>,
    input: Term<'a>,
    child_id: Term<'a>,
    policy: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let workflow_type = name_arg(workflow_type, "child workflow type")?;
        let input = payload_arg(input, "child input")?;
        let child_id = optional_name_arg(child_id, "child workflow id")?;
        let policy = ChildPolicy::parse(&text_arg(policy, "parent-close policy")?)?;
        let (now, tag) = stamp_args(now, tag)?;
        let mut run = resource.lock()?;
        let answer = run.start_child(&workflow_type, input, child_id, policy, now)?;
        let encode =
            |s: aion_core::replay::ChildStart| (s.ordinal, s.workflow_id, s.create).encode(env);
        let answer = match answer {
            Recorded::Replayed(s) => Recorded::Replayed(encode(s)),
            Recorded::Live(s, append) => Recorded::Live(encode(s), append),
        };
        resource.recorded(&run, env, answer, tag)
    })
}

/// `nif_run_child_step(Run, Ordinal, NowMs, Tag)`: the await step of a child.
pub(crate) fn nif_run_child_step<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    ordinal: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let ordinal = u64_arg(ordinal, "child correlation id")?;
        let (now, tag) = stamp_args(now, tag)?;
        let mut run = resource.lock()?;
        let step = run.child_step(ordinal, now)?;
        step_term(&resource, &run, env, step, tag)
    })
}

/// `nif_run_child_completed(Run, Ordinal, Status, ValueJson, NowMs, Tag)` →
/// `{ok, done | recording}`.
pub(crate) fn nif_run_child_completed<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    ordinal: Term<'a>,
    status: Term<'a>,
    value: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let ordinal = u64_arg(ordinal, "child correlation id")?;
        let status = ChildStatus::parse(&text_arg(status, "child status")?)?;
        let value = json_arg(value, "child outcome")?;
        let (now, tag) = stamp_args(now, tag)?;
        let mut run = resource.lock()?;
        let append = run.child_completed(ordinal, status, value, now)?;
        resource.maybe_submit(&run, env, append, tag)
    })
}

/// `nif_run_select(Run, [{activity | child, Ordinal}], NowMs, Tag) -> {ok, {Index, Step}}`:
/// the first item to settle in history order, or the live work to do while none has
/// (`Index` is 0-based).
pub(crate) fn nif_run_select<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    items: Vec<(Atom, u64)>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let pick = |run: &mut Run, items: &[Awaitable], now| Ok(vec![run.select(items, now)?]);
        select(env, &resource, items, now, tag, pick)?
            .pop()
            .ok_or_else(|| Error::Internal("select answered nothing".into()))
    })
}

/// `nif_run_select_settled(Run, [{activity | child, Ordinal}], NowMs, Tag) ->
/// {ok, [{Index, Step}]}`: every item that has settled, in history order, up to and
/// including the first that is not a success — what `nif_run_select` would answer call
/// after call, in one call (a fan-out of N then costs O(N) instead of O(N²)); while none
/// has, the one answer of `nif_run_select`.
pub(crate) fn nif_run_select_settled<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    items: Vec<(Atom, u64)>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        Ok(select(env, &resource, items, now, tag, Run::select_settled)?.encode(env))
    })
}

/// Runs `pick` on the run over the awaited `items` and encodes each `{Index, Step}` it
/// answers (a step's events submitted or kept back, see `step_term`).
fn select<'a>(
    env: Env<'a>,
    resource: &ResourceArc<RunResource>,
    items: Vec<(Atom, u64)>,
    now: Term<'a>,
    tag: Term<'a>,
    pick: impl FnOnce(&mut Run, &[Awaitable], i64) -> Result<Vec<(usize, Step)>, Error>,
) -> Result<Vec<Term<'a>>, Error> {
    let items = awaitables(items)?;
    let (now, tag) = stamp_args(now, tag)?;
    let mut run = resource.lock()?;
    let steps = pick(&mut run, &items, now)?;
    steps
        .into_iter()
        .map(|(index, step)| Ok((index, step_term(resource, &run, env, step, tag)?).encode(env)))
        .collect()
}

fn awaitables(items: Vec<(Atom, u64)>) -> Result<Vec<Awaitable>, Error> {
    items
        .into_iter()
        .map(|(kind, ordinal)| {
            if kind == atoms::activity() {
                Ok(Awaitable::Activity(ordinal))
            } else if kind == atoms::child() {
                Ok(Awaitable::Child(ordinal))
            } else {
                Err(Error::InvalidInput(
                    "a select item is {activity | child, Ordinal}".into(),
                ))
            }
        })
        .collect()
}

/// `nif_run_cancel_activity(Run, Ordinal, NowMs, Tag)` →
/// `{ok, {done | recording, [{Ordinal, Attempt}], []}}`.
pub(crate) fn nif_run_cancel_activity<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    ordinal: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let ordinal = u64_arg(ordinal, "correlation id")?;
        let (now, tag) = stamp_args(now, tag)?;
        let mut run = resource.lock()?;
        let stop = run.cancel_activity(ordinal, now)?;
        stop_term(&resource, &run, env, stop, tag)
    })
}

/// `nif_run_open_children(Run) -> {ok, [{ChildId, Policy}]}`: children started and not
/// closed, for the parent-close policy when the run closes.
pub(crate) fn nif_run_open_children(env: Env<'_>, resource: ResourceArc<RunResource>) -> Term<'_> {
    reply(env, || {
        let open = resource.lock()?.open_children();
        Ok(children_term(env, &open))
    })
}
