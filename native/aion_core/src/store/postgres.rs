//! The shared store: one PostgreSQL database, for a cluster of nodes (or one node that wants
//! its histories in PostgreSQL).
//!
//! The same contract as every [`EventStore`] (checked by the same conformance suite), with
//! the same group commit: the engine's writer thread hands a batch of writes to
//! [`EventStore::commit`], which applies them in one transaction and commits once — one WAL
//! flush of PostgreSQL for the whole batch with `synchronous_commit = on` — in a few
//! pipelined round trips whatever the batch's size (see [`batch`]). A commit that
//! PostgreSQL aborts as a deadlock or a serialization failure is tried again whole.
//!
//! Cluster side ([`ClusterStore`]): the `nodes` table holds one lease per node (name, epoch,
//! expiry on the database's clock); each workflow row names its owner (node and epoch). An
//! append is accepted only from the owner with a live lease — checked in the same
//! transaction, under a lock on the workflow's row — so a node that was paused or cut off
//! past its lease can never write again: its next commit is refused with
//! [`Error::NotOwner`]. An inbox push locks the workflow's row as an append does, so a close
//! (which reads the inbox after it has locked the row) and a push never miss each other.
//!
//! Tables live in their own schema (`aion` unless configured), created at open together
//! with a version row that is checked like SQLite's `user_version`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio_postgres::{Client, NoTls, Row, SimpleQueryMessage};

use super::{
    Claim, ClusterStore, EventStore, InboxEntry, ListFilter, ListPage, NodeInfo, Status,
    StoreStats, WorkflowRecord, Write,
};
use crate::event::Event;
use crate::Error;
use tokio_postgres::types::ToSql;

/// The schema version this code writes and reads.
pub const SCHEMA_VERSION: i64 = 1;

/// Times a commit aborted by PostgreSQL as a deadlock or serialization failure is tried.
const COMMIT_TRIES: usize = 3;

/// The database's clock, Unix ms: leases are judged by one clock, never a node's own.
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// How to reach the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// `postgresql://USER[:PASS]@HOST:PORT/DB` (any form `tokio-postgres` accepts).
    pub url: String,
    /// Connections for reads (`describe`, `list`, `history`, loading a run); the writer
    /// has its own.
    pub pool: usize,
    /// The schema holding aion's tables (`[a-z_][a-z0-9_]*`).
    pub schema: String,
}

impl PostgresConfig {
    /// A configuration with the default pool (4) and schema (`aion`).
    pub fn new(url: impl Into<String>) -> PostgresConfig {
        PostgresConfig {
            url: url.into(),
            pool: 4,
            schema: "aion".into(),
        }
    }
}

/// How long a connection attempt may take unless the URL says (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A PostgreSQL-backed [`EventStore`] and [`ClusterStore`].
pub struct PostgresStore {
    config: PostgresConfig,
    /// `config.url` parsed, with a connect timeout.
    connect: tokio_postgres::Config,
    runtime: Runtime,
    writer: tokio::sync::Mutex<Option<batch::Writer>>,
    readers: Vec<tokio::sync::Mutex<Option<Client>>>,
    next_reader: AtomicUsize,
    /// This node's membership (name, epoch) once it joined; appends are fenced by it.
    identity: RwLock<Option<(String, i64)>>,
    stats: Mutex<StoreStats>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.config.schema)
            .finish_non_exhaustive()
    }
}

/// A workflow row as the writer reads it, locked.
struct Current {
    record: WorkflowRecord,
    owner_epoch: Option<i64>,
}

impl PostgresStore {
    /// Connects, creates the schema if needed (checking the version of an existing one) and
    /// opens the pool. Fails with [`Error::Durability`] when the database cannot be reached
    /// or holds a schema of a newer aion.
    pub fn open(config: PostgresConfig) -> Result<PostgresStore, Error> {
        if !valid_schema_name(&config.schema) {
            return Err(Error::InvalidInput(format!(
                "postgres schema name {:?} must match [a-z_][a-z0-9_]* (at most 63 characters)",
                config.schema
            )));
        }
        if config.pool == 0 {
            return Err(Error::InvalidInput(
                "postgres_pool must be at least 1".into(),
            ));
        }
        let mut connect = config
            .url
            .parse::<tokio_postgres::Config>()
            .map_err(|e| Error::InvalidInput(format!("bad postgres_url: {e}")))?;
        if connect.get_connect_timeout().is_none() {
            connect.connect_timeout(CONNECT_TIMEOUT);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("aion-postgres")
            .enable_all()
            .build()
            .map_err(|e| Error::Internal(format!("cannot start the postgres runtime: {e}")))?;
        let store = PostgresStore {
            readers: (0..config.pool)
                .map(|_| tokio::sync::Mutex::new(None))
                .collect(),
            config,
            connect,
            runtime,
            writer: tokio::sync::Mutex::new(None),
            next_reader: AtomicUsize::new(0),
            identity: RwLock::new(None),
            stats: Mutex::new(StoreStats::default()),
        };
        store.runtime.block_on(async {
            let mut writer = store.writer.lock().await;
            let client = store.connect().await?;
            prepare_schema(&client, &store.config.schema).await?;
            *writer = Some(batch::Writer::new(client).await?);
            Ok::<_, Error>(())
        })?;
        Ok(store)
    }

    async fn connect(&self) -> Result<Client, Error> {
        let (client, connection) = self
            .connect
            .connect(NoTls)
            .await
            .map_err(|e| Error::durability(format!("cannot connect to postgres: {e}")))?;
        // The connection drives the socket; it ends when the client is dropped or the
        // server goes away (the client then reports itself closed and is replaced).
        self.runtime.spawn(connection);
        client
            .batch_execute(&format!(
                "SET search_path TO {}; SET application_name TO 'aion'",
                self.config.schema
            ))
            .await?;
        Ok(client)
    }

    /// Runs `body` with a read connection (connecting or reconnecting it as needed).
    fn read_with<T>(
        &self,
        body: impl for<'c> AsyncFnOnce(&'c Client) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        self.runtime.block_on(async {
            let mut slot = self.readers[i].lock().await;
            let client = self.live(&mut slot).await?;
            body(client).await
        })
    }

    /// The client in `slot`, connected anew when it is missing or closed.
    async fn live<'s>(&self, slot: &'s mut Option<Client>) -> Result<&'s Client, Error> {
        if slot.as_ref().is_none_or(Client::is_closed) {
            *slot = Some(self.connect().await?);
        }
        slot.as_ref()
            .ok_or_else(|| Error::Internal("postgres connection vanished".into()))
    }

    fn identity(&self) -> Option<(String, i64)> {
        self.identity.read().map_or(None, |id| id.clone())
    }

    fn member(&self) -> Result<(String, i64), Error> {
        self.identity()
            .ok_or_else(|| Error::NotOwner("this node has not joined the cluster".into()))
    }

    /// Removes the workflows whose rows match `condition` (on `workflows`), with every
    /// run's events and their inbox, in one statement; how many.
    fn remove_closed(&self, condition: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
        let sql = format!(
            "WITH doomed AS (DELETE FROM workflows WHERE {condition} RETURNING workflow_id),
                  events_gone AS (
                      DELETE FROM events WHERE workflow_id IN (SELECT workflow_id FROM doomed)),
                  inbox_gone AS (
                      DELETE FROM inbox WHERE workflow_id IN (SELECT workflow_id FROM doomed))
             SELECT count(*) FROM doomed"
        );
        self.read_with(async |client| {
            let rows = client.query(&sql, params).await?;
            Ok(rows.first().map_or(0, |row| row.get::<_, i64>(0) as u64))
        })
    }

    fn count(&self, writes: &[Write], results: &[Result<u64, Error>]) {
        let Ok(mut stats) = self.stats.lock() else {
            return;
        };
        let mut wrote = false;
        for (write, result) in writes.iter().zip(results) {
            if result.is_err() {
                continue;
            }
            wrote = true;
            if let Write::Append { group, .. } = write {
                stats.appends += group.len() as u64;
                stats.events += group.iter().map(|r| r.events.len() as u64).sum::<u64>();
            }
        }
        if wrote {
            // synchronous_commit = on: the commit waits for one flush of PostgreSQL's WAL.
            stats.commits += 1;
            stats.syncs += 1;
        }
    }
}

/// Whether PostgreSQL aborted the transaction for a conflict that a new try can resolve.
fn is_retryable(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|code| {
        *code == tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED
            || *code == tokio_postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
    })
}

fn valid_schema_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Creates the schema and its tables (once, under an advisory lock, so nodes starting
/// together do not race) or checks the version of what is there.
async fn prepare_schema(client: &Client, schema: &str) -> Result<(), Error> {
    client
        .batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock(7406571); CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS {schema}.meta (key text PRIMARY KEY, value bigint NOT NULL);"
        ))
        .await?;
    let version: Option<i64> = client
        .query_opt(
            &format!("SELECT value FROM {schema}.meta WHERE key = 'schema_version'"),
            &[],
        )
        .await?
        .map(|row| row.get(0));
    match version {
        Some(v) if v == SCHEMA_VERSION => {}
        Some(v) if v > SCHEMA_VERSION => {
            client.batch_execute("ROLLBACK").await?;
            return Err(Error::durability(format!(
                "postgres schema {schema} has version {v}, written by a newer aion \
                 (this one reads up to {SCHEMA_VERSION})"
            )));
        }
        Some(v) => {
            client.batch_execute("ROLLBACK").await?;
            return Err(Error::durability(format!(
                "postgres schema {schema} has unknown version {v}"
            )));
        }
        None => {
            client.batch_execute(&schema_sql(schema)).await?;
        }
    }
    client.batch_execute("COMMIT").await?;
    Ok(())
}

fn schema_sql(schema: &str) -> String {
    format!(
        "CREATE TABLE {schema}.workflows (
             workflow_key bigserial UNIQUE,
             workflow_id text PRIMARY KEY,
             workflow_type text NOT NULL,
             run_id text NOT NULL,
             status text NOT NULL,
             head bigint NOT NULL,
             created_at bigint NOT NULL,
             updated_at bigint NOT NULL,
             outcome text,
             parent_id text,
             owner text,
             owner_epoch bigint,
             closed_at bigint);
         CREATE INDEX workflows_by_status ON {schema}.workflows (status, workflow_key);
         CREATE INDEX workflows_by_type ON {schema}.workflows (workflow_type, workflow_key);
         CREATE INDEX workflows_by_created ON {schema}.workflows (created_at);
         CREATE INDEX workflows_by_closed ON {schema}.workflows (closed_at) WHERE closed_at IS NOT NULL;
         CREATE INDEX workflows_by_owner ON {schema}.workflows (owner) WHERE status = 'running';
         CREATE TABLE {schema}.events (
             workflow_id text NOT NULL,
             run_id text NOT NULL,
             seq bigint NOT NULL,
             recorded_at bigint NOT NULL,
             body text NOT NULL,
             PRIMARY KEY (workflow_id, run_id, seq));
         CREATE TABLE {schema}.inbox (
             id bigserial PRIMARY KEY,
             workflow_id text NOT NULL,
             recorded_at bigint NOT NULL,
             body text NOT NULL);
         CREATE INDEX inbox_by_workflow ON {schema}.inbox (workflow_id, id);
         CREATE TABLE {schema}.nodes (
             node text PRIMARY KEY,
             epoch bigint NOT NULL,
             role text NOT NULL,
             task_queues text NOT NULL,
             expires_at bigint NOT NULL,
             joined_at bigint NOT NULL);
         CREATE SEQUENCE {schema}.node_epochs;
         INSERT INTO {schema}.meta (key, value) VALUES ('schema_version', {SCHEMA_VERSION});"
    )
}

/// The columns a workflow's summary is read from, in [`record_at`]'s order.
const RECORD_COLUMNS: &str = "workflow_id, workflow_type, run_id, status, head, created_at,
        updated_at, outcome, parent_id, owner, owner_epoch";

const SELECT_RECORD: &str = "SELECT workflow_id, workflow_type, run_id, status, head, created_at,
        updated_at, outcome, parent_id, owner, owner_epoch FROM workflows";

fn record_of(row: &Row) -> Result<Current, Error> {
    record_at(row, 0)
}

/// The summary in `row` from column `at` on ([`RECORD_COLUMNS`]).
fn record_at(row: &Row, at: usize) -> Result<Current, Error> {
    let status: String = row.try_get(at + 3)?;
    let outcome: Option<String> = row.try_get(at + 7)?;
    Ok(Current {
        record: WorkflowRecord {
            workflow_id: row.try_get(at)?,
            workflow_type: row.try_get(at + 1)?,
            run_id: row.try_get(at + 2)?,
            status: Status::parse(&status)
                .map_err(|e| Error::Corrupt(format!("corrupt workflow row: {e}")))?,
            head: row.try_get::<_, i64>(at + 4)? as u64,
            created_at: row.try_get(at + 5)?,
            updated_at: row.try_get(at + 6)?,
            outcome: outcome
                .map(|text| serde_json::from_str(&text))
                .transpose()
                .map_err(|e| Error::Corrupt(format!("corrupt workflow outcome: {e}")))?,
            parent_id: row.try_get(at + 8)?,
            owner: row.try_get(at + 9)?,
        },
        owner_epoch: row.try_get(at + 10)?,
    })
}

/// `n` as a PostgreSQL bigint: a bound above `i64::MAX` means "everything".
fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl EventStore for PostgresStore {
    fn commit(&self, writes: &[Write]) -> Vec<Result<u64, Error>> {
        if writes.is_empty() {
            return Vec::new();
        }
        let identity = self.identity();
        let outcome = self.runtime.block_on(async {
            let mut slot = self.writer.lock().await;
            let mut tries = 0;
            loop {
                tries += 1;
                if slot.as_ref().is_none_or(|w| w.client.is_closed()) {
                    *slot = Some(batch::Writer::new(self.connect().await?).await?);
                }
                let Some(writer) = slot.as_ref() else {
                    return Err(Error::Internal("postgres writer vanished".into()));
                };
                match writer.commit(writes, identity.as_ref()).await {
                    Ok(results) => return Ok(results),
                    Err(fail) => {
                        // The transaction is over on the server either way; make sure the
                        // connection is out of it before it is used again.
                        let _ = writer.client.batch_execute("ROLLBACK").await;
                        let retry = matches!(&fail, batch::Fail::Pg(e) if is_retryable(e));
                        if !retry || tries >= COMMIT_TRIES {
                            return Err(Error::from(fail));
                        }
                    }
                }
            }
        });
        match outcome {
            Ok(results) => {
                self.count(writes, &results);
                results
            }
            Err(e) => writes.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    fn inbox(&self, workflow_id: &str) -> Result<Vec<InboxEntry>, Error> {
        self.read_with(async |client| {
            let rows = client
                .query(
                    "SELECT id, recorded_at, body FROM inbox WHERE workflow_id = $1 ORDER BY id",
                    &[&workflow_id],
                )
                .await?;
            rows.iter()
                .map(|row| {
                    let body: String = row.try_get(2)?;
                    InboxEntry::stored(row.try_get(0)?, row.try_get(1)?, &body)
                })
                .collect()
        })
    }

    fn inbox_heads(&self) -> Result<Vec<(String, u64)>, Error> {
        self.read_with(async |client| {
            let rows = client
                .query(
                    "SELECT workflow_id, max(id) FROM inbox GROUP BY workflow_id",
                    &[],
                )
                .await?;
            rows.iter()
                .map(|row| Ok((row.try_get(0)?, row.try_get::<_, i64>(1)? as u64)))
                .collect()
        })
    }

    fn read(
        &self,
        workflow_id: &str,
        run_id: Option<&str>,
        from_seq: u64,
    ) -> Result<Vec<Event>, Error> {
        self.read_with(async |client| {
            let rows = client
                .query(
                    "SELECT e.body FROM events e
                      WHERE e.workflow_id = $1
                        AND e.run_id = coalesce($2, (SELECT run_id FROM workflows
                                                      WHERE workflow_id = $1))
                        AND e.seq >= $3
                      ORDER BY e.seq",
                    &[&workflow_id, &run_id, &sql_int(from_seq)],
                )
                .await?;
            rows.iter()
                .map(|row| Event::from_json(&row.try_get::<_, String>(0)?))
                .collect()
        })
    }

    fn workflow(&self, workflow_id: &str) -> Result<Option<WorkflowRecord>, Error> {
        self.read_with(async |client| {
            let row = client
                .query_opt(
                    &format!("{SELECT_RECORD} WHERE workflow_id = $1"),
                    &[&workflow_id],
                )
                .await?;
            row.map(|row| record_of(&row).map(|c| c.record)).transpose()
        })
    }

    fn list_page(&self, filter: &ListFilter) -> Result<ListPage, Error> {
        // Only the conditions the filter sets, so PostgreSQL bounds the scan with the
        // index on (status, key), (type, key) or creation time.
        let mut conditions: Vec<String> = Vec::new();
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let mut add = |condition: &str, value: Box<dyn ToSql + Sync + Send>| {
            values.push(value);
            conditions.push(condition.replace('?', &format!("${}", values.len())));
        };
        if let Some(status) = filter.status {
            add("status = ?", Box::new(status.as_str().to_string()));
        }
        if let Some(ty) = &filter.workflow_type {
            add("workflow_type = ?", Box::new(ty.clone()));
        }
        if let Some(since) = filter.since {
            add("created_at >= ?", Box::new(since));
        }
        if let Some(until) = filter.until {
            add("created_at < ?", Box::new(until));
        }
        let direction = if filter.newest_first { "DESC" } else { "ASC" };
        if let Some(after) = filter.after {
            let op = if filter.newest_first { "<" } else { ">" };
            add(&format!("workflow_key {op} ?"), Box::new(sql_int(after)));
        }
        let limit = filter.limit.map_or("ALL".to_string(), |l| {
            sql_int(l.saturating_add(1)).to_string()
        });
        let sql = format!(
            "SELECT workflow_key, {RECORD_COLUMNS} FROM workflows {} {} ORDER BY workflow_key {direction} LIMIT {limit}",
            if conditions.is_empty() { "" } else { "WHERE" },
            conditions.join(" AND ")
        );
        let found = self.read_with(async |client| {
            let params: Vec<&(dyn ToSql + Sync)> = values
                .iter()
                .map(|v| v.as_ref() as &(dyn ToSql + Sync))
                .collect();
            let rows = client.query(&sql, &params).await?;
            rows.iter()
                .map(|row| {
                    let key: i64 = row.try_get(0)?;
                    Ok((key as u64, record_at(row, 1)?.record))
                })
                .collect::<Result<Vec<_>, Error>>()
        })?;
        Ok(ListPage::of(filter, found))
    }

    fn counts(&self, workflow_type: Option<&str>) -> Result<Vec<(Status, u64)>, Error> {
        self.read_with(async |client| {
            let rows = client
                .query(
                    "SELECT status, count(*) FROM workflows
                      WHERE ($1::text IS NULL OR workflow_type = $1) GROUP BY status",
                    &[&workflow_type],
                )
                .await?;
            rows.iter()
                .map(|row| {
                    let status: String = row.try_get(0)?;
                    Ok((Status::parse(&status)?, row.try_get::<_, i64>(1)? as u64))
                })
                .collect()
        })
    }

    fn forget(&self, workflow_id: &str) -> Result<bool, Error> {
        let removed =
            self.remove_closed("workflow_id = $1 AND status <> 'running'", &[&workflow_id])?;
        Ok(removed > 0)
    }

    fn prune(&self, closed_before: i64, limit: u64) -> Result<u64, Error> {
        self.remove_closed(
            "workflow_id IN (SELECT workflow_id FROM workflows
                              WHERE closed_at < $1 AND status <> 'running'
                              ORDER BY closed_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
            &[&closed_before, &sql_int(limit)],
        )
    }

    fn stats(&self) -> StoreStats {
        self.stats
            .lock()
            .map_or_else(|_| StoreStats::default(), |s| *s)
    }

    fn cluster(&self) -> Option<&dyn ClusterStore> {
        Some(self)
    }
}

/// Rows of a simple query (several statements in one round trip).
fn simple_rows(messages: Vec<SimpleQueryMessage>) -> Vec<tokio_postgres::SimpleQueryRow> {
    messages
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        })
        .collect()
}

/// A running workflow nobody live owns: no owner, an owner whose lease ran out, or an
/// owner that joined again since (its epoch moved on).
const ORPHAN: &str = "w.status = 'running' AND (w.owner IS NULL OR NOT EXISTS (
        SELECT 1 FROM nodes n WHERE n.node = w.owner AND n.epoch = w.owner_epoch
           AND n.expires_at > (extract(epoch from clock_timestamp()) * 1000)::bigint))";

impl ClusterStore for PostgresStore {
    fn join(
        &self,
        node: &str,
        role: &str,
        task_queues: &[String],
        lease_ms: u64,
    ) -> Result<i64, Error> {
        let queues = serde_json::to_string(task_queues)
            .map_err(|e| Error::Internal(format!("cannot encode task queues: {e}")))?;
        let lease = sql_int(lease_ms);
        // This store's own earlier membership may be replaced at once; another's only once
        // its lease has run out (two live processes never share a name).
        let mine = self.identity().map_or(-1, |(_, epoch)| epoch);
        let epoch = self.read_with(async |client| {
            let row = client
                .query_opt(
                    &format!(
                        "INSERT INTO nodes (node, epoch, role, task_queues, expires_at, joined_at)
                         VALUES ($1, nextval('node_epochs'), $2, $3, {NOW_MS} + $4, {NOW_MS})
                         ON CONFLICT (node) DO UPDATE SET epoch = excluded.epoch,
                             role = excluded.role, task_queues = excluded.task_queues,
                             expires_at = excluded.expires_at, joined_at = excluded.joined_at
                          WHERE nodes.expires_at <= {NOW_MS} OR nodes.epoch = $5
                         RETURNING epoch"
                    ),
                    &[&node, &role, &queues, &lease, &mine],
                )
                .await?;
            row.map(|row| row.try_get::<_, i64>(0))
                .transpose()
                .map_err(Error::from)
        })?;
        let epoch = epoch.ok_or_else(|| {
            Error::AlreadyExists(format!(
                "node name {node} is held by a live member of the cluster: each node needs a \
                 name of its own (a restarted node may join once its earlier lease has run out)"
            ))
        })?;
        if let Ok(mut identity) = self.identity.write() {
            *identity = Some((node.to_string(), epoch));
        }
        Ok(epoch)
    }

    fn renew(&self, lease_ms: u64) -> Result<(), Error> {
        let (node, epoch) = self.member()?;
        let lease = sql_int(lease_ms);
        let renewed = self.read_with(async |client| {
            Ok(client
                .query_opt(
                    &format!(
                        "UPDATE nodes SET expires_at = {NOW_MS} + $3
                          WHERE node = $1 AND epoch = $2 AND expires_at > {NOW_MS}
                          RETURNING 1"
                    ),
                    &[&node, &epoch, &lease],
                )
                .await?
                .is_some())
        })?;
        if renewed {
            Ok(())
        } else {
            // The identity is kept: every append under it is refused from now on (its lease
            // is gone), until the node joins again.
            Err(Error::NotOwner(format!(
                "the lease of {node} (epoch {epoch}) ran out or was replaced"
            )))
        }
    }

    fn leave(&self) -> Result<(), Error> {
        let Some((node, epoch)) = self.identity() else {
            return Ok(());
        };
        // Rows are locked in workflow-id order, as commits lock them; a deadlock PostgreSQL
        // still reports is tried again. The identity is kept: its lease row is gone, so
        // nothing more is appended under it.
        let sql = format!(
            "BEGIN;
             UPDATE workflows SET owner = NULL, owner_epoch = NULL
              WHERE workflow_id IN (SELECT workflow_id FROM workflows
                                     WHERE owner = {node} AND owner_epoch = {epoch}
                                       AND status = 'running'
                                     ORDER BY workflow_id FOR UPDATE);
             DELETE FROM nodes WHERE node = {node} AND epoch = {epoch};
             COMMIT;",
            node = quote_literal(&node)
        );
        let mut tries = 0;
        loop {
            tries += 1;
            let sql = sql.clone();
            let outcome = self.read_with(async |client| {
                let result = client.simple_query(&sql).await;
                if result.is_err() {
                    let _ = client.batch_execute("ROLLBACK").await;
                }
                Ok(result)
            })?;
            match outcome {
                Ok(messages) => {
                    drop(simple_rows(messages));
                    return Ok(());
                }
                Err(e) if is_retryable(&e) && tries < COMMIT_TRIES => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn nodes(&self) -> Result<Vec<NodeInfo>, Error> {
        self.read_with(async |client| {
            let rows = client
                .query(
                    &format!(
                        "SELECT node, epoch, role, task_queues FROM nodes
                          WHERE expires_at > {NOW_MS} ORDER BY node"
                    ),
                    &[],
                )
                .await?;
            rows.iter()
                .map(|row| {
                    let queues: String = row.try_get(3)?;
                    Ok(NodeInfo {
                        node: row.try_get(0)?,
                        epoch: row.try_get(1)?,
                        role: row.try_get(2)?,
                        task_queues: serde_json::from_str(&queues).map_err(|e| {
                            Error::Corrupt(format!("corrupt task queues of a node: {e}"))
                        })?,
                    })
                })
                .collect()
        })
    }

    fn claim(&self, workflow_id: &str) -> Result<Claim, Error> {
        let (node, epoch) = self.member()?;
        self.read_with(async |client| {
            let taken = client
                .query_opt(
                    &format!(
                        "UPDATE workflows w SET owner = $2, owner_epoch = $3
                          WHERE w.workflow_id = $1 AND {ORPHAN}
                            AND EXISTS (SELECT 1 FROM nodes WHERE node = $2 AND epoch = $3
                                          AND expires_at > {NOW_MS})
                          RETURNING 1"
                    ),
                    &[&workflow_id, &node, &epoch],
                )
                .await?;
            if taken.is_some() {
                return Ok(Claim::Mine);
            }
            let row = client
                .query_opt(
                    "SELECT status, owner, owner_epoch FROM workflows WHERE workflow_id = $1",
                    &[&workflow_id],
                )
                .await?;
            let Some(row) = row else {
                return Ok(Claim::Unknown);
            };
            let status: String = row.try_get(0)?;
            let owner: Option<String> = row.try_get(1)?;
            let owner_epoch: Option<i64> = row.try_get(2)?;
            Ok(if status != Status::Running.as_str() {
                Claim::Closed
            } else if owner.as_deref() == Some(node.as_str()) && owner_epoch == Some(epoch) {
                Claim::Mine
            } else {
                match owner {
                    Some(other) => Claim::Owner(other),
                    // Nobody owns it and this node could not take it: its own lease ran out.
                    None => {
                        return Err(Error::NotOwner(format!(
                            "the lease of {node} has run out: it cannot take {workflow_id}"
                        )))
                    }
                }
            })
        })
    }

    fn claim_orphans(&self, limit: u64, types: &[String]) -> Result<Vec<(String, String)>, Error> {
        let (node, epoch) = self.member()?;
        let limit = sql_int(limit);
        let types = types.to_vec();
        self.read_with(async |client| {
            let rows = client
                .query(
                    &format!(
                        "UPDATE workflows SET owner = $1, owner_epoch = $2
                          WHERE workflow_id IN (
                                SELECT w.workflow_id FROM workflows w
                                 WHERE {ORPHAN} AND w.workflow_type = ANY($4)
                                 ORDER BY w.workflow_key LIMIT $3 FOR UPDATE SKIP LOCKED)
                            AND EXISTS (SELECT 1 FROM nodes WHERE node = $1 AND epoch = $2
                                          AND expires_at > {NOW_MS})
                          RETURNING workflow_id, workflow_type"
                    ),
                    &[&node, &epoch, &limit, &types],
                )
                .await?;
            rows.iter()
                .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
                .collect()
        })
    }

    fn inbox_waiting(&self) -> Result<Vec<String>, Error> {
        let (node, epoch) = self.member()?;
        self.read_with(async |client| {
            let rows = client
                .query(
                    "SELECT w.workflow_id FROM workflows w
                      WHERE w.owner = $1 AND w.owner_epoch = $2 AND w.status = 'running'
                        AND EXISTS (SELECT 1 FROM inbox i WHERE i.workflow_id = w.workflow_id)",
                    &[&node, &epoch],
                )
                .await?;
            rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
        })
    }
}

/// `text` as an SQL string literal.
fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

mod batch;
#[cfg(test)]
pub(crate) mod tests;
