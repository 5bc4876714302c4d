//! An in-memory [`EventStore`] for tests and the testing harness. Nothing survives the
//! process; everything else behaves as the durable store does.

use std::collections::HashMap;
use std::sync::RwLock;

use super::{apply_append, AppendRequest, EventStore, ListFilter, WorkflowRecord};
use crate::event::Event;
use crate::Error;

#[derive(Default)]
struct Entry {
    record: Option<WorkflowRecord>,
    events: Vec<Event>,
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
    fn append_batch(&self, batch: &[AppendRequest]) -> Vec<Result<(), Error>> {
        let Ok(mut guard) = self.inner.write() else {
            return batch.iter().map(|_| Err(poisoned())).collect();
        };
        let (map, counter) = &mut *guard;
        batch
            .iter()
            .map(|req| {
                let current = map.get(&req.workflow_id).and_then(|e| e.record.as_ref());
                let record = apply_append(current, req)?;
                let entry = map.entry(req.workflow_id.clone()).or_insert_with(|| {
                    *counter += 1;
                    Entry {
                        order: *counter,
                        ..Entry::default()
                    }
                });
                entry.events.extend(req.events.iter().cloned());
                entry.record = Some(record);
                Ok(())
            })
            .collect()
    }

    fn read(&self, workflow_id: &str, from_seq: u64) -> Result<Vec<Event>, Error> {
        let guard = self.inner.read().map_err(|_| poisoned())?;
        Ok(guard.0.get(workflow_id).map_or_else(Vec::new, |e| {
            e.events
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
