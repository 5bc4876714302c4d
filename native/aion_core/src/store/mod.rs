//! Durable storage of workflow histories.
//!
//! The contract (shared by every backend, checked by one conformance suite):
//! - the store persists, the engine decides: it never assigns sequence numbers or ids, it
//!   stores the events it is given;
//! - [`EventStore::append_batch`] applies each request all-or-nothing, only if the
//!   workflow's head is the request's `expected_head` and the events continue it without a
//!   gap; a mismatch is refused ([`Error::Durability`]), never an overwrite. Creating a
//!   workflow is an append of `WorkflowStarted` at expected head 0; an existing id is
//!   refused with [`Error::AlreadyExists`];
//! - when `append_batch` returns, every accepted request is durable (for SQLite: fsynced),
//!   and one call makes the whole batch durable at once (group commit, see [`commit`]);
//! - the store keeps a per-workflow summary ([`WorkflowRecord`]) derived from the events it
//!   stores, for `describe` and `list`.

pub mod commit;
pub mod memory;
pub mod sqlite;

#[cfg(test)]
mod conformance;

use serde_json::Value;

use crate::event::{Event, EventKind};
use crate::Error;

/// One all-or-nothing append.
#[derive(Debug, Clone, PartialEq)]
pub struct AppendRequest {
    /// The workflow whose history grows.
    pub workflow_id: String,
    /// The head the history must have before the append (0 creates the workflow).
    pub expected_head: u64,
    /// The events, numbered `expected_head + 1 ..`.
    pub events: Vec<Event>,
}

/// Lifecycle state of a workflow, as the store knows it from its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// No closing event yet.
    Running,
    /// Closed by `WorkflowCompleted`.
    Completed,
    /// Closed by `WorkflowFailed`.
    Failed,
}

impl Status {
    /// The lowercase name used on the wire and in the SQLite table.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed => "failed",
        }
    }

    /// Parses the lowercase name.
    pub fn parse(s: &str) -> Result<Status, Error> {
        match s {
            "running" => Ok(Status::Running),
            "completed" => Ok(Status::Completed),
            "failed" => Ok(Status::Failed),
            other => Err(Error::InvalidInput(format!(
                "unknown workflow status {other:?}"
            ))),
        }
    }
}

/// The store's summary of one workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowRecord {
    /// The workflow id.
    pub workflow_id: String,
    /// The registered workflow type.
    pub workflow_type: String,
    /// The run id from `WorkflowStarted`.
    pub run_id: String,
    /// Running, completed or failed.
    pub status: Status,
    /// The last seq of the history.
    pub head: u64,
    /// `recorded_at` of `WorkflowStarted`.
    pub created_at: i64,
    /// `recorded_at` of the last event.
    pub updated_at: i64,
    /// The result (completed) or error (failed), once closed.
    pub outcome: Option<Value>,
}

/// Which workflows [`EventStore::list`] returns; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListFilter {
    /// Only workflows in this state.
    pub status: Option<Status>,
    /// Only workflows of this type.
    pub workflow_type: Option<String>,
}

impl ListFilter {
    /// Whether `record` passes the filter.
    pub fn matches(&self, record: &WorkflowRecord) -> bool {
        self.status.is_none_or(|s| s == record.status)
            && self
                .workflow_type
                .as_ref()
                .is_none_or(|t| *t == record.workflow_type)
    }
}

/// A durable home for workflow histories. Implementations are shared between threads.
pub trait EventStore: Send + Sync {
    /// Applies every request of the batch, each all-or-nothing, and makes them durable with
    /// one commit. Returns one result per request, in order. A failure of the commit itself
    /// fails every request.
    fn append_batch(&self, batch: &[AppendRequest]) -> Vec<Result<(), Error>>;

    /// Events of `workflow_id` with `seq >= from_seq`, in order. Unknown id: empty.
    fn read(&self, workflow_id: &str, from_seq: u64) -> Result<Vec<Event>, Error>;

    /// The summary of one workflow, if it exists.
    fn workflow(&self, workflow_id: &str) -> Result<Option<WorkflowRecord>, Error>;

    /// Summaries of the workflows passing `filter`, oldest first.
    fn list(&self, filter: &ListFilter) -> Result<Vec<WorkflowRecord>, Error>;

    /// One append on its own.
    fn append(&self, request: AppendRequest) -> Result<(), Error> {
        self.append_batch(std::slice::from_ref(&request))
            .pop()
            .unwrap_or_else(|| Err(Error::Internal("append_batch returned nothing".into())))
    }
}

/// Checks `request` against the workflow's current summary and returns the summary after it.
/// The single place the append contract (head, contiguity, creation) is enforced, shared by
/// every backend.
pub fn apply_append(
    current: Option<&WorkflowRecord>,
    request: &AppendRequest,
) -> Result<WorkflowRecord, Error> {
    let id = &request.workflow_id;
    let head = current.map_or(0, |r| r.head);
    if request.expected_head == 0 && current.is_some() {
        return Err(Error::AlreadyExists(id.clone()));
    }
    if head != request.expected_head {
        return Err(Error::Durability(format!(
            "stale head for {id}: expected {}, store has {head}",
            request.expected_head
        )));
    }
    if request.events.is_empty() {
        return Err(Error::InvalidInput(format!("empty append for {id}")));
    }
    let mut record = match (current, &request.events[0].kind) {
        (Some(r), _) => r.clone(),
        (
            None,
            EventKind::WorkflowStarted {
                workflow_type,
                run_id,
                ..
            },
        ) => WorkflowRecord {
            workflow_id: id.clone(),
            workflow_type: workflow_type.clone(),
            run_id: run_id.clone(),
            status: Status::Running,
            head: 0,
            created_at: request.events[0].recorded_at,
            updated_at: request.events[0].recorded_at,
            outcome: None,
        },
        (None, _) => {
            return Err(Error::InvalidInput(format!(
                "the first event of {id} must be WorkflowStarted"
            )))
        }
    };
    if record.status != Status::Running {
        return Err(Error::NotRunning(format!(
            "{id} is {}: its history is closed",
            record.status.as_str()
        )));
    }
    for event in &request.events {
        if event.seq != record.head + 1 {
            return Err(Error::InvalidInput(format!(
                "append for {id} numbers event {} after head {}",
                event.seq, record.head
            )));
        }
        if record.status != Status::Running {
            return Err(Error::InvalidInput(format!(
                "append for {id} continues after its closing event"
            )));
        }
        match &event.kind {
            EventKind::WorkflowStarted { .. } if event.seq != 1 => {
                return Err(Error::InvalidInput(format!(
                    "append for {id} starts the workflow again"
                )))
            }
            EventKind::WorkflowCompleted { result } => {
                record.status = Status::Completed;
                record.outcome = Some(result.clone());
            }
            EventKind::WorkflowFailed { error } => {
                record.status = Status::Failed;
                record.outcome = Some(error.clone());
            }
            _ => {}
        }
        record.head = event.seq;
        record.updated_at = event.recorded_at;
    }
    Ok(record)
}
