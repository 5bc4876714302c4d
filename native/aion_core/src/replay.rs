//! Replay: the per-run resolver.
//!
//! A [`Run`] is built once per (re)start of a workflow from its whole history. From then on,
//! every command the workflow code issues goes through it:
//!
//! - while recorded commands remain, the command must match the next one (same kind, same
//!   key); it is then answered from history ([`Dispatch::Replayed`]) and nothing is written;
//!   a mismatch is an [`Error::NonDeterminism`] naming the seq, what history holds and what
//!   the code asked for, and the run stays diverged (every later call returns the same
//!   error);
//! - once the recorded commands are used up the run is live: commands become new events
//!   ([`Append`]) that the caller must make durable before it reveals anything.
//!
//! The state of each activity (attempts, failures, outcome) is derived by applying events,
//! the same function for loaded history and for new events, so a resumed run decides
//! exactly as an uninterrupted one would.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::event::{Event, EventKind};
use crate::retry::ActivityOptions;
use crate::Error;

/// Events to append, and the head the store must have for the append to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Append {
    /// The head (last seq) the history has before these events.
    pub expected_head: u64,
    /// The new events, numbered `expected_head + 1 ..`.
    pub events: Vec<Event>,
}

/// One attempt of an activity that a worker must run once its [`Append`] is durable.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptTask {
    /// The activity's ordinal in the run.
    pub ordinal: u64,
    /// The attempt number, from 1.
    pub attempt: u32,
    /// Registered activity name.
    pub name: String,
    /// The activity's input.
    pub input: Value,
    /// Per-attempt deadline, if any.
    pub start_to_close_ms: Option<u64>,
    /// The task queue to run it on.
    pub task_queue: String,
}

/// The answer to a `dispatch_activity` command.
#[derive(Debug, Clone, PartialEq)]
pub enum Dispatch {
    /// History already holds this command: nothing to write, nothing to run.
    Replayed {
        /// The activity's ordinal (its correlation id).
        ordinal: u64,
    },
    /// A new activity: append, wait until durable, then hand `task` to a worker.
    Live {
        /// The activity's ordinal (its correlation id).
        ordinal: u64,
        /// `ActivityScheduled` + `ActivityStarted(attempt 1)`.
        append: Append,
        /// The first attempt.
        task: AttemptTask,
    },
}

/// What awaiting an activity needs next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// The activity has a final outcome: `Ok(result)` or `Err(error)`.
    Done(Result<Value, Value>),
    /// An attempt started by this incarnation is running; wait for its result.
    Wait,
    /// The last attempt failed; the next one is due in this many milliseconds.
    RetryIn(u64),
    /// Bookkeeping events to make durable (an attempt lost in a crash); then step again.
    Record(Append),
    /// Start a new attempt: append, wait until durable, then hand `task` to a worker.
    Start {
        /// `ActivityStarted`.
        append: Append,
        /// The attempt to run.
        task: AttemptTask,
    },
}

/// The answer to the workflow code's completion.
#[derive(Debug, Clone, PartialEq)]
pub enum Completion {
    /// History already records the same completion.
    Replayed,
    /// Append this closing event.
    Live(Append),
}

/// How one attempt ended, as reported by the worker that ran it.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    /// The activity returned a result.
    Completed(Value),
    /// The attempt failed.
    Failed {
        /// A short machine-readable kind (`timeout`, `crash`, an error atom ...).
        error_type: String,
        /// Human-readable detail.
        message: String,
        /// `false` for terminal errors, which are never retried.
        retryable: bool,
    },
}

#[derive(Debug, Clone)]
struct ActivityState {
    name: String,
    input: Value,
    options: ActivityOptions,
    /// Highest attempt started.
    started: u32,
    /// Highest attempt failed, and when.
    failed: u32,
    failed_at: i64,
    outcome: Option<Result<Value, Value>>,
    /// The attempt this incarnation handed to a worker and still waits for.
    live_attempt: Option<u32>,
}

/// One run's replay state. Owned by the run's workflow process (single writer).
#[derive(Debug)]
pub struct Run {
    workflow_id: String,
    run_id: String,
    workflow_type: String,
    input: Value,
    head: u64,
    commands: Vec<Event>,
    cursor: usize,
    next_ordinal: u64,
    activities: HashMap<u64, ActivityState>,
    closed: bool,
    diverged: Option<Error>,
}

impl Run {
    /// The event that creates a run: `WorkflowStarted` at seq 1.
    pub fn start_event(workflow_type: &str, input: Value, run_id: &str, now: i64) -> Event {
        Event {
            seq: 1,
            recorded_at: now,
            kind: EventKind::WorkflowStarted {
                workflow_type: workflow_type.to_string(),
                input,
                run_id: run_id.to_string(),
            },
        }
    }

    /// Builds the run state from its complete history. The history must start with
    /// `WorkflowStarted` and be numbered 1, 2, 3 ... without gaps; anything else is reported
    /// as a corrupt store ([`Error::Durability`]).
    pub fn load(workflow_id: &str, history: Vec<Event>) -> Result<Run, Error> {
        let (workflow_type, input, run_id) = match history.first().map(|e| &e.kind) {
            Some(EventKind::WorkflowStarted {
                workflow_type,
                input,
                run_id,
            }) => (workflow_type.clone(), input.clone(), run_id.clone()),
            Some(other) => {
                return Err(Error::Durability(format!(
                    "history of {workflow_id} starts with {} instead of WorkflowStarted",
                    other.name()
                )))
            }
            None => return Err(Error::NotFound(workflow_id.to_string())),
        };
        let mut run = Run {
            workflow_id: workflow_id.to_string(),
            run_id,
            workflow_type,
            input,
            head: 0,
            commands: Vec::new(),
            cursor: 0,
            next_ordinal: 1,
            activities: HashMap::new(),
            closed: false,
            diverged: None,
        };
        for event in history {
            if event.seq != run.head + 1 {
                return Err(Error::Durability(format!(
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
    pub fn input(&self) -> &Value {
        &self.input
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

    /// Resolves the workflow code's request to run activity `name`.
    pub fn dispatch_activity(
        &mut self,
        name: &str,
        input: Value,
        config: &Value,
        now: i64,
    ) -> Result<Dispatch, Error> {
        self.check_usable()?;
        let options = ActivityOptions::from_json(config)?;
        let ordinal = self.next_ordinal;
        let requested = format!("ActivityScheduled(ordinal {ordinal}, name {name:?})");
        if let Some(recorded) = self.next_recorded() {
            let matches = matches!(&recorded.kind,
                EventKind::ActivityScheduled { ordinal: o, name: n, .. } if *o == ordinal && n == name);
            return if matches {
                self.cursor += 1;
                self.next_ordinal += 1;
                Ok(Dispatch::Replayed { ordinal })
            } else {
                Err(self.diverge(recorded.seq, recorded.kind.describe(), requested))
            };
        }
        self.next_ordinal += 1;
        let append = self.record(
            vec![
                EventKind::ActivityScheduled {
                    ordinal,
                    name: name.to_string(),
                    input: input.clone(),
                    config: options.to_json(),
                },
                EventKind::ActivityStarted {
                    ordinal,
                    attempt: 1,
                },
            ],
            now,
        )?;
        let task = self.begin_attempt(ordinal, 1)?;
        Ok(Dispatch::Live {
            ordinal,
            append,
            task,
        })
    }

    /// Decides what awaiting activity `ordinal` needs next, at time `now`.
    pub fn activity_step(&mut self, ordinal: u64, now: i64) -> Result<Step, Error> {
        if let Some(err) = &self.diverged {
            return Err(err.clone());
        }
        let state = self.activity(ordinal)?;
        if let Some(outcome) = &state.outcome {
            return Ok(Step::Done(outcome.clone()));
        }
        if self.closed {
            return Err(Error::NotRunning(format!("{} is closed", self.workflow_id)));
        }
        if state.started > state.failed {
            if state.live_attempt == Some(state.started) {
                return Ok(Step::Wait);
            }
            // Started by an earlier incarnation that died with it: count the attempt as
            // failed, so the policy (and the history) see every attempt that was made.
            let outcome = AttemptOutcome::Failed {
                error_type: "worker_lost".into(),
                message: "the node stopped while this attempt was running".into(),
                retryable: true,
            };
            let attempt = state.started;
            return Ok(Step::Record(
                self.failure_append(ordinal, attempt, outcome, now)?,
            ));
        }
        let due = state.failed_at + state.options.retry.delay_after(state.failed) as i64;
        if state.failed > 0 && now < due {
            return Ok(Step::RetryIn((due - now) as u64));
        }
        let attempt = state.started + 1;
        let append = self.record(vec![EventKind::ActivityStarted { ordinal, attempt }], now)?;
        let task = self.begin_attempt(ordinal, attempt)?;
        Ok(Step::Start { append, task })
    }

    /// Records how attempt `attempt` of activity `ordinal` ended. Returns `None` when the
    /// report is stale (the attempt is not the one this run waits for, or the activity
    /// already has an outcome), so a duplicate or late report changes nothing.
    pub fn activity_result(
        &mut self,
        ordinal: u64,
        attempt: u32,
        outcome: AttemptOutcome,
        now: i64,
    ) -> Result<Option<Append>, Error> {
        self.check_usable()?;
        let state = self.activity(ordinal)?;
        if state.outcome.is_some() || state.live_attempt != Some(attempt) {
            return Ok(None);
        }
        let append = match outcome {
            AttemptOutcome::Completed(result) => self.record(
                vec![EventKind::ActivityCompleted {
                    ordinal,
                    result,
                    attempt,
                }],
                now,
            )?,
            failed => self.failure_append(ordinal, attempt, failed, now)?,
        };
        Ok(Some(append))
    }

    /// Resolves the workflow code's final result.
    pub fn complete(
        &mut self,
        result: Result<Value, Value>,
        now: i64,
    ) -> Result<Completion, Error> {
        if let Some(err) = &self.diverged {
            return Err(err.clone());
        }
        let kind = match result {
            Ok(result) => EventKind::WorkflowCompleted { result },
            Err(error) => EventKind::WorkflowFailed { error },
        };
        if let Some(recorded) = self.next_recorded() {
            return if recorded.kind.name() == kind.name() {
                self.cursor += 1;
                Ok(Completion::Replayed)
            } else {
                Err(self.diverge(
                    recorded.seq,
                    recorded.kind.describe(),
                    kind.name().to_string(),
                ))
            };
        }
        if self.closed {
            return Err(Error::NotRunning(format!("{} is closed", self.workflow_id)));
        }
        Ok(Completion::Live(self.record(vec![kind], now)?))
    }

    fn failure_append(
        &mut self,
        ordinal: u64,
        attempt: u32,
        outcome: AttemptOutcome,
        now: i64,
    ) -> Result<Append, Error> {
        let AttemptOutcome::Failed {
            error_type,
            message,
            retryable,
        } = outcome
        else {
            return Err(Error::Internal("failure_append on a success".into()));
        };
        let state = self.activity(ordinal)?;
        let retry = state
            .options
            .retry
            .should_retry(attempt, &error_type, retryable);
        self.record(
            vec![EventKind::ActivityFailed {
                ordinal,
                error: json!({"type": error_type, "message": message}),
                attempt,
                retryable: retry,
            }],
            now,
        )
    }

    fn begin_attempt(&mut self, ordinal: u64, attempt: u32) -> Result<AttemptTask, Error> {
        let state = self.activity_mut(ordinal)?;
        state.live_attempt = Some(attempt);
        Ok(AttemptTask {
            ordinal,
            attempt,
            name: state.name.clone(),
            input: state.input.clone(),
            start_to_close_ms: state.options.start_to_close_ms,
            task_queue: state.options.task_queue.clone(),
        })
    }

    fn next_recorded(&self) -> Option<Event> {
        self.commands.get(self.cursor).cloned()
    }

    fn check_usable(&self) -> Result<(), Error> {
        if let Some(err) = &self.diverged {
            return Err(err.clone());
        }
        if self.closed && !self.is_replaying() {
            return Err(Error::NotRunning(format!("{} is closed", self.workflow_id)));
        }
        Ok(())
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

    fn activity(&self, ordinal: u64) -> Result<&ActivityState, Error> {
        self.activities.get(&ordinal).ok_or_else(|| {
            Error::InvalidInput(format!("no activity with correlation id {ordinal}"))
        })
    }

    fn activity_mut(&mut self, ordinal: u64) -> Result<&mut ActivityState, Error> {
        self.activities.get_mut(&ordinal).ok_or_else(|| {
            Error::InvalidInput(format!("no activity with correlation id {ordinal}"))
        })
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

    /// Folds one event into the state. The one place activity state is derived.
    fn apply(&mut self, event: &Event) -> Result<(), Error> {
        let corrupt = |what: &str| {
            Error::Durability(format!(
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
                        name: name.clone(),
                        input: input.clone(),
                        options,
                        started: 0,
                        failed: 0,
                        failed_at: 0,
                        outcome: None,
                        live_attempt: None,
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
                state.live_attempt = None;
            }
            EventKind::ActivityFailed {
                ordinal,
                error,
                attempt,
                retryable,
            } => {
                let state = self
                    .activities
                    .get_mut(ordinal)
                    .ok_or_else(|| corrupt("ActivityFailed for an unscheduled activity"))?;
                state.failed = state.failed.max(*attempt);
                state.failed_at = event.recorded_at;
                state.live_attempt = None;
                if !retryable {
                    state.outcome = Some(Err(json!({
                        "activity": state.name,
                        "type": error.get("type").cloned().unwrap_or(Value::Null),
                        "message": error.get("message").cloned().unwrap_or(Value::Null),
                        "attempts": attempt,
                    })));
                }
            }
            EventKind::WorkflowCompleted { .. } | EventKind::WorkflowFailed { .. } => {
                self.closed = true;
            }
        }
        self.head = event.seq;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started() -> Vec<Event> {
        vec![Run::start_event("order", json!({"id": 1}), "r1", 0)]
    }

    fn run_with(history: Vec<Event>) -> Run {
        Run::load("wf", history).unwrap()
    }

    /// Dispatches activity `name` live and returns its ordinal.
    fn live_ordinal(run: &mut Run, name: &str) -> u64 {
        match run
            .dispatch_activity(name, json!(1), &Value::Null, 0)
            .unwrap()
        {
            Dispatch::Live { ordinal, .. } => ordinal,
            other => panic!("expected a live dispatch, got {other:?}"),
        }
    }

    fn failure(error_type: &str, message: &str, retryable: bool) -> AttemptOutcome {
        AttemptOutcome::Failed {
            error_type: error_type.into(),
            message: message.into(),
            retryable,
        }
    }

    /// Drives one activity to success live and returns every event it appended.
    fn live_activity(run: &mut Run, name: &str, now: i64) -> Vec<Event> {
        let Dispatch::Live {
            ordinal,
            append,
            task,
        } = run
            .dispatch_activity(name, json!(name), &Value::Null, now)
            .unwrap()
        else {
            panic!("expected live dispatch")
        };
        let done = run
            .activity_result(
                ordinal,
                task.attempt,
                AttemptOutcome::Completed(json!({"ok": name})),
                now,
            )
            .unwrap()
            .unwrap();
        [append.events, done.events].concat()
    }

    #[test]
    fn live_dispatch_records_scheduled_and_first_attempt_after_head() {
        let mut run = run_with(started());
        let d = run
            .dispatch_activity("reserve", json!(1), &Value::Null, 5)
            .unwrap();
        let Dispatch::Live {
            ordinal,
            append,
            task,
        } = d
        else {
            panic!("{d:?}")
        };
        assert_eq!(ordinal, 1);
        assert_eq!(append.expected_head, 1);
        let seqs: Vec<u64> = append.events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![2, 3]);
        assert_eq!(
            append.events[1].kind,
            EventKind::ActivityStarted {
                ordinal: 1,
                attempt: 1
            }
        );
        assert_eq!((task.attempt, task.name.as_str()), (1, "reserve"));
        assert_eq!(run.activity_step(1, 5).unwrap(), Step::Wait);
    }

    #[test]
    fn replay_answers_completed_activity_without_new_events() {
        let mut first = run_with(started());
        let mut history = started();
        history.extend(live_activity(&mut first, "reserve", 1));
        let head = first.head();

        let mut replay = run_with(history);
        assert!(replay.is_replaying());
        assert_eq!(
            replay
                .dispatch_activity("reserve", json!(1), &Value::Null, 9)
                .unwrap(),
            Dispatch::Replayed { ordinal: 1 }
        );
        assert_eq!(
            replay.activity_step(1, 9).unwrap(),
            Step::Done(Ok(json!({"ok": "reserve"})))
        );
        assert_eq!(replay.head(), head);
        assert!(!replay.is_replaying());
        assert!(matches!(
            replay
                .dispatch_activity("charge", json!(2), &Value::Null, 9)
                .unwrap(),
            Dispatch::Live { ordinal: 2, .. }
        ));
    }

    #[test]
    fn replay_rejects_different_activity_and_names_seq() {
        let mut first = run_with(started());
        let mut history = started();
        history.extend(live_activity(&mut first, "reserve", 1));
        let mut replay = run_with(history);
        let err = replay
            .dispatch_activity("charge", json!(1), &Value::Null, 2)
            .unwrap_err();
        match &err {
            Error::NonDeterminism {
                seq,
                recorded,
                requested,
            } => {
                assert_eq!(*seq, 2);
                assert!(recorded.contains("reserve"), "{recorded}");
                assert!(requested.contains("charge"), "{requested}");
            }
            other => panic!("{other:?}"),
        }
        // The run stays diverged: nothing more is appended.
        assert_eq!(replay.activity_step(1, 3).unwrap_err(), err);
        assert_eq!(replay.complete(Ok(json!(null)), 3).unwrap_err(), err);
    }

    #[test]
    fn replay_rejects_completion_while_commands_remain() {
        let mut first = run_with(started());
        let mut history = started();
        history.extend(live_activity(&mut first, "reserve", 1));
        let mut replay = run_with(history);
        let err = replay.complete(Ok(json!("done")), 2).unwrap_err();
        assert!(
            matches!(err, Error::NonDeterminism { seq: 2, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn replay_rejects_activity_where_history_completed() {
        let mut first = run_with(started());
        let Completion::Live(append) = first.complete(Ok(json!(1)), 1).unwrap() else {
            panic!()
        };
        let mut history = started();
        history.extend(append.events);
        let mut replay = run_with(history);
        let err = replay
            .dispatch_activity("x", json!(1), &Value::Null, 2)
            .unwrap_err();
        assert!(
            matches!(&err, Error::NonDeterminism { seq: 2, recorded, .. } if recorded == "WorkflowCompleted"),
            "{err:?}"
        );
    }

    #[test]
    fn retryable_failure_waits_backoff_then_starts_next_attempt() {
        let mut run = run_with(started());
        let ordinal = live_ordinal(&mut run, "pay");
        let failed = failure("io", "boom", true);
        let append = run
            .activity_result(ordinal, 1, failed, 1000)
            .unwrap()
            .unwrap();
        assert!(matches!(
            append.events[0].kind,
            EventKind::ActivityFailed {
                retryable: true,
                attempt: 1,
                ..
            }
        ));
        assert_eq!(run.activity_step(ordinal, 1040).unwrap(), Step::RetryIn(60));
        let Step::Start { append, task } = run.activity_step(ordinal, 1100).unwrap() else {
            panic!()
        };
        assert_eq!(task.attempt, 2);
        assert_eq!(
            append.events[0].kind,
            EventKind::ActivityStarted {
                ordinal,
                attempt: 2
            }
        );
    }

    #[test]
    fn terminal_failure_is_final_and_not_retried() {
        let mut run = run_with(started());
        let ordinal = live_ordinal(&mut run, "pay");
        let failed = failure("declined", "no", false);
        run.activity_result(ordinal, 1, failed, 1).unwrap().unwrap();
        let Step::Done(Err(e)) = run.activity_step(ordinal, 2).unwrap() else {
            panic!()
        };
        assert_eq!(e["type"], "declined");
        assert_eq!(e["attempts"], 1);
    }

    #[test]
    fn stale_and_duplicate_results_change_nothing() {
        let mut run = run_with(started());
        let ordinal = live_ordinal(&mut run, "pay");
        assert_eq!(
            run.activity_result(ordinal, 2, AttemptOutcome::Completed(json!(1)), 1)
                .unwrap(),
            None
        );
        assert!(run
            .activity_result(ordinal, 1, AttemptOutcome::Completed(json!(1)), 1)
            .unwrap()
            .is_some());
        let head = run.head();
        assert_eq!(
            run.activity_result(ordinal, 1, AttemptOutcome::Completed(json!(2)), 1)
                .unwrap(),
            None
        );
        assert_eq!(run.head(), head);
    }

    #[test]
    fn attempt_lost_in_a_crash_is_recorded_failed_then_retried() {
        let mut first = run_with(started());
        let Dispatch::Live { append, .. } = first
            .dispatch_activity("ship", json!(1), &Value::Null, 0)
            .unwrap()
        else {
            panic!()
        };
        let mut history = started();
        history.extend(append.events);
        let mut resumed = run_with(history);
        assert_eq!(
            resumed
                .dispatch_activity("ship", json!(1), &Value::Null, 10)
                .unwrap(),
            Dispatch::Replayed { ordinal: 1 }
        );
        let Step::Record(rec) = resumed.activity_step(1, 10).unwrap() else {
            panic!()
        };
        assert!(matches!(&rec.events[0].kind,
            EventKind::ActivityFailed { attempt: 1, retryable: true, error, .. } if error["type"] == "worker_lost"));
        assert!(matches!(
            resumed.activity_step(1, 10_000).unwrap(),
            Step::Start {
                task: AttemptTask { attempt: 2, .. },
                ..
            }
        ));
    }

    #[test]
    fn load_rejects_gaps_and_missing_start() {
        let mut h = started();
        h.push(Event {
            seq: 3,
            recorded_at: 0,
            kind: EventKind::WorkflowCompleted { result: json!(1) },
        });
        assert_eq!(Run::load("wf", h).unwrap_err().prefix(), "durability");
        let no_start = vec![Event {
            seq: 1,
            recorded_at: 0,
            kind: EventKind::WorkflowCompleted { result: json!(1) },
        }];
        assert_eq!(
            Run::load("wf", no_start).unwrap_err().prefix(),
            "durability"
        );
        assert_eq!(Run::load("wf", vec![]).unwrap_err().prefix(), "not_found");
    }
}
