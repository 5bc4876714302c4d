//// Schedules: start a workflow on a cron expression or every N milliseconds.
////
//// A schedule is a durable workflow of aion's own: it survives restarts and crashes, and
//// each slot starts at most one workflow, whose id is the schedule id and the slot time
//// (see `slot_id`). Slots missed while no node ran the schedule are started when it runs
//// again if they are within `catchup_window_ms`; older ones are counted as missed.
////
//// ## Examples
////
//// ```gleam
//// let spec =
////   schedule.Spec(
////     ..schedule.spec(workflow: "report", input: json.null(), timing: schedule.Cron("0 6 * * *", "Z")),
////     overlap: schedule.BufferOne,
////   )
//// let assert Ok(Nil) = schedule.create("daily-report", spec)
//// ```

import aion/json

/// When the slots are.
pub type Timing {
  /// A five-field cron expression (`minute hour day-of-month month day-of-week`, with
  /// `*`, lists, ranges, steps and `jan`..`dec` / `sun`..`sat` names, or `@hourly`,
  /// `@daily`, `@weekly`, `@monthly`, `@yearly`), read in UTC moved by `utc_offset`
  /// (`"Z"`, `"+05:30"`, `"-08:00"`).
  Cron(expression: String, utc_offset: String)
  /// Every `ms` milliseconds: the multiples of `ms` since the Unix epoch.
  Every(ms: Int)
}

/// What a slot does while the workflow the schedule started last still runs.
pub type Overlap {
  /// Nothing (counted as `skipped_overlap`).
  Skip
  /// Starts once that workflow closes; at most one slot waits, later ones are skipped.
  BufferOne
  /// Starts anyway.
  AllowAll
  /// Cancels that workflow and starts.
  CancelOther
}

/// A schedule's definition.
pub type Spec {
  /// `workflow` is a registered workflow type, started with `input` at every slot.
  Spec(
    workflow: String,
    input: json.Json,
    timing: Timing,
    overlap: Overlap,
    catchup_window_ms: Int,
    paused: Bool,
  )
}

/// A spec with the defaults: `Skip`, a catch-up window of one hour, not paused.
pub fn spec(
  workflow workflow: String,
  input input: json.Json,
  timing timing: Timing,
) -> Spec {
  Spec(
    workflow: workflow,
    input: input,
    timing: timing,
    overlap: Skip,
    catchup_window_ms: 3_600_000,
    paused: False,
  )
}

/// Why a schedule call failed.
pub type ScheduleError {
  /// No schedule has this id.
  NotFound
  /// A schedule with this id exists.
  AlreadyExists
  /// The workflow type is not registered.
  UnknownWorkflowType(name: String)
  /// The spec is not valid: what is wrong with it.
  BadSchedule(reason: String)
  /// Anything else, printed.
  ScheduleFailure(message: String)
}

/// What a trigger did.
pub type Triggered {
  /// Started the workflow with this id.
  Started(workflow_id: String)
  /// The overlap policy skipped it.
  Skipped
  /// It waits for the running workflow to close (`BufferOne`).
  Buffered
  /// The workflow could not be started (see `describe`'s recent actions).
  StartFailed
}

/// How many slots went which way.
pub type Counts {
  Counts(
    started: Int,
    skipped_overlap: Int,
    missed: Int,
    paused: Int,
    failed: Int,
    buffered: Int,
  )
}

/// A schedule as `describe` sees it.
pub type Info {
  /// `next_runs`: the next five slot times (Unix ms); `last_started`: the workflow the
  /// schedule started last, if any.
  Info(
    id: String,
    workflow: String,
    paused: Bool,
    next_runs: List(Int),
    last_started: Result(String, Nil),
    counts: Counts,
  )
}

/// Creates schedule `id`.
@external(erlang, "aion_schedule_gleam_ffi", "create")
pub fn create(id: String, spec: Spec) -> Result(Nil, ScheduleError)

/// Pauses a schedule: its slots pass without starting anything.
@external(erlang, "aion_schedule_gleam_ffi", "pause")
pub fn pause(id: String) -> Result(Nil, ScheduleError)

/// Unpauses a schedule.
@external(erlang, "aion_schedule_gleam_ffi", "unpause")
pub fn unpause(id: String) -> Result(Nil, ScheduleError)

/// Starts the schedule's workflow now (paused or not), under its overlap policy.
@external(erlang, "aion_schedule_gleam_ffi", "trigger")
pub fn trigger(id: String) -> Result(Triggered, ScheduleError)

/// Deletes a schedule; the workflows it started go on.
@external(erlang, "aion_schedule_gleam_ffi", "delete")
pub fn delete(id: String) -> Result(Nil, ScheduleError)

/// A schedule's state.
@external(erlang, "aion_schedule_gleam_ffi", "describe")
pub fn describe(id: String) -> Result(Info, ScheduleError)

/// Every schedule, by id.
@external(erlang, "aion_schedule_gleam_ffi", "list")
pub fn list() -> Result(List(Info), ScheduleError)

/// The id of the workflow that schedule `id` starts for the slot at `slot_ms`.
@external(erlang, "aion_schedule", "slot_id")
pub fn slot_id(id: String, slot_ms: Int) -> String
