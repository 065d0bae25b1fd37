//! `recall` (memory_read) and `remember` (memory_write), tools.md §6 and §8: facts and episodes
//! stored per owner of the hosting workflow, never shared between users.

use super::{Tool, ToolCtx, arg};
use agentry_store::memories::{self, Filter, MemoryRow, NewMemory};
use serde_json::{Value, json};

const FACT_TYPES: &[&str] = &[
    "user_preference",
    "world_knowledge",
    "self_knowledge",
    "correction",
    "relationship",
];

/// The fact type of finished epics (registry.md §9).
const PROCEDURE: &str = "procedure";

fn fact_json(m: &MemoryRow) -> Value {
    json!({"key": m.key, "value": m.value, "confidence": m.confidence})
}

fn procedure_json(m: &MemoryRow) -> Value {
    let goal = serde_json::from_str::<Value>(&m.value)
        .ok()
        .and_then(|v| v.get("goal").and_then(Value::as_str).map(String::from))
        .unwrap_or_else(|| m.value.clone());
    json!({"type": "procedure", "name": m.key, "description": goal})
}

pub(super) async fn recall(tool: &Tool, args: &Value, ctx: &ToolCtx) -> String {
    let Some(owner) = ctx.owner_id else {
        return "Error reading memory: the workflow has no owner".into();
    };
    match recall_for(owner, tool, args, ctx).await {
        Ok(text) => text,
        Err(e) => format!("Error reading memory: {e}"),
    }
}

async fn recall_for(
    owner: i64,
    tool: &Tool,
    args: &Value,
    ctx: &ToolCtx,
) -> Result<String, agentry_store::StoreError> {
    let db = &ctx.services.db;
    let extra = tool.node.extra();
    let memory_type = extra
        .get("memory_type")
        .and_then(Value::as_str)
        .unwrap_or("facts");
    let limit = extra
        .get("limit")
        .and_then(Value::as_i64)
        .unwrap_or(10)
        .clamp(1, 100);
    let min_confidence = extra
        .get("min_confidence")
        .and_then(Value::as_f64)
        .unwrap_or(0.5);
    let facts = Filter {
        kind: memories::FACT,
        min_confidence,
        ..Default::default()
    };
    let key = arg(args, "key").trim().to_string();
    let query = arg(args, "query").trim().to_string();

    if key.is_empty() && query.is_empty() {
        let all = memories::list(db, owner, &facts, 100).await?;
        if all.is_empty() {
            return Ok("Memory is empty — no facts stored.".into());
        }
        return Ok(Value::Array(all.iter().map(fact_json).collect()).to_string());
    }
    if !key.is_empty() {
        if let Some(m) = memories::get(db, owner, memories::FACT, &key).await? {
            return Ok(format!("{} = {}", m.key, m.value));
        }
        let found = memories::search(db, owner, &facts, &key, limit).await?;
        if found.is_empty() {
            return Ok(format!("No memory found for key: {key}"));
        }
        return Ok(Value::Array(found.iter().map(fact_json).collect()).to_string());
    }

    let mut out: Vec<Value> = vec![];
    if matches!(memory_type, "facts" | "all") {
        let found = memories::search(db, owner, &facts, &query, limit).await?;
        out.extend(found.iter().map(fact_json));
    }
    if matches!(memory_type, "procedures" | "all") {
        let procedures = Filter {
            kind: memories::FACT,
            fact_type: Some(PROCEDURE),
            ..Default::default()
        };
        let best = memories::search(db, owner, &procedures, &query, 1).await?;
        out.extend(best.iter().map(procedure_json));
    }
    if matches!(memory_type, "episodes" | "all") {
        // "Recent episodes whose summary contains the query": newest first, a bounded window.
        let episodes = Filter {
            kind: memories::EPISODE,
            ..Default::default()
        };
        let needle = query.to_lowercase();
        let recent = memories::list(db, owner, &episodes, 500).await?;
        out.extend(
            recent
                .iter()
                .filter(|m| m.value.to_lowercase().contains(&needle))
                .take(limit as usize)
                .map(|m| json!({"type": "episode", "summary": m.value})),
        );
    }
    if out.is_empty() {
        return Ok(format!("No memories found for query: {query}"));
    }
    Ok(Value::Array(out).to_string())
}

pub(super) async fn remember(tool: &Tool, args: &Value, ctx: &ToolCtx) -> String {
    let key = arg(args, "key").trim().to_string();
    let value = arg(args, "value");
    if key.is_empty() {
        return "Error: key is required".into();
    }
    if value.trim().is_empty() {
        return "Error: value is required".into();
    }
    let Some(owner) = ctx.owner_id else {
        return "Error: the workflow has no owner to remember for".into();
    };
    let extra = tool.node.extra();
    let fact_type = match arg(args, "fact_type").trim() {
        "" => extra
            .get("fact_type")
            .and_then(Value::as_str)
            .unwrap_or("world_knowledge")
            .to_string(),
        t => t.to_string(),
    };
    if !FACT_TYPES.contains(&fact_type.as_str()) {
        return format!("Error: fact_type must be one of: {}", FACT_TYPES.join(", "));
    }
    let overwrite = extra
        .get("overwrite")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let new = NewMemory {
        owner_id: owner,
        kind: memories::FACT,
        key: &key,
        value: &value,
        fact_type: &fact_type,
        confidence: 1.0,
    };
    let written = async {
        let mut tx = ctx.services.db.begin().await?;
        let w = memories::upsert(&mut tx, &new, overwrite).await?;
        tx.commit().await?;
        Ok::<_, agentry_store::StoreError>(w)
    }
    .await;
    match written {
        Ok(w) => format!("Remembered: {key} = {value} ({})", w.as_str()),
        Err(e) => format!("Error: {e}"),
    }
}

/// Stores the episode of a finished agent run (its input and answer, shortened) for agents
/// that have memory tools, so `recall` can find what was done before. Keyed by execution and
/// node: a re-run overwrites instead of duplicating.
pub async fn record_episode(
    services: &agentry_service::Services,
    owner_id: i64,
    execution_id: &str,
    node_id: &str,
    input: &str,
    answer: &str,
) -> Result<(), agentry_store::StoreError> {
    let shorten = |s: &str, n: usize| -> String {
        let s = s.trim();
        if s.chars().count() > n {
            format!("{}…", s.chars().take(n).collect::<String>())
        } else {
            s.to_string()
        }
    };
    let summary = format!(
        "Asked: {} → Answered: {}",
        shorten(input, 300),
        shorten(answer, 500)
    );
    let key = format!("{execution_id}:{node_id}");
    let mut tx = services.db.begin().await?;
    memories::upsert(
        &mut tx,
        &NewMemory {
            owner_id,
            kind: memories::EPISODE,
            key: &key,
            value: &summary,
            fact_type: "episode",
            confidence: 1.0,
        },
        true,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
