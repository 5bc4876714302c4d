//// Durable timers for workflow code. A sleeping workflow costs no scheduler time, and its
//// timers survive restarts: one that came due while the node was down fires right after
//// boot.
////
//// ```gleam
//// let assert Ok(Nil) = timer.sleep(ms: 86_400_000)
//// let assert Ok(reminder) = timer.start(name: "reminder", ms: 3_600_000)
//// let assert Ok(Nil) = timer.cancel(reminder)
//// ```

import aion/error

/// A started timer.
pub type TimerRef

/// Sleeps `ms` milliseconds. `Error(Cancelled)` if the workflow is cancelled meanwhile,
/// `Error(Timeout)` if an enclosing `with_timeout` deadline passes first.
pub fn sleep(ms ms: Int) -> Result(Nil, error.FlowError) {
  do_sleep(ms)
}

/// Starts timer `name` firing in `ms` milliseconds.
pub fn start(
  name name: String,
  ms ms: Int,
) -> Result(TimerRef, error.FlowError) {
  do_start(name, ms)
}

/// Waits for a timer to fire.
@external(erlang, "aion_flow_gleam_ffi", "await_timer")
pub fn wait(timer: TimerRef) -> Result(Nil, error.FlowError)

/// Cancels a timer (idempotent).
@external(erlang, "aion_flow_gleam_ffi", "cancel_timer")
pub fn cancel(timer: TimerRef) -> Result(Nil, error.FlowError)

@external(erlang, "aion_flow_gleam_ffi", "sleep")
fn do_sleep(ms: Int) -> Result(Nil, error.FlowError)

@external(erlang, "aion_flow_gleam_ffi", "start_timer")
fn do_start(name: String, ms: Int) -> Result(TimerRef, error.FlowError)
