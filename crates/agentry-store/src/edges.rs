//! The `edges` table. Edges name their ends by `node_id` (not row id), as the API does.

use crate::{Db, StoreResult, Tx};
use serde_json::Value;
use sqlx::AssertSqlSafe;
use sqlx::types::Json;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct EdgeRow {
    pub id: i64,
    pub workflow_id: i64,
    pub source_node_id: String,
    pub target_node_id: String,
    pub edge_type: String,
    pub edge_label: String,
    pub condition_mapping: Option<Json<Value>>,
    pub condition_value: String,
    pub priority: i64,
}

const COLUMNS: &str = "id, workflow_id, source_node_id, target_node_id, edge_type, edge_label, condition_mapping, condition_value, priority";

#[derive(Debug, Clone, PartialEq)]
pub struct EdgeFields {
    pub source_node_id: String,
    pub target_node_id: String,
    pub edge_type: String,
    pub edge_label: String,
    pub condition_mapping: Option<Value>,
    pub condition_value: String,
    pub priority: i64,
}

impl EdgeFields {
    pub fn from_row(r: &EdgeRow) -> Self {
        EdgeFields {
            source_node_id: r.source_node_id.clone(),
            target_node_id: r.target_node_id.clone(),
            edge_type: r.edge_type.clone(),
            edge_label: r.edge_label.clone(),
            condition_mapping: r.condition_mapping.as_ref().map(|j| j.0.clone()),
            condition_value: r.condition_value.clone(),
            priority: r.priority,
        }
    }
}

/// Inserts an edge; `None` when an identical edge exists (same ends, type, label, value).
pub async fn insert(tx: &mut Tx, workflow_id: i64, f: &EdgeFields) -> StoreResult<Option<EdgeRow>> {
    let sql = format!(
        "INSERT INTO edges (workflow_id, source_node_id, target_node_id, edge_type, edge_label,
            condition_mapping, condition_value, priority)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (workflow_id, source_node_id, target_node_id, edge_type, edge_label, condition_value)
         DO NOTHING RETURNING {COLUMNS}"
    );
    Ok(on!(tx tx, c => {
        sqlx::query_as::<_, EdgeRow>(AssertSqlSafe(sql.as_str()))
            .bind(workflow_id)
            .bind(&f.source_node_id)
            .bind(&f.target_node_id)
            .bind(&f.edge_type)
            .bind(&f.edge_label)
            .bind(f.condition_mapping.as_ref().map(Json))
            .bind(&f.condition_value)
            .bind(f.priority)
            .fetch_optional(&mut *c)
            .await
    })?)
}

/// Rewrites an edge; `None` when the change would duplicate another edge.
pub async fn update(tx: &mut Tx, id: i64, f: &EdgeFields) -> StoreResult<Option<EdgeRow>> {
    let dup: Option<i64> = on!(tx tx, c => {
        sqlx::query_scalar(
            "SELECT e.id FROM edges e JOIN edges me ON me.id = $1
             WHERE e.workflow_id = me.workflow_id AND e.id <> $1 AND e.source_node_id = $2
               AND e.target_node_id = $3 AND e.edge_type = $4 AND e.edge_label = $5 AND e.condition_value = $6",
        )
        .bind(id)
        .bind(&f.source_node_id)
        .bind(&f.target_node_id)
        .bind(&f.edge_type)
        .bind(&f.edge_label)
        .bind(&f.condition_value)
        .fetch_optional(&mut *c)
        .await
    })?;
    if dup.is_some() {
        return Ok(None);
    }
    let sql = format!(
        "UPDATE edges SET source_node_id = $1, target_node_id = $2, edge_type = $3, edge_label = $4,
            condition_mapping = $5, condition_value = $6, priority = $7
         WHERE id = $8 RETURNING {COLUMNS}"
    );
    Ok(on!(tx tx, c => {
        sqlx::query_as::<_, EdgeRow>(AssertSqlSafe(sql.as_str()))
            .bind(&f.source_node_id)
            .bind(&f.target_node_id)
            .bind(&f.edge_type)
            .bind(&f.edge_label)
            .bind(f.condition_mapping.as_ref().map(Json))
            .bind(&f.condition_value)
            .bind(f.priority)
            .bind(id)
            .fetch_optional(&mut *c)
            .await
    })?)
}

/// A workflow's edges in creation order.
pub async fn list(db: &Db, workflow_id: i64) -> StoreResult<Vec<EdgeRow>> {
    let sql = format!("SELECT {COLUMNS} FROM edges WHERE workflow_id = $1 ORDER BY id");
    Ok(
        on!(db.read(), c => sqlx::query_as::<_, EdgeRow>(AssertSqlSafe(sql.as_str())).bind(workflow_id).fetch_all(c).await)?,
    )
}

pub async fn list_in(tx: &mut Tx, workflow_id: i64) -> StoreResult<Vec<EdgeRow>> {
    let sql = format!("SELECT {COLUMNS} FROM edges WHERE workflow_id = $1 ORDER BY id");
    Ok(
        on!(tx tx, c => sqlx::query_as::<_, EdgeRow>(AssertSqlSafe(sql.as_str())).bind(workflow_id).fetch_all(&mut *c).await)?,
    )
}

/// One edge of a workflow by row id (ids are accepted as any string and never parsed, so the
/// caller passes the text it got).
pub async fn get_in(tx: &mut Tx, workflow_id: i64, id: i64) -> StoreResult<Option<EdgeRow>> {
    let sql = format!("SELECT {COLUMNS} FROM edges WHERE workflow_id = $1 AND id = $2");
    Ok(on!(tx tx, c => {
        sqlx::query_as::<_, EdgeRow>(AssertSqlSafe(sql.as_str())).bind(workflow_id).bind(id).fetch_optional(&mut *c).await
    })?)
}

pub async fn delete(tx: &mut Tx, workflow_id: i64, id: i64) -> StoreResult<bool> {
    let n = on!(tx tx, c => {
        sqlx::query("DELETE FROM edges WHERE workflow_id = $1 AND id = $2")
            .bind(workflow_id)
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// Deletes every edge touching `node_id`; returns their ids.
pub async fn delete_touching(
    tx: &mut Tx,
    workflow_id: i64,
    node_id: &str,
) -> StoreResult<Vec<i64>> {
    Ok(on!(tx tx, c => {
        sqlx::query_scalar(
            "DELETE FROM edges WHERE workflow_id = $1 AND (source_node_id = $2 OR target_node_id = $2) RETURNING id",
        )
        .bind(workflow_id)
        .bind(node_id)
        .fetch_all(&mut *c)
        .await
    })?)
}

/// Follows a node rename in every edge of the workflow.
pub async fn rename_node(tx: &mut Tx, workflow_id: i64, old: &str, new: &str) -> StoreResult<()> {
    on!(tx tx, c => {
        sqlx::query("UPDATE edges SET source_node_id = $3 WHERE workflow_id = $1 AND source_node_id = $2")
            .bind(workflow_id)
            .bind(old)
            .bind(new)
            .execute(&mut *c)
            .await
            .map(|_| ())
    })?;
    on!(tx tx, c => {
        sqlx::query("UPDATE edges SET target_node_id = $3 WHERE workflow_id = $1 AND target_node_id = $2")
            .bind(workflow_id)
            .bind(old)
            .bind(new)
            .execute(&mut *c)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

/// What capability extraction (discovery.md §2) needs from an edge: its ends and label (only
/// data edges, which wire triggers, and `tool` edges, which make `http_request` a tool).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct EdgeFactRow {
    pub workflow_id: i64,
    pub source_node_id: String,
    pub target_node_id: String,
    pub edge_label: String,
}

/// The edge facts of these workflows, by workflow.
pub async fn discovery_facts(db: &Db, workflow_ids: &[i64]) -> StoreResult<Vec<EdgeFactRow>> {
    let sql = format!(
        "SELECT e.workflow_id, e.source_node_id, e.target_node_id, e.edge_label
         FROM edges e
         WHERE e.edge_label IN ('', 'tool') AND e.workflow_id IN {} ORDER BY e.workflow_id",
        crate::workflows::json_id_list(&db.read())
    );
    Ok(on!(db.read(), c => {
        sqlx::query_as::<_, EdgeFactRow>(AssertSqlSafe(sql.as_str())).bind(Json(workflow_ids)).fetch_all(c).await
    })?)
}
