//! Activity NIFs: dispatch, await steps and attempt results.

use aion_core::payload::Payload;
use aion_core::replay::{Append, AttemptOutcome, Dispatch};
use aion_core::retry::ActivityOptions;
use aion_core::Error;
use rustler::{Encoder, Env, ResourceArc, Term};
use std::collections::BTreeMap;

use serde_json::value::RawValue;
use serde_json::Value;

use crate::answer::Dispatched;
use crate::convert::{json_arg, name_arg, payload_arg, stamp_args, text_arg, u64_arg};
use crate::guard::reply;
use crate::run::{step_term, RunResource};

mod atoms {
    rustler::atoms! { done }
}

/// `nif_run_dispatch_activity(Run, Name, InputJson, ConfigJson, NowMs, Tag)` →
/// `{ok, {replayed, Ordinal}}` (answered from history) or `{ok, {live, Ordinal, Task | none}}`
/// (the append is on its way: wait for `{aion_durable, Tag, ok}`, then run `Task` =
/// `{Ordinal, Attempt, Name, InputJson, TimeoutMs | infinity, TaskQueue, HeartbeatTimeoutMs |
/// infinity, LastHeartbeatJson | none, DeadlineLeftMs | infinity}` (see `answer::Task`);
/// `none` when the activity
/// was cancelled at once because a cancellation is waiting to be seen).
pub(crate) fn nif_run_dispatch_activity<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    name: Term<'a>,
    input: Term<'a>,
    config: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let name = name_arg(name, "activity name")?;
        let input = payload_arg(input, "activity input")?;
        let config = json_arg(config, "activity options")?;
        let (now, tag) = stamp_args(now, tag)?;
        let mut run = resource.lock()?;
        let dispatch = run.dispatch_activity(&name, input, &config, now)?;
        let answer = Dispatched::of(&dispatch);
        if let Dispatch::Live { append, .. } = dispatch {
            resource.submit(&run, env, append, tag)?;
        }
        Ok(answer.encode(env))
    })
}

/// `nif_run_activity_step(Run, Ordinal, NowMs, Tag)` → `{ok, {completed, ResultJson}}`,
/// `{ok, {failed, ErrorJson}}`, `{ok, cancelled}`, `{ok, timeout}`, `{ok, {wait, UntilMs |
/// infinity}}`, `{ok, {retry_in, Ms}}`, `{ok, recording}` (wait for Tag, then step again)
/// or `{ok, {start, Task}}` (wait for Tag, then run Task).
pub(crate) fn nif_run_activity_step<'a>(
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
        let step = run.activity_step(ordinal, now)?;
        step_term(&resource, &run, env, step, tag)
    })
}

/// Reads an attempt's outcome as the worker sends it: `{"ok": Result}` or
/// `{"error": {"type", "message", "retryable", "details"?}}` (`details`: the attempt's last
/// heartbeat details, when it sent any). The result is kept as the JSON text it came in (not parsed into a
/// tree and encoded again); a `null` result is a result.
fn parse_outcome(text: &str) -> Result<AttemptOutcome, Error> {
    let bad =
        || Error::InvalidInput("attempt outcome must be {\"ok\": _} or {\"error\": {...}}".into());
    let mut fields: BTreeMap<String, &RawValue> = serde_json::from_str(text).map_err(|_| bad())?;
    if let Some(result) = fields.remove("ok") {
        let result = Payload::from_text(result.get().to_string(), "activity result")?;
        return Ok(AttemptOutcome::Completed(result));
    }
    let error: Value = fields
        .remove("error")
        .and_then(|raw| serde_json::from_str(raw.get()).ok())
        .ok_or_else(bad)?;
    let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_string);
    Ok(AttemptOutcome::Failed {
        error_type: text("type").unwrap_or_else(|| "error".into()),
        message: text("message").unwrap_or_default(),
        retryable: error
            .get("retryable")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        // The attempt's last heartbeat details, when it sent any.
        details: error.get("details").filter(|d| !d.is_null()).cloned(),
    })
}

/// `nif_run_dispatch_activities(Run, [{Name, InputJson, ConfigJson}], NowMs, Tag)` →
/// `{ok, {done | recording, [{replayed, Ordinal} | {live, Ordinal, Task | none}]}}`: many
/// dispatches with one append (fan-out). Every item is checked before any is dispatched.
pub(crate) fn nif_run_dispatch_activities<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    calls: Vec<(Term<'a>, Term<'a>, Term<'a>)>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let calls = calls
            .into_iter()
            .map(|(name, input, config)| {
                let config = json_arg(config, "activity options")?;
                ActivityOptions::from_json(&config)?;
                Ok((
                    name_arg(name, "activity name")?,
                    payload_arg(input, "activity input")?,
                    config,
                ))
            })
            .collect::<Result<Vec<_>, aion_core::Error>>()?;
        let (now, tag) = stamp_args(now, tag)?;
        let mut run = resource.lock()?;
        let mut appends = Vec::new();
        let mut answers = Vec::with_capacity(calls.len());
        for (name, input, config) in calls {
            let dispatch = run.dispatch_activity(&name, input, &config, now)?;
            answers.push(Dispatched::of(&dispatch));
            if let Dispatch::Live { append, .. } = dispatch {
                appends.push(append);
            }
        }
        let state = resource.maybe_submit(&run, env, Append::merge(appends), tag)?;
        Ok((state, answers).encode(env))
    })
}

/// `nif_run_activity_results(Run, [{Ordinal, Attempt, OutcomeJson}], NowMs, Tag)` →
/// `{ok, done}`: records many attempt results (stale ones ignored). Only the run knows of
/// them yet, so their events wait for the run's next append (see `run.rs`): the workflow
/// code goes on at once.
pub(crate) fn nif_run_activity_results<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    results: Vec<(u64, u64, Term<'a>)>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let results = results
            .into_iter()
            .map(|(ordinal, attempt, outcome)| {
                let attempt = u32::try_from(attempt)
                    .map_err(|_| Error::InvalidInput("attempt out of range".into()))?;
                Ok((
                    ordinal,
                    attempt,
                    parse_outcome(&text_arg(outcome, "attempt outcome")?)?,
                ))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let (now, _tag) = stamp_args(now, tag)?;
        let mut run = resource.lock()?;
        let mut appends = Vec::new();
        for (ordinal, attempt, outcome) in results {
            appends.extend(run.activity_result(ordinal, attempt, outcome, now)?);
        }
        if let Some(append) = Append::merge(appends) {
            resource.defer(append)?;
        }
        Ok(atoms::done().encode(env))
    })
}
