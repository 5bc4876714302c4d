//! The exported history document: one run's events in a stable, versioned JSON format
//! that `aion:export_history/2` writes and the replayer reads.
//!
//! ```json
//! {"format": "aion-history", "version": 1, "workflow_id": "...", "run_id": "...",
//!  "workflow_type": "...", "events": [{"seq": 1, "recorded_at": 0, "type": "WorkflowStarted", ...}]}
//! ```
//!
//! Each event is exactly as stored (see [`crate::event::Event`]); readers must ignore
//! fields they do not know, so later versions may add fields without a version bump.

use serde::{Deserialize, Serialize};

use crate::event::{Event, EventKind};
use crate::Error;

/// The `format` field.
pub const FORMAT: &str = "aion-history";
/// The `version` this code writes and reads.
pub const VERSION: u32 = 1;

/// One run's exported history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryDocument {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// The workflow id.
    pub workflow_id: String,
    /// The run id.
    pub run_id: String,
    /// The workflow type.
    pub workflow_type: String,
    /// The run's events, in order.
    pub events: Vec<Event>,
}

impl HistoryDocument {
    /// A document for `events` of workflow `workflow_id` (the first event names the run).
    pub fn new(workflow_id: &str, events: Vec<Event>) -> Result<HistoryDocument, Error> {
        let Some(Event {
            kind:
                EventKind::WorkflowStarted {
                    workflow_type,
                    run_id,
                    ..
                },
            ..
        }) = events.first()
        else {
            return Err(Error::NotFound(workflow_id.to_string()));
        };
        Ok(HistoryDocument {
            format: FORMAT.to_string(),
            version: VERSION,
            workflow_id: workflow_id.to_string(),
            run_id: run_id.clone(),
            workflow_type: workflow_type.clone(),
            events,
        })
    }

    /// The document as pretty-printed JSON.
    pub fn to_json(&self) -> Result<String, Error> {
        serde_json::to_string_pretty(self)
            .map_err(|e| Error::Internal(format!("cannot encode history: {e}")))
    }

    /// Parses and checks a document.
    pub fn from_json(text: &str) -> Result<HistoryDocument, Error> {
        let doc: HistoryDocument = serde_json::from_str(text)
            .map_err(|e| Error::InvalidInput(format!("not an aion history document: {e}")))?;
        if doc.format != FORMAT {
            return Err(Error::InvalidInput(format!(
                "format is {:?}, expected {FORMAT:?}",
                doc.format
            )));
        }
        if doc.version != VERSION {
            return Err(Error::InvalidInput(format!(
                "history version {} is not supported (this aion reads version {VERSION})",
                doc.version
            )));
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::Run;
    use serde_json::json;

    #[test]
    fn document_round_trips_and_checks_format_and_version() {
        let events = vec![Run::start_event("order", json!(1).into(), "r1", 5)];
        let doc = HistoryDocument::new("wf", events).unwrap();
        let text = doc.to_json().unwrap();
        assert_eq!(HistoryDocument::from_json(&text).unwrap(), doc);
        let v2 = text.replace("\"version\": 1", "\"version\": 2");
        assert!(HistoryDocument::from_json(&v2)
            .unwrap_err()
            .to_string()
            .contains("version 2"));
        assert_eq!(
            HistoryDocument::from_json("{}").unwrap_err().kind(),
            "invalid_input"
        );
        assert_eq!(
            HistoryDocument::new("wf", vec![]).unwrap_err().kind(),
            "not_found"
        );
    }
}
