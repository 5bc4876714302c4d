//// Running activities and child workflows concurrently from a workflow. Replay takes the
//// same path: "first" always means first in the recorded history.
////
//// ```gleam
//// let calls = [fanout.Activity("price", a), fanout.Activity("price", b)]
//// case fanout.all(calls) { Ok([pa, pb]) -> ... }
//// ```

import aion/error
import aion/json

/// One concurrent call.
pub type Call {
  /// Run activity `name` with `input` (default options).
  Activity(name: String, input: json.Json)
  /// Run child workflow `workflow_type` with `input` (default options).
  Child(workflow_type: String, input: json.Json)
}

/// Every result in call order, or the first error after cancelling the calls still running.
@external(erlang, "aion_flow_gleam_ffi", "fan_all")
pub fn all(calls: List(Call)) -> Result(List(json.Json), error.FlowError)

/// The outcome of the first call to settle; the rest are cancelled.
@external(erlang, "aion_flow_gleam_ffi", "fan_race")
pub fn race(calls: List(Call)) -> Result(json.Json, error.FlowError)

/// Every outcome, in call order.
@external(erlang, "aion_flow_gleam_ffi", "fan_settled")
pub fn settled(calls: List(Call)) -> List(Result(json.Json, error.FlowError))

/// `to_call` over `items` with at most `concurrency` calls in flight; results in item
/// order, or the first error.
pub fn map(
  items: List(a),
  with to_call: fn(a) -> Call,
  concurrency concurrency: Int,
) -> Result(List(json.Json), error.FlowError) {
  do_map(items, to_call, concurrency)
}

/// Like `all`, decoding every result with `decode`.
pub fn all_decoded(
  calls: List(Call),
  decode: fn(json.Json) -> Result(a, json.DecodeError),
) -> Result(List(a), error.FlowError) {
  case all(calls) {
    Ok(values) -> decode_all(values, decode, [])
    Error(e) -> Error(e)
  }
}

fn decode_all(
  values: List(json.Json),
  decode: fn(json.Json) -> Result(a, json.DecodeError),
  acc: List(a),
) -> Result(List(a), error.FlowError) {
  case values {
    [] -> Ok(reverse(acc, []))
    [value, ..rest] ->
      case decode(value) {
        Ok(decoded) -> decode_all(rest, decode, [decoded, ..acc])
        Error(e) -> Error(error.ResultDecodeFailed(e))
      }
  }
}

fn reverse(list: List(a), acc: List(a)) -> List(a) {
  case list {
    [] -> acc
    [x, ..rest] -> reverse(rest, [x, ..acc])
  }
}

@external(erlang, "aion_flow_gleam_ffi", "fan_map")
fn do_map(
  items: List(a),
  to_call: fn(a) -> Call,
  concurrency: Int,
) -> Result(List(json.Json), error.FlowError)
