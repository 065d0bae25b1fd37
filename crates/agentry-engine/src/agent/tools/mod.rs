//! Agent tools (tools.md): the tool nodes wired to an agent by `tool` edges, each contributing
//! one or more tools by their LLM-facing names, plus `web_search`, offered automatically when
//! the workflow's owner has a SearXNG tool credential. A tool answers with text or asks to
//! suspend the agent (`ask_human`). Errors are answers too: the model reads them and carries on.
//!
//! One file per family: [`identity`] (whoami), [`memory`] (recall, remember), [`web`]
//! (http_request, web_search, platform_api), [`sandboxed`] (code_execute, run_command).

mod discover;
mod identity;
mod memory;
pub mod registry;
mod sandboxed;
pub mod spawn;
mod web;
mod workflow;

use super::calculator;
use crate::node::NodeEnv;
use agentry_core::flow::SnapNode;
use agentry_llm::ToolSpec;
use agentry_service::Services;
use serde_json::{Value, json};

pub use memory::record_episode;
pub use registry::{ActiveTask, RegistryTouch};

/// What a tool call gives back.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolOutcome {
    /// The tool message content.
    Text(String),
    /// Park the agent until a person answers `question` (ask_human).
    AskHuman { question: String },
    /// A registry tool's successful answer and what it touched (inline-task cost).
    Registry { text: String, touch: RegistryTouch },
    /// Start these child executions and park until they all end (spawn_and_await).
    Spawn(spawn::SpawnRequest),
}

/// One tool offered to the model, with the node that contributes it (a synthetic
/// `_builtin_{name}` node for automatic tools).
#[derive(Debug, Clone)]
pub struct Tool {
    pub name: &'static str,
    pub node: SnapNode,
}

/// Everything a tool call may need to know about where it runs. Owned, so each call of a
/// batch runs as its own task (see `run_batch`).
#[derive(Clone)]
pub struct ToolCtx {
    pub env: NodeEnv,
    pub services: Services,
    pub execution_id: String,
    pub workflow_slug: String,
    pub workflow_id: i64,
    /// Owner of the hosting workflow: memory scope, platform_api identity.
    pub owner_id: Option<i64>,
    /// The agent node the tools are attached to.
    pub agent: SnapNode,
}

const SUPPORTED: &[&str] = &[
    "calculator",
    "get_datetime",
    "whoami",
    "ask_human",
    "http_request",
    "code_execute",
    "recall",
    "remember",
    "web_search",
    "platform_api",
    "run_command",
    "workflow_create",
    "workflow_discover",
    "spawn_and_await",
];

/// The tools of these tool nodes (duplicates offered once; unknown names skipped with a log),
/// then `web_search` from the owner's SearXNG credential if no node offered it.
pub async fn resolve(
    tool_nodes: &[SnapNode],
    services: &Services,
    owner_id: Option<i64>,
) -> Vec<Tool> {
    let mut out: Vec<Tool> = vec![];
    for node in tool_nodes {
        let Some(spec) = agentry_core::node_types::get(&node.component_type) else {
            continue;
        };
        for name in &spec.tool_names {
            if !SUPPORTED.contains(name) && !registry::NAMES.contains(name) {
                tracing::warn!(tool = name, node = %node.node_id, "tool not available in this build; not offered");
                continue;
            }
            if registry::NAMES.contains(name) && owner_id.is_none() {
                // tools.md §0: only this node's tools are skipped, with a log.
                tracing::warn!(tool = name, node = %node.node_id,
                    "{}: the workflow has no owner_id - cannot resolve owner", node.component_type);
                continue;
            }
            if !out.iter().any(|t| t.name == *name) {
                out.push(Tool {
                    name,
                    node: node.clone(),
                });
            }
        }
    }
    if !out.iter().any(|t| t.name == "web_search")
        && let Some(owner) = owner_id
    {
        match services.searxng_url(owner).await {
            Ok(Some(url)) => out.push(Tool {
                name: "web_search",
                node: SnapNode {
                    node_id: "_builtin_web_search".into(),
                    component_type: "web_search".into(),
                    label: String::new(),
                    is_entry_point: false,
                    interrupt_before: false,
                    interrupt_after: false,
                    config: json!({"extra_config": {"url": url}}),
                    subworkflow_id: None,
                },
            }),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot look up the web search credential"),
        }
    }
    out
}

/// The JSON Schema the model sees for a tool.
pub fn spec(tool: &Tool) -> ToolSpec {
    let (desc, params) = match tool.name {
        "calculator" => (
            "Evaluate an arithmetic expression (numbers with + - * / // % ** and parentheses).",
            json!({"type": "object", "required": ["expression"], "properties": {"expression": {"type": "string"}}}),
        ),
        "get_datetime" => (
            "The current date and time.",
            json!({"type": "object", "properties": {}}),
        ),
        "whoami" => (
            "Describe the agent you are: workflow, node, configuration.",
            json!({"type": "object", "properties": {}}),
        ),
        "ask_human" => (
            "Ask a person a question and wait for the answer.",
            json!({"type": "object", "required": ["question"], "properties": {"question": {"type": "string"}}}),
        ),
        "http_request" => (
            "Make an HTTP request and return the status and body.",
            json!({"type": "object", "required": ["url"], "properties": {
                "url": {"type": "string"}, "method": {"type": "string"}, "body": {"type": "string"}}}),
        ),
        "code_execute" => (
            "Run a Python or bash snippet in a sandbox; returns stdout, stderr and the exit code.",
            json!({"type": "object", "required": ["code"], "properties": {"code": {"type": "string"},
                "language": {"type": "string", "enum": ["python", "bash"]}}}),
        ),
        "recall" => (
            "Recall what you stored earlier: no arguments lists every fact; `key` looks one up; \
             `query` searches facts, procedures and episodes.",
            json!({"type": "object", "properties": {"key": {"type": "string", "default": ""},
                "query": {"type": "string", "default": ""}}}),
        ),
        "remember" => (
            "Store a fact for later (per user, kept across runs).",
            json!({"type": "object", "required": ["key", "value"], "properties": {
                "key": {"type": "string"}, "value": {"type": "string"},
                "fact_type": {"type": "string", "default": "",
                    "description": "user_preference, world_knowledge, self_knowledge, correction or relationship"}}}),
        ),
        "web_search" => (
            "Search the web; returns the top results with title, snippet and URL.",
            json!({"type": "object", "required": ["query"], "properties": {"query": {"type": "string"}}}),
        ),
        "platform_api" => (
            "Call this platform's own REST API (see GET /openapi.json) as the workflow's owner.",
            json!({"type": "object", "properties": {
                "method": {"type": "string", "default": "GET", "enum": ["GET", "POST", "PATCH", "DELETE"]},
                "path": {"type": "string", "default": "/openapi.json"},
                "body": {"type": "string", "default": "", "description": "JSON text for POST/PATCH"},
                "api_key": {"type": "string", "default": ""}}}),
        ),
        "workflow_create" => (
            "Create (or fork with `based_on`) a workflow from a YAML DSL document; it belongs to \
             this workflow's owner. Returns {success, workflow_id, slug, node_count, edge_count, \
             mode} or {success: false, error, errors}.",
            json!({"type": "object", "required": ["dsl"], "properties": {
                "dsl": {"type": "string", "description": "YAML DSL (dsl.md)"},
                "tags": {"type": "string", "default": "",
                    "description": "comma-separated, added to the new workflow"}}}),
        ),
        "run_command" => (
            "Run a shell command (/bin/sh -c) in this workflow's sandboxed workspace; files persist between runs.",
            json!({"type": "object", "required": ["command"], "properties": {"command": {"type": "string"}}}),
        ),
        "workflow_discover" => discover::schema(),
        "spawn_and_await" => spawn::schema(),
        other => {
            registry::schema(other).unwrap_or(("", json!({"type": "object", "properties": {}})))
        }
    };
    ToolSpec::new(tool.name, desc, params)
}

/// A string argument (`""` when absent; numbers and booleans as their JSON text).
fn arg(args: &Value, key: &str) -> String {
    match args.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Runs one tool call.
pub async fn call(tool: &Tool, args: &Value, ctx: &ToolCtx) -> ToolOutcome {
    let text = match tool.name {
        "calculator" => match calculator::evaluate(&arg(args, "expression")) {
            Ok(v) => calculator::format(v),
            Err(e) => format!("Error: {e}"),
        },
        "get_datetime" => chrono::Utc::now()
            .format("%Y-%m-%d %H:%M:%S UTC")
            .to_string(),
        "whoami" => identity::whoami(ctx).to_string(),
        "ask_human" => {
            let question = arg(args, "question").trim().to_string();
            if question.is_empty() {
                "Error: question is required".to_string()
            } else {
                return ToolOutcome::AskHuman { question };
            }
        }
        "http_request" => web::http_tool(tool, args).await,
        "web_search" => web::web_search(tool, &arg(args, "query")).await,
        "platform_api" => web::platform_api(args, ctx).await,
        "code_execute" => sandboxed::code_tool(tool, args, ctx).await,
        "run_command" => sandboxed::run_command(tool, &arg(args, "command"), ctx).await,
        "workflow_create" => workflow::workflow_create(args, ctx).await,
        "workflow_discover" => discover::workflow_discover(args, ctx).await,
        name if registry::NAMES.contains(&name) => return registry::call(tool, args, ctx).await,
        "spawn_and_await" => return spawn::call(args),
        "recall" => memory::recall(tool, args, ctx).await,
        "remember" => memory::remember(tool, args, ctx).await,
        other => format!("Error: tool '{other}' is not available"),
    };
    ToolOutcome::Text(text)
}
