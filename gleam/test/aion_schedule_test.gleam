//// The Gleam schedule API on the test harness's virtual clock.

import aion/json
import aion/schedule
import aion/testing

/// The scheduled workflow: completes with its input.
pub fn tick(input: json.Json) -> Result(json.Json, String) {
  Ok(input)
}

pub fn schedule_starts_a_workflow_per_slot_test() {
  let env = testing.new()
  testing.register_workflow(env, "gleam_tick", tick)
  let spec =
    schedule.Spec(
      ..schedule.spec(
        workflow: "gleam_tick",
        input: json.int(7),
        timing: schedule.Every(60_000),
      ),
      overlap: schedule.AllowAll,
    )
  let assert Ok(Nil) = schedule.create("g", spec)
  let assert Error(schedule.AlreadyExists) = schedule.create("g", spec)
  let assert Error(schedule.BadSchedule(_)) =
    schedule.create(
      "bad",
      schedule.spec(
        workflow: "gleam_tick",
        input: json.null(),
        timing: schedule.Cron("61 * * * *", "Z"),
      ),
    )
  let assert Error(schedule.UnknownWorkflowType("nope")) =
    schedule.create(
      "bad",
      schedule.spec(
        workflow: "nope",
        input: json.null(),
        timing: schedule.Every(1000),
      ),
    )
  testing.advance(env, 60_000)
  testing.advance(env, 60_000)
  let assert Ok(info) = schedule.describe("g")
  let assert 2 = info.counts.started
  let assert Ok(last) = info.last_started
  let assert [next, ..] = info.next_runs
  let assert True = next > 0
  let assert Ok(schedule.Started(triggered)) = schedule.trigger("g")
  let assert True = triggered != last
  let assert Ok(Nil) = schedule.pause("g")
  let assert Ok([schedule.Info(id: "g", paused: True, ..)]) = schedule.list()
  let assert Ok(Nil) = schedule.unpause("g")
  let assert Ok(Nil) = schedule.delete("g")
  let assert Error(schedule.NotFound) = schedule.describe("g")
  testing.stop(env)
}
