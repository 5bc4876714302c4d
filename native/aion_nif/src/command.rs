//! The typed boundary between a run's process and its run: one NIF,
//! `nif_run_command(Run, Command, NowMs, Tag)`, through which workflow code (by way of
//! `aion_flow_ffi`) hands the run's state machine (`aion_core::replay::Run`) every input —
//! a command, an attempt's results, a cancellation, a close — and gets back what to carry
//! out.
//!
//! `Command` is a rustler tagged enum: an atom for a command without arguments (`now`,
//! `random`, `uuid`, `side_effect`, `open_children`, `replay_status`, `cancel_requested`,
//! `flush`, `closing`, `inbox_waiting`),
//! `{Tag, Arg, ...}` otherwise (`{dispatch_activity, Name, InputJson, ConfigJson}`,
//! `{activity_step, Ordinal}`, ...; the arguments of each are documented on the function
//! that carries it out, in `activity.rs`, `timer.rs`, `determinism.rs`,
//! `communication.rs` and `run.rs`). A term that is not a command is answered with
//! `{error, {invalid_input, _}}`, never an exception. The run is locked for the one call;
//! nothing here does I/O (appends go to the commit thread, see `run.rs`). Loading a run
//! (`nif_run_open`) and taking its inbox (`nif_run_take_inbox`) read the store and run on
//! a dirty I/O scheduler, as NIFs of their own.

use aion_core::Error;
use rustler::{Atom, Env, NifTaggedEnum, ResourceArc, Term};

use crate::activity::{
    nif_run_activity_results, nif_run_activity_step, nif_run_dispatch_activities,
    nif_run_dispatch_activity,
};
use crate::communication::{
    nif_run_accept_update, nif_run_cancel_activity, nif_run_child_completed, nif_run_child_step,
    nif_run_complete_update, nif_run_open_children, nif_run_select, nif_run_select_settled,
    nif_run_send_signal, nif_run_signal_delivered, nif_run_signal_step, nif_run_start_child,
};
use crate::determinism::{
    nif_run_now, nif_run_patched, nif_run_random, nif_run_side_effect, nif_run_side_effect_record,
    nif_run_uuid,
};
use crate::guard::error_term;
use crate::run::{
    nif_run_cancel_requested, nif_run_closing, nif_run_complete, nif_run_continue_as_new,
    nif_run_end, nif_run_flush, nif_run_inbox_waiting, nif_run_replay_status,
    nif_run_request_cancel, RunResource,
};
use crate::timer::{
    nif_run_scope_enter, nif_run_scope_exit, nif_run_timer_cancel, nif_run_timer_start,
    nif_run_timer_step,
};

/// Every input a run's process hands its run.
#[derive(NifTaggedEnum)]
enum Command<'a> {
    DispatchActivity(Term<'a>, Term<'a>, Term<'a>),
    DispatchActivities(Vec<(Term<'a>, Term<'a>, Term<'a>)>),
    ActivityStep(Term<'a>),
    ActivityResults(Vec<(u64, u64, Term<'a>)>),
    CancelActivity(Term<'a>),
    TimerStart(Term<'a>, Term<'a>),
    TimerStep(Term<'a>),
    TimerCancel(Term<'a>),
    ScopeEnter(Term<'a>),
    ScopeExit(Term<'a>),
    Now,
    Random,
    Uuid,
    SideEffect,
    SideEffectRecord(Term<'a>, Term<'a>),
    Patched(Term<'a>),
    SignalStep(Term<'a>),
    SendSignal(Term<'a>, Term<'a>, Term<'a>),
    SignalDelivered(Term<'a>, Term<'a>),
    AcceptUpdate(Term<'a>, Term<'a>, Term<'a>),
    CompleteUpdate(Term<'a>, Atom, Term<'a>),
    StartChild(Term<'a>, Term<'a>, Term<'a>, Term<'a>),
    ChildStep(Term<'a>),
    ChildCompleted(Term<'a>, Term<'a>, Term<'a>),
    Select(Vec<(Atom, u64)>),
    SelectSettled(Vec<(Atom, u64)>),
    OpenChildren,
    Complete(Atom, Term<'a>),
    RequestCancel(Term<'a>),
    CancelRequested,
    End(Atom, Term<'a>),
    ContinueAsNew(Term<'a>, Term<'a>),
    ReplayStatus,
    Flush,
    Closing,
    InboxWaiting,
}

/// `nif_run_command(Run, Command, NowMs, Tag) -> {ok, Answer} | {error, Reason}`: carries
/// out one command on the run (see the module documentation).
#[rustler::nif]
fn nif_run_command<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    command: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    run_command(env, resource, command, now, tag)
}

/// `nif_run_command_dirty(Run, Command, NowMs, Tag)`: `nif_run_command` on a dirty CPU
/// scheduler, for a command that carries a large payload (parsing it must not hold a
/// normal scheduler; `aion_flow_ffi` chooses by the command's size).
#[rustler::nif(schedule = "DirtyCpu")]
fn nif_run_command_dirty<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    command: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    run_command(env, resource, command, now, tag)
}

fn run_command<'a>(
    env: Env<'a>,
    resource: ResourceArc<RunResource>,
    command: Term<'a>,
    now: Term<'a>,
    tag: Term<'a>,
) -> Term<'a> {
    let Ok(command) = command.decode::<Command<'a>>() else {
        return error_term(
            env,
            &Error::InvalidInput("not a run command (or its arguments are malformed)".into()),
        );
    };
    let r = resource;
    match command {
        Command::DispatchActivity(name, input, config) => {
            nif_run_dispatch_activity(env, r, name, input, config, now, tag)
        }
        Command::DispatchActivities(calls) => nif_run_dispatch_activities(env, r, calls, now, tag),
        Command::ActivityStep(ordinal) => nif_run_activity_step(env, r, ordinal, now, tag),
        Command::ActivityResults(results) => nif_run_activity_results(env, r, results, now, tag),
        Command::CancelActivity(ordinal) => nif_run_cancel_activity(env, r, ordinal, now, tag),
        Command::TimerStart(name, ms) => nif_run_timer_start(env, r, name, ms, now, tag),
        Command::TimerStep(id) => nif_run_timer_step(env, r, id, now, tag),
        Command::TimerCancel(id) => nif_run_timer_cancel(env, r, id, now, tag),
        Command::ScopeEnter(ms) => nif_run_scope_enter(env, r, ms, now, tag),
        Command::ScopeExit(id) => nif_run_scope_exit(env, r, id, now, tag),
        Command::Now => nif_run_now(env, r),
        Command::Random => nif_run_random(env, r),
        Command::Uuid => nif_run_uuid(env, r),
        Command::SideEffect => nif_run_side_effect(env, r),
        Command::SideEffectRecord(ordinal, value) => {
            nif_run_side_effect_record(env, r, ordinal, value, now, tag)
        }
        Command::Patched(change_id) => nif_run_patched(env, r, change_id, now, tag),
        Command::SignalStep(name) => nif_run_signal_step(env, r, name, now, tag),
        Command::SendSignal(target, name, payload) => {
            nif_run_send_signal(env, r, target, name, payload, now, tag)
        }
        Command::SignalDelivered(ordinal, result) => {
            nif_run_signal_delivered(env, r, ordinal, result, now, tag)
        }
        Command::AcceptUpdate(update_id, name, args) => {
            nif_run_accept_update(env, r, update_id, name, args, now, tag)
        }
        Command::CompleteUpdate(update_id, kind, value) => {
            nif_run_complete_update(env, r, update_id, kind, value, now, tag)
        }
        Command::StartChild(workflow_type, input, child_id, policy) => {
            nif_run_start_child(env, r, workflow_type, input, child_id, policy, now, tag)
        }
        Command::ChildStep(ordinal) => nif_run_child_step(env, r, ordinal, now, tag),
        Command::ChildCompleted(ordinal, status, value) => {
            nif_run_child_completed(env, r, ordinal, status, value, now, tag)
        }
        Command::Select(items) => nif_run_select(env, r, items, now, tag),
        Command::SelectSettled(items) => nif_run_select_settled(env, r, items, now, tag),
        Command::OpenChildren => nif_run_open_children(env, r),
        Command::Complete(kind, value) => nif_run_complete(env, r, kind, value, now, tag),
        Command::RequestCancel(reason) => nif_run_request_cancel(env, r, reason, now, tag),
        Command::CancelRequested => nif_run_cancel_requested(env, r),
        Command::End(kind, value) => nif_run_end(env, r, kind, value, now, tag),
        Command::ContinueAsNew(input, run_id) => {
            nif_run_continue_as_new(env, r, input, run_id, now, tag)
        }
        Command::ReplayStatus => nif_run_replay_status(env, r),
        Command::Flush => nif_run_flush(env, r, tag),
        Command::Closing => nif_run_closing(env, r),
        Command::InboxWaiting => nif_run_inbox_waiting(env, r),
    }
}
