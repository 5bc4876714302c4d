//! Durable storage of workflow histories.
//!
//! The contract (shared by every backend, checked by one conformance suite):
//! - the store persists, the engine decides: it never assigns sequence numbers or ids, it
//!   stores the events it is given;
//! - a workflow id has a chain of runs (continue-as-new), each with its own history
//!   numbered from 1; the workflow's summary follows its current run;
//! - [`EventStore::append_batch`] applies each *group* of requests all-or-nothing, each
//!   request only if the run's head is its `expected_head` and the events continue it
//!   without a gap; a mismatch is refused ([`Error::StaleHead`]), never an overwrite.
//!   Creating a workflow is an append of `WorkflowStarted` at expected head 0; an existing
//!   id is refused with [`Error::AlreadyExists`]. A new run of an existing id is accepted
//!   only as the successor of a run that closed with `WorkflowContinuedAsNew` naming it
//!   (both appends in one group);
//! - when `append_batch` returns, every accepted request is durable (for SQLite: fsynced),
//!   and one call makes the whole batch durable at once (group commit, see [`commit`]);
//! - the store keeps a per-workflow summary ([`WorkflowRecord`]) derived from the events it
//!   stores, for `describe` and `list`;
//! - every workflow has a durable **inbox**: what others address to it (a signal, a
//!   cancellation request, a child's close) is pushed there ([`Write::Inbox`]) by anyone,
//!   while only the run's owner appends to its history. The owner reads the inbox
//!   ([`EventStore::inbox`]) and moves entries into the history; the append that does so
//!   names the last entry it covers (`inbox_through`) and removes them in the same
//!   transaction, so an entry is recorded exactly once. A push to an unknown workflow is
//!   refused with [`Error::NotFound`], to a closed one with [`Error::NotRunning`]. A run
//!   cannot close (complete, fail, be cancelled, terminated or time out) while its inbox
//!   holds entries it has not taken (refused as [`Error::InboxPending`]: the owner reads
//!   the inbox again), so nothing acknowledged is ever dropped.

pub mod commit;
pub mod memory;
pub mod postgres;
pub mod sqlite;

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod proptests;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::{Event, EventKind};
use crate::Error;

/// One append to one run's history.
#[derive(Debug, Clone, PartialEq)]
pub struct AppendRequest {
    /// The workflow whose history grows.
    pub workflow_id: String,
    /// The run whose history grows.
    pub run_id: String,
    /// The head the history must have before the append (0 creates the run).
    pub expected_head: u64,
    /// The events, numbered `expected_head + 1 ..`.
    pub events: Vec<Event>,
}

/// What someone other than a run's owner addresses to it, kept in its inbox until the owner
/// records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InboxItem {
    /// A signal (from a client or another workflow).
    Signal {
        /// The signal's name.
        name: String,
        /// Its payload.
        payload: crate::payload::Payload,
        /// The sender's id for it: a redelivery is recorded once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal_id: Option<String>,
    },
    /// A cancellation request.
    Cancel {
        /// Why, as given by the client.
        reason: Value,
    },
    /// A child workflow of this one closed.
    ChildClosed {
        /// The child's workflow id.
        child_id: String,
        /// How it closed.
        status: crate::event::ChildStatus,
        /// Its result, error, details or reason.
        value: Value,
    },
}

/// One inbox entry as stored: its number (increasing in push order) and when it came.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxEntry {
    /// The entry's number; later pushes have larger numbers.
    pub id: u64,
    /// When it was pushed, Unix ms.
    pub recorded_at: i64,
    /// What it carries.
    pub item: InboxItem,
}

impl InboxEntry {
    /// An entry as a store keeps it: its number, time and JSON body (a body that does not
    /// parse is [`Error::Corrupt`]).
    pub fn stored(id: i64, recorded_at: i64, body: &str) -> Result<InboxEntry, Error> {
        let item: InboxItem = serde_json::from_str(body)
            .map_err(|e| Error::Corrupt(format!("corrupt inbox entry {id}: {e}")))?;
        Ok(InboxEntry {
            id: id as u64,
            recorded_at,
            item,
        })
    }
}

/// A push to a workflow's inbox.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxPush {
    /// The workflow addressed.
    pub workflow_id: String,
    /// When it was pushed, Unix ms.
    pub recorded_at: i64,
    /// What it carries.
    pub item: InboxItem,
}

/// One unit of a commit: a group of appends applied all-or-nothing (moving the inbox
/// entries up to `inbox_through` of the group's workflow into its history), or an inbox
/// push.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Appends to one or more runs, all or nothing.
    Append {
        /// The appends.
        group: Vec<AppendRequest>,
        /// The last inbox entry of the first request's workflow these appends record
        /// (0: none); entries up to it are removed with the append.
        inbox_through: u64,
    },
    /// An entry for a workflow's inbox.
    Inbox(InboxPush),
    /// Removes the inbox entries up to `through` of `workflow_id` that the owner took and
    /// that recorded nothing (a redelivered signal, a repeated cancellation).
    Ack {
        /// The workflow.
        workflow_id: String,
        /// The last entry taken.
        through: u64,
    },
}

impl Write {
    /// A group of appends that takes nothing from the inbox.
    pub fn group(group: Vec<AppendRequest>) -> Write {
        Write::Append {
            group,
            inbox_through: 0,
        }
    }
}

/// Lifecycle state of a run, as the store knows it from its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// No closing event yet.
    Running,
    /// Closed by `WorkflowCompleted`.
    Completed,
    /// Closed by `WorkflowFailed`.
    Failed,
    /// Closed by `WorkflowCancelled`.
    Cancelled,
    /// Closed by `WorkflowTerminated`.
    Terminated,
    /// Closed by `WorkflowTimedOut`.
    TimedOut,
    /// Closed by `WorkflowContinuedAsNew` (only ever seen on a run that is not current).
    ContinuedAsNew,
}

const STATUSES: [(Status, &str); 7] = [
    (Status::Running, "running"),
    (Status::Completed, "completed"),
    (Status::Failed, "failed"),
    (Status::Cancelled, "cancelled"),
    (Status::Terminated, "terminated"),
    (Status::TimedOut, "timed_out"),
    (Status::ContinuedAsNew, "continued_as_new"),
];

impl Status {
    /// The lowercase name used on the wire and in the SQLite table.
    pub fn as_str(self) -> &'static str {
        STATUSES
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("running", |(_, name)| name)
    }

    /// Parses the lowercase name.
    pub fn parse(s: &str) -> Result<Status, Error> {
        STATUSES
            .iter()
            .find(|(_, name)| *name == s)
            .map(|(status, _)| *status)
            .ok_or_else(|| Error::InvalidInput(format!("unknown workflow status {s:?}")))
    }

    /// The status a closing event gives the run.
    fn after(kind: &EventKind) -> Option<Status> {
        Some(match kind {
            EventKind::WorkflowCompleted { .. } => Status::Completed,
            EventKind::WorkflowFailed { .. } => Status::Failed,
            EventKind::WorkflowCancelled { .. } => Status::Cancelled,
            EventKind::WorkflowTerminated { .. } => Status::Terminated,
            EventKind::WorkflowTimedOut { .. } => Status::TimedOut,
            EventKind::WorkflowContinuedAsNew { .. } => Status::ContinuedAsNew,
            _ => return None,
        })
    }
}

/// The store's summary of one workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowRecord {
    /// The workflow id.
    pub workflow_id: String,
    /// The registered workflow type.
    pub workflow_type: String,
    /// The current run's id.
    pub run_id: String,
    /// Running, completed or failed.
    pub status: Status,
    /// The last seq of the history.
    pub head: u64,
    /// `recorded_at` of `WorkflowStarted`.
    pub created_at: i64,
    /// `recorded_at` of the last event.
    pub updated_at: i64,
    /// The closing event's payload (result, error, details, reason ...), once closed.
    pub outcome: Option<Value>,
    /// The workflow that started this one as a child, if any.
    pub parent_id: Option<String>,
    /// In a cluster (the PostgreSQL store), the node that owns the run; `None` otherwise,
    /// or while no node does.
    pub owner: Option<String>,
}

/// Which workflows [`EventStore::list_page`] returns, in which order, and how many;
/// `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListFilter {
    /// Only workflows in this state.
    pub status: Option<Status>,
    /// Only workflows of this type.
    pub workflow_type: Option<String>,
    /// Only workflows created at or after this time (Unix ms).
    pub since: Option<i64>,
    /// Only workflows created before this time (Unix ms).
    pub until: Option<i64>,
    /// At most this many (a page); `None`: all.
    pub limit: Option<u64>,
    /// The page after this position (a previous page's [`ListPage::next`]).
    pub after: Option<u64>,
    /// Newest first (by creation); oldest first when false.
    pub newest_first: bool,
}

impl ListFilter {
    /// Whether `record` passes the filter (status, type, creation time).
    pub fn matches(&self, record: &WorkflowRecord) -> bool {
        self.status.is_none_or(|s| s == record.status)
            && self
                .workflow_type
                .as_ref()
                .is_none_or(|t| *t == record.workflow_type)
            && self.since.is_none_or(|t| record.created_at >= t)
            && self.until.is_none_or(|t| record.created_at < t)
    }

    /// Whether a workflow at `position` (in creation order) comes after the cursor.
    pub fn past_cursor(&self, position: u64) -> bool {
        match (self.after, self.newest_first) {
            (None, _) => true,
            (Some(after), false) => position > after,
            (Some(after), true) => position < after,
        }
    }
}

/// One page of [`EventStore::list_page`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListPage {
    /// The workflows, in the filter's order.
    pub records: Vec<WorkflowRecord>,
    /// The cursor of the next page (the position of the last workflow of a full page);
    /// `None` when this page is the last.
    pub next: Option<u64>,
}

impl ListPage {
    /// The page of `found`: the positions and records passing the filter, in its order,
    /// past its cursor — up to one more than its limit, which tells that a next page
    /// exists.
    pub fn of(filter: &ListFilter, mut found: Vec<(u64, WorkflowRecord)>) -> ListPage {
        let next = match filter.limit {
            Some(limit) if found.len() as u64 > limit => {
                found.truncate(limit as usize);
                found.last().map(|(position, _)| *position)
            }
            _ => None,
        };
        ListPage {
            records: found.into_iter().map(|(_, r)| r).collect(),
            next,
        }
    }
}

/// Counters a store keeps about its own writes, cumulative since it was opened (writes
/// made while opening, such as a schema migration, are not counted). For benchmarks and
/// operators; every figure is counted by the store as it works, none is an estimate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// [`EventStore::commit`] calls that wrote something.
    pub commits: u64,
    /// Append requests accepted.
    pub appends: u64,
    /// Events written by the accepted appends.
    pub events: u64,
    /// Bytes the store wrote to its write-ahead log (0 for a store without one); see the
    /// backend for how they are counted.
    pub wal_bytes: u64,
    /// Durable points: each one an fsync the commit path waited for (0 without a disk).
    pub syncs: u64,
}

/// A durable home for workflow histories. Implementations are shared between threads.
pub trait EventStore: Send + Sync {
    /// Applies every write of the batch, each all-or-nothing, and makes them durable with
    /// one commit. Returns one result per write, in order: the entry's number for an inbox
    /// push, 0 for appends. A failure of the commit itself fails every write.
    fn commit(&self, writes: &[Write]) -> Vec<Result<u64, Error>>;

    /// The entries waiting in `workflow_id`'s inbox, oldest first.
    fn inbox(&self, workflow_id: &str) -> Result<Vec<InboxEntry>, Error>;

    /// Every workflow whose inbox holds entries, with its newest entry's number (read once
    /// at boot, to know which runs have something waiting without reading each inbox).
    fn inbox_heads(&self) -> Result<Vec<(String, u64)>, Error>;

    /// Applies every group of the batch, each group all-or-nothing, and makes them durable
    /// with one commit. Returns one result per group, in order.
    fn append_batch(&self, batch: &[Vec<AppendRequest>]) -> Vec<Result<(), Error>> {
        let writes: Vec<Write> = batch.iter().cloned().map(Write::group).collect();
        self.commit(&writes)
            .into_iter()
            .map(|r| r.map(|_| ()))
            .collect()
    }

    /// Events of run `run_id` of `workflow_id` (its current run when `None`) with
    /// `seq >= from_seq`, in order. Unknown id or run: empty.
    fn read(
        &self,
        workflow_id: &str,
        run_id: Option<&str>,
        from_seq: u64,
    ) -> Result<Vec<Event>, Error>;

    /// The summary of one workflow, if it exists.
    fn workflow(&self, workflow_id: &str) -> Result<Option<WorkflowRecord>, Error>;

    /// A page of the summaries of the workflows passing `filter`, in its order. Stores
    /// answer it from an index (status, type, creation time), never by reading every
    /// workflow.
    fn list_page(&self, filter: &ListFilter) -> Result<ListPage, Error>;

    /// How many workflows (of `workflow_type`, or all) are in each status, counted from
    /// the status index, not by reading summaries.
    fn counts(&self, workflow_type: Option<&str>) -> Result<Vec<(Status, u64)>, Error> {
        let filter = ListFilter {
            workflow_type: workflow_type.map(str::to_string),
            ..ListFilter::default()
        };
        let mut counts: Vec<(Status, u64)> = Vec::new();
        for record in self.list(&filter)? {
            match counts.iter_mut().find(|(s, _)| *s == record.status) {
                Some((_, n)) => *n += 1,
                None => counts.push((record.status, 1)),
            }
        }
        Ok(counts)
    }

    /// Summaries of the workflows passing `filter` (its limit and cursor included).
    fn list(&self, filter: &ListFilter) -> Result<Vec<WorkflowRecord>, Error> {
        Ok(self.list_page(filter)?.records)
    }

    /// Removes up to `limit` workflows closed before `closed_before` (Unix ms) — their
    /// summary, every run's history, their inbox — and returns how many. Running
    /// workflows are never removed.
    fn prune(&self, closed_before: i64, limit: u64) -> Result<u64, Error>;

    /// Removes workflow `workflow_id` (its summary, every run's history, its inbox) if it
    /// is closed, so that its id can start a new workflow; whether it did (a running or
    /// unknown workflow is left alone).
    fn forget(&self, workflow_id: &str) -> Result<bool, Error>;

    /// What the store has written since it was opened.
    fn stats(&self) -> StoreStats;

    /// Called by the commit thread when no write waits (after the answers of the last
    /// commit are sent): housekeeping that must run on the writer but not hold up a
    /// commit. Nothing by default.
    fn idle(&self) {}

    /// The cluster side of a store shared by several nodes (the PostgreSQL store); `None`
    /// for a store only one engine opens.
    fn cluster(&self) -> Option<&dyn ClusterStore> {
        None
    }

    /// One append on its own.
    fn append(&self, request: AppendRequest) -> Result<(), Error> {
        self.append_batch(&[vec![request]])
            .pop()
            .unwrap_or_else(|| Err(Error::Internal("append_batch returned nothing".into())))
    }
}

/// A live node of a cluster, as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Its Erlang node name.
    pub node: String,
    /// The epoch of its current membership (a node that joins again gets a new one).
    pub epoch: i64,
    /// `"all"` (runs workflows and activities) or `"worker"` (activities only).
    pub role: String,
    /// The activity task queues it serves.
    pub task_queues: Vec<String>,
}

/// Who may run a workflow, as [`ClusterStore::claim`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This node owns the run (it did already, or took it over just now).
    Mine,
    /// Another live node owns it.
    Owner(String),
    /// The workflow is closed: nobody owns it, nothing more is appended.
    Closed,
    /// No such workflow.
    Unknown,
}

/// The cluster side of a shared store: node membership with leases, and run ownership.
///
/// A node *joins* with a lease (a row holding its name, a fresh epoch and an expiry kept by
/// the database's clock) and *renews* it while it lives. Every running workflow names its
/// owner (node and epoch); the store refuses an append from any node but the owner, and from
/// the owner once its lease has run out ([`Error::NotOwner`]). A run whose owner's lease ran
/// out (or whose owner joined again since, with a new epoch) is an *orphan*: any live node
/// may claim it, and then replays it. The database is the only judge: no node decides
/// ownership from what it believes about the others.
pub trait ClusterStore: Send + Sync {
    /// Joins as `node` (a new epoch; the runs of an earlier membership of the same name
    /// become orphans) with a lease of `lease_ms`. Returns the epoch. Refused with
    /// [`Error::AlreadyExists`] while another live membership holds the name.
    fn join(
        &self,
        node: &str,
        role: &str,
        task_queues: &[String],
        lease_ms: u64,
    ) -> Result<i64, Error>;

    /// Extends this node's lease by `lease_ms` from now. [`Error::NotOwner`] when the lease
    /// had run out or another membership replaced it: the node must let its runs go and
    /// join again (until it does, every append it makes is refused).
    fn renew(&self, lease_ms: u64) -> Result<(), Error>;

    /// Leaves the cluster: this node's runs are left without an owner (the others claim
    /// them at once) and its lease is dropped; nothing more is appended until it joins
    /// again.
    fn leave(&self) -> Result<(), Error>;

    /// The nodes whose lease is live.
    fn nodes(&self) -> Result<Vec<NodeInfo>, Error>;

    /// Takes `workflow_id` for this node if nobody live owns it.
    fn claim(&self, workflow_id: &str) -> Result<Claim, Error>;

    /// Takes up to `limit` orphaned running workflows of the given types (those this node
    /// can run); their ids and types.
    fn claim_orphans(&self, limit: u64, types: &[String]) -> Result<Vec<(String, String)>, Error>;

    /// The running workflows this node owns whose inbox holds entries: a wake sent to
    /// this node by another may be lost with a connection, so the owner looks for itself.
    fn inbox_waiting(&self) -> Result<Vec<String>, Error>;
}

/// What an append does to its workflow's inbox besides removing the entries it records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxRule {
    /// Nothing more (the inbox of a run that continues as new passes to the next run).
    Keep,
    /// The run closes (completed, failed, cancelled, terminated, timed out): refused while
    /// entries it has not taken wait, so nothing acknowledged is ever dropped.
    MustBeEmpty,
}

impl InboxRule {
    /// The rule for an append of `events`.
    pub fn of(events: &[Event]) -> InboxRule {
        let closes = events.iter().any(|event| {
            matches!(
                event.kind,
                EventKind::WorkflowCompleted { .. }
                    | EventKind::WorkflowFailed { .. }
                    | EventKind::WorkflowCancelled { .. }
                    | EventKind::WorkflowTerminated { .. }
                    | EventKind::WorkflowTimedOut { .. }
            )
        });
        if closes {
            InboxRule::MustBeEmpty
        } else {
            InboxRule::Keep
        }
    }
}

/// The refusal of a close while the inbox holds entries the run has not taken.
pub fn inbox_not_taken(workflow_id: &str) -> Error {
    Error::InboxPending(format!(
        "{workflow_id} has inbox entries its run has not recorded yet"
    ))
}

/// Checks an inbox push against the workflow's summary.
pub fn check_push(current: Option<&WorkflowRecord>, push: &InboxPush) -> Result<(), Error> {
    match current {
        None => Err(Error::NotFound(push.workflow_id.clone())),
        Some(r) if r.status != Status::Running => Err(Error::NotRunning(format!(
            "{} is {}",
            push.workflow_id,
            r.status.as_str()
        ))),
        Some(_) => Ok(()),
    }
}

/// Checks `request` against the workflow's current summary and returns the summary after it.
/// The single place the append contract (head, contiguity, creation, continuation) is
/// enforced, shared by every backend.
pub fn apply_append(
    current: Option<&WorkflowRecord>,
    request: &AppendRequest,
) -> Result<WorkflowRecord, Error> {
    let id = &request.workflow_id;
    let first = request
        .events
        .first()
        .ok_or_else(|| Error::InvalidInput(format!("empty append for {id}")))?;
    let mut record = match current {
        Some(r) if r.run_id == request.run_id => {
            if request.expected_head == 0 {
                return Err(Error::AlreadyExists(id.clone()));
            }
            if r.head != request.expected_head {
                return Err(Error::StaleHead(format!(
                    "stale head for {id}: expected {}, store has {}",
                    request.expected_head, r.head
                )));
            }
            if r.status != Status::Running {
                return Err(Error::NotRunning(format!(
                    "{id} is {}: its history is closed",
                    r.status.as_str()
                )));
            }
            r.clone()
        }
        _ => new_run_record(current, request, first)?,
    };
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
        if matches!(event.kind, EventKind::WorkflowStarted { .. }) && event.seq != 1 {
            return Err(Error::InvalidInput(format!(
                "append for {id} starts the run again"
            )));
        }
        if let Some(status) = Status::after(&event.kind) {
            record.status = status;
            record.outcome = Some(closing_payload(&event.kind));
        }
        record.head = event.seq;
        record.updated_at = event.recorded_at;
    }
    Ok(record)
}

/// The summary of a run created by `request`: a new workflow, or the successor of a run
/// that continued as new.
fn new_run_record(
    current: Option<&WorkflowRecord>,
    request: &AppendRequest,
    first: &Event,
) -> Result<WorkflowRecord, Error> {
    let id = &request.workflow_id;
    let EventKind::WorkflowStarted {
        workflow_type,
        run_id,
        continued_from,
        parent_id,
        ..
    } = &first.kind
    else {
        return match current {
            Some(_) => Err(Error::StaleHead(format!(
                "append for {id} names run {} which is not its current run",
                request.run_id
            ))),
            None => Err(Error::InvalidInput(format!(
                "the first event of {id} must be WorkflowStarted"
            ))),
        };
    };
    if request.expected_head != 0 || *run_id != request.run_id {
        return Err(Error::InvalidInput(format!(
            "a new run of {id} must start at head 0 with its own run id"
        )));
    }
    match (current, continued_from) {
        (None, None) => {}
        (Some(prev), Some(from))
            if prev.status == Status::ContinuedAsNew
                && *from == prev.run_id
                && prev.outcome.as_ref().and_then(|o| o.get("new_run_id"))
                    == Some(&Value::String(run_id.clone())) => {}
        (Some(_), _) => return Err(Error::AlreadyExists(id.clone())),
        (None, Some(_)) => {
            return Err(Error::InvalidInput(format!(
                "{id} continues a run that does not exist"
            )))
        }
    }
    Ok(WorkflowRecord {
        workflow_id: id.clone(),
        workflow_type: workflow_type.clone(),
        run_id: run_id.clone(),
        status: Status::Running,
        head: 0,
        created_at: current.map_or(first.recorded_at, |p| p.created_at),
        updated_at: first.recorded_at,
        outcome: None,
        parent_id: parent_id.clone(),
        owner: current.and_then(|p| p.owner.clone()),
    })
}

/// How a closing event closes its run: the status, and the value the summary keeps
/// (result, error, details, reason, deadline or successor). `None` for other events.
pub fn closing(kind: &EventKind) -> Option<(Status, Value)> {
    Status::after(kind).map(|status| (status, closing_payload(kind)))
}

/// What the summary keeps of a closing event.
fn closing_payload(kind: &EventKind) -> Value {
    match kind {
        EventKind::WorkflowCompleted { result } => result.value(),
        EventKind::WorkflowFailed { error } => error.clone(),
        EventKind::WorkflowCancelled { details } => details.clone(),
        EventKind::WorkflowTerminated { reason } => reason.clone(),
        EventKind::WorkflowTimedOut { deadline } => Value::from(*deadline),
        EventKind::WorkflowContinuedAsNew { new_run_id, .. } => {
            serde_json::json!({ "new_run_id": new_run_id })
        }
        _ => Value::Null,
    }
}
