//! `wait` (engine.md §2): `{"output": "Waited {duration} {unit}"}`; the successors run after
//! `duration × (1, 60, 3600)` seconds (`NodeOutcome::delay_seconds`; the node itself holds no
//! task while waiting).
//!
//! `duration` (default 0) is a number or a numeric string and is shown as Python shows it
//! (`5`, `1.5`, `5.0` for a float five; a string as written). A negative duration waits 0 s.
//! `unit` (default `seconds`) is `seconds`, `minutes` or `hours` (singular forms and any case
//! accepted). A duration that is not a finite number, or another unit, fails the node (not
//! retried): the reference would compute nonsense from it.

use crate::node::{NodeCtx, NodeError, NodeOutcome, NodeResult};
use agentry_core::operators::text_form;
use serde_json::{Value, json};

pub fn run(ctx: &NodeCtx<'_>) -> NodeResult {
    let extra = ctx.node.extra();
    let (amount, shown) = match extra.get("duration") {
        None | Some(Value::Null) => (0.0, "0".to_string()),
        Some(Value::Number(n)) => (
            n.as_f64().unwrap_or(0.0),
            text_form(&Value::Number(n.clone())).into_owned(),
        ),
        Some(Value::String(s)) => {
            let s = s.trim();
            match s.parse::<f64>() {
                Ok(f) => (f, s.to_string()),
                Err(_) => return Err(invalid_duration(&Value::String(s.to_string()))),
            }
        }
        Some(other) => return Err(invalid_duration(other)),
    };
    if !amount.is_finite() {
        return Err(invalid_duration(
            extra.get("duration").unwrap_or(&Value::Null),
        ));
    }
    let unit = match extra.get("unit") {
        None | Some(Value::Null) => "seconds".to_string(),
        Some(Value::String(s)) if s.trim().is_empty() => "seconds".to_string(),
        Some(Value::String(s)) => s.trim().to_string(),
        Some(other) => text_form(other).into_owned(),
    };
    let factor = match unit.to_lowercase().as_str() {
        "seconds" | "second" => 1.0,
        "minutes" | "minute" => 60.0,
        "hours" | "hour" => 3600.0,
        _ => {
            return Err(NodeError::fatal(
                "invalid_config",
                format!("Unknown wait unit '{unit}' (expected seconds, minutes or hours)"),
            ));
        }
    };
    let mut outcome = NodeOutcome::output(json!({ "output": format!("Waited {shown} {unit}") }));
    outcome.delay_seconds = Some((amount * factor).max(0.0));
    Ok(outcome)
}

fn invalid_duration(v: &Value) -> NodeError {
    NodeError::fatal(
        "invalid_config",
        format!(
            "Invalid wait duration {}: expected a number",
            agentry_core::operators::py_repr(v)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::State;
    use crate::nodes::testing::{ctx_for, node};

    fn wait(extra: Value) -> NodeResult {
        let n = node("wait", extra);
        let s = State::default();
        run(&ctx_for(&n, &s))
    }

    fn ok(extra: Value) -> (Value, f64) {
        let out = wait(extra).expect("wait runs");
        (
            out.output["output"].clone(),
            out.delay_seconds.expect("a delay"),
        )
    }

    #[test]
    fn durations_and_units() {
        assert_eq!(
            ok(json!({"duration": 5, "unit": "seconds"})),
            (json!("Waited 5 seconds"), 5.0)
        );
        assert_eq!(
            ok(json!({"duration": 2, "unit": "minutes"})),
            (json!("Waited 2 minutes"), 120.0)
        );
        assert_eq!(
            ok(json!({"duration": 1.5, "unit": "hours"})),
            (json!("Waited 1.5 hours"), 5400.0)
        );
        assert_eq!(
            ok(json!({"duration": 5.0})),
            (json!("Waited 5.0 seconds"), 5.0)
        );
        assert_eq!(
            ok(json!({"duration": "3", "unit": "Minute"})),
            (json!("Waited 3 Minute"), 180.0)
        );
        assert_eq!(
            ok(json!({"duration": -4})),
            (json!("Waited -4 seconds"), 0.0)
        );
    }

    #[test]
    fn defaults_wait_zero_seconds() {
        assert_eq!(ok(json!({})), (json!("Waited 0 seconds"), 0.0));
        assert_eq!(
            ok(json!({"duration": null, "unit": ""})),
            (json!("Waited 0 seconds"), 0.0)
        );
    }

    #[test]
    fn bad_config_fails() {
        let err = wait(json!({"duration": "soon"})).expect_err("bad duration");
        assert_eq!(
            err.message,
            "Invalid wait duration 'soon': expected a number"
        );
        assert!(!err.retryable);
        assert!(wait(json!({"duration": "inf"})).is_err());
        assert!(wait(json!({"duration": [1]})).is_err());
        let err = wait(json!({"duration": 1, "unit": "days"})).expect_err("bad unit");
        assert_eq!(
            err.message,
            "Unknown wait unit 'days' (expected seconds, minutes or hours)"
        );
    }
}
