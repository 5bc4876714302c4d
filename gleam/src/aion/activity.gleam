//// Running activities from workflow code.
////
//// An activity is a plain function `fn(json.Json) -> Result(json.Json, String)` registered under a
//// name (see `aion/workflow.register_activity`). Calling it from a workflow records the
//// call and its result, so after a crash or restart the recorded result is returned
//// instead of running the activity again. Failed attempts are retried as the options say.
////
//// ## Examples
////
//// ```gleam
//// case activity.run(name: "charge_card", input: json.int(42)) {
////   Ok(receipt) -> ...
////   Error(error.ActivityFailed(message: message, ..)) -> ...
//// }
//// ```
////
//// ## Heartbeats
////
//// A long-running activity calls `heartbeat` now and then, from inside the activity
//// function, to prove it is alive and to record how far it got; with
//// `heartbeat_timeout_ms` set, an attempt that goes longer than that without a heartbeat
//// is stopped and fails with the retryable error type `"heartbeat_timeout"`. The next
//// attempt reads the last details recorded before an earlier attempt failed with
//// `last_heartbeat`, to resume there:
////
//// ```gleam
//// pub fn export_rows(input: json.Json) -> Result(json.Json, String) {
////   let start = case activity.last_heartbeat() {
////     Ok(details) ->
////       case json.get_int(details, "row") {
////         Ok(row) -> row + 1
////         Error(_) -> 0
////       }
////     Error(Nil) -> 0
////   }
////   // Export the rows from `start` on; after each one:
////   // activity.heartbeat(json.object([#("row", json.int(row))]))
////   ...
//// }
//// ```

import aion/error
import aion/json

/// How failed attempts are retried.
pub type RetryPolicy {
  /// `max_attempts` counts every attempt (0: no limit); the delay before attempt n+1 is
  /// `initial_interval_ms * backoff_coefficient^(n-1)`, at most `max_interval_ms`. Errors
  /// whose type is in `non_retryable` are never retried.
  RetryPolicy(
    max_attempts: Int,
    initial_interval_ms: Int,
    backoff_coefficient: Float,
    max_interval_ms: Int,
    non_retryable: List(String),
  )
}

/// Options for one activity call.
pub type Options {
  /// `start_to_close_ms`: per-attempt deadline, 0 for none. `schedule_to_close_ms`: one
  /// deadline over every attempt and retry delay, from the call, 0 for none (past it the
  /// call ends with `error.ActivityTimeout(error_type: "schedule_to_close_timeout", ..)`).
  /// `heartbeat_timeout_ms`: longest time an attempt may go without a `heartbeat`, from
  /// its start and from each heartbeat, 0 for none (past it the attempt fails with the
  /// retryable type `"heartbeat_timeout"`).
  Options(
    retry: RetryPolicy,
    start_to_close_ms: Int,
    schedule_to_close_ms: Int,
    heartbeat_timeout_ms: Int,
    task_queue: String,
  )
}

/// The engine's defaults: 3 attempts, 100 ms doubling up to 10 s, no deadline.
pub fn default_options() -> Options {
  Options(
    retry: RetryPolicy(
      max_attempts: 3,
      initial_interval_ms: 100,
      backoff_coefficient: 2.0,
      max_interval_ms: 10_000,
      non_retryable: [],
    ),
    start_to_close_ms: 0,
    schedule_to_close_ms: 0,
    heartbeat_timeout_ms: 0,
    task_queue: "default",
  )
}

/// Runs activity `name` with `input` and the default options.
pub fn run(
  name name: String,
  input input: json.Json,
) -> Result(json.Json, error.FlowError) {
  run_with(name: name, input: input, options: default_options())
}

/// Runs activity `name` with `input` and `options`.
pub fn run_with(
  name name: String,
  input input: json.Json,
  options options: Options,
) -> Result(json.Json, error.FlowError) {
  do_run(name, input, options)
}

/// Runs activity `name`, decoding its result with `decode`.
pub fn call(
  name name: String,
  input input: json.Json,
  decode decode: fn(json.Json) -> Result(a, json.DecodeError),
) -> Result(a, error.FlowError) {
  case run(name: name, input: input) {
    Ok(value) ->
      case decode(value) {
        Ok(decoded) -> Ok(decoded)
        Error(e) -> Error(error.ResultDecodeFailed(e))
      }
    Error(e) -> Error(e)
  }
}

@external(erlang, "aion_flow_gleam_ffi", "run_activity")
fn do_run(
  name: String,
  input: json.Json,
  options: Options,
) -> Result(json.Json, error.FlowError)

/// Why `heartbeat` recorded nothing.
pub type HeartbeatError {
  /// The workflow cancelled this activity (it was cancelled, or the activity lost a
  /// race), or the activity pool that started the attempt is gone: the attempt should
  /// stop. The `{aion_cancel, Ordinal, Attempt}` message stays in the process's mailbox.
  /// An activity that an enclosing `with_timeout` gave up on is not cancelled.
  Cancelled
  /// Not called from an activity attempt's own process (a process the attempt spawned
  /// is not one).
  NotInActivity
  /// The details could not be recorded (not JSON, or over `max_payload_bytes`): why.
  BadDetails(String)
}

/// Records `details` as this attempt's latest heartbeat and proves it is alive. Call it
/// from inside an activity function. Heartbeats are not history events and send no
/// message: the details are recorded with the attempt's failure, if it fails, for the
/// next attempt's `last_heartbeat`. `json.null()` proves liveness only.
@external(erlang, "aion_flow_gleam_ffi", "heartbeat")
pub fn heartbeat(details: json.Json) -> Result(Nil, HeartbeatError)

/// In a retry, the details of the last heartbeat recorded before an earlier attempt of
/// this activity failed. `Error(Nil)` in the first attempt, when no earlier attempt
/// heartbeated, and outside an activity.
@external(erlang, "aion_flow_gleam_ffi", "last_heartbeat")
pub fn last_heartbeat() -> Result(json.Json, Nil)
