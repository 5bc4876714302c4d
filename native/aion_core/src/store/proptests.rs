//! Property: the SQLite and the in-memory store agree over random batches of writes
//! (appends, inbox pushes, acks), refused ones included, and a refused write leaves nothing
//! behind.
//!
//! Each case draws a few batches of writes on three workflow ids. A group of append
//! operations is turned into concrete [`AppendRequest`]s against what the store holds at
//! that moment, so most are plausible (right head, contiguous seqs, a start at head 0 with
//! its own run id, a continue-as-new pair) and some carry a deliberate fault (stale or
//! future head, a gap or a repeated seq, an unknown run, an empty append, a start in the
//! middle, events after a closing event, a duplicate create). Besides appends a batch holds
//! inbox pushes (signals, cancellations, children's closes) to running, closed and unknown
//! workflows, and acks. An append or an ack names the inbox entries it takes: none, all the
//! workflow had when the batch was built, some of them, an id of an entry taken already (or
//! of another workflow's), or one beyond every id so far.
//!
//! The same batches go to a [`MemoryStore`] and a [`SqliteStore`] with
//! [`EventStore::commit`]; after every batch the per-write results must agree, and `read`,
//! `workflow`, `list` and `inbox` must answer the same. A third store is fed only the writes
//! that were accepted, one at a time: it must accept each again and end up equal to the
//! other two, so a refused write cannot have left anything behind (a refused append that
//! names inbox entries must not have removed them).
//!
//! Entry ids. The contract fixes only their order ("later pushes have larger numbers"), not
//! their values, so the stores may number entries differently. Each store's ids are kept
//! in push order (the ids its successful pushes returned, which must increase), and an
//! entry is compared by its *ordinal*, the index of the push that created it, which is the
//! same for both stores since the same pushes succeed in the same order. Ids written into a
//! batch (`inbox_through`, an ack's `through`) are chosen symbolically ([`Cut`]) and
//! rendered per store from its own ids: "the entry of the k-th push", or "the largest id so
//! far plus d" with d far larger than the pushes of a batch, so it covers every entry either
//! store can hold by then, those pushed earlier in the same batch included. Only ids
//! returned by earlier batches are named: the writer of a batch cannot know the ids that
//! batch assigns.

use std::collections::{HashMap, HashSet};
use std::mem::discriminant;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::memory::MemoryStore;
use super::sqlite::SqliteStore;
use super::{
    apply_append, check_push, AppendRequest, EventStore, InboxItem, InboxPush, InboxRule,
    ListFilter, Status, WorkflowRecord, Write, STATUSES,
};
use crate::event::{ChildStatus, Event, EventKind};
use crate::Error;

const IDS: [&str; 3] = ["wf-0", "wf-1", "wf-2"];
/// Run ids come from a small pool, so that faults often name a run the workflow had.
const RUNS: [&str; 3] = ["run-a", "run-b", "run-c"];
const TYPES: [&str; 2] = ["order", "ship"];

/// One event after the start.
#[derive(Debug, Clone)]
enum Kind {
    Scheduled(Value),
    Started,
    ActivityDone(Value),
    Timer,
    TimerFired,
    SideEffect(Value),
    Marker,
    Signal(Value),
    CancelRequested(Value),
    /// `WorkflowStarted` again, in the middle of a history.
    Restart,
    Close(Close),
}

/// A closing event.
#[derive(Debug, Clone)]
enum Close {
    Completed(Value),
    Failed(Value),
    Cancelled(Value),
    Terminated(Value),
    TimedOut(i64),
    /// Names `RUNS[n]` as the successor (which nothing starts, unless a later operation does).
    ContinuedAsNew(usize),
}

/// What goes wrong with an append, if anything.
#[derive(Debug, Clone, Copy)]
enum Fault {
    None,
    /// The head before the last accepted append.
    StaleHead,
    /// A head the run has not reached.
    FutureHead,
    /// The last event skips a seq.
    Gap,
    /// The last event repeats the seq before it.
    RepeatedSeq,
    /// A run id the workflow never had.
    UnknownRun,
    /// Another run id of the pool (possibly an earlier run of the same workflow).
    OtherRun,
    /// No events at all.
    Empty,
}

/// What goes wrong with a `WorkflowStarted` append, if anything.
#[derive(Debug, Clone, Copy)]
enum StartFault {
    None,
    /// The request names a run id other than the event's.
    RunIdMismatch,
    /// Expected head 1 instead of 0.
    NonZeroHead,
    /// A create that claims to continue a run, or a successor that does not name its
    /// predecessor.
    WrongFrom,
}

#[derive(Debug, Clone)]
enum Op {
    /// Creates `IDS[wf]` with run `RUNS[run]` (a duplicate create when it exists).
    Create {
        wf: usize,
        run: usize,
        ty: usize,
        parent: bool,
        fault: StartFault,
    },
    /// Appends `kinds` to the current run of a workflow (see [`Builder::target`]).
    Append {
        wf: usize,
        kinds: Vec<Kind>,
        fault: Fault,
    },
    /// Closes the current run with `WorkflowContinuedAsNew` naming `RUNS[new_run]` and
    /// starts that run, as two requests of the same group.
    Continue {
        wf: usize,
        new_run: usize,
        fault: StartFault,
    },
    /// Starts the successor that the current run's `WorkflowContinuedAsNew` names, alone.
    Successor { wf: usize, fault: StartFault },
    /// Appends one closing event to the current run of a workflow, without a fault (so
    /// that closes often meet a waiting inbox).
    Close { wf: usize, close: Close },
}

/// Which inbox entries an append (`inbox_through`) or an ack (`through`) names, as drawn.
#[derive(Debug, Clone, Copy)]
enum Take {
    /// 0: none.
    Nothing,
    /// The newest entry the workflow's inbox held when the batch was built (all of them,
    /// as the engine takes them).
    Everything,
    /// The n-th (modulo) of the entries the workflow's inbox held, leaving the later ones.
    Part(usize),
    /// The id the n-th (modulo) push so far returned, whatever its workflow and whether it
    /// was taken already.
    Stale(usize),
    /// The largest id so far plus this.
    Beyond(u64),
    /// A raw number at the top of the range (larger than any id).
    Huge(u64),
}

/// An inbox id as written into a batch, rendered per store (see the module doc).
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// 0.
    Zero,
    /// The id of the n-th successful push (from an earlier batch).
    Entry(usize),
    /// The largest id returned so far plus this.
    Beyond(u64),
    /// This number, as it is.
    Raw(u64),
}

/// Whom a push or an ack addresses.
#[derive(Debug, Clone, Copy)]
enum To {
    /// A workflow that exists (see [`Builder::target`]).
    Existing(usize),
    /// The n-th (modulo) workflow that is closed, or one that exists while none is.
    Closed(usize),
    /// `IDS[n]`, whether it exists or not.
    Named(usize),
    /// A workflow that never exists.
    Unknown,
}

/// One write of a batch, as drawn.
#[derive(Debug, Clone)]
enum Step {
    /// A group of appends (all or nothing), taking inbox entries of its first request's
    /// workflow.
    Group { ops: Vec<Op>, take: Take },
    /// A push to an inbox.
    Push { to: To, item: InboxItem, at: i64 },
    /// An ack of inbox entries.
    Ack { to: To, take: Take },
}

type Batch = Vec<Step>;

/// One write of a batch with its requests built; inbox ids are still symbolic.
#[derive(Debug, Clone)]
enum Planned {
    Append { group: Vec<AppendRequest>, cut: Cut },
    Push(InboxPush),
    Ack { workflow_id: String, cut: Cut },
}

/// The ids one store's successful pushes returned, in push order.
#[derive(Debug, Default, Clone)]
struct Ids(Vec<u64>);

impl Ids {
    /// Records the id a push returned: it must be larger than every earlier one.
    fn record(&mut self, id: u64, what: &str) -> Result<(), TestCaseError> {
        let last = self.last();
        prop_assert!(
            id > last,
            "{}: a push returned id {} after id {}",
            what,
            id,
            last
        );
        self.0.push(id);
        Ok(())
    }

    fn last(&self) -> u64 {
        self.0.last().copied().unwrap_or(0)
    }

    /// The ordinal of the push that returned `id`.
    fn ordinal(&self, id: u64) -> Option<usize> {
        self.0.binary_search(&id).ok()
    }

    /// The number `cut` stands for in this store.
    fn render(&self, cut: Cut) -> Result<u64, TestCaseError> {
        Ok(match cut {
            Cut::Zero => 0,
            Cut::Entry(k) => self.0.get(k).copied().ok_or_else(|| {
                TestCaseError::fail(format!("cut names push {k}, only {} so far", self.0.len()))
            })?,
            Cut::Beyond(d) => self.last() + d,
            Cut::Raw(n) => n,
        })
    }

    /// `planned` as this store gets it.
    fn writes(&self, planned: &[Planned]) -> Result<Vec<Write>, TestCaseError> {
        planned
            .iter()
            .map(|p| {
                Ok(match p {
                    Planned::Append { group, cut } => Write::Append {
                        group: group.clone(),
                        inbox_through: self.render(*cut)?,
                    },
                    Planned::Push(push) => Write::Inbox(push.clone()),
                    Planned::Ack { workflow_id, cut } => Write::Ack {
                        workflow_id: workflow_id.clone(),
                        through: self.render(*cut)?,
                    },
                })
            })
            .collect()
    }
}

fn payload() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Floats with a short exact decimal form: others do not survive the SQLite store,
        // see `float_payload_survives_the_sqlite_store`.
        (-8_000_000i64..8_000_000).prop_map(|n| Value::from(n as f64 / 8.0)),
        "\\PC{0,6}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(Value::Array),
            btree_map("[a-z]{1,3}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn close() -> impl Strategy<Value = Close> {
    prop_oneof![
        payload().prop_map(Close::Completed),
        payload().prop_map(Close::Failed),
        payload().prop_map(Close::Cancelled),
        payload().prop_map(Close::Terminated),
        any::<i64>().prop_map(Close::TimedOut),
        (0..RUNS.len()).prop_map(Close::ContinuedAsNew),
    ]
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        4 => payload().prop_map(Kind::Scheduled),
        2 => Just(Kind::Started),
        2 => payload().prop_map(Kind::ActivityDone),
        2 => Just(Kind::Timer),
        1 => Just(Kind::TimerFired),
        2 => payload().prop_map(Kind::SideEffect),
        1 => Just(Kind::Marker),
        2 => payload().prop_map(Kind::Signal),
        1 => payload().prop_map(Kind::CancelRequested),
        1 => Just(Kind::Restart),
        2 => close().prop_map(Kind::Close),
    ]
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        12 => Just(Fault::None),
        1 => Just(Fault::StaleHead),
        1 => Just(Fault::FutureHead),
        1 => Just(Fault::Gap),
        1 => Just(Fault::RepeatedSeq),
        1 => Just(Fault::UnknownRun),
        1 => Just(Fault::OtherRun),
        1 => Just(Fault::Empty),
    ]
}

fn start_fault() -> impl Strategy<Value = StartFault> {
    prop_oneof![
        8 => Just(StartFault::None),
        1 => Just(StartFault::RunIdMismatch),
        1 => Just(StartFault::NonZeroHead),
        1 => Just(StartFault::WrongFrom),
    ]
}

fn create() -> impl Strategy<Value = Op> {
    (
        0..IDS.len(),
        0..RUNS.len(),
        0..TYPES.len(),
        any::<bool>(),
        start_fault(),
    )
        .prop_map(|(wf, run, ty, parent, fault)| Op::Create {
            wf,
            run,
            ty,
            parent,
            fault,
        })
}

fn op() -> impl Strategy<Value = Op> {
    let wf = 0..IDS.len();
    prop_oneof![
        3 => create(),
        8 => (wf.clone(), vec(kind(), 1..4), fault())
            .prop_map(|(wf, kinds, fault)| Op::Append { wf, kinds, fault }),
        2 => (wf.clone(), 0..RUNS.len(), start_fault())
            .prop_map(|(wf, new_run, fault)| Op::Continue { wf, new_run, fault }),
        1 => (wf.clone(), start_fault()).prop_map(|(wf, fault)| Op::Successor { wf, fault }),
        2 => (wf, close()).prop_map(|(wf, close)| Op::Close { wf, close }),
    ]
}

fn take() -> impl Strategy<Value = Take> {
    prop_oneof![
        3 => Just(Take::Nothing),
        4 => Just(Take::Everything),
        1 => any::<usize>().prop_map(Take::Part),
        1 => any::<usize>().prop_map(Take::Stale),
        // Far more than a batch pushes, so the same for both stores whatever their ids.
        1 => (1_000u64..2_000).prop_map(Take::Beyond),
        // Not above `i64::MAX`: the stores disagree there, see
        // `ack_through_above_i64_max_diverges`.
        1 => Just(Take::Huge(i64::MAX as u64)),
    ]
}

fn to() -> impl Strategy<Value = To> {
    prop_oneof![
        4 => (0..IDS.len()).prop_map(To::Existing),
        2 => (0..IDS.len()).prop_map(To::Closed),
        1 => (0..IDS.len()).prop_map(To::Named),
        1 => Just(To::Unknown),
    ]
}

fn child_status() -> impl Strategy<Value = ChildStatus> {
    prop_oneof![
        Just(ChildStatus::Completed),
        Just(ChildStatus::Failed),
        Just(ChildStatus::Cancelled),
        Just(ChildStatus::Terminated),
        Just(ChildStatus::TimedOut),
        Just(ChildStatus::StartFailed),
    ]
}

fn item() -> impl Strategy<Value = InboxItem> {
    prop_oneof![
        3 => ("[a-c]", payload(), proptest::option::of("sig-[0-9]")).prop_map(
            |(name, payload, signal_id)| InboxItem::Signal {
                name,
                payload: payload.into(),
                signal_id,
            }
        ),
        1 => payload().prop_map(|reason| InboxItem::Cancel { reason }),
        1 => (0..IDS.len(), child_status(), payload()).prop_map(|(n, status, value)| {
            InboxItem::ChildClosed {
                child_id: format!("{}-child", IDS[n]),
                status,
                value,
            }
        }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    // Now and then a group with no appends at all, which takes nothing.
    let ops = prop_oneof![12 => vec(op(), 1..3), 1 => Just(Vec::new())];
    let at = prop_oneof![4 => 0i64..100_000, 1 => any::<i64>()];
    prop_oneof![
        6 => (ops, take()).prop_map(|(ops, take)| Step::Group { ops, take }),
        4 => (to(), item(), at).prop_map(|(to, item, at)| Step::Push { to, item, at }),
        1 => (to(), take()).prop_map(|(to, take)| Step::Ack { to, take }),
    ]
}

/// A few batches; the first write creates a workflow (or tries to), so that not
/// everything is addressed to a workflow that does not exist.
fn batches() -> impl Strategy<Value = Vec<Batch>> {
    (create(), take(), vec(vec(step(), 1..7), 1..7)).prop_map(|(first, take, mut batches)| {
        if let Some(batch) = batches.first_mut() {
            let ops = vec![first];
            batch.insert(0, Step::Group { ops, take });
        }
        batches
    })
}

/// Turns operations into requests against the summaries and inboxes the store has,
/// updated with the writes built so far that should pass, so later writes of a batch
/// continue earlier ones.
#[derive(Default)]
struct Builder {
    view: HashMap<String, WorkflowRecord>,
    /// Each workflow's waiting inbox entries, oldest first: the ordinal of the push that
    /// made it, or `None` for a push of the batch being built (whose id is not known yet,
    /// but larger than every known one).
    inbox: HashMap<String, Vec<Option<usize>>>,
    /// How many pushes have returned an id so far.
    pushed: usize,
    /// Every run id a start was built for, by workflow id.
    used: HashMap<String, HashSet<String>>,
    fresh: u64,
    clock: i64,
}

impl Builder {
    /// Takes the summaries and inboxes `store` has now; `ids` are its push ids.
    fn refresh(&mut self, store: &dyn EventStore, ids: &Ids) -> Result<(), Error> {
        self.view.clear();
        self.inbox.clear();
        self.pushed = ids.0.len();
        let heads: HashMap<String, u64> = store.inbox_heads()?.into_iter().collect();
        for id in IDS {
            if let Some(record) = store.workflow(id)? {
                self.view.insert(id.to_string(), record);
            }
            let entries = store.inbox(id)?;
            assert_eq!(
                heads.get(id).copied(),
                entries.last().map(|e| e.id),
                "inbox head of {id}"
            );
            let ordinals = entries.iter().map(|e| ids.ordinal(e.id)).collect();
            self.inbox.insert(id.to_string(), ordinals);
        }
        Ok(())
    }

    /// The write a drawn step stands for.
    fn plan(&mut self, step: &Step) -> Planned {
        match step {
            Step::Group { ops, take } => self.group(ops, *take),
            Step::Push { to, item, at } => {
                let push = InboxPush {
                    workflow_id: self.addressee(*to),
                    recorded_at: *at,
                    item: item.clone(),
                };
                if check_push(self.view.get(&push.workflow_id), &push).is_ok() {
                    let inbox = self.inbox.entry(push.workflow_id.clone()).or_default();
                    inbox.push(None);
                }
                Planned::Push(push)
            }
            Step::Ack { to, take } => {
                let workflow_id = self.addressee(*to);
                let cut = self.cut(*take, &workflow_id);
                self.take(&workflow_id, cut);
                Planned::Ack { workflow_id, cut }
            }
        }
    }

    fn addressee(&self, to: To) -> String {
        match to {
            To::Existing(n) => self.target(n).to_string(),
            To::Closed(n) => {
                let closed: Vec<&'static str> = IDS
                    .into_iter()
                    .filter(|id| {
                        self.view
                            .get(*id)
                            .is_some_and(|r| r.status != Status::Running)
                    })
                    .collect();
                match closed.get(n % closed.len().max(1)) {
                    Some(id) => id.to_string(),
                    None => self.target(n).to_string(),
                }
            }
            To::Named(n) => IDS[n].to_string(),
            To::Unknown => "wf-unknown".to_string(),
        }
    }

    /// The cut `take` stands for on `workflow_id`'s inbox.
    fn cut(&self, take: Take, workflow_id: &str) -> Cut {
        let known: Vec<usize> = self
            .inbox
            .get(workflow_id)
            .map(|entries| entries.iter().flatten().copied().collect())
            .unwrap_or_default();
        match take {
            Take::Nothing => Cut::Zero,
            Take::Everything => known.last().map_or(Cut::Zero, |k| Cut::Entry(*k)),
            Take::Part(n) => known
                .get(n % known.len().max(1))
                .map_or(Cut::Zero, |k| Cut::Entry(*k)),
            Take::Stale(n) if self.pushed > 0 => Cut::Entry(n % self.pushed),
            Take::Stale(_) => Cut::Zero,
            Take::Beyond(d) => Cut::Beyond(d),
            Take::Huge(n) => Cut::Raw(n),
        }
    }

    /// Removes what `cut` covers from the view of `workflow_id`'s inbox.
    fn take(&mut self, workflow_id: &str, cut: Cut) {
        let Some(inbox) = self.inbox.get_mut(workflow_id) else {
            return;
        };
        match cut {
            Cut::Zero => {}
            // Entries of this batch come after every known one.
            Cut::Entry(k) => inbox.retain(|e| e.is_none_or(|o| o > k)),
            Cut::Beyond(_) | Cut::Raw(_) => inbox.clear(),
        }
    }

    /// The id `WorkflowContinuedAsNew` of `id` gives its successor: `RUNS[n]`, unless `id`
    /// had a run of that id already, then a fresh one. (Starting a run under an id the
    /// workflow had before makes the stores disagree, see
    /// `successor_reusing_an_earlier_run_id_diverges`.)
    fn successor(&mut self, id: &str, n: usize) -> String {
        if !self.used.get(id).is_some_and(|runs| runs.contains(RUNS[n])) {
            return RUNS[n].to_string();
        }
        self.fresh += 1;
        format!("{}-{}", RUNS[n], self.fresh)
    }

    fn event(&mut self, seq: u64, kind: EventKind) -> Event {
        self.clock += 7;
        Event {
            seq,
            recorded_at: 1_000 + self.clock,
            kind,
        }
    }

    /// The current run and head of `id`, or what a first run would have.
    fn current(&self, id: &str) -> (String, u64) {
        self.view
            .get(id)
            .map_or((RUNS[0].to_string(), 0), |r| (r.run_id.clone(), r.head))
    }

    /// The workflow an operation on an existing workflow goes to: the `wf`-th that exists,
    /// or `IDS[wf]` (which does not) while none does.
    fn target(&self, wf: usize) -> &'static str {
        let existing: Vec<&'static str> = IDS
            .into_iter()
            .filter(|id| self.view.contains_key(*id))
            .collect();
        existing
            .get(wf % existing.len().max(1))
            .map_or(IDS[wf], |id| *id)
    }

    /// The requests of one group, taking `take` of the first request's workflow's inbox.
    /// The view follows the group only if every request of it passes, as the store keeps a
    /// group all-or-nothing.
    fn group(&mut self, ops: &[Op], take: Take) -> Planned {
        let before = (self.view.clone(), self.inbox.clone());
        let mut refused = false;
        let mut requests: Vec<AppendRequest> = Vec::new();
        // An empty group takes nothing; it still names entries of the first workflow.
        let mut cut = self.cut(take, IDS[0]);
        for op in ops {
            for request in self.requests(op) {
                let id = request.workflow_id.clone();
                for event in &request.events {
                    if let EventKind::WorkflowStarted { run_id, .. } = &event.kind {
                        let used = self.used.entry(id.clone()).or_default();
                        used.insert(run_id.clone());
                    }
                }
                if requests.is_empty() {
                    cut = self.cut(take, &id);
                    self.take(&id, cut);
                }
                match apply_append(self.view.get(&id), &request) {
                    Ok(record) => {
                        self.view.insert(id.clone(), record);
                        let inbox = self.inbox.entry(id).or_default();
                        if InboxRule::of(&request.events) == InboxRule::MustBeEmpty
                            && !inbox.is_empty()
                        {
                            refused = true;
                        }
                    }
                    Err(_) => refused = true,
                }
                requests.push(request);
            }
        }
        if refused {
            (self.view, self.inbox) = before;
        }
        Planned::Append {
            group: requests,
            cut,
        }
    }

    fn start(
        &mut self,
        id: &str,
        run: &str,
        workflow_type: &str,
        parent: Option<String>,
        from: Option<String>,
        fault: StartFault,
    ) -> AppendRequest {
        let other = |r: &str| {
            RUNS.iter()
                .find(|x| **x != r)
                .map_or("run-z", |x| *x)
                .to_string()
        };
        let continued_from = match (fault, from) {
            (StartFault::WrongFrom, Some(_)) => None,
            (StartFault::WrongFrom, None) => Some(other(run)),
            (_, from) => from,
        };
        // A successor carries its predecessor's type and parent, as `Run::continue_as_new`
        // writes it. (Another type or parent makes the stores disagree, see
        // `successor_with_another_type_or_parent_diverges`.)
        let (workflow_type, parent_id) = match (&continued_from, self.view.get(id)) {
            (Some(_), Some(r)) => (r.workflow_type.clone(), r.parent_id.clone()),
            _ => (workflow_type.to_string(), parent),
        };
        let started = EventKind::WorkflowStarted {
            workflow_type,
            input: json!({"id": id}).into(),
            run_id: run.to_string(),
            continued_from,
            execution_deadline: None,
            parent_id,
        };
        let event = self.event(1, started);
        AppendRequest {
            workflow_id: id.to_string(),
            run_id: match fault {
                StartFault::RunIdMismatch => other(run),
                _ => run.to_string(),
            },
            expected_head: match fault {
                StartFault::NonZeroHead => 1,
                _ => 0,
            },
            events: vec![event],
        }
    }

    fn requests(&mut self, op: &Op) -> Vec<AppendRequest> {
        match op {
            Op::Create {
                wf,
                run,
                ty,
                parent,
                fault,
            } => {
                let parent = parent.then(|| "parent-wf".to_string());
                vec![self.start(IDS[*wf], RUNS[*run], TYPES[*ty], parent, None, *fault)]
            }
            Op::Append { wf, kinds, fault } => {
                let id = self.target(*wf);
                vec![self.append(id, kinds, *fault)]
            }
            Op::Continue { wf, new_run, fault } => {
                let id = self.target(*wf);
                let (run, head) = self.current(id);
                let new_run = self.successor(id, *new_run);
                let kind = EventKind::WorkflowContinuedAsNew {
                    input: json!({"n": head}).into(),
                    new_run_id: new_run.clone(),
                };
                let close = AppendRequest {
                    workflow_id: id.to_string(),
                    run_id: run.clone(),
                    expected_head: head,
                    events: vec![self.event(head + 1, kind)],
                };
                let start = self.start(id, &new_run, TYPES[0], None, Some(run), *fault);
                vec![close, start]
            }
            Op::Successor { wf, fault } => {
                let id = self.target(*wf);
                let (run, _) = self.current(id);
                let record = self.view.get(id);
                let named = record
                    .and_then(|r| r.outcome.as_ref())
                    .and_then(|o| o.get("new_run_id"))
                    .and_then(Value::as_str)
                    .unwrap_or(RUNS[1])
                    .to_string();
                vec![self.start(id, &named, TYPES[0], None, Some(run), *fault)]
            }
            Op::Close { wf, close } => {
                let id = self.target(*wf);
                vec![self.append(id, &[Kind::Close(close.clone())], Fault::None)]
            }
        }
    }

    fn append(&mut self, id: &str, kinds: &[Kind], fault: Fault) -> AppendRequest {
        let (run, head) = self.current(id);
        let mut events: Vec<Event> = kinds
            .iter()
            .enumerate()
            .map(|(i, kind)| {
                let seq = head + 1 + i as u64;
                let kind = self.kind(kind, id, &run, seq);
                self.event(seq, kind)
            })
            .collect();
        let expected_head = match fault {
            Fault::StaleHead => head.saturating_sub(1),
            Fault::FutureHead => head + 2,
            _ => head,
        };
        let run_id = match fault {
            Fault::UnknownRun => "run-unknown".to_string(),
            Fault::OtherRun => RUNS
                .iter()
                .find(|r| **r != run)
                .map_or("run-z", |r| *r)
                .to_string(),
            _ => run,
        };
        match fault {
            Fault::Gap => {
                if let Some(last) = events.last_mut() {
                    last.seq += 1;
                }
            }
            Fault::RepeatedSeq => {
                if let Some(last) = events.last_mut() {
                    last.seq -= 1;
                }
            }
            Fault::Empty => events.clear(),
            _ => {}
        }
        AppendRequest {
            workflow_id: id.to_string(),
            run_id,
            expected_head,
            events,
        }
    }

    fn kind(&mut self, kind: &Kind, id: &str, run: &str, seq: u64) -> EventKind {
        match kind.clone() {
            Kind::Scheduled(input) => EventKind::ActivityScheduled {
                ordinal: seq,
                name: "charge".into(),
                input: input.into(),
                config: json!({}),
            },
            Kind::Started => EventKind::ActivityStarted {
                ordinal: seq % 3,
                attempt: 1,
            },
            Kind::ActivityDone(result) => EventKind::ActivityCompleted {
                ordinal: seq % 3,
                result: result.into(),
                attempt: 1,
            },
            Kind::Timer => EventKind::TimerStarted {
                timer_id: seq,
                name: "nap".into(),
                fire_at: seq as i64 * 100,
                scope: seq.is_multiple_of(2),
            },
            Kind::TimerFired => EventKind::TimerFired { timer_id: seq % 3 },
            Kind::SideEffect(value) => EventKind::SideEffectRecorded {
                ordinal: seq,
                value: value.into(),
            },
            Kind::Marker => EventKind::MarkerRecorded {
                change_id: format!("change-{}", seq % 2),
            },
            Kind::Signal(payload) => EventKind::SignalReceived {
                name: "go".into(),
                payload: payload.into(),
                signal_id: seq.is_multiple_of(2).then(|| format!("sig-{seq}")),
            },
            Kind::CancelRequested(reason) => EventKind::WorkflowCancelRequested { reason },
            Kind::Restart => EventKind::WorkflowStarted {
                workflow_type: TYPES[0].into(),
                input: json!(null).into(),
                run_id: run.to_string(),
                continued_from: None,
                execution_deadline: None,
                parent_id: None,
            },
            Kind::Close(Close::Completed(result)) => EventKind::WorkflowCompleted {
                result: result.into(),
            },
            Kind::Close(Close::Failed(error)) => EventKind::WorkflowFailed { error },
            Kind::Close(Close::Cancelled(details)) => EventKind::WorkflowCancelled { details },
            Kind::Close(Close::Terminated(reason)) => EventKind::WorkflowTerminated { reason },
            Kind::Close(Close::TimedOut(deadline)) => EventKind::WorkflowTimedOut { deadline },
            Kind::Close(Close::ContinuedAsNew(n)) => EventKind::WorkflowContinuedAsNew {
                input: json!(n).into(),
                new_run_id: self.successor(id, n),
            },
        }
    }
}

/// A store with the ids its pushes returned.
#[derive(Clone, Copy)]
struct Side<'a> {
    store: &'a dyn EventStore,
    ids: &'a Ids,
}

/// `workflow_id`'s inbox as `side` has it, each entry known by its ordinal.
fn inbox_of(
    side: Side<'_>,
    workflow_id: &str,
    what: &str,
) -> Result<Vec<(usize, i64, InboxItem)>, TestCaseError> {
    let entries = side
        .store
        .inbox(workflow_id)
        .map_err(|e| TestCaseError::fail(format!("{what}: inbox({workflow_id}) failed: {e}")))?;
    entries
        .into_iter()
        .map(|e| match side.ids.ordinal(e.id) {
            Some(ordinal) => Ok((ordinal, e.recorded_at, e.item)),
            None => Err(TestCaseError::fail(format!(
                "{what}: inbox({workflow_id}) holds id {}, which no push returned",
                e.id
            ))),
        })
        .collect()
}

/// Checks that `a` and `b` answer every query the same; `what` names them in failures.
fn same_answers(a: Side<'_>, b: Side<'_>, what: &str) -> Result<(), TestCaseError> {
    let fail = |e: Error| TestCaseError::fail(format!("{what}: a query failed: {e}"));
    let (a_side, b_side) = (a, b);
    let (a, b) = (a.store, b.store);
    let unknown = "wf-unknown";
    for id in IDS.iter().chain([&unknown]) {
        prop_assert_eq!(
            a.workflow(id).map_err(fail)?,
            b.workflow(id).map_err(fail)?,
            "{}: workflow({})",
            what,
            id
        );
        prop_assert_eq!(
            inbox_of(a_side, id, what)?,
            inbox_of(b_side, id, what)?,
            "{}: inbox({}) as (push ordinal, recorded_at, item)",
            what,
            id
        );
        let runs = RUNS.iter().map(|r| Some(*r)).chain([None, Some("run-x")]);
        for run in runs {
            for from in [0, 1, 2, 4] {
                prop_assert_eq!(
                    a.read(id, run, from).map_err(fail)?,
                    b.read(id, run, from).map_err(fail)?,
                    "{}: read({}, {:?}, {})",
                    what,
                    id,
                    run,
                    from
                );
            }
        }
    }
    let mut filters = vec![ListFilter::default()];
    filters.extend(STATUSES.iter().map(|(status, _)| ListFilter {
        status: Some(*status),
        ..Default::default()
    }));
    filters.extend(TYPES.iter().chain(&["other"]).map(|ty| ListFilter {
        workflow_type: Some(ty.to_string()),
        ..Default::default()
    }));
    for filter in &filters {
        prop_assert_eq!(
            a.list(filter).map_err(fail)?,
            b.list(filter).map_err(fail)?,
            "{}: list({:?})",
            what,
            filter
        );
    }
    Ok(())
}

/// The two stores under test, and a third fed only the writes they accepted; each with
/// the ids its pushes returned.
struct Stores {
    memory: MemoryStore,
    durable: Box<dyn EventStore>,
    accepted: MemoryStore,
    memory_ids: Ids,
    durable_ids: Ids,
    accepted_ids: Ids,
    _dir: tempfile::TempDir,
}

fn failed(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

impl Stores {
    fn new() -> Result<Stores, TestCaseError> {
        let dir = tempfile::tempdir().map_err(failed)?;
        let sqlite = SqliteStore::open(dir.path()).map_err(failed)?;
        Stores::with(Box::new(sqlite), dir)
    }

    /// The same checks with `durable` in the place of the SQLite store.
    fn with(durable: Box<dyn EventStore>, dir: tempfile::TempDir) -> Result<Stores, TestCaseError> {
        Ok(Stores {
            memory: MemoryStore::new(),
            durable,
            accepted: MemoryStore::new(),
            memory_ids: Ids::default(),
            durable_ids: Ids::default(),
            accepted_ids: Ids::default(),
            _dir: dir,
        })
    }

    /// Applies batch `n` of append groups that take nothing from the inbox.
    fn apply_groups(
        &mut self,
        n: usize,
        batch: &[Vec<AppendRequest>],
    ) -> Result<(), TestCaseError> {
        let planned: Vec<Planned> = batch
            .iter()
            .map(|group| Planned::Append {
                group: group.clone(),
                cut: Cut::Zero,
            })
            .collect();
        self.apply(n, &planned)
    }

    /// Applies batch `n` to both stores and checks they agree, with each other and with
    /// the accepted writes alone.
    fn apply(&mut self, n: usize, planned: &[Planned]) -> Result<(), TestCaseError> {
        let for_memory = self.memory_ids.writes(planned)?;
        let for_sqlite = self.durable_ids.writes(planned)?;
        let for_accepted = self.accepted_ids.writes(planned)?;
        let in_memory = self.memory.commit(&for_memory);
        let in_sqlite = self.durable.commit(&for_sqlite);
        prop_assert_eq!(in_memory.len(), planned.len());
        prop_assert_eq!(in_sqlite.len(), planned.len());
        for (i, (m, s)) in in_memory.iter().zip(&in_sqlite).enumerate() {
            let what = format!("batch {n} write {i}");
            let push = matches!(planned[i], Planned::Push(_));
            let same = match (m, s) {
                // Pushes: each store's ids are recorded (and must increase); the entries
                // are compared by ordinal below.
                (Ok(a), Ok(b)) if push => {
                    self.memory_ids.record(*a, &format!("{what}: memory"))?;
                    self.durable_ids.record(*b, &format!("{what}: sqlite"))?;
                    true
                }
                (Ok(a), Ok(b)) => a == b,
                (Err(a), Err(b)) => discriminant(a) == discriminant(b),
                _ => false,
            };
            prop_assert!(
                same,
                "{}: memory {:?}, sqlite {:?}\nmemory got: {:#?}\nsqlite got: {:#?}",
                what,
                m,
                s,
                for_memory[i],
                for_sqlite[i]
            );
            if m.is_ok() {
                let again = self.accepted.commit(std::slice::from_ref(&for_accepted[i]));
                match again.as_slice() {
                    [Ok(id)] if push => self.accepted_ids.record(*id, &format!("{what}: alone"))?,
                    [Ok(_)] => {}
                    _ => prop_assert!(
                        false,
                        "{} was accepted in the batch but not alone: {:?}",
                        what,
                        again
                    ),
                }
            }
        }
        let memory = Side {
            store: &self.memory,
            ids: &self.memory_ids,
        };
        let sqlite = Side {
            store: &*self.durable,
            ids: &self.durable_ids,
        };
        let accepted = Side {
            store: &self.accepted,
            ids: &self.accepted_ids,
        };
        same_answers(
            memory,
            sqlite,
            &format!("after batch {n}: memory vs sqlite"),
        )?;
        same_answers(
            accepted,
            memory,
            &format!("after batch {n}: accepted writes only vs memory"),
        )?;
        same_answers(
            accepted,
            sqlite,
            &format!("after batch {n}: accepted writes only vs sqlite"),
        )
    }
}

fn stores_agree(batches: &[Batch]) -> Result<(), TestCaseError> {
    agree(Stores::new()?, batches)
}

fn agree(mut stores: Stores, batches: &[Batch]) -> Result<(), TestCaseError> {
    let mut builder = Builder::default();
    for (n, steps) in batches.iter().enumerate() {
        builder
            .refresh(&stores.memory, &stores.memory_ids)
            .map_err(failed)?;
        let planned: Vec<Planned> = steps.iter().map(|step| builder.plan(step)).collect();
        stores.apply(n, &planned)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn sqlite_and_memory_stores_agree_over_random_batches(batches in batches()) {
        stores_agree(&batches)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        max_shrink_iters: 500,
        ..ProptestConfig::default()
    })]

    /// The same property with the PostgreSQL store (`AION_PG_URL`; skipped without it),
    /// a fresh schema per case.
    #[test]
    fn postgres_and_memory_stores_agree_over_random_batches(batches in batches()) {
        if let Some(url) = crate::store::postgres::tests::url() {
            let store = crate::store::postgres::tests::fresh(&url);
            agree(Stores::with(Box::new(store), tempfile::tempdir().map_err(failed)?)?, &batches)?;
        }
    }
}

// Divergences the property found, fixed since (SQLite now updates a successor's type and
// parent; both stores refuse a run id the workflow had before; floats round-trip exactly).
// Each is pinned here by its smallest case as a regression test.

fn started(run: &str, ty: &str, parent: Option<&str>, from: Option<&str>) -> AppendRequest {
    AppendRequest {
        workflow_id: IDS[0].into(),
        run_id: run.into(),
        expected_head: 0,
        events: vec![Event {
            seq: 1,
            recorded_at: 10,
            kind: EventKind::WorkflowStarted {
                workflow_type: ty.into(),
                input: json!(null).into(),
                run_id: run.into(),
                continued_from: from.map(String::from),
                execution_deadline: None,
                parent_id: parent.map(String::from),
            },
        }],
    }
}

/// Closes run `run` (whose head is 1) by continuing as `next`, and starts `next`.
fn continued(run: &str, next: &str, ty: &str, parent: Option<&str>) -> Vec<AppendRequest> {
    let close = AppendRequest {
        workflow_id: IDS[0].into(),
        run_id: run.into(),
        expected_head: 1,
        events: vec![Event {
            seq: 2,
            recorded_at: 20,
            kind: EventKind::WorkflowContinuedAsNew {
                input: json!(null).into(),
                new_run_id: next.into(),
            },
        }],
    };
    vec![close, started(next, ty, parent, Some(run))]
}

/// The memory store's summary takes the successor's `workflow_type` and `parent_id`; the
/// SQLite store's keeps the first run's (its UPDATE sets neither column).
#[test]
fn successor_with_another_type_or_parent_diverges() -> Result<(), TestCaseError> {
    let mut stores = Stores::new()?;
    stores.apply_groups(0, &[vec![started("run-a", "order", None, None)]])?;
    stores.apply_groups(1, &[continued("run-a", "run-b", "ship", Some("parent"))])
}

/// A chain run-a -> run-b -> run-a: the memory store accepts the second run-a and appends
/// its `WorkflowStarted` (seq 1) to the first run-a's history, which then reads 1, 2, 1;
/// the SQLite store refuses it with a durability error (UNIQUE constraint on the events
/// key). `apply_append` does not look at the runs a workflow had before its current one.
#[test]
fn successor_reusing_an_earlier_run_id_diverges() -> Result<(), TestCaseError> {
    let mut stores = Stores::new()?;
    stores.apply_groups(0, &[vec![started("run-a", "order", None, None)]])?;
    stores.apply_groups(
        1,
        &[
            continued("run-a", "run-b", "order", None),
            continued("run-b", "run-a", "order", None),
        ],
    )
}

/// serde_json parses `-25437.042617342402` one ulp off unless its `float_roundtrip`
/// feature is on, so a float read back from SQLite can differ from the one appended (and
/// from the memory store's).
#[test]
fn float_payload_survives_the_sqlite_store() -> Result<(), TestCaseError> {
    let mut stores = Stores::new()?;
    let mut create = started("run-a", "order", None, None);
    create.events.push(Event {
        seq: 2,
        recorded_at: 20,
        kind: EventKind::SideEffectRecorded {
            ordinal: 1,
            value: json!(-25437.042617342402).into(),
        },
    });
    stores.apply_groups(0, &[vec![create]])
}

// Divergences the property found, fixed since (SQLite now reads a bound above i64::MAX as
// "everything", as the memory store does); each is pinned by its smallest case.

/// Creates `wf-0` and pushes one signal to its inbox, as batch 0.
fn with_one_entry() -> Result<Stores, TestCaseError> {
    let mut stores = Stores::new()?;
    let push = InboxPush {
        workflow_id: IDS[0].into(),
        recorded_at: 10,
        item: InboxItem::Signal {
            name: "go".into(),
            payload: json!(null).into(),
            signal_id: None,
        },
    };
    stores.apply(
        0,
        &[
            Planned::Append {
                group: vec![started("run-a", "order", None, None)],
                cut: Cut::Zero,
            },
            Planned::Push(push),
        ],
    )?;
    Ok(stores)
}

/// An ack whose `through` is above `i64::MAX` (here 2^63): the memory store removes every
/// entry up to it (all of them, `id <= through` in `u64`); the SQLite store binds
/// `through as i64`, a negative number, and removes none. The same holds for an append's
/// `inbox_through` (see `inbox_through_above_i64_max_diverges`).
#[test]
fn ack_through_above_i64_max_diverges() -> Result<(), TestCaseError> {
    let mut stores = with_one_entry()?;
    let ack = Planned::Ack {
        workflow_id: IDS[0].into(),
        cut: Cut::Raw(i64::MAX as u64 + 1),
    };
    stores.apply(1, &[ack])
}

/// A completing append whose `inbox_through` is `u64::MAX`, while one entry waits: the
/// memory store takes the entry and completes the run; the SQLite store removes nothing
/// (`u64::MAX as i64` is -1) and refuses the close with `InboxPending`.
#[test]
fn inbox_through_above_i64_max_diverges() -> Result<(), TestCaseError> {
    let mut stores = with_one_entry()?;
    let complete = AppendRequest {
        workflow_id: IDS[0].into(),
        run_id: "run-a".into(),
        expected_head: 1,
        events: vec![Event {
            seq: 2,
            recorded_at: 20,
            kind: EventKind::WorkflowCompleted {
                result: json!(1).into(),
            },
        }],
    };
    let append = Planned::Append {
        group: vec![complete],
        cut: Cut::Raw(u64::MAX),
    };
    stores.apply(1, &[append])
}
