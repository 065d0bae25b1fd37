//! Agent tools (tools.md): the tool nodes wired to an agent by `tool` edges, each contributing
//! one or more tools by their LLM-facing names. A tool answers with text or asks to suspend the
//! agent (`ask_human`). Errors are answers too: the model reads them and carries on.

use super::calculator;
use crate::node::NodeEnv;
use agentry_core::flow::SnapNode;
use agentry_llm::ToolSpec;
use serde_json::{Value, json};

/// What a tool call gives back.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolOutcome {
    /// The tool message content.
    Text(String),
    /// Park the agent until a person answers `question` (ask_human).
    AskHuman { question: String },
}

/// One tool offered to the model, with the node that contributes it.
#[derive(Debug, Clone)]
pub struct Tool {
    pub name: &'static str,
    pub node: SnapNode,
}

/// Everything a tool call may need to know about where it runs.
pub struct ToolCtx<'a> {
    pub env: &'a NodeEnv,
    pub workflow_slug: &'a str,
    pub workflow_id: i64,
    /// The agent node the tools are attached to.
    pub agent: &'a SnapNode,
}

/// The tools of these tool nodes (duplicates offered once; unknown names skipped with a log).
pub fn resolve(tool_nodes: &[SnapNode]) -> Vec<Tool> {
    let mut out: Vec<Tool> = vec![];
    for node in tool_nodes {
        let Some(spec) = agentry_core::node_types::get(&node.component_type) else {
            continue;
        };
        for name in &spec.tool_names {
            if !SUPPORTED.contains(name) {
                tracing::warn!(tool = name, node = %node.node_id, "tool not available in this build; not offered");
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
    out
}

const SUPPORTED: &[&str] = &[
    "calculator",
    "get_datetime",
    "whoami",
    "ask_human",
    "http_request",
    "code_execute",
];

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
            "Run a Python snippet in a sandbox; returns stdout, stderr and the exit code.",
            json!({"type": "object", "required": ["code"], "properties": {"code": {"type": "string"}, "language": {"type": "string"}}}),
        ),
        _ => ("", json!({"type": "object", "properties": {}})),
    };
    ToolSpec::new(tool.name, desc, params)
}

fn arg<'a>(args: &'a Value, key: &str) -> &'a str {
    args.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Runs one tool call.
pub async fn call(tool: &Tool, args: &Value, ctx: &ToolCtx<'_>) -> ToolOutcome {
    let text = match tool.name {
        "calculator" => match calculator::evaluate(arg(args, "expression")) {
            Ok(v) => calculator::format(v),
            Err(e) => format!("Error: {e}"),
        },
        "get_datetime" => chrono::Utc::now()
            .format("%Y-%m-%d %H:%M:%S UTC")
            .to_string(),
        "whoami" => whoami(ctx).to_string(),
        "ask_human" => {
            let question = arg(args, "question").trim();
            if question.is_empty() {
                "Error: question is required".to_string()
            } else {
                return ToolOutcome::AskHuman {
                    question: question.to_string(),
                };
            }
        }
        "http_request" => http_tool(tool, args).await,
        "code_execute" => code_tool(tool, args, ctx).await,
        other => format!("Error: tool '{other}' is not available"),
    };
    ToolOutcome::Text(text)
}

fn whoami(ctx: &ToolCtx<'_>) -> Value {
    let prompt = ctx
        .agent
        .config
        .get("system_prompt")
        .and_then(Value::as_str)
        .unwrap_or("");
    let shown = if prompt.chars().count() > 1000 {
        format!("{}...", prompt.chars().take(1000).collect::<String>())
    } else {
        prompt.to_string()
    };
    json!({
        "identity": {
            "workflow_slug": ctx.workflow_slug,
            "workflow_id": ctx.workflow_id,
            "node_id": ctx.agent.node_id,
            "component_type": ctx.agent.component_type,
        },
        "current_config": {
            "system_prompt": shown,
            "system_prompt_length": prompt.chars().count(),
            "extra_config": ctx.agent.extra(),
        },
        "self_modification": {
            "endpoint": format!("/api/v1/workflows/{}/nodes/{}/", ctx.workflow_slug, ctx.agent.node_id),
            "method": "PATCH",
            "example_body": {"config": {"system_prompt": "…", "extra_config": {"conversation_memory": true}}},
            "instructions": [
                "Send a PATCH with the config keys to change; other keys stay as they are.",
                "Changes apply to executions started afterwards."
            ]
        }
    })
}

async fn http_tool(tool: &Tool, args: &Value) -> String {
    use crate::nodes::http_request::{HttpRequest, perform, shared_client};
    let mut config = tool.node.extra().clone();
    config.insert("url".into(), json!(arg(args, "url")));
    let method = arg(args, "method").to_uppercase();
    if !method.is_empty() {
        config.insert("method".into(), json!(method));
    }
    if !arg(args, "body").is_empty() {
        config.insert("body".into(), json!(arg(args, "body")));
    }
    let request = match HttpRequest::from_config(&config) {
        Ok(r) => r,
        Err(e) => return format!("Error: {e}"),
    };
    let client = match shared_client() {
        Ok(c) => c,
        Err(e) => return format!("Error: {e}"),
    };
    match perform(client, &request).await {
        Ok(out) => {
            let status = out.get("status_code").and_then(Value::as_i64).unwrap_or(0);
            let body = match out.get("body") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            format!(
                "HTTP {status}\n{}",
                body.chars().take(4000).collect::<String>()
            )
        }
        Err(e) => format!("Error: {e}"),
    }
}

async fn code_tool(tool: &Tool, args: &Value, ctx: &ToolCtx<'_>) -> String {
    use crate::sandbox::{PythonRun, Sandbox};
    let code = arg(args, "code");
    if code.trim().is_empty() {
        return "Error: No code provided to execute".into();
    }
    let language = match arg(args, "language") {
        "" => "python",
        l => l,
    };
    if language != "python" {
        return format!("Error: Language '{language}' not supported. Use 'python'.");
    }
    let sandbox = match ctx.env.sandbox.clone() {
        Some(s) => s,
        None => match tokio::task::spawn_blocking(Sandbox::detect).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return format!("Error: {e}"),
            Err(e) => return format!("Error: {e}"),
        },
    };
    let timeout = tool
        .node
        .extra()
        .get("timeout_seconds")
        .and_then(Value::as_u64)
        .unwrap_or(30)
        .clamp(1, 300);
    let allow_network = tool
        .node
        .extra()
        .get("allow_network")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let run = PythonRun {
        code: code.to_string(),
        timeout_secs: timeout,
        allow_network,
        ..Default::default()
    };
    match sandbox.run_python(run).await {
        Ok(out) => {
            let mut text = format!(
                "stdout:\n{}\nstderr:\n{}\nexit_code: 0",
                out.stdout, out.stderr
            );
            if out.returned {
                text.push_str(&format!("\nresult: {}", out.result));
            }
            text
        }
        Err(e) => format!("stdout:\n\nstderr:\n{e}\nexit_code: -1"),
    }
}
