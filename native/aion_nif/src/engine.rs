//! The engine resource: one open store plus its group-commit writer thread, and the NIFs
//! that read the store (`describe`, `history`, `list`) or create workflows.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use aion_core::event::{ChildStatus, Vocabulary};
use aion_core::replay::Append;
use aion_core::store::commit::CommitQueue;
use aion_core::store::memory::MemoryStore;
use aion_core::store::postgres::{PostgresConfig, PostgresStore};
use aion_core::store::sqlite::{SqliteReader, SqliteStore};
use aion_core::store::{
    AppendRequest, EventStore, InboxItem, InboxPush, ListFilter, Status, WorkflowRecord, Write,
};
use aion_core::Error;
use rustler::{Atom, Encoder, Env, OwnedEnv, Resource, ResourceArc, Term};
use serde_json::Value;

use crate::convert::{
    json_arg, name_arg, object_to_atom_map, optional_text_arg, payload_arg, stamp_args, text_arg,
    u64_arg, value_to_term,
};
use crate::guard::reply;

mod atoms {
    rustler::atoms! {
        ok, error, null, aion_durable,
        workflow_id, type_ = "type", run_id, status, head, created_at, updated_at, result,
        running, closed, details, reason, deadline, parent_id, owner,
        signal, cancel, child_closed,
        commits, appends, events, wal_bytes, syncs, duration_us, writes,
    }
}

/// An open store and the thread that commits to it.
pub(crate) struct EngineInner {
    pub(crate) store: Arc<dyn EventStore>,
    queue: CommitQueue,
    inbox: Arc<InboxHeads>,
    /// Whether writes are applied on the calling thread (the in-memory store).
    inline: bool,
    /// Whether other engines write to the store too (PostgreSQL): pushes made elsewhere
    /// are not seen by [`InboxHeads`], so a run always reads its inbox.
    shared: bool,
}

/// Which workflows have something in their inbox, kept in memory so that a run learns
/// "nothing waits" — at start and before it closes, the common case — without reading the
/// store. Loaded at open; the commit thread keeps it up to date before it tells anyone a
/// write is durable, so a run woken by a push always finds the push here. The store stays
/// the authority: a close is refused there while entries wait.
#[derive(Default)]
struct InboxHeads {
    /// The newest entry's number, per workflow with entries.
    newest: Mutex<HashMap<String, u64>>,
}

/// An inbox change a write makes: an entry pushed (its number is the write's result), or
/// the entries up to a number taken.
enum InboxNote {
    Pushed(String),
    Taken(String, u64),
}

impl InboxHeads {
    fn load(store: &dyn EventStore) -> Result<InboxHeads, Error> {
        Ok(InboxHeads {
            newest: Mutex::new(store.inbox_heads()?.into_iter().collect()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        // A panic while holding it cannot leave the map half-updated (each update is
        // one insert or remove), so a poisoned lock is still usable.
        self.newest.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What `write` will change in the inboxes once durable, if anything.
    fn note(write: &Write) -> Option<InboxNote> {
        match write {
            Write::Inbox(push) => Some(InboxNote::Pushed(push.workflow_id.clone())),
            Write::Append {
                group,
                inbox_through,
            } if *inbox_through > 0 => group
                .first()
                .map(|first| InboxNote::Taken(first.workflow_id.clone(), *inbox_through)),
            Write::Ack {
                workflow_id,
                through,
            } => Some(InboxNote::Taken(workflow_id.clone(), *through)),
            Write::Append { .. } => None,
        }
    }

    /// Applies `note` once its write is durable (`result`: the write's outcome).
    fn written(&self, note: InboxNote, result: &Result<u64, Error>) {
        let Ok(value) = result else { return };
        match note {
            InboxNote::Pushed(workflow_id) => {
                let mut newest = self.lock();
                let head = newest.entry(workflow_id).or_insert(0);
                *head = (*head).max(*value);
            }
            InboxNote::Taken(workflow_id, through) => self.taken(&workflow_id, through),
        }
    }

    /// Applies the notes of writes committed together; their outcome as one: the first
    /// refusal, else the last write's value.
    fn written_all(
        &self,
        notes: Vec<Option<InboxNote>>,
        results: Vec<Result<u64, Error>>,
    ) -> Result<u64, Error> {
        let (mut refused, mut value) = (None, None);
        for (note, result) in notes.into_iter().zip(results) {
            if let Some(note) = note {
                self.written(note, &result);
            }
            match result {
                Ok(v) => value = Some(v),
                Err(e) => {
                    refused.get_or_insert(e);
                }
            }
        }
        match (refused, value) {
            (Some(e), _) => Err(e),
            (None, Some(v)) => Ok(v),
            // No writes at all (a barrier): nothing to refuse.
            (None, None) => Ok(0),
        }
    }

    fn taken(&self, workflow_id: &str, through: u64) {
        let mut newest = self.lock();
        if newest.get(workflow_id).is_some_and(|head| *head <= through) {
            newest.remove(workflow_id);
        }
    }

    /// Whether `workflow_id`'s inbox may hold entries after number `after`.
    fn waiting(&self, workflow_id: &str, after: u64) -> bool {
        self.lock()
            .get(workflow_id)
            .is_some_and(|head| *head > after)
    }
}

/// The engine as the BEAM holds it. [`nif_engine_close`] empties it at once, so the store
/// (and its directory lock) is released when the application stops, not whenever the last
/// reference is garbage collected.
pub(crate) struct EngineResource {
    inner: RwLock<Option<Arc<EngineInner>>>,
}

#[rustler::resource_impl]
impl Resource for EngineResource {}

impl EngineResource {
    /// The open engine, or [`Error::NotStarted`] once closed.
    pub(crate) fn open(&self) -> Result<Arc<EngineInner>, Error> {
        self.inner
            .read()
            .map_err(|_| Error::Internal("engine lock poisoned".into()))?
            .clone()
            .ok_or_else(|| Error::NotStarted("the aion engine is closed".into()))
    }
}

impl EngineInner {
    /// Queues `group` (applied all-or-nothing); when it is durable (or refused) the calling
    /// process (of `env`) is sent `{aion_durable, Tag, ok | {error, Reason}}`.
    pub(crate) fn submit(&self, env: Env<'_>, group: Vec<AppendRequest>, tag: u64) {
        self.submit_write(env, Write::group(group), tag);
    }

    /// Whether `workflow_id`'s inbox may hold entries after number `after` (see
    /// [`InboxHeads`]).
    pub(crate) fn inbox_waiting(&self, workflow_id: &str, after: u64) -> bool {
        self.shared || self.inbox.waiting(workflow_id, after)
    }

    /// Queues any write; answers as [`EngineInner::submit`].
    pub(crate) fn submit_write(&self, env: Env<'_>, write: Write, tag: u64) {
        self.submit_writes(env, vec![write], tag);
    }

    /// Queues writes that go into one commit, each applied on its own (one refused leaves
    /// the others applied); answers as [`EngineInner::submit`] once all are durable, with
    /// the first refusal if any. The in-memory store (nothing to make durable, nothing to
    /// batch) applies them at once, on the calling thread, and the answer is sent from
    /// here: no hand-off to the writer thread and back.
    pub(crate) fn submit_writes(&self, env: Env<'_>, writes: Vec<Write>, tag: u64) {
        let notes: Vec<_> = writes.iter().map(InboxHeads::note).collect();
        if self.inline {
            let started = std::time::Instant::now();
            let results = self.store.commit(&writes);
            self.queue.metrics().commit(started, writes.len());
            let result = self.inbox.written_all(notes, results);
            let _ = env.send(&env.pid(), durable(env, tag, result));
            return;
        }
        let pid = env.pid();
        let inbox = self.inbox.clone();
        self.queue.submit_writes(
            writes,
            Box::new(move |results| {
                let result = inbox.written_all(notes, results);
                let mut env = OwnedEnv::new();
                // The pid may be gone (the run was killed); nothing to tell then.
                let _ = env.send_and_clear(&pid, |env| durable(env, tag, result));
            }),
        );
    }
}

/// `{aion_durable, Tag, ok | {error, Reason}}`.
fn durable(env: Env<'_>, tag: u64, result: Result<u64, Error>) -> Term<'_> {
    let outcome = match result {
        Ok(_) => atoms::ok().encode(env),
        Err(e) => crate::guard::error_term(env, &e),
    };
    (atoms::aion_durable(), tag, outcome).encode(env)
}

/// The request appending `append` to run `run_id` of `workflow_id`.
pub(crate) fn request(workflow_id: &str, run_id: &str, append: Append) -> AppendRequest {
    AppendRequest {
        workflow_id: workflow_id.to_string(),
        run_id: run_id.to_string(),
        expected_head: append.expected_head,
        events: append.events,
    }
}

/// `nif_engine_open(Kind, Config)`: `Kind` is `<<"sqlite">>` (durable, `Config` the data
/// directory), `<<"postgres">>` (shared, `Config` `#{url := Bin, pool := N, schema := Bin}`)
/// or `<<"memory">>`. Returns `{ok, Engine}` or `{error, Reason}`.
#[rustler::nif(schedule = "DirtyIo")]
fn nif_engine_open<'a>(env: Env<'a>, kind: Term<'a>, config: Term<'a>) -> Term<'a> {
    reply(env, || {
        let kind = text_arg(kind, "store kind")?;
        let store: Arc<dyn EventStore> = match kind.as_str() {
            "memory" => Arc::new(MemoryStore::new()),
            "sqlite" => Arc::new(SqliteStore::open(Path::new(&text_arg(
                config,
                "data directory",
            )?))?),
            "postgres" => Arc::new(PostgresStore::open(postgres_config_arg(config)?)?),
            "sqlite_readonly" => Arc::new(SqliteReader::open(Path::new(&text_arg(
                config,
                "data directory",
            )?))?),
            other => {
                return Err(Error::InvalidInput(format!(
                    "unknown store kind {other:?} (expected sqlite, sqlite_readonly, postgres or memory)"
                )))
            }
        };
        let inbox = Arc::new(InboxHeads::load(&*store)?);
        let queue = CommitQueue::start(store.clone())?;
        let shared = store.cluster().is_some();
        let inner = Arc::new(EngineInner {
            store,
            queue,
            inbox,
            // Nothing to batch or make durable: writes are applied (or, read-only, refused)
            // on the calling thread.
            inline: kind == "memory" || kind == "sqlite_readonly",
            shared,
        });
        Ok(ResourceArc::new(EngineResource {
            inner: RwLock::new(Some(inner)),
        })
        .encode(env))
    })
}

fn postgres_config_arg(term: Term<'_>) -> Result<PostgresConfig, Error> {
    let field = |key: &str| -> Result<Term<'_>, Error> {
        let atom = Atom::from_str(term.get_env(), key)
            .map_err(|_| Error::Internal("cannot make an atom".into()))?;
        term.map_get(atom)
            .map_err(|_| Error::InvalidInput(format!("the postgres configuration needs {key}")))
    };
    let mut config = PostgresConfig::new(text_arg(field("url")?, "postgres_url")?);
    config.pool = usize::try_from(u64_arg(field("pool")?, "postgres_pool")?)
        .map_err(|_| Error::InvalidInput("postgres_pool is too large".into()))?;
    config.schema = text_arg(field("schema")?, "postgres_schema")?;
    Ok(config)
}

/// `nif_engine_close(Engine) -> {ok, closed}`: waits for queued appends to be committed,
/// then closes the store and releases its directory. Later calls on the engine (or on runs
/// opened from it) return `{error, <<"not_running: ...">>}`.
#[rustler::nif(schedule = "DirtyIo")]
fn nif_engine_close(env: Env<'_>, engine: ResourceArc<EngineResource>) -> Term<'_> {
    reply(env, || {
        let taken = engine
            .inner
            .write()
            .map_err(|_| Error::Internal("engine lock poisoned".into()))?
            .take();
        if let Some(inner) = taken {
            // Calls already under way hold the engine for a moment; wait for them so that
            // the store (and its directory lock) is released when this returns.
            let deadline = Instant::now() + Duration::from_secs(10);
            while Arc::strong_count(&inner) > 1 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            drop(inner);
        }
        Ok(atoms::closed().encode(env))
    })
}

/// `nif_engine_barrier(Engine, Tag) -> {ok, Tag}`: `{aion_durable, Tag, ok}` follows once
/// every write queued before this call has been committed or refused (the writer thread
/// takes writes in order). Used to know for sure whether a stopped process's last append
/// made it to the store.
#[rustler::nif]
fn nif_engine_barrier<'a>(
    env: Env<'a>,
    engine: ResourceArc<EngineResource>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let tag = u64_arg(tag, "tag")?;
        engine.open()?.submit_writes(env, Vec::new(), tag);
        Ok(tag.encode(env))
    })
}

/// `nif_engine_push(Engine, WorkflowId, Item, NowMs, Tag) -> {ok, Tag}`: pushes `Item` to
/// the workflow's durable inbox; `{aion_durable, Tag, ok}` follows once it is durable, or
/// `{aion_durable, Tag, {error, {not_found | not_running, _}}}`. `Item` is
/// `{signal, Name, PayloadJson, SignalId | null}`, `{cancel, ReasonJson}` or
/// `{child_closed, ChildId, Status, ValueJson}`. The run's owner records it (see
/// `nif_run_take_inbox`); nobody waits on the owner.
// On a dirty CPU scheduler: the payload may be large.
#[rustler::nif(schedule = "DirtyCpu")]
fn nif_engine_push<'a>(
    env: Env<'a>,
    engine: ResourceArc<EngineResource>,
    workflow_id: Term<'a>,
    item: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let workflow_id = text_arg(workflow_id, "workflow id")?;
        let item = inbox_item_arg(item)?;
        let (now, tag) = stamp_args(now, tag)?;
        let push = InboxPush {
            workflow_id,
            recorded_at: now,
            item,
        };
        engine.open()?.submit_write(env, Write::Inbox(push), tag);
        Ok(tag.encode(env))
    })
}

fn inbox_item_arg(term: Term<'_>) -> Result<InboxItem, Error> {
    let bad = || Error::InvalidInput("unknown inbox item".into());
    let items = rustler::types::tuple::get_tuple(term).map_err(|_| bad())?;
    let tag: Atom = items.first().ok_or_else(bad)?.decode().map_err(|_| bad())?;
    match items.as_slice() {
        [_, name, payload, signal_id] if tag == atoms::signal() => Ok(InboxItem::Signal {
            name: name_arg(*name, "signal name")?,
            payload: payload_arg(*payload, "signal payload")?,
            signal_id: optional_text_arg(*signal_id, "signal id")?,
        }),
        [_, reason] if tag == atoms::cancel() => Ok(InboxItem::Cancel {
            reason: json_arg(*reason, "cancel reason")?,
        }),
        [_, child_id, status, value] if tag == atoms::child_closed() => {
            let status: Atom = status.decode().map_err(|_| bad())?;
            let status = ChildStatus::parse(
                &status
                    .to_term(term.get_env())
                    .atom_to_string()
                    .map_err(|_| bad())?,
            )?;
            Ok(InboxItem::ChildClosed {
                child_id: text_arg(*child_id, "child id")?,
                status,
                value: json_arg(*value, "child outcome")?,
            })
        }
        _ => Err(bad()),
    }
}

fn record_to_term<'a>(env: Env<'a>, record: &WorkflowRecord) -> Term<'a> {
    let status = Atom::from_str(env, record.status.as_str()).map(|a| a.encode(env));
    let mut pairs: Vec<(Term<'a>, Term<'a>)> = vec![
        (
            atoms::workflow_id().encode(env),
            record.workflow_id.encode(env),
        ),
        (atoms::type_().encode(env), record.workflow_type.encode(env)),
        (atoms::run_id().encode(env), record.run_id.encode(env)),
        (
            atoms::status().encode(env),
            status.unwrap_or_else(|_| atoms::running().encode(env)),
        ),
        (atoms::head().encode(env), record.head.encode(env)),
        (
            atoms::created_at().encode(env),
            record.created_at.encode(env),
        ),
        (
            atoms::updated_at().encode(env),
            record.updated_at.encode(env),
        ),
    ];
    let key = match record.status {
        Status::Completed => Some(atoms::result()),
        Status::Failed => Some(atoms::error()),
        Status::Cancelled => Some(atoms::details()),
        Status::Terminated => Some(atoms::reason()),
        Status::TimedOut => Some(atoms::deadline()),
        Status::Running | Status::ContinuedAsNew => None,
    };
    if let Some(parent) = &record.parent_id {
        pairs.push((atoms::parent_id().encode(env), parent.encode(env)));
    }
    if let Some(owner) = &record.owner {
        pairs.push((atoms::owner().encode(env), owner.encode(env)));
    }
    if let (Some(key), Some(v)) = (key, &record.outcome) {
        pairs.push((key.encode(env), value_to_term(env, v)));
    }
    Term::map_from_pairs(env, &pairs).unwrap_or_else(|_| Term::map_new(env))
}

/// `nif_engine_describe(Engine, WorkflowId) -> {ok, Summary} | {error, <<"not_found: ...">>}`.
#[rustler::nif(schedule = "DirtyIo")]
fn nif_engine_describe<'a>(
    env: Env<'a>,
    engine: ResourceArc<EngineResource>,
    workflow_id: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let id = text_arg(workflow_id, "workflow id")?;
        let record = engine
            .open()?
            .store
            .workflow(&id)?
            .ok_or(Error::NotFound(id))?;
        Ok(record_to_term(env, &record))
    })
}

/// `nif_engine_history(Engine, WorkflowId, RunId | null) -> {ok, [EventMap]} | {error, Msg}`:
/// the events of the given run (the current one for `null`), each as a map with atom keys
/// (`seq`, `type`, `recorded_at`, and the event's own fields).
#[rustler::nif(schedule = "DirtyIo")]
fn nif_engine_history<'a>(
    env: Env<'a>,
    engine: ResourceArc<EngineResource>,
    workflow_id: Term<'a>,
    run_id: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let id = text_arg(workflow_id, "workflow id")?;
        let run = optional_text_arg(run_id, "run id")?;
        let events = engine.open()?.store.read(&id, run.as_deref(), 1)?;
        if events.is_empty() {
            return Err(Error::NotFound(id));
        }
        let terms: Vec<Term<'a>> = events
            .iter()
            .map(|event| match serde_json::to_value(event) {
                Ok(Value::Object(object)) => Ok(object_to_atom_map(env, &object)),
                _ => Err(Error::Internal(format!(
                    "cannot encode event {}",
                    event.seq
                ))),
            })
            .collect::<Result<_, _>>()?;
        Ok(terms.encode(env))
    })
}

/// `nif_engine_list(Engine, Filter) -> {ok, {[Summary], Next | null}} | {error, Reason}`:
/// one page of summaries. `Filter` is a map with optional keys `status` (binary), `type`,
/// `since`, `until` (Unix ms), `limit`, `after` (a previous page's `Next`) and
/// `newest_first` (boolean); `Next` is the cursor of the next page, `null` after the last.
#[rustler::nif(schedule = "DirtyIo")]
fn nif_engine_list<'a>(
    env: Env<'a>,
    engine: ResourceArc<EngineResource>,
    filter: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let field = |key: &str| -> Option<Term<'a>> {
            let atom = Atom::from_str(env, key).ok()?;
            filter
                .map_get(atom)
                .ok()
                .filter(|t| !crate::convert::is_null(*t))
        };
        let int = |key: &str| -> Result<Option<i64>, Error> {
            field(key)
                .map(|t| {
                    t.decode::<i64>().map_err(|_| {
                        Error::InvalidInput(format!("list filter {key} must be an integer"))
                    })
                })
                .transpose()
        };
        let filter = ListFilter {
            status: field("status")
                .map(|t| text_arg(t, "status").and_then(|s| Status::parse(&s)))
                .transpose()?,
            workflow_type: field("type")
                .map(|t| name_arg(t, "workflow type"))
                .transpose()?,
            since: int("since")?,
            until: int("until")?,
            limit: field("limit").map(|t| u64_arg(t, "limit")).transpose()?,
            after: field("after").map(|t| u64_arg(t, "cursor")).transpose()?,
            newest_first: field("newest_first")
                .map(|t| t.decode::<bool>())
                .transpose()
                .map_err(|_| Error::InvalidInput("newest_first must be a boolean".into()))?
                .unwrap_or(false),
        };
        let page = engine.open()?.store.list_page(&filter)?;
        let records: Vec<Term<'a>> = page
            .records
            .iter()
            .map(|r| record_to_term(env, r))
            .collect();
        let next = match page.next {
            Some(n) => n.encode(env),
            None => atoms::null().encode(env),
        };
        Ok((records, next).encode(env))
    })
}

/// `nif_engine_prune(Engine, ClosedBefore, Limit) -> {ok, Removed}`: removes up to `Limit`
/// workflows closed before `ClosedBefore` (Unix ms), with their histories.
#[rustler::nif(schedule = "DirtyIo")]
fn nif_engine_prune<'a>(
    env: Env<'a>,
    engine: ResourceArc<EngineResource>,
    closed_before: Term<'a>,
    limit: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let before = closed_before.decode::<i64>().map_err(|_| {
            Error::InvalidInput("closed_before must be an integer (Unix ms)".into())
        })?;
        let limit = u64_arg(limit, "limit")?;
        Ok(engine.open()?.store.prune(before, limit)?.encode(env))
    })
}

/// `nif_engine_stats(Engine) -> {ok, #{commits, appends, events, wal_bytes, syncs}}`: what
/// the store has written since it was opened (see `aion_core::store::StoreStats`).
#[rustler::nif]
fn nif_engine_stats(env: Env<'_>, engine: ResourceArc<EngineResource>) -> Term<'_> {
    reply(env, || {
        let stats = engine.open()?.store.stats();
        let pairs = [
            (atoms::commits(), stats.commits),
            (atoms::appends(), stats.appends),
            (atoms::events(), stats.events),
            (atoms::wal_bytes(), stats.wal_bytes),
            (atoms::syncs(), stats.syncs),
        ]
        .map(|(key, n)| (key.encode(env), n.encode(env)));
        Term::map_from_pairs(env, &pairs)
            .map_err(|_| Error::Internal("cannot encode the store's counters".into()))
    })
}

/// `nif_engine_counts(Engine, Type | null) -> {ok, [{Status, N}]}`: workflows per status
/// (`Status` a binary), from the store's index.
#[rustler::nif(schedule = "DirtyIo")]
fn nif_engine_counts<'a>(
    env: Env<'a>,
    engine: ResourceArc<EngineResource>,
    workflow_type: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let ty = optional_text_arg(workflow_type, "workflow type")?;
        let counts = engine.open()?.store.counts(ty.as_deref())?;
        Ok(counts
            .into_iter()
            .map(|(status, n)| (status.as_str(), n))
            .collect::<Vec<_>>()
            .encode(env))
    })
}

/// `nif_engine_forget(Engine, WorkflowId) -> {ok, Removed}`: removes the workflow if it is
/// closed (for a start that reuses its id).
#[rustler::nif(schedule = "DirtyIo")]
fn nif_engine_forget<'a>(
    env: Env<'a>,
    engine: ResourceArc<EngineResource>,
    workflow_id: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let id = text_arg(workflow_id, "workflow id")?;
        Ok(engine.open()?.store.forget(&id)?.encode(env))
    })
}

/// `nif_engine_commit_stats(Engine) -> {ok, #{duration_us => H, writes => H}}` with
/// `H = {Bounds, Counts, Sum, Count}`: what each commit took (µs) and carried (writes),
/// counted by the commit thread (see `aion_core::store::commit::CommitMetrics`).
#[rustler::nif]
fn nif_engine_commit_stats(env: Env<'_>, engine: ResourceArc<EngineResource>) -> Term<'_> {
    reply(env, || {
        let inner = engine.open()?;
        let metrics = inner.queue.metrics();
        let pairs = [
            (atoms::duration_us(), metrics.duration_us.snapshot()),
            (atoms::writes(), metrics.writes.snapshot()),
        ]
        .map(|(key, h)| (key.encode(env), h.encode(env)));
        Term::map_from_pairs(env, &pairs)
            .map_err(|_| Error::Internal("cannot encode the commit counters".into()))
    })
}

/// `nif_engine_export(Engine, WorkflowId, RunId | null) -> {ok, DocumentJson} | {error, Msg}`:
/// one run's history (the current one for `null`) as an `aion-history` document.
#[rustler::nif(schedule = "DirtyIo")]
fn nif_engine_export<'a>(
    env: Env<'a>,
    engine: ResourceArc<EngineResource>,
    workflow_id: Term<'a>,
    run_id: Term<'a>,
) -> Term<'a> {
    reply(env, || {
        let id = text_arg(workflow_id, "workflow id")?;
        let run = optional_text_arg(run_id, "run id")?;
        let events = engine.open()?.store.read(&id, run.as_deref(), 1)?;
        let doc = aion_core::history::HistoryDocument::new(&id, events)?;
        Ok(doc.to_json()?.encode(env))
    })
}
