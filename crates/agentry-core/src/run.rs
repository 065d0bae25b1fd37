//! Execution vocabulary: statuses and the engine's durable bookkeeping for one execution
//! (engine.md §3 "engine bookkeeping", §4, §5).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Execution status (engine.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
    Interrupted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::Interrupted => "interrupted",
        }
    }
    pub fn parse(text: &str) -> Option<Status> {
        Some(match text {
            "pending" => Status::Pending,
            "running" => Status::Running,
            "completed" => Status::Completed,
            "failed" => Status::Failed,
            "cancelled" => Status::Cancelled,
            "interrupted" => Status::Interrupted,
            _ => return None,
        })
    }
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Cancelled)
    }
}

/// One running loop (engine.md §5).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoopRun {
    pub items: Vec<Value>,
    pub index: usize,
    pub results: Vec<Value>,
    /// Completion nodes finished in the current iteration, with their outputs.
    #[serde(default)]
    pub record: serde_json::Map<String, Value>,
    /// The loop's output object (`items`, `results`).
    #[serde(default)]
    pub output: Value,
    /// Body nodes of this loop queued or running. An iteration ends when none is left, so a
    /// path that ends before a completion node (a switch route with no edge, a body without
    /// `loop_return` edges) closes the iteration instead of stalling the loop.
    #[serde(default)]
    pub pending: i64,
}

/// Token usage and cost (engine.md §10), per node run and summed per execution.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: i64,
    #[serde(default)]
    pub output_tokens: i64,
    #[serde(default)]
    pub cost_usd: f64,
    #[serde(default)]
    pub llm_calls: i64,
    #[serde(default)]
    pub tool_invocations: i64,
}

impl Usage {
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cost_usd += other.cost_usd;
        self.llm_calls += other.llm_calls;
        self.tool_invocations += other.tool_invocations;
    }
    pub fn total_tokens(&self) -> i64 {
        self.input_tokens + self.output_tokens
    }
}

/// Engine bookkeeping kept with the execution (not observable by nodes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Book {
    /// Node runs enqueued or running, plus nodes waiting or iterating.
    #[serde(default)]
    pub inflight: i64,
    /// Arrivals per merge node since it last fired.
    #[serde(default)]
    pub merge_arrivals: BTreeMap<String, i64>,
    #[serde(default)]
    pub loops: BTreeMap<String, LoopRun>,
    /// Values waiting nodes resume with, delivered once.
    #[serde(default)]
    pub resume: BTreeMap<String, Value>,
    /// Nodes whose `interrupt_after` was confirmed: advance with this route, do not re-run.
    #[serde(default)]
    pub confirmed_after: BTreeMap<String, Option<String>>,
    /// Nodes whose `interrupt_before` was confirmed.
    #[serde(default)]
    pub confirmed_before: BTreeSet<String>,
    /// Nodes parked on a wait record.
    #[serde(default)]
    pub waiting: BTreeSet<String>,
    #[serde(default)]
    pub spawn_depth: i64,
    /// `spawn_and_await` cycles started per node (delegation.md §8): the next cycle's number.
    #[serde(default)]
    pub spawn_cycles: BTreeMap<String, i64>,
    /// Milliseconds not counted toward the wall-clock limit (interrupted, or only waiting).
    #[serde(default)]
    pub paused_ms: i64,
    /// Since when the clock is paused, if it is.
    #[serde(default)]
    pub paused_since: Option<i64>,
    /// Node results (success log rows), for the activity summary.
    #[serde(default)]
    pub steps: i64,
    /// Usage of this execution's own nodes so far.
    #[serde(default)]
    pub usage: Usage,
}

impl Book {
    /// Starts the paused clock if it is not running.
    pub fn pause(&mut self, now: i64) {
        if self.paused_since.is_none() {
            self.paused_since = Some(now);
        }
    }
    /// Stops the paused clock, adding the paused time.
    pub fn unpause(&mut self, now: i64) {
        if let Some(since) = self.paused_since.take() {
            self.paused_ms += (now - since).max(0);
        }
    }
    /// Milliseconds of counted run time since `started_at`.
    pub fn counted_ms(&self, started_at: i64, now: i64) -> i64 {
        let paused_now = self.paused_since.map(|s| (now - s).max(0)).unwrap_or(0);
        (now - started_at - self.paused_ms - paused_now).max(0)
    }
}

/// The final output rule (engine.md §4): `output` set → `{"output"}`; else the last AI message
/// with content → `{"message"}`; else node outputs → `{"node_outputs"}`; else the last message.
pub fn final_output(
    output: &Value,
    messages: &[Value],
    node_outputs: &serde_json::Map<String, Value>,
) -> Value {
    if !output.is_null() {
        return serde_json::json!({"output": output});
    }
    let content = |m: &Value| {
        m.get("content")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(String::from)
    };
    if let Some(text) = messages
        .iter()
        .rev()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
        .find_map(content)
    {
        return serde_json::json!({"message": text});
    }
    if !node_outputs.is_empty() {
        return serde_json::json!({"node_outputs": node_outputs});
    }
    if let Some(last) = messages.last().and_then(content) {
        return serde_json::json!({"message": last});
    }
    Value::Null
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn final_output_rule() {
        let outs = serde_json::Map::from_iter([("a".to_string(), json!({"output": 1}))]);
        assert_eq!(
            final_output(&json!("hi"), &[], &outs),
            json!({"output": "hi"})
        );
        let msgs = vec![
            json!({"role": "user", "content": "q"}),
            json!({"role": "assistant", "content": "a"}),
        ];
        assert_eq!(
            final_output(&Value::Null, &msgs, &outs),
            json!({"message": "a"})
        );
        assert_eq!(
            final_output(&Value::Null, &msgs[..1], &outs),
            json!({"node_outputs": {"a": {"output": 1}}})
        );
        assert_eq!(
            final_output(&Value::Null, &msgs[..1], &Default::default()),
            json!({"message": "q"})
        );
        assert_eq!(
            final_output(&Value::Null, &[], &Default::default()),
            Value::Null
        );
    }

    #[test]
    fn paused_time_is_not_counted() {
        let mut b = Book::default();
        b.pause(1_000);
        assert_eq!(b.counted_ms(0, 5_000), 1_000);
        b.unpause(4_000);
        assert_eq!(b.counted_ms(0, 5_000), 2_000);
    }
}
