//// Typed signals: messages sent to a running workflow, durable in its history before the
//// sender hears `Ok`, consumed by the workflow in arrival order.
////
//// ```gleam
//// let approval = signal.new("approval", json.bool, json.as_bool)
//// // in the workflow:
//// case signal.receive_within(approval, 86_400_000) {
////   Ok(True) -> ...
////   Error(error.Timeout) -> ...
//// }
//// // from a client:
//// signal.send(approval, to: workflow_id, value: True)
//// ```

import aion/error
import aion/json
import aion/workflow

/// A named signal carrying values of type `a`.
pub opaque type SignalRef(a) {
  SignalRef(
    name: String,
    encode: fn(a) -> json.Json,
    decode: fn(json.Json) -> Result(a, json.DecodeError),
  )
}

/// Why a workflow's signal to another workflow was not delivered.
pub type DeliveryError {
  /// No workflow has that id.
  TargetNotFound
  /// The target is closed.
  TargetNotRunning
  /// The signal could not be sent (bad payload, not in a workflow ...).
  DeliveryFailed(error: error.FlowError)
}

/// A signal named `name` with its payload codec.
pub fn new(
  name: String,
  encode: fn(a) -> json.Json,
  decode: fn(json.Json) -> Result(a, json.DecodeError),
) -> SignalRef(a) {
  SignalRef(name: name, encode: encode, decode: decode)
}

/// The signal's name.
pub fn name(signal: SignalRef(a)) -> String {
  signal.name
}

/// In a workflow: waits for the next signal of this name.
pub fn receive(signal: SignalRef(a)) -> Result(a, error.FlowError) {
  decoded(signal, do_receive(signal.name))
}

/// In a workflow: waits at most `timeout_ms` (`Error(Timeout)`, a durable deadline).
pub fn receive_within(
  signal: SignalRef(a),
  timeout_ms: Int,
) -> Result(a, error.FlowError) {
  decoded(signal, do_receive_within(signal.name, timeout_ms))
}

/// From a client: sends `value` to workflow `workflow_id`.
pub fn send(
  signal: SignalRef(a),
  to workflow_id: String,
  value value: a,
) -> Result(Nil, workflow.ClientError) {
  do_client_send(workflow_id, signal.name, signal.encode(value))
}

/// In a workflow: signals workflow `workflow_id` (recorded, delivered once).
pub fn send_from_workflow(
  signal: SignalRef(a),
  to workflow_id: String,
  value value: a,
) -> Result(Nil, DeliveryError) {
  do_workflow_send(workflow_id, signal.name, signal.encode(value))
}

fn decoded(
  signal: SignalRef(a),
  received: Result(json.Json, error.FlowError),
) -> Result(a, error.FlowError) {
  case received {
    Ok(payload) ->
      case signal.decode(payload) {
        Ok(value) -> Ok(value)
        Error(e) -> Error(error.ResultDecodeFailed(e))
      }
    Error(e) -> Error(e)
  }
}

@external(erlang, "aion_flow_gleam_ffi", "receive_signal")
fn do_receive(name: String) -> Result(json.Json, error.FlowError)

@external(erlang, "aion_flow_gleam_ffi", "receive_signal_within")
fn do_receive_within(
  name: String,
  timeout_ms: Int,
) -> Result(json.Json, error.FlowError)

@external(erlang, "aion_flow_gleam_ffi", "client_signal")
fn do_client_send(
  workflow_id: String,
  name: String,
  payload: json.Json,
) -> Result(Nil, workflow.ClientError)

@external(erlang, "aion_flow_gleam_ffi", "workflow_signal")
fn do_workflow_send(
  workflow_id: String,
  name: String,
  payload: json.Json,
) -> Result(Nil, DeliveryError)
