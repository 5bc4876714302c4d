//// Defining and starting workflows from Gleam.
////
//// A workflow is a top-level function `fn(json.Json) -> Result(json.Json, String)`; its activities
//// are top-level functions of the same shape. Register both under names, then start runs:
////
//// ```gleam
//// let assert Ok(Nil) = workflow.register_activity("reserve_stock", order.reserve_stock)
//// let assert Ok(Nil) = workflow.register("order", order.run)
//// let assert Ok(id) = workflow.start("order", json.object([]))
//// let assert Ok(result) = workflow.await(id, 5000)
//// ```
////
//// Inside a workflow function, call activities with `aion/activity`, sleep and use timers
//// with `aion/timer`, and use the functions below for deadlines, time, randomness, side
//// effects, versioning and continue-as-new: never the host's clock or random numbers,
//// which would differ on replay.

import aion/error
import aion/json

/// Why a client call failed.
pub type ClientError {
  /// No workflow type is registered under this name.
  UnknownWorkflowType(name: String)
  /// A run with this id is already running.
  AlreadyStarted(workflow_id: String)
  /// The run closed with this error.
  Failed(error: json.Json)
  /// The run was cancelled; `details` is what the code returned afterwards.
  Cancelled(details: json.Json)
  /// The run was terminated with this reason.
  Terminated(reason: json.Json)
  /// The run passed its execution timeout.
  TimedOut
  /// The run is already closed.
  NotRunning
  /// The run did not close in time.
  Timeout
  /// No run has this id.
  NotFound
  /// The function is not a top-level (module) function, so it cannot be found again after
  /// a restart.
  NotAModuleFunction
  /// Anything else, printed.
  ClientFailure(message: String)
}

/// Registers workflow type `name` as the top-level function `run`. A panic (or any crash)
/// in `run` is a bug: the run is blocked and replayed once fixed code is registered (see
/// `register_with`).
@external(erlang, "aion_flow_gleam_ffi", "register_workflow")
pub fn register(
  name: String,
  run: fn(json.Json) -> Result(json.Json, String),
) -> Result(Nil, ClientError)

/// What a crash (a panic, a failed `let assert`) in workflow code does to the run.
pub type OnCrash {
  /// The run is blocked with the crash as its reason, and replayed after a backoff and
  /// when its type is registered again: deploy the fix and it carries on (the default).
  BlockOnCrash
  /// The run fails with an error of type `crash`.
  FailOnCrash
}

/// Registers workflow type `name` as the top-level function `run`, choosing what a crash
/// in it does.
@external(erlang, "aion_flow_gleam_ffi", "register_workflow_with")
pub fn register_with(
  name: String,
  run: fn(json.Json) -> Result(json.Json, String),
  on_crash: OnCrash,
) -> Result(Nil, ClientError)

/// Registers activity `name` as the top-level function `run`.
@external(erlang, "aion_flow_gleam_ffi", "register_activity")
pub fn register_activity(
  name: String,
  run: fn(json.Json) -> Result(json.Json, String),
) -> Result(Nil, ClientError)

/// Starts a run of workflow type `name` with a fresh id and returns the id.
@external(erlang, "aion_flow_gleam_ffi", "start")
pub fn start(name: String, input: json.Json) -> Result(String, ClientError)

/// Starts a run of workflow type `name` under the given id.
@external(erlang, "aion_flow_gleam_ffi", "start_with_id")
pub fn start_with_id(
  name: String,
  input: json.Json,
  workflow_id: String,
) -> Result(String, ClientError)

/// Waits up to `timeout_ms` for run `workflow_id` to close and returns its result.
@external(erlang, "aion_flow_gleam_ffi", "await")
pub fn await(
  workflow_id: String,
  timeout_ms: Int,
) -> Result(json.Json, ClientError)

/// Options for `start_with`: an empty `workflow_id` means a fresh id, an
/// `execution_timeout_ms` of 0 means no execution timeout.
pub type StartOptions {
  StartOptions(workflow_id: String, execution_timeout_ms: Int)
}

/// Starts a run of workflow type `name` with options.
@external(erlang, "aion_flow_gleam_ffi", "start_with")
pub fn start_with(
  name: String,
  input: json.Json,
  options: StartOptions,
) -> Result(String, ClientError)

/// Asks run `workflow_id` to cancel; returns once the request is durable.
@external(erlang, "aion_flow_gleam_ffi", "cancel")
pub fn cancel(workflow_id: String) -> Result(Nil, ClientError)

/// Ends run `workflow_id` at once, without compensation.
@external(erlang, "aion_flow_gleam_ffi", "terminate")
pub fn terminate(
  workflow_id: String,
  reason: String,
) -> Result(Nil, ClientError)

/// Runs `block` under a durable deadline of `ms` milliseconds: awaits inside it still
/// pending at the deadline return `Error(Timeout)`, and so does `with_timeout`;
/// otherwise `Ok` of what `block` returned. Replay takes the same branch.
pub fn with_timeout(
  ms ms: Int,
  run block: fn() -> a,
) -> Result(a, error.FlowError) {
  do_with_timeout(ms, block)
}

@external(erlang, "aion_flow_gleam_ffi", "with_timeout")
fn do_with_timeout(ms: Int, block: fn() -> a) -> Result(a, error.FlowError)

/// Workflow time in Unix milliseconds, the same on every replay.
@external(erlang, "aion_flow", "now")
pub fn now() -> Int

/// A float in [0, 1) from the run's seeded generator, the same on every replay.
@external(erlang, "aion_flow", "random")
pub fn random() -> Float

/// A v4 UUID from the run's seeded generator, the same on every replay.
@external(erlang, "aion_flow", "uuid")
pub fn uuid() -> String

/// The id of the running workflow.
@external(erlang, "aion_flow", "workflow_id")
pub fn workflow_id() -> String

/// Runs `effect` once, live, and records its value; replay returns the recorded value.
@external(erlang, "aion_flow_gleam_ffi", "side_effect")
pub fn side_effect(
  effect: fn() -> json.Json,
) -> Result(json.Json, error.FlowError)

/// `True` on new runs and live progress, `False` when replaying history recorded before
/// change `change_id`: branch on it to keep old runs on the old code path.
@external(erlang, "aion_flow", "patched")
pub fn patched(change_id: String) -> Bool

/// Ends this run and starts a new run of the same workflow with `input` and a fresh
/// history. Never returns.
@external(erlang, "aion_flow", "continue_as_new")
pub fn continue_as_new(input: json.Json) -> a

/// Whether a cancellation of this workflow has been requested.
@external(erlang, "aion_flow", "cancel_requested")
pub fn cancel_requested() -> Bool
