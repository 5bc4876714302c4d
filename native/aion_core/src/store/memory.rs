//! An in-memory [`EventStore`] for tests and the testing harness. Nothing survives the
//! process; everything else behaves as the durable store does.

use std::collections::HashMap;
use std::sync::RwLock;

use super::{apply_append, AppendRequest, EventStore, ListFilter, WorkflowRecord};
use crate::event::Event;
use crate::Error;

#[derive(Default, Clone)]
struct Entry {
    record: Option<WorkflowRecord>,
    /// Each run's history, by run id.
    runs: HashMap<String, Vec<Event>>,
    order: u64,
}

/// Histories kept in a map behind a lock.
#[derive(Default)]
pub struct MemoryStore {
    inner: RwLock<(HashMap<String, Entry>, u64)>,
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
    fn append_batch(&self, batch: &[Vec<AppendRequest>]) -> Vec<Result<(), Error>> {
        let Ok(mut guard) = self.inner.write() else {
            return batch.iter().map(|_| Err(poisoned())).collect();
        };
        let (map, counter) = &mut *guard;
        batch
            .iter()
            .map(|group| {
                // Apply the group to copies of the entries it touches; keep them only if
                // every request of the group is accepted.
                let mut staged: HashMap<String, Entry> = HashMap::new();
                for req in group {
                    let entry = match staged.remove(&req.workflow_id) {
                        Some(e) => e,
                        None => map.get(&req.workflow_id).cloned().unwrap_or_default(),
                    };
                    let record = apply_append(entry.record.as_ref(), req)?;
                    let mut entry = entry;
                    if entry.record.is_none() {
                        *counter += 1;
                        entry.order = *counter;
                    }
                    entry
                        .runs
                        .entry(req.run_id.clone())
                        .or_default()
                        .extend(req.events.iter().cloned());
                    entry.record = Some(record);
                    staged.insert(req.workflow_id.clone(), entry);
                }
                map.extend(staged);
                Ok(())
            })
            .collect()
    }

    fn read(
        &self,
        workflow_id: &str,
        run_id: Option<&str>,
        from_seq: u64,
    ) -> Result<Vec<Event>, Error> {
        let guard = self.inner.read().map_err(|_| poisoned())?;
        let Some(entry) = guard.0.get(workflow_id) else {
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
        Ok(guard.0.get(workflow_id).and_then(|e| e.record.clone()))
    }

    fn list(&self, filter: &ListFilter) -> Result<Vec<WorkflowRecord>, Error> {
        let guard = self.inner.read().map_err(|_| poisoned())?;
        let mut found: Vec<(u64, WorkflowRecord)> = guard
            .0
            .values()
            .filter_map(|e| e.record.as_ref().map(|r| (e.order, r)))
            .filter(|(_, r)| filter.matches(r))
            .map(|(o, r)| (o, r.clone()))
            .collect();
        found.sort_by_key(|(o, _)| *o);
        Ok(found.into_iter().map(|(_, r)| r).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_passes_conformance() {
        crate::store::conformance::run_all(&|| Box::new(MemoryStore::new()));
    }
}
