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
//// Inside a workflow function, call activities with `aion/activity`.

import aion/json

/// Why a client call failed.
pub type ClientError {
  /// No workflow type is registered under this name.
  UnknownWorkflowType(name: String)
  /// A run with this id is already running.
  AlreadyStarted(workflow_id: String)
  /// The run closed with this error.
  Failed(error: json.Json)
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

/// Registers workflow type `name` as the top-level function `run`.
@external(erlang, "aion_flow_gleam_ffi", "register_workflow")
pub fn register(name: String, run: fn(json.Json) -> Result(json.Json, String)) -> Result(Nil, ClientError)

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
pub fn await(workflow_id: String, timeout_ms: Int) -> Result(json.Json, ClientError)
