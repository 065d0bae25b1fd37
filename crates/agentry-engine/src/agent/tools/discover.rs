//! `workflow_discover` (tools.md §4, discovery.md): ranks the workflows the hosting workflow's
//! owner may use (theirs and public ones; never the hosting workflow itself) against a
//! requirements object, through the same service call as `POST /api/v1/workflows/discover/`.
//! Every failure is a `{"success": false, "error"}` answer the model reads.

use super::{ToolCtx, arg};
use agentry_service::discovery::{DiscoverIn, DiscoverScope};
use agentry_service::registry::Scope;
use serde_json::{Value, json};

fn failure(error: impl std::fmt::Display) -> String {
    json!({"success": false, "error": error.to_string()}).to_string()
}

/// The tool's JSON schema (tools.md §4 plus agentry's `query`).
pub(super) fn schema() -> (&'static str, Value) {
    (
        "Find existing workflows that already do (or nearly do) a job before creating one. \
         Returns {success, matches: [{slug, match_score, recommendation (reuse | fork_and_patch \
         | create_new), has_capabilities, missing_capabilities, extra_capabilities, \
         success_rate, execution_count, ...}], total_searched}.",
        json!({"type": "object", "required": ["requirements"], "properties": {
            "requirements": {"type": "string",
                "description": "JSON object: triggers, node_types, tools, tags, description, model_capability"},
            "limit": {"type": "integer", "default": 5},
            "query": {"type": "string", "description": "free text matched against name, description and tags"}}}),
    )
}

/// `requirements` as an object: a JSON object, or JSON text of one.
fn requirements(args: &Value) -> Result<Value, String> {
    let text = match args.get("requirements") {
        Some(Value::Object(m)) => return Ok(Value::Object(m.clone())),
        None | Some(Value::Null) => "{}".to_string(),
        Some(Value::String(s)) if s.trim().is_empty() => "{}".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err("requirements must be a JSON object".into()),
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err("requirements must be a JSON object".into()),
        Err(e) => Err(format!("Invalid JSON: {e}")),
    }
}

pub(super) async fn workflow_discover(args: &Value, ctx: &ToolCtx) -> String {
    let Some(owner) = ctx.owner_id else {
        return failure("Parent workflow not found");
    };
    let reqs = match requirements(args) {
        Ok(r) => r,
        Err(e) => return failure(e),
    };
    let limit = match args.get("limit") {
        Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    let query = Some(arg(args, "query")).filter(|q| !q.trim().is_empty());
    let input = DiscoverIn {
        requirements: Some(reqs),
        limit,
        query,
        exclude_slug: None,
    };
    let scope = DiscoverScope {
        scope: Scope::owner(owner),
        exclude_id: Some(ctx.workflow_id),
        exclude_slug: None,
    };
    match ctx.services.discover_workflows(scope, input).await {
        Ok(out) => {
            json!({"success": true, "matches": out.items, "total_searched": out.total}).to_string()
        }
        Err(e) => failure(e),
    }
}
