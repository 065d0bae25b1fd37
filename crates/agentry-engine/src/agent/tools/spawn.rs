//! `spawn_and_await` (tools.md §5, delegation.md): validates the children to start and asks
//! the agent to suspend; the orchestrator creates the children, parks the node with no worker
//! held, and resumes it with one result per child, in input order.

use super::ToolOutcome;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// delegation.md §2: default and bounds of `timeout_seconds`.
pub const DEFAULT_TIMEOUT_SECONDS: i64 = 600;
pub const MIN_TIMEOUT_SECONDS: i64 = 10;
pub const MAX_TIMEOUT_SECONDS: i64 = 3600;

/// One child to start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpawnItem {
    /// A slug, or `"self"` for the parent's own workflow.
    pub workflow_slug: String,
    #[serde(default)]
    pub input_text: String,
    #[serde(default)]
    pub task_id: Option<String>,
    #[serde(default)]
    pub input_data: Value,
}

/// What the agent suspends on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpawnRequest {
    pub tasks: Vec<SpawnItem>,
    pub timeout_seconds: i64,
}

pub fn schema() -> (&'static str, Value) {
    (
        "Start child workflows in parallel and wait for all of them; returns a JSON array with \
         one result per task, in order (each with status, output or _error, execution_id, \
         duration_ms, total_tokens). workflow_slug \"self\" runs this workflow again.",
        json!({"type": "object", "required": ["tasks"], "properties": {
            "tasks": {"type": "array", "items": {"type": "object",
                "required": ["workflow_slug"], "properties": {
                    "workflow_slug": {"type": "string", "description": "target slug, or \"self\""},
                    "input_text": {"type": "string", "default": ""},
                    "task_id": {"type": ["string", "null"], "default": null},
                    "input_data": {"type": "object", "default": {}}}}},
            "timeout_seconds": {"type": "integer", "default": DEFAULT_TIMEOUT_SECONDS,
                "minimum": MIN_TIMEOUT_SECONDS, "maximum": MAX_TIMEOUT_SECONDS}}}),
    )
}

/// Validates the arguments (tools.md §5, nothing created on error) and asks to suspend.
pub(super) fn call(args: &Value) -> ToolOutcome {
    match validate(args) {
        Ok(req) => ToolOutcome::Spawn(req),
        Err(e) => ToolOutcome::Text(format!("Error: {e}")),
    }
}

pub fn validate(args: &Value) -> Result<SpawnRequest, String> {
    let items = match args.get("tasks") {
        Some(Value::Array(items)) => items,
        // A JSON array given as text is still a list.
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(items)) => {
                return validate(
                    &json!({"tasks": items, "timeout_seconds": args.get("timeout_seconds")}),
                );
            }
            _ => return Err("tasks must be a list".into()),
        },
        None | Some(Value::Null) => return Err("tasks list cannot be empty".into()),
        Some(_) => return Err("tasks must be a list".into()),
    };
    if items.is_empty() {
        return Err("tasks list cannot be empty".into());
    }
    let mut tasks = vec![];
    for (i, item) in items.iter().enumerate() {
        let Value::Object(m) = item else {
            return Err(format!(
                "Task {i} must be a dict, got {}",
                python_type(item)
            ));
        };
        let slug = match m.get("workflow_slug") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            _ => return Err(format!("Task {i} missing required field 'workflow_slug'")),
        };
        tasks.push(SpawnItem {
            workflow_slug: slug,
            input_text: text(m, "input_text"),
            task_id: Some(text(m, "task_id")).filter(|t| !t.is_empty()),
            input_data: match m.get("input_data") {
                Some(Value::Object(o)) => Value::Object(o.clone()),
                _ => json!({}),
            },
        });
    }
    let timeout_seconds = match args.get("timeout_seconds") {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .unwrap_or(DEFAULT_TIMEOUT_SECONDS),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(DEFAULT_TIMEOUT_SECONDS),
        _ => DEFAULT_TIMEOUT_SECONDS,
    }
    .clamp(MIN_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS);
    Ok(SpawnRequest {
        tasks,
        timeout_seconds,
    })
}

fn text(m: &Map<String, Value>, key: &str) -> String {
    match m.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The type name as Python spells it (the spec's messages come from a Python reference).
fn python_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// The tool message for the value the node resumes with (delegation.md §5): the results as a
/// JSON array string; an `{"_error"}` object (nothing could be spawned) as `Spawn failed: …`.
pub fn resume_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Object(m) if m.contains_key("_error") => format!(
            "Spawn failed: {}",
            m.get("_error")
                .and_then(Value::as_str)
                .unwrap_or("unknown error")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(args: Value) -> String {
        validate(&args).expect_err("invalid")
    }

    #[test]
    fn validation_messages_follow_the_spec() {
        assert_eq!(err(json!({})), "tasks list cannot be empty");
        assert_eq!(err(json!({"tasks": []})), "tasks list cannot be empty");
        assert_eq!(
            err(json!({"tasks": [{"workflow_slug": "a"}, "b"]})),
            "Task 1 must be a dict, got str"
        );
        assert_eq!(
            err(json!({"tasks": [1.5]})),
            "Task 0 must be a dict, got float"
        );
        assert_eq!(
            err(json!({"tasks": [null]})),
            "Task 0 must be a dict, got NoneType"
        );
        assert_eq!(
            err(json!({"tasks": [{"input_text": "x"}]})),
            "Task 0 missing required field 'workflow_slug'"
        );
    }

    #[test]
    fn items_get_defaults_and_the_timeout_is_clamped() {
        let r = validate(&json!({"tasks": [
            {"workflow_slug": "self", "input_text": "go", "task_id": "tk-1", "input_data": {"k": 1}},
            {"workflow_slug": " other "}], "timeout_seconds": 5}))
        .expect("valid");
        assert_eq!(r.timeout_seconds, MIN_TIMEOUT_SECONDS);
        assert_eq!(r.tasks[0].task_id.as_deref(), Some("tk-1"));
        assert_eq!(r.tasks[0].input_data, json!({"k": 1}));
        assert_eq!(r.tasks[1].workflow_slug, "other");
        assert_eq!(r.tasks[1].input_text, "");
        assert_eq!(r.tasks[1].task_id, None);
        assert_eq!(r.tasks[1].input_data, json!({}));
        let r = validate(&json!({"tasks": [{"workflow_slug": "a"}], "timeout_seconds": 99999}))
            .expect("valid");
        assert_eq!(r.timeout_seconds, MAX_TIMEOUT_SECONDS);
        let r = validate(&json!({"tasks": [{"workflow_slug": "a"}]})).expect("valid");
        assert_eq!(r.timeout_seconds, DEFAULT_TIMEOUT_SECONDS);
    }

    #[test]
    fn resume_text_is_the_json_array_or_spawn_failed() {
        assert_eq!(
            resume_text(&json!([{"output": "x"}])),
            r#"[{"output":"x"}]"#
        );
        assert_eq!(
            resume_text(&json!({"_error": "no user to run the child as"})),
            "Spawn failed: no user to run the child as"
        );
    }
}
