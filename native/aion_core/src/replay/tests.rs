//! Replay behaviour, one test per rule.

use serde_json::{json, Value};

use super::*;
use crate::event::{Cause, ChildStatus, Delivery, Event, EventKind};
use crate::retry::ActivityOptions;

fn started() -> Vec<Event> {
    vec![Run::start_event("order", json!({"id": 1}).into(), "r1", 0)]
}

fn run_with(history: Vec<Event>) -> Run {
    Run::load("wf", history).unwrap()
}

/// Dispatches activity `name` live and returns its ordinal.
fn live_ordinal(run: &mut Run, name: &str) -> u64 {
    match run
        .dispatch_activity(name, json!(1).into(), &Value::Null, 0)
        .unwrap()
    {
        Dispatch::Live { ordinal, .. } => ordinal,
        other => panic!("expected a live dispatch, got {other:?}"),
    }
}

fn failure(error_type: &str, message: &str, retryable: bool) -> AttemptOutcome {
    AttemptOutcome::Failed {
        error_type: error_type.into(),
        message: message.into(),
        retryable,
        details: None,
    }
}

/// Drives one activity to success live and returns every event it appended.
fn live_activity(run: &mut Run, name: &str, now: i64) -> Vec<Event> {
    let Dispatch::Live {
        ordinal,
        append,
        task: Some(task),
    } = run
        .dispatch_activity(name, json!(name).into(), &Value::Null, now)
        .unwrap()
    else {
        panic!("expected live dispatch")
    };
    let done = run
        .activity_result(
            ordinal,
            task.attempt,
            AttemptOutcome::Completed(json!({"ok": name}).into()),
            now,
        )
        .unwrap()
        .unwrap();
    [append.events, done.events].concat()
}

#[test]
fn live_dispatch_records_scheduled_and_first_attempt_after_head() {
    let mut run = run_with(started());
    let d = run
        .dispatch_activity("reserve", json!(1).into(), &Value::Null, 5)
        .unwrap();
    let Dispatch::Live {
        ordinal,
        append,
        task: Some(task),
    } = d
    else {
        panic!("{d:?}")
    };
    assert_eq!(ordinal, 1);
    assert_eq!(append.expected_head, 1);
    let seqs: Vec<u64> = append.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![2, 3]);
    assert_eq!(
        append.events[1].kind,
        EventKind::ActivityStarted {
            ordinal: 1,
            attempt: 1
        }
    );
    assert_eq!((task.attempt, task.name.as_str()), (1, "reserve"));
    assert_eq!(run.activity_step(1, 5).unwrap(), Step::Wait { until: None });
}

#[test]
fn replay_answers_completed_activity_without_new_events() {
    let mut first = run_with(started());
    let mut history = started();
    history.extend(live_activity(&mut first, "reserve", 1));
    let head = first.head();

    let mut replay = run_with(history);
    assert!(replay.is_replaying());
    assert_eq!(
        replay
            .dispatch_activity("reserve", json!(1).into(), &Value::Null, 9)
            .unwrap(),
        Dispatch::Replayed { ordinal: 1 }
    );
    assert_eq!(
        replay.activity_step(1, 9).unwrap(),
        Step::Done(Ok(json!({"ok": "reserve"}).into()))
    );
    assert_eq!(replay.head(), head);
    assert!(!replay.is_replaying());
    assert!(matches!(
        replay
            .dispatch_activity("charge", json!(2).into(), &Value::Null, 9)
            .unwrap(),
        Dispatch::Live { ordinal: 2, .. }
    ));
}

#[test]
fn replay_rejects_different_activity_and_names_seq() {
    let mut first = run_with(started());
    let mut history = started();
    history.extend(live_activity(&mut first, "reserve", 1));
    let mut replay = run_with(history);
    let err = replay
        .dispatch_activity("charge", json!(1).into(), &Value::Null, 2)
        .unwrap_err();
    match &err {
        Error::NonDeterminism {
            seq,
            recorded,
            requested,
        } => {
            assert_eq!(*seq, 2);
            assert!(recorded.contains("reserve"), "{recorded}");
            assert!(requested.contains("charge"), "{requested}");
        }
        other => panic!("{other:?}"),
    }
    // The run stays diverged: nothing more is appended.
    assert_eq!(replay.activity_step(1, 3).unwrap_err(), err);
    assert_eq!(replay.complete(Ok(json!(null).into()), 3).unwrap_err(), err);
}

#[test]
fn replay_rejects_completion_while_commands_remain() {
    let mut first = run_with(started());
    let mut history = started();
    history.extend(live_activity(&mut first, "reserve", 1));
    let mut replay = run_with(history);
    let err = replay.complete(Ok(json!("done").into()), 2).unwrap_err();
    assert!(
        matches!(err, Error::NonDeterminism { seq: 2, .. }),
        "{err:?}"
    );
}

#[test]
fn replay_rejects_activity_where_history_completed() {
    let mut first = run_with(started());
    let Recorded::Live((), append) = first.complete(Ok(json!(1).into()), 1).unwrap() else {
        panic!()
    };
    let mut history = started();
    history.extend(append.events);
    let mut replay = run_with(history);
    let err = replay
        .dispatch_activity("x", json!(1).into(), &Value::Null, 2)
        .unwrap_err();
    assert!(
        matches!(&err, Error::NonDeterminism { seq: 2, recorded, .. } if recorded == "WorkflowCompleted"),
        "{err:?}"
    );
}

#[test]
fn retryable_failure_waits_backoff_then_starts_next_attempt() {
    let mut run = run_with(started());
    let ordinal = live_ordinal(&mut run, "pay");
    let failed = failure("io", "boom", true);
    let append = run
        .activity_result(ordinal, 1, failed, 1000)
        .unwrap()
        .unwrap();
    assert!(matches!(
        append.events[0].kind,
        EventKind::ActivityFailed {
            retryable: true,
            attempt: 1,
            ..
        }
    ));
    assert_eq!(run.activity_step(ordinal, 1040).unwrap(), Step::RetryIn(60));
    let Step::Start { append, task } = run.activity_step(ordinal, 1100).unwrap() else {
        panic!()
    };
    assert_eq!(task.attempt, 2);
    assert_eq!(
        append.events[0].kind,
        EventKind::ActivityStarted {
            ordinal,
            attempt: 2
        }
    );
}

#[test]
fn schedule_to_close_bounds_attempts_and_retry_delays_together() {
    let mut run = run_with(started());
    let config = json!({
        "schedule_to_close_ms": 1_000,
        "start_to_close_ms": 5_000,
        "retry": {"max_attempts": 0, "initial_interval_ms": 300, "backoff_coefficient": 1.0,
                  "max_interval_ms": 300}
    });
    let Dispatch::Live {
        ordinal,
        task: Some(task),
        ..
    } = run
        .dispatch_activity("pay", json!(1).into(), &config, 0)
        .unwrap()
    else {
        panic!("expected a live dispatch")
    };
    // The first attempt may run until the deadline, not its own 5 s.
    assert_eq!(task.start_to_close_ms, Some(1_000));
    // What is left of the deadline travels on its own too: it counts from the hand-out
    // (an attempt queued behind its task queue's bound must still stop at it).
    assert_eq!(task.schedule_to_close_left_ms, Some(1_000));
    // Failing at 200: a retry at 500 is still before the deadline.
    run.activity_result(ordinal, 1, failure("io", "boom", true), 200)
        .unwrap()
        .unwrap();
    let Step::Start { task, .. } = run.activity_step(ordinal, 500).unwrap() else {
        panic!("expected the second attempt")
    };
    assert_eq!(task.start_to_close_ms, Some(500));
    assert_eq!(task.schedule_to_close_left_ms, Some(500));
    // Failing at 800: the next retry (1 100) would pass it — the activity ends here.
    let append = run
        .activity_result(ordinal, 2, failure("io", "again", true), 800)
        .unwrap()
        .unwrap();
    let EventKind::ActivityFailed {
        retryable, error, ..
    } = &append.events[0].kind
    else {
        panic!("expected ActivityFailed")
    };
    assert!(!retryable);
    assert_eq!(error["type"], "schedule_to_close_timeout");
    assert!(error["message"].as_str().unwrap().contains("io: again"));
    let Step::Done(Err(outcome)) = run.activity_step(ordinal, 900).unwrap() else {
        panic!("expected the activity's failure")
    };
    assert_eq!(outcome["attempts"], 2);
    // Options without the deadline record no such field (histories stay as they were).
    assert!(ActivityOptions::default()
        .to_json()
        .get("schedule_to_close_ms")
        .is_none());
    assert!(ActivityOptions::from_json(&json!({"schedule_to_close_ms": 0})).is_err());
}

/// A failed attempt carrying its last heartbeat's details.
fn failure_with(error_type: &str, details: Option<Value>) -> AttemptOutcome {
    AttemptOutcome::Failed {
        error_type: error_type.into(),
        message: "stopped".into(),
        retryable: true,
        details,
    }
}

/// The `error` of the `ActivityFailed` an append holds.
fn failed_error(append: &Append) -> Value {
    match &append.events[0].kind {
        EventKind::ActivityFailed { error, .. } => error.clone(),
        other => panic!("expected ActivityFailed, got {other:?}"),
    }
}

#[test]
fn heartbeat_details_recorded_with_failure_and_handed_to_next_attempt() {
    let mut history = started();
    let mut run = run_with(history.clone());
    let config = json!({"heartbeat_timeout_ms": 500,
                        "retry": {"max_attempts": 0, "initial_interval_ms": 10,
                                  "max_interval_ms": 10}});
    let Dispatch::Live {
        ordinal,
        append,
        task: Some(task),
    } = run
        .dispatch_activity("scan", json!(1).into(), &config, 0)
        .unwrap()
    else {
        panic!("expected a live dispatch")
    };
    history.extend(append.events.clone());
    let EventKind::ActivityScheduled {
        config: recorded, ..
    } = &append.events[0].kind
    else {
        panic!("expected ActivityScheduled")
    };
    assert_eq!(recorded["heartbeat_timeout_ms"], 500);
    assert_eq!(task.heartbeat_timeout_ms, Some(500));
    assert_eq!(task.last_heartbeat, None);
    // Attempt 1 misses a heartbeat after reporting page 3: the failure records it.
    let append = run
        .activity_result(
            ordinal,
            1,
            failure_with("heartbeat_timeout", Some(json!({"page": 3}))),
            100,
        )
        .unwrap()
        .unwrap();
    assert_eq!(failed_error(&append)["details"], json!({"page": 3}));
    assert_eq!(failed_error(&append)["type"], "heartbeat_timeout");
    history.extend(append.events);
    let next = |run: &mut Run, history: &mut Vec<Event>, now: i64| {
        let Step::Start { append, task } = run.activity_step(ordinal, now).unwrap() else {
            panic!("expected the next attempt")
        };
        history.extend(append.events);
        task
    };
    let task = next(&mut run, &mut history, 200);
    assert_eq!(
        (task.attempt, task.last_heartbeat),
        (2, Some(json!({"page": 3})))
    );
    // Attempt 2 fails without heartbeating (or is lost with its node): page 3 remains.
    let append = run
        .activity_result(ordinal, 2, failure_with("worker_lost", None), 300)
        .unwrap()
        .unwrap();
    assert!(failed_error(&append).get("details").is_none());
    history.extend(append.events);
    let task = next(&mut run, &mut history, 400);
    assert_eq!(
        (task.attempt, task.last_heartbeat),
        (3, Some(json!({"page": 3})))
    );
    // Attempt 3 gets to page 7 and crashes; `null` details would record nothing.
    let append = run
        .activity_result(
            ordinal,
            3,
            failure_with("crash", Some(json!({"page": 7}))),
            500,
        )
        .unwrap()
        .unwrap();
    history.extend(append.events);
    // A replay of that history hands page 7 to attempt 4, as the live run does.
    for mut run in [replay_of(&history), run] {
        if run.next_ordinal == 1 {
            assert_eq!(
                run.dispatch_activity("scan", json!(1).into(), &config, 0)
                    .unwrap(),
                Dispatch::Replayed { ordinal }
            );
        }
        let Step::Start { task, .. } = run.activity_step(ordinal, 600).unwrap() else {
            panic!("expected attempt 4")
        };
        assert_eq!(
            (task.attempt, task.last_heartbeat),
            (4, Some(json!({"page": 7})))
        );
    }
    // The details also survive a failure that becomes schedule_to_close_timeout.
    let mut run = run_with(started());
    let config = json!({"schedule_to_close_ms": 100, "heartbeat_timeout_ms": 50});
    let Dispatch::Live { ordinal, .. } = run
        .dispatch_activity("scan", json!(1).into(), &config, 0)
        .unwrap()
    else {
        panic!("expected a live dispatch")
    };
    let append = run
        .activity_result(
            ordinal,
            1,
            failure_with("heartbeat_timeout", Some(json!("p9"))),
            90,
        )
        .unwrap()
        .unwrap();
    let error = failed_error(&append);
    assert_eq!(
        (error["type"].as_str(), &error["details"]),
        (Some("schedule_to_close_timeout"), &json!("p9"))
    );
}

#[test]
fn old_histories_without_heartbeat_fields_replay_unchanged() {
    // An activity scheduled, started and failed before heartbeats existed: its recorded
    // options have no heartbeat_timeout_ms and its error no details.
    let old_config = json!({
        "retry": {"max_attempts": 3, "initial_interval_ms": 100, "backoff_coefficient": 2.0,
                  "max_interval_ms": 10000, "non_retryable": []},
        "start_to_close_ms": null,
        "task_queue": "default"
    });
    let mut history = started();
    for (seq, kind) in [
        EventKind::ActivityScheduled {
            ordinal: 1,
            name: "pay".into(),
            input: json!(1).into(),
            config: old_config.clone(),
        },
        EventKind::ActivityStarted {
            ordinal: 1,
            attempt: 1,
        },
        EventKind::ActivityFailed {
            ordinal: 1,
            error: json!({"type": "io", "message": "boom"}),
            attempt: 1,
            retryable: true,
            cause: None,
        },
    ]
    .into_iter()
    .enumerate()
    {
        history.push(Event {
            seq: seq as u64 + 2,
            recorded_at: 10,
            kind,
        });
    }
    let mut run = replay_of(&history);
    // The same call today records the same options: it replays, no non-determinism.
    assert_eq!(ActivityOptions::default().to_json(), old_config);
    assert_eq!(
        run.dispatch_activity("pay", json!(1).into(), &Value::Null, 20)
            .unwrap(),
        Dispatch::Replayed { ordinal: 1 }
    );
    let Step::Start { task, .. } = run.activity_step(1, 1_000).unwrap() else {
        panic!("expected attempt 2")
    };
    assert_eq!(
        (task.attempt, task.heartbeat_timeout_ms, task.last_heartbeat),
        (2, None, None)
    );
}

#[test]
fn terminal_failure_is_final_and_not_retried() {
    let mut run = run_with(started());
    let ordinal = live_ordinal(&mut run, "pay");
    let failed = failure("declined", "no", false);
    run.activity_result(ordinal, 1, failed, 1).unwrap().unwrap();
    let Step::Done(Err(e)) = run.activity_step(ordinal, 2).unwrap() else {
        panic!()
    };
    assert_eq!(e["type"], "declined");
    assert_eq!(e["attempts"], 1);
}

#[test]
fn stale_and_duplicate_results_change_nothing() {
    let mut run = run_with(started());
    let ordinal = live_ordinal(&mut run, "pay");
    assert_eq!(
        run.activity_result(ordinal, 2, AttemptOutcome::Completed(json!(1).into()), 1)
            .unwrap(),
        None
    );
    assert!(run
        .activity_result(ordinal, 1, AttemptOutcome::Completed(json!(1).into()), 1)
        .unwrap()
        .is_some());
    let head = run.head();
    assert_eq!(
        run.activity_result(ordinal, 1, AttemptOutcome::Completed(json!(2).into()), 1)
            .unwrap(),
        None
    );
    assert_eq!(run.head(), head);
}

#[test]
fn attempt_lost_in_a_crash_is_recorded_failed_then_retried() {
    let mut first = run_with(started());
    let Dispatch::Live { append, .. } = first
        .dispatch_activity("ship", json!(1).into(), &Value::Null, 0)
        .unwrap()
    else {
        panic!()
    };
    let mut history = started();
    history.extend(append.events);
    let mut resumed = run_with(history);
    assert_eq!(
        resumed
            .dispatch_activity("ship", json!(1).into(), &Value::Null, 10)
            .unwrap(),
        Dispatch::Replayed { ordinal: 1 }
    );
    let Step::Record(rec) = resumed.activity_step(1, 10).unwrap() else {
        panic!()
    };
    assert!(matches!(&rec.events[0].kind,
        EventKind::ActivityFailed { attempt: 1, retryable: true, error, .. } if error["type"] == "worker_lost"));
    assert!(matches!(
        resumed.activity_step(1, 10_000).unwrap(),
        Step::Start {
            task: AttemptTask { attempt: 2, .. },
            ..
        }
    ));
}

#[test]
fn load_rejects_gaps_and_missing_start() {
    let mut h = started();
    h.push(Event {
        seq: 3,
        recorded_at: 0,
        kind: EventKind::WorkflowCompleted {
            result: json!(1).into(),
        },
    });
    assert_eq!(Run::load("wf", h).unwrap_err().kind(), "corrupt");
    let no_start = vec![Event {
        seq: 1,
        recorded_at: 0,
        kind: EventKind::WorkflowCompleted {
            result: json!(1).into(),
        },
    }];
    assert_eq!(Run::load("wf", no_start).unwrap_err().kind(), "corrupt");
    assert_eq!(Run::load("wf", vec![]).unwrap_err().kind(), "not_found");
}

/// Replays `history` into a fresh run.
fn replay_of(history: &[Event]) -> Run {
    run_with(history.to_vec())
}

/// Appends the events of a recorded answer to `history`.
fn keep<T>(history: &mut Vec<Event>, answer: Recorded<T>) -> T {
    match answer {
        Recorded::Live(v, append) => {
            history.extend(append.events);
            v
        }
        Recorded::Replayed(v) => v,
    }
}

fn keep_step(history: &mut Vec<Event>, step: Step) -> Step {
    if let Step::Record(append) | Step::Start { append, .. } = &step {
        history.extend(append.events.clone());
    }
    step
}

#[test]
fn timer_waits_until_due_then_fires_once_and_replays_without_events() {
    let mut history = started();
    let mut run = replay_of(&history);
    let t = keep(&mut history, run.start_timer("nap", 1000, 100).unwrap());
    assert_eq!(
        run.timer_step(t, 500).unwrap(),
        Step::Wait { until: Some(1100) }
    );
    assert!(matches!(
        keep_step(&mut history, run.timer_step(t, 1100).unwrap()),
        Step::Record(_)
    ));
    assert_eq!(
        run.timer_step(t, 1100).unwrap(),
        Step::Done(Ok(Value::Null.into()))
    );
    assert_eq!(run.now(), 1100);

    let mut again = replay_of(&history);
    let head = again.head();
    assert_eq!(
        again.start_timer("nap", 1000, 9999).unwrap(),
        Recorded::Replayed(t)
    );
    assert_eq!(
        again.timer_step(t, 9999).unwrap(),
        Step::Done(Ok(Value::Null.into()))
    );
    assert_eq!((again.head(), again.now()), (head, 1100));
}

#[test]
fn timer_due_while_down_fires_at_the_first_step() {
    let mut history = started();
    let mut run = replay_of(&history);
    let t = keep(&mut history, run.start_timer("nap", 10, 0).unwrap());
    let mut resumed = replay_of(&history);
    assert_eq!(
        resumed.start_timer("nap", 10, 0).unwrap(),
        Recorded::Replayed(t)
    );
    assert!(matches!(
        resumed.timer_step(t, 50_000).unwrap(),
        Step::Record(_)
    ));
}

#[test]
fn replay_rejects_timer_kind_name_and_missing_cancel_mismatches() {
    let mut history = started();
    let mut run = replay_of(&history);
    let t = keep(&mut history, run.start_timer("nap", 10, 0).unwrap());
    history.extend(run.cancel_timer(t, 1).unwrap().unwrap().events);

    // A timer where history has an activity, and the reverse.
    let mut other = started();
    other.extend(live_activity(&mut run_with(started()), "a", 0));
    let err = replay_of(&other).start_timer("nap", 10, 0).unwrap_err();
    assert!(
        err.to_string()
            .contains("ActivityScheduled(ordinal 1, name \"a\")"),
        "{err}"
    );
    let err = replay_of(&history)
        .dispatch_activity("a", json!(1).into(), &Value::Null, 0)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("TimerStarted(timer 1, name \"nap\")"),
        "{err}"
    );
    // A different timer name.
    let err = replay_of(&history)
        .start_timer("snooze", 10, 0)
        .unwrap_err();
    assert!(matches!(err, Error::NonDeterminism { seq: 2, .. }), "{err}");
    // A missing cancel: the code goes on to complete where history cancelled the timer.
    let mut replay = replay_of(&history);
    replay.start_timer("nap", 10, 0).unwrap();
    let err = replay.complete(Ok(json!(1).into()), 2).unwrap_err();
    assert!(err.to_string().contains("TimerCancelled(timer 1)"), "{err}");
    // The same code replays cleanly.
    let mut same = replay_of(&history);
    same.start_timer("nap", 10, 0).unwrap();
    assert_eq!(same.cancel_timer(t, 5).unwrap(), None);
    assert!(!same.is_replaying());
}

#[test]
fn cancel_timer_is_idempotent_and_fired_timer_cannot_be_cancelled() {
    let mut run = run_with(started());
    let Recorded::Live(t, _) = run.start_timer("nap", 10, 0).unwrap() else {
        panic!()
    };
    assert!(run.cancel_timer(t, 1).unwrap().is_some());
    assert_eq!(run.cancel_timer(t, 2).unwrap(), None);
    assert_eq!(run.timer_step(t, 100).unwrap(), Step::Cancelled);
    let Recorded::Live(t2, _) = run.start_timer("nap", 10, 0).unwrap() else {
        panic!()
    };
    assert!(matches!(run.timer_step(t2, 100).unwrap(), Step::Record(_)));
    assert_eq!(run.cancel_timer(t2, 101).unwrap(), None);
    assert_eq!(
        run.timer_step(t2, 102).unwrap(),
        Step::Done(Ok(Value::Null.into()))
    );
}

#[test]
fn with_timeout_outcome_after_deadline_is_a_timeout_on_every_replay() {
    let mut history = started();
    let mut run = replay_of(&history);
    let scope = keep(&mut history, run.enter_scope(100, 0).unwrap());
    let Dispatch::Live {
        ordinal, append, ..
    } = run
        .dispatch_activity("slow", json!(1).into(), &Value::Null, 0)
        .unwrap()
    else {
        panic!()
    };
    history.extend(append.events);
    assert_eq!(
        run.activity_step(ordinal, 50).unwrap(),
        Step::Wait { until: Some(100) }
    );
    assert!(matches!(
        keep_step(&mut history, run.activity_step(ordinal, 120).unwrap()),
        Step::Record(_)
    ));
    assert_eq!(run.activity_step(ordinal, 120).unwrap(), Step::Timeout);
    // The result arrives after the deadline and is recorded too.
    history.extend(
        run.activity_result(
            ordinal,
            1,
            AttemptOutcome::Completed(json!("late").into()),
            130,
        )
        .unwrap()
        .unwrap()
        .events,
    );
    assert_eq!(run.exit_scope(scope, 140).unwrap(), (true, None));

    let mut again = replay_of(&history);
    again.enter_scope(100, 0).unwrap();
    again
        .dispatch_activity("slow", json!(1).into(), &Value::Null, 0)
        .unwrap();
    assert_eq!(again.activity_step(ordinal, 9999).unwrap(), Step::Timeout);
    assert_eq!(again.exit_scope(scope, 9999).unwrap(), (true, None));
}

#[test]
fn with_timeout_result_before_deadline_wins_and_scope_is_cancelled() {
    let mut run = run_with(started());
    let Recorded::Live(scope, _) = run.enter_scope(100, 0).unwrap() else {
        panic!()
    };
    let ordinal = live_ordinal(&mut run, "fast");
    run.activity_result(ordinal, 1, AttemptOutcome::Completed(json!(7).into()), 10)
        .unwrap()
        .unwrap();
    assert_eq!(
        run.activity_step(ordinal, 500).unwrap(),
        Step::Done(Ok(json!(7).into()))
    );
    let (timed_out, cancel) = run.exit_scope(scope, 500).unwrap();
    assert!(!timed_out);
    assert!(
        matches!(&cancel.unwrap().events[0].kind, EventKind::TimerCancelled { cause, .. } if *cause == Cause::Workflow)
    );
}

#[test]
fn cancel_request_cancels_pending_work_once_then_compensation_runs() {
    let mut run = run_with(started());
    let ordinal = live_ordinal(&mut run, "charge");
    let Recorded::Live(t, _) = run.start_timer("nap", 1000, 0).unwrap() else {
        panic!()
    };
    let stop = run.request_cancel(json!("user asked"), 5).unwrap();
    assert_eq!(stop.stop, vec![(ordinal, 1)]);
    let names: Vec<&str> = stop
        .append
        .as_ref()
        .unwrap()
        .events
        .iter()
        .map(|e| e.kind.name())
        .collect();
    assert_eq!(
        names,
        vec![
            "WorkflowCancelRequested",
            "ActivityFailed",
            "TimerCancelled"
        ]
    );
    assert_eq!(run.request_cancel(json!("again"), 6).unwrap().append, None);
    // The late result of the stopped attempt is stale.
    assert_eq!(
        run.activity_result(ordinal, 1, AttemptOutcome::Completed(json!(1).into()), 7)
            .unwrap(),
        None
    );
    assert_eq!(run.activity_step(ordinal, 8).unwrap(), Step::Cancelled);
    assert_eq!(run.timer_step(t, 8).unwrap(), Step::Cancelled);
    // Compensation after the code saw the cancellation runs normally.
    assert!(matches!(
        run.dispatch_activity("refund", json!(1).into(), &Value::Null, 9)
            .unwrap(),
        Dispatch::Live { task: Some(_), .. }
    ));
    let Recorded::Live((), append) = run.complete(Ok(json!("refunded").into()), 10).unwrap() else {
        panic!()
    };
    assert!(
        matches!(&append.events[0].kind, EventKind::WorkflowCancelled { details } if details["ok"] == "refunded")
    );
}

#[test]
fn cancel_request_with_nothing_pending_cancels_the_next_new_activity() {
    let mut run = run_with(started());
    run.request_cancel(json!(null), 1).unwrap();
    let Dispatch::Live { ordinal, task, .. } = run
        .dispatch_activity("a", json!(1).into(), &Value::Null, 2)
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(task, None);
    assert_eq!(run.activity_step(ordinal, 3).unwrap(), Step::Cancelled);
    assert!(matches!(
        run.dispatch_activity("b", json!(1).into(), &Value::Null, 4)
            .unwrap(),
        Dispatch::Live { task: Some(_), .. }
    ));
}

#[test]
fn side_effect_patched_random_and_uuid_replay_identically() {
    let mut history = started();
    let mut run = replay_of(&history);
    let SideEffect::Live { ordinal } = run.side_effect().unwrap() else {
        panic!()
    };
    history.extend(
        run.record_side_effect(ordinal, json!(42).into(), 1)
            .unwrap()
            .events,
    );
    assert!(keep(&mut history, run.patched("v2", 1).unwrap()));
    assert!(matches!(
        run.patched("v2", 1).unwrap(),
        Recorded::Replayed(true)
    ));
    let (r, u) = (run.random(), run.uuid());
    assert!((0.0..1.0).contains(&r));
    assert_eq!(u.len(), 36);
    assert_eq!(&u[14..15], "4");

    let mut again = replay_of(&history);
    assert_eq!(
        again.side_effect().unwrap(),
        SideEffect::Replayed(json!(42).into())
    );
    assert_eq!(again.patched("v2", 5).unwrap(), Recorded::Replayed(true));
    assert_eq!((again.random(), again.uuid()), (r, u));
}

#[test]
fn patched_is_false_when_replaying_history_from_before_the_change() {
    let mut old = run_with(started());
    let mut history = started();
    history.extend(live_activity(&mut old, "old_step", 1));
    let mut new_code = replay_of(&history);
    assert_eq!(
        new_code.patched("new-step", 2).unwrap(),
        Recorded::Replayed(false)
    );
    new_code
        .dispatch_activity("old_step", json!(1).into(), &Value::Null, 2)
        .unwrap();
    // Past the recorded history, the change applies and is recorded.
    assert!(matches!(
        new_code.patched("later", 3).unwrap(),
        Recorded::Live(true, _)
    ));
}

#[test]
fn continue_as_new_closes_the_run_and_starts_a_linked_one() {
    let mut run = run_with(started());
    let c = run
        .continue_as_new(json!({"n": 2}).into(), "r2", 7)
        .unwrap();
    assert!(
        matches!(&c.close.events[0].kind, EventKind::WorkflowContinuedAsNew { new_run_id, .. } if new_run_id == "r2")
    );
    assert!(
        matches!(&c.start.kind, EventKind::WorkflowStarted { continued_from: Some(f), run_id, .. } if f == "r1" && run_id == "r2")
    );
    assert!(run.is_closed());
    assert!(run
        .dispatch_activity("a", json!(1).into(), &Value::Null, 8)
        .is_err());
}

#[test]
fn terminate_ends_even_a_diverged_run_but_not_a_closed_one() {
    let mut first = run_with(started());
    let mut history = started();
    history.extend(live_activity(&mut first, "a", 1));
    let mut run = replay_of(&history);
    assert!(run
        .dispatch_activity("b", json!(1).into(), &Value::Null, 2)
        .is_err());
    let stop = run
        .end(
            EventKind::WorkflowTerminated {
                reason: json!("ops"),
            },
            3,
        )
        .unwrap();
    assert_eq!(stop.append.unwrap().events[0].seq, run.head());
    assert_eq!(
        run.end(
            EventKind::WorkflowTerminated {
                reason: json!("ops")
            },
            4
        )
        .unwrap_err()
        .kind(),
        "not_running"
    );
}

#[test]
fn replay_rejects_side_effect_and_continue_as_new_mismatches() {
    let mut history = started();
    let mut run = replay_of(&history);
    keep(&mut history, run.start_timer("nap", 10, 0).unwrap());
    // A side effect where history has a timer.
    let err = replay_of(&history).side_effect().unwrap_err();
    assert!(
        err.to_string()
            .contains("TimerStarted(timer 1, name \"nap\")"),
        "{err}"
    );
    assert!(
        err.to_string().contains("SideEffectRecorded(ordinal 1)"),
        "{err}"
    );
    // Continue-as-new where history has a timer.
    let err = replay_of(&history)
        .continue_as_new(json!(1).into(), "r2", 1)
        .unwrap_err();
    assert!(err.to_string().contains("WorkflowContinuedAsNew"), "{err}");
    // A timer where history has a side effect.
    let mut other = started();
    let mut first = replay_of(&other);
    let SideEffect::Live { ordinal } = first.side_effect().unwrap() else {
        panic!()
    };
    other.extend(
        first
            .record_side_effect(ordinal, json!(1).into(), 1)
            .unwrap()
            .events,
    );
    let mut replay = replay_of(&other);
    let err = replay.start_timer("nap", 10, 0).unwrap_err();
    assert!(matches!(err, Error::NonDeterminism { seq: 2, .. }), "{err}");
}

#[test]
fn signals_are_consumed_in_arrival_order_and_deduplicated() {
    let mut history = started();
    let mut run = replay_of(&history);
    assert_eq!(
        run.signal_step("go", 0).unwrap(),
        Step::Wait { until: None }
    );
    for (i, p) in ["a", "b"].iter().enumerate() {
        let id = Some(format!("s{i}"));
        history.extend(
            run.record_signal("go", json!(p).into(), id, 10)
                .unwrap()
                .unwrap()
                .events,
        );
    }
    assert_eq!(
        run.record_signal("go", json!("a").into(), Some("s0".into()), 11)
            .unwrap(),
        None
    );
    assert_eq!(
        run.signal_step("go", 12).unwrap(),
        Step::Done(Ok(json!("a").into()))
    );
    assert_eq!(
        run.signal_step("go", 12).unwrap(),
        Step::Done(Ok(json!("b").into()))
    );
    assert_eq!(
        run.signal_step("other", 12).unwrap(),
        Step::Wait { until: None }
    );
    let mut again = replay_of(&history);
    assert_eq!(
        again.signal_step("go", 99).unwrap(),
        Step::Done(Ok(json!("a").into()))
    );
}

#[test]
fn signal_after_receive_timeout_is_left_for_the_next_receive() {
    let mut history = started();
    let mut run = replay_of(&history);
    let scope = keep(&mut history, run.enter_scope(100, 0).unwrap());
    assert!(matches!(
        keep_step(&mut history, run.signal_step("go", 150).unwrap()),
        Step::Record(_)
    ));
    assert_eq!(run.signal_step("go", 150).unwrap(), Step::Timeout);
    run.exit_scope(scope, 150).unwrap();
    history.extend(
        run.record_signal("go", json!(1).into(), None, 160)
            .unwrap()
            .unwrap()
            .events,
    );

    let mut again = replay_of(&history);
    again.enter_scope(100, 0).unwrap();
    assert_eq!(again.signal_step("go", 999).unwrap(), Step::Timeout);
    again.exit_scope(scope, 999).unwrap();
    assert_eq!(
        again.signal_step("go", 999).unwrap(),
        Step::Done(Ok(json!(1).into()))
    );
}

#[test]
fn outgoing_signal_is_redelivered_until_its_result_is_recorded() {
    let mut history = started();
    let mut run = replay_of(&history);
    let out = keep(
        &mut history,
        run.send_signal("other", "go", json!(1).into(), 0).unwrap(),
    );
    let Outgoing::Deliver { ordinal, signal_id } = out else {
        panic!()
    };
    assert_eq!(signal_id, "wf/r1/signal-1");
    let mut crashed = replay_of(&history);
    assert!(matches!(
        crashed
            .send_signal("other", "go", json!(1).into(), 0)
            .unwrap(),
        Recorded::Replayed(Outgoing::Deliver { .. })
    ));
    history.extend(
        run.signal_delivered(ordinal, Delivery::Ok, 1)
            .unwrap()
            .unwrap()
            .events,
    );
    let mut again = replay_of(&history);
    assert_eq!(
        again
            .send_signal("other", "go", json!(1).into(), 0)
            .unwrap(),
        Recorded::Replayed(Outgoing::Delivered(Delivery::Ok))
    );
}

#[test]
fn accepted_update_runs_before_the_outcome_that_followed_it_on_replay() {
    let mut history = started();
    let mut run = replay_of(&history);
    let Dispatch::Live {
        ordinal, append, ..
    } = run
        .dispatch_activity("a", json!(1).into(), &Value::Null, 0)
        .unwrap()
    else {
        panic!()
    };
    history.extend(append.events);
    history.extend(
        run.accept_update("u1", "set", json!(5).into(), 1)
            .unwrap()
            .events,
    );
    assert!(
        matches!(run.activity_step(ordinal, 2).unwrap(), Step::Update { ref update_id, .. } if update_id == "u1")
    );
    keep(
        &mut history,
        run.complete_update("u1", Ok(json!("done")), 3).unwrap(),
    );
    assert_eq!(
        run.activity_step(ordinal, 4).unwrap(),
        Step::Wait { until: None }
    );
    history.extend(
        run.activity_result(ordinal, 1, AttemptOutcome::Completed(json!(7).into()), 5)
            .unwrap()
            .unwrap()
            .events,
    );

    let mut again = replay_of(&history);
    again
        .dispatch_activity("a", json!(1).into(), &Value::Null, 0)
        .unwrap();
    assert!(matches!(
        again.activity_step(ordinal, 9).unwrap(),
        Step::Update { .. }
    ));
    assert_eq!(
        again.complete_update("u1", Ok(json!("done")), 9).unwrap(),
        Recorded::Replayed(())
    );
    assert_eq!(
        again.activity_step(ordinal, 9).unwrap(),
        Step::Done(Ok(json!(7).into()))
    );
}

#[test]
fn child_outcome_and_parent_close_policy() {
    let mut history = started();
    let mut run = replay_of(&history);
    let start = keep(
        &mut history,
        run.start_child("job", json!(1).into(), None, ChildPolicy::RequestCancel, 0)
            .unwrap(),
    );
    assert_eq!(start.workflow_id, "wf/r1/child-1");
    assert!(start.create);
    assert_eq!(run.child_step(1, 1).unwrap(), Step::Wait { until: None });
    assert_eq!(
        run.open_children(),
        vec![("wf/r1/child-1".to_string(), ChildPolicy::RequestCancel)]
    );
    history.extend(
        run.child_completed(1, ChildStatus::Completed, json!(42), 2)
            .unwrap()
            .unwrap()
            .events,
    );
    assert_eq!(
        run.child_step(1, 3).unwrap(),
        Step::Done(Ok(json!(42).into()))
    );
    assert!(run.open_children().is_empty());
    let mut again = replay_of(&history);
    let Recorded::Replayed(replayed) = again
        .start_child("job", json!(1).into(), None, ChildPolicy::RequestCancel, 9)
        .unwrap()
    else {
        panic!()
    };
    assert!(!replayed.create);
    assert_eq!(
        again.child_step(1, 9).unwrap(),
        Step::Done(Ok(json!(42).into()))
    );
}

#[test]
fn select_picks_the_first_settled_in_history_order() {
    let mut run = run_with(started());
    let a = live_ordinal(&mut run, "a");
    let b = live_ordinal(&mut run, "b");
    let items = [Awaitable::Activity(a), Awaitable::Activity(b)];
    assert_eq!(
        run.select(&items, 1).unwrap(),
        (0, Step::Wait { until: None })
    );
    run.activity_result(b, 1, AttemptOutcome::Completed(json!("b").into()), 2)
        .unwrap();
    run.activity_result(a, 1, AttemptOutcome::Completed(json!("a").into()), 3)
        .unwrap();
    assert_eq!(
        run.select(&items, 4).unwrap(),
        (1, Step::Done(Ok(json!("b").into())))
    );
    let stop = run.cancel_activity(a, 5).unwrap();
    assert_eq!(stop.append, None);
    let c = live_ordinal(&mut run, "c");
    let stop = run.cancel_activity(c, 6).unwrap();
    assert_eq!(stop.stop, vec![(c, 1)]);
    assert!(
        matches!(run.activity_step(c, 7).unwrap(), Step::Done(Err(e)) if e["type"] == "cancelled")
    );
}

#[test]
fn select_settled_gives_every_result_in_history_order_up_to_the_first_failure() {
    let mut run = run_with(started());
    let ordinals: Vec<u64> = ["a", "b", "c", "d"]
        .iter()
        .map(|name| live_ordinal(&mut run, name))
        .collect();
    let items: Vec<_> = ordinals.iter().map(|o| Awaitable::Activity(*o)).collect();
    assert_eq!(
        run.select_settled(&items, 1).unwrap(),
        vec![(0, Step::Wait { until: None })]
    );
    let fail = |message: &str| AttemptOutcome::Failed {
        error_type: "boom".into(),
        message: message.into(),
        retryable: false,
        details: None,
    };
    run.activity_result(
        ordinals[2],
        1,
        AttemptOutcome::Completed(json!("c").into()),
        2,
    )
    .unwrap();
    run.activity_result(
        ordinals[0],
        1,
        AttemptOutcome::Completed(json!("a").into()),
        3,
    )
    .unwrap();
    run.activity_result(ordinals[3], 1, fail("d"), 4).unwrap();
    run.activity_result(
        ordinals[1],
        1,
        AttemptOutcome::Completed(json!("b").into()),
        5,
    )
    .unwrap();
    let steps = run.select_settled(&items, 6).unwrap();
    // c, a (successes, in the order they were recorded), then d's failure; b (recorded
    // after it) is not observed.
    assert_eq!(
        steps.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        vec![2, 0, 3]
    );
    assert_eq!(steps[0].1, Step::Done(Ok(json!("c").into())));
    assert!(matches!(&steps[2].1, Step::Done(Err(e)) if e["message"] == "d"));
    // The same, call after call, from select.
    let mut again = run_with(started());
    for name in ["a", "b", "c", "d"] {
        live_ordinal(&mut again, name);
    }
    again
        .activity_result(
            ordinals[2],
            1,
            AttemptOutcome::Completed(json!("c").into()),
            2,
        )
        .unwrap();
    again
        .activity_result(
            ordinals[0],
            1,
            AttemptOutcome::Completed(json!("a").into()),
            3,
        )
        .unwrap();
    again.activity_result(ordinals[3], 1, fail("d"), 4).unwrap();
    let mut pending = items.clone();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let (index, step) = again.select(&pending, 6).unwrap();
        seen.push((
            items.iter().position(|i| *i == pending[index]).unwrap(),
            step,
        ));
        pending.remove(index);
    }
    assert_eq!(seen, steps);
    assert_eq!(again.now(), run.now());
}

#[test]
fn merged_appends_continue_the_first_head() {
    let mut run = run_with(started());
    let mut appends = Vec::new();
    for name in ["a", "b"] {
        let Dispatch::Live { append, .. } = run
            .dispatch_activity(name, json!(1).into(), &Value::Null, 0)
            .unwrap()
        else {
            panic!()
        };
        appends.push(append);
    }
    let merged = Append::merge(appends).unwrap();
    assert_eq!(merged.expected_head, 1);
    assert_eq!(
        merged.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![2, 3, 4, 5]
    );
    assert_eq!(Append::merge(Vec::new()), None);
}
