//! `workflow_create` (tools.md §3): the agent writes a workflow in the DSL (dsl.md) and it is
//! created (or forked) as the **owner of the hosting workflow**, in one transaction, through
//! the same service call as `POST /api/v1/workflows/dsl/`.
//!
//! `inherit` resolves from the calling agent as the execution's graph snapshot has it: its
//! first `llm`-wired `ai_model` (else its own model fields) and its `tool`-wired nodes. The
//! answer is the compiler result as JSON text; every failure is a `{"success": false, "error",
//! "errors"}` answer the model reads, never a failed execution.
//!
//! Idempotent: the call runs again after a crash (tools are at-least-once), so the workflow is
//! created with a key of (execution, agent node, arguments) and a second call with the same key
//! answers the workflow the first one created. One consequence: the same agent node repeating
//! the very same call in one execution gets the same workflow back.

use super::{ToolCtx, arg};
use agentry_core::flow::Snapshot;
use agentry_service::dsl::{ApplyError, ApplyOptions, DslParent, parent_from_snapshot};
use serde_json::{Value, json};

fn failure(error: impl std::fmt::Display) -> String {
    json!({"success": false, "error": error.to_string()}).to_string()
}

/// `tags`: a JSON array of strings, or a comma-separated string (tools.md §8).
fn tags_arg(args: &Value) -> Vec<String> {
    let list: Vec<String> = match args.get("tags") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        Some(Value::String(s)) => match serde_json::from_str::<Vec<String>>(s.trim()) {
            Ok(items) if s.trim_start().starts_with('[') => items,
            _ => s.split(',').map(String::from).collect(),
        },
        _ => vec![],
    };
    let mut out: Vec<String> = vec![];
    for t in list {
        let t = t.trim().to_string();
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// The calling agent as the execution's snapshot has it (its own config when the snapshot
/// cannot be read).
async fn parent(ctx: &ToolCtx) -> DslParent {
    let snapshot = agentry_store::executions::get_full(&ctx.services.db, &ctx.execution_id, true)
        .await
        .ok()
        .flatten()
        .and_then(|f| f.snapshot)
        .and_then(|j| serde_json::from_value::<Snapshot>(j.0).ok())
        .unwrap_or_else(|| Snapshot {
            workflow_id: ctx.workflow_id,
            slug: ctx.workflow_slug.clone(),
            max_execution_seconds: 0,
            nodes: vec![ctx.agent.clone()],
            edges: vec![],
            root: None,
        });
    parent_from_snapshot(&snapshot, &ctx.agent.node_id)
}

pub(super) async fn workflow_create(args: &Value, ctx: &ToolCtx) -> String {
    let dsl = arg(args, "dsl");
    if dsl.trim().is_empty() {
        return failure("dsl is required");
    }
    let services = &ctx.services;
    let hosting = match agentry_store::workflows::get(&services.db, ctx.workflow_id).await {
        Ok(w) => w,
        Err(e) => return failure(format!("Error: {e}")),
    };
    let (Some(_), Some(owner_id)) = (hosting, ctx.owner_id) else {
        return failure("Parent workflow not found");
    };
    let owner = match services.caller_for_user(owner_id).await {
        Ok(c) => c,
        Err(e) => return failure(e),
    };
    let parent = parent(ctx).await;
    let tags = tags_arg(args);
    let key = format!(
        "workflow_create\n{}\n{}\n{args}",
        ctx.execution_id, ctx.agent.node_id
    );
    let opts = ApplyOptions {
        parent: Some(&parent),
        public_url: ctx.env.public_url.as_deref(),
        extra_tags: &tags,
        create_key: Some(&key),
    };
    match services.apply_dsl_with(&owner, &dsl, opts).await {
        Ok(out) => serde_json::to_string(&out).unwrap_or_else(failure),
        Err(ApplyError::Rejected(r)) => r.to_json().to_string(),
        Err(ApplyError::Service(e)) => failure(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_accept_arrays_json_text_and_commas() {
        assert_eq!(tags_arg(&json!({"tags": "a, b,,a"})), ["a", "b"]);
        assert_eq!(tags_arg(&json!({"tags": "[\"x\", \"y\"]"})), ["x", "y"]);
        assert_eq!(tags_arg(&json!({"tags": ["p", " q "]})), ["p", "q"]);
        assert!(tags_arg(&json!({})).is_empty());
    }
}
