//! Activities: dispatch, awaiting (retries, lost attempts, deadlines, cancellation) and
//! attempt results.

use serde_json::{json, Value};

use super::{cancelled_activity, Append, Run, Step};
use crate::event::EventKind;
use crate::payload::Payload;
use crate::retry::ActivityOptions;
use crate::Error;

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
    pub input: Payload,
    /// Per-attempt deadline, if any: `start_to_close_ms`, or less when the
    /// schedule-to-close deadline comes sooner.
    pub start_to_close_ms: Option<u64>,
    /// What was left, when the attempt was handed out, of the schedule-to-close deadline
    /// (if any). It counts from now, not from the attempt's start: an attempt that waits in
    /// its task queue must still stop at the deadline.
    pub schedule_to_close_left_ms: Option<u64>,
    /// Longest time the attempt may go without a heartbeat, if heartbeats are required.
    pub heartbeat_timeout_ms: Option<u64>,
    /// The details of the latest heartbeat recorded with an earlier attempt's failure (for
    /// `aion_activity:last_heartbeat/0`); `None` in the first attempt or when no earlier
    /// attempt recorded any.
    pub last_heartbeat: Option<Value>,
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
    /// A new activity: append, wait until durable, then hand `task` (if any) to a worker.
    Live {
        /// The activity's ordinal (its correlation id).
        ordinal: u64,
        /// `ActivityScheduled` + `ActivityStarted(attempt 1)` (or, when a cancellation
        /// is waiting to be seen, `ActivityScheduled` + its cancellation).
        append: Append,
        /// The first attempt; `None` when the activity is cancelled at once.
        task: Option<AttemptTask>,
    },
}

/// How one attempt ended, as reported by the worker that ran it.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    /// The activity returned a result.
    Completed(Payload),
    /// The attempt failed.
    Failed {
        /// A short machine-readable kind (`timeout`, `crash`, an error atom ...).
        error_type: String,
        /// Human-readable detail.
        message: String,
        /// `false` for terminal errors, which are never retried.
        retryable: bool,
        /// The details of the attempt's last heartbeat, if it sent any: recorded with the
        /// failure (as the error's `details`) and handed to the next attempt.
        details: Option<Value>,
    },
}

impl Run {
    /// Resolves the workflow code's request to run activity `name`.
    pub fn dispatch_activity(
        &mut self,
        name: &str,
        input: Payload,
        config: &Value,
        now: i64,
    ) -> Result<Dispatch, Error> {
        let options = ActivityOptions::from_json(config)?;
        let ordinal = self.next_ordinal;
        let scheduled = EventKind::ActivityScheduled {
            ordinal,
            name: name.to_string(),
            input: input.clone(),
            config: options.to_json(),
        };
        if self.command(&scheduled)?.is_some() {
            self.next_ordinal += 1;
            return Ok(Dispatch::Replayed { ordinal });
        }
        self.next_ordinal += 1;
        if self.cancel_requested.is_some() && !self.cancel_delivered {
            let append = self.record(vec![scheduled, cancelled_activity(ordinal, 0)], now)?;
            return Ok(Dispatch::Live {
                ordinal,
                append,
                task: None,
            });
        }
        let started = EventKind::ActivityStarted {
            ordinal,
            attempt: 1,
        };
        let append = self.record(vec![scheduled, started], now)?;
        let task = self.begin_attempt(ordinal, 1, now)?;
        Ok(Dispatch::Live {
            ordinal,
            append,
            task: Some(task),
        })
    }

    /// Decides what awaiting activity `ordinal` needs next, at time `now`.
    pub fn activity_step(&mut self, ordinal: u64, now: i64) -> Result<Step, Error> {
        self.check_usable()?;
        let state = self.activity(ordinal)?;
        let settled = state.outcome.as_ref().map(|_| state.outcome_seq);
        if let Some(step) = self.pending_update(settled) {
            return Ok(step);
        }
        let state = self.activity(ordinal)?;
        if let Some(outcome) = state.outcome.clone() {
            let (seq, at, cancelled) = (state.outcome_seq, state.outcome_at, state.cancelled);
            return Ok(self.observe(Some(seq), at, outcome, cancelled));
        }
        if let Some(step) = self.scope_timeout(None) {
            return Ok(step);
        }
        if self.closed {
            return Err(Error::NotRunning(format!("{} is closed", self.workflow_id)));
        }
        if let Some(append) = self.fire_due_scope(now)? {
            return Ok(Step::Record(append));
        }
        let state = self.activity(ordinal)?;
        if state.started > state.failed {
            if state.live_attempt == Some(state.started) {
                return Ok(Step::Wait {
                    until: self.scope_deadline(),
                });
            }
            // Started by an earlier incarnation that died with it: count the attempt as
            // failed, so the policy (and the history) see every attempt that was made.
            let outcome = AttemptOutcome::Failed {
                error_type: "worker_lost".into(),
                message: "the node stopped while this attempt was running".into(),
                retryable: true,
                details: None,
            };
            let attempt = state.started;
            return Ok(Step::Record(
                self.failure_append(ordinal, attempt, outcome, now)?,
            ));
        }
        let due = state.failed_at + state.options.retry.delay_after(state.failed) as i64;
        if state.failed > 0 && now < due {
            let until = self.scope_deadline().map_or(due, |d| d.min(due));
            return Ok(Step::RetryIn((until - now).max(0) as u64));
        }
        let attempt = state.started + 1;
        let append = self.record(vec![EventKind::ActivityStarted { ordinal, attempt }], now)?;
        let task = self.begin_attempt(ordinal, attempt, now)?;
        Ok(Step::Start { append, task })
    }

    /// What the code sees of an outcome recorded at `seq`: a `with_timeout` deadline that
    /// fired first wins; a cancellation is reported (and counts as seen).
    pub(super) fn observe(
        &mut self,
        seq: Option<u64>,
        at: i64,
        outcome: Result<Payload, Value>,
        cancelled: bool,
    ) -> Step {
        if let Some(step) = self.scope_timeout(seq) {
            return step;
        }
        self.advance_time(at);
        if cancelled {
            self.cancel_delivered = true;
            return Step::Cancelled;
        }
        Step::Done(outcome)
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
        if self.closed || state.outcome.is_some() || state.live_attempt != Some(attempt) {
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
            details,
        } = outcome
        else {
            return Err(Error::Internal("failure_append on a success".into()));
        };
        let state = self.activity(ordinal)?;
        let mut retry = state
            .options
            .retry
            .should_retry(attempt, &error_type, retryable);
        let mut error = json!({"type": error_type, "message": message});
        // No retry that could not start before the schedule-to-close deadline: the
        // activity ends here, and says why (with what the last attempt said).
        let next = now.saturating_add(state.options.retry.delay_after(attempt) as i64);
        if let Some(deadline) = state.deadline().filter(|d| retry && next >= *d) {
            retry = false;
            error = json!({
                "type": "schedule_to_close_timeout",
                "message": format!(
                    "schedule_to_close_ms ran out at {deadline} (attempt {attempt} failed: {error_type}: {message})"
                ),
            });
        }
        // The attempt's last heartbeat details travel with its failure (replay hands the
        // latest ones to the next attempt); a `null` records nothing.
        if let Some(details) = details.filter(|d| !d.is_null()) {
            error["details"] = details;
        }
        self.record(
            vec![EventKind::ActivityFailed {
                ordinal,
                error,
                attempt,
                retryable: retry,
                cause: None,
            }],
            now,
        )
    }

    fn begin_attempt(
        &mut self,
        ordinal: u64,
        attempt: u32,
        now: i64,
    ) -> Result<AttemptTask, Error> {
        let state = self
            .activities
            .get_mut(&ordinal)
            .ok_or_else(|| unknown(ordinal))?;
        state.live_attempt = Some(attempt);
        // An attempt may not run past the schedule-to-close deadline either.
        let left = state.deadline().map(|deadline| {
            u64::try_from(deadline.saturating_sub(now))
                .unwrap_or(0)
                .max(1)
        });
        let start_to_close_ms = match (state.options.start_to_close_ms, left) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(AttemptTask {
            ordinal,
            attempt,
            name: state.name.clone(),
            input: state.input.clone(),
            start_to_close_ms,
            schedule_to_close_left_ms: left,
            heartbeat_timeout_ms: state.options.heartbeat_timeout_ms,
            last_heartbeat: state.last_heartbeat.clone(),
            task_queue: state.options.task_queue.clone(),
        })
    }

    fn activity(&self, ordinal: u64) -> Result<&super::ActivityState, Error> {
        self.activities
            .get(&ordinal)
            .ok_or_else(|| unknown(ordinal))
    }
}

fn unknown(ordinal: u64) -> Error {
    Error::InvalidInput(format!("no activity with correlation id {ordinal}"))
}
