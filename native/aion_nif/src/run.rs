//! The run resource: one workflow run's replay state ([`aion_core::replay::Run`]), owned by
//! the run's workflow process, and the NIFs the workflow calls through `aion_flow_ffi`.
//!
//! Every NIF here is cheap (no I/O on the scheduler): when a command needs events written,
//! the append goes to the commit thread and the NIF returns at once; the caller then waits
//! for `{aion_durable, Tag, ok}` before it reveals anything (record before you reveal).

use std::sync::{Mutex, MutexGuard};

use aion_core::replay::{Append, AttemptOutcome, AttemptTask, Completion, Dispatch, Run, Step};
use aion_core::Error;
use rustler::{Atom, Encoder, Env, Resource, ResourceArc, Term};
use serde_json::Value;

use crate::convert::{json_arg, stamp_args, text_arg, u64_arg};
use crate::engine::EngineResource;
use crate::guard::reply;

mod atoms {
    rustler::atoms! {
        ok, error, infinity,
        replayed, live, completed, failed, wait, retry_in, recording, start, stale,
    }
}

/// One run's replay state, bound to the engine whose store holds its history.
pub(crate) struct RunResource {
    engine: ResourceArc<EngineResource>,
    run: Mutex<Run>,
}

#[rustler::resource_impl]
impl Resource for RunResource {}

impl RunResource {
    fn lock(&self) -> Result<MutexGuard<'_, Run>, Error> {
        self.run
            .lock()
            .map_err(|_| Error::Internal("run state lock poisoned".into()))
    }

    fn submit(&self, run: &Run, env: Env<'_>, append: Append, tag: u64) -> Result<(), Error> {
        self.engine
            .open()?
            .submit(run.workflow_id(), append, env.pid(), tag);
        Ok(())
    }
}

fn task_term<'a>(env: Env<'a>, task: &AttemptTask) -> Term<'a> {
    let timeout = match task.start_to_close_ms {
        Some(ms) => ms.encode(env),
        None => atoms::infinity().encode(env),
    };
    (
        task.attempt,
        task.name.as_str(),
        task.input.to_string(),
        timeout,
        task.task_queue.as_str(),
    )
        .encode(env)
}

/// `nif_run_open(Engine, WorkflowId) -> {ok, {Run, Type, InputJson}} | {error, Msg}`: reads
/// the whole history once and builds the replay state.
#[rustler::nif(schedule = "DirtyIo")]
fn nif_run_open<'a>(
    env: Env<'a>,
    engine: ResourceArc<EngineResource>,
    workflow_id: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let id = text_arg(workflow_id, "workflow id")?;
        let history = engine.open()?.store.read(&id, 1)?;
        let run = Run::load(&id, history)?;
        let (ty, input) = (run.workflow_type().to_string(), run.input().to_string());
        let resource = ResourceArc::new(RunResource {
            engine,
            run: Mutex::new(run),
        });
        Ok((resource, ty, input).encode(env))
    })
}

/// `nif_run_dispatch_activity(Run, Name, InputJson, ConfigJson, NowMs, Tag)` →
/// `{ok, {replayed, Ordinal}}` (answered from history) or `{ok, {live, Ordinal, Task}}`
/// (the append is on its way: wait for `{aion_durable, Tag, ok}`, then run `Task` =
/// `{Attempt, Name, InputJson, TimeoutMs | infinity, TaskQueue}`).
#[rustler::nif]
fn nif_run_dispatch_activity<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    name: Term<'a>,
    input: Term<'a>,
    config: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let name = text_arg(name, "activity name")?;
        let input = json_arg(input, "activity input")?;
        let config = json_arg(config, "activity options")?;
        let (now, tag) = stamp_args(now, tag)?;
        let mut run = resource.lock()?;
        match run.dispatch_activity(&name, input, &config, now)? {
            Dispatch::Replayed { ordinal } => Ok((atoms::replayed(), ordinal).encode(env)),
            Dispatch::Live {
                ordinal,
                append,
                task,
            } => {
                resource.submit(&run, env, append, tag)?;
                Ok((atoms::live(), ordinal, task_term(env, &task)).encode(env))
            }
        }
    })
}

/// `nif_run_activity_step(Run, Ordinal, NowMs, Tag)` → `{ok, {completed, ResultJson}}`,
/// `{ok, {failed, ErrorJson}}`, `{ok, wait}`, `{ok, {retry_in, Ms}}`, `{ok, recording}`
/// (wait for Tag, then step again) or `{ok, {start, Task}}` (wait for Tag, then run Task).
#[rustler::nif]
fn nif_run_activity_step<'a>(
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
        Ok(match run.activity_step(ordinal, now)? {
            Step::Done(Ok(v)) => (atoms::completed(), v.to_string()).encode(env),
            Step::Done(Err(v)) => (atoms::failed(), v.to_string()).encode(env),
            Step::Wait => atoms::wait().encode(env),
            Step::RetryIn(ms) => (atoms::retry_in(), ms).encode(env),
            Step::Record(append) => {
                resource.submit(&run, env, append, tag)?;
                atoms::recording().encode(env)
            }
            Step::Start { append, task } => {
                resource.submit(&run, env, append, tag)?;
                (atoms::start(), task_term(env, &task)).encode(env)
            }
        })
    })
}

/// `nif_run_activity_result(Run, Ordinal, Attempt, OutcomeJson, NowMs, Tag)` where
/// `OutcomeJson` is `{"ok": Result}` or `{"error": {"type", "message", "retryable"}}` →
/// `{ok, recording}` (wait for Tag) or `{ok, stale}` (a late or duplicate report, ignored).
#[rustler::nif]
fn nif_run_activity_result<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    ordinal: Term<'a>,
    attempt: Term<'a>,
    outcome: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let ordinal = u64_arg(ordinal, "correlation id")?;
        let attempt = u64_arg(attempt, "attempt")?;
        let attempt = u32::try_from(attempt)
            .map_err(|_| Error::InvalidInput("attempt out of range".into()))?;
        let outcome = parse_outcome(json_arg(outcome, "attempt outcome")?)?;
        let (now, tag) = stamp_args(now, tag)?;
        let mut run = resource.lock()?;
        match run.activity_result(ordinal, attempt, outcome, now)? {
            Some(append) => {
                resource.submit(&run, env, append, tag)?;
                Ok(atoms::recording().encode(env))
            }
            None => Ok(atoms::stale().encode(env)),
        }
    })
}

fn parse_outcome(value: Value) -> Result<AttemptOutcome, Error> {
    let bad =
        || Error::InvalidInput("attempt outcome must be {\"ok\": _} or {\"error\": {...}}".into());
    let Value::Object(mut object) = value else {
        return Err(bad());
    };
    if let Some(result) = object.remove("ok") {
        return Ok(AttemptOutcome::Completed(result));
    }
    let error = object.remove("error").ok_or_else(bad)?;
    let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_string);
    Ok(AttemptOutcome::Failed {
        error_type: text("type").unwrap_or_else(|| "error".into()),
        message: text("message").unwrap_or_default(),
        retryable: error
            .get("retryable")
            .and_then(Value::as_bool)
            .unwrap_or(true),
    })
}

/// `nif_run_complete(Run, ok | error, Json, NowMs, Tag)` → `{ok, replayed}` or
/// `{ok, recording}` (wait for Tag: the run is closed once it is durable).
#[rustler::nif]
fn nif_run_complete<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    kind: Atom,
    value: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let value = json_arg(value, "workflow outcome")?;
        let (now, tag) = stamp_args(now, tag)?;
        let result = if kind == atoms::ok() {
            Ok(value)
        } else {
            Err(value)
        };
        let mut run = resource.lock()?;
        match run.complete(result, now)? {
            Completion::Replayed => Ok(atoms::replayed().encode(env)),
            Completion::Live(append) => {
                resource.submit(&run, env, append, tag)?;
                Ok(atoms::recording().encode(env))
            }
        }
    })
}
