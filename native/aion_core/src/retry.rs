//! Activity options and retry policy math.
//!
//! The options travel as JSON (the `config` of `ActivityScheduled`) so that a retry decision
//! made after a restart uses exactly the policy that was in force when the activity was
//! scheduled.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;

/// How an activity is retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included; `0` means no limit.
    pub max_attempts: u32,
    /// Delay before the second attempt.
    pub initial_interval_ms: u64,
    /// Each further delay is the previous one times this (>= 1.0).
    pub backoff_coefficient: f64,
    /// Upper bound for any delay.
    pub max_interval_ms: u64,
    /// Error types that are never retried.
    pub non_retryable: Vec<String>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_interval_ms: 100,
            backoff_coefficient: 2.0,
            max_interval_ms: 10_000,
            non_retryable: Vec::new(),
        }
    }
}

/// Everything that governs one activity's execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActivityOptions {
    /// The retry policy.
    pub retry: RetryPolicy,
    /// Longest time one attempt may run before it is killed and counted as a failed
    /// (retryable) attempt of type `timeout`. `None`: no limit.
    pub start_to_close_ms: Option<u64>,
    /// A deadline over every attempt and retry delay together, from the activity's
    /// scheduling: no attempt starts (or retry waits) past it, a running attempt is
    /// stopped at it, and the activity then fails with type `schedule_to_close_timeout`.
    /// `None`: no such deadline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_to_close_ms: Option<u64>,
    /// Longest time an attempt may go without a heartbeat (`aion_activity:heartbeat/1`),
    /// counted from its start and from each heartbeat; past it the attempt is stopped and
    /// fails with the retryable type `heartbeat_timeout`. `None`: heartbeats are not
    /// required. Recorded only when set (older histories replay unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_timeout_ms: Option<u64>,
    /// The task queue whose workers run the activity (bounded concurrency per queue).
    pub task_queue: String,
}

impl Default for ActivityOptions {
    fn default() -> Self {
        ActivityOptions {
            retry: RetryPolicy::default(),
            start_to_close_ms: None,
            schedule_to_close_ms: None,
            heartbeat_timeout_ms: None,
            task_queue: "default".to_string(),
        }
    }
}

impl ActivityOptions {
    /// Parses and validates options from their JSON form; missing fields take defaults.
    pub fn from_json(config: &Value) -> Result<ActivityOptions, Error> {
        let opts: ActivityOptions = if config.is_null() {
            ActivityOptions::default()
        } else {
            serde_json::from_value(config.clone())
                .map_err(|e| Error::InvalidInput(format!("bad activity options: {e}")))?
        };
        opts.validate()?;
        Ok(opts)
    }

    fn validate(&self) -> Result<(), Error> {
        let r = &self.retry;
        if !(r.backoff_coefficient.is_finite() && r.backoff_coefficient >= 1.0) {
            return Err(Error::InvalidInput(format!(
                "bad activity options: backoff_coefficient must be a number >= 1.0, got {}",
                r.backoff_coefficient
            )));
        }
        if r.max_interval_ms < r.initial_interval_ms {
            return Err(Error::InvalidInput(
                "bad activity options: max_interval_ms is below initial_interval_ms".into(),
            ));
        }
        if self.start_to_close_ms == Some(0) {
            return Err(Error::InvalidInput(
                "bad activity options: start_to_close_ms must be positive".into(),
            ));
        }
        if self.schedule_to_close_ms == Some(0) {
            return Err(Error::InvalidInput(
                "bad activity options: schedule_to_close_ms must be positive".into(),
            ));
        }
        if self.heartbeat_timeout_ms == Some(0) {
            return Err(Error::InvalidInput(
                "bad activity options: heartbeat_timeout_ms must be positive".into(),
            ));
        }
        if self.task_queue.is_empty() {
            return Err(Error::InvalidInput(
                "bad activity options: task_queue must not be empty".into(),
            ));
        }
        Ok(())
    }

    /// The options as JSON, with every default filled in (what gets recorded).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl RetryPolicy {
    /// Whether a failure of `error_type` on attempt `attempt` (1-based) earns another attempt.
    /// `retryable` is the failure's own verdict (`false` for terminal errors).
    pub fn should_retry(&self, attempt: u32, error_type: &str, retryable: bool) -> bool {
        retryable
            && !self.non_retryable.iter().any(|t| t == error_type)
            && (self.max_attempts == 0 || attempt < self.max_attempts)
    }

    /// Delay before attempt `attempt + 1`, after attempt `attempt` failed:
    /// `initial * coefficient^(attempt-1)`, capped at `max_interval_ms`.
    pub fn delay_after(&self, attempt: u32) -> u64 {
        let exp = attempt.saturating_sub(1).min(1000) as i32;
        let raw = self.initial_interval_ms as f64 * self.backoff_coefficient.powi(exp);
        if !raw.is_finite() || raw >= self.max_interval_ms as f64 {
            self.max_interval_ms
        } else {
            raw as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn delays_grow_geometrically_and_cap() {
        let p = RetryPolicy {
            initial_interval_ms: 100,
            backoff_coefficient: 2.0,
            max_interval_ms: 500,
            ..RetryPolicy::default()
        };
        assert_eq!(
            (1..=5).map(|a| p.delay_after(a)).collect::<Vec<_>>(),
            vec![100, 200, 400, 500, 500]
        );
    }

    #[test]
    fn retry_stops_at_max_attempts_terminal_and_non_retryable_types() {
        let p = RetryPolicy {
            max_attempts: 3,
            non_retryable: vec!["card_declined".into()],
            ..RetryPolicy::default()
        };
        assert!(p.should_retry(1, "io", true));
        assert!(p.should_retry(2, "io", true));
        assert!(!p.should_retry(3, "io", true));
        assert!(!p.should_retry(1, "io", false));
        assert!(!p.should_retry(1, "card_declined", true));
        let unlimited = RetryPolicy {
            max_attempts: 0,
            ..RetryPolicy::default()
        };
        assert!(unlimited.should_retry(10_000, "io", true));
    }

    #[test]
    fn options_parse_with_defaults_and_reject_bad_values() {
        let o = ActivityOptions::from_json(&json!({"retry": {"max_attempts": 5}})).unwrap();
        assert_eq!(o.retry.max_attempts, 5);
        assert_eq!(o.retry.initial_interval_ms, 100);
        assert_eq!(o.task_queue, "default");
        assert_eq!(
            ActivityOptions::from_json(&Value::Null).unwrap(),
            ActivityOptions::default()
        );
        for bad in [
            json!({"retry": {"backoff_coefficient": 0.5}}),
            json!({"retry": {"max_attemps": 5}}),
            json!({"start_to_close_ms": 0}),
            json!({"heartbeat_timeout_ms": 0}),
            json!({"heartbeat_timeout_ms": -5}),
            json!({"retry": {"initial_interval_ms": 10, "max_interval_ms": 1}}),
        ] {
            let err = ActivityOptions::from_json(&bad).unwrap_err();
            assert_eq!(err.kind(), "invalid_input", "{bad}");
        }
    }
}
