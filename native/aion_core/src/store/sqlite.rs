//! The embedded durable store: one SQLite database in WAL mode with `synchronous=FULL`.
//!
//! Every acknowledged append is fsynced (the WAL is synced at each commit). A batch of
//! appends from many runs shares one transaction and so one fsync; each request inside it
//! is isolated by a savepoint, so one refused request never takes the others down. A torn
//! WAL tail (a crash mid-commit) is dropped by SQLite's own recovery: those appends were
//! never acknowledged. Corruption is looked for at open (`PRAGMA quick_check`) and on every
//! read (each event body must parse), and reported ([`Error::Durability`] at open,
//! [`Error::Corrupt`] for a body or row that does not parse).
//!
//! An append writes its events and nothing else: the `workflows` row (and its status
//! index) is written when a run starts or closes, and the head a request must match is the
//! run's last seq in `events` (so it is right inside a transaction, after a refused
//! request's savepoint is rolled back, and after a reopen). See [`schema`] for the layout
//! and [`checkpoint`] for how the WAL is copied back to the database off the commit path.
//!
//! The data directory is locked (`aion.lock`) for as long as the store is open, so two
//! engines can never write the same histories; the OS drops the lock when the process dies.
//! Histories are private: the directory is made `0700` and its files `0600`, whatever the
//! umask (SQLite gives its `-wal` and `-shm` files the database file's mode).

mod checkpoint;
mod schema;

use std::fs::{File, OpenOptions, Permissions};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{ffi, params, Connection, OptionalExtension, TransactionBehavior};

use super::{
    apply_append, check_push, inbox_not_taken, AppendRequest, EventStore, InboxEntry, InboxPush,
    InboxRule, ListFilter, ListPage, Status, StoreStats, WorkflowRecord, Write,
};
use crate::event::Event;
use crate::Error;
use checkpoint::Checkpointer;

/// A SQLite-backed [`EventStore`].
pub struct SqliteStore {
    path: PathBuf,
    // Dropped first: the checkpoint thread is stopped and joined before the connections
    // close and the directory lock is released.
    checkpointer: Checkpointer,
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
    /// Bytes of one WAL frame: a page and its 24-byte frame header.
    frame_bytes: u64,
    stats: Mutex<StoreStats>,
    _lock: File,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

/// A workflow as the writer sees it: its summary and the keys of its row and current run.
struct Current {
    workflow_key: i64,
    run_key: i64,
    record: WorkflowRecord,
}

impl SqliteStore {
    /// Opens (creating if needed) the store in directory `dir`: `dir/aion.db`.
    pub fn open(dir: &Path) -> Result<SqliteStore, Error> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::durability(format!("cannot create {}: {e}", dir.display())))?;
        private(dir, 0o700)?;
        let lock = private_file(&dir.join("aion.lock"))?;
        lock.try_lock().map_err(|_| {
            Error::durability(format!(
                "{} is in use by another aion engine",
                dir.display()
            ))
        })?;
        let path = dir.join("aion.db");
        drop(private_file(&path)?);
        for suffix in ["-wal", "-shm"] {
            let side = dir.join(format!("aion.db{suffix}"));
            if side.exists() {
                private(&side, 0o600)?;
            }
        }
        let writer = Self::connect(&path)?;
        schema::prepare(&writer, &path)?;
        let check: String = writer.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if check != "ok" {
            return Err(Error::durability(format!(
                "{} is corrupt: {check}",
                path.display()
            )));
        }
        // Checkpoints are the checkpoint thread's job, never a commit's.
        writer.execute_batch(&format!(
            "PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit={WAL_PREALLOCATE}"
        ))?;
        preallocate_wal(&writer, &path)?;
        let reader = Self::connect(&path)?;
        let page_size: i64 = writer.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        // What opening wrote (a migration, the schema) is not the commit path's work.
        take_frames_written(&writer);
        let checkpointer = Checkpointer::start(Self::connect(&path)?)?;
        Ok(SqliteStore {
            path,
            checkpointer,
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
            frame_bytes: page_size as u64 + 24,
            stats: Mutex::new(StoreStats::default()),
            _lock: lock,
        })
    }

    fn connect(path: &Path) -> Result<Connection, Error> {
        let conn = Connection::open(path)
            .map_err(|e| Error::durability(format!("cannot open {}: {e}", path.display())))?;
        // 1 KiB pages (for a new database; an existing one keeps its size): a commit of a
        // step rewrites the last page of `events` and of its index, so the page size is
        // most of what a step costs in WAL bytes. A 10-activity workflow run alone writes
        // ~55–57 KiB of WAL with 1 KiB pages, ~145 KiB with SQLite's default 4 KiB (measured
        // with `aion_engine:store_stats/0`); large payloads take overflow pages either way.
        conn.execute_batch("PRAGMA page_size=1024")?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if mode != "wal" {
            return Err(Error::durability(format!("cannot enable WAL (got {mode})")));
        }
        conn.execute_batch(
            "PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=OFF;",
        )?;
        Ok(conn)
    }

    fn reader(&self) -> Result<MutexGuard<'_, Connection>, Error> {
        self.reader
            .lock()
            .map_err(|_| Error::Internal("sqlite reader lock poisoned".into()))
    }

    /// Applies one write inside the current savepoint: an append group (the entry's
    /// number is 0), an inbox push (its number) or an acknowledgement (0).
    fn apply_write(tx: &Connection, write: &Write) -> Result<u64, Error> {
        Ok(match write {
            Write::Append {
                group,
                inbox_through,
            } => {
                for (i, req) in group.iter().enumerate() {
                    Self::append_one(tx, req, if i == 0 { *inbox_through } else { 0 })?;
                }
                0
            }
            Write::Inbox(push) => Self::push_one(tx, push)?,
            Write::Ack {
                workflow_id,
                through,
            } => {
                tx.prepare_cached("DELETE FROM inbox WHERE workflow_id = ?1 AND id <= ?2")?
                    .execute(params![workflow_id, sql_int(*through)])?;
                0
            }
        })
    }

    fn push_one(tx: &Connection, push: &InboxPush) -> Result<u64, Error> {
        let current = load_current(tx, &push.workflow_id)?;
        check_push(current.as_ref().map(|c| &c.record), push)?;
        let body = serde_json::to_string(&push.item)
            .map_err(|e| Error::Internal(format!("cannot encode an inbox entry: {e}")))?;
        tx.prepare_cached(
            "INSERT INTO inbox (workflow_id, recorded_at, body) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![push.workflow_id, push.recorded_at, body])?;
        Ok(tx.last_insert_rowid() as u64)
    }

    fn append_one(tx: &Connection, req: &AppendRequest, inbox_through: u64) -> Result<(), Error> {
        let current = load_current(tx, &req.workflow_id)?;
        let record = apply_append(current.as_ref().map(|c| &c.record), req)?;
        let new_run = current
            .as_ref()
            .is_none_or(|c| c.record.run_id != req.run_id);
        if let Some(c) = current.as_ref().filter(|_| new_run) {
            if run_key(tx, c.workflow_key, &req.run_id)?.is_some() {
                return Err(Error::AlreadyExists(format!(
                    "{} had a run {} already",
                    req.workflow_id, req.run_id
                )));
            }
        }
        if inbox_through > 0 {
            tx.prepare_cached("DELETE FROM inbox WHERE workflow_id = ?1 AND id <= ?2")?
                .execute(params![req.workflow_id, sql_int(inbox_through)])?;
        }
        if InboxRule::of(&req.events) == InboxRule::MustBeEmpty {
            let waiting: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM inbox WHERE workflow_id = ?1)")?
                .query_row([&req.workflow_id], |r| r.get(0))?;
            if waiting {
                return Err(inbox_not_taken(&req.workflow_id));
            }
        }
        let (workflow_key, run_key) = match &current {
            None => {
                let workflow_key: i64 = tx
                    .prepare_cached("SELECT coalesce(max(workflow_key), 0) + 1 FROM workflows")?
                    .query_row([], |r| r.get(0))?;
                (workflow_key, insert_run(tx, workflow_key, &req.run_id)?)
            }
            Some(c) if new_run => (c.workflow_key, insert_run(tx, c.workflow_key, &req.run_id)?),
            Some(c) => (c.workflow_key, c.run_key),
        };
        let mut insert = tx.prepare_cached(
            "INSERT INTO events (run_key, seq, recorded_at, body) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for event in &req.events {
            insert.execute(params![
                run_key,
                sql_int(event.seq),
                event.recorded_at,
                event.to_json()?
            ])?;
        }
        // Only a new workflow, a close or a new run changes what the row holds: appends that
        // do none of these leave it (and the status index) alone.
        if current
            .as_ref()
            .is_none_or(|c| new_run || row_changes(&c.record, &record))
        {
            tx.prepare_cached(
                "INSERT INTO workflows (workflow_key, workflow_id, workflow_type, run_key, status,
                                        created_at, outcome, parent_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (workflow_key) DO UPDATE SET workflow_type = excluded.workflow_type,
                     run_key = excluded.run_key, status = excluded.status,
                     created_at = excluded.created_at, outcome = excluded.outcome,
                     parent_id = excluded.parent_id",
            )?
            .execute(params![
                workflow_key,
                record.workflow_id,
                record.workflow_type,
                run_key,
                record.status.as_str(),
                record.created_at,
                record.outcome.as_ref().map(|v| v.to_string()),
                record.parent_id
            ])?;
            if record.status == Status::Running {
                // A new run (continue-as-new) is no close: retention never takes it.
                tx.prepare_cached("DELETE FROM closed WHERE workflow_key = ?1")?
                    .execute([workflow_key])?;
            } else {
                // When it closed: what retention goes by.
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO closed (workflow_key, closed_at) VALUES (?1, ?2)",
                )?
                .execute(params![workflow_key, record.updated_at])?;
            }
        }
        Ok(())
    }

    /// Removes the workflows of `keys` (closed ones) with every run's events and their
    /// inbox, inside the caller's transaction.
    fn remove(tx: &Connection, keys: &[(i64, String)]) -> Result<(), Error> {
        for (key, id) in keys {
            tx.prepare_cached(
                "DELETE FROM events WHERE run_key IN (SELECT run_key FROM runs WHERE workflow_key = ?1)",
            )?
            .execute([key])?;
            tx.prepare_cached("DELETE FROM runs WHERE workflow_key = ?1")?
                .execute([key])?;
            tx.prepare_cached("DELETE FROM workflows WHERE workflow_key = ?1")?
                .execute([key])?;
            tx.prepare_cached("DELETE FROM closed WHERE workflow_key = ?1")?
                .execute([key])?;
            tx.prepare_cached("DELETE FROM inbox WHERE workflow_id = ?1")?
                .execute([id])?;
        }
        Ok(())
    }
}

/// Whether the `workflows` row must change from `old` to `new` (the head and the time of
/// the last event are not kept in it).
fn row_changes(old: &WorkflowRecord, new: &WorkflowRecord) -> bool {
    (
        &old.workflow_type,
        old.status,
        old.created_at,
        &old.outcome,
        &old.parent_id,
    ) != (
        &new.workflow_type,
        new.status,
        new.created_at,
        &new.outcome,
        &new.parent_id,
    )
}

/// Adds run `run_id` of the workflow `workflow_key`; its key.
fn insert_run(tx: &Connection, workflow_key: i64, run_id: &str) -> Result<i64, Error> {
    tx.prepare_cached("INSERT INTO runs (workflow_key, run_id) VALUES (?1, ?2)")?
        .execute(params![workflow_key, run_id])?;
    Ok(tx.last_insert_rowid())
}

/// The key of run `run_id` of the workflow `workflow_key`, if it has one.
fn run_key(conn: &Connection, workflow_key: i64, run_id: &str) -> Result<Option<i64>, Error> {
    Ok(conn
        .prepare_cached("SELECT run_key FROM runs WHERE workflow_key = ?1 AND run_id = ?2")?
        .query_row(params![workflow_key, run_id], |r| r.get(0))
        .optional()?)
}

/// The WAL frames `conn` has written since the last call: SQLite's own count of the pages
/// its pager handed to the WAL (`SQLITE_DBSTATUS_CACHE_WRITE`, bumped in `pagerWalFrames`
/// by exactly the number of frames written, spilled pages included), read and reset.
fn take_frames_written(conn: &Connection) -> u64 {
    let (mut current, mut highwater) = (0, 0);
    // SAFETY: the handle is the open connection `conn` borrows for the whole call, and
    // `sqlite3_db_status` only reads (and resets) a counter of that connection.
    let rc = unsafe {
        ffi::sqlite3_db_status(
            conn.handle(),
            ffi::SQLITE_DBSTATUS_CACHE_WRITE,
            &mut current,
            &mut highwater,
            1,
        )
    };
    if rc == ffi::SQLITE_OK {
        u64::try_from(current).unwrap_or(0)
    } else {
        0
    }
}

/// The size the WAL file is given at open: about two cycles of the checkpoint thread
/// ([`checkpoint::PASSIVE_AFTER_FRAMES`] frames of 1 KiB pages). SQLite truncates a WAL
/// that grew larger back to this size when it starts it over (`journal_size_limit`).
const WAL_PREALLOCATE: u64 = 2 << 20;

/// Gives the WAL file [`WAL_PREALLOCATE`] bytes of zeros once it is empty, so that commits
/// overwrite blocks the file has instead of growing it (an `fdatasync` that grows a file
/// also journals its new size). Safe by SQLite's WAL format: the WAL is first emptied by a
/// `TRUNCATE` checkpoint (everything is in the database file), and a WAL whose header is
/// not valid — zeros — holds no frames, for SQLite as for its recovery after a crash; the
/// first commit then writes a fresh header and its frames from the start of the file.
/// Skipped (nothing lost, only speed) when the WAL cannot be emptied now.
fn preallocate_wal(writer: &Connection, path: &Path) -> Result<(), Error> {
    let emptied = writer.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
        Ok(row.get::<_, i64>(0)? == 0)
    })?;
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal = PathBuf::from(wal);
    let file = private_file(&wal)?;
    let len = file
        .metadata()
        .map_err(|e| Error::durability(format!("cannot read {}: {e}", wal.display())))?
        .len();
    if !emptied || len != 0 {
        return Ok(());
    }
    let zeros = vec![0u8; 64 * 1024];
    let mut file = file;
    for _ in 0..WAL_PREALLOCATE / zeros.len() as u64 {
        file.write_all(&zeros)
            .map_err(|e| Error::durability(format!("cannot write {}: {e}", wal.display())))?;
    }
    file.sync_all()
        .map_err(|e| Error::durability(format!("cannot sync {}: {e}", wal.display())))
}

/// `n` as an SQLite integer: a bound above `i64::MAX` means "everything", as in the
/// in-memory store (a plain cast would wrap to a negative number).
fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Opens (creating if needed) `path` with mode `0600`, whatever the umask.
fn private_file(path: &Path) -> Result<File, Error> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::durability(format!("cannot open {}: {e}", path.display())))?;
    private(path, 0o600)?;
    Ok(file)
}

/// Sets the permission bits of `path` to `mode`.
fn private(path: &Path, mode: u32) -> Result<(), Error> {
    std::fs::set_permissions(path, Permissions::from_mode(mode))
        .map_err(|e| Error::durability(format!("cannot set the mode of {}: {e}", path.display())))
}

/// A workflow's summary: its row, its current run's id, and what changes with every append
/// (the head and `updated_at`) read from the run's last event, found through the
/// (run_key, seq) index.
const SELECT_CURRENT: &str = "
SELECT w.workflow_key, w.run_key, w.workflow_id, w.workflow_type, r.run_id, w.status,
       coalesce(e.seq, 0), w.created_at, coalesce(e.recorded_at, w.created_at), w.outcome,
       w.parent_id
  FROM workflows w
  JOIN runs r ON r.run_key = w.run_key
  LEFT JOIN events e ON e.run_key = w.run_key
       AND e.seq = (SELECT max(seq) FROM events WHERE run_key = w.run_key)";

fn row_to_current(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Current, String, Option<String>)> {
    Ok((
        Current {
            workflow_key: row.get(0)?,
            run_key: row.get(1)?,
            record: WorkflowRecord {
                workflow_id: row.get(2)?,
                workflow_type: row.get(3)?,
                run_id: row.get(4)?,
                status: Status::Running,
                head: row.get::<_, i64>(6)? as u64,
                created_at: row.get(7)?,
                updated_at: row.get(8)?,
                outcome: None,
                parent_id: row.get(10)?,
                owner: None,
            },
        },
        row.get(5)?,
        row.get(9)?,
    ))
}

fn finish_current(
    (mut current, status, outcome): (Current, String, Option<String>),
) -> Result<Current, Error> {
    let record = &mut current.record;
    record.status =
        Status::parse(&status).map_err(|e| Error::Corrupt(format!("corrupt workflow row: {e}")))?;
    record.outcome = match outcome {
        Some(text) => Some(
            serde_json::from_str(&text)
                .map_err(|e| Error::Corrupt(format!("corrupt workflow outcome: {e}")))?,
        ),
        None => None,
    };
    Ok(current)
}

fn load_current(conn: &Connection, workflow_id: &str) -> Result<Option<Current>, Error> {
    let row = conn
        .prepare_cached(&format!("{SELECT_CURRENT} WHERE w.workflow_id = ?1"))?
        .query_row([workflow_id], row_to_current)
        .optional()?;
    row.map(finish_current).transpose()
}

impl EventStore for SqliteStore {
    fn commit(&self, writes: &[Write]) -> Vec<Result<u64, Error>> {
        if writes.is_empty() {
            return Vec::new();
        }
        let fail_all = |e: Error| writes.iter().map(|_| Err(e.clone())).collect();
        let Ok(mut conn) = self.writer.lock() else {
            return fail_all(Error::Internal("sqlite writer lock poisoned".into()));
        };
        let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => return fail_all(e.into()),
        };
        let mut results = Vec::with_capacity(writes.len());
        for write in writes {
            // One savepoint per write: a refused request rolls back its whole group only.
            // Its statements are prepared once, like every other statement here.
            let outcome = tx
                .prepare_cached("SAVEPOINT aion_write")
                .and_then(|mut s| s.execute([]))
                .map_err(Error::from)
                .and_then(|_| Self::apply_write(&tx, write));
            let end = match outcome {
                Ok(_) => "RELEASE aion_write",
                Err(_) => "ROLLBACK TO aion_write",
            };
            let ended = tx.prepare_cached(end).and_then(|mut s| s.execute([]));
            let released = match (&outcome, ended) {
                (Err(_), Ok(_)) => tx
                    .prepare_cached("RELEASE aion_write")
                    .and_then(|mut s| s.execute([])),
                (_, ended) => ended,
            };
            results.push(match released {
                Ok(_) => outcome,
                Err(e) => Err(e.into()),
            });
        }
        // The commit is the fsync: nothing above is acknowledged until it succeeds.
        let committed = tx.commit();
        let frames = take_frames_written(&conn);
        drop(conn);
        if frames > 0 {
            self.checkpointer.wrote(frames);
        }
        if let Err(e) = committed {
            return fail_all(e.into());
        }
        if let Ok(mut stats) = self.stats.lock() {
            let accepted = writes
                .iter()
                .zip(&results)
                .filter_map(|(w, r)| match (w, r) {
                    (Write::Append { group, .. }, Ok(_)) => Some(group),
                    _ => None,
                });
            for group in accepted {
                stats.appends += group.len() as u64;
                stats.events += group.iter().map(|r| r.events.len() as u64).sum::<u64>();
            }
            stats.wal_bytes += frames * self.frame_bytes;
            if frames > 0 {
                // synchronous=FULL: a commit that wrote frames syncs the WAL once.
                stats.commits += 1;
                stats.syncs += 1;
            }
        }
        results
    }

    /// Counted by the store as it commits. `wal_bytes` is the number of WAL frames the
    /// writer connection wrote, as SQLite counts them (`SQLITE_DBSTATUS_CACHE_WRITE`, read
    /// and reset after every commit), times the frame size (page size + 24-byte frame
    /// header); the 32-byte header SQLite writes when it starts the WAL over is not
    /// counted. A commit counts (and counts one sync, as `synchronous=FULL` syncs the WAL
    /// once per commit) when it wrote at least one frame; the extra sync of that header by
    /// a commit that starts the WAL over (after a checkpoint copied all of it) is not
    /// counted.
    fn idle(&self) {
        if let Ok(writer) = self.writer.lock() {
            self.checkpointer.finish(&writer);
        }
    }

    fn stats(&self) -> StoreStats {
        self.stats
            .lock()
            .map_or_else(|_| StoreStats::default(), |s| *s)
    }

    fn read(
        &self,
        workflow_id: &str,
        run_id: Option<&str>,
        from_seq: u64,
    ) -> Result<Vec<Event>, Error> {
        read_events(&*self.reader()?, workflow_id, run_id, from_seq)
    }

    fn workflow(&self, workflow_id: &str) -> Result<Option<WorkflowRecord>, Error> {
        Ok(load_current(&*self.reader()?, workflow_id)?.map(|c| c.record))
    }

    fn inbox(&self, workflow_id: &str) -> Result<Vec<InboxEntry>, Error> {
        read_inbox(&*self.reader()?, workflow_id)
    }

    fn inbox_heads(&self) -> Result<Vec<(String, u64)>, Error> {
        read_inbox_heads(&*self.reader()?)
    }

    fn list_page(&self, filter: &ListFilter) -> Result<ListPage, Error> {
        list_page(&*self.reader()?, filter)
    }

    fn counts(&self, workflow_type: Option<&str>) -> Result<Vec<(Status, u64)>, Error> {
        count_by_status(&*self.reader()?, workflow_type)
    }

    fn forget(&self, workflow_id: &str) -> Result<bool, Error> {
        let Ok(mut conn) = self.writer.lock() else {
            return Err(Error::Internal("sqlite writer lock poisoned".into()));
        };
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let key: Option<i64> = tx
            .prepare_cached(
                "SELECT workflow_key FROM workflows WHERE workflow_id = ?1 AND status <> 'running'",
            )?
            .query_row([workflow_id], |r| r.get(0))
            .optional()?;
        if let Some(key) = key {
            Self::remove(&tx, &[(key, workflow_id.to_string())])?;
        }
        tx.commit()?;
        Ok(key.is_some())
    }

    fn prune(&self, closed_before: i64, limit: u64) -> Result<u64, Error> {
        let Ok(mut conn) = self.writer.lock() else {
            return Err(Error::Internal("sqlite writer lock poisoned".into()));
        };
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let keys: Vec<(i64, String)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT c.workflow_key, w.workflow_id FROM closed c
                   JOIN workflows w ON w.workflow_key = c.workflow_key
                  WHERE c.closed_at < ?1 AND w.status <> 'running'
                  ORDER BY c.closed_at LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![closed_before, sql_int(limit)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        Self::remove(&tx, &keys)?;
        tx.commit()?;
        let frames = take_frames_written(&conn);
        drop(conn);
        if frames > 0 {
            self.checkpointer.wrote(frames);
        }
        Ok(keys.len() as u64)
    }
}

/// The events of a run (see [`EventStore::read`]).
fn read_events(
    conn: &Connection,
    workflow_id: &str,
    run_id: Option<&str>,
    from_seq: u64,
) -> Result<Vec<Event>, Error> {
    let Some(current) = load_current(conn, workflow_id)? else {
        return Ok(Vec::new());
    };
    let run = match run_id {
        None => current.run_key,
        Some(r) if r == current.record.run_id => current.run_key,
        Some(r) => match run_key(conn, current.workflow_key, r)? {
            Some(key) => key,
            None => return Ok(Vec::new()),
        },
    };
    let mut stmt = conn
        .prepare_cached("SELECT body FROM events WHERE run_key = ?1 AND seq >= ?2 ORDER BY seq")?;
    let bodies = stmt.query_map(params![run, sql_int(from_seq)], |r| r.get::<_, String>(0))?;
    bodies
        .map(|body| Event::from_json(&body?))
        .collect::<Result<Vec<_>, _>>()
}

/// A workflow's inbox (see [`EventStore::inbox`]).
fn read_inbox(conn: &Connection, workflow_id: &str) -> Result<Vec<InboxEntry>, Error> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, recorded_at, body FROM inbox WHERE workflow_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([workflow_id], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    rows.map(|row| {
        let (id, recorded_at, body) = row?;
        InboxEntry::stored(id, recorded_at, &body)
    })
    .collect()
}

/// Every inbox's newest entry (see [`EventStore::inbox_heads`]).
fn read_inbox_heads(conn: &Connection) -> Result<Vec<(String, u64)>, Error> {
    let mut stmt =
        conn.prepare_cached("SELECT workflow_id, max(id) FROM inbox GROUP BY workflow_id")?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
    })?;
    rows.map(|row| Ok(row?)).collect()
}

/// A data directory opened read-only (`aion` command line, `{store, sqlite_readonly}`):
/// no lock is taken, nothing is ever written (every write is refused with
/// [`Error::ReadOnly`]), and a store of another schema version is refused rather than
/// migrated. Meant for a directory no engine has open; one being written is read as of
/// each statement.
pub struct SqliteReader {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteReader").finish_non_exhaustive()
    }
}

impl SqliteReader {
    /// Opens `dir/aion.db` read-only.
    pub fn open(dir: &Path) -> Result<SqliteReader, Error> {
        let path = dir.join("aion.db");
        if !path.is_file() {
            return Err(Error::NotFound(format!(
                "no aion store in {} (no aion.db)",
                dir.display()
            )));
        }
        // A store its engine closed cleanly has no write-ahead log left: it is opened
        // immutable, so SQLite creates no `-wal`/`-shm` files either (a directory other
        // people own stays as it was). One with a log (a node runs, or crashed) is read
        // through it, which needs those files.
        let wal = dir.join("aion.db-wal");
        let logged = std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0);
        let conn = if logged {
            Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        } else {
            let escaped = path
                .to_string_lossy()
                .replace('%', "%25")
                .replace('?', "%3f")
                .replace('#', "%23");
            Connection::open_with_flags(
                format!("file:{escaped}?immutable=1"),
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
            )
        }
        .map_err(|e| Error::durability(format!("cannot open {}: {e}", path.display())))?;
        conn.execute_batch("PRAGMA busy_timeout=5000")?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version != schema::SCHEMA_VERSION {
            return Err(Error::durability(format!(
                "{} has store schema version {version}, this aion reads version {}; \
                 start an aion node of this version on it once to migrate it",
                path.display(),
                schema::SCHEMA_VERSION
            )));
        }
        Ok(SqliteReader {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, Error> {
        self.conn
            .lock()
            .map_err(|_| Error::Internal("sqlite reader lock poisoned".into()))
    }
}

fn read_only() -> Error {
    Error::ReadOnly("the store is open read-only: nothing is written".into())
}

impl EventStore for SqliteReader {
    fn commit(&self, writes: &[Write]) -> Vec<Result<u64, Error>> {
        writes.iter().map(|_| Err(read_only())).collect()
    }

    fn inbox(&self, workflow_id: &str) -> Result<Vec<InboxEntry>, Error> {
        read_inbox(&*self.conn()?, workflow_id)
    }

    fn inbox_heads(&self) -> Result<Vec<(String, u64)>, Error> {
        read_inbox_heads(&*self.conn()?)
    }

    fn read(
        &self,
        workflow_id: &str,
        run_id: Option<&str>,
        from_seq: u64,
    ) -> Result<Vec<Event>, Error> {
        read_events(&*self.conn()?, workflow_id, run_id, from_seq)
    }

    fn workflow(&self, workflow_id: &str) -> Result<Option<WorkflowRecord>, Error> {
        Ok(load_current(&*self.conn()?, workflow_id)?.map(|c| c.record))
    }

    fn list_page(&self, filter: &ListFilter) -> Result<ListPage, Error> {
        list_page(&*self.conn()?, filter)
    }

    fn counts(&self, workflow_type: Option<&str>) -> Result<Vec<(Status, u64)>, Error> {
        count_by_status(&*self.conn()?, workflow_type)
    }

    fn prune(&self, _closed_before: i64, _limit: u64) -> Result<u64, Error> {
        Err(read_only())
    }

    fn forget(&self, _workflow_id: &str) -> Result<bool, Error> {
        Err(read_only())
    }

    fn stats(&self) -> StoreStats {
        StoreStats::default()
    }
}

/// Workflows per status (see [`EventStore::counts`]), from the (status, key) and
/// (type, key) indexes.
fn count_by_status(
    conn: &Connection,
    workflow_type: Option<&str>,
) -> Result<Vec<(Status, u64)>, Error> {
    let mut stmt = conn.prepare_cached(match workflow_type {
        None => "SELECT status, count(*) FROM workflows GROUP BY status",
        Some(_) => {
            "SELECT status, count(*) FROM workflows WHERE workflow_type = ?1 GROUP BY status"
        }
    })?;
    let values: Vec<&str> = workflow_type.into_iter().collect();
    let rows = stmt.query_map(rusqlite::params_from_iter(values), |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })?;
    rows.map(|row| {
        let (status, n) = row?;
        Ok((Status::parse(&status)?, n as u64))
    })
    .collect()
}

/// A page of workflows (see [`EventStore::list_page`]) through the indexes on
/// (status, key), (type, key) and creation time: the statement holds only the conditions
/// the filter sets, so SQLite picks the index that bounds it.
fn list_page(conn: &Connection, filter: &ListFilter) -> Result<ListPage, Error> {
    let mut conditions = Vec::new();
    let mut values: Vec<rusqlite::types::Value> = Vec::new();
    let mut add = |condition: &str, value: rusqlite::types::Value| {
        values.push(value);
        conditions.push(condition.replace('?', &format!("?{}", values.len())));
    };
    if let Some(status) = filter.status {
        add("w.status = ?", status.as_str().to_string().into());
    }
    if let Some(ty) = &filter.workflow_type {
        add("w.workflow_type = ?", ty.clone().into());
    }
    if let Some(since) = filter.since {
        add("w.created_at >= ?", since.into());
    }
    if let Some(until) = filter.until {
        add("w.created_at < ?", until.into());
    }
    let direction = if filter.newest_first { "DESC" } else { "ASC" };
    if let Some(after) = filter.after {
        let op = if filter.newest_first { "<" } else { ">" };
        add(&format!("w.workflow_key {op} ?"), sql_int(after).into());
    }
    let limit = filter.limit.map_or(-1, |l| sql_int(l.saturating_add(1)));
    let sql = format!(
        "{SELECT_CURRENT} {} {} ORDER BY w.workflow_key {direction} LIMIT {limit}",
        if conditions.is_empty() { "" } else { "WHERE" },
        conditions.join(" AND ")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(values.iter()), row_to_current)?;
    let found = rows
        .map(|r| {
            let current = finish_current(r?)?;
            Ok((current.workflow_key as u64, current.record))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(ListPage::of(filter, found))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::InboxItem;

    #[test]
    fn a_reader_reads_what_the_store_wrote_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SqliteStore::open(dir.path()).unwrap();
            for request in crate::store::conformance::seq10_appends("wf", "run-1", 10) {
                store.append(request).unwrap();
            }
            crate::store::conformance::create(&store, "wf-2");
        }
        let reader = SqliteReader::open(dir.path()).unwrap();
        // A store closed cleanly is read without creating any file next to it.
        let mut files: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(files, vec!["aion.db", "aion.lock"]);
        let all = reader.list(&ListFilter::default()).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(
            reader.workflow("wf").unwrap().unwrap().status,
            Status::Completed
        );
        assert!(reader.read("wf", None, 1).unwrap().len() > 10);
        let refused = reader.append(crate::store::conformance::start_request("wf-3"));
        assert_eq!(refused.unwrap_err().kind(), "read_only");
        assert_eq!(reader.prune(i64::MAX, 10).unwrap_err().kind(), "read_only");
        assert_eq!(reader.list(&ListFilter::default()).unwrap().len(), 2);
        // No store there: a clear not_found.
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(
            SqliteReader::open(empty.path()).unwrap_err().kind(),
            "not_found"
        );
    }

    fn user_version(store: &SqliteStore) -> i64 {
        store
            .reader()
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    }
    use crate::store::conformance;
    use crate::store::memory::MemoryStore;
    use schema::SCHEMA_VERSION;

    #[test]
    fn sqlite_store_passes_conformance() {
        let dirs = std::sync::Mutex::new(Vec::new());
        crate::store::conformance::run_all(&|| {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open(dir.path()).unwrap();
            dirs.lock().unwrap().push(dir);
            Box::new(store)
        });
    }

    #[test]
    fn data_directory_and_files_are_private() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("data");
        let store = SqliteStore::open(&dir).unwrap();
        crate::store::conformance::create(&store, "wf-1");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        for file in ["aion.db", "aion.db-wal", "aion.db-shm", "aion.lock"] {
            assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
        }
    }

    #[test]
    fn sqlite_store_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SqliteStore::open(dir.path()).unwrap();
            crate::store::conformance::create(&store, "wf-1");
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(store.read("wf-1", None, 1).unwrap().len(), 1);
        assert_eq!(store.workflow("wf-1").unwrap().unwrap().head, 1);
    }

    #[test]
    fn store_written_by_schema_version_2_is_migrated() {
        // A small store written by aion before schema version 3 (see
        // test/aion_migrate_flows.erl for how it was made).
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test/fixtures/store_v2/aion.db");
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(&fixture, dir.path().join("aion.db")).unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(user_version(&store), SCHEMA_VERSION);
        let runs = store.list(&ListFilter::default()).unwrap();
        assert_eq!(runs.len(), 6);
        for record in &runs {
            let history = store.read(&record.workflow_id, None, 1).unwrap();
            crate::replay::Run::load(&record.workflow_id, history).unwrap();
        }
        let cancelled: Vec<_> = store
            .read("mig-cancel-activity", None, 1)
            .unwrap()
            .into_iter()
            .filter_map(|e| match e.kind {
                crate::EventKind::ActivityFailed { cause, .. } => Some(cause),
                _ => None,
            })
            .collect();
        assert_eq!(cancelled, vec![Some(crate::event::Cause::CancelRequest)]);
        assert!(store.inbox("mig-signal").unwrap().is_empty());
        drop(store);
        // Opening again finds the current version and changes nothing.
        SqliteStore::open(dir.path()).unwrap();
    }

    /// Writes `memory`'s workflows, runs, events and inbox entries into a new store in
    /// `dir` laid out as schema version 3 wrote them.
    fn write_version_3_store(dir: &Path, memory: &MemoryStore, runs: &[(&str, &str)]) {
        let conn = Connection::open(dir.join("aion.db")).unwrap();
        conn.execute_batch(&format!("{} PRAGMA user_version = 3;", schema::SCHEMA_V3))
            .unwrap();
        for r in memory.list(&ListFilter::default()).unwrap() {
            conn.execute(
                "INSERT INTO workflows (workflow_id, workflow_type, run_id, status, head,
                 created_at, updated_at, outcome, parent_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    r.workflow_id,
                    r.workflow_type,
                    r.run_id,
                    r.status.as_str(),
                    r.head as i64,
                    r.created_at,
                    r.updated_at,
                    r.outcome.as_ref().map(|v| v.to_string()),
                    r.parent_id
                ],
            )
            .unwrap();
            for entry in memory.inbox(&r.workflow_id).unwrap() {
                conn.execute(
                    "INSERT INTO inbox (id, workflow_id, recorded_at, body) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        entry.id as i64,
                        r.workflow_id,
                        entry.recorded_at,
                        serde_json::to_string(&entry.item).unwrap()
                    ],
                )
                .unwrap();
            }
        }
        for (workflow_id, run_id) in runs {
            for event in memory.read(workflow_id, Some(run_id), 1).unwrap() {
                conn.execute(
                    "INSERT INTO events (workflow_id, run_id, seq, body) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        workflow_id,
                        run_id,
                        event.seq as i64,
                        event.to_json().unwrap()
                    ],
                )
                .unwrap();
            }
        }
    }

    /// Checks that `a` and `b` hold the same workflows, histories and inboxes.
    fn assert_same_contents(a: &dyn EventStore, b: &dyn EventStore, runs: &[(&str, &str)]) {
        let all = ListFilter::default();
        assert_eq!(a.list(&all).unwrap(), b.list(&all).unwrap());
        for status in [Status::Running, Status::Completed, Status::ContinuedAsNew] {
            let filter = ListFilter {
                status: Some(status),
                ..Default::default()
            };
            assert_eq!(a.list(&filter).unwrap(), b.list(&filter).unwrap());
        }
        for (workflow_id, run_id) in runs {
            assert_eq!(
                a.workflow(workflow_id).unwrap(),
                b.workflow(workflow_id).unwrap()
            );
            assert_eq!(
                a.read(workflow_id, Some(run_id), 1).unwrap(),
                b.read(workflow_id, Some(run_id), 1).unwrap()
            );
            assert_eq!(
                a.read(workflow_id, None, 3).unwrap(),
                b.read(workflow_id, None, 3).unwrap()
            );
            assert_eq!(a.inbox(workflow_id).unwrap(), b.inbox(workflow_id).unwrap());
        }
    }

    #[test]
    fn store_written_by_schema_version_3_is_migrated_with_identical_histories() {
        // Workflows of every shape version 3 holds: closed, half way, just started, a child,
        // one continued as new (two runs), one with an inbox entry waiting; created in an
        // order that is not their ids' order.
        let memory = MemoryStore::new();
        let seq10 = |id: &str, run: &str, appends: usize, at: i64| {
            let mut requests = conformance::seq10_appends(id, run, at);
            requests.truncate(appends);
            for request in requests {
                memory.append(request).unwrap();
            }
        };
        seq10("wf-c", "run-c", 12, 1_000);
        seq10("wf-a", "run-a", 5, 2_000);
        seq10("wf-b", "run-b", 1, 3_000);
        let mut child = conformance::start_request("wf-child");
        if let crate::EventKind::WorkflowStarted { parent_id, .. } = &mut child.events[0].kind {
            *parent_id = Some("wf-a".into());
        }
        memory.append(child).unwrap();
        memory
            .commit(&[Write::Inbox(InboxPush {
                workflow_id: "wf-a".into(),
                recorded_at: 2_500,
                item: InboxItem::Cancel {
                    reason: serde_json::json!("enough"),
                },
            })])
            .pop()
            .unwrap()
            .unwrap();
        seq10("wf-new", "run-1", 3, 4_000);
        let mut next = conformance::seq10_appends("wf-new", "run-2", 5_000);
        if let crate::EventKind::WorkflowStarted { continued_from, .. } =
            &mut next[0].events[0].kind
        {
            *continued_from = Some("run-1".into());
        }
        let close = AppendRequest {
            workflow_id: "wf-new".into(),
            run_id: "run-1".into(),
            expected_head: 6,
            events: vec![Event {
                seq: 7,
                recorded_at: 4_900,
                kind: crate::EventKind::WorkflowContinuedAsNew {
                    input: serde_json::json!(2).into(),
                    new_run_id: "run-2".into(),
                },
            }],
        };
        memory
            .append_batch(&[vec![close, next.remove(0)]])
            .pop()
            .unwrap()
            .unwrap();
        memory.append(next.remove(0)).unwrap();
        let runs = [
            ("wf-c", "run-c"),
            ("wf-a", "run-a"),
            ("wf-b", "run-b"),
            ("wf-child", "run-1"),
            ("wf-new", "run-1"),
            ("wf-new", "run-2"),
        ];

        let dir = tempfile::tempdir().unwrap();
        write_version_3_store(dir.path(), &memory, &runs);
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(user_version(&store), SCHEMA_VERSION);
        assert_same_contents(&memory, &store, &runs);
        // The migrated heads are the ones appends are checked against.
        for request in conformance::seq10_appends("wf-a", "run-a", 2_000).drain(5..7) {
            memory.append(request.clone()).unwrap();
            store.append(request).unwrap();
        }
        let stale = conformance::seq10_appends("wf-b", "run-b", 3_000).remove(2);
        assert_eq!(store.append(stale).unwrap_err().kind(), "stale_head");
        drop(store);
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_same_contents(&memory, &store, &runs);
    }

    #[test]
    fn checkpoints_run_off_the_commit_path_and_keep_the_wal_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let autocheckpoint: i64 = store
            .writer
            .lock()
            .unwrap()
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .unwrap();
        assert_eq!(autocheckpoint, 0);
        assert_eq!(checkpoint::wal_len(&store.path), WAL_PREALLOCATE);
        // Several times more frames than one passive checkpoint waits for, and than the
        // WAL file holds, without a pause: the WAL may grow meanwhile.
        run_seq10(&store, 400, 20);
        assert!(store.stats().wal_bytes > 2 * WAL_PREALLOCATE);
        // Once idle, the checkpoint thread copies every frame; the next commit starts the
        // WAL over and SQLite cuts the file back to the size it was given.
        std::thread::sleep(checkpoint::IDLE * 3);
        store
            .append(conformance::seq10_appends("wf-after", "run-after", 1).remove(0))
            .unwrap();
        assert_eq!(checkpoint::wal_len(&store.path), WAL_PREALLOCATE);
        assert_eq!(store.read("wf-none", None, 1).unwrap(), vec![]);
        assert_eq!(store.list(&ListFilter::default()).unwrap().len(), 401);
        // Dropping the store stops the thread and releases the directory; the histories
        // (some of them only in the WAL) are all there after a reopen.
        drop(store);
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(store.list(&ListFilter::default()).unwrap().len(), 401);
        for record in store.list(&ListFilter::default()).unwrap() {
            assert_eq!(
                store.read(&record.workflow_id, None, 1).unwrap().len() as u64,
                record.head
            );
        }
    }

    #[test]
    fn store_of_another_schema_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(SqliteStore::open(dir.path()).unwrap());
        let conn = Connection::open(dir.path().join("aion.db")).unwrap();
        conn.execute_batch("PRAGMA user_version = 1").unwrap();
        drop(conn);
        let err = SqliteStore::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("schema version 1"), "{err}");
    }

    #[test]
    fn second_engine_on_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = SqliteStore::open(dir.path()).unwrap();
        let err = SqliteStore::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("in use"), "{err}");
    }

    /// Runs `workflows` seq10 workflows (see [`conformance::seq10_appends`]), `concurrent` at
    /// a time: each store commit carries the next append of every workflow in flight, as the
    /// group-commit writer batches them. Ids are random UUIDs, as the engine makes them.
    fn run_seq10(store: &SqliteStore, workflows: usize, concurrent: usize) {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut uuid = move || {
            let (a, b) = (random(), random());
            format!(
                "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
                a >> 32,
                (a >> 16) & 0xffff,
                a & 0xfff,
                b >> 52,
                b & 0xffff_ffff_ffff
            )
        };
        let mut started = 0;
        while started < workflows {
            let wave: Vec<Vec<AppendRequest>> = (0..concurrent.min(workflows - started))
                .map(|_| conformance::seq10_appends(&uuid(), &uuid(), 1_700_000_000_000))
                .collect();
            started += wave.len();
            for step in 0..wave[0].len() {
                let writes: Vec<Write> = wave
                    .iter()
                    .map(|appends| Write::group(vec![appends[step].clone()]))
                    .collect();
                for result in store.commit(&writes) {
                    result.unwrap();
                }
            }
        }
    }

    #[test]
    fn seq10_workload_writes_at_most_60_kib_of_wal_per_workflow() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let (workflows, concurrent) = (200, 20);
        run_seq10(&store, workflows, concurrent);
        let stats = store.stats();
        let per_workflow = stats.wal_bytes / workflows as u64;
        println!(
            "seq10 x {workflows} ({concurrent} at a time): {stats:?}; \
             WAL bytes per workflow: {per_workflow} ({:.1} KiB)",
            per_workflow as f64 / 1024.0
        );
        assert_eq!(stats.appends, 12 * workflows as u64);
        assert_eq!(stats.events, 32 * workflows as u64);
        assert_eq!(stats.commits, (12 * workflows / concurrent) as u64);
        assert_eq!(stats.syncs, stats.commits);
        assert!(
            per_workflow <= 60 * 1024,
            "{per_workflow} bytes per workflow"
        );
    }

    /// `cargo test --release -p aion_core seq10_wal_bytes_by_concurrency -- --ignored
    /// --nocapture`: WAL bytes per seq10 workflow for several numbers of runs in flight.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn seq10_wal_bytes_by_concurrency() {
        for concurrent in [1, 5, 20, 50, 100] {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open(dir.path()).unwrap();
            let workflows = 200;
            run_seq10(&store, workflows, concurrent);
            let stats = store.stats();
            println!(
                "{concurrent:>3} in flight: {:>7} WAL bytes per workflow, {:>5} per commit \
                 ({} commits)",
                stats.wal_bytes / workflows as u64,
                stats.wal_bytes / stats.commits,
                stats.commits
            );
        }
    }

    #[test]
    fn corrupt_event_body_is_reported_not_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        crate::store::conformance::create(&store, "wf-1");
        store
            .writer
            .lock()
            .unwrap()
            .execute(
                "UPDATE events SET body = '{\"seq\": 1' WHERE run_key =
                 (SELECT run_key FROM workflows WHERE workflow_id = 'wf-1')",
                [],
            )
            .unwrap();
        let err = store.read("wf-1", None, 1).unwrap_err();
        assert_eq!(err.kind(), "corrupt");
    }
}
