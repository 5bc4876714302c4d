//! Replay: the per-run resolver.
//!
//! A [`Run`] is built once per (re)start of a workflow from its run's whole history. From
//! then on, every command the workflow code issues goes through it:
//!
//! - while recorded commands remain, the command must match the next one (same kind, same
//!   key, see [`EventKind::describe`]); it is then answered from history and nothing is
//!   written; a mismatch is an [`Error::NonDeterminism`] naming the seq, what history holds
//!   and what the code asked for, and the run stays diverged (every later call returns the
//!   same error);
//! - once the recorded commands are used up the run is live: commands become new events
//!   ([`Append`]) that the caller must make durable before it reveals anything.
//!
//! Outcomes (an activity's result, a timer firing, a cancellation) are looked up by key and
//! compared by `seq`, so a resumed run takes exactly the branches the first one took: an
//! activity result recorded after its `with_timeout` deadline fired is a timeout on every
//! replay. The state is derived by applying events, one function for loaded history and
//! for new events ([`Run::apply`]).
//!
//! Workflow time ([`Run::now`]) is the `recorded_at` of the latest outcome the code has
//! observed, so it is identical on every replay; [`Run::random`] and [`Run::uuid`] come
//! from a generator seeded by the run id.

mod activity;
mod child;
mod inbox;
mod rng;
mod select;
mod signal;
mod timer;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::event::{Cause, ChildStatus, Delivery, Event, EventKind};
use crate::payload::Payload;
use crate::retry::ActivityOptions;
use crate::Error;

pub use activity::{AttemptOutcome, AttemptTask, Dispatch};
pub use child::{ChildPolicy, ChildStart};
pub use inbox::Taken;
pub use select::Awaitable;
pub use signal::Outgoing;

/// Events to append, and the head the store must have for the append to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Append {
    /// The head (last seq) the history has before these events.
    pub expected_head: u64,
    /// The new events, numbered `expected_head + 1 ..`.
    pub events: Vec<Event>,
}

impl Append {
    /// Joins consecutive appends of one run into one (one commit for all of them).
    /// `None` when there is nothing to append.
    pub fn merge(appends: Vec<Append>) -> Option<Append> {
        let mut appends = appends.into_iter();
        let mut merged = appends.next()?;
        for next in appends {
            merged.events.extend(next.events);
        }
        Some(merged)
    }
}

/// What awaiting an activity or a timer needs next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// It has a final outcome: `Ok(result)` (a timer: `Ok(null)`) or `Err(error)`.
    Done(Result<Payload, Value>),
    /// It was cancelled by a cancellation request (or the code cancelled the timer).
    Cancelled,
    /// A `with_timeout` deadline around this await passed first.
    Timeout,
    /// Nothing to do until a wake: an attempt's result, or the time `until` (Unix ms).
    Wait {
        /// When to step again at the latest (a timer or deadline), if anything is due.
        until: Option<i64>,
    },
    /// The last attempt failed; the next one is due in this many milliseconds.
    RetryIn(u64),
    /// Events to make durable (a lost attempt, a timer firing); then step again.
    Record(Append),
    /// Start a new attempt: append, wait until durable, then hand `task` to a worker.
    Start {
        /// `ActivityStarted`.
        append: Append,
        /// The attempt to run.
        task: AttemptTask,
    },
    /// Run the handler of an accepted update first (at this point of the history), then
    /// complete it with [`Run::complete_update`] and step again.
    Update {
        /// The update's id.
        update_id: String,
        /// The handler's name.
        name: String,
        /// Its arguments.
        args: Payload,
    },
}

/// The answer to a command that is either replayed or recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded<T> {
    /// History already holds the command; here is what it recorded.
    Replayed(T),
    /// A new command: make `append` durable, then use the value.
    Live(T, Append),
}

/// The answer to `side_effect`.
#[derive(Debug, Clone, PartialEq)]
pub enum SideEffect {
    /// History holds the value.
    Replayed(Payload),
    /// Run the side effect, then record its value with [`Run::record_side_effect`].
    Live {
        /// The side effect's number.
        ordinal: u64,
    },
}

/// What a cancellation request or an ending needs done.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stop {
    /// Events to make durable (`None`: nothing to record, e.g. a repeated request).
    pub append: Option<Append>,
    /// Running attempts `(ordinal, attempt)` to tell to stop.
    pub stop: Vec<(u64, u32)>,
    /// Open children `(workflow id, policy)` to apply their parent-close policy to.
    pub children: Vec<(String, ChildPolicy)>,
}

/// The two appends of continue-as-new, to be made durable in one atomic group.
#[derive(Debug, Clone, PartialEq)]
pub struct ContinueAsNew {
    /// Closes this run with `WorkflowContinuedAsNew`.
    pub close: Append,
    /// `WorkflowStarted` of the new run.
    pub start: Event,
    /// Running attempts to stop.
    pub stop: Vec<(u64, u32)>,
    /// Open children to apply their parent-close policy to.
    pub children: Vec<(String, ChildPolicy)>,
}

#[derive(Debug, Clone)]
struct ActivityState {
    name: String,
    input: Payload,
    options: ActivityOptions,
    /// When it was scheduled (`schedule_to_close_ms` counts from here).
    scheduled_at: i64,
    /// Highest attempt started.
    started: u32,
    /// Highest attempt failed, and when.
    failed: u32,
    failed_at: i64,
    outcome: Option<Result<Payload, Value>>,
    /// Whether the outcome is a cancellation by a cancellation request.
    cancelled: bool,
    /// Seq and time of the outcome event.
    outcome_seq: u64,
    outcome_at: i64,
    /// The attempt this incarnation handed to a worker and still waits for.
    live_attempt: Option<u32>,
    /// The latest heartbeat details recorded with a failed attempt (`details` in an
    /// `ActivityFailed` error), handed to the next attempt.
    last_heartbeat: Option<Value>,
}

impl ActivityState {
    /// The `schedule_to_close_ms` deadline, Unix ms, if the activity has one.
    fn deadline(&self) -> Option<i64> {
        self.options.schedule_to_close_ms.map(|ms| {
            self.scheduled_at
                .saturating_add(i64::try_from(ms).unwrap_or(i64::MAX))
        })
    }
}

#[derive(Debug, Clone)]
struct ChildState {
    workflow_id: String,
    policy: ChildPolicy,
    /// Seq, time, status, value and cause of `ChildCompleted`.
    outcome: Option<(u64, i64, ChildStatus, Value, Option<Cause>)>,
}

#[derive(Debug, Clone)]
struct UpdateEntry {
    seq: u64,
    update_id: String,
    name: String,
    args: Payload,
}

#[derive(Debug, Clone)]
struct TimerState {
    fire_at: i64,
    scope: bool,
    /// Seq and time of `TimerFired`.
    fired: Option<(u64, i64)>,
    /// Seq, time and cause of `TimerCancelled`.
    cancelled: Option<(u64, i64, Cause)>,
}

impl TimerState {
    fn settled(&self) -> Option<u64> {
        self.fired
            .map(|(seq, _)| seq)
            .or(self.cancelled.as_ref().map(|(seq, _, _)| *seq))
    }
}

/// One run's replay state. Owned by the run's workflow process (single writer).
#[derive(Debug)]
pub struct Run {
    workflow_id: String,
    run_id: String,
    workflow_type: String,
    input: Payload,
    execution_deadline: Option<i64>,
    parent_id: Option<String>,
    head: u64,
    commands: Vec<Event>,
    cursor: usize,
    next_ordinal: u64,
    next_timer: u64,
    next_side_effect: u64,
    activities: HashMap<u64, ActivityState>,
    timers: HashMap<u64, TimerState>,
    markers: HashMap<String, bool>,
    /// Signals received, by name: (seq, time, payload), in arrival order.
    signals: HashMap<String, Vec<(u64, i64, Payload)>>,
    /// How many signals of each name the code has consumed.
    consumed: HashMap<String, usize>,
    signal_ids: std::collections::HashSet<String>,
    next_signal_out: u64,
    /// Delivery result of each outgoing signal, once recorded.
    delivered: HashMap<u64, Delivery>,
    next_child: u64,
    children: HashMap<u64, ChildState>,
    updates: Vec<UpdateEntry>,
    /// How many accepted updates have had their handler started (in order).
    updates_started: usize,
    /// Active `with_timeout` scopes (their timer ids), innermost last.
    scopes: Vec<u64>,
    cancel_requested: Option<u64>,
    cancel_delivered: bool,
    now: i64,
    rng: rng::Rng,
    closed: bool,
    /// The event that closed the run, once applied.
    close_event: Option<EventKind>,
    diverged: Option<Error>,
}

impl Run {
    /// The event that creates a run: `WorkflowStarted` at seq 1.
    pub fn start_event(workflow_type: &str, input: Payload, run_id: &str, now: i64) -> Event {
        Event {
            seq: 1,
            recorded_at: now,
            kind: EventKind::WorkflowStarted {
                workflow_type: workflow_type.to_string(),
                input,
                run_id: run_id.to_string(),
                continued_from: None,
                execution_deadline: None,
                parent_id: None,
            },
        }
    }

    /// Builds the run state from its complete history. The history must start with
    /// `WorkflowStarted` and be numbered 1, 2, 3 ... without gaps; anything else is reported
    /// as a corrupt store ([`Error::Corrupt`]).
    pub fn load(workflow_id: &str, history: Vec<Event>) -> Result<Run, Error> {
        let first = history
            .first()
            .ok_or_else(|| Error::NotFound(workflow_id.to_string()))?;
        let EventKind::WorkflowStarted {
            workflow_type,
            input,
            run_id,
            execution_deadline,
            parent_id,
            ..
        } = &first.kind
        else {
            return Err(Error::Corrupt(format!(
                "history of {workflow_id} starts with {} instead of WorkflowStarted",
                first.kind.name()
            )));
        };
        let mut run = Run {
            workflow_id: workflow_id.to_string(),
            run_id: run_id.clone(),
            workflow_type: workflow_type.clone(),
            input: input.clone(),
            execution_deadline: *execution_deadline,
            parent_id: parent_id.clone(),
            head: 0,
            commands: Vec::new(),
            cursor: 0,
            next_ordinal: 1,
            next_timer: 1,
            next_side_effect: 1,
            activities: HashMap::new(),
            timers: HashMap::new(),
            markers: HashMap::new(),
            signals: HashMap::new(),
            consumed: HashMap::new(),
            signal_ids: std::collections::HashSet::new(),
            next_signal_out: 1,
            delivered: HashMap::new(),
            next_child: 1,
            children: HashMap::new(),
            updates: Vec::new(),
            updates_started: 0,
            scopes: Vec::new(),
            cancel_requested: None,
            cancel_delivered: false,
            now: first.recorded_at,
            rng: rng::Rng::seeded(run_id),
            closed: false,
            close_event: None,
            diverged: None,
        };
        for event in history {
            if event.seq != run.head + 1 {
                return Err(Error::Corrupt(format!(
                    "history of {workflow_id} jumps from seq {} to {}",
                    run.head, event.seq
                )));
            }
            run.apply(&event)?;
            if event.kind.is_command() {
                run.commands.push(event);
            }
        }
        Ok(run)
    }

    /// The workflow id.
    pub fn workflow_id(&self) -> &str {
        &self.workflow_id
    }
    /// The run id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }
    /// The workflow type recorded at start.
    pub fn workflow_type(&self) -> &str {
        &self.workflow_type
    }
    /// The workflow input recorded at start.
    pub fn input(&self) -> &Payload {
        &self.input
    }
    /// When the workflow times out, if it has an execution timeout.
    pub fn execution_deadline(&self) -> Option<i64> {
        self.execution_deadline
    }
    /// The parent workflow's id, for a child workflow.
    pub fn parent_id(&self) -> Option<&str> {
        self.parent_id.as_deref()
    }
    /// The last seq of the history (recorded or appended by this run).
    pub fn head(&self) -> u64 {
        self.head
    }
    /// Whether recorded commands remain to be matched.
    pub fn is_replaying(&self) -> bool {
        self.cursor < self.commands.len()
    }
    /// Whether the run has a closing event.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The event that closed the run (recorded or just recorded), if it is closed.
    pub fn close_event(&self) -> Option<&EventKind> {
        self.close_event.as_ref()
    }
    /// Whether a cancellation has been requested.
    pub fn is_cancel_requested(&self) -> bool {
        self.cancel_requested.is_some()
    }
    /// The non-determinism error the run diverged with, if it did.
    pub fn divergence(&self) -> Option<&Error> {
        self.diverged.as_ref()
    }

    /// Workflow time, Unix ms: the time of the latest outcome the code observed (the start
    /// before any). The same at the same point of every replay.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// A float in `[0, 1)` from the run's seeded generator: the same sequence on replay.
    pub fn random(&mut self) -> f64 {
        self.rng.next_f64()
    }

    /// A version-4 UUID from the run's seeded generator: the same sequence on replay.
    pub fn uuid(&mut self) -> String {
        self.rng.uuid()
    }

    /// Begins `side_effect`: answered from history, or to be run and then recorded.
    pub fn side_effect(&mut self) -> Result<SideEffect, Error> {
        let ordinal = self.next_side_effect;
        let requested = EventKind::SideEffectRecorded {
            ordinal,
            value: Payload::null(),
        };
        let recorded = self.command(&requested)?;
        self.next_side_effect += 1;
        Ok(match recorded {
            Some(Event {
                kind: EventKind::SideEffectRecorded { value, .. },
                ..
            }) => SideEffect::Replayed(value),
            _ => SideEffect::Live { ordinal },
        })
    }

    /// Records the value of live side effect `ordinal`.
    pub fn record_side_effect(
        &mut self,
        ordinal: u64,
        value: Payload,
        now: i64,
    ) -> Result<Append, Error> {
        self.check_usable()?;
        if ordinal + 1 != self.next_side_effect || self.is_replaying() {
            return Err(Error::InvalidInput(format!(
                "side effect {ordinal} is not the one being recorded"
            )));
        }
        self.record(vec![EventKind::SideEffectRecorded { ordinal, value }], now)
    }

    /// The versioning check: `true` on new runs and live progress (recorded as a marker),
    /// `false` when replaying history recorded before the change. Asking again for the
    /// same change id gives the same answer.
    pub fn patched(&mut self, change_id: &str, now: i64) -> Result<Recorded<bool>, Error> {
        self.check_usable()?;
        if let Some(answer) = self.markers.get(change_id) {
            return Ok(Recorded::Replayed(*answer));
        }
        let marker = EventKind::MarkerRecorded {
            change_id: change_id.to_string(),
        };
        let answer = match self.next_recorded() {
            Some(recorded) if recorded.kind == marker => {
                self.cursor += 1;
                Recorded::Replayed(true)
            }
            Some(_) => Recorded::Replayed(false),
            None => Recorded::Live(true, self.record(vec![marker], now)?),
        };
        let value = match answer {
            Recorded::Replayed(v) | Recorded::Live(v, _) => v,
        };
        self.markers.insert(change_id.to_string(), value);
        Ok(answer)
    }

    /// Records a client's cancellation request: every activity and timer still pending is
    /// cancelled with it (their awaits return cancelled), and the code's next new activity
    /// or timer is cancelled too until the code has seen one cancellation. Work started
    /// after that (compensation) runs normally. A repeated request records nothing.
    pub fn request_cancel(&mut self, reason: Value, now: i64) -> Result<Stop, Error> {
        if self.closed {
            return Err(Error::NotRunning(format!("{} is closed", self.workflow_id)));
        }
        if self.cancel_requested.is_some() {
            return Ok(Stop::default());
        }
        let stop = self.live_attempts();
        let children = self.open_children();
        let mut kinds = vec![EventKind::WorkflowCancelRequested { reason }];
        let mut pending: Vec<u64> = self
            .activities
            .iter()
            .filter(|(_, a)| a.outcome.is_none())
            .map(|(o, _)| *o)
            .collect();
        pending.sort_unstable();
        for ordinal in pending {
            let attempt = self.activities.get(&ordinal).map_or(0, |a| a.started);
            kinds.push(cancelled_activity(ordinal, attempt));
        }
        let mut timers: Vec<u64> = self
            .timers
            .iter()
            .filter(|(_, t)| !t.scope && t.settled().is_none())
            .map(|(id, _)| *id)
            .collect();
        timers.sort_unstable();
        kinds.extend(
            timers
                .into_iter()
                .map(|timer_id| EventKind::TimerCancelled {
                    timer_id,
                    cause: Cause::CancelRequest,
                }),
        );
        let mut open: Vec<u64> = self
            .children
            .iter()
            .filter(|(_, c)| c.outcome.is_none())
            .map(|(o, _)| *o)
            .collect();
        open.sort_unstable();
        kinds.extend(open.into_iter().map(child::cancelled_child));
        Ok(Stop {
            append: Some(self.record(kinds, now)?),
            stop,
            children,
        })
    }

    /// Resolves the workflow code's final result. After a cancellation request the run
    /// closes as `WorkflowCancelled` whatever the code returned.
    pub fn complete(
        &mut self,
        result: Result<Payload, Value>,
        now: i64,
    ) -> Result<Recorded<()>, Error> {
        let kind = match (self.cancel_requested, result) {
            (Some(_), Ok(v)) => EventKind::WorkflowCancelled {
                details: json!({ "ok": v }),
            },
            (Some(_), Err(e)) => EventKind::WorkflowCancelled {
                details: json!({ "error": e }),
            },
            (None, Ok(result)) => EventKind::WorkflowCompleted { result },
            (None, Err(error)) => EventKind::WorkflowFailed { error },
        };
        match self.command(&kind)? {
            Some(_) => Ok(Recorded::Replayed(())),
            None => Ok(Recorded::Live((), self.close(kind, now)?)),
        }
    }

    /// Ends this run and starts `new_run_id` with `input`, a fresh history, the same type
    /// and the same execution deadline.
    pub fn continue_as_new(
        &mut self,
        input: Payload,
        new_run_id: &str,
        now: i64,
    ) -> Result<ContinueAsNew, Error> {
        let kind = EventKind::WorkflowContinuedAsNew {
            input: input.clone(),
            new_run_id: new_run_id.to_string(),
        };
        if self.command(&kind)?.is_some() {
            return Err(Error::NotRunning(format!(
                "{} already continued as new",
                self.run_id
            )));
        }
        let stop = self.live_attempts();
        let children = self.open_children();
        let close = self.close(kind, now)?;
        let start = Event {
            seq: 1,
            recorded_at: now,
            kind: EventKind::WorkflowStarted {
                workflow_type: self.workflow_type.clone(),
                input,
                run_id: new_run_id.to_string(),
                continued_from: Some(self.run_id.clone()),
                execution_deadline: self.execution_deadline,
                parent_id: self.parent_id.clone(),
            },
        };
        Ok(ContinueAsNew {
            close,
            start,
            stop,
            children,
        })
    }

    /// Ends the run at once from outside its code: `aion:terminate/2`
    /// (`WorkflowTerminated`) or the execution deadline (`WorkflowTimedOut`). Allowed even
    /// on a diverged run; refused on a closed one.
    pub fn end(&mut self, kind: EventKind, now: i64) -> Result<Stop, Error> {
        if !matches!(
            kind,
            EventKind::WorkflowTerminated { .. } | EventKind::WorkflowTimedOut { .. }
        ) {
            return Err(Error::Internal(format!("end with {}", kind.name())));
        }
        if self.closed {
            return Err(Error::NotRunning(format!("{} is closed", self.workflow_id)));
        }
        let stop = self.live_attempts();
        let children = self.open_children();
        Ok(Stop {
            append: Some(self.record(vec![kind], now)?),
            stop,
            children,
        })
    }

    /// Children started and not closed, with their parent-close policy.
    pub fn open_children(&self) -> Vec<(String, ChildPolicy)> {
        let mut open: Vec<(u64, String, ChildPolicy)> = self
            .children
            .iter()
            .filter(|(_, c)| c.outcome.is_none())
            .map(|(o, c)| (*o, c.workflow_id.clone(), c.policy))
            .collect();
        open.sort_unstable_by_key(|(o, _, _)| *o);
        open.into_iter().map(|(_, id, p)| (id, p)).collect()
    }

    fn close(&mut self, kind: EventKind, now: i64) -> Result<Append, Error> {
        if self.closed {
            return Err(Error::NotRunning(format!("{} is closed", self.workflow_id)));
        }
        self.record(vec![kind], now)
    }

    /// Attempts started and not finished, by any incarnation of the run: what to stop
    /// when the run is cancelled or ends.
    fn live_attempts(&self) -> Vec<(u64, u32)> {
        let mut live: Vec<(u64, u32)> = self
            .activities
            .iter()
            .filter(|(_, a)| a.outcome.is_none() && a.started > a.failed)
            .map(|(o, a)| (*o, a.started))
            .collect();
        live.sort_unstable();
        live
    }

    /// Matches a command against history: `Some(recorded)` when replaying and it matches,
    /// `None` when live, a (sticky) non-determinism error when it does not match.
    fn command(&mut self, requested: &EventKind) -> Result<Option<Event>, Error> {
        self.check_usable()?;
        match self.next_recorded() {
            Some(recorded) if recorded.kind.describe() == requested.describe() => {
                self.cursor += 1;
                Ok(Some(recorded))
            }
            Some(recorded) => {
                Err(self.diverge(recorded.seq, recorded.kind.describe(), requested.describe()))
            }
            None if self.closed => {
                Err(Error::NotRunning(format!("{} is closed", self.workflow_id)))
            }
            None => Ok(None),
        }
    }

    fn next_recorded(&self) -> Option<Event> {
        self.commands.get(self.cursor).cloned()
    }

    /// The seq of the next recorded command: the replay position (`None` once live).
    fn position(&self) -> Option<u64> {
        self.commands.get(self.cursor).map(|e| e.seq)
    }

    fn check_usable(&self) -> Result<(), Error> {
        match &self.diverged {
            Some(err) => Err(err.clone()),
            None => Ok(()),
        }
    }

    fn diverge(&mut self, seq: u64, recorded: String, requested: String) -> Error {
        let err = Error::NonDeterminism {
            seq,
            recorded,
            requested,
        };
        self.diverged = Some(err.clone());
        err
    }

    fn advance_time(&mut self, at: i64) {
        self.now = self.now.max(at);
    }

    /// Numbers new events after the head, applies them to the state and returns the append.
    fn record(&mut self, kinds: Vec<EventKind>, now: i64) -> Result<Append, Error> {
        let expected_head = self.head;
        let mut events = Vec::with_capacity(kinds.len());
        for kind in kinds {
            let event = Event {
                seq: self.head + 1,
                recorded_at: now,
                kind,
            };
            self.apply(&event)?;
            events.push(event);
        }
        Ok(Append {
            expected_head,
            events,
        })
    }

    /// Folds one event into the state. The one place run state is derived.
    fn apply(&mut self, event: &Event) -> Result<(), Error> {
        let corrupt = |what: &str| {
            Error::Corrupt(format!(
                "history of {} at seq {}: {what}",
                self.workflow_id, event.seq
            ))
        };
        match &event.kind {
            EventKind::WorkflowStarted { .. } => {
                if event.seq != 1 {
                    return Err(corrupt("WorkflowStarted after the start"));
                }
            }
            EventKind::ActivityScheduled {
                ordinal,
                name,
                input,
                config,
            } => {
                let options = ActivityOptions::from_json(config)
                    .map_err(|e| corrupt(&format!("unreadable activity options: {e}")))?;
                self.activities.insert(
                    *ordinal,
                    ActivityState {
                        cancelled: false,
                        name: name.clone(),
                        input: input.clone(),
                        options,
                        scheduled_at: event.recorded_at,
                        started: 0,
                        failed: 0,
                        failed_at: 0,
                        outcome: None,
                        outcome_seq: 0,
                        outcome_at: 0,
                        live_attempt: None,
                        last_heartbeat: None,
                    },
                );
            }
            EventKind::ActivityStarted { ordinal, attempt } => {
                let state = self
                    .activities
                    .get_mut(ordinal)
                    .ok_or_else(|| corrupt("ActivityStarted for an unscheduled activity"))?;
                state.started = state.started.max(*attempt);
            }
            EventKind::ActivityCompleted {
                ordinal, result, ..
            } => {
                let state = self
                    .activities
                    .get_mut(ordinal)
                    .ok_or_else(|| corrupt("ActivityCompleted for an unscheduled activity"))?;
                state.outcome = Some(Ok(result.clone()));
                state.outcome_seq = event.seq;
                state.outcome_at = event.recorded_at;
                state.live_attempt = None;
            }
            EventKind::ActivityFailed {
                ordinal,
                error,
                attempt,
                retryable,
                cause,
            } => {
                let state = self
                    .activities
                    .get_mut(ordinal)
                    .ok_or_else(|| corrupt("ActivityFailed for an unscheduled activity"))?;
                state.failed = state.failed.max(*attempt);
                state.failed_at = event.recorded_at;
                state.live_attempt = None;
                // A failure without details (worker_lost, ...) keeps the earlier ones.
                if let Some(details) = error.get("details").filter(|d| !d.is_null()) {
                    state.last_heartbeat = Some(details.clone());
                }
                if !retryable {
                    state.outcome = Some(Err(json!({
                        "activity": state.name,
                        "type": error.get("type").cloned().unwrap_or(Value::Null),
                        "message": error.get("message").cloned().unwrap_or(Value::Null),
                        "attempts": attempt,
                    })));
                    state.cancelled = *cause == Some(Cause::CancelRequest);
                    state.outcome_seq = event.seq;
                    state.outcome_at = event.recorded_at;
                }
            }
            EventKind::TimerStarted {
                timer_id,
                fire_at,
                scope,
                ..
            } => {
                self.timers.insert(
                    *timer_id,
                    TimerState {
                        fire_at: *fire_at,
                        scope: *scope,
                        fired: None,
                        cancelled: None,
                    },
                );
            }
            EventKind::TimerFired { timer_id } => {
                let state = self
                    .timers
                    .get_mut(timer_id)
                    .ok_or_else(|| corrupt("TimerFired for an unknown timer"))?;
                state.fired = Some((event.seq, event.recorded_at));
            }
            EventKind::TimerCancelled { timer_id, cause } => {
                let state = self
                    .timers
                    .get_mut(timer_id)
                    .ok_or_else(|| corrupt("TimerCancelled for an unknown timer"))?;
                state.cancelled = Some((event.seq, event.recorded_at, *cause));
            }
            EventKind::WorkflowCancelRequested { .. } => {
                self.cancel_requested.get_or_insert(event.seq);
            }
            EventKind::SideEffectRecorded { .. }
            | EventKind::MarkerRecorded { .. }
            | EventKind::SignalSent { .. }
            | EventKind::UpdateCompleted { .. } => {}
            EventKind::SignalReceived {
                name,
                payload,
                signal_id,
            } => {
                self.signals.entry(name.clone()).or_default().push((
                    event.seq,
                    event.recorded_at,
                    payload.clone(),
                ));
                if let Some(id) = signal_id {
                    self.signal_ids.insert(id.clone());
                }
            }
            EventKind::SignalDelivered { ordinal, result } => {
                self.delivered.insert(*ordinal, *result);
            }
            EventKind::ChildStarted {
                ordinal,
                workflow_id,
                parent_close_policy,
                ..
            } => {
                self.children.insert(
                    *ordinal,
                    ChildState {
                        workflow_id: workflow_id.clone(),
                        policy: *parent_close_policy,
                        outcome: None,
                    },
                );
            }
            EventKind::ChildCompleted {
                ordinal,
                status,
                value,
                cause,
            } => {
                let child = self
                    .children
                    .get_mut(ordinal)
                    .ok_or_else(|| corrupt("ChildCompleted for an unknown child"))?;
                child.outcome =
                    Some((event.seq, event.recorded_at, *status, value.clone(), *cause));
            }
            EventKind::UpdateAccepted {
                update_id,
                name,
                args,
            } => self.updates.push(UpdateEntry {
                seq: event.seq,
                update_id: update_id.clone(),
                name: name.clone(),
                args: args.clone(),
            }),
            EventKind::WorkflowCompleted { .. }
            | EventKind::WorkflowFailed { .. }
            | EventKind::WorkflowCancelled { .. }
            | EventKind::WorkflowTerminated { .. }
            | EventKind::WorkflowTimedOut { .. }
            | EventKind::WorkflowContinuedAsNew { .. } => {
                self.closed = true;
                self.close_event = Some(event.kind.clone());
            }
        }
        self.head = event.seq;
        Ok(())
    }
}

/// The outcome event of an activity cancelled by a cancellation request.
fn cancelled_activity(ordinal: u64, attempt: u32) -> EventKind {
    EventKind::ActivityFailed {
        ordinal,
        error: json!({"type": "cancelled", "message": CANCELLED_BY_REQUEST}),
        attempt,
        retryable: false,
        cause: Some(Cause::CancelRequest),
    }
}

/// The message of an activity cancelled by a cancellation request.
const CANCELLED_BY_REQUEST: &str = "the workflow was cancelled";
