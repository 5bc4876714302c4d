//// A Gleam workflow run by the eunit suite through the real engine: typed activity calls,
//// decoding, and a typed error.

import aion/activity
import aion/error
import aion/json
import aion/timer
import aion/workflow

/// Adds two numbers with the `add` activity, then doubles the sum with `double`; returns
/// `{"sum": s, "doubled": d}`.
pub fn arithmetic(input: json.Json) -> Result(json.Json, String) {
  case activity.call(name: "add", input: input, decode: json.as_int) {
    Error(_) -> Error("add failed")
    Ok(sum) ->
      case activity.call(name: "double", input: json.int(sum), decode: json.as_int) {
        Error(_) -> Error("double failed")
        Ok(doubled) ->
          Ok(json.object([#("sum", json.int(sum)), #("doubled", json.int(doubled))]))
      }
  }
}

/// Calls the `refuse` activity, which fails terminally, and reports the typed error.
pub fn refused(input: json.Json) -> Result(json.Json, String) {
  let options = activity.default_options()
  case activity.run_with(name: "refuse", input: input, options: options) {
    Ok(_) -> Error("refuse unexpectedly succeeded")
    Error(error.ActivityFailed(activity: name, message: message, attempts: attempts, ..)) ->
      Ok(json.object([
        #("activity", json.string(name)),
        #("message", json.string(message)),
        #("attempts", json.int(attempts)),
      ]))
    Error(_) -> Error("unexpected error kind")
  }
}

/// Activity `add`: `{"a": Int, "b": Int}` -> a + b.
pub fn add(input: json.Json) -> Result(json.Json, String) {
  case json.get_int(input, "a"), json.get_int(input, "b") {
    Ok(a), Ok(b) -> Ok(json.int(a + b))
    _, _ -> Error("add wants integers a and b")
  }
}

/// Activity `double`.
pub fn double(input: json.Json) -> Result(json.Json, String) {
  case json.as_int(input) {
    Ok(n) -> Ok(json.int(n * 2))
    Error(_) -> Error("double wants an integer")
  }
}

/// Sleeps, runs a slow activity under a short deadline, and reports what it saw along
/// with the determinism helpers.
pub fn timed(input: json.Json) -> Result(json.Json, String) {
  let started = workflow.now()
  case timer.sleep(ms: 5) {
    Error(_) -> Error("sleep failed")
    Ok(Nil) -> {
      let outcome = case
        workflow.with_timeout(ms: 20, run: fn() {
          activity.run(name: "slow", input: input)
        })
      {
        Error(error.Timeout) -> "timed_out"
        Ok(_) -> "finished"
        Error(_) -> "other error"
      }
      Ok(json.object([
        #("outcome", json.string(outcome)),
        #("slept", json.bool(workflow.now() > started)),
        #("id", json.string(workflow.workflow_id())),
        #("patched", json.bool(workflow.patched("gleam-change"))),
      ]))
    }
  }
}
