//! Moving inbox entries into the history: the owner's half of "one writer per run".
//!
//! Clients, other runs and children push to a workflow's durable inbox
//! ([`crate::store::InboxItem`]); the run's owner takes the entries it has not taken yet,
//! in order, and turns each into events with the same rules as before (a signal is
//! recorded once per `signal_id`, a repeated cancellation records nothing, a child's
//! close is recorded once). The events of all the entries taken go into one append that
//! also removes them from the inbox.

use super::{Append, ChildPolicy, Run};
use crate::store::{InboxEntry, InboxItem};
use crate::Error;

/// What taking the inbox gave.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Taken {
    /// The events recording the entries, if any.
    pub append: Option<Append>,
    /// The last entry taken (0: none); the append (or an acknowledgement, when the entries
    /// recorded nothing) removes the entries up to it.
    pub through: u64,
    /// Attempts to stop (a cancellation cancelled them), as `(ordinal, attempt)`.
    pub stop: Vec<(u64, u32)>,
    /// Children to apply their parent-close policy to (a cancellation).
    pub children: Vec<(String, ChildPolicy)>,
}

impl Run {
    /// Records the entries (oldest first) that come after `after`. A closed run takes
    /// nothing: its close was decided first, and the store refuses that close if entries
    /// are still waiting, so the owner replays and sees them.
    pub fn take_inbox(
        &mut self,
        entries: &[InboxEntry],
        after: u64,
        now: i64,
    ) -> Result<Taken, Error> {
        let mut taken = Taken::default();
        if self.closed {
            return Ok(taken);
        }
        let mut appends = Vec::new();
        for entry in entries.iter().filter(|e| e.id > after) {
            taken.through = entry.id;
            match &entry.item {
                InboxItem::Signal {
                    name,
                    payload,
                    signal_id,
                } => appends.extend(self.record_signal(
                    name,
                    payload.clone(),
                    signal_id.clone(),
                    now,
                )?),
                InboxItem::Cancel { reason } => {
                    let stop = self.request_cancel(reason.clone(), now)?;
                    appends.extend(stop.append);
                    taken.stop.extend(stop.stop);
                    taken.children.extend(stop.children);
                }
                InboxItem::ChildClosed {
                    child_id,
                    status,
                    value,
                } => {
                    if let Some(ordinal) = self.child_ordinal(child_id) {
                        appends.extend(self.child_completed(
                            ordinal,
                            *status,
                            value.clone(),
                            now,
                        )?);
                    }
                }
            }
        }
        taken.append = Append::merge(appends);
        Ok(taken)
    }

    /// The ordinal of the child started with workflow id `child_id`, if any.
    pub fn child_ordinal(&self, child_id: &str) -> Option<u64> {
        self.children
            .iter()
            .find(|(_, c)| c.workflow_id == child_id)
            .map(|(ordinal, _)| *ordinal)
    }
}
