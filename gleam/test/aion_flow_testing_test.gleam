//// Gleam tests of Gleam workflows through `aion/testing`, run by `rebar3 eunit` (every
//// public function ending in `_test` is a test).

import aion/json
import aion/testing
import aion/timer
import aion_demo/order
import aion_flow_fixture

/// Sleeps three days, then reports.
pub fn three_days(_input: json.Json) -> Result(json.Json, String) {
  let assert Ok(Nil) = timer.sleep(ms: 86_400_000)
  let assert Ok(Nil) = timer.sleep(ms: 86_400_000)
  let assert Ok(Nil) = timer.sleep(ms: 86_400_000)
  Ok(json.string("three days later"))
}

pub fn sleeping_three_days_takes_no_wall_time_test() {
  let env = testing.new()
  let assert Ok(id) = testing.start(env, three_days, json.null())
  let assert testing.Completed(result) = testing.result(env, id)
  let assert Ok("three days later") = json.as_string(result)
  let assert [
    testing.TimerCall("sleep", 86_400_000),
    testing.TimerCall("sleep", 86_400_000),
    testing.TimerCall("sleep", 86_400_000),
    testing.OtherCall(_),
  ] = testing.calls(env, id)
  let assert Ok(Nil) = testing.assert_replay(env, id)
  testing.stop(env)
}

pub fn order_demo_with_mocked_activities_test() {
  let env = testing.new()
  testing.mock_activity(
    env,
    "reserve_stock",
    testing.Returns(Ok(json.string("reserved"))),
  )
  testing.mock_activity(
    env,
    "charge_card",
    testing.Sequence([Error("gateway busy"), Ok(json.int(2500))]),
  )
  testing.mock_activity(
    env,
    "ship",
    testing.Calls(fn(_) { Ok(json.string("TRK-1")) }),
  )
  let input =
    json.object([
      #("order_id", json.string("1")),
      #("item", json.string("book")),
      #("amount", json.int(2500)),
    ])
  let assert Ok(id) = testing.start(env, order.run, input)
  let assert testing.Completed(summary) = testing.result(env, id)
  let assert Ok(2500) = json.field(summary, "payment") |> unwrap |> json.as_int
  let assert [
    testing.ActivityCall("reserve_stock", _),
    testing.ActivityCall("charge_card", _),
    testing.ActivityCall("ship", _),
    testing.OtherCall(_),
  ] = testing.calls(env, id)
  let assert Ok(Nil) = testing.assert_replay(env, id)
  testing.stop(env)
}

pub fn gleam_signals_from_a_test_test() {
  let env = testing.new()
  testing.mock_activity(env, "double", testing.Calls(double))
  testing.mock_activity(env, "add", testing.Calls(aion_flow_fixture.add))
  testing.register_workflow(env, "gleam_arith", aion_flow_fixture.arithmetic)
  let assert Ok(id) =
    testing.start(env, aion_flow_fixture.messaging, json.null())
  let assert testing.StillRunning = testing.result(env, id)
  let assert Ok(Nil) = testing.signal(env, id, "add", json.int(4))
  let assert testing.Completed(_) = testing.result(env, id)
  testing.stop(env)
}

fn double(input: json.Json) -> Result(json.Json, String) {
  case json.as_int(input) {
    Ok(n) -> Ok(json.int(n * 2))
    Error(_) -> Error("not an int")
  }
}

fn unwrap(result: Result(json.Json, json.DecodeError)) -> json.Json {
  case result {
    Ok(value) -> value
    Error(_) -> json.null()
  }
}
