//! Limits every payload (inputs, results, signal and update payloads, errors, reasons)
//! is checked against once, where it enters the engine.
//!
//! A payload is carried inside an event, and events are JSON documents read back with a
//! bounded recursion depth; so a payload may nest at most [`MAX_DEPTH`] levels, well
//! below what an event adds around it. Whatever is accepted can always be read back.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::Error;

/// The deepest nesting of arrays and objects a payload may have.
pub const MAX_DEPTH: usize = 64;

/// Checks that `value` nests at most [`MAX_DEPTH`] levels.
pub fn check_depth(value: &Value) -> Result<(), Error> {
    // Iterative, so that checking never recurses deeper than the limit itself.
    // The root is at depth 0; a value inside `MAX_DEPTH` arrays or objects is at depth
    // `MAX_DEPTH` (the same count the term encoder keeps).
    let mut stack = vec![(value, 0usize)];
    while let Some((value, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        match value {
            Value::Array(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
            Value::Object(map) => stack.extend(map.values().map(|v| (v, depth + 1))),
            _ => {}
        }
    }
    Ok(())
}

/// The error for a payload nested deeper than [`MAX_DEPTH`].
pub fn too_deep() -> Error {
    Error::InvalidInput(format!(
        "not JSON-compatible: nested deeper than {MAX_DEPTH} levels"
    ))
}

/// A payload as the JSON text it entered with: validated once where it enters (it parses,
/// and nests at most [`MAX_DEPTH`] levels), then carried as that text — into an event, the
/// store and a worker's task, and back to the workflow — without being encoded again.
/// Serialized as the raw JSON it holds. Read back from a store it is parsed once (serde
/// cannot hand raw JSON through the internally tagged events), which is a read, not the
/// hot path. Equal when the texts are equal.
#[derive(Clone)]
pub struct Payload(Box<RawValue>);

impl Payload {
    /// Checks `text` (JSON, at most [`MAX_DEPTH`] levels deep) and keeps it as it is;
    /// `what` names it in the error.
    pub fn from_text(text: String, what: &str) -> Result<Payload, Error> {
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| Error::InvalidInput(format!("{what} is not JSON: {e}")))?;
        check_depth(&value)?;
        raw(text).map(Payload)
    }

    /// `value` encoded (for payloads the engine makes, and for tests).
    pub fn from_value(value: &Value) -> Payload {
        // A `Value` always encodes to valid JSON; `Box<RawValue>`'s default is `null`.
        Payload(raw(value.to_string()).unwrap_or_default())
    }

    /// JSON `null`.
    pub fn null() -> Payload {
        Payload::from_value(&Value::Null)
    }

    /// The JSON text.
    pub fn text(&self) -> &str {
        self.0.get()
    }

    /// The payload parsed, for the few places that look inside one.
    pub fn value(&self) -> Value {
        serde_json::from_str(self.text()).unwrap_or(Value::Null)
    }
}

fn raw(text: String) -> Result<Box<RawValue>, Error> {
    RawValue::from_string(text).map_err(|e| Error::InvalidInput(format!("not JSON: {e}")))
}

impl From<Value> for Payload {
    fn from(value: Value) -> Payload {
        Payload::from_value(&value)
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        self.text() == other.text()
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text())
    }
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Payload, D::Error> {
        Value::deserialize(deserializer).map(Payload::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> Value {
        (0..levels).fold(Value::Null, |inner, _| Value::Array(vec![inner]))
    }

    #[test]
    fn depth_is_bounded() {
        assert!(check_depth(&nested(MAX_DEPTH)).is_ok());
        assert_eq!(
            check_depth(&nested(MAX_DEPTH + 1)).map_err(|e| e.kind()),
            Err("invalid_input")
        );
        assert!(check_depth(&serde_json::json!({"a": [1, {"b": null}]})).is_ok());
    }

    #[test]
    fn an_event_around_the_deepest_payload_reads_back() -> Result<(), Error> {
        let event = crate::Event {
            seq: 1,
            recorded_at: 0,
            kind: crate::EventKind::UpdateCompleted {
                update_id: "u".into(),
                result: serde_json::json!({ "ok": nested(MAX_DEPTH) }),
            },
        };
        assert_eq!(crate::Event::from_json(&event.to_json()?)?, event);
        Ok(())
    }

    #[test]
    fn a_payload_goes_into_an_event_as_the_text_it_came_in() -> Result<(), Error> {
        // Not the key order or spacing serde would write: kept as it is.
        let text = r#"{"b": 1, "a": [1.5, "x"]}"#;
        let input = Payload::from_text(text.to_string(), "input")?;
        let event = crate::Event {
            seq: 2,
            recorded_at: 7,
            kind: crate::EventKind::ActivityScheduled {
                ordinal: 1,
                name: "n".into(),
                input: input.clone(),
                config: Value::Null,
            },
        };
        let json = event.to_json()?;
        assert!(
            json.contains(r#""input":{"b": 1, "a": [1.5, "x"]}"#),
            "{json}"
        );
        // Read back (parsed once): the same payload.
        let back = crate::Event::from_json(&json)?;
        let crate::EventKind::ActivityScheduled { input: read, .. } = back.kind else {
            panic!("not an ActivityScheduled: {back:?}");
        };
        assert_eq!(read.value(), input.value());
        Ok(())
    }

    #[test]
    fn a_payload_is_checked_where_it_enters() {
        let refused = |text: &str| {
            Payload::from_text(text.to_string(), "input")
                .map_err(|e| e.kind())
                .err()
        };
        assert_eq!(refused("{bad"), Some("invalid_input"));
        assert_eq!(
            refused(&nested(MAX_DEPTH + 1).to_string()),
            Some("invalid_input")
        );
        assert_eq!(refused(&nested(MAX_DEPTH).to_string()), None);
        assert_eq!(Payload::null().text(), "null");
    }
}
