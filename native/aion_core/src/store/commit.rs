//! Group commit: one writer thread batches the writes of many runs into one store commit.
//!
//! Runs submit [`Write`]s (appends, inbox pushes) with a completion callback and carry on;
//! the writer thread takes every write waiting at that moment (up to [`MAX_BATCH`]), hands
//! them to [`EventStore::commit`] (one transaction, one fsync), then calls each callback
//! with its own writes' results. Under load the batch grows, so throughput rises with
//! concurrency while each append still waits for about one fsync.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use super::{EventStore, Write};
use crate::Error;

/// The most requests one commit takes.
pub const MAX_BATCH: usize = 512;

/// Called once with the outcomes of writes submitted together, in order, on the writer
/// thread.
pub type Completions = Box<dyn FnOnce(Vec<Result<u64, Error>>) + Send>;

struct Job {
    writes: Vec<Write>,
    done: Completions,
}

/// A histogram of counts under fixed upper bounds (and one more for everything above),
/// updated without locks.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [u64],
    counts: Vec<AtomicU64>,
    sum: AtomicU64,
    count: AtomicU64,
}

/// A histogram's figures: the bounds, the count under each (not cumulative; one more for
/// above the last bound), the sum and the count of the values.
pub type HistogramSnapshot = (Vec<u64>, Vec<u64>, u64, u64);

impl Histogram {
    fn new(bounds: &'static [u64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Counts `value`.
    pub fn record(&self, value: u64) {
        let bucket = self
            .bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(self.bounds.len());
        if let Some(counter) = self.counts.get(bucket) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        self.sum.fetch_add(value, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// What it has counted.
    pub fn snapshot(&self) -> HistogramSnapshot {
        (
            self.bounds.to_vec(),
            self.counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
            self.sum.load(Ordering::Relaxed),
            self.count.load(Ordering::Relaxed),
        )
    }
}

/// What the commits took: the duration of each (the transaction and its sync, in µs) and
/// how many writes each carried.
#[derive(Debug)]
pub struct CommitMetrics {
    /// Microseconds per commit.
    pub duration_us: Histogram,
    /// Writes per commit.
    pub writes: Histogram,
}

impl Default for CommitMetrics {
    fn default() -> CommitMetrics {
        CommitMetrics {
            duration_us: Histogram::new(&[
                50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000,
                1_000_000,
            ]),
            writes: Histogram::new(&[1, 2, 4, 8, 16, 32, 64, 128, 256, 512]),
        }
    }
}

impl CommitMetrics {
    /// Counts one commit of `writes` writes that took `started.elapsed()`.
    pub fn commit(&self, started: Instant, writes: usize) {
        self.duration_us
            .record(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
        self.writes.record(writes as u64);
    }
}

/// The submitting side of the writer thread. Dropping it stops the thread once the queue
/// has drained.
pub struct CommitQueue {
    sender: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    metrics: Arc<CommitMetrics>,
}

impl std::fmt::Debug for CommitQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitQueue").finish_non_exhaustive()
    }
}

impl CommitQueue {
    /// Starts the writer thread for `store`.
    pub fn start(store: Arc<dyn EventStore>) -> Result<CommitQueue, Error> {
        let (sender, receiver) = mpsc::channel();
        let metrics = Arc::new(CommitMetrics::default());
        let counted = metrics.clone();
        let thread = std::thread::Builder::new()
            .name("aion-commit".into())
            .spawn(move || writer_loop(store, receiver, &counted))
            .map_err(|e| Error::Internal(format!("cannot start the commit thread: {e}")))?;
        Ok(CommitQueue {
            sender: Some(sender),
            thread: Some(thread),
            metrics,
        })
    }

    /// What the commits took so far.
    pub fn metrics(&self) -> &CommitMetrics {
        &self.metrics
    }

    /// Queues writes that go into the same commit, each applied on its own (one refused
    /// leaves the others applied); `done` is called with their outcomes in order (an inbox
    /// entry's number, 0 for appends) once the batch holding them has been committed (or
    /// refused). If the writer is gone, `done` is called at once with durability errors.
    pub fn submit_writes(&self, writes: Vec<Write>, done: Completions) {
        let job = Job { writes, done };
        let stopped = |job: Job, why: &str| {
            let failed = job
                .writes
                .iter()
                .map(|_| Err(Error::durability(why)))
                .collect();
            (job.done)(failed);
        };
        let Some(sender) = &self.sender else {
            stopped(job, "the commit queue is stopped");
            return;
        };
        if let Err(mpsc::SendError(job)) = sender.send(job) {
            stopped(job, "the commit thread has stopped");
        }
    }
}

impl Drop for CommitQueue {
    fn drop(&mut self) {
        self.sender.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn writer_loop(store: Arc<dyn EventStore>, receiver: Receiver<Job>, metrics: &CommitMetrics) {
    loop {
        let first = match receiver.try_recv() {
            Ok(job) => job,
            Err(mpsc::TryRecvError::Empty) => {
                // Nothing waits: the store may do its housekeeping now.
                store.idle();
                match receiver.recv() {
                    Ok(job) => job,
                    Err(_) => return,
                }
            }
            Err(mpsc::TryRecvError::Disconnected) => return,
        };
        let mut writes = first.writes;
        let mut jobs = vec![first.done];
        let mut sizes = vec![writes.len()];
        while writes.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => {
                    sizes.push(job.writes.len());
                    writes.extend(job.writes);
                    jobs.push(job.done);
                }
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let results = store.commit(&writes);
        metrics.commit(started, writes.len());
        let mut results = results.into_iter();
        for (done, size) in jobs.into_iter().zip(sizes) {
            let mut mine: Vec<_> = results.by_ref().take(size).collect();
            mine.resize_with(size, || {
                Err(Error::Internal("store returned too few results".into()))
            });
            done(mine);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;
    use std::sync::mpsc::channel;

    #[test]
    fn every_submitted_append_gets_its_own_result() {
        let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
        let queue = CommitQueue::start(store.clone()).unwrap();
        let (tx, rx) = channel();
        for i in 0..100 {
            let tx = tx.clone();
            let request = crate::store::conformance::start_request(&format!("wf-{i}"));
            queue.submit_writes(
                vec![Write::group(vec![request])],
                Box::new(move |mut r| tx.send((i, r.remove(0))).unwrap()),
            );
        }
        // A duplicate create is refused without hurting the others.
        let tx2 = tx.clone();
        queue.submit_writes(
            vec![Write::group(vec![
                crate::store::conformance::start_request("wf-0"),
            ])],
            Box::new(move |mut r| tx2.send((1000, r.remove(0))).unwrap()),
        );
        let mut results: Vec<_> = (0..101).map(|_| rx.recv().unwrap()).collect();
        results.sort_by_key(|(i, _)| *i);
        assert!(results[..100].iter().all(|(_, r)| r.is_ok()));
        assert_eq!(
            results[100].1.as_ref().unwrap_err().kind(),
            "already_exists"
        );
        assert_eq!(store.list(&Default::default()).unwrap().len(), 100);
    }

    #[test]
    fn writes_submitted_together_share_a_commit_and_are_refused_one_by_one() {
        let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
        let queue = CommitQueue::start(store.clone()).unwrap();
        let (tx, rx) = channel();
        let writes = vec![
            Write::group(vec![crate::store::conformance::start_request("wf-a")]),
            Write::group(vec![crate::store::conformance::start_request("wf-a")]),
            Write::group(vec![crate::store::conformance::start_request("wf-b")]),
        ];
        let commits = store.stats().commits;
        queue.submit_writes(writes, Box::new(move |r| tx.send(r).unwrap()));
        let results = rx.recv().unwrap();
        assert!(results[0].is_ok() && results[2].is_ok());
        assert_eq!(results[1].as_ref().unwrap_err().kind(), "already_exists");
        assert_eq!(store.stats().commits, commits + 1);
        assert_eq!(store.list(&Default::default()).unwrap().len(), 2);
        // No writes at all: answered, nothing committed.
        let (tx, rx) = channel();
        queue.submit_writes(Vec::new(), Box::new(move |r| tx.send(r).unwrap()));
        assert!(rx.recv().unwrap().is_empty());
        assert_eq!(store.stats().commits, commits + 1);
    }
}
