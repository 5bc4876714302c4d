//! The durable event model.
//!
//! A workflow's history is a sequence of [`Event`]s numbered from 1 (`seq`), each stamped
//! with the wall-clock time the engine recorded it at (`recorded_at`, Unix milliseconds).
//! Events are stored as JSON: `{"seq":1,"recorded_at":...,"type":"WorkflowStarted",...}`.
//!
//! Some events are *commands*: decisions the workflow code made (schedule an activity,
//! complete). Replay matches each command the code issues against the recorded commands in
//! order. The others are *outcomes* (an attempt started, completed or failed), which replay
//! looks up by key.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::payload::Payload;

/// One entry in a workflow's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the history, 1-based and contiguous.
    pub seq: u64,
    /// When the engine recorded the event, Unix milliseconds.
    pub recorded_at: i64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What an event says happened. Serialized with the variant name in the `type` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum EventKind {
    /// The run was created. Always event 1 of a run.
    WorkflowStarted {
        /// The registered workflow type.
        workflow_type: String,
        /// The workflow's input (JSON).
        input: Payload,
        /// The id of this run.
        run_id: String,
        /// The run this one continues (continue-as-new), if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        continued_from: Option<String>,
        /// When the whole workflow (every run of the chain) times out, Unix ms.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        execution_deadline: Option<i64>,
        /// The workflow that started this one as a child, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_id: Option<String>,
    },
    /// The workflow code scheduled an activity (a command).
    ActivityScheduled {
        /// Per-run activity number, from 1, in the order the code asked.
        ordinal: u64,
        /// Registered activity name.
        name: String,
        /// The activity's input (JSON).
        input: Payload,
        /// The activity options in force (retry policy, timeouts), as JSON.
        config: Value,
    },
    /// An attempt of an activity was handed to a worker.
    ActivityStarted {
        /// The activity's ordinal.
        ordinal: u64,
        /// Attempt number, from 1.
        attempt: u32,
    },
    /// An attempt succeeded; the activity is done.
    ActivityCompleted {
        /// The activity's ordinal.
        ordinal: u64,
        /// The activity's result (JSON).
        result: Payload,
        /// The attempt that succeeded.
        attempt: u32,
    },
    /// An attempt failed (or the activity was cancelled: error type `cancelled`, with the
    /// cancellation's `cause`).
    ActivityFailed {
        /// The activity's ordinal.
        ordinal: u64,
        /// `{"type": ..., "message": ...}` describing the failure.
        error: Value,
        /// The attempt that failed (0 when cancelled before any attempt).
        attempt: u32,
        /// Whether another attempt will be made. `false` makes this failure the activity's
        /// final outcome.
        retryable: bool,
        /// Set when the activity was cancelled: who cancelled it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<Cause>,
    },
    /// The workflow code started a durable timer (a command). `with_timeout` deadlines are
    /// timers too (`scope: true`).
    TimerStarted {
        /// Per-run timer number, from 1.
        timer_id: u64,
        /// The name the code gave the timer (`sleep` for sleeps, `with_timeout` for scopes).
        name: String,
        /// When it fires, Unix ms.
        fire_at: i64,
        /// Whether this is the deadline of a `with_timeout` scope.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        scope: bool,
    },
    /// A timer came due and was observed by the workflow.
    TimerFired {
        /// The timer.
        timer_id: u64,
    },
    /// A timer was cancelled: by the workflow code (`cause: "workflow"`, a command) or by a
    /// cancellation request (`cause: "cancel_request"`).
    TimerCancelled {
        /// The timer.
        timer_id: u64,
        /// Who cancelled it.
        cause: Cause,
    },
    /// The result of `side_effect` (a command).
    SideEffectRecorded {
        /// Per-run side-effect number, from 1.
        ordinal: u64,
        /// The recorded value (JSON).
        value: Payload,
    },
    /// A `patched(ChangeId)` check taken on new code (a command).
    MarkerRecorded {
        /// The change id.
        change_id: String,
    },
    /// A signal arrived (from a client or another workflow). Consumed by the code's
    /// `receive_signal` calls for `name`, in arrival order.
    SignalReceived {
        /// The signal's name.
        name: String,
        /// Its payload (JSON).
        payload: Payload,
        /// The sender's id for the signal, so a redelivery is recorded once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal_id: Option<String>,
    },
    /// The workflow code signalled another workflow (a command).
    SignalSent {
        /// Per-run number of outgoing signals, from 1.
        ordinal: u64,
        /// The target workflow id.
        target: String,
        /// The signal's name.
        name: String,
        /// Its payload (JSON).
        payload: Payload,
    },
    /// What delivering an outgoing signal gave: `ok`, `not_found` or `not_running`.
    SignalDelivered {
        /// The outgoing signal.
        ordinal: u64,
        /// The delivery result.
        result: Delivery,
    },
    /// The workflow code started a child workflow (a command).
    ChildStarted {
        /// Per-run child number, from 1.
        ordinal: u64,
        /// The child's workflow id.
        workflow_id: String,
        /// The child's workflow type.
        workflow_type: String,
        /// The child's input (JSON).
        input: Payload,
        /// What happens to the child when the parent ends: `terminate`, `request_cancel`
        /// or `abandon`.
        parent_close_policy: ChildPolicy,
    },
    /// A child workflow closed (or could not be started).
    ChildCompleted {
        /// The child.
        ordinal: u64,
        /// How the child closed.
        status: ChildStatus,
        /// The result (completed) or the error/details/reason.
        value: Value,
        /// Set when the parent's cancellation cancelled the child's await: who cancelled.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<Cause>,
    },
    /// An update passed its validator and was accepted; its handler runs at this point of
    /// the history, on every replay.
    UpdateAccepted {
        /// The update's id.
        update_id: String,
        /// The handler's name.
        name: String,
        /// Its arguments (JSON).
        args: Payload,
    },
    /// The update's handler returned (a command).
    UpdateCompleted {
        /// The update's id.
        update_id: String,
        /// `{"ok": Result}` or `{"error": Reason}`.
        result: Value,
    },
    /// A client asked for the run to be cancelled.
    WorkflowCancelRequested {
        /// Why, as given by the client.
        reason: Value,
    },
    /// The workflow returned a result (a command). Closes the run.
    WorkflowCompleted {
        /// The workflow's result (JSON).
        result: Payload,
    },
    /// The workflow returned an error (a command). Closes the run.
    WorkflowFailed {
        /// The workflow's error (JSON).
        error: Value,
    },
    /// The workflow returned after a cancellation request (a command). Closes the run.
    WorkflowCancelled {
        /// What the workflow returned (`{"ok": _}` or `{"error": _}`).
        details: Value,
    },
    /// The run was ended at once by `aion:terminate/2`. Closes the run.
    WorkflowTerminated {
        /// Why, as given by the client.
        reason: Value,
    },
    /// The workflow's execution deadline passed. Closes the run.
    WorkflowTimedOut {
        /// The deadline that passed, Unix ms.
        deadline: i64,
    },
    /// The workflow continued as a new run (a command). Closes this run; the new run's
    /// `WorkflowStarted` is written in the same atomic append.
    WorkflowContinuedAsNew {
        /// The new run's input.
        input: Payload,
        /// The new run's id.
        new_run_id: String,
    },
}

impl EventKind {
    /// The variant's name, as stored in the `type` field.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::WorkflowStarted { .. } => "WorkflowStarted",
            EventKind::ActivityScheduled { .. } => "ActivityScheduled",
            EventKind::ActivityStarted { .. } => "ActivityStarted",
            EventKind::ActivityCompleted { .. } => "ActivityCompleted",
            EventKind::ActivityFailed { .. } => "ActivityFailed",
            EventKind::TimerStarted { .. } => "TimerStarted",
            EventKind::TimerFired { .. } => "TimerFired",
            EventKind::TimerCancelled { .. } => "TimerCancelled",
            EventKind::SideEffectRecorded { .. } => "SideEffectRecorded",
            EventKind::SignalReceived { .. } => "SignalReceived",
            EventKind::SignalSent { .. } => "SignalSent",
            EventKind::SignalDelivered { .. } => "SignalDelivered",
            EventKind::ChildStarted { .. } => "ChildStarted",
            EventKind::ChildCompleted { .. } => "ChildCompleted",
            EventKind::UpdateAccepted { .. } => "UpdateAccepted",
            EventKind::UpdateCompleted { .. } => "UpdateCompleted",
            EventKind::MarkerRecorded { .. } => "MarkerRecorded",
            EventKind::WorkflowCancelRequested { .. } => "WorkflowCancelRequested",
            EventKind::WorkflowCompleted { .. } => "WorkflowCompleted",
            EventKind::WorkflowFailed { .. } => "WorkflowFailed",
            EventKind::WorkflowCancelled { .. } => "WorkflowCancelled",
            EventKind::WorkflowTerminated { .. } => "WorkflowTerminated",
            EventKind::WorkflowTimedOut { .. } => "WorkflowTimedOut",
            EventKind::WorkflowContinuedAsNew { .. } => "WorkflowContinuedAsNew",
        }
    }

    /// Whether the event records a decision of the workflow code, matched in order on replay.
    pub fn is_command(&self) -> bool {
        match self {
            EventKind::ActivityScheduled { .. }
            | EventKind::TimerStarted { .. }
            | EventKind::SideEffectRecorded { .. }
            | EventKind::MarkerRecorded { .. }
            | EventKind::SignalSent { .. }
            | EventKind::ChildStarted { .. }
            | EventKind::UpdateCompleted { .. }
            | EventKind::WorkflowCompleted { .. }
            | EventKind::WorkflowFailed { .. }
            | EventKind::WorkflowCancelled { .. }
            | EventKind::WorkflowContinuedAsNew { .. } => true,
            EventKind::TimerCancelled { cause, .. } => *cause == Cause::Workflow,
            _ => false,
        }
    }

    /// Whether the event closes the run.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            EventKind::WorkflowCompleted { .. }
                | EventKind::WorkflowFailed { .. }
                | EventKind::WorkflowCancelled { .. }
                | EventKind::WorkflowTerminated { .. }
                | EventKind::WorkflowTimedOut { .. }
                | EventKind::WorkflowContinuedAsNew { .. }
        )
    }

    /// The command's identity for replay: two commands match when these are equal. Also
    /// the human description in non-determinism reports, e.g.
    /// `ActivityScheduled(ordinal 2, name "charge")`.
    pub fn describe(&self) -> String {
        match self {
            EventKind::ActivityScheduled { ordinal, name, .. } => {
                format!("ActivityScheduled(ordinal {ordinal}, name {name:?})")
            }
            EventKind::TimerStarted { timer_id, name, .. } => {
                format!("TimerStarted(timer {timer_id}, name {name:?})")
            }
            EventKind::TimerCancelled { timer_id, .. } => {
                format!("TimerCancelled(timer {timer_id})")
            }
            EventKind::SideEffectRecorded { ordinal, .. } => {
                format!("SideEffectRecorded(ordinal {ordinal})")
            }
            EventKind::MarkerRecorded { change_id } => format!("MarkerRecorded({change_id:?})"),
            EventKind::SignalSent {
                ordinal,
                target,
                name,
                ..
            } => format!("SignalSent(ordinal {ordinal}, to {target:?}, name {name:?})"),
            EventKind::ChildStarted {
                ordinal,
                workflow_type,
                ..
            } => format!("ChildStarted(ordinal {ordinal}, type {workflow_type:?})"),
            EventKind::UpdateCompleted { update_id, .. } => {
                format!("UpdateCompleted({update_id:?})")
            }
            other => other.name().to_string(),
        }
    }
}

/// Who cancelled a timer, an activity or the await of a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The workflow code (a command).
    Workflow,
    /// A cancellation request for the run.
    CancelRequest,
}

/// What happens to an open child when its parent ends or is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildPolicy {
    /// Terminate the child (the default).
    Terminate,
    /// Ask the child to cancel.
    RequestCancel,
    /// Leave the child running.
    Abandon,
}

/// How a child workflow closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildStatus {
    /// It completed; the value is its result.
    Completed,
    /// It failed.
    Failed,
    /// It was cancelled (or its await was, by the parent's cancellation: see `cause`).
    Cancelled,
    /// It was terminated.
    Terminated,
    /// It ran out of time.
    TimedOut,
    /// It could not be created.
    StartFailed,
}

/// What delivering an outgoing signal gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// It is in the target's inbox.
    Ok,
    /// No workflow has the target id.
    NotFound,
    /// The target is closed.
    NotRunning,
}

/// Parses and names the closed vocabularies above by their on-disk (and wire) names.
pub trait Vocabulary: Sized + Serialize + serde::de::DeserializeOwned {
    /// What the vocabulary is, for errors.
    const WHAT: &'static str;

    /// Parses the on-disk name.
    fn parse(name: &str) -> Result<Self, crate::Error> {
        serde_json::from_value(Value::String(name.to_string()))
            .map_err(|_| crate::Error::InvalidInput(format!("unknown {} {name:?}", Self::WHAT)))
    }

    /// The on-disk name.
    fn name(&self) -> String {
        match serde_json::to_value(self) {
            Ok(Value::String(name)) => name,
            _ => String::new(),
        }
    }
}

impl Vocabulary for Cause {
    const WHAT: &'static str = "cancellation cause";
}
impl Vocabulary for ChildPolicy {
    const WHAT: &'static str = "parent-close policy (terminate, request_cancel or abandon)";
}
impl Vocabulary for ChildStatus {
    const WHAT: &'static str = "child status";
}
impl Vocabulary for Delivery {
    const WHAT: &'static str = "signal delivery result";
}

impl Event {
    /// Serializes the event to its stored JSON form.
    pub fn to_json(&self) -> Result<String, crate::Error> {
        serde_json::to_string(self)
            .map_err(|e| crate::Error::Internal(format!("cannot encode event: {e}")))
    }

    /// Parses an event from its stored JSON form; a malformed body is a durability error
    /// (the store is corrupt), never silently skipped.
    pub fn from_json(body: &str) -> Result<Event, crate::Error> {
        serde_json::from_str(body)
            .map_err(|e| crate::Error::Corrupt(format!("corrupt event record: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn event_json_round_trips_with_type_tag() {
        let ev = Event {
            seq: 2,
            recorded_at: 17,
            kind: EventKind::ActivityScheduled {
                ordinal: 1,
                name: "charge".into(),
                input: json!({"amount": 5}).into(),
                config: json!({}),
            },
        };
        let text = ev.to_json().unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["type"], "ActivityScheduled");
        assert_eq!(v["seq"], 2);
        assert_eq!(Event::from_json(&text).unwrap(), ev);
    }

    #[test]
    fn corrupt_event_is_a_durability_error() {
        let err = Event::from_json("{\"seq\":1,\"type\":\"Nope\"}").unwrap_err();
        assert_eq!(err.kind(), "corrupt");
    }
}
