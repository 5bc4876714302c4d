//! One behaviour suite every [`EventStore`] backend must pass.

use serde_json::json;

use super::{AppendRequest, EventStore, ListFilter, Status};
use crate::event::{Event, EventKind};
use crate::replay::Run;

type Factory<'a> = &'a dyn Fn() -> Box<dyn EventStore>;

pub(crate) fn start_request(id: &str) -> AppendRequest {
    AppendRequest {
        workflow_id: id.to_string(),
        run_id: "run-1".to_string(),
        expected_head: 0,
        events: vec![Run::start_event(
            "order",
            json!({"id": id}).into(),
            "run-1",
            10,
        )],
    }
}

pub(crate) fn create(store: &dyn EventStore, id: &str) {
    store.append(start_request(id)).unwrap();
}

fn event(seq: u64, kind: EventKind) -> Event {
    Event {
        seq,
        recorded_at: 20 + seq as i64,
        kind,
    }
}

fn scheduled(seq: u64, ordinal: u64) -> Event {
    event(
        seq,
        EventKind::ActivityScheduled {
            ordinal,
            name: "a".into(),
            input: json!(1).into(),
            config: json!({}),
        },
    )
}

pub(crate) fn run_all(factory: Factory<'_>) {
    append_then_read_returns_events_in_order(factory());
    create_existing_id_is_refused(factory());
    stale_head_append_is_refused_and_changes_nothing(factory());
    gap_in_numbering_is_refused(factory());
    closing_event_updates_summary_and_closes_history(factory());
    list_filters_by_status_and_type(factory());
    batch_isolates_failures(factory());
    continue_as_new_group_starts_a_fresh_run_and_keeps_the_old(factory());
    list_pages_by_cursor_in_both_orders(factory());
    prune_removes_closed_workflows_only(factory());
}

/// Creates `id` at time `at`.
fn create_at(store: &dyn EventStore, id: &str, at: i64) {
    let mut request = start_request(id);
    request.events[0].recorded_at = at;
    store.append(request).unwrap();
}

/// Closes `id` (head 1) as completed at time `at`.
fn complete_at(store: &dyn EventStore, id: &str, at: i64) {
    store
        .append(AppendRequest {
            workflow_id: id.into(),
            run_id: "run-1".into(),
            expected_head: 1,
            events: vec![Event {
                seq: 2,
                recorded_at: at,
                kind: EventKind::WorkflowCompleted {
                    result: json!(1).into(),
                },
            }],
        })
        .unwrap();
}

fn list_pages_by_cursor_in_both_orders(store: Box<dyn EventStore>) {
    for i in 0..7 {
        create_at(&*store, &format!("w{i}"), 100 + i);
    }
    complete_at(&*store, "w3", 500);
    let walk = |mut filter: ListFilter| -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        loop {
            let page = store.list_page(&filter).unwrap();
            pages.push(page.records.iter().map(|r| r.workflow_id.clone()).collect());
            match page.next {
                Some(next) => filter.after = Some(next),
                None => return pages,
            }
        }
    };
    let limit = |n: u64| ListFilter {
        limit: Some(n),
        ..Default::default()
    };
    assert_eq!(
        walk(limit(3)),
        vec![vec!["w0", "w1", "w2"], vec!["w3", "w4", "w5"], vec!["w6"]]
    );
    // A last page that is exactly full says so with no next page.
    assert_eq!(
        walk(limit(7)),
        vec![vec!["w0", "w1", "w2", "w3", "w4", "w5", "w6"]]
    );
    assert_eq!(
        walk(ListFilter {
            newest_first: true,
            ..limit(4)
        }),
        vec![vec!["w6", "w5", "w4", "w3"], vec!["w2", "w1", "w0"]]
    );
    assert_eq!(
        walk(ListFilter {
            status: Some(Status::Running),
            ..limit(2)
        }),
        vec![vec!["w0", "w1"], vec!["w2", "w4"], vec!["w5", "w6"]]
    );
    assert_eq!(
        walk(ListFilter {
            since: Some(102),
            until: Some(105),
            ..Default::default()
        }),
        vec![vec!["w2", "w3", "w4"]]
    );
    assert_eq!(
        walk(ListFilter {
            status: Some(Status::Completed),
            ..limit(1)
        }),
        vec![vec!["w3"]]
    );
    let mut counts = store.counts(None).unwrap();
    counts.sort_by_key(|(s, _)| s.as_str());
    assert_eq!(counts, vec![(Status::Completed, 1), (Status::Running, 6)]);
    assert_eq!(store.counts(Some("other")).unwrap(), vec![]);
}

fn prune_removes_closed_workflows_only(store: Box<dyn EventStore>) {
    // A workflow that continued as new is running: its first run's close is no close.
    create(&*store, "chain");
    let mut chain = seq10_appends("chain", "run-1", 50);
    chain.remove(0);
    let last = chain.pop().unwrap();
    for request in chain {
        store.append(request).unwrap();
    }
    let head = last.expected_head;
    store
        .append_batch(&[vec![
            AppendRequest {
                workflow_id: "chain".into(),
                run_id: "run-1".into(),
                expected_head: head,
                events: vec![event(
                    head + 1,
                    EventKind::WorkflowContinuedAsNew {
                        input: json!(2).into(),
                        new_run_id: "run-2".into(),
                    },
                )],
            },
            AppendRequest {
                workflow_id: "chain".into(),
                run_id: "run-2".into(),
                expected_head: 0,
                events: vec![Event {
                    seq: 1,
                    recorded_at: 60,
                    kind: EventKind::WorkflowStarted {
                        workflow_type: "order".into(),
                        input: json!(2).into(),
                        run_id: "run-2".into(),
                        continued_from: Some("run-1".into()),
                        execution_deadline: None,
                        parent_id: None,
                    },
                }],
            },
        ]])
        .into_iter()
        .for_each(|r| r.unwrap());
    assert_eq!(store.prune(i64::MAX, 100).unwrap(), 0);
    assert_eq!(
        store.workflow("chain").unwrap().unwrap().status,
        Status::Running
    );
    for (i, id) in ["old", "new", "open"].iter().enumerate() {
        create_at(&*store, id, 100 + i as i64);
    }
    complete_at(&*store, "old", 1_000);
    complete_at(&*store, "new", 3_000);
    assert_eq!(store.prune(2_000, 100).unwrap(), 1);
    assert_eq!(store.workflow("old").unwrap(), None);
    assert!(store.read("old", None, 1).unwrap().is_empty());
    assert!(store.workflow("new").unwrap().is_some());
    assert!(store.workflow("open").unwrap().is_some());
    // A running workflow is never removed, however old.
    assert_eq!(store.prune(i64::MAX, 100).unwrap(), 1);
    assert!(store.workflow("open").unwrap().is_some());
    assert_eq!(store.prune(i64::MAX, 100).unwrap(), 0);
    // The id can be used again once pruned.
    create(&*store, "old");
    // Forgetting removes a closed workflow only.
    assert!(!store.forget("old").unwrap());
    complete_at(&*store, "old", 4_000);
    assert!(store.forget("old").unwrap());
    assert_eq!(store.workflow("old").unwrap(), None);
    assert!(!store.forget("missing").unwrap());
    create(&*store, "old");
}

fn append_then_read_returns_events_in_order(store: Box<dyn EventStore>) {
    create(&*store, "wf");
    store
        .append(AppendRequest {
            workflow_id: "wf".into(),
            run_id: "run-1".into(),
            expected_head: 1,
            events: vec![scheduled(2, 1), scheduled(3, 2)],
        })
        .unwrap();
    let seqs: Vec<u64> = store
        .read("wf", None, 1)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    assert_eq!(store.read("wf", None, 3).unwrap().len(), 1);
    assert!(store.read("missing", None, 1).unwrap().is_empty());
    let rec = store.workflow("wf").unwrap().unwrap();
    assert_eq!(
        (rec.head, rec.status, rec.workflow_type.as_str()),
        (3, Status::Running, "order")
    );
    assert_eq!(rec.updated_at, 23);
}

fn create_existing_id_is_refused(store: Box<dyn EventStore>) {
    create(&*store, "wf");
    let err = store.append(start_request("wf")).unwrap_err();
    assert_eq!(err.kind(), "already_exists");
    assert_eq!(store.read("wf", None, 1).unwrap().len(), 1);
}

fn stale_head_append_is_refused_and_changes_nothing(store: Box<dyn EventStore>) {
    create(&*store, "wf");
    store
        .append(AppendRequest {
            workflow_id: "wf".into(),
            run_id: "run-1".into(),
            expected_head: 1,
            events: vec![scheduled(2, 1)],
        })
        .unwrap();
    let err = store
        .append(AppendRequest {
            workflow_id: "wf".into(),
            run_id: "run-1".into(),
            expected_head: 1,
            events: vec![scheduled(2, 9)],
        })
        .unwrap_err();
    assert_eq!(err.kind(), "stale_head");
    let events = store.read("wf", None, 2).unwrap();
    assert_eq!(events.len(), 1);
    assert!(matches!(
        events[0].kind,
        EventKind::ActivityScheduled { ordinal: 1, .. }
    ));
}

fn gap_in_numbering_is_refused(store: Box<dyn EventStore>) {
    create(&*store, "wf");
    let err = store
        .append(AppendRequest {
            workflow_id: "wf".into(),
            run_id: "run-1".into(),
            expected_head: 1,
            events: vec![scheduled(3, 1)],
        })
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_input");
    let err = store
        .append(AppendRequest {
            workflow_id: "new".into(),
            run_id: "run-1".into(),
            expected_head: 0,
            events: vec![scheduled(1, 1)],
        })
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_input");
    assert!(store.workflow("new").unwrap().is_none());
    assert_eq!(store.workflow("wf").unwrap().unwrap().head, 1);
}

fn closing_event_updates_summary_and_closes_history(store: Box<dyn EventStore>) {
    create(&*store, "wf");
    store
        .append(AppendRequest {
            workflow_id: "wf".into(),
            run_id: "run-1".into(),
            expected_head: 1,
            events: vec![event(
                2,
                EventKind::WorkflowCompleted {
                    result: json!({"ok": true}).into(),
                },
            )],
        })
        .unwrap();
    let rec = store.workflow("wf").unwrap().unwrap();
    assert_eq!(rec.status, Status::Completed);
    assert_eq!(rec.outcome, Some(json!({"ok": true})));
    let err = store
        .append(AppendRequest {
            workflow_id: "wf".into(),
            run_id: "run-1".into(),
            expected_head: 2,
            events: vec![scheduled(3, 1)],
        })
        .unwrap_err();
    assert_eq!(err.kind(), "not_running");
}

fn list_filters_by_status_and_type(store: Box<dyn EventStore>) {
    for id in ["a", "b", "c"] {
        create(&*store, id);
    }
    store
        .append(AppendRequest {
            workflow_id: "b".into(),
            run_id: "run-1".into(),
            expected_head: 1,
            events: vec![event(2, EventKind::WorkflowFailed { error: json!("x") })],
        })
        .unwrap();
    let ids = |f: ListFilter| -> Vec<String> {
        store
            .list(&f)
            .unwrap()
            .into_iter()
            .map(|r| r.workflow_id)
            .collect()
    };
    assert_eq!(ids(ListFilter::default()), vec!["a", "b", "c"]);
    assert_eq!(
        ids(ListFilter {
            status: Some(Status::Running),
            ..Default::default()
        }),
        vec!["a", "c"]
    );
    assert_eq!(
        ids(ListFilter {
            status: Some(Status::Failed),
            ..Default::default()
        }),
        vec!["b"]
    );
    assert!(ids(ListFilter {
        workflow_type: Some("other".into()),
        ..Default::default()
    })
    .is_empty());
    assert_eq!(
        ids(ListFilter {
            workflow_type: Some("order".into()),
            status: Some(Status::Running),
            ..Default::default()
        })
        .len(),
        2
    );
}

fn batch_isolates_failures(store: Box<dyn EventStore>) {
    create(&*store, "wf");
    let append = |head: u64, ev: Event| AppendRequest {
        workflow_id: "wf".into(),
        run_id: "run-1".into(),
        expected_head: head,
        events: vec![ev],
    };
    let results = store.append_batch(&[
        vec![append(5, scheduled(6, 1))],
        vec![start_request("fresh")],
        vec![append(1, scheduled(2, 1))],
        // A group is all-or-nothing: its second request is stale, so its first is undone.
        vec![append(2, scheduled(3, 2)), append(9, scheduled(10, 3))],
    ]);
    assert!(results[0].is_err());
    assert!(results[1].is_ok() && results[2].is_ok());
    assert!(results[3].is_err());
    assert_eq!(store.workflow("wf").unwrap().unwrap().head, 2);
    assert!(store.workflow("fresh").unwrap().is_some());
}

fn continue_as_new_group_starts_a_fresh_run_and_keeps_the_old(store: Box<dyn EventStore>) {
    create(&*store, "wf");
    let close = AppendRequest {
        workflow_id: "wf".into(),
        run_id: "run-1".into(),
        expected_head: 1,
        events: vec![event(
            2,
            EventKind::WorkflowContinuedAsNew {
                input: json!(2).into(),
                new_run_id: "run-2".into(),
            },
        )],
    };
    let mut started = Run::start_event("order", json!(2).into(), "run-2", 30);
    if let EventKind::WorkflowStarted { continued_from, .. } = &mut started.kind {
        *continued_from = Some("run-1".into());
    }
    let open = AppendRequest {
        workflow_id: "wf".into(),
        run_id: "run-2".into(),
        expected_head: 0,
        events: vec![started],
    };
    // A successor that names another run is refused.
    let mut wrong = open.clone();
    wrong.run_id = "run-3".into();
    assert!(store.append_batch(&[vec![close.clone(), wrong]])[0].is_err());
    assert_eq!(store.workflow("wf").unwrap().unwrap().run_id, "run-1");
    store
        .append_batch(&[vec![close, open]])
        .pop()
        .unwrap()
        .unwrap();
    let rec = store.workflow("wf").unwrap().unwrap();
    assert_eq!(
        (rec.run_id.as_str(), rec.status, rec.head, rec.created_at),
        ("run-2", Status::Running, 1, 10)
    );
    assert_eq!(store.read("wf", None, 1).unwrap().len(), 1);
    assert_eq!(store.read("wf", Some("run-1"), 1).unwrap().len(), 2);
    // The old run is closed for good; a fresh create of the id is refused.
    let late = AppendRequest {
        workflow_id: "wf".into(),
        run_id: "run-1".into(),
        expected_head: 2,
        events: vec![scheduled(3, 1)],
    };
    assert!(store.append(late).is_err());
    assert_eq!(
        store.append(start_request("wf")).unwrap_err().kind(),
        "already_exists"
    );
}

/// The appends of one "seq10" workflow (ten activities one after the other), as the engine
/// makes them: `WorkflowStarted`; `ActivityScheduled` + `ActivityStarted` of the first
/// activity; for each later one `ActivityCompleted` of the previous + `ActivityScheduled` +
/// `ActivityStarted`; the last `ActivityCompleted` with `WorkflowCompleted`. Twelve appends,
/// each to be applied after the previous one is durable.
pub(crate) fn seq10_appends(workflow_id: &str, run_id: &str, now: i64) -> Vec<AppendRequest> {
    let config = serde_json::to_value(crate::retry::ActivityOptions::default()).unwrap();
    let mut seq = 0;
    let mut next = |kind: EventKind| {
        seq += 1;
        Event {
            seq,
            recorded_at: now + seq as i64,
            kind,
        }
    };
    let schedule = |ordinal: u64| EventKind::ActivityScheduled {
        ordinal,
        name: format!("step_{ordinal}"),
        input: json!({"order_id": workflow_id, "step": ordinal, "amount": 12.5}).into(),
        config: config.clone(),
    };
    let started = |ordinal: u64| EventKind::ActivityStarted {
        ordinal,
        attempt: 1,
    };
    let completed = |ordinal: u64| EventKind::ActivityCompleted {
        ordinal,
        result: json!({"ok": true, "step": ordinal, "receipt": format!("{run_id}-{ordinal}")})
            .into(),
        attempt: 1,
    };
    let mut batches = vec![vec![next(
        Run::start_event(
            "order",
            json!({"order_id": workflow_id}).into(),
            run_id,
            now,
        )
        .kind,
    )]];
    batches.push(vec![next(schedule(1)), next(started(1))]);
    for ordinal in 2..=10 {
        batches.push(vec![
            next(completed(ordinal - 1)),
            next(schedule(ordinal)),
            next(started(ordinal)),
        ]);
    }
    batches.push(vec![
        next(completed(10)),
        next(EventKind::WorkflowCompleted {
            result: json!({"status": "shipped"}).into(),
        }),
    ]);
    let mut head = 0;
    batches
        .into_iter()
        .map(|events| {
            let expected_head = head;
            head += events.len() as u64;
            AppendRequest {
                workflow_id: workflow_id.to_string(),
                run_id: run_id.to_string(),
                expected_head,
                events,
            }
        })
        .collect()
}
