//! Awaiting the first of several activities or children to settle (fan-out).

use serde_json::json;

use super::{Run, Step, Stop};
use crate::event::{Cause, EventKind};
use crate::Error;

/// Something a fan-out waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awaitable {
    /// An activity, by ordinal.
    Activity(u64),
    /// A child workflow, by ordinal.
    Child(u64),
}

impl Run {
    /// Of `items`, the one that settled first *in history order* (so replay picks the same
    /// one): `(index, Done | Cancelled | Timeout)`. While none has settled, the live work
    /// of each (retries, lost attempts, due deadlines) is returned as `(index, step)`, and
    /// finally `Wait` until the earliest wake any of them needs.
    pub fn select(&mut self, items: &[Awaitable], now: i64) -> Result<(usize, Step), Error> {
        self.check_usable()?;
        let settled = items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| self.outcome_seq(*item).map(|seq| (seq, i)))
            .min();
        if let Some((_, index)) = settled {
            return Ok((index, self.step(items[index], now)?));
        }
        let mut until: Option<i64> = None;
        for (index, item) in items.iter().enumerate() {
            match self.step(*item, now)? {
                Step::Wait { until: u } => {
                    until = match (until, u) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    }
                }
                Step::RetryIn(ms) => {
                    let at = now + ms as i64;
                    until = Some(until.map_or(at, |u| u.min(at)));
                }
                other => return Ok((index, other)),
            }
        }
        Ok((0, Step::Wait { until }))
    }

    /// Every item of `items` that has settled, in history order, each with its step — up to
    /// and including the first that is not a success (an error, a cancellation, a
    /// timeout, or work to do first such as an update's handler): what a caller that
    /// consumes each result in turn until the first failure (`all`, `settled`) would get
    /// from [`Run::select`] call after call, in one call. The prefix observed never
    /// depends on how many outcomes had arrived (replay observes the same one). While
    /// none has settled, the one answer of [`Run::select`].
    pub fn select_settled(
        &mut self,
        items: &[Awaitable],
        now: i64,
    ) -> Result<Vec<(usize, Step)>, Error> {
        self.check_usable()?;
        let mut settled: Vec<(u64, usize)> = items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| self.outcome_seq(*item).map(|seq| (seq, i)))
            .collect();
        if settled.is_empty() {
            return Ok(vec![self.select(items, now)?]);
        }
        settled.sort_unstable();
        let mut steps = Vec::with_capacity(settled.len());
        for (_, index) in settled {
            let step = self.step(items[index], now)?;
            let success = matches!(step, Step::Done(Ok(_)));
            steps.push((index, step));
            if !success {
                break;
            }
        }
        Ok(steps)
    }

    fn step(&mut self, item: Awaitable, now: i64) -> Result<Step, Error> {
        match item {
            Awaitable::Activity(ordinal) => self.activity_step(ordinal, now),
            Awaitable::Child(ordinal) => self.child_step(ordinal, now),
        }
    }

    fn outcome_seq(&self, item: Awaitable) -> Option<u64> {
        match item {
            Awaitable::Activity(o) => self
                .activities
                .get(&o)
                .filter(|a| a.outcome.is_some())
                .map(|a| a.outcome_seq),
            Awaitable::Child(o) => self
                .children
                .get(&o)
                .and_then(|c| c.outcome.as_ref())
                .map(|o| o.0),
        }
    }

    /// Cancels activity `ordinal` on the code's behalf (fan-out losers): records its
    /// cancellation unless it has an outcome, and names the attempt to stop. Idempotent,
    /// and a no-op on replay where the cancellation is already recorded.
    pub fn cancel_activity(&mut self, ordinal: u64, now: i64) -> Result<Stop, Error> {
        self.check_usable()?;
        let Some(state) = self.activities.get(&ordinal) else {
            return Err(Error::InvalidInput(format!(
                "no activity with correlation id {ordinal}"
            )));
        };
        if state.outcome.is_some() || self.closed {
            return Ok(Stop::default());
        }
        let attempt = state.started;
        let stop = if state.started > state.failed {
            vec![(ordinal, attempt)]
        } else {
            Vec::new()
        };
        let kind = EventKind::ActivityFailed {
            ordinal,
            error: json!({"type": "cancelled", "message": "cancelled by the workflow"}),
            attempt,
            retryable: false,
            cause: Some(Cause::Workflow),
        };
        Ok(Stop {
            append: Some(self.record(vec![kind], now)?),
            stop,
            children: Vec::new(),
        })
    }
}
