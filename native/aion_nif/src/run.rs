//! The run resource: one workflow run's replay state ([`aion_core::replay::Run`]), owned by
//! the run's workflow process; the NIFs that create it (`nif_run_open`, `nif_run_new`,
//! `nif_run_from_history`) or read its inbox (`nif_run_take_inbox`), and the lifecycle
//! commands (complete, cancel, continue-as-new, terminate, time out, flush, closing) that
//! `nif_run_command` (`command.rs`) dispatches here — as it dispatches workflow commands
//! to `activity.rs`, `timer.rs`, `determinism.rs` and `communication.rs`.
//!
//! `nif_run_open` and `nif_run_take_inbox` read the store on a dirty I/O scheduler;
//! `nif_run_from_history` and `nif_run_new_dirty` parse on a dirty CPU scheduler. Every
//! command is cheap (no I/O on the scheduler): when a command needs events written, the append goes to the commit thread and the NIF answers
//! `recording`; the caller then waits for `{aion_durable, Tag, ok}` before it reveals
//! anything (record before you reveal). `done` means nothing had to be written.
//!
//! **One durable point per step.** What only the run itself learns — an attempt's result, a
//! timer firing, a lost attempt — is not written at once: its events wait in the run's
//! *pending* append ([`RunResource::defer`]) and the workflow code goes on. The next append
//! that must become durable before something leaves the run (an attempt started, a close,
//! a signal sent, a client answered) carries them along, in order, in the same commit; and
//! the run's process flushes them before it waits for anything ([`nif_run_flush`]). So
//! `ActivityCompleted(i)` and `ActivityScheduled(i + 1)` share one fsync. A crash before
//! that commit loses only what nobody outside has seen: replay redoes it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use aion_core::event::Vocabulary;
use aion_core::history::HistoryDocument;
use aion_core::replay::{Append, ChildPolicy, Recorded, Run, Step, Stop};
use aion_core::store::{closing, AppendRequest, InboxRule, Write};
use aion_core::{Error, EventKind};
use rustler::{Atom, Encoder, Env, Resource, ResourceArc, Term};

use crate::answer::StepAnswer;
use crate::convert::{i64_arg, json_arg, name_arg, payload_arg, stamp_args, text_arg, u64_arg};
use crate::engine::{request, EngineResource};
use crate::guard::reply;
use serde_json::Value;

mod atoms {
    rustler::atoms! { ok, null, done, open, recording, replayed, terminated, timed_out }
}

/// One run's replay state, bound to the engine whose store holds its history, or
/// detached (replaying an exported history: nothing can be recorded).
pub(crate) struct RunResource {
    engine: Option<ResourceArc<EngineResource>>,
    run: Mutex<Run>,
    /// Set when a detached run's code went past the recorded history.
    frontier: AtomicBool,
    /// The last inbox entry this incarnation took (its append may still be on its way).
    inbox_taken: AtomicU64,
    /// Events recorded in the run's state but not yet handed to the commit thread (see the
    /// module documentation). Only touched while the run's lock is held.
    pending: Mutex<Option<Append>>,
}

#[rustler::resource_impl]
impl Resource for RunResource {}

impl RunResource {
    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, Run>, Error> {
        self.run
            .lock()
            .map_err(|_| Error::Internal("run state lock poisoned".into()))
    }

    fn new(engine: Option<ResourceArc<EngineResource>>, run: Run) -> RunResource {
        RunResource {
            engine,
            run: Mutex::new(run),
            frontier: AtomicBool::new(false),
            inbox_taken: AtomicU64::new(0),
            pending: Mutex::new(None),
        }
    }

    /// Queues `append` to this run, after the pending events; the caller waits for `Tag`.
    /// A close goes in the same commit as the pending events but as a write of its own:
    /// the store refuses a close while the inbox holds entries (`inbox_pending`, the run
    /// then replays to take them), and that refusal must not take the pending events —
    /// an attempt's result — with it.
    pub(crate) fn submit(
        &self,
        run: &Run,
        env: Env<'_>,
        append: Append,
        tag: u64,
    ) -> Result<(), Error> {
        let of_run = |append| request(run.workflow_id(), run.run_id(), append);
        if InboxRule::of(&append.events) == InboxRule::MustBeEmpty {
            if let Some(pending) = self.take_pending()? {
                let writes = vec![
                    Write::group(vec![of_run(pending)]),
                    Write::group(vec![of_run(append)]),
                ];
                self.engine_or_frontier()?
                    .open()?
                    .submit_writes(env, writes, tag);
                return Ok(());
            }
        }
        let append = self.with_pending(append)?;
        self.submit_group(
            env,
            vec![request(run.workflow_id(), run.run_id(), append)],
            tag,
        )
    }

    /// Keeps `append` back until the next submit or flush (see the module documentation).
    pub(crate) fn defer(&self, append: Append) -> Result<(), Error> {
        self.engine_or_frontier()?;
        let mut pending = self.pending()?;
        *pending = Some(after(pending.take(), append));
        Ok(())
    }

    /// `append` preceded by the pending events (which it continues), taking them.
    fn with_pending(&self, append: Append) -> Result<Append, Error> {
        Ok(after(self.pending()?.take(), append))
    }

    /// Takes the pending events, if any.
    fn take_pending(&self) -> Result<Option<Append>, Error> {
        Ok(self.pending()?.take())
    }

    fn pending(&self) -> Result<MutexGuard<'_, Option<Append>>, Error> {
        self.pending
            .lock()
            .map_err(|_| Error::Internal("run pending lock poisoned".into()))
    }

    fn engine_or_frontier(&self) -> Result<&ResourceArc<EngineResource>, Error> {
        self.engine.as_ref().ok_or_else(|| {
            self.frontier.store(true, Ordering::SeqCst);
            Error::NotRunning("replay reached the end of the recorded history".into())
        })
    }

    fn submit_group(&self, env: Env<'_>, group: Vec<AppendRequest>, tag: u64) -> Result<(), Error> {
        self.engine_or_frontier()?.open()?.submit(env, group, tag);
        Ok(())
    }

    /// `done` when `append` is `None`, else queues it and answers `recording`.
    pub(crate) fn maybe_submit<'a>(
        &self,
        run: &Run,
        env: Env<'a>,
        append: Option<Append>,
        tag: u64,
    ) -> Result<Term<'a>, Error> {
        match append {
            Some(append) => {
                self.submit(run, env, append, tag)?;
                Ok(atoms::recording().encode(env))
            }
            None => Ok(atoms::done().encode(env)),
        }
    }

    /// `{done | recording, Value}` for a command that was replayed or recorded.
    pub(crate) fn recorded<'a, T: Encoder>(
        &self,
        run: &Run,
        env: Env<'a>,
        answer: Recorded<T>,
        tag: u64,
    ) -> Result<Term<'a>, Error> {
        let (value, append) = match answer {
            Recorded::Replayed(v) => (v, None),
            Recorded::Live(v, append) => (v, Some(append)),
        };
        let state = self.maybe_submit(run, env, append, tag)?;
        Ok((state, value).encode(env))
    }
}

/// `append` after `before`, which it continues: one append of both.
fn after(before: Option<Append>, append: Append) -> Append {
    match before {
        Some(mut before) => {
            before.events.extend(append.events);
            before
        }
        None => append,
    }
}

/// Encodes the answer of an await (activity or timer). `Start` and `RetryIn` are the
/// activity's own and encoded by its module; here they are never produced for timers.
pub(crate) fn step_term<'a>(
    resource: &RunResource,
    run: &Run,
    env: Env<'a>,
    step: Step,
    tag: u64,
) -> Result<Term<'a>, Error> {
    let answer = StepAnswer::of(&step);
    match step {
        // Only this run learns of it (a timer fired, an attempt was lost): step again
        // at once; it becomes durable with the next append.
        Step::Record(append) => resource.defer(append)?,
        Step::Start { append, .. } => resource.submit(run, env, append, tag)?,
        _ => {}
    }
    Ok(answer.encode(env))
}

/// `{done | recording, [{Ordinal, Attempt}], [{ChildId, Policy}]}`: what a stop recorded,
/// which running attempts to stop and which open children to apply their parent-close
/// policy to.
pub(crate) fn stop_term<'a>(
    resource: &RunResource,
    run: &Run,
    env: Env<'a>,
    stop: Stop,
    tag: u64,
) -> Result<Term<'a>, Error> {
    let state = resource.maybe_submit(run, env, stop.append, tag)?;
    Ok(stopped(env, state, &stop.stop, &stop.children))
}

/// `{State, [{Ordinal, Attempt}], [{ChildId, Policy}]}`: whether something is being
/// recorded, the attempts to stop and the children to apply the parent-close policy to.
fn stopped<'a>(
    env: Env<'a>,
    state: impl Encoder,
    attempts: &[(u64, u32)],
    children: &[(String, ChildPolicy)],
) -> Term<'a> {
    (state, attempts, children_term(env, children)).encode(env)
}

/// `[{ChildId, Policy}]`.
pub(crate) fn children_term<'a>(env: Env<'a>, children: &[(String, ChildPolicy)]) -> Term<'a> {
    children
        .iter()
        .map(|(id, policy)| (id.as_str(), policy.name()))
        .collect::<Vec<_>>()
        .encode(env)
}

/// `nif_run_open(Engine, WorkflowId) -> {ok, {Run, Type, InputJson, RunId, Deadline | null}}`:
/// reads the current run's whole history once and builds the replay state.
#[rustler::nif(schedule = "DirtyIo")]
fn nif_run_open<'a>(
    env: Env<'a>,
    engine: ResourceArc<EngineResource>,
    workflow_id: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let id = text_arg(workflow_id, "workflow id")?;
        let history = engine.open()?.store.read(&id, None, 1)?;
        let run = Run::load(&id, history)?;
        let ty = run.workflow_type().to_string();
        let input = run.input().text().to_string();
        let run_id = run.run_id().to_string();
        let deadline = match run.execution_deadline() {
            Some(d) => d.encode(env),
            None => atoms::null().encode(env),
        };
        let resource = ResourceArc::new(RunResource::new(Some(engine), run));
        Ok((resource, ty, input, run_id, deadline).encode(env))
    })
}

/// `nif_run_new(Engine, WorkflowId, Type, InputJson, RunId, OptsJson, NowMs)` →
/// `{ok, {Run, Deadline | null}}`: a new workflow's run, nothing written yet.
/// `WorkflowStarted` (with `OptsJson`'s `execution_deadline` and `parent_id`) is the
/// run's first pending event: it becomes durable with the run's first append — the first
/// command's, or the close — which the store refuses (`already_exists`) if the id is
/// taken. Until that append is durable nobody is told the workflow started.
#[rustler::nif]
#[allow(clippy::too_many_arguments)] // one argument per field of the start event
fn nif_run_new<'a>(
    env: Env<'a>,
    engine: ResourceArc<EngineResource>,
    workflow_id: Term<'a>,
    workflow_type: Term<'a>,
    input: Term<'a>,
    run_id: Term<'a>,
    opts: Term<'a>,
    now: Term<'a>,
) -> Term<'a> {
    new_run(
        env,
        engine,
        [workflow_id, workflow_type, input, run_id, opts, now],
    )
}

/// `nif_run_new_dirty(...)`: `nif_run_new` on a dirty CPU scheduler, for a large input
/// (parsing it must not hold a normal scheduler; `aion` chooses by the input's size).
#[rustler::nif(schedule = "DirtyCpu")]
#[allow(clippy::too_many_arguments)] // one argument per field of the start event
fn nif_run_new_dirty<'a>(
    env: Env<'a>,
    engine: ResourceArc<EngineResource>,
    workflow_id: Term<'a>,
    workflow_type: Term<'a>,
    input: Term<'a>,
    run_id: Term<'a>,
    opts: Term<'a>,
    now: Term<'a>,
) -> Term<'a> {
    new_run(
        env,
        engine,
        [workflow_id, workflow_type, input, run_id, opts, now],
    )
}

fn new_run<'a>(
    env: Env<'a>,
    engine: ResourceArc<EngineResource>,
    [workflow_id, workflow_type, input, run_id, opts, now]: [Term<'a>; 6],
) -> Term<'a> {
    reply(env, || {
        let workflow_id = name_arg(workflow_id, "workflow id")?;
        let opts = json_arg(opts, "start options")?;
        let workflow_type = name_arg(workflow_type, "workflow type")?;
        let input = payload_arg(input, "workflow input")?;
        let run_id = text_arg(run_id, "run id")?;
        let now = i64_arg(now, "time")?;
        engine.open()?;
        let mut event = Run::start_event(&workflow_type, input, &run_id, now);
        if let EventKind::WorkflowStarted {
            execution_deadline,
            parent_id,
            ..
        } = &mut event.kind
        {
            *execution_deadline = opts.get("execution_deadline").and_then(Value::as_i64);
            *parent_id = opts
                .get("parent_id")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        let run = Run::load(&workflow_id, vec![event.clone()])?;
        let deadline = match run.execution_deadline() {
            Some(d) => d.encode(env),
            None => atoms::null().encode(env),
        };
        let resource = RunResource::new(Some(engine), run);
        resource.defer(Append {
            expected_head: 0,
            events: vec![event],
        })?;
        Ok((ResourceArc::new(resource), deadline).encode(env))
    })
}

/// `nif_run_take_inbox(Run, NowMs, Tag) -> {ok, {done | recording, [{Ordinal, Attempt}],
/// [{ChildId, Policy}]}}`: reads the workflow's inbox and records the entries this run has
/// not taken yet (signals, cancellation requests, children's closes) with one append that
/// also removes them; `recording` means wait for `Tag`. The lists are what a cancellation
/// among them stopped: attempts to stop, children to apply the parent-close policy to.
#[rustler::nif(schedule = "DirtyIo")]
fn nif_run_take_inbox<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let (now, tag) = stamp_args(now, tag)?;
        let Some(engine) = &resource.engine else {
            return Ok(stopped(env, atoms::done(), &[], &[]));
        };
        let engine = engine.open()?;
        let mut run = resource.lock()?;
        let entries = engine.store.inbox(run.workflow_id())?;
        let after = resource.inbox_taken.load(Ordering::SeqCst);
        let taken = run.take_inbox(&entries, after, now)?;
        if taken.through == 0 {
            return Ok(stopped(env, atoms::done(), &taken.stop, &taken.children));
        }
        resource.inbox_taken.store(taken.through, Ordering::SeqCst);
        let append = match taken.append {
            Some(append) => Some(resource.with_pending(append)?),
            None => resource.take_pending()?,
        };
        let write = match append {
            Some(append) => Write::Append {
                group: vec![request(run.workflow_id(), run.run_id(), append)],
                inbox_through: taken.through,
            },
            None => Write::Ack {
                workflow_id: run.workflow_id().to_string(),
                through: taken.through,
            },
        };
        engine.submit_write(env, write, tag);
        Ok(stopped(
            env,
            atoms::recording(),
            &taken.stop,
            &taken.children,
        ))
    })
}

/// `nif_run_from_history(DocumentJson) -> {ok, {Run, WorkflowId, Type, InputJson, RunId}}`:
/// a detached run replaying an exported history (see `aion_core::history`). Commands are
/// answered from the history; anything that would be recorded fails with
/// `not_running` and marks the frontier (see `nif_run_replay_status`).
#[rustler::nif(schedule = "DirtyCpu")]
fn nif_run_from_history<'a>(env: Env<'a>, document: Term<'a>) -> Term<'a> {
    reply(env, || {
        let doc = HistoryDocument::from_json(&text_arg(document, "history document")?)?;
        let run = Run::load(&doc.workflow_id, doc.events)?;
        let input = run.input().text().to_string();
        let resource = ResourceArc::new(RunResource::new(None, run));
        Ok((
            resource,
            doc.workflow_id,
            doc.workflow_type,
            input,
            doc.run_id,
        )
            .encode(env))
    })
}

/// `nif_run_replay_status(Run) -> {ok, {Divergence | null, Frontier, CommandsLeft}}`:
/// the non-determinism report if the run diverged, whether the code went past the
/// recorded history, and whether recorded commands remain unmatched.
pub(crate) fn nif_run_replay_status(env: Env<'_>, resource: ResourceArc<RunResource>) -> Term<'_> {
    reply(env, || {
        let run = resource.lock()?;
        let divergence = match run.divergence() {
            Some(err) => crate::guard::reason_term(env, err),
            None => atoms::null().encode(env),
        };
        Ok((
            divergence,
            resource.frontier.load(Ordering::SeqCst),
            run.is_replaying(),
        )
            .encode(env))
    })
}

/// `nif_run_complete(Run, ok | error, Json, NowMs, Tag)` → `{ok, replayed}` or
/// `{ok, recording}` (wait for Tag: the run is closed once it is durable). After a
/// cancellation request the closing event is `WorkflowCancelled`.
pub(crate) fn nif_run_complete<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    kind: Atom,
    value: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let result = if kind == atoms::ok() {
            Ok(payload_arg(value, "workflow result")?)
        } else {
            Err(json_arg(value, "workflow outcome")?)
        };
        let (now, tag) = stamp_args(now, tag)?;
        let mut run = resource.lock()?;
        match run.complete(result, now)? {
            Recorded::Replayed(()) => Ok(atoms::replayed().encode(env)),
            Recorded::Live((), append) => {
                resource.submit(&run, env, append, tag)?;
                Ok(atoms::recording().encode(env))
            }
        }
    })
}

/// `nif_run_request_cancel(Run, ReasonJson, NowMs, Tag)` →
/// `{ok, {done | recording, [{Ordinal, Attempt}]}}`: records the request and the
/// cancellation of everything pending; the list names the attempts to stop.
pub(crate) fn nif_run_request_cancel<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    reason: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let reason = json_arg(reason, "cancel reason")?;
        let (now, tag) = stamp_args(now, tag)?;
        let mut run = resource.lock()?;
        let stop = run.request_cancel(reason, now)?;
        stop_term(&resource, &run, env, stop, tag)
    })
}

/// `nif_run_cancel_requested(Run) -> {ok, boolean()}`.
pub(crate) fn nif_run_cancel_requested(
    env: Env<'_>,
    resource: ResourceArc<RunResource>,
) -> Term<'_> {
    reply(env, || {
        Ok(resource.lock()?.is_cancel_requested().encode(env))
    })
}

/// `nif_run_end(Run, terminated | timed_out, Json, NowMs, Tag)` →
/// `{ok, {recording, [{Ordinal, Attempt}]}}`: ends the run at once (`Json`: the reason, or
/// the deadline in Unix ms for `timed_out`).
pub(crate) fn nif_run_end<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    kind: Atom,
    value: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let value = json_arg(value, "end reason")?;
        let (now, tag) = stamp_args(now, tag)?;
        let kind = if kind == atoms::terminated() {
            EventKind::WorkflowTerminated { reason: value }
        } else if kind == atoms::timed_out() {
            let deadline = value
                .as_i64()
                .ok_or_else(|| Error::InvalidInput("a time-out needs its deadline".into()))?;
            EventKind::WorkflowTimedOut { deadline }
        } else {
            return Err(Error::InvalidInput(
                "end kind must be terminated or timed_out".into(),
            ));
        };
        let mut run = resource.lock()?;
        let stop = run.end(kind, now)?;
        stop_term(&resource, &run, env, stop, tag)
    })
}

/// `nif_run_continue_as_new(Run, InputJson, NewRunId, NowMs, Tag)` →
/// `{ok, {recording, [{Ordinal, Attempt}], [{ChildId, Policy}]}}`: closes this run and creates the next one in
/// one atomic append; once durable, open the workflow again to run the new run.
pub(crate) fn nif_run_continue_as_new<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    input: Term<'a>,
    new_run_id: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let input = payload_arg(input, "continue-as-new input")?;
        let new_run_id = text_arg(new_run_id, "run id")?;
        let (now, tag) = stamp_args(now, tag)?;
        let mut run = resource.lock()?;
        let next = run.continue_as_new(input, &new_run_id, now)?;
        let start = Append {
            expected_head: 0,
            events: vec![next.start],
        };
        let group = vec![
            request(
                run.workflow_id(),
                run.run_id(),
                resource.with_pending(next.close)?,
            ),
            request(run.workflow_id(), &new_run_id, start),
        ];
        resource.submit_group(env, group, tag)?;
        Ok(stopped(env, atoms::recording(), &next.stop, &next.children))
    })
}

/// `nif_run_flush(Run, Tag) -> {ok, done | recording}`: hands the run's pending events (an
/// attempt's result, a timer firing: what only the run has seen so far) to the commit
/// thread; `recording` means wait for `Tag`. The run's process calls it before it waits
/// for anything, so that nothing it learned stays undurable while it sleeps.
pub(crate) fn nif_run_flush<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let tag = u64_arg(tag, "tag")?;
        let run = resource.lock()?;
        match resource.take_pending()? {
            Some(append) => {
                resource.submit(&run, env, append, tag)?;
                Ok(atoms::recording().encode(env))
            }
            None => Ok(atoms::done().encode(env)),
        }
    })
}

/// `nif_run_closing(Run) -> {ok, {open | {Status, ValueJson}, ParentId | null}}`: how the run
/// closed (`completed`, `failed`, `cancelled`, `terminated`, `timed_out` or
/// `continued_as_new`, with the result, error, details, reason, deadline or successor as
/// JSON) — known from its own history, so telling waiters and a parent needs no read —
/// and its parent workflow's id.
pub(crate) fn nif_run_closing(env: Env<'_>, resource: ResourceArc<RunResource>) -> Term<'_> {
    reply(env, || {
        let run = resource.lock()?;
        let closing = match run.close_event().and_then(closing) {
            Some((status, value)) => {
                let status = Atom::from_str(env, status.as_str())
                    .map_err(|_| Error::Internal("cannot make a status atom".into()))?;
                (status, value.to_string()).encode(env)
            }
            None => atoms::open().encode(env),
        };
        let parent = match run.parent_id() {
            Some(parent) => parent.encode(env),
            None => atoms::null().encode(env),
        };
        Ok((closing, parent).encode(env))
    })
}

/// `nif_run_inbox_waiting(Run) -> {ok, boolean()}`: whether the workflow's inbox may hold
/// entries this run has not taken, answered from memory (see `engine.rs`): `false` lets
/// the run skip reading its inbox (`nif_run_take_inbox`, a store read on a dirty
/// scheduler).
pub(crate) fn nif_run_inbox_waiting(env: Env<'_>, resource: ResourceArc<RunResource>) -> Term<'_> {
    reply(env, || {
        let Some(engine) = &resource.engine else {
            return Ok(false.encode(env));
        };
        let run = resource.lock()?;
        let after = resource.inbox_taken.load(Ordering::SeqCst);
        Ok(engine
            .open()?
            .inbox_waiting(run.workflow_id(), after)
            .encode(env))
    })
}
