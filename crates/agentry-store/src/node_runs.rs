//! The `node_runs` table: one log row per node run (engine.md §8).

use crate::{Db, StoreResult, Tx};
use serde_json::Value;
use sqlx::types::Json;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct NodeRunRow {
    pub id: i64,
    pub execution_id: String,
    pub node_id: String,
    pub status: String,
    pub input: Option<Json<Value>>,
    pub output: Option<Json<Value>>,
    pub error: String,
    pub error_code: String,
    pub metadata: Json<Value>,
    pub duration_ms: i64,
    pub created_at: i64,
}

pub struct NewNodeRun<'a> {
    pub execution_id: &'a str,
    pub node_id: &'a str,
    pub status: &'a str,
    pub input: Option<&'a Value>,
    pub output: Option<&'a Value>,
    pub error: &'a str,
    pub error_code: &'a str,
    pub metadata: &'a Value,
    pub duration_ms: i64,
    pub now: i64,
}

pub async fn insert(tx: &mut Tx, r: NewNodeRun<'_>) -> StoreResult<i64> {
    Ok(on!(tx tx, c => {
        sqlx::query_scalar(
            "INSERT INTO node_runs (execution_id, node_id, status, input, output, error, error_code, metadata,
                duration_ms, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(r.execution_id)
        .bind(r.node_id)
        .bind(r.status)
        .bind(r.input.map(Json))
        .bind(r.output.map(Json))
        .bind(r.error)
        .bind(r.error_code)
        .bind(Json(r.metadata))
        .bind(r.duration_ms)
        .bind(r.now)
        .fetch_one(&mut *c)
        .await
    })?)
}

/// An execution's log in run order.
pub async fn list(db: &Db, execution_id: &str) -> StoreResult<Vec<NodeRunRow>> {
    Ok(on!(db.read(), c => {
        sqlx::query_as::<_, NodeRunRow>(
            "SELECT id, execution_id, node_id, status, input, output, error, error_code, metadata, duration_ms, created_at
             FROM node_runs WHERE execution_id = $1 ORDER BY id",
        )
        .bind(execution_id)
        .fetch_all(c)
        .await
    })?)
}
