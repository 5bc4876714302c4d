//! The error type shared by every part of the engine.
//!
//! Each variant maps to one wire prefix (see [`Error::prefix`]); the NIF layer sends
//! `<<"prefix: detail">>` to the BEAM so that Erlang and Gleam code can match on the kind.

use std::fmt;

/// Everything that can go wrong in the engine, by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A failure that may succeed when tried again (an activity attempt that failed).
    Retryable(String),
    /// A failure that will never succeed when tried again.
    Terminal(String),
    /// A deadline passed.
    Timeout(String),
    /// The run was cancelled.
    Cancelled(String),
    /// The workflow code asked for something other than what its history recorded.
    NonDeterminism {
        /// Sequence number of the recorded event that does not match.
        seq: u64,
        /// What the history holds at that position.
        recorded: String,
        /// What the workflow code asked for.
        requested: String,
    },
    /// The run is not running (already closed, or never opened).
    NotRunning(String),
    /// The store could not make an append durable, refused it (stale head), or is corrupt.
    /// Retrying the same append cannot help; the run must be reloaded.
    Durability(String),
    /// A workflow with this id already exists in the store.
    AlreadyExists(String),
    /// No workflow with this id exists in the store.
    NotFound(String),
    /// The caller passed something malformed (bad JSON, a bad option value).
    InvalidInput(String),
    /// A bug in aion: a broken invariant or a caught panic.
    Internal(String),
}

impl Error {
    /// The wire prefix for this kind of error, without the colon.
    pub fn prefix(&self) -> &'static str {
        match self {
            Error::Retryable(_) => "retryable",
            Error::Terminal(_) => "terminal",
            Error::Timeout(_) => "timeout",
            Error::Cancelled(_) => "cancelled",
            Error::NonDeterminism { .. } => "non_determinism",
            Error::NotRunning(_) => "not_running",
            Error::Durability(_) => "durability",
            Error::AlreadyExists(_) => "already_exists",
            Error::NotFound(_) => "not_found",
            Error::InvalidInput(_) => "invalid",
            Error::Internal(_) => "internal",
        }
    }

    /// The full wire form: `prefix: detail`.
    pub fn to_wire(&self) -> String {
        self.to_string()
    }

    /// Shorthand for a durability error from anything displayable.
    pub fn durability(detail: impl fmt::Display) -> Error {
        Error::Durability(detail.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NonDeterminism {
                seq,
                recorded,
                requested,
            } => write!(
                f,
                "non_determinism: at seq {seq} history holds {recorded} but the workflow code asked for {requested}"
            ),
            Error::Retryable(d)
            | Error::Terminal(d)
            | Error::Timeout(d)
            | Error::Cancelled(d)
            | Error::NotRunning(d)
            | Error::Durability(d)
            | Error::AlreadyExists(d)
            | Error::NotFound(d)
            | Error::InvalidInput(d)
            | Error::Internal(d) => write!(f, "{}: {}", self.prefix(), d),
        }
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Durability(format!("sqlite: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_starts_with_prefix() {
        assert_eq!(Error::Terminal("x".into()).to_wire(), "terminal: x");
        let nd = Error::NonDeterminism {
            seq: 4,
            recorded: "ActivityScheduled(charge)".into(),
            requested: "ActivityScheduled(ship)".into(),
        };
        assert!(nd.to_wire().starts_with("non_determinism: at seq 4"));
        assert!(nd.to_wire().contains("charge") && nd.to_wire().contains("ship"));
    }
}
