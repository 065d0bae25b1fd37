//! `whoami` (tools.md §6): describes the agent the tool is attached to.

use super::ToolCtx;
use serde_json::{Value, json};

pub(super) fn whoami(ctx: &ToolCtx) -> Value {
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
