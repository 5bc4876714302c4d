//! An in-memory [`EventStore`] for tests and the testing harness. Nothing survives the
//! process; everything else behaves as the durable store does.

use std::collections::HashMap;
use std::sync::RwLock;

use super::{
    apply_append, check_push, inbox_not_taken, InboxEntry, InboxRule, ListFilter, ListPage, Status,
    StoreStats, WorkflowRecord, Write,
};
use super::{AppendRequest, EventStore, InboxPush};
use crate::event::Event;
use crate::Error;

#[derive(Default, Clone)]
struct Entry {
    record: Option<WorkflowRecord>,
    /// Each run's history, by run id.
    runs: HashMap<String, Vec<Event>>,
    order: u64,
    /// Entries pushed and not yet recorded by the run's owner.
    inbox: Vec<InboxEntry>,
}

/// The maps behind the lock: entries by workflow id, the creation counter (list order)
/// and the inbox counter.
#[derive(Default)]
struct State {
    entries: HashMap<String, Entry>,
    created: u64,
    pushed: u64,
    /// Commits, appends and events so far (nothing reaches a disk: no WAL, no syncs).
    stats: StoreStats,
}

impl State {
    /// Applies one group of appends, all or nothing: every request is checked first (against
    /// the summaries the group's earlier requests leave), then the events are added. Only
    /// summaries are copied while checking, never histories.
    fn append(&mut self, group: &[AppendRequest], inbox_through: u64) -> Result<u64, Error> {
        struct Staged {
            record: WorkflowRecord,
            created: bool,
            through: u64,
        }
        let mut staged: HashMap<&str, Staged> = HashMap::new();
        let mut new_runs: Vec<(&str, &str)> = Vec::new();
        let mut created = self.created;
        for (i, req) in group.iter().enumerate() {
            let id = req.workflow_id.as_str();
            let entry = self.entries.get(id);
            let current = match staged.get(id) {
                Some(s) => Some(&s.record),
                None => entry.and_then(|e| e.record.as_ref()),
            };
            let record = apply_append(current, req)?;
            if current.is_some_and(|r| r.run_id != req.run_id) {
                let seen = entry.is_some_and(|e| e.runs.contains_key(&req.run_id))
                    || new_runs.contains(&(id, req.run_id.as_str()));
                if seen {
                    return Err(Error::AlreadyExists(format!(
                        "{} had a run {} already",
                        req.workflow_id, req.run_id
                    )));
                }
                new_runs.push((id, req.run_id.as_str()));
            }
            let previous = staged.get(id).map_or(0, |s| s.through);
            let through = previous.max(if i == 0 { inbox_through } else { 0 });
            let waiting = entry.is_some_and(|e| e.inbox.iter().any(|x| x.id > through));
            if InboxRule::of(&req.events) == InboxRule::MustBeEmpty && waiting {
                return Err(inbox_not_taken(&req.workflow_id));
            }
            let is_new = current.is_none() || staged.get(id).is_some_and(|s| s.created);
            staged.insert(
                id,
                Staged {
                    record,
                    created: is_new,
                    through,
                },
            );
        }
        for req in group {
            let Some(stage) = staged.remove(req.workflow_id.as_str()) else {
                // An earlier request of this workflow in the group already set its final
                // summary and inbox; this one only adds its events.
                let entry = self.entries.entry(req.workflow_id.clone()).or_default();
                entry
                    .runs
                    .entry(req.run_id.clone())
                    .or_default()
                    .extend(req.events.iter().cloned());
                continue;
            };
            let entry = self.entries.entry(req.workflow_id.clone()).or_default();
            if entry.record.is_none() && stage.created {
                created += 1;
                entry.order = created;
            }
            entry.inbox.retain(|e| e.id > stage.through);
            entry
                .runs
                .entry(req.run_id.clone())
                .or_default()
                .extend(req.events.iter().cloned());
            entry.record = Some(stage.record);
        }
        self.created = created;
        Ok(0)
    }

    fn push(&mut self, push: &InboxPush) -> Result<u64, Error> {
        let entry = self.entries.get_mut(&push.workflow_id);
        check_push(entry.as_ref().and_then(|e| e.record.as_ref()), push)?;
        let entry = entry.ok_or_else(|| Error::NotFound(push.workflow_id.clone()))?;
        self.pushed += 1;
        entry.inbox.push(InboxEntry {
            id: self.pushed,
            recorded_at: push.recorded_at,
            item: push.item.clone(),
        });
        Ok(self.pushed)
    }
}

/// Histories kept in a map behind a lock.
#[derive(Default)]
pub struct MemoryStore {
    inner: RwLock<State>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

fn poisoned() -> Error {
    Error::Internal("memory store lock poisoned".into())
}

impl EventStore for MemoryStore {
    fn commit(&self, writes: &[Write]) -> Vec<Result<u64, Error>> {
        let Ok(mut state) = self.inner.write() else {
            return writes.iter().map(|_| Err(poisoned())).collect();
        };
        let results: Vec<Result<u64, Error>> = writes
            .iter()
            .map(|write| match write {
                Write::Append {
                    group,
                    inbox_through,
                } => {
                    let result = state.append(group, *inbox_through);
                    if result.is_ok() {
                        state.stats.appends += group.len() as u64;
                        state.stats.events +=
                            group.iter().map(|r| r.events.len() as u64).sum::<u64>();
                    }
                    result
                }
                Write::Inbox(push) => state.push(push),
                Write::Ack {
                    workflow_id,
                    through,
                } => {
                    if let Some(entry) = state.entries.get_mut(workflow_id) {
                        entry.inbox.retain(|e| e.id > *through);
                    }
                    Ok(0)
                }
            })
            .collect();
        if results.iter().any(Result::is_ok) {
            state.stats.commits += 1;
        }
        results
    }

    fn stats(&self) -> StoreStats {
        self.inner
            .read()
            .map_or_else(|_| StoreStats::default(), |state| state.stats)
    }

    fn inbox(&self, workflow_id: &str) -> Result<Vec<InboxEntry>, Error> {
        let state = self.inner.read().map_err(|_| poisoned())?;
        Ok(state
            .entries
            .get(workflow_id)
            .map_or_else(Vec::new, |e| e.inbox.clone()))
    }

    fn inbox_heads(&self) -> Result<Vec<(String, u64)>, Error> {
        let state = self.inner.read().map_err(|_| poisoned())?;
        Ok(state
            .entries
            .iter()
            .filter_map(|(id, e)| e.inbox.last().map(|last| (id.clone(), last.id)))
            .collect())
    }

    fn read(
        &self,
        workflow_id: &str,
        run_id: Option<&str>,
        from_seq: u64,
    ) -> Result<Vec<Event>, Error> {
        let guard = self.inner.read().map_err(|_| poisoned())?;
        let Some(entry) = guard.entries.get(workflow_id) else {
            return Ok(Vec::new());
        };
        let run = match (run_id, &entry.record) {
            (Some(r), _) => r,
            (None, Some(record)) => record.run_id.as_str(),
            (None, None) => return Ok(Vec::new()),
        };
        Ok(entry.runs.get(run).map_or_else(Vec::new, |events| {
            events
                .iter()
                .filter(|ev| ev.seq >= from_seq)
                .cloned()
                .collect()
        }))
    }

    fn workflow(&self, workflow_id: &str) -> Result<Option<WorkflowRecord>, Error> {
        let guard = self.inner.read().map_err(|_| poisoned())?;
        Ok(guard
            .entries
            .get(workflow_id)
            .and_then(|e| e.record.clone()))
    }

    fn list_page(&self, filter: &ListFilter) -> Result<ListPage, Error> {
        let guard = self.inner.read().map_err(|_| poisoned())?;
        let mut found: Vec<(u64, WorkflowRecord)> = guard
            .entries
            .values()
            .filter_map(|e| e.record.as_ref().map(|r| (e.order, r)))
            .filter(|(o, r)| filter.matches(r) && filter.past_cursor(*o))
            .map(|(o, r)| (o, r.clone()))
            .collect();
        found.sort_by_key(|(o, _)| *o);
        if filter.newest_first {
            found.reverse();
        }
        found.truncate(
            filter
                .limit
                .map_or(usize::MAX, |l| l.saturating_add(1) as usize),
        );
        Ok(ListPage::of(filter, found))
    }

    fn forget(&self, workflow_id: &str) -> Result<bool, Error> {
        let mut guard = self.inner.write().map_err(|_| poisoned())?;
        let closed = guard.entries.get(workflow_id).is_some_and(|e| {
            e.record
                .as_ref()
                .is_some_and(|r| !matches!(r.status, Status::Running))
        });
        if closed {
            guard.entries.remove(workflow_id);
        }
        Ok(closed)
    }

    fn prune(&self, closed_before: i64, limit: u64) -> Result<u64, Error> {
        let mut guard = self.inner.write().map_err(|_| poisoned())?;
        let doomed: Vec<String> = guard
            .entries
            .iter()
            .filter(|(_, e)| {
                e.record.as_ref().is_some_and(|r| {
                    !matches!(r.status, Status::Running) && r.updated_at < closed_before
                })
            })
            .map(|(id, _)| id.clone())
            .take(limit as usize)
            .collect();
        for id in &doomed {
            guard.entries.remove(id);
        }
        Ok(doomed.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_passes_conformance() {
        crate::store::conformance::run_all(&|| Box::new(MemoryStore::new()));
    }

    #[test]
    fn memory_store_counts_commits_appends_and_events_and_no_disk_writes() {
        let store = MemoryStore::new();
        let appends = crate::store::conformance::seq10_appends("wf", "run-1", 10);
        for request in &appends {
            store.append(request.clone()).unwrap();
        }
        // A refused append is no commit.
        assert!(store.append(appends[1].clone()).is_err());
        assert_eq!(
            store.stats(),
            StoreStats {
                commits: 12,
                appends: 12,
                events: 32,
                wal_bytes: 0,
                syncs: 0,
            }
        );
    }
}
