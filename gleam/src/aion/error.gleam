//// The errors workflow code can get back from aion, one constructor per kind.

import aion/json

/// Why a workflow command did not produce a value.
pub type FlowError {
  /// The activity failed for good: a terminal error, a non-retryable error type, or every
  /// attempt the retry policy allows failed.
  ActivityFailed(
    activity: String,
    error_type: String,
    message: String,
    attempts: Int,
  )
  /// The activity's last attempt ran past its `start_to_close_ms` deadline.
  ActivityTimeout(
    activity: String,
    error_type: String,
    message: String,
    attempts: Int,
  )
  /// The workflow was cancelled while this was pending (see `aion:cancel/2`).
  Cancelled
  /// An enclosing `workflow.with_timeout` deadline passed first.
  Timeout
  /// An input could not be encoded or was too large; nothing was recorded.
  InvalidInput(message: String)
  /// An option had a bad value; nothing was recorded.
  BadOption(message: String)
  /// The workflow code no longer matches the run's history; the run is blocked.
  NonDeterminism(report: String)
  /// Called outside a workflow process.
  NotInWorkflow
  /// A child workflow closed without completing: `status` is `failed`, `cancelled`,
  /// `terminated`, `timed_out` or `start_failed`, `value` its error or reason.
  ChildFailed(status: String, value: json.Json)
  /// The activity's result did not decode as the caller expected.
  ResultDecodeFailed(error: json.DecodeError)
  /// Anything else the engine reported.
  EngineError(message: String)
}
