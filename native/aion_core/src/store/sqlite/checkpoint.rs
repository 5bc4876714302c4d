//! Checkpoints off the commit path.
//!
//! The writer runs with `wal_autocheckpoint=0`, so a commit never copies WAL frames back to
//! the database file (SQLite's default does that inside the commit that crosses 1000
//! pages, making that append wait for the copy and its fsync). Instead the writer tells
//! this thread how many frames each commit wrote; the thread, on its own connection, runs
//! a `PASSIVE` checkpoint each time [`PASSIVE_AFTER_FRAMES`] have been written (it never
//! waits for the writer or the readers; once it has copied every frame, the writer starts
//! the WAL over from its beginning, so the file stops growing). Once no commit has come for
//! [`IDLE`], it copies what is left: with a `TRUNCATE` checkpoint (which empties the file)
//! if at least [`PASSIVE_AFTER_FRAMES`] frames were written since the file was last
//! emptied, so it may have grown, else with a `PASSIVE` one (a store written now and then
//! does not shrink and regrow its WAL file at every pause).
//!
//! `TRUNCATE` waits (the connection's busy timeout) for the writer and the readers and
//! holds the write lock while it copies: a commit that comes then waits for it, which only
//! happens after a pause.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
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
}

impl Checkpointer {
    /// Starts the thread with `conn`, a connection of its own to the store.
    pub(super) fn start(conn: Connection) -> Result<Checkpointer, Error> {
        let (sender, receiver) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("aion-checkpoint".into())
            .spawn(move || run(&conn, &receiver))
            .map_err(|e| Error::Internal(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer {
            sender: Some(sender),
            thread: Some(thread),
        })
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

fn run(conn: &Connection, commits: &Receiver<u64>) {
    let mut since_checkpoint = 0;
    let mut since_truncate = 0;
    loop {
        match commits.recv_timeout(IDLE) {
            Ok(frames) => {
                since_checkpoint += frames;
                since_truncate += frames;
                if since_checkpoint >= PASSIVE_AFTER_FRAMES && checkpoint(conn, "PASSIVE") {
                    since_checkpoint = 0;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                if since_truncate >= PASSIVE_AFTER_FRAMES {
                    if checkpoint(conn, "TRUNCATE") {
                        since_checkpoint = 0;
                        since_truncate = 0;
                    }
                } else if since_checkpoint > 0 && checkpoint(conn, "PASSIVE") {
                    since_checkpoint = 0;
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Runs one checkpoint; whether it copied every frame of the WAL. A failed or partial
/// checkpoint is simply tried again later: the frames stay in the WAL, which SQLite reads
/// (and recovers after a crash) as it would without any checkpoint.
fn checkpoint(conn: &Connection, mode: &str) -> bool {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
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
