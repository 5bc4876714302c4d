//! The error type shared by every part of the engine.
//!
//! Each variant has a kind ([`Error::kind`]): the atom the NIF layer puts first in the
//! tagged tuple it returns (`{error, {Kind, Detail}}`, see `aion_nif::guard`). Code on
//! both sides decides on the variant or the kind, never on the text of a message; the
//! text is for people (logs, reports).

use std::fmt;

/// Everything that can go wrong in the engine, by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
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
    /// The engine is closed (the application stopped, or the engine is restarting).
    NotStarted(String),
    /// An append named a head the run's history no longer has: another writer (or an
    /// earlier incarnation of the owner) appended first. Reload the run and try again.
    StaleHead(String),
    /// A run tried to close while its inbox holds entries it has not recorded: the owner
    /// must record them first (replay the run and take its inbox).
    InboxPending(String),
    /// The store could not make an append durable or could not be read (I/O, a full disk,
    /// a lock held by another engine). Retrying the same append cannot help; the run must
    /// be reloaded.
    Durability(String),
    /// A stored history cannot be read back or replayed (a corrupt record, an event that
    /// contradicts the ones before it).
    Corrupt(String),
    /// A workflow with this id already exists in the store.
    AlreadyExists(String),
    /// No workflow with this id exists in the store.
    NotFound(String),
    /// The caller passed something malformed (bad JSON, a bad option value, a bad name).
    InvalidInput(String),
    /// A payload is larger than the configured `max_payload_bytes`.
    PayloadTooLarge {
        /// Its encoded size in bytes.
        size: usize,
        /// The limit in force.
        limit: usize,
    },
    /// In a cluster: this node does not own the run — another node holds it, or this
    /// node's lease ran out (its appends are refused until it joins again).
    NotOwner(String),
    /// The store is open read-only (the command line's `--data-dir`): nothing is written.
    ReadOnly(String),
    /// A bug in aion: a broken invariant or a caught panic.
    Internal(String),
}

impl Error {
    /// The kind of this error: the atom it carries on the BEAM side.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NonDeterminism { .. } => "non_determinism",
            Error::NotRunning(_) => "not_running",
            Error::NotStarted(_) => "not_started",
            Error::StaleHead(_) => "stale_head",
            Error::InboxPending(_) => "inbox_pending",
            Error::Durability(_) => "store",
            Error::Corrupt(_) => "corrupt",
            Error::AlreadyExists(_) => "already_exists",
            Error::NotFound(_) => "not_found",
            Error::InvalidInput(_) => "invalid_input",
            Error::PayloadTooLarge { .. } => "payload_too_large",
            Error::NotOwner(_) => "not_owner",
            Error::ReadOnly(_) => "read_only",
            Error::Internal(_) => "internal",
        }
    }

    /// The human-readable detail, without the kind.
    pub fn detail(&self) -> String {
        match self {
            Error::NonDeterminism {
                seq,
                recorded,
                requested,
            } => format!(
                "at seq {seq} history holds {recorded} but the workflow code asked for {requested}"
            ),
            Error::PayloadTooLarge { size, limit } => {
                format!("payload of {size} bytes is larger than the limit of {limit} bytes")
            }
            Error::NotRunning(d)
            | Error::NotStarted(d)
            | Error::StaleHead(d)
            | Error::InboxPending(d)
            | Error::Durability(d)
            | Error::Corrupt(d)
            | Error::AlreadyExists(d)
            | Error::NotFound(d)
            | Error::InvalidInput(d)
            | Error::NotOwner(d)
            | Error::ReadOnly(d)
            | Error::Internal(d) => d.clone(),
        }
    }

    /// Whether reloading the run from the store and trying again may help (the store
    /// refused or failed an append), as opposed to a history that can never be replayed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::StaleHead(_) | Error::InboxPending(_) | Error::Durability(_)
        )
    }

    /// Shorthand for a durability error from anything displayable.
    pub fn durability(detail: impl fmt::Display) -> Error {
        Error::Durability(detail.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind(), self.detail())
    }
}

impl std::error::Error for Error {}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        Error::Durability(format!("postgres: {e}"))
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Durability(format!("sqlite: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_and_detail_are_separate() {
        let err = Error::InvalidInput("x".into());
        assert_eq!(err.kind(), "invalid_input");
        assert_eq!(err.detail(), "x");
        let nd = Error::NonDeterminism {
            seq: 4,
            recorded: "ActivityScheduled(charge)".into(),
            requested: "ActivityScheduled(ship)".into(),
        };
        assert_eq!(nd.kind(), "non_determinism");
        assert!(nd.detail().starts_with("at seq 4"));
        assert!(nd.detail().contains("charge") && nd.detail().contains("ship"));
        assert!(Error::StaleHead(String::new()).is_transient());
        assert!(!Error::Corrupt(String::new()).is_transient());
    }
}
