//! Property: replaying any prefix of a history with the same code appends nothing while
//! the code is inside the prefix, and answers what the first run answered.
//!
//! "Workflow code" is a generated script of commands (activities with retries, timers,
//! a cancelled timer, side effects, `patched`, `random`/`uuid`, `now`, signals received
//! and sent, a child, an activity inside `with_timeout`, a two-activity race, a
//! cancellation request, and an optional completion or continue-as-new). A driver plays
//! the script against a [`Run`] and plays the world too: when an await has to wait, it
//! delivers the attempt result, signal or child outcome the script names, asks for
//! cancellation, or moves its clock to the wake time.
//!
//! The script is first played live on a fresh run; its appends make the full history.
//! Then, for every prefix of that history that ends where an append ended, the same
//! script is played on `Run::load(prefix)` with a later clock. Every command whose live
//! events all lie inside the prefix must give the same answer and append nothing; the
//! first append must continue at the prefix's end, and none may come while recorded
//! commands remain. Replaying the full history appends nothing at all; so does replaying
//! the history each resumed run went on to make, which answers as that run did.

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::event::{ChildStatus, Delivery, Event};

/// One command of the workflow code.
#[derive(Debug, Clone)]
enum Cmd {
    /// Runs an activity: its first `fails` attempts fail (retryably), then it completes
    /// (`Ok`) or fails for good (`Err`). With `interrupt`, the world asks for the run to be
    /// cancelled the first time the code waits for it.
    Activity {
        name: usize,
        fails: u32,
        end: Result<i64, i64>,
        interrupt: bool,
    },
    /// Sleeps `ms` (`interrupt`: as for an activity).
    Timer { ms: u64, interrupt: bool },
    /// Starts a timer and cancels it.
    CancelledTimer { ms: u64 },
    /// `side_effect` producing the value.
    SideEffect(i64),
    /// `patched(CHANGES[n])`.
    Patched(usize),
    /// `random()` then `uuid()`.
    Random,
    /// `now()`.
    Now,
    /// Waits for signal `SIGNALS[name]`, which the world sends with `payload`.
    Receive { name: usize, payload: i64 },
    /// Signals another workflow.
    Send { payload: i64 },
    /// Starts a child, which closes with `status` and `value`.
    Child { completed: bool, value: i64 },
    /// An activity inside `with_timeout(ms)`; when `late`, its result comes after the
    /// deadline (and is recorded all the same).
    Scoped { ms: u64, late: bool, fails: u32 },
    /// Two activities; the world finishes `winner` first, the code takes the first and
    /// cancels the other.
    Race { winner: usize },
    /// The world asks for the run to be cancelled (unless the run has the request).
    CancelRequest,
    /// Returns the result (ends the script).
    Complete(Result<i64, i64>),
    /// Continues as new (ends the script).
    ContinueAsNew,
}

const NAMES: [&str; 2] = ["charge", "ship"];
const CHANGES: [&str; 2] = ["v2", "v3"];
const SIGNALS: [&str; 2] = ["go", "stop"];

fn interrupt() -> impl Strategy<Value = bool> {
    prop_oneof![5 => Just(false), 1 => Just(true)]
}

fn cmd() -> impl Strategy<Value = Cmd> {
    let small = -1_000i64..1_000;
    let end = prop_oneof![
        3 => small.clone().prop_map(Ok),
        1 => small.clone().prop_map(Err),
    ];
    prop_oneof![
        4 => (0..NAMES.len(), 0..3u32, end, interrupt()).prop_map(
            |(name, fails, end, interrupt)| Cmd::Activity { name, fails, end, interrupt }
        ),
        2 => (1..5_000u64, interrupt()).prop_map(|(ms, interrupt)| Cmd::Timer { ms, interrupt }),
        1 => (1..5_000u64).prop_map(|ms| Cmd::CancelledTimer { ms }),
        2 => small.clone().prop_map(Cmd::SideEffect),
        2 => (0..CHANGES.len()).prop_map(Cmd::Patched),
        1 => Just(Cmd::Random),
        1 => Just(Cmd::Now),
        2 => (0..SIGNALS.len(), small.clone())
            .prop_map(|(name, payload)| Cmd::Receive { name, payload }),
        1 => small.clone().prop_map(|payload| Cmd::Send { payload }),
        1 => (any::<bool>(), small).prop_map(|(completed, value)| Cmd::Child { completed, value }),
        2 => (50..2_000u64, any::<bool>(), 0..2u32)
            .prop_map(|(ms, late, fails)| Cmd::Scoped { ms, late, fails }),
        1 => (0..2usize).prop_map(|winner| Cmd::Race { winner }),
        1 => Just(Cmd::CancelRequest),
    ]
}

fn script() -> impl Strategy<Value = Vec<Cmd>> {
    let finish = prop_oneof![
        2 => Just(None),
        2 => (-1_000i64..1_000).prop_map(|n| Some(Cmd::Complete(Ok(n)))),
        1 => (-1_000i64..1_000).prop_map(|n| Some(Cmd::Complete(Err(n)))),
        1 => Just(Some(Cmd::ContinueAsNew)),
    ];
    (vec(cmd(), 0..8), finish).prop_map(|(mut cmds, finish)| {
        cmds.extend(finish);
        cmds
    })
}

/// What the code saw from one command.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Activity(u64, Step),
    Timer(u64, Step),
    SideEffect(Value),
    Patched(bool),
    /// The bits of `random()`, and `uuid()`.
    Random(u64, String),
    Now(i64),
    Received(Step),
    Sent(Delivery),
    Child(u64, String, Step),
    /// The activity's answer and whether the scope timed out.
    Scoped(u64, Step, bool),
    Race(usize, Step),
    CancelRequested,
    Completed,
    ContinuedAsNew,
}

/// What one command did.
#[derive(Debug)]
struct Played {
    answer: Answer,
    /// The head of the history once the command was done.
    head_after: u64,
    /// Whether it appended anything.
    appended: bool,
}

/// Plays a script against a run, and the world around it.
struct Driver {
    run: Run,
    clock: i64,
    appends: Vec<Append>,
    /// Whether an append was made while recorded commands remained.
    appended_while_replaying: bool,
}

fn unexpected(what: &str, step: &Step) -> Error {
    Error::Internal(format!("{what}: unexpected {step:?}"))
}

/// The most steps an await may take before the driver gives up.
const MAX_STEPS: usize = 64;

impl Driver {
    fn sink(&mut self, append: Append) {
        if self.run.is_replaying() {
            self.appended_while_replaying = true;
        }
        self.appends.push(append);
    }

    fn sink_recorded<T>(&mut self, answer: Recorded<T>) -> T {
        match answer {
            Recorded::Replayed(v) => v,
            Recorded::Live(v, append) => {
                self.sink(append);
                v
            }
        }
    }

    /// The outcome the world gives attempt `attempt`.
    fn outcome(attempt: u32, fails: u32, end: Result<i64, i64>) -> AttemptOutcome {
        match end {
            _ if attempt <= fails => AttemptOutcome::Failed {
                error_type: "flaky".into(),
                message: format!("attempt {attempt}"),
                retryable: true,
                details: None,
            },
            Ok(n) => AttemptOutcome::Completed(json!({ "n": n }).into()),
            Err(n) => AttemptOutcome::Failed {
                error_type: "declined".into(),
                message: format!("no {n}"),
                retryable: false,
                details: None,
            },
        }
    }

    fn dispatch(&mut self, name: &str, input: Value) -> Result<(u64, Option<AttemptTask>), Error> {
        Ok(
            match self
                .run
                .dispatch_activity(name, input.into(), &Value::Null, self.clock)?
            {
                Dispatch::Replayed { ordinal } => (ordinal, None),
                Dispatch::Live {
                    ordinal,
                    append,
                    task,
                } => {
                    self.sink(append);
                    (ordinal, task)
                }
            },
        )
    }

    /// Delivers the result of the attempt in `task`, if the world holds one.
    fn deliver(
        &mut self,
        ordinal: u64,
        task: &mut Option<AttemptTask>,
        fails: u32,
        end: Result<i64, i64>,
    ) -> Result<bool, Error> {
        let Some(t) = task.take() else {
            return Ok(false);
        };
        self.clock += 3;
        let outcome = Self::outcome(t.attempt, fails, end);
        if let Some(append) = self
            .run
            .activity_result(ordinal, t.attempt, outcome, self.clock)?
        {
            self.sink(append);
        }
        Ok(true)
    }

    /// Asks for the run to be cancelled, once: `false` when it has been asked already.
    fn interrupt(&mut self) -> Result<bool, Error> {
        if self.run.is_cancel_requested() {
            return Ok(false);
        }
        self.clock += 2;
        let stop = self.run.request_cancel(json!("interrupted"), self.clock)?;
        if let Some(append) = stop.append {
            self.sink(append);
        }
        Ok(true)
    }

    /// Awaits activity `ordinal` until it settles. With `late`, a wait with a deadline
    /// moves the clock to the deadline instead of delivering the result; with
    /// `interrupt`, a wait asks for cancellation first.
    fn await_activity(
        &mut self,
        ordinal: u64,
        task: &mut Option<AttemptTask>,
        (fails, end): (u32, Result<i64, i64>),
        late: bool,
        interrupt: bool,
    ) -> Result<Step, Error> {
        for _ in 0..MAX_STEPS {
            match self.run.activity_step(ordinal, self.clock)? {
                Step::Wait { .. } if interrupt && self.interrupt()? => {}
                Step::Wait { until: Some(at) } if late => self.clock = self.clock.max(at),
                step @ Step::Wait { .. } => {
                    if !self.deliver(ordinal, task, fails, end)? {
                        return Err(unexpected("waiting with no attempt running", &step));
                    }
                }
                Step::RetryIn(ms) => self.clock += ms as i64,
                Step::Record(append) => self.sink(append),
                Step::Start { append, task: t } => {
                    self.sink(append);
                    *task = Some(t);
                }
                step @ (Step::Done(_) | Step::Cancelled | Step::Timeout) => return Ok(step),
                step @ Step::Update { .. } => return Err(unexpected("activity", &step)),
            }
        }
        Err(Error::Internal(format!("activity {ordinal} never settled")))
    }

    fn await_timer(&mut self, timer_id: u64, interrupt: bool) -> Result<Step, Error> {
        for _ in 0..MAX_STEPS {
            match self.run.timer_step(timer_id, self.clock)? {
                Step::Wait { .. } if interrupt && self.interrupt()? => {}
                Step::Wait { until: Some(at) } => self.clock = self.clock.max(at),
                Step::Record(append) => self.sink(append),
                step @ (Step::Done(_) | Step::Cancelled | Step::Timeout) => return Ok(step),
                step => return Err(unexpected("timer", &step)),
            }
        }
        Err(Error::Internal(format!("timer {timer_id} never settled")))
    }

    fn exec(&mut self, index: usize, cmd: &Cmd) -> Result<Answer, Error> {
        match *cmd {
            Cmd::Activity {
                name,
                fails,
                end,
                interrupt,
            } => {
                let (ordinal, mut task) = self.dispatch(NAMES[name], json!(index))?;
                let world = (fails, end);
                let step = self.await_activity(ordinal, &mut task, world, false, interrupt)?;
                Ok(Answer::Activity(ordinal, step))
            }
            Cmd::Timer { ms, interrupt } => {
                let answer = self.run.start_timer("nap", ms, self.clock)?;
                let id = self.sink_recorded(answer);
                Ok(Answer::Timer(id, self.await_timer(id, interrupt)?))
            }
            Cmd::CancelledTimer { ms } => {
                let answer = self.run.start_timer("alarm", ms, self.clock)?;
                let id = self.sink_recorded(answer);
                self.clock += 1;
                if let Some(append) = self.run.cancel_timer(id, self.clock)? {
                    self.sink(append);
                }
                Ok(Answer::Timer(id, self.await_timer(id, false)?))
            }
            Cmd::SideEffect(n) => Ok(Answer::SideEffect(match self.run.side_effect()? {
                SideEffect::Replayed(value) => value.value(),
                SideEffect::Live { ordinal } => {
                    let value = json!({ "effect": n });
                    let append =
                        self.run
                            .record_side_effect(ordinal, value.clone().into(), self.clock)?;
                    self.sink(append);
                    value
                }
            })),
            Cmd::Patched(n) => {
                let answer = self.run.patched(CHANGES[n], self.clock)?;
                Ok(Answer::Patched(self.sink_recorded(answer)))
            }
            Cmd::Random => Ok(Answer::Random(self.run.random().to_bits(), self.run.uuid())),
            Cmd::Now => Ok(Answer::Now(self.run.now())),
            Cmd::Receive { name, payload } => {
                let name = SIGNALS[name];
                for _ in 0..MAX_STEPS {
                    match self.run.signal_step(name, self.clock)? {
                        Step::Wait { until: None } => {
                            self.clock += 4;
                            let id = Some(format!("signal-{index}"));
                            match self.run.record_signal(
                                name,
                                json!(payload).into(),
                                id,
                                self.clock,
                            )? {
                                Some(append) => self.sink(append),
                                None => return Err(Error::Internal("signal dropped".into())),
                            }
                        }
                        Step::Record(append) => self.sink(append),
                        step @ (Step::Done(_) | Step::Cancelled | Step::Timeout) => {
                            return Ok(Answer::Received(step))
                        }
                        step => return Err(unexpected("signal", &step)),
                    }
                }
                Err(Error::Internal("signal never came".into()))
            }
            Cmd::Send { payload } => {
                let answer =
                    self.run
                        .send_signal("other-wf", "go", json!(payload).into(), self.clock)?;
                match self.sink_recorded(answer) {
                    Outgoing::Delivered(result) => Ok(Answer::Sent(result)),
                    Outgoing::Deliver { ordinal, .. } => {
                        self.clock += 2;
                        if let Some(append) =
                            self.run
                                .signal_delivered(ordinal, Delivery::Ok, self.clock)?
                        {
                            self.sink(append);
                        }
                        Ok(Answer::Sent(Delivery::Ok))
                    }
                }
            }
            Cmd::Child { completed, value } => {
                let answer = self.run.start_child(
                    "job",
                    json!(index).into(),
                    None,
                    ChildPolicy::Abandon,
                    self.clock,
                )?;
                let child = self.sink_recorded(answer);
                for _ in 0..MAX_STEPS {
                    match self.run.child_step(child.ordinal, self.clock)? {
                        Step::Wait { until: None } => {
                            self.clock += 6;
                            let status = if completed {
                                ChildStatus::Completed
                            } else {
                                ChildStatus::Failed
                            };
                            let closed = self.run.child_completed(
                                child.ordinal,
                                status,
                                json!(value),
                                self.clock,
                            )?;
                            match closed {
                                Some(append) => self.sink(append),
                                None => return Err(Error::Internal("child outcome lost".into())),
                            }
                        }
                        Step::Record(append) => self.sink(append),
                        step @ (Step::Done(_) | Step::Cancelled | Step::Timeout) => {
                            return Ok(Answer::Child(child.ordinal, child.workflow_id, step))
                        }
                        step => return Err(unexpected("child", &step)),
                    }
                }
                Err(Error::Internal("child never closed".into()))
            }
            Cmd::Scoped { ms, late, fails } => {
                let answer = self.run.enter_scope(ms, self.clock)?;
                let scope = self.sink_recorded(answer);
                let (ordinal, mut task) = self.dispatch("inside", json!(index))?;
                let end = Ok(index as i64);
                let step = self.await_activity(ordinal, &mut task, (fails, end), late, false)?;
                // A result that comes after the deadline is recorded all the same.
                self.deliver(ordinal, &mut task, fails, end)?;
                self.clock += 1;
                let (timed_out, cancel) = self.run.exit_scope(scope, self.clock)?;
                if let Some(append) = cancel {
                    self.sink(append);
                }
                Ok(Answer::Scoped(ordinal, step, timed_out))
            }
            Cmd::Race { winner } => {
                let (a, task_a) = self.dispatch("left", json!(index))?;
                let (b, task_b) = self.dispatch("right", json!(index))?;
                let ordinals = [a, b];
                let mut tasks = [task_a, task_b];
                let items = [Awaitable::Activity(a), Awaitable::Activity(b)];
                let end = Ok(index as i64);
                for _ in 0..MAX_STEPS {
                    match self.run.select(&items, self.clock)? {
                        (_, step @ Step::Wait { until }) => {
                            // The world finishes the winner first, if it still runs; with
                            // nothing running (retries pending), time passes.
                            let first = [winner, 1 - winner]
                                .into_iter()
                                .find(|i| tasks[*i].is_some());
                            match (first, until) {
                                (Some(i), _) => {
                                    self.deliver(ordinals[i], &mut tasks[i], 0, end)?;
                                }
                                (None, Some(at)) => self.clock = self.clock.max(at),
                                (None, None) => {
                                    return Err(unexpected("race with nothing running", &step))
                                }
                            }
                        }
                        (_, Step::RetryIn(ms)) => self.clock += ms as i64,
                        (_, Step::Record(append)) => self.sink(append),
                        (i, Step::Start { append, task }) => {
                            self.sink(append);
                            tasks[i] = Some(task);
                        }
                        (i, step @ (Step::Done(_) | Step::Cancelled | Step::Timeout)) => {
                            let stop = self.run.cancel_activity(ordinals[1 - i], self.clock)?;
                            if let Some(append) = stop.append {
                                self.sink(append);
                            }
                            return Ok(Answer::Race(i, step));
                        }
                        (_, step) => return Err(unexpected("race", &step)),
                    }
                }
                Err(Error::Internal("race never settled".into()))
            }
            Cmd::CancelRequest => {
                if !self.run.is_cancel_requested() {
                    let stop = self.run.request_cancel(json!(index), self.clock)?;
                    if let Some(append) = stop.append {
                        self.sink(append);
                    }
                }
                Ok(Answer::CancelRequested)
            }
            Cmd::Complete(result) => {
                let result = result.map(|n| json!(n).into()).map_err(|n| json!(n));
                let answer = self.run.complete(result, self.clock)?;
                self.sink_recorded(answer);
                Ok(Answer::Completed)
            }
            Cmd::ContinueAsNew => match self.run.continue_as_new(json!(2).into(), "r2", self.clock)
            {
                Ok(next) => {
                    self.sink(next.close);
                    Ok(Answer::ContinuedAsNew)
                }
                // On replay the recorded continuation is matched and reported this way.
                Err(Error::NotRunning(_)) if self.run.is_closed() && !self.run.is_replaying() => {
                    Ok(Answer::ContinuedAsNew)
                }
                Err(e) => Err(e),
            },
        }
    }
}

/// Plays `script` on the run `history` loads, the clock starting at `clock`.
fn play(history: Vec<Event>, script: &[Cmd], clock: i64) -> Result<(Driver, Vec<Played>), Error> {
    let mut driver = Driver {
        run: Run::load("wf", history)?,
        clock,
        appends: Vec::new(),
        appended_while_replaying: false,
    };
    let mut played = Vec::new();
    for (index, cmd) in script.iter().enumerate() {
        driver.clock += 10;
        let before = driver.appends.len();
        let answer = driver.exec(index, cmd)?;
        played.push(Played {
            answer,
            head_after: driver.run.head(),
            appended: driver.appends.len() > before,
        });
    }
    Ok((driver, played))
}

fn failed(what: &str) -> impl Fn(Error) -> TestCaseError + '_ {
    move |e| TestCaseError::fail(format!("{what}: {e}"))
}

fn prefixes_replay_the_same(script: &[Cmd]) -> Result<(), TestCaseError> {
    let start = Run::start_event("order", json!({"id": 1}).into(), "r1", 0);
    let (live, first) = play(vec![start.clone()], script, 1_000).map_err(failed("live"))?;

    // The full history, and the lengths it had after each append.
    let mut history = vec![start];
    let mut ends = vec![1];
    for append in &live.appends {
        prop_assert_eq!(append.expected_head, history.len() as u64);
        for (i, event) in append.events.iter().enumerate() {
            prop_assert_eq!(event.seq, append.expected_head + 1 + i as u64);
        }
        history.extend(append.events.iter().cloned());
        ends.push(history.len());
    }
    ends.dedup();
    prop_assert_eq!(live.run.head(), history.len() as u64);

    for &k in &ends {
        let what = format!("replay of the first {k} of {} events", history.len());
        let (replay, again) =
            play(history[..k].to_vec(), script, 5_000_000).map_err(failed(&what))?;
        let covered = first
            .iter()
            .take_while(|p| p.head_after <= k as u64)
            .count();
        for (i, (live, replayed)) in first.iter().zip(&again).take(covered).enumerate() {
            prop_assert!(
                !replayed.appended,
                "{}: command {} {:?} appended {:?}",
                what,
                i,
                script[i],
                replay.appends
            );
            prop_assert_eq!(
                &replayed.answer,
                &live.answer,
                "{}: command {} {:?} answered differently",
                what,
                i,
                &script[i]
            );
        }
        prop_assert!(
            !replay.appended_while_replaying,
            "{}: appended while recorded commands remained: {:?}",
            what,
            replay.appends
        );
        let mut head = k as u64;
        for append in &replay.appends {
            prop_assert_eq!(
                append.expected_head,
                head,
                "{}: appends do not continue",
                &what
            );
            head += append.events.len() as u64;
        }
        prop_assert_eq!(replay.run.head(), head);

        // The history the resumed run made replays in full, too.
        let mut resumed = history[..k].to_vec();
        resumed.extend(replay.appends.iter().flat_map(|a| a.events.iter().cloned()));
        let what = format!("{what}, then of the {} events it led to", resumed.len());
        let (third, answers) = play(resumed, script, 9_000_000).map_err(failed(&what))?;
        prop_assert!(
            third.appends.is_empty(),
            "{}: appended {:?}",
            what,
            third.appends
        );
        for (i, (resumed, replayed)) in again.iter().zip(&answers).enumerate() {
            prop_assert_eq!(
                &replayed.answer,
                &resumed.answer,
                "{}: command {} {:?} answered differently",
                &what,
                i,
                &script[i]
            );
        }
        if k == history.len() {
            prop_assert!(
                replay.appends.is_empty(),
                "replaying the full history appended {:?}",
                replay.appends
            );
            prop_assert!(!replay.run.is_replaying(), "recorded commands left over");
            prop_assert_eq!(replay.run.is_closed(), live.run.is_closed());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        ..ProptestConfig::default()
    })]

    #[test]
    fn replaying_any_prefix_with_the_same_code_appends_nothing_and_answers_the_same(
        script in script()
    ) {
        prefixes_replay_the_same(&script)?;
    }
}
