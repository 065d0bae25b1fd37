//! The contract between the orchestrator and a node type: what a node run sees
//! ([`NodeCtx`]) and what it returns ([`NodeOutcome`] or [`NodeError`]) — engine.md §3.

use agentry_core::flow::SnapNode;
use serde_json::{Map, Value};

/// The execution context a node sees (engine.md §3, the observable keys).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct State {
    /// The trigger payload.
    #[serde(default)]
    pub trigger: Value,
    /// `{node_id: output object}` of nodes finished so far.
    #[serde(default)]
    pub node_outputs: Map<String, Value>,
    /// The conversation so far (`{"role", "content"}` objects).
    #[serde(default)]
    pub messages: Vec<Value>,
    /// The last switch route.
    #[serde(default)]
    pub route: Option<String>,
    /// The execution's output value (`reply_chat`, agent auto-promotion).
    #[serde(default)]
    pub output: Value,
    /// `{item, index, total}` during a loop iteration.
    #[serde(default, rename = "loop")]
    pub loop_: Option<Value>,
    /// `{user_profile_id, chat_id}`.
    #[serde(default)]
    pub user_context: Value,
    #[serde(default)]
    pub execution_id: String,
}

impl State {
    /// The state as JSON, as `code` snippets and dotted paths see it.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Shared tools for node runs (built once per worker process).
#[derive(Clone, Default)]
pub struct NodeEnv {
    /// Settings of the Python sandbox; `None` until the sandbox module fills it in.
    pub sandbox: Option<std::sync::Arc<crate::sandbox::Sandbox>>,
    /// Base URL of this platform's API as agents should call it (`--public-url`); the
    /// `platform_api` tool is unavailable without it.
    pub public_url: Option<String>,
    /// Where `run_command` keeps each workflow's persistent workspace (`{data dir}/workspaces`);
    /// `None`: under the system temporary directory.
    pub workspace_root: Option<std::path::PathBuf>,
}

/// What a node run gets.
pub struct NodeCtx<'a> {
    pub env: &'a NodeEnv,
    pub execution_id: &'a str,
    /// The node, with its config's templates already resolved (engine.md §7).
    pub node: &'a SnapNode,
    pub state: &'a State,
    /// The value a waiting node resumes with (a confirmation's answer, a child's result).
    pub resume: Option<Value>,
}

/// What a node asks the engine to wait for before it completes.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitRequest {
    /// Ask a person (the `ask_human` tool): the execution is interrupted with `question` as the
    /// pending confirmation's prompt; the answer text resumes the node.
    AskHuman { question: String },
    /// Start child executions in parallel and resume with their results in input order
    /// (`spawn_and_await`, delegation.md).
    Spawn(crate::agent::tools::spawn::SpawnRequest),
    /// Run a child execution of another workflow and resume with its result (`workflow` node).
    Subworkflow {
        workflow_slug: String,
        trigger_node_id: Option<String>,
        payload: Value,
    },
}

/// A successful node run (engine.md §3): the output object plus optional effects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeOutcome {
    /// Stored at `node_outputs[node_id]`.
    pub output: Value,
    /// Sets the context's `route` (switch, human confirmation).
    pub route: Option<String>,
    /// Appended to the context's `messages`.
    pub messages: Vec<Value>,
    /// Shallow patch of other context keys (never `messages`/`node_outputs`), e.g. `output`.
    pub state_patch: Map<String, Value>,
    /// Delay before the successors run (wait node).
    pub delay_seconds: Option<f64>,
    /// Items for a loop node's body.
    pub loop_items: Option<Vec<Value>>,
    /// Park the node until something happens.
    pub wait: Option<WaitRequest>,
    /// The log row's `input` (e.g. the resolved prompt); `None` → null.
    pub log_input: Option<Value>,
    /// Tokens, cost and calls of this run (AI nodes).
    pub usage: Option<agentry_core::run::Usage>,
    /// A checkpoint to write in the commit that parks the node (an agent suspending on a
    /// tool), so the saved conversation and the wait exist together or not at all.
    pub checkpoint: Option<ParkCheckpoint>,
}

/// An agent thread to save with the node's parking commit, and the tool-call events to send.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParkCheckpoint {
    pub thread_id: String,
    /// The execution a per-execution thread ends with (`None`: a conversation thread).
    pub scope: Option<String>,
    pub node_id: String,
    pub data: Value,
    /// `node_status` data of the tool calls (sent on the execution's channels, mirrored to
    /// the root's).
    pub events: Vec<Value>,
}

impl NodeOutcome {
    pub fn output(output: Value) -> Self {
        NodeOutcome {
            output,
            ..Default::default()
        }
    }
}

/// A failed node run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct NodeError {
    /// Shown as `Node {id}: {message}` in the execution's error.
    pub message: String,
    /// The error kind (`error_code` in logs and events), e.g. `template_error`, `timeout`.
    pub code: String,
    /// Whether the engine retries it (3 times after 1, 2, 4 s).
    pub retryable: bool,
}

impl NodeError {
    /// A failure that retrying cannot fix (bad config, bad template).
    pub fn fatal(code: &str, message: impl Into<String>) -> Self {
        NodeError {
            message: message.into(),
            code: code.into(),
            retryable: false,
        }
    }
    /// A failure that may pass on a retry (network, sandbox start).
    pub fn transient(code: &str, message: impl Into<String>) -> Self {
        NodeError {
            message: message.into(),
            code: code.into(),
            retryable: true,
        }
    }
}

pub type NodeResult = Result<NodeOutcome, NodeError>;

/// Reads a dotted path (`node_outputs.fetch.output`, `trigger.text`, a leading `state.` is
/// allowed) in the state JSON; a missing path gives null (engine.md §2, switch).
pub fn lookup_path(state: &Value, path: &str) -> Value {
    let path = path.trim();
    let path = path.strip_prefix("state.").unwrap_or(path);
    let mut cur = state;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        cur = match cur {
            Value::Object(m) => match m.get(part) {
                Some(v) => v,
                None => return Value::Null,
            },
            Value::Array(a) => match part.parse::<usize>().ok().and_then(|i| a.get(i)) {
                Some(v) => v,
                None => return Value::Null,
            },
            _ => return Value::Null,
        };
    }
    cur.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dotted_paths() {
        let s = json!({"trigger": {"text": "hi"}, "node_outputs": {"a": {"output": [1, 2]}}});
        assert_eq!(lookup_path(&s, "trigger.text"), json!("hi"));
        assert_eq!(lookup_path(&s, "state.node_outputs.a.output.1"), json!(2));
        assert_eq!(lookup_path(&s, "node_outputs.b.output"), Value::Null);
    }
}
