//! The cluster NIFs: membership with a lease and run ownership, on a store several nodes
//! share (see `aion_core::store::ClusterStore`). Driven by `aion_cluster`; on a store that
//! is not shared each answers `{error, {invalid_input, _}}`.

use aion_core::store::{Claim, ClusterStore};
use aion_core::Error;
use rustler::{Encoder, Env, ResourceArc, Term};

use crate::convert::{name_arg, text_arg, u64_arg};
use crate::engine::EngineResource;
use crate::guard::reply;

mod atoms {
    rustler::atoms! {
        renewed, left, mine, closed, unknown, owner, node, epoch, role, task_queues,
    }
}

/// Runs `body` with the engine's cluster side.
fn with_cluster<'a>(
    env: Env<'a>,
    engine: &EngineResource,
    body: impl FnOnce(&dyn ClusterStore) -> Result<Term<'a>, Error>,
) -> Term<'a> {
    reply(env, || {
        let inner = engine.open()?;
        let cluster = inner.store.cluster().ok_or_else(|| {
            Error::InvalidInput("the store is not shared: a cluster needs {store, postgres}".into())
        })?;
        body(cluster)
    })
}

/// `nif_cluster_join(Engine, Node, Role, TaskQueues, LeaseMs) -> {ok, Epoch}`: joins as
/// `Node` (a binary) with a fresh epoch; the runs of an earlier membership of that name
/// become orphans.
#[rustler::nif(schedule = "DirtyIo")]
fn nif_cluster_join<'a>(
    env: Env<'a>,
    engine: ResourceArc<EngineResource>,
    node: Term<'a>,
    role: Term<'a>,
    task_queues: Vec<Term<'a>>,
    lease_ms: Term<'a>,
) -> Term<'a> {
    with_cluster(env, &engine, |cluster| {
        let node = name_arg(node, "node name")?;
        let role = name_arg(role, "role")?;
        let queues = task_queues
            .into_iter()
            .map(|q| name_arg(q, "task queue"))
            .collect::<Result<Vec<_>, _>>()?;
        let lease = u64_arg(lease_ms, "lease_ms")?;
        Ok(cluster.join(&node, &role, &queues, lease)?.encode(env))
    })
}

/// `nif_cluster_renew(Engine, LeaseMs) -> {ok, renewed} | {error, {not_owner, _}}`.
#[rustler::nif(schedule = "DirtyIo")]
fn nif_cluster_renew<'a>(
    env: Env<'a>,
    engine: ResourceArc<EngineResource>,
    lease_ms: Term<'a>,
) -> Term<'a> {
    with_cluster(env, &engine, |cluster| {
        cluster.renew(u64_arg(lease_ms, "lease_ms")?)?;
        Ok(atoms::renewed().encode(env))
    })
}

/// `nif_cluster_leave(Engine) -> {ok, left}`: this node's runs are left to the others.
#[rustler::nif(schedule = "DirtyIo")]
fn nif_cluster_leave(env: Env<'_>, engine: ResourceArc<EngineResource>) -> Term<'_> {
    with_cluster(env, &engine, |cluster| {
        cluster.leave()?;
        Ok(atoms::left().encode(env))
    })
}

/// `nif_cluster_nodes(Engine) -> {ok, [#{node, epoch, role, task_queues}]}`: the nodes
/// whose lease is live.
#[rustler::nif(schedule = "DirtyIo")]
fn nif_cluster_nodes(env: Env<'_>, engine: ResourceArc<EngineResource>) -> Term<'_> {
    with_cluster(env, &engine, |cluster| {
        let nodes = cluster.nodes()?;
        let maps = nodes
            .iter()
            .map(|n| {
                let pairs = [
                    (atoms::node().encode(env), n.node.encode(env)),
                    (atoms::epoch().encode(env), n.epoch.encode(env)),
                    (atoms::role().encode(env), n.role.encode(env)),
                    (atoms::task_queues().encode(env), n.task_queues.encode(env)),
                ];
                Term::map_from_pairs(env, &pairs)
                    .map_err(|_| Error::Internal("cannot encode a node".into()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(maps.encode(env))
    })
}

/// `nif_cluster_claim(Engine, WorkflowId) -> {ok, mine | closed | unknown | {owner, Node}}`:
/// takes the run for this node unless a live node owns it.
#[rustler::nif(schedule = "DirtyIo")]
fn nif_cluster_claim<'a>(
    env: Env<'a>,
    engine: ResourceArc<EngineResource>,
    workflow_id: Term<'a>,
) -> Term<'a> {
    with_cluster(env, &engine, |cluster| {
        let id = text_arg(workflow_id, "workflow id")?;
        Ok(match cluster.claim(&id)? {
            Claim::Mine => atoms::mine().encode(env),
            Claim::Closed => atoms::closed().encode(env),
            Claim::Unknown => atoms::unknown().encode(env),
            Claim::Owner(node) => (atoms::owner(), node).encode(env),
        })
    })
}

/// `nif_cluster_claim_orphans(Engine, Limit, Types) -> {ok, [{WorkflowId, Type}]}`: takes
/// running workflows of the given types that no live node owns.
#[rustler::nif(schedule = "DirtyIo")]
fn nif_cluster_claim_orphans<'a>(
    env: Env<'a>,
    engine: ResourceArc<EngineResource>,
    limit: Term<'a>,
    types: Vec<Term<'a>>,
) -> Term<'a> {
    with_cluster(env, &engine, |cluster| {
        let types = types
            .into_iter()
            .map(|t| name_arg(t, "workflow type"))
            .collect::<Result<Vec<_>, _>>()?;
        let taken = cluster.claim_orphans(u64_arg(limit, "limit")?, &types)?;
        Ok(taken.encode(env))
    })
}

/// `nif_cluster_inbox_waiting(Engine) -> {ok, [WorkflowId]}`: the running workflows this
/// node owns whose inbox holds entries.
#[rustler::nif(schedule = "DirtyIo")]
fn nif_cluster_inbox_waiting(env: Env<'_>, engine: ResourceArc<EngineResource>) -> Term<'_> {
    with_cluster(env, &engine, |cluster| {
        Ok(cluster.inbox_waiting()?.encode(env))
    })
}
