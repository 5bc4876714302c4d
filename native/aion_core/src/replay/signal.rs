//! Signals (received and sent) and updates.

use serde_json::{json, Value};

use super::{Append, Recorded, Run, Step};
use crate::event::{Delivery, EventKind};
use crate::payload::Payload;
use crate::Error;

/// The answer to the code's `signal(Target, Name, Payload)`.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// History records the delivery result.
    Delivered(Delivery),
    /// Deliver the signal under `signal_id` (the target records it once whatever the
    /// number of deliveries), then record the result with [`Run::signal_delivered`].
    Deliver {
        /// The outgoing signal's number.
        ordinal: u64,
        /// The id the target deduplicates on.
        signal_id: String,
    },
}

impl Run {
    /// Records signal `name` arriving. `Ok(None)` when `signal_id` was recorded before (a
    /// redelivery). Refused on a closed run.
    pub fn record_signal(
        &mut self,
        name: &str,
        payload: Payload,
        signal_id: Option<String>,
        now: i64,
    ) -> Result<Option<Append>, Error> {
        if self.closed {
            return Err(Error::NotRunning(format!("{} is closed", self.workflow_id)));
        }
        if signal_id
            .as_ref()
            .is_some_and(|id| self.signal_ids.contains(id))
        {
            return Ok(None);
        }
        let kind = EventKind::SignalReceived {
            name: name.to_string(),
            payload,
            signal_id,
        };
        Ok(Some(self.record(vec![kind], now)?))
    }

    /// Decides what the code's next `receive_signal(name)` needs: `Done(Ok(payload))` for
    /// the next unconsumed signal of that name (consuming it), `Cancelled`, `Timeout` (an
    /// enclosing deadline passed first), `Update`, `Record` or `Wait`.
    pub fn signal_step(&mut self, name: &str, now: i64) -> Result<Step, Error> {
        self.check_usable()?;
        let index = self.consumed.get(name).copied().unwrap_or(0);
        let next = self.signals.get(name).and_then(|s| s.get(index)).cloned();
        if let Some(step) = self.pending_update(next.as_ref().map(|(seq, _, _)| *seq)) {
            return Ok(step);
        }
        match next {
            Some((seq, at, payload)) => {
                if let Some(step) = self.scope_timeout(Some(seq)) {
                    return Ok(step);
                }
                if self.cancel_requested.is_some_and(|c| c < seq) && !self.cancel_delivered {
                    self.cancel_delivered = true;
                    return Ok(Step::Cancelled);
                }
                self.advance_time(at);
                *self.consumed.entry(name.to_string()).or_insert(0) += 1;
                Ok(Step::Done(Ok(payload)))
            }
            None => {
                if let Some(step) = self.scope_timeout(None) {
                    return Ok(step);
                }
                if self.cancel_requested.is_some() && !self.cancel_delivered {
                    self.cancel_delivered = true;
                    return Ok(Step::Cancelled);
                }
                self.pending(now)
            }
        }
    }

    /// Resolves the code's request to signal workflow `target`.
    pub fn send_signal(
        &mut self,
        target: &str,
        name: &str,
        payload: Payload,
        now: i64,
    ) -> Result<Recorded<Outgoing>, Error> {
        let ordinal = self.next_signal_out;
        let sent = EventKind::SignalSent {
            ordinal,
            target: target.to_string(),
            name: name.to_string(),
            payload,
        };
        let recorded = self.command(&sent)?;
        self.next_signal_out += 1;
        let deliver = Outgoing::Deliver {
            ordinal,
            signal_id: format!("{}/{}/signal-{ordinal}", self.workflow_id, self.run_id),
        };
        if recorded.is_some() {
            return Ok(Recorded::Replayed(match self.delivered.get(&ordinal) {
                Some(result) => Outgoing::Delivered(*result),
                None => deliver,
            }));
        }
        Ok(Recorded::Live(deliver, self.record(vec![sent], now)?))
    }

    /// Records the delivery result of outgoing signal `ordinal` (once).
    pub fn signal_delivered(
        &mut self,
        ordinal: u64,
        result: Delivery,
        now: i64,
    ) -> Result<Option<Append>, Error> {
        if self.delivered.contains_key(&ordinal) || self.closed {
            return Ok(None);
        }
        let kind = EventKind::SignalDelivered { ordinal, result };
        Ok(Some(self.record(vec![kind], now)?))
    }

    /// Records that update `update_id` passed its validator; its handler runs at the
    /// code's next await (and at the same point on every replay).
    pub fn accept_update(
        &mut self,
        update_id: &str,
        name: &str,
        args: Payload,
        now: i64,
    ) -> Result<Append, Error> {
        if self.closed {
            return Err(Error::NotRunning(format!("{} is closed", self.workflow_id)));
        }
        let kind = EventKind::UpdateAccepted {
            update_id: update_id.to_string(),
            name: name.to_string(),
            args,
        };
        self.record(vec![kind], now)
    }

    /// Records (or replays) what update `update_id`'s handler returned.
    pub fn complete_update(
        &mut self,
        update_id: &str,
        result: Result<Value, Value>,
        now: i64,
    ) -> Result<Recorded<()>, Error> {
        let result = match result {
            Ok(v) => json!({ "ok": v }),
            Err(e) => json!({ "error": e }),
        };
        let kind = EventKind::UpdateCompleted {
            update_id: update_id.to_string(),
            result,
        };
        match self.command(&kind)? {
            Some(_) => Ok(Recorded::Replayed(())),
            None => Ok(Recorded::Live((), self.record(vec![kind], now)?)),
        }
    }

    /// The next accepted update whose handler must run before an outcome recorded at
    /// `before` (`None`: nothing recorded yet, so any accepted update). An open
    /// `with_timeout` scope that fired ended the await at its `TimerFired`: an update
    /// accepted after that ran at a later await, and runs there on replay too.
    pub(super) fn pending_update(&mut self, before: Option<u64>) -> Option<Step> {
        let entry = self.updates.get(self.updates_started)?;
        let scope_fired = self
            .scopes
            .iter()
            .filter_map(|id| self.timers.get(id).and_then(|t| t.fired))
            .map(|(seq, _)| seq)
            .min();
        let before = match (before, scope_fired) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if before.is_some_and(|seq| entry.seq > seq) {
            return None;
        }
        let step = Step::Update {
            update_id: entry.update_id.clone(),
            name: entry.name.clone(),
            args: entry.args.clone(),
        };
        self.updates_started += 1;
        Some(step)
    }
}
