//// Queries (read a running workflow's state, never recorded) and updates (validated,
//// recorded requests that return a result), with typed codecs.
////
//// ```gleam
//// // in the workflow, after each state change:
//// query.set_handler("status", decode: json.as_string, encode: json.int, handler: fn(_) { count })
//// // from a client:
//// query.ask(workflow_id, "status", json.string(""), 5000)
//// ```

import aion/error
import aion/json

/// Why a query or an update failed.
pub type RequestError {
  /// No handler of that name is set.
  UnknownHandler
  /// The validator refused the update (nothing was recorded).
  Rejected(reason: json.Json)
  /// The handler crashed, or tried to run workflow commands (queries).
  HandlerFailed(reason: String)
  /// The workflow is closed, or no process runs it.
  NotRunning
  /// No workflow has that id.
  NotFound
  /// No answer in time.
  Timeout
  /// Anything else, printed.
  RequestFailed(message: String)
}

/// In a workflow: sets (or replaces) query handler `name`. The handler may close over the
/// workflow's state; arguments that do not decode fail the query.
pub fn set_handler(
  name name: String,
  decode decode: fn(json.Json) -> Result(a, json.DecodeError),
  encode encode: fn(b) -> json.Json,
  handler handler: fn(a) -> b,
) -> Result(Nil, error.FlowError) {
  do_set_query(name, fn(args) {
    case decode(args) {
      Ok(value) -> encode(handler(value))
      Error(_) -> fail("the query arguments do not decode")
    }
  })
}

/// From a client: runs query `name` of workflow `workflow_id`.
@external(erlang, "aion_flow_gleam_ffi", "query")
pub fn ask(
  workflow_id: String,
  name: String,
  args: json.Json,
  timeout_ms: Int,
) -> Result(json.Json, RequestError)

/// In a workflow: sets (or replaces) update handler `name`: `validate` accepts
/// (`Ok(Nil)`) or rejects (`Error(reason)`); `handler` runs in the workflow (at the same
/// point on every replay) and may run activities.
pub fn set_update_handler(
  name name: String,
  decode decode: fn(json.Json) -> Result(a, json.DecodeError),
  encode encode: fn(b) -> json.Json,
  validate validate: fn(a) -> Result(Nil, String),
  handler handler: fn(a) -> b,
) -> Result(Nil, error.FlowError) {
  do_set_update(
    name,
    fn(args) {
      case decode(args) {
        Ok(value) -> validate(value)
        Error(_) -> Error("the update arguments do not decode")
      }
    },
    fn(args) {
      case decode(args) {
        Ok(value) -> encode(handler(value))
        Error(_) -> fail("the update arguments do not decode")
      }
    },
  )
}

/// From a client: sends update `name` to workflow `workflow_id` and waits for its result.
@external(erlang, "aion_flow_gleam_ffi", "update")
pub fn update(
  workflow_id: String,
  name: String,
  args: json.Json,
  timeout_ms: Int,
) -> Result(json.Json, RequestError)

@external(erlang, "aion_flow_gleam_ffi", "set_query_handler")
fn do_set_query(
  name: String,
  handler: fn(json.Json) -> json.Json,
) -> Result(Nil, error.FlowError)

@external(erlang, "aion_flow_gleam_ffi", "set_update_handler")
fn do_set_update(
  name: String,
  validate: fn(json.Json) -> Result(Nil, String),
  handler: fn(json.Json) -> json.Json,
) -> Result(Nil, error.FlowError)

@external(erlang, "erlang", "error")
fn fail(reason: String) -> a
