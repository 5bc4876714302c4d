//// A Gleam workflow run by the eunit suite through the real engine: typed activity calls,
//// decoding, and a typed error.

import aion/activity
import aion/child
import aion/error
import aion/fanout
import aion/json
import aion/query
import aion/signal
import aion/timer
import aion/workflow

/// Adds two numbers with the `add` activity, then doubles the sum with `double`; returns
/// `{"sum": s, "doubled": d}`.
pub fn arithmetic(input: json.Json) -> Result(json.Json, String) {
  case activity.call(name: "add", input: input, decode: json.as_int) {
    Error(_) -> Error("add failed")
    Ok(sum) ->
      case
        activity.call(name: "double", input: json.int(sum), decode: json.as_int)
      {
        Error(_) -> Error("double failed")
        Ok(doubled) ->
          Ok(
            json.object([
              #("sum", json.int(sum)),
              #("doubled", json.int(doubled)),
            ]),
          )
      }
  }
}

/// Calls the `refuse` activity, which fails terminally, and reports the typed error.
pub fn refused(input: json.Json) -> Result(json.Json, String) {
  let options = activity.default_options()
  case activity.run_with(name: "refuse", input: input, options: options) {
    Ok(_) -> Error("refuse unexpectedly succeeded")
    Error(error.ActivityFailed(
      activity: name,
      message: message,
      attempts: attempts,
      ..,
    )) ->
      Ok(
        json.object([
          #("activity", json.string(name)),
          #("message", json.string(message)),
          #("attempts", json.int(attempts)),
        ]),
      )
    Error(_) -> Error("unexpected error kind")
  }
}

/// Calls the `slow` activity (given `{"key", "ms"}`) under a 300 ms schedule-to-close
/// deadline and reports the typed error.
pub fn deadlined(input: json.Json) -> Result(json.Json, String) {
  let options =
    activity.Options(..activity.default_options(), schedule_to_close_ms: 300)
  case activity.run_with(name: "slow", input: input, options: options) {
    Ok(_) -> Error("slow finished before its deadline")
    Error(error.ActivityTimeout(error_type: error_type, attempts: attempts, ..)) ->
      Ok(
        json.object([
          #("type", json.string(error_type)),
          #("attempts", json.int(attempts)),
        ]),
      )
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
      Ok(
        json.object([
          #("outcome", json.string(outcome)),
          #("slept", json.bool(workflow.now() > started)),
          #("id", json.string(workflow.workflow_id())),
          #("patched", json.bool(workflow.patched("gleam-change"))),
        ]),
      )
    }
  }
}

/// Waits for a typed "add" signal, answers a typed query meanwhile, runs a child and a
/// fan-out, and returns what it saw.
pub fn messaging(_input: json.Json) -> Result(json.Json, String) {
  let add = signal.new("add", json.int, json.as_int)
  let _ =
    query.set_handler(
      name: "stage",
      decode: json.as_string,
      encode: json.string,
      handler: fn(prefix) { prefix <> "waiting" },
    )
  let _ =
    query.set_update_handler(
      name: "bump",
      decode: json.as_int,
      encode: json.int,
      validate: fn(n) {
        case n > 0 {
          True -> Ok(Nil)
          False -> Error("only positive numbers")
        }
      },
      handler: fn(n) { n + 1 },
    )
  case signal.receive(add) {
    Error(_) -> Error("no signal")
    Ok(n) -> {
      let assert Ok(handle) =
        child.start(
          "gleam_arith",
          json.object([#("a", json.int(n)), #("b", json.int(1))]),
          decode: json.get_int(_, "sum"),
          decode_error: json.as_string,
        )
      let assert Ok(sum) = child.wait(handle)
      let assert Ok(doubled) =
        fanout.all_decoded(
          [
            fanout.Activity("double", json.int(sum)),
            fanout.Activity("double", json.int(n)),
          ],
          json.as_int,
        )
      Ok(
        json.object([
          #("sum", json.int(sum)),
          #("doubled", json.array(map_int(doubled))),
        ]),
      )
    }
  }
}

fn map_int(values: List(Int)) -> List(json.Json) {
  case values {
    [] -> []
    [x, ..rest] -> [json.int(x), ..map_int(rest)]
  }
}

/// Panics: a bug in workflow code.
pub fn panics(_input: json.Json) -> Result(json.Json, String) {
  panic
}

/// Registers `panics` twice: blocked on a crash (the default) and failing on it.
pub fn register_panicking() -> Result(Nil, workflow.ClientError) {
  let assert Ok(Nil) = workflow.register("gleam_panics_blocked", panics)
  workflow.register_with("gleam_panics_failed", panics, workflow.FailOnCrash)
}

/// What `timer:sleep` returns (ignored).
type Slept

@external(erlang, "timer", "sleep")
fn sleep(ms: Int) -> Slept

/// Activity `resume_pages`: its first attempt heartbeats page 3, then hangs past its
/// heartbeat timeout; the next attempt reads page 3 back with `last_heartbeat` and says
/// where it resumed.
pub fn resume_pages(_input: json.Json) -> Result(json.Json, String) {
  case activity.last_heartbeat() {
    Ok(details) ->
      case json.get_int(details, "page") {
        Ok(page) -> Ok(json.object([#("resumed_after", json.int(page))]))
        Error(_) -> Error("details without a page")
      }
    Error(Nil) -> {
      let _ = activity.heartbeat(json.object([#("page", json.int(3))]))
      let _ = sleep(5000)
      Error("not stopped by its heartbeat timeout")
    }
  }
}

/// Runs `resume_pages` under a 150 ms heartbeat timeout; also says what `heartbeat`
/// answers outside an activity (here, in workflow code).
pub fn heartbeating(_input: json.Json) -> Result(json.Json, String) {
  let outside = case activity.heartbeat(json.null()) {
    Error(activity.NotInActivity) -> "not_in_activity"
    Error(activity.Cancelled) -> "cancelled"
    Error(activity.BadDetails(why)) -> why
    Ok(Nil) -> "ok"
  }
  let options =
    activity.Options(..activity.default_options(), heartbeat_timeout_ms: 150)
  case
    activity.run_with(
      name: "resume_pages",
      input: json.null(),
      options: options,
    )
  {
    Ok(result) ->
      Ok(json.object([#("result", result), #("outside", json.string(outside))]))
    Error(_) -> Error("resume_pages failed")
  }
}
