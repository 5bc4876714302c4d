//! Durable timers and `with_timeout` scopes (whose deadlines are timers with `scope: true`).

use super::{Append, Recorded, Run, Step, TimerState};
use crate::event::{Cause, EventKind};
use crate::payload::Payload;
use crate::Error;

/// The name recorded for the deadline timer of a `with_timeout` scope.
pub const SCOPE_TIMER_NAME: &str = "with_timeout";

impl Run {
    /// Starts timer `name` firing `ms` after `now`. Returns its id (the correlation key).
    pub fn start_timer(&mut self, name: &str, ms: u64, now: i64) -> Result<Recorded<u64>, Error> {
        self.new_timer(name, ms, false, now)
    }

    fn new_timer(
        &mut self,
        name: &str,
        ms: u64,
        scope: bool,
        now: i64,
    ) -> Result<Recorded<u64>, Error> {
        let ms = i64::try_from(ms)
            .map_err(|_| Error::InvalidInput(format!("timer of {ms} ms is too long")))?;
        let timer_id = self.next_timer;
        let started = EventKind::TimerStarted {
            timer_id,
            name: name.to_string(),
            fire_at: now.saturating_add(ms),
            scope,
        };
        let recorded = self.command(&started)?;
        self.next_timer += 1;
        if recorded.is_some() {
            return Ok(Recorded::Replayed(timer_id));
        }
        let mut kinds = vec![started];
        if !scope && self.cancel_requested.is_some() && !self.cancel_delivered {
            kinds.push(EventKind::TimerCancelled {
                timer_id,
                cause: Cause::CancelRequest,
            });
        }
        Ok(Recorded::Live(timer_id, self.record(kinds, now)?))
    }

    /// Decides what awaiting timer `timer_id` needs next, at time `now`: `Done(Ok(null))`
    /// once it fired, `Cancelled`, `Timeout` (an enclosing deadline came first), `Record`
    /// (it is due: record `TimerFired`, then step again) or `Wait { until }`.
    pub fn timer_step(&mut self, timer_id: u64, now: i64) -> Result<Step, Error> {
        self.check_usable()?;
        let timer = self.timer(timer_id)?.clone();
        if let Some(step) = self.pending_update(timer.settled()) {
            return Ok(step);
        }
        if let Some((seq, at)) = timer.fired {
            return Ok(self.observe(Some(seq), at, Ok(Payload::null()), false));
        }
        if let Some((seq, at, cause)) = timer.cancelled {
            if let Some(step) = self.scope_timeout(Some(seq)) {
                return Ok(step);
            }
            self.advance_time(at);
            if cause == Cause::CancelRequest {
                self.cancel_delivered = true;
            }
            return Ok(Step::Cancelled);
        }
        if let Some(step) = self.scope_timeout(None) {
            return Ok(step);
        }
        if self.closed {
            return Err(Error::NotRunning(format!("{} is closed", self.workflow_id)));
        }
        let scope = self.scope_deadline();
        if now >= timer.fire_at && scope.is_none_or(|d| timer.fire_at <= d) {
            return Ok(Step::Record(
                self.record(vec![EventKind::TimerFired { timer_id }], now)?,
            ));
        }
        if let Some(append) = self.fire_due_scope(now)? {
            return Ok(Step::Record(append));
        }
        Ok(Step::Wait {
            until: Some(scope.map_or(timer.fire_at, |d| d.min(timer.fire_at))),
        })
    }

    /// Cancels timer `timer_id`. Idempotent: a timer already fired or cancelled at this
    /// point of the history is left alone and nothing is recorded.
    pub fn cancel_timer(&mut self, timer_id: u64, now: i64) -> Result<Option<Append>, Error> {
        self.check_usable()?;
        let position = self.position();
        let settled_before = self
            .timer(timer_id)?
            .settled()
            .is_some_and(|seq| position.is_none_or(|p| seq < p));
        if settled_before {
            return Ok(None);
        }
        let cancelled = EventKind::TimerCancelled {
            timer_id,
            cause: Cause::Workflow,
        };
        if self.command(&cancelled)?.is_some() {
            return Ok(None);
        }
        Ok(Some(self.record(vec![cancelled], now)?))
    }

    /// Opens a `with_timeout` scope whose deadline is `ms` after `now`; awaits inside it
    /// that are still pending at the deadline return [`Step::Timeout`].
    pub fn enter_scope(&mut self, ms: u64, now: i64) -> Result<Recorded<u64>, Error> {
        let answer = self.new_timer(SCOPE_TIMER_NAME, ms, true, now)?;
        let (Recorded::Replayed(id) | Recorded::Live(id, _)) = &answer;
        self.scopes.push(*id);
        Ok(answer)
    }

    /// Closes the innermost scope, `scope_id`. Returns whether its deadline fired (the
    /// block timed out); a scope that did not is cancelled (recorded).
    pub fn exit_scope(&mut self, scope_id: u64, now: i64) -> Result<(bool, Option<Append>), Error> {
        self.check_usable()?;
        if self.scopes.last() != Some(&scope_id) {
            return Err(Error::InvalidInput(format!(
                "scope {scope_id} is not the innermost open with_timeout"
            )));
        }
        self.scopes.pop();
        if self.timer(scope_id)?.fired.is_some() {
            return Ok((true, None));
        }
        Ok((false, self.cancel_timer(scope_id, now)?))
    }

    /// What an await whose outcome has not come needs meanwhile: `Timeout` when an open
    /// scope's deadline fired, `Record` when one is due now, else `Wait` until the earliest
    /// open deadline. (Shared by the awaits of signals and children.)
    pub(super) fn pending(&mut self, now: i64) -> Result<Step, Error> {
        if let Some(step) = self.scope_timeout(None) {
            return Ok(step);
        }
        if self.closed {
            return Err(Error::NotRunning(format!("{} is closed", self.workflow_id)));
        }
        if let Some(append) = self.fire_due_scope(now)? {
            return Ok(Step::Record(append));
        }
        Ok(Step::Wait {
            until: self.scope_deadline(),
        })
    }

    /// `Some(Timeout)` when an open scope's deadline fired before `seq` (or at all, for
    /// `None`: nothing recorded yet).
    pub(super) fn scope_timeout(&mut self, seq: Option<u64>) -> Option<Step> {
        let fired_at = self
            .scopes
            .iter()
            .filter_map(|id| self.timers.get(id).and_then(|t| t.fired))
            .filter(|(fired, _)| seq.is_none_or(|s| *fired < s))
            .map(|(_, at)| at)
            .min()?;
        self.advance_time(fired_at);
        Some(Step::Timeout)
    }

    /// The earliest deadline of the open scopes that have not fired.
    pub(super) fn scope_deadline(&self) -> Option<i64> {
        self.scopes
            .iter()
            .filter_map(|id| self.timers.get(id))
            .filter(|t| t.settled().is_none())
            .map(|t| t.fire_at)
            .min()
    }

    /// Records `TimerFired` for the earliest open scope that is due at `now`, if any.
    pub(super) fn fire_due_scope(&mut self, now: i64) -> Result<Option<Append>, Error> {
        let due = self
            .scopes
            .iter()
            .filter_map(|id| self.timers.get(id).map(|t| (*id, t)))
            .filter(|(_, t)| t.settled().is_none() && t.fire_at <= now)
            .min_by_key(|(_, t)| t.fire_at)
            .map(|(id, _)| id);
        match due {
            Some(timer_id) => Ok(Some(
                self.record(vec![EventKind::TimerFired { timer_id }], now)?,
            )),
            None => Ok(None),
        }
    }

    fn timer(&self, timer_id: u64) -> Result<&TimerState, Error> {
        self.timers
            .get(&timer_id)
            .ok_or_else(|| Error::InvalidInput(format!("no timer with id {timer_id}")))
    }
}
