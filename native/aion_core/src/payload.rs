//! Limits every payload (inputs, results, signal and update payloads, errors, reasons)
//! is checked against once, where it enters the engine.
//!
//! A payload is carried inside an event, and events are JSON documents read back with a
//! bounded recursion depth; so a payload may nest at most [`MAX_DEPTH`] levels, well
//! below what an event adds around it. Whatever is accepted can always be read back.

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
}
