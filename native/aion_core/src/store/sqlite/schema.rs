//! The SQLite store's tables, their version (`PRAGMA user_version`) and the migrations from
//! the versions earlier aion releases wrote.
//!
//! Version 4 keys every run by an integer (`runs.run_key`) and every event by its own
//! increasing integer (`events.id`), so that appends land on the last pages of the tables
//! whatever the workflow and run ids are, and writes the `workflows` row only when a run
//! starts or closes: the head and the time of the last event are read from `events`.

use std::path::Path;

use rusqlite::Connection;

use crate::Error;

/// The schema this code reads and writes. 2: events keyed by (workflow id, run id, seq);
/// workflows know their parent. 3: a durable inbox per workflow; cancellations carry their
/// `cause` (an enum) instead of being known by a message. 4: integer keys for runs and
/// events; the workflow row is written at create and close only. 5: when each closed
/// workflow closed (`closed`, for retention) and indexes that page `list` by status, type
/// and creation time.
pub(super) const SCHEMA_VERSION: i64 = 5;

/// The tables of version 4.
///
/// `events` is a rowid table whose key (`id`) only grows, with a unique index on
/// (run_key, seq), rather than a `WITHOUT ROWID` table keyed by (run_key, seq): each batch
/// of appends then fills the table's last page(s), whichever runs it holds, and only the
/// small index entries go to each run's place. Measured with the seq10 workload of the
/// tests (200 workflows of 12 appends): with 20 runs in flight ~23 KiB of WAL per workflow
/// for this layout against ~59 KiB for `WITHOUT ROWID` (whose rows of the runs in flight
/// are spread over as many pages as those runs' histories fill, so a commit rewrites about
/// one page per run); with one run at a time both write ~150 KiB (a commit then rewrites
/// the table's last page either way).
///
/// `recorded_at` repeats the event's time outside its body so that `describe` and `list`
/// read a workflow's `updated_at` without parsing JSON. `workflows.run_key` names the
/// current run; `status`, `outcome` and `run_key` change when a run closes or a new run
/// starts, and at no other time.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS workflows (
    workflow_key  INTEGER PRIMARY KEY,
    workflow_id   TEXT NOT NULL UNIQUE,
    workflow_type TEXT NOT NULL,
    run_key       INTEGER NOT NULL,
    status        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    outcome       TEXT,
    parent_id     TEXT
);
CREATE INDEX IF NOT EXISTS workflows_by_status_key ON workflows (status, workflow_key);
CREATE INDEX IF NOT EXISTS workflows_by_type_key ON workflows (workflow_type, workflow_key);
CREATE INDEX IF NOT EXISTS workflows_by_created ON workflows (created_at);
CREATE TABLE IF NOT EXISTS closed (
    workflow_key INTEGER PRIMARY KEY,
    closed_at    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS closed_by_time ON closed (closed_at);
CREATE TABLE IF NOT EXISTS runs (
    run_key      INTEGER PRIMARY KEY,
    workflow_key INTEGER NOT NULL,
    run_id       TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS runs_by_workflow ON runs (workflow_key, run_id);
CREATE TABLE IF NOT EXISTS events (
    id          INTEGER PRIMARY KEY,
    run_key     INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    body        TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_by_run ON events (run_key, seq);
CREATE TABLE IF NOT EXISTS inbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_by_workflow ON inbox (workflow_id, id);
";

/// The tables of version 3, as that version created them (the migration from version 2
/// goes through them).
pub(super) const SCHEMA_V3: &str = "
CREATE TABLE IF NOT EXISTS workflows (
    workflow_id   TEXT NOT NULL UNIQUE,
    workflow_type TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    status        TEXT NOT NULL,
    head          INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    outcome       TEXT,
    parent_id     TEXT
);
CREATE INDEX IF NOT EXISTS workflows_by_status ON workflows (status, workflow_type);
CREATE TABLE IF NOT EXISTS events (
    workflow_id TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (workflow_id, run_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_by_workflow ON inbox (workflow_id, id);
";

/// Migrates a version 2 store to version 3: the inbox table comes with [`SCHEMA_V3`];
/// cancellations recorded by version 2 (known then by their message, the one place that
/// message is still read) get their `cause`. Rows that are not valid JSON are left as they
/// are (reading them reports the corruption, for that run only).
const MIGRATE_2_TO_3: &str = "
UPDATE events SET body = json_set(body, '$.cause', 'cancel_request')
 WHERE CASE WHEN json_valid(body) THEN
       json_extract(body, '$.type') = 'ActivityFailed'
       AND json_extract(body, '$.error.type') = 'cancelled'
       AND json_extract(body, '$.error.message') = 'the workflow was cancelled'
       ELSE 0 END;
UPDATE events SET body = json_set(body, '$.cause', 'workflow')
 WHERE CASE WHEN json_valid(body) THEN
       json_extract(body, '$.type') = 'ActivityFailed'
       AND json_extract(body, '$.error.type') = 'cancelled'
       AND json_extract(body, '$.error.message') = 'cancelled by the workflow'
       ELSE 0 END;
UPDATE events SET body = json_set(body, '$.cause', 'cancel_request')
 WHERE CASE WHEN json_valid(body) THEN
       json_extract(body, '$.type') = 'ChildCompleted'
       AND json_extract(body, '$.status') = 'cancelled'
       AND json_extract(body, '$.value') = 'the workflow was cancelled'
       ELSE 0 END;
PRAGMA user_version = 3;
";

/// Migrates a version 3 store to version 4: the old tables are renamed, the new ones
/// created, every workflow keeps its rowid (so `list` keeps its order) and every run gets
/// a key; the events are copied run by run, in order. A body that is not valid JSON is
/// copied as it is (reading it reports the corruption) with `recorded_at` 0. The old tables
/// are dropped by [`migrate_3_to_4`] once it has checked that every event was copied.
const MIGRATE_3_TO_4: &str = "
DROP INDEX IF EXISTS workflows_by_status;
ALTER TABLE workflows RENAME TO workflows_v3;
ALTER TABLE events RENAME TO events_v3;
";

const COPY_3_TO_4: &str = "
INSERT INTO workflows (workflow_key, workflow_id, workflow_type, run_key, status, created_at,
                       outcome, parent_id)
     SELECT rowid, workflow_id, workflow_type, 0, status, created_at, outcome, parent_id
       FROM workflows_v3 ORDER BY rowid;
INSERT INTO runs (workflow_key, run_id)
     SELECT w.workflow_key, r.run_id
       FROM (SELECT workflow_id, run_id FROM events_v3
             UNION SELECT workflow_id, run_id FROM workflows_v3) AS r
       JOIN workflows w ON w.workflow_id = r.workflow_id
      ORDER BY w.workflow_key, r.run_id;
UPDATE workflows SET run_key = (
     SELECT r.run_key FROM runs r JOIN workflows_v3 o ON o.rowid = workflows.workflow_key
      WHERE r.workflow_key = workflows.workflow_key AND r.run_id = o.run_id);
INSERT INTO events (run_key, seq, recorded_at, body)
     SELECT r.run_key, e.seq,
            CASE WHEN json_valid(e.body)
                 THEN coalesce(CAST(json_extract(e.body, '$.recorded_at') AS INTEGER), 0)
                 ELSE 0 END,
            e.body
       FROM events_v3 e
       JOIN workflows w ON w.workflow_id = e.workflow_id
       JOIN runs r ON r.workflow_key = w.workflow_key AND r.run_id = e.run_id
      ORDER BY r.run_key, e.seq;
";

/// Refuses a database written with another schema instead of misreading it (migrating one
/// written by version 2 or 3, one version at a time, each in its own transaction); stamps
/// a new one with [`SCHEMA_VERSION`]. Creates the tables that are missing.
pub(super) fn prepare(conn: &Connection, path: &Path) -> Result<(), Error> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('events', 'workflows')",
        [],
        |r| r.get(0),
    )?;
    match (tables, version) {
        (0, _) => conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?,
        (_, v) if v == SCHEMA_VERSION => {}
        (_, 2) => {
            in_transaction(conn, path, 2, |conn| {
                conn.execute_batch(&format!("{SCHEMA_V3} {MIGRATE_2_TO_3}"))?;
                Ok(())
            })?;
            in_transaction(conn, path, 3, migrate_3_to_4)?;
            in_transaction(conn, path, 4, migrate_4_to_5)?;
        }
        (_, 3) => {
            in_transaction(conn, path, 3, migrate_3_to_4)?;
            in_transaction(conn, path, 4, migrate_4_to_5)?;
        }
        (_, 4) => in_transaction(conn, path, 4, migrate_4_to_5)?,
        (_, v) => {
            return Err(Error::durability(format!(
                "{} has store schema version {v}, this aion reads version {SCHEMA_VERSION}; \
                 keep it with the aion that wrote it or start from an empty data_dir",
                path.display()
            )))
        }
    }
    conn.execute_batch(SCHEMA)?;
    Ok(())
}

/// Runs `step` (the migration from version `from`) in one immediate transaction.
fn in_transaction(
    conn: &Connection,
    path: &Path,
    from: i64,
    step: impl FnOnce(&Connection) -> Result<(), Error>,
) -> Result<(), Error> {
    let failed = |e: Error| {
        let _ = conn.execute_batch("ROLLBACK");
        Error::durability(format!(
            "cannot migrate {} from store schema version {from}: {e}",
            path.display()
        ))
    };
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| failed(e.into()))?;
    step(conn).map_err(failed)?;
    conn.execute_batch("COMMIT").map_err(|e| failed(e.into()))
}

/// Version 4 to 5, inside the caller's transaction: the status index keyed for paging
/// replaces the old one, and every closed workflow gets its closing time (its current
/// run's last event).
fn migrate_4_to_5(conn: &Connection) -> Result<(), Error> {
    conn.execute_batch(&format!(
        "DROP INDEX IF EXISTS workflows_by_status;
         {SCHEMA}
         INSERT OR IGNORE INTO closed (workflow_key, closed_at)
         SELECT w.workflow_key,
                coalesce((SELECT max(e.recorded_at) FROM events e WHERE e.run_key = w.run_key),
                         w.created_at)
           FROM workflows w WHERE w.status <> 'running';
         PRAGMA user_version = 5;"
    ))?;
    Ok(())
}

/// Version 3 to 4 (see [`MIGRATE_3_TO_4`]), inside the caller's transaction.
fn migrate_3_to_4(conn: &Connection) -> Result<(), Error> {
    conn.execute_batch(&format!("{MIGRATE_3_TO_4} {SCHEMA} {COPY_3_TO_4}"))?;
    let count = |table: &str| -> Result<i64, Error> {
        Ok(conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?)
    };
    let (old, new) = (count("events_v3")?, count("events")?);
    if old != new {
        return Err(Error::Corrupt(format!(
            "{} of {old} events belong to no workflow",
            old - new
        )));
    }
    conn.execute_batch("DROP TABLE events_v3; DROP TABLE workflows_v3; PRAGMA user_version = 4;")?;
    Ok(())
}
