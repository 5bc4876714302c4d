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
    /// The run was created. Always event 1.
    WorkflowStarted {
        /// The registered workflow type.
        workflow_type: String,
        /// The workflow's input (JSON).
        input: Value,
        /// The id of this run.
        run_id: String,
    },
    /// The workflow code scheduled an activity (a command).
    ActivityScheduled {
        /// Per-run activity number, from 1, in the order the code asked.
        ordinal: u64,
        /// Registered activity name.
        name: String,
        /// The activity's input (JSON).
        input: Value,
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
        result: Value,
        /// The attempt that succeeded.
        attempt: u32,
    },
    /// An attempt failed.
    ActivityFailed {
        /// The activity's ordinal.
        ordinal: u64,
        /// `{"type": ..., "message": ...}` describing the failure.
        error: Value,
        /// The attempt that failed.
        attempt: u32,
        /// Whether another attempt will be made. `false` makes this failure the activity's
        /// final outcome.
        retryable: bool,
    },
    /// The workflow returned a result (a command). Closes the run.
    WorkflowCompleted {
        /// The workflow's result (JSON).
        result: Value,
    },
    /// The workflow returned an error (a command). Closes the run.
    WorkflowFailed {
        /// The workflow's error (JSON).
        error: Value,
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
            EventKind::WorkflowCompleted { .. } => "WorkflowCompleted",
            EventKind::WorkflowFailed { .. } => "WorkflowFailed",
        }
    }

    /// Whether the event records a decision of the workflow code, matched in order on replay.
    pub fn is_command(&self) -> bool {
        matches!(
            self,
            EventKind::ActivityScheduled { .. }
                | EventKind::WorkflowCompleted { .. }
                | EventKind::WorkflowFailed { .. }
        )
    }

    /// Whether the event closes the run.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            EventKind::WorkflowCompleted { .. } | EventKind::WorkflowFailed { .. }
        )
    }

    /// A short human description used in non-determinism reports, e.g.
    /// `ActivityScheduled(ordinal 2, name "charge")`.
    pub fn describe(&self) -> String {
        match self {
            EventKind::ActivityScheduled { ordinal, name, .. } => {
                format!("ActivityScheduled(ordinal {ordinal}, name {name:?})")
            }
            other => other.name().to_string(),
        }
    }
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
            .map_err(|e| crate::Error::Durability(format!("corrupt event record: {e}")))
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
                input: json!({"amount": 5}),
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
        assert_eq!(err.prefix(), "durability");
    }
}
