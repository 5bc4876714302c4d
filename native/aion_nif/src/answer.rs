//! What the run answers its process, as rustler-encoded types: the shapes
//! `aion_flow_ffi` acts on, declared once here instead of assembled term by term.

use aion_core::replay::{AttemptTask, Dispatch, Step};
use rustler::{Atom, NifTaggedEnum, NifTuple, NifUntaggedEnum};

mod atoms {
    rustler::atoms! { infinity, none }
}

/// A point in time (Unix ms) or a duration (ms), or `infinity`.
#[derive(NifUntaggedEnum)]
pub(crate) enum Limit {
    /// A finite limit.
    At(i64),
    /// The atom `infinity`.
    Infinity(Atom),
}

impl Limit {
    fn of(limit: Option<i64>) -> Limit {
        match limit {
            Some(at) => Limit::At(at),
            None => Limit::Infinity(atoms::infinity()),
        }
    }
}

/// An attempt to hand to a worker once the append that starts it is durable:
/// `{Ordinal, Attempt, Name, InputJson, TimeoutMs | infinity, TaskQueue, HeartbeatTimeoutMs |
/// infinity, LastHeartbeatJson | none, DeadlineLeftMs | infinity}` (`TimeoutMs` counts from
/// the attempt's start; `DeadlineLeftMs`, what is left of the schedule-to-close deadline,
/// from now).
#[derive(NifTuple)]
pub(crate) struct Task {
    ordinal: u64,
    attempt: u32,
    name: String,
    input: String,
    timeout: Limit,
    task_queue: String,
    heartbeat_timeout: Limit,
    last_heartbeat: MaybeJson,
    deadline_left: Limit,
}

/// JSON text, or the atom `none`.
#[derive(NifUntaggedEnum)]
pub(crate) enum MaybeJson {
    /// JSON text.
    Json(String),
    /// The atom `none`.
    None(Atom),
}

impl From<&AttemptTask> for Task {
    fn from(task: &AttemptTask) -> Task {
        let ms = |limit: Option<u64>| Limit::of(limit.and_then(|ms| i64::try_from(ms).ok()));
        Task {
            ordinal: task.ordinal,
            attempt: task.attempt,
            name: task.name.clone(),
            input: task.input.text().to_string(),
            timeout: ms(task.start_to_close_ms),
            task_queue: task.task_queue.clone(),
            heartbeat_timeout: ms(task.heartbeat_timeout_ms),
            last_heartbeat: match &task.last_heartbeat {
                Some(details) => MaybeJson::Json(details.to_string()),
                None => MaybeJson::None(atoms::none()),
            },
            deadline_left: ms(task.schedule_to_close_left_ms),
        }
    }
}

/// A task, or `none` (the activity was cancelled at once).
#[derive(NifUntaggedEnum)]
pub(crate) enum MaybeTask {
    /// Run this attempt.
    Task(Task),
    /// The atom `none`.
    None(Atom),
}

/// The answer to `{dispatch_activity, ...}`: `{replayed, Ordinal}` (answered from
/// history) or `{live, Ordinal, Task | none}` (wait for the append, then run `Task`).
#[derive(NifTaggedEnum)]
pub(crate) enum Dispatched {
    Replayed(u64),
    Live(u64, MaybeTask),
}

impl Dispatched {
    /// The answer for `dispatch` (its append, if any, is the caller's to submit).
    pub(crate) fn of(dispatch: &Dispatch) -> Dispatched {
        match dispatch {
            Dispatch::Replayed { ordinal } => Dispatched::Replayed(*ordinal),
            Dispatch::Live { ordinal, task, .. } => Dispatched::Live(
                *ordinal,
                match task {
                    Some(task) => MaybeTask::Task(Task::from(task)),
                    None => MaybeTask::None(atoms::none()),
                },
            ),
        }
    }
}

/// What an await needs next: `{completed, ResultJson}`, `{failed, ErrorJson}`,
/// `cancelled`, `timeout` (an enclosing deadline), `{wait, UntilMs | infinity}`,
/// `{retry_in, Ms}`, `again` (step again at once: what the step recorded waits for the
/// run's next append),
/// `{start, Task}` (wait for the append, run the attempt, step again) or
/// `{update, UpdateId, Name, ArgsJson}` (run the update's handler, step again).
#[derive(NifTaggedEnum)]
pub(crate) enum StepAnswer {
    Completed(String),
    Failed(String),
    Cancelled,
    Timeout,
    Wait(Limit),
    RetryIn(u64),
    Again,
    Start(Task),
    Update(String, String, String),
}

impl StepAnswer {
    /// The answer for `step` (a `Record` or `Start` step's append is the caller's to
    /// submit first).
    pub(crate) fn of(step: &Step) -> StepAnswer {
        match step {
            Step::Done(Ok(v)) => StepAnswer::Completed(v.text().to_string()),
            Step::Done(Err(v)) => StepAnswer::Failed(v.to_string()),
            Step::Cancelled => StepAnswer::Cancelled,
            Step::Timeout => StepAnswer::Timeout,
            Step::Wait { until } => StepAnswer::Wait(Limit::of(*until)),
            Step::RetryIn(ms) => StepAnswer::RetryIn(*ms),
            Step::Record(_) => StepAnswer::Again,
            Step::Start { task, .. } => StepAnswer::Start(Task::from(task)),
            Step::Update {
                update_id,
                name,
                args,
            } => StepAnswer::Update(update_id.clone(), name.clone(), args.text().to_string()),
        }
    }
}
