//! One commit of a batch of writes, in a few round trips whatever the batch's size.
//!
//! 1. `BEGIN`, the lease check, the rows of every workflow the batch touches locked
//!    `FOR UPDATE` in workflow-id order (so two nodes' commits never wait on each other in
//!    a cycle), and the newest inbox entry of each — one pipelined round trip. The inbox
//!    read is a statement of its own after the lock: it sees every push committed before
//!    the lock was granted, and no push to these workflows can commit until this
//!    transaction ends (a push locks the row too).
//! 2. A workflow the batch creates has no row to lock: an advisory lock on its id (in id
//!    order) keeps two nodes from creating it at once, then its row is read again.
//! 3. The contract is checked in Rust against the locked rows (`apply_append`, the inbox
//!    rules, ownership), write by write in the caller's order, so a refused write is simply
//!    not written: no savepoints.
//! 4. The accepted writes' statements (prepared once per connection) go out pipelined,
//!    with `COMMIT` in the same round trip.

use std::collections::HashMap;

use futures_util::future::try_join_all;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use super::{record_of, sql_int, Current, NOW_MS, SELECT_RECORD};
use crate::store::{
    apply_append, check_push, inbox_not_taken, AppendRequest, InboxPush, InboxRule, WorkflowRecord,
    Write,
};
use crate::Error;

/// Why a commit did not happen: the database's error (a deadlock or serialization failure
/// may be tried again) or aion's.
pub(super) enum Fail {
    Pg(tokio_postgres::Error),
    Aion(Error),
}

impl From<tokio_postgres::Error> for Fail {
    fn from(e: tokio_postgres::Error) -> Fail {
        Fail::Pg(e)
    }
}

impl From<Fail> for Error {
    fn from(fail: Fail) -> Error {
        match fail {
            Fail::Pg(e) => e.into(),
            Fail::Aion(e) => e,
        }
    }
}

/// The writer's connection and its statements.
pub(super) struct Writer {
    pub(super) client: Client,
    st: Statements,
}

struct Statements {
    alive: Statement,
    lock: Statement,
    inbox_max: Statement,
    claim_id: Statement,
    had_run: Statement,
    events: Statement,
    create: Statement,
    update: Statement,
    push: Statement,
    take: Statement,
    next_ids: Statement,
}

impl Writer {
    /// Prepares the commit's statements on `client` (one pipelined round trip).
    pub(super) async fn new(client: Client) -> Result<Writer, Fail> {
        let alive =
            format!("SELECT 1 FROM nodes WHERE node = $1 AND epoch = $2 AND expires_at > {NOW_MS}");
        let lock =
            format!("{SELECT_RECORD} WHERE workflow_id = ANY($1) ORDER BY workflow_id FOR UPDATE");
        let sql: [&str; 11] = [
            &alive,
            &lock,
            "SELECT workflow_id, max(id) FROM inbox WHERE workflow_id = ANY($1) GROUP BY workflow_id",
            "SELECT pg_advisory_xact_lock(7406571, hashtext($1))",
            "SELECT 1 FROM events WHERE workflow_id = $1 AND run_id = $2 LIMIT 1",
            "INSERT INTO events (workflow_id, run_id, seq, recorded_at, body)
             SELECT $1, $2, s, r, b FROM unnest($3::bigint[], $4::bigint[], $5::text[]) AS t(s, r, b)",
            "INSERT INTO workflows (workflow_id, workflow_type, run_id, status, head, created_at,
                                    updated_at, outcome, parent_id, owner, owner_epoch, closed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            "UPDATE workflows SET workflow_type = $2, run_id = $3, status = $4, head = $5,
                    created_at = $6, updated_at = $7, outcome = $8, parent_id = $9, owner = $10,
                    owner_epoch = $11, closed_at = $12
              WHERE workflow_id = $1",
            "INSERT INTO inbox (id, workflow_id, recorded_at, body) VALUES ($1, $2, $3, $4)",
            "DELETE FROM inbox WHERE workflow_id = $1 AND id <= $2",
            "SELECT nextval(pg_get_serial_sequence('inbox', 'id')) FROM generate_series(1::bigint, $1::bigint)",
        ];
        let prepared = try_join_all(sql.iter().map(|s| client.prepare(s))).await?;
        let mut p = prepared.into_iter();
        let mut next = || {
            p.next()
                .ok_or_else(|| Fail::Aion(Error::Internal("a statement was not prepared".into())))
        };
        let st = Statements {
            alive: next()?,
            lock: next()?,
            inbox_max: next()?,
            claim_id: next()?,
            had_run: next()?,
            events: next()?,
            create: next()?,
            update: next()?,
            push: next()?,
            take: next()?,
            next_ids: next()?,
        };
        Ok(Writer { client, st })
    }

    /// Applies `writes` in one transaction and commits; one result per write (an inbox
    /// entry's number, 0 otherwise). `Err` is a database error: the transaction is over
    /// and nothing of it is applied.
    pub(super) async fn commit(
        &self,
        writes: &[Write],
        identity: Option<&(String, i64)>,
    ) -> Result<Vec<Result<u64, Error>>, Fail> {
        let client = &self.client;
        let st = &self.st;
        let mut ids: Vec<&str> = writes.iter().flat_map(ids_of).collect();
        ids.sort_unstable();
        ids.dedup();
        let alive = async {
            match identity {
                Some((node, epoch)) => {
                    Ok(client.query_opt(&st.alive, &[node, epoch]).await?.is_some())
                }
                None => Ok(true),
            }
        };
        let by_ids: [&(dyn ToSql + Sync); 1] = [&ids];
        let (_, alive, rows, inbox) = futures_util::try_join!(
            client.batch_execute("BEGIN"),
            alive,
            client.query(&st.lock, &by_ids),
            client.query(&st.inbox_max, &by_ids),
        )?;
        let mut state: HashMap<&str, Wf> = ids.iter().map(|id| (*id, Wf::default())).collect();
        let mut results: Vec<Option<Result<u64, Error>>> = vec![None; writes.len()];
        let unreadable = absorb(&mut state, &rows, &inbox);
        // Workflows the batch creates: nobody else may create them meanwhile.
        let mut creating: Vec<&str> = writes
            .iter()
            .filter_map(|w| match w {
                Write::Append { group, .. } => Some(group),
                _ => None,
            })
            .flatten()
            .map(|r| r.workflow_id.as_str())
            .filter(|id| state.get(id).is_some_and(|wf| wf.record.is_none()))
            .collect();
        creating.sort_unstable();
        creating.dedup();
        if !creating.is_empty() {
            try_join_all(
                creating
                    .iter()
                    .map(|id| async move { client.query_one(&st.claim_id, &[id]).await }),
            )
            .await?;
            let by_ids: [&(dyn ToSql + Sync); 1] = [&creating];
            let (rows, inbox) = futures_util::try_join!(
                client.query(&st.lock, &by_ids),
                client.query(&st.inbox_max, &by_ids),
            )?;
            absorb(&mut state, &rows, &inbox);
        }
        // The pushes' entry numbers, taken now that the rows are locked: numbers increase in
        // the order pushes to one workflow commit, and an append of this batch may name
        // them (`inbox_through`) like any other.
        let pushes = writes
            .iter()
            .filter(|w| matches!(w, Write::Inbox(_)))
            .count();
        let mut numbers: Vec<i64> = if pushes == 0 {
            Vec::new()
        } else {
            client
                .query(&st.next_ids, &[&(pushes as i64)])
                .await?
                .iter()
                .map(|row| row.try_get::<_, i64>(0))
                .collect::<Result<_, _>>()?
        };
        numbers.sort_unstable();
        let mut numbers = numbers.into_iter();
        let mut ops: Vec<Op<'_>> = Vec::new();
        for (i, write) in writes.iter().enumerate() {
            let outcome = match write {
                Write::Append { group, .. } if !alive => {
                    let _ = group;
                    Err(Error::NotOwner(
                        "this node's lease has run out: it may not append".into(),
                    ))
                }
                Write::Append {
                    group,
                    inbox_through,
                } => {
                    match self
                        .plan_group(&mut state, group, *inbox_through, identity, &unreadable)
                        .await?
                    {
                        Ok(planned) => {
                            ops.extend(planned);
                            Ok(0)
                        }
                        Err(refused) => Err(refused),
                    }
                }
                Write::Inbox(push) => match numbers.next() {
                    Some(number) => plan_push(&mut state, push, &unreadable, number, &mut ops),
                    None => Err(Error::Internal("no entry number for a push".into())),
                },
                Write::Ack {
                    workflow_id,
                    through,
                } => match state.get_mut(workflow_id.as_str()) {
                    // Only the owner takes from an inbox, as only it appends.
                    Some(wf) if identity.is_some() && !(alive && wf.owned_by(identity)) => {
                        Err(Error::NotOwner(format!(
                            "{workflow_id}: only its owner with a live lease takes its inbox"
                        )))
                    }
                    wf => {
                        if let Some(wf) = wf {
                            wf.take(*through);
                        }
                        ops.push(Op::Take(workflow_id, sql_int(*through)));
                        Ok(0)
                    }
                },
            };
            results[i] = Some(outcome);
        }
        // `COMMIT` goes out in the same round trip: should a statement fail, PostgreSQL
        // rolls the transaction back at `COMMIT`, and the statement's error is what this
        // returns (the commit is never taken for done).
        futures_util::try_join!(try_join_all(ops.iter().map(|op| self.run(op))), async {
            client.batch_execute("COMMIT").await.map_err(Fail::from)
        },)?;
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::Internal("write left unplanned".into()))))
            .collect())
    }

    /// Checks a group against the locked rows; its statements, or the refusal (then the
    /// group changes nothing).
    async fn plan_group<'w>(
        &self,
        state: &mut HashMap<&'w str, Wf>,
        group: &'w [AppendRequest],
        inbox_through: u64,
        identity: Option<&(String, i64)>,
        unreadable: &HashMap<&'w str, Error>,
    ) -> Result<Result<Vec<Op<'w>>, Error>, Fail> {
        let mut scratch: HashMap<&str, Wf> = HashMap::new();
        let mut ops = Vec::new();
        for (k, request) in group.iter().enumerate() {
            let id = request.workflow_id.as_str();
            if let Some(e) = unreadable.get(id) {
                return Ok(Err(e.clone()));
            }
            let wf = match scratch.get_mut(id) {
                Some(wf) => wf,
                None => {
                    let copy = state.get(id).cloned().unwrap_or_default();
                    scratch.entry(id).or_insert(copy)
                }
            };
            // A start (head 0) of an existing id is refused below as `AlreadyExists`
            // whoever owns it; anything else needs the owner.
            let appends = request.expected_head > 0;
            if let Some(current) = wf
                .record
                .as_ref()
                .filter(|_| appends && !wf.owned_by(identity))
            {
                if current.status == crate::store::Status::Running {
                    return Ok(Err(Error::NotOwner(format!(
                        "{id} is owned by {}",
                        current.owner.as_deref().unwrap_or("no node")
                    ))));
                }
            }
            let mut record = match apply_append(wf.record.as_ref(), request) {
                Ok(record) => record,
                Err(refused) => return Ok(Err(refused)),
            };
            let creates = wf.record.is_none();
            let new_run = wf
                .record
                .as_ref()
                .is_some_and(|r| r.run_id != request.run_id);
            if new_run {
                let had = self
                    .client
                    .query_opt(&self.st.had_run, &[&id, &request.run_id])
                    .await?;
                if had.is_some() {
                    return Ok(Err(Error::AlreadyExists(format!(
                        "{id} had a run {} already",
                        request.run_id
                    ))));
                }
            }
            let through = if k == 0 { inbox_through } else { 0 };
            if through > 0 {
                wf.take(through);
                ops.push(Op::Take(id, sql_int(through)));
            }
            if InboxRule::of(&request.events) == InboxRule::MustBeEmpty && wf.waiting() {
                return Ok(Err(inbox_not_taken(id)));
            }
            let epoch = identity.map(|(_, epoch)| *epoch);
            record.owner = identity.map(|(node, _)| node.clone());
            ops.push(Op::Events(request));
            ops.push(if creates {
                Op::Create(record.clone(), epoch)
            } else {
                Op::Update(record.clone(), epoch)
            });
            wf.record = Some(record);
            wf.owner_epoch = epoch;
        }
        state.extend(scratch);
        Ok(Ok(ops))
    }

    /// Runs one statement.
    async fn run(&self, op: &Op<'_>) -> Result<(), Fail> {
        let (client, st) = (&self.client, &self.st);
        match op {
            Op::Take(id, through) => {
                client.execute(&st.take, &[id, through]).await?;
            }
            Op::Events(request) => {
                let seqs: Vec<i64> = request.events.iter().map(|e| sql_int(e.seq)).collect();
                let times: Vec<i64> = request.events.iter().map(|e| e.recorded_at).collect();
                let bodies = request
                    .events
                    .iter()
                    .map(|e| e.to_json())
                    .collect::<Result<Vec<String>, Error>>()
                    .map_err(Fail::Aion)?;
                client
                    .execute(
                        &st.events,
                        &[
                            &request.workflow_id,
                            &request.run_id,
                            &seqs,
                            &times,
                            &bodies,
                        ],
                    )
                    .await?;
            }
            Op::Create(record, epoch) | Op::Update(record, epoch) => {
                let statement = match op {
                    Op::Create(..) => &st.create,
                    _ => &st.update,
                };
                let outcome = record.outcome.as_ref().map(|v| v.to_string());
                // When it closed: what retention goes by.
                let closed_at =
                    (record.status != crate::store::Status::Running).then_some(record.updated_at);
                client
                    .execute(
                        statement,
                        &[
                            &record.workflow_id,
                            &record.workflow_type,
                            &record.run_id,
                            &record.status.as_str(),
                            &sql_int(record.head),
                            &record.created_at,
                            &record.updated_at,
                            &outcome,
                            &record.parent_id,
                            &record.owner,
                            epoch,
                            &closed_at,
                        ],
                    )
                    .await?;
            }
            Op::Push { number, push, body } => {
                client
                    .execute(
                        &st.push,
                        &[number, &push.workflow_id, &push.recorded_at, body],
                    )
                    .await?;
            }
        }
        Ok(())
    }
}

/// A workflow as the batch sees it: its locked row, the newest stored inbox entry not
/// taken (0: none) and the entries this batch pushed and nothing took yet.
#[derive(Clone, Default)]
struct Wf {
    record: Option<WorkflowRecord>,
    owner_epoch: Option<i64>,
    inbox_max: u64,
    pushed: Vec<u64>,
}

impl Wf {
    /// The entries up to `through` are taken.
    fn take(&mut self, through: u64) {
        if self.inbox_max <= through {
            self.inbox_max = 0;
        }
        self.pushed.retain(|n| *n > through);
    }

    /// Whether the membership `identity` owns the workflow (always, outside a cluster; a
    /// workflow without a row is nobody's yet).
    fn owned_by(&self, identity: Option<&(String, i64)>) -> bool {
        match (identity, &self.record) {
            (None, _) | (_, None) => true,
            (Some((node, epoch)), Some(record)) => {
                record.owner.as_deref() == Some(node.as_str()) && self.owner_epoch == Some(*epoch)
            }
        }
    }

    /// Whether entries wait in the inbox (stored before, or pushed by this batch).
    fn waiting(&self) -> bool {
        self.inbox_max > 0 || !self.pushed.is_empty()
    }
}

/// One statement of the batch.
enum Op<'w> {
    Take(&'w str, i64),
    Events(&'w AppendRequest),
    Create(WorkflowRecord, Option<i64>),
    Update(WorkflowRecord, Option<i64>),
    Push {
        number: i64,
        push: &'w InboxPush,
        body: String,
    },
}

fn plan_push<'w>(
    state: &mut HashMap<&'w str, Wf>,
    push: &'w InboxPush,
    unreadable: &HashMap<&'w str, Error>,
    number: i64,
    ops: &mut Vec<Op<'w>>,
) -> Result<u64, Error> {
    if let Some(e) = unreadable.get(push.workflow_id.as_str()) {
        return Err(e.clone());
    }
    let wf = state.entry(push.workflow_id.as_str()).or_default();
    check_push(wf.record.as_ref(), push)?;
    let body = serde_json::to_string(&push.item)
        .map_err(|e| Error::Internal(format!("cannot encode an inbox entry: {e}")))?;
    wf.pushed.push(number as u64);
    ops.push(Op::Push { number, push, body });
    Ok(number as u64)
}

/// Takes the locked rows and inbox heads into `state`; the rows that cannot be read, by id.
fn absorb<'w>(
    state: &mut HashMap<&'w str, Wf>,
    rows: &[tokio_postgres::Row],
    inbox: &[tokio_postgres::Row],
) -> HashMap<&'w str, Error> {
    let mut unreadable = HashMap::new();
    let ids: Vec<&'w str> = state.keys().copied().collect();
    let find = |id: &str| ids.iter().copied().find(|k| *k == id);
    for row in rows {
        let Ok(id) = row.try_get::<_, String>(0) else {
            continue;
        };
        let Some(key) = find(&id) else { continue };
        match record_of(row) {
            Ok(Current {
                record,
                owner_epoch,
            }) => {
                let wf = state.entry(key).or_default();
                wf.record = Some(record);
                wf.owner_epoch = owner_epoch;
            }
            Err(e) => {
                unreadable.insert(key, e);
            }
        }
    }
    for row in inbox {
        let (Ok(id), Ok(max)) = (row.try_get::<_, String>(0), row.try_get::<_, i64>(1)) else {
            continue;
        };
        if let Some(key) = find(&id) {
            state.entry(key).or_default().inbox_max = max as u64;
        }
    }
    unreadable
}

/// The workflows a write touches.
fn ids_of(write: &Write) -> Vec<&str> {
    match write {
        Write::Append { group, .. } => group.iter().map(|r| r.workflow_id.as_str()).collect(),
        Write::Inbox(push) => vec![push.workflow_id.as_str()],
        Write::Ack { workflow_id, .. } => vec![workflow_id.as_str()],
    }
}
