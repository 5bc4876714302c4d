//! The PostgreSQL store against a real server: `AION_PG_URL` names it (`make test` starts a
//! throw-away cluster with `test/pg.sh` and sets it). Without it these tests say so and
//! pass, unless `AION_PG_REQUIRED=1` (set by `make test`), which makes a missing server a
//! failure.

use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::json;

use super::*;
use crate::event::EventKind;
use crate::store::conformance;
use crate::store::{AppendRequest, InboxItem, InboxPush};

pub(crate) fn url() -> Option<String> {
    match std::env::var("AION_PG_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("AION_PG_REQUIRED").is_err(),
                "AION_PG_REQUIRED is set but AION_PG_URL is not"
            );
            eprintln!("AION_PG_URL is not set: PostgreSQL store test skipped");
            None
        }
    }
}

/// A store on a schema of its own, so that every test starts empty.
pub(crate) fn fresh(url: &str) -> PostgresStore {
    static N: AtomicU32 = AtomicU32::new(0);
    let mut config = PostgresConfig::new(url);
    config.schema = format!(
        "t{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    config.pool = 2;
    PostgresStore::open(config).unwrap()
}

/// A second store (another node) on the same schema as `store`.
fn same_schema(store: &PostgresStore) -> PostgresStore {
    PostgresStore::open(store.config.clone()).unwrap()
}

fn sql(store: &PostgresStore, statement: &str) {
    let statement = statement.to_string();
    store
        .read_with(async |client| Ok(client.batch_execute(&statement).await?))
        .unwrap();
}

fn next(id: &str, head: u64) -> AppendRequest {
    AppendRequest {
        workflow_id: id.into(),
        run_id: "run-1".into(),
        expected_head: head,
        events: vec![Event {
            seq: head + 1,
            recorded_at: 100,
            kind: EventKind::TimerStarted {
                timer_id: head,
                name: "sleep".into(),
                fire_at: 1_000,
                scope: false,
            },
        }],
    }
}

#[test]
fn postgres_store_passes_conformance() {
    let Some(url) = url() else { return };
    conformance::run_all(&|| Box::new(fresh(&url)));
}

#[test]
fn a_schema_of_a_newer_version_is_refused() {
    let Some(url) = url() else { return };
    let store = fresh(&url);
    sql(
        &store,
        "UPDATE meta SET value = 99 WHERE key = 'schema_version'",
    );
    let err = PostgresStore::open(store.config.clone()).unwrap_err();
    assert_eq!(err.kind(), "store");
    assert!(err.detail().contains("newer aion"), "{err}");
    // The version it writes is read back as its own.
    sql(
        &store,
        &format!("UPDATE meta SET value = {SCHEMA_VERSION} WHERE key = 'schema_version'"),
    );
    assert!(PostgresStore::open(store.config.clone()).is_ok());
}

#[test]
fn bad_configuration_is_an_invalid_input() {
    let mut config = PostgresConfig::new("postgresql://u@127.0.0.1:1/db");
    config.schema = "Robert'); DROP TABLE".into();
    assert_eq!(
        PostgresStore::open(config).unwrap_err().kind(),
        "invalid_input"
    );
    let config = PostgresConfig::new("not a url at all ::");
    assert_eq!(
        PostgresStore::open(config).unwrap_err().kind(),
        "invalid_input"
    );
    // Nothing listens on port 1.
    let config = PostgresConfig::new("postgresql://u@127.0.0.1:1/db");
    assert_eq!(PostgresStore::open(config).unwrap_err().kind(), "store");
}

#[test]
fn only_the_owner_with_a_live_lease_appends() {
    let Some(url) = url() else { return };
    let a = fresh(&url);
    let b = same_schema(&a);
    let epoch_a = a
        .join("a@host", "all", &["default".into()], 60_000)
        .unwrap();
    let epoch_b = b.join("b@host", "all", &[], 60_000).unwrap();
    assert_ne!(epoch_a, epoch_b);
    conformance::create(&a, "wf");
    assert_eq!(
        a.workflow("wf").unwrap().unwrap().owner.as_deref(),
        Some("a@host")
    );
    // b neither appends to nor takes a run whose owner's lease is live.
    assert_eq!(b.append(next("wf", 1)).unwrap_err().kind(), "not_owner");
    assert_eq!(b.claim("wf").unwrap(), Claim::Owner("a@host".into()));
    assert!(b
        .claim_orphans(10, &["order".to_string()])
        .unwrap()
        .is_empty());
    a.append(next("wf", 1)).unwrap();
    assert!(a.inbox_waiting().unwrap().is_empty());
    let push = Write::Inbox(InboxPush {
        workflow_id: "wf".into(),
        recorded_at: 5,
        item: InboxItem::Cancel { reason: json!("r") },
    });
    b.commit(&[push]).pop().unwrap().unwrap();
    assert_eq!(a.inbox_waiting().unwrap(), vec!["wf".to_string()]);
    assert!(b.inbox_waiting().unwrap().is_empty());
    let nodes: Vec<String> = a.nodes().unwrap().into_iter().map(|n| n.node).collect();
    assert_eq!(nodes, vec!["a@host".to_string(), "b@host".to_string()]);

    // a's lease runs out (a paused node): b takes the run over, a may not write any more.
    sql(&a, "UPDATE nodes SET expires_at = 0 WHERE node = 'a@host'");
    assert_eq!(a.append(next("wf", 2)).unwrap_err().kind(), "not_owner");
    assert_eq!(
        b.claim_orphans(10, &["order".to_string()]).unwrap(),
        vec![("wf".to_string(), "order".to_string())]
    );
    assert_eq!(
        b.workflow("wf").unwrap().unwrap().owner.as_deref(),
        Some("b@host")
    );
    b.append(next("wf", 2)).unwrap();
    // a learns it lost its lease when it renews, and joins again with a new epoch: still
    // not the owner of what b took.
    assert_eq!(a.renew(60_000).unwrap_err().kind(), "not_owner");
    assert!(a.join("a@host", "all", &[], 60_000).unwrap() > epoch_b);
    assert_eq!(a.append(next("wf", 3)).unwrap_err().kind(), "not_owner");
    assert_eq!(a.claim("wf").unwrap(), Claim::Owner("b@host".into()));
    assert_eq!(b.read("wf", None, 1).unwrap().len(), 3);
    a.renew(60_000).unwrap();
}

#[test]
fn a_node_that_joins_again_or_leaves_orphans_its_runs() {
    let Some(url) = url() else { return };
    let a = fresh(&url);
    let b = same_schema(&a);
    a.join("a@host", "all", &[], 60_000).unwrap();
    b.join("b@host", "all", &[], 60_000).unwrap();
    conformance::create(&a, "wf-1");
    conformance::create(&a, "wf-2");
    // Another process may not join under a name whose lease is live ...
    let restarted = same_schema(&a);
    assert_eq!(
        restarted
            .join("a@host", "all", &[], 60_000)
            .unwrap_err()
            .kind(),
        "already_exists"
    );
    // ... but once it ran out (a restarted node), it joins with a new epoch and claims its
    // old runs back.
    sql(&a, "UPDATE nodes SET expires_at = 0 WHERE node = 'a@host'");
    restarted.join("a@host", "all", &[], 60_000).unwrap();
    assert_eq!(restarted.claim("wf-1").unwrap(), Claim::Mine);
    assert_eq!(a.append(next("wf-1", 1)).unwrap_err().kind(), "not_owner");
    restarted.append(next("wf-1", 1)).unwrap();
    // Leaving hands the runs over at once.
    restarted.leave().unwrap();
    let mut taken = b.claim_orphans(10, &["order".to_string()]).unwrap();
    taken.sort();
    assert_eq!(
        taken,
        vec![
            ("wf-1".to_string(), "order".to_string()),
            ("wf-2".to_string(), "order".to_string())
        ]
    );
    assert_eq!(b.claim("missing").unwrap(), Claim::Unknown);
    // A node that never joined owns nothing.
    assert_eq!(
        same_schema(&a).claim("wf-1").unwrap_err().kind(),
        "not_owner"
    );
}

#[test]
fn a_close_waits_for_a_push_that_came_first() {
    let Some(url) = url() else { return };
    let store = fresh(&url);
    conformance::create(&store, "wf");
    let push = Write::Inbox(InboxPush {
        workflow_id: "wf".into(),
        recorded_at: 5,
        item: InboxItem::Cancel { reason: json!("r") },
    });
    let close = Write::group(vec![AppendRequest {
        workflow_id: "wf".into(),
        run_id: "run-1".into(),
        expected_head: 1,
        events: vec![Event {
            seq: 2,
            recorded_at: 6,
            kind: EventKind::WorkflowCompleted {
                result: json!(1).into(),
            },
        }],
    }]);
    let results = store.commit(&[push, close.clone()]);
    assert!(results[0].is_ok());
    assert_eq!(results[1].as_ref().unwrap_err().kind(), "inbox_pending");
    let entries = store.inbox("wf").unwrap();
    assert_eq!(entries.len(), 1);
    store
        .commit(&[Write::Ack {
            workflow_id: "wf".into(),
            through: entries[0].id,
        }])
        .pop()
        .unwrap()
        .unwrap();
    assert!(store.commit(&[close]).pop().unwrap().is_ok());
    assert!(
        store.inbox_waiting().is_err(),
        "a store that never joined owns nothing"
    );
    assert_eq!(
        store.workflow("wf").unwrap().unwrap().status,
        Status::Completed
    );
    assert_eq!(store.stats().commits, 3 + 1);
}

#[test]
fn two_nodes_creating_one_id_at_once_make_one_workflow() {
    let Some(url) = url() else { return };
    let a = fresh(&url);
    let b = same_schema(&a);
    let ids: Vec<String> = (0..40).map(|i| format!("race-{i}")).collect();
    let create = |store: &PostgresStore, run: &str| -> Vec<Option<&'static str>> {
        ids.iter()
            .map(|id| {
                let mut request = conformance::start_request(id);
                request.run_id = run.into();
                if let EventKind::WorkflowStarted { run_id, .. } = &mut request.events[0].kind {
                    *run_id = run.into();
                }
                store.append(request).err().map(|e| e.kind())
            })
            .collect()
    };
    let (won_a, won_b) = std::thread::scope(|s| {
        let ta = s.spawn(|| create(&a, "run-a"));
        let tb = s.spawn(|| create(&b, "run-b"));
        (ta.join().unwrap(), tb.join().unwrap())
    });
    for (i, id) in ids.iter().enumerate() {
        // Exactly one succeeds; the other is told the id exists (not a store error).
        let outcomes = [won_a[i], won_b[i]];
        assert!(
            outcomes == [None, Some("already_exists")]
                || outcomes == [Some("already_exists"), None],
            "{id}: {outcomes:?}"
        );
        let won_a = won_a.iter().map(Option::is_none).collect::<Vec<_>>();
        let winner = if won_a[i] { "run-a" } else { "run-b" };
        assert_eq!(a.workflow(id).unwrap().unwrap().run_id, winner);
        assert_eq!(
            a.read(id, Some(if won_a[i] { "run-b" } else { "run-a" }), 1)
                .unwrap(),
            vec![]
        );
        assert_eq!(a.read(id, None, 1).unwrap().len(), 1);
    }
}

/// A run taken over by b, with a's lease gone: whatever a still sends is refused, whether
/// a learnt it lost its lease (renew), or left.
fn taken_over_from_a(url: &str) -> (PostgresStore, PostgresStore) {
    let a = fresh(url);
    let b = same_schema(&a);
    a.join("a@host", "all", &[], 60_000).unwrap();
    b.join("b@host", "all", &[], 60_000).unwrap();
    conformance::create(&a, "wf");
    sql(&a, "UPDATE nodes SET expires_at = 0 WHERE node = 'a@host'");
    assert_eq!(b.claim("wf").unwrap(), Claim::Mine);
    (a, b)
}

#[test]
fn a_node_whose_renewal_failed_cannot_append_or_take_an_inbox() {
    let Some(url) = url() else { return };
    let (a, b) = taken_over_from_a(&url);
    assert_eq!(a.renew(60_000).unwrap_err().kind(), "not_owner");
    assert_eq!(a.append(next("wf", 1)).unwrap_err().kind(), "not_owner");
    let ack = Write::Ack {
        workflow_id: "wf".into(),
        through: 100,
    };
    assert_eq!(
        a.commit(&[ack]).pop().unwrap().unwrap_err().kind(),
        "not_owner"
    );
    // Nor can it start a workflow.
    let start = conformance::start_request("wf-new");
    assert_eq!(a.append(start).unwrap_err().kind(), "not_owner");
    assert_eq!(
        b.workflow("wf").unwrap().unwrap().owner.as_deref(),
        Some("b@host")
    );
    b.append(next("wf", 1)).unwrap();
}

#[test]
fn a_node_that_left_cannot_append() {
    let Some(url) = url() else { return };
    let (a, b) = taken_over_from_a(&url);
    a.leave().unwrap();
    assert_eq!(a.append(next("wf", 1)).unwrap_err().kind(), "not_owner");
    assert_eq!(
        b.workflow("wf").unwrap().unwrap().owner.as_deref(),
        Some("b@host")
    );
}

#[test]
fn orphans_are_claimed_only_by_a_node_that_runs_their_type() {
    let Some(url) = url() else { return };
    let (a, b) = taken_over_from_a(&url);
    drop(b);
    let c = same_schema(&a);
    c.join("c@host", "all", &[], 60_000).unwrap();
    conformance::create(&c, "wf-c");
    sql(&a, "UPDATE nodes SET expires_at = 0 WHERE node = 'c@host'");
    let d = same_schema(&a);
    d.join("d@host", "all", &[], 60_000).unwrap();
    assert!(d
        .claim_orphans(10, &["other".to_string()])
        .unwrap()
        .is_empty());
    assert_eq!(
        d.claim_orphans(10, &["order".to_string()]).unwrap(),
        vec![("wf-c".to_string(), "order".to_string())]
    );
}
