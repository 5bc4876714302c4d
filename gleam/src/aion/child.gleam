//// Child workflows with typed results: `ChildHandle(o, e)` decodes a completed child's
//// result as `o` and a failed child's error as `e`.
////
//// ```gleam
//// let assert Ok(handle) = child.start("invoice", input, decode: json.as_int, decode_error: json.as_string)
//// case child.wait(handle) {
////   Ok(total) -> ...
////   Error(child.Failed(reason)) -> ...
//// }
//// ```

import aion/error
import aion/json

/// A started child workflow.
pub opaque type ChildHandle(o, e) {
  ChildHandle(
    ref: ChildRef,
    decode: fn(json.Json) -> Result(o, json.DecodeError),
    decode_error: fn(json.Json) -> Result(e, json.DecodeError),
  )
}

/// The engine's reference to a child.
pub type ChildRef

/// What happens to a child still running when the parent closes or is cancelled.
pub type ParentClosePolicy {
  Terminate
  RequestCancel
  Abandon
}

/// `workflow_id` "" picks `<parent>/<run>/child-<n>`.
pub type ChildOptions {
  ChildOptions(workflow_id: String, parent_close_policy: ParentClosePolicy)
}

/// Why a child did not produce its result.
pub type ChildError(e) {
  /// The child returned an error.
  Failed(error: e)
  /// The child closed as cancelled, terminated or timed out, or could not start.
  Closed(status: String, value: json.Json)
  /// The child's result or error did not decode.
  Undecodable(error: json.DecodeError)
  /// The wait itself failed (the parent was cancelled, a deadline passed ...).
  WaitFailed(error: error.FlowError)
}

/// The defaults: a derived id, `Terminate`.
pub fn default_options() -> ChildOptions {
  ChildOptions(workflow_id: "", parent_close_policy: Terminate)
}

/// Starts child workflow `workflow_type` with `input` and the default options.
pub fn start(
  workflow_type: String,
  input: json.Json,
  decode decode: fn(json.Json) -> Result(o, json.DecodeError),
  decode_error decode_error: fn(json.Json) -> Result(e, json.DecodeError),
) -> Result(ChildHandle(o, e), error.FlowError) {
  start_with(workflow_type, input, default_options(), decode, decode_error)
}

/// Starts a child workflow with options.
pub fn start_with(
  workflow_type: String,
  input: json.Json,
  options: ChildOptions,
  decode: fn(json.Json) -> Result(o, json.DecodeError),
  decode_error: fn(json.Json) -> Result(e, json.DecodeError),
) -> Result(ChildHandle(o, e), error.FlowError) {
  case do_start(workflow_type, input, options) {
    Ok(ref) ->
      Ok(ChildHandle(ref: ref, decode: decode, decode_error: decode_error))
    Error(e) -> Error(e)
  }
}

/// Waits for the child to close.
pub fn wait(handle: ChildHandle(o, e)) -> Result(o, ChildError(e)) {
  case do_await(handle.ref) {
    Ok(value) ->
      case handle.decode(value) {
        Ok(result) -> Ok(result)
        Error(e) -> Error(Undecodable(e))
      }
    Error(error.ChildFailed(status: "failed", value: value)) ->
      case handle.decode_error(value) {
        Ok(e) -> Error(Failed(e))
        Error(e) -> Error(Undecodable(e))
      }
    Error(error.ChildFailed(status: status, value: value)) ->
      Error(Closed(status, value))
    Error(e) -> Error(WaitFailed(e))
  }
}

@external(erlang, "aion_flow_gleam_ffi", "start_child")
fn do_start(
  workflow_type: String,
  input: json.Json,
  options: ChildOptions,
) -> Result(ChildRef, error.FlowError)

@external(erlang, "aion_flow_gleam_ffi", "await_child")
fn do_await(ref: ChildRef) -> Result(json.Json, error.FlowError)
