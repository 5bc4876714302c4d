//! Checkpoints off the commit path.
//!
//! The writer runs with `wal_autocheckpoint=0`, so a commit never copies WAL frames back to
//! the database file (SQLite's default does that inside the commit that crosses 1000
//! pages, making that append wait for the copy and its fsync). Instead the writer tells
//! this thread how many frames each commit wrote; the thread, on its own connection, runs
//! a `PASSIVE` checkpoint each time [`PASSIVE_AFTER_FRAMES`] have been written, and once no
//! commit has come for [`IDLE`] (it never waits for the writer or the readers). SQLite
//! starts the WAL over from its beginning when a commit begins with every frame copied;
//! under a steady stream of commits a pass of the thread never ends in that state, so the
//! writer copies the few frames written since the thread's pass itself, between two
//! commits ([`Checkpointer::finish`]). The file then keeps its size (see
//! `preallocate_wal` in `sqlite.rs`) and commits overwrite blocks it already has, so their
//! `fdatasync` has no file size to journal — on the development machine ~100 µs instead
//! of ~150–200 µs for an append that grows the file, and a 10-activity workflow took
//! ~2.2–2.8 ms instead of 3.4–5.4 ms with a WAL that kept growing (same run).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::Error;

/// WAL frames written between two passive checkpoints (SQLite's own auto-checkpoint
/// default, about 4 MiB with 4 KiB pages).
pub(super) const PASSIVE_AFTER_FRAMES: u64 = 1000;

/// How long without a commit counts as idle.
pub(super) const IDLE: Duration = Duration::from_millis(500);

/// The handle the store keeps: dropping it stops the thread and waits for it.
pub(super) struct Checkpointer {
    sender: Option<Sender<u64>>,
    thread: Option<JoinHandle<()>>,
    /// Set by the thread once it has copied the WAL up to where it was a moment ago:
    /// what is left to copy (the commits since) is short (see [`Checkpointer::finish`]).
    tail: Arc<AtomicBool>,
}

impl Checkpointer {
    /// Starts the thread with `conn`, a connection of its own to the store.
    pub(super) fn start(conn: Connection) -> Result<Checkpointer, Error> {
        let (sender, receiver) = mpsc::channel();
        let tail = Arc::new(AtomicBool::new(false));
        let copied = tail.clone();
        let thread = std::thread::Builder::new()
            .name("aion-checkpoint".into())
            .spawn(move || run(&conn, &receiver, &copied))
            .map_err(|e| Error::Internal(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer {
            sender: Some(sender),
            thread: Some(thread),
            tail,
        })
    }

    /// Called by the writer when no commit waits: once the thread has copied the bulk of
    /// the WAL, copies the few frames written since, on `writer`, so that its next commit
    /// finds every frame copied and starts the WAL over from the beginning (SQLite does
    /// that only for a writer that begins in that state; under a steady stream of commits
    /// the thread alone never ends a pass there, and the WAL file would grow for as long
    /// as the stream lasts). Short, and run only between commits.
    pub(super) fn finish(&self, writer: &Connection) {
        if self.tail.swap(false, Ordering::SeqCst) {
            let _ = checkpoint(writer);
        }
    }

    /// Tells the thread that a commit wrote `frames` WAL frames.
    pub(super) fn wrote(&self, frames: u64) {
        if let Some(sender) = &self.sender {
            // A thread that is gone (it only stops when dropped) has nothing to be told.
            let _ = sender.send(frames);
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Closing the channel is the stop signal.
        drop(self.sender.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(conn: &Connection, commits: &Receiver<u64>, tail: &AtomicBool) {
    let mut since_checkpoint = 0;
    loop {
        let due = match commits.recv_timeout(IDLE) {
            Ok(frames) => {
                since_checkpoint += frames;
                since_checkpoint >= PASSIVE_AFTER_FRAMES
            }
            Err(RecvTimeoutError::Timeout) => since_checkpoint > 0,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if due && checkpoint(conn) {
            since_checkpoint = 0;
            tail.store(true, Ordering::SeqCst);
        }
    }
}

/// Runs one checkpoint; whether it copied every frame there was when it began. A failed or partial checkpoint is simply tried again later: the frames
/// stay in the WAL, which SQLite reads (and recovers after a crash) as it would without
/// any checkpoint.
fn checkpoint(conn: &Connection) -> bool {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        let busy: i64 = row.get(0)?;
        let log: i64 = row.get(1)?;
        let done: i64 = row.get(2)?;
        Ok(busy == 0 && log == done)
    })
    .unwrap_or(false)
}

/// The size of the WAL file of the database at `path` (0 when there is none).
#[cfg(test)]
pub(super) fn wal_len(path: &std::path::Path) -> u64 {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(wal).map_or(0, |m| m.len())
}
