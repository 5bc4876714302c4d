//! Child workflows.

use serde_json::{json, Value};

use super::{Recorded, Run, Step};
use crate::event::{Cause, ChildStatus, EventKind};
use crate::payload::Payload;
use crate::Error;

pub use crate::event::ChildPolicy;

/// The answer to the code's `start_child`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildStart {
    /// The child's number in the run (its correlation key).
    pub ordinal: u64,
    /// The child's workflow id.
    pub workflow_id: String,
    /// Whether the child must be (re)created: it has no recorded outcome. Creating is
    /// idempotent (an id that exists is left alone).
    pub create: bool,
}

/// The outcome event of a child the parent's cancellation cancelled.
pub(super) fn cancelled_child(ordinal: u64) -> EventKind {
    EventKind::ChildCompleted {
        ordinal,
        status: ChildStatus::Cancelled,
        value: json!(super::CANCELLED_BY_REQUEST),
        cause: Some(Cause::CancelRequest),
    }
}

impl Run {
    /// Resolves the code's request to start a child workflow of `workflow_type`. Its id is
    /// `child_id` or, by default, `"<parent id>/<run id>/child-<n>"`.
    pub fn start_child(
        &mut self,
        workflow_type: &str,
        input: Payload,
        child_id: Option<String>,
        policy: ChildPolicy,
        now: i64,
    ) -> Result<Recorded<ChildStart>, Error> {
        let ordinal = self.next_child;
        let workflow_id = child_id
            .unwrap_or_else(|| format!("{}/{}/child-{ordinal}", self.workflow_id, self.run_id));
        let started = EventKind::ChildStarted {
            ordinal,
            workflow_id: workflow_id.clone(),
            workflow_type: workflow_type.to_string(),
            input,
            parent_close_policy: policy,
        };
        let recorded = self.command(&started)?;
        self.next_child += 1;
        if let Some(event) = recorded {
            let EventKind::ChildStarted { workflow_id, .. } = event.kind else {
                return Err(Error::Internal("ChildStarted expected".into()));
            };
            let create = self
                .children
                .get(&ordinal)
                .is_some_and(|c| c.outcome.is_none());
            return Ok(Recorded::Replayed(ChildStart {
                ordinal,
                workflow_id,
                create,
            }));
        }
        let mut kinds = vec![started];
        let cancelled = self.cancel_requested.is_some() && !self.cancel_delivered;
        if cancelled {
            kinds.push(cancelled_child(ordinal));
        }
        let append = self.record(kinds, now)?;
        Ok(Recorded::Live(
            ChildStart {
                ordinal,
                workflow_id,
                create: !cancelled,
            },
            append,
        ))
    }

    /// Decides what awaiting child `ordinal` needs: `Done(Ok(result))` when it completed,
    /// `Done(Err({"status", "value"}))` when it closed otherwise, `Cancelled`, `Timeout`,
    /// `Update`, `Record` or `Wait` (then look the child up and record its outcome with
    /// [`Run::child_completed`] once it has closed).
    pub fn child_step(&mut self, ordinal: u64, now: i64) -> Result<Step, Error> {
        self.check_usable()?;
        let child = self
            .children
            .get(&ordinal)
            .ok_or_else(|| Error::InvalidInput(format!("no child with correlation id {ordinal}")))?
            .clone();
        if let Some(step) = self.pending_update(child.outcome.as_ref().map(|o| o.0)) {
            return Ok(step);
        }
        if let Some((seq, at, status, value, cause)) = child.outcome {
            let outcome = match status {
                ChildStatus::Completed => Ok(Payload::from_value(&value)),
                _ => Err(json!({"status": status, "value": value})),
            };
            let cancelled = cause == Some(Cause::CancelRequest);
            return Ok(self.observe(Some(seq), at, outcome, cancelled));
        }
        self.pending(now)
    }

    /// Records that child `ordinal` closed with `status` and `value` (once).
    pub fn child_completed(
        &mut self,
        ordinal: u64,
        status: ChildStatus,
        value: Value,
        now: i64,
    ) -> Result<Option<super::Append>, Error> {
        let open = self
            .children
            .get(&ordinal)
            .is_some_and(|c| c.outcome.is_none());
        if !open || self.closed {
            return Ok(None);
        }
        let kind = EventKind::ChildCompleted {
            ordinal,
            status,
            value,
            cause: None,
        };
        Ok(Some(self.record(vec![kind], now)?))
    }
}
