//// Testing workflows: run them in-process on the in-memory store with a virtual clock
//// (a 30-day sleep completes at once), mock their activities, drive them with signals
//// and cancellation, read the commands they issued, and check that their history
//// replays.
////
//// ```gleam
//// pub fn order_test() {
////   let env = testing.new()
////   testing.mock_activity(env, "charge_card", testing.Sequence([Error("busy"), Ok(json.int(1))]))
////   let assert Ok(id) = testing.start(env, order.run, input)
////   let assert testing.Completed(_) = testing.result(env, id)
////   let assert Ok(Nil) = testing.assert_replay(env, id)
////   testing.stop(env)
//// }
//// ```

import aion/json

/// A test environment (it owns the node's aion application and clock while it runs).
pub type Env

/// A stand-in for an activity.
pub type Mock {
  /// Always this result.
  Returns(result: Result(json.Json, String))
  /// One result per call, the last repeating (failures are retried as the workflow's
  /// retry policy says, on virtual time).
  Sequence(results: List(Result(json.Json, String)))
  /// Computed from the input.
  Calls(run: fn(json.Json) -> Result(json.Json, String))
}

/// How a workflow stands.
pub type Outcome {
  Completed(result: json.Json)
  Failed(error: json.Json)
  Cancelled(details: json.Json)
  /// Waiting on something virtual time cannot bring (a signal, say).
  StillRunning
  /// Terminated, timed out ..., printed.
  OtherOutcome(description: String)
}

/// A command the workflow issued.
pub type Call {
  ActivityCall(name: String, input: json.Json)
  TimerCall(name: String, ms: Int)
  OtherCall(description: String)
}

/// A fresh environment.
@external(erlang, "aion_flow_gleam_ffi", "testing_new")
pub fn new() -> Env

/// Stops the environment.
@external(erlang, "aion_flow_gleam_ffi", "testing_stop")
pub fn stop(env: Env) -> Nil

/// Replaces activity `name` with `mock`.
@external(erlang, "aion_flow_gleam_ffi", "testing_mock")
pub fn mock_activity(env: Env, name: String, mock: Mock) -> Nil

/// Registers workflow type `name` (for children the workflow under test starts).
@external(erlang, "aion_flow_gleam_ffi", "testing_register_workflow")
pub fn register_workflow(
  env: Env,
  name: String,
  workflow: fn(json.Json) -> Result(json.Json, String),
) -> Nil

/// Starts `workflow` (a top-level function) with `input`.
@external(erlang, "aion_flow_gleam_ffi", "testing_start")
pub fn start(
  env: Env,
  workflow: fn(json.Json) -> Result(json.Json, String),
  input: json.Json,
) -> Result(String, String)

/// Moves virtual time forward by `ms`, firing the timers due.
@external(erlang, "aion_flow_gleam_ffi", "testing_advance")
pub fn advance(env: Env, ms: Int) -> Nil

/// Sends a signal.
@external(erlang, "aion_flow_gleam_ffi", "testing_signal")
pub fn signal(
  env: Env,
  workflow_id: String,
  name: String,
  payload: json.Json,
) -> Result(Nil, String)

/// Asks the workflow to cancel.
@external(erlang, "aion_flow_gleam_ffi", "testing_cancel")
pub fn cancel(env: Env, workflow_id: String) -> Result(Nil, String)

/// The workflow's outcome, skipping virtual time while only timers are pending.
@external(erlang, "aion_flow_gleam_ffi", "testing_result")
pub fn result(env: Env, workflow_id: String) -> Outcome

/// The commands the workflow issued, in order.
@external(erlang, "aion_flow_gleam_ffi", "testing_calls")
pub fn calls(env: Env, workflow_id: String) -> List(Call)

/// Replays the workflow's history against its code: `Error(report)` on a divergence.
@external(erlang, "aion_flow_gleam_ffi", "testing_assert_replay")
pub fn assert_replay(env: Env, workflow_id: String) -> Result(Nil, String)
