//! The `nodes` table.

use crate::db::TxConn;
use crate::{Db, StoreResult, Tx};
use serde_json::Value;
use sqlx::AssertSqlSafe;
use sqlx::types::Json;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct NodeRow {
    pub id: i64,
    pub workflow_id: i64,
    pub node_id: String,
    pub label: String,
    pub component_type: String,
    pub is_entry_point: bool,
    pub interrupt_before: bool,
    pub interrupt_after: bool,
    pub position_x: i64,
    pub position_y: i64,
    pub config: Json<Value>,
    pub subworkflow_id: Option<i64>,
    pub code_block_id: Option<i64>,
    pub updated_at: i64,
}

const COLUMNS: &str =
    "id, workflow_id, node_id, label, component_type, is_entry_point, interrupt_before,
    interrupt_after, position_x, position_y, config, subworkflow_id, code_block_id, updated_at";

/// Everything about a node but its row id and workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeFields {
    pub node_id: String,
    pub label: String,
    pub component_type: String,
    pub is_entry_point: bool,
    pub interrupt_before: bool,
    pub interrupt_after: bool,
    pub position_x: i64,
    pub position_y: i64,
    pub config: Value,
    pub subworkflow_id: Option<i64>,
    pub code_block_id: Option<i64>,
}

impl NodeFields {
    pub fn from_row(r: &NodeRow) -> Self {
        NodeFields {
            node_id: r.node_id.clone(),
            label: r.label.clone(),
            component_type: r.component_type.clone(),
            is_entry_point: r.is_entry_point,
            interrupt_before: r.interrupt_before,
            interrupt_after: r.interrupt_after,
            position_x: r.position_x,
            position_y: r.position_y,
            config: r.config.0.clone(),
            subworkflow_id: r.subworkflow_id,
            code_block_id: r.code_block_id,
        }
    }
}

/// Inserts a node; `None` when the workflow already has that `node_id`.
pub async fn insert(
    tx: &mut Tx,
    workflow_id: i64,
    f: &NodeFields,
    now: i64,
) -> StoreResult<Option<NodeRow>> {
    let sql = format!(
        "INSERT INTO nodes (workflow_id, node_id, label, component_type, is_entry_point, interrupt_before,
            interrupt_after, position_x, position_y, config, subworkflow_id, code_block_id, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (workflow_id, node_id) DO NOTHING RETURNING {COLUMNS}"
    );
    Ok(on!(tx tx, c => {
        sqlx::query_as::<_, NodeRow>(AssertSqlSafe(sql.as_str()))
            .bind(workflow_id)
            .bind(&f.node_id)
            .bind(&f.label)
            .bind(&f.component_type)
            .bind(f.is_entry_point)
            .bind(f.interrupt_before)
            .bind(f.interrupt_after)
            .bind(f.position_x)
            .bind(f.position_y)
            .bind(Json(&f.config))
            .bind(f.subworkflow_id)
            .bind(f.code_block_id)
            .bind(now)
            .fetch_optional(&mut *c)
            .await
    })?)
}

/// Rewrites a node row (by row id).
pub async fn update(tx: &mut Tx, id: i64, f: &NodeFields, now: i64) -> StoreResult<NodeRow> {
    let sql = format!(
        "UPDATE nodes SET node_id = $1, label = $2, component_type = $3, is_entry_point = $4,
            interrupt_before = $5, interrupt_after = $6, position_x = $7, position_y = $8, config = $9,
            subworkflow_id = $10, code_block_id = $11, updated_at = $12
         WHERE id = $13 RETURNING {COLUMNS}"
    );
    Ok(on!(tx tx, c => {
        sqlx::query_as::<_, NodeRow>(AssertSqlSafe(sql.as_str()))
            .bind(&f.node_id)
            .bind(&f.label)
            .bind(&f.component_type)
            .bind(f.is_entry_point)
            .bind(f.interrupt_before)
            .bind(f.interrupt_after)
            .bind(f.position_x)
            .bind(f.position_y)
            .bind(Json(&f.config))
            .bind(f.subworkflow_id)
            .bind(f.code_block_id)
            .bind(now)
            .bind(id)
            .fetch_one(&mut *c)
            .await
    })?)
}

/// A workflow's nodes in creation order.
pub async fn list(db: &Db, workflow_id: i64) -> StoreResult<Vec<NodeRow>> {
    let sql = format!("SELECT {COLUMNS} FROM nodes WHERE workflow_id = $1 ORDER BY id");
    Ok(
        on!(db.read(), c => sqlx::query_as::<_, NodeRow>(AssertSqlSafe(sql.as_str())).bind(workflow_id).fetch_all(c).await)?,
    )
}

/// The same, inside a transaction.
pub async fn list_in(tx: &mut Tx, workflow_id: i64) -> StoreResult<Vec<NodeRow>> {
    let sql = format!("SELECT {COLUMNS} FROM nodes WHERE workflow_id = $1 ORDER BY id");
    Ok(
        on!(tx tx, c => sqlx::query_as::<_, NodeRow>(AssertSqlSafe(sql.as_str())).bind(workflow_id).fetch_all(&mut *c).await)?,
    )
}

pub async fn get_in(tx: &mut Tx, workflow_id: i64, node_id: &str) -> StoreResult<Option<NodeRow>> {
    let sql = format!("SELECT {COLUMNS} FROM nodes WHERE workflow_id = $1 AND node_id = $2");
    Ok(on!(tx tx, c => {
        sqlx::query_as::<_, NodeRow>(AssertSqlSafe(sql.as_str())).bind(workflow_id).bind(node_id).fetch_optional(&mut *c).await
    })?)
}

/// [`get_in`], locking the row on PostgreSQL (SQLite transactions are already serialized): an
/// edit of the node waits for this transaction, or this read waits for the edit and sees it.
pub async fn get_for_update_in(
    tx: &mut Tx,
    workflow_id: i64,
    node_id: &str,
) -> StoreResult<Option<NodeRow>> {
    let lock = match tx.conn {
        TxConn::Sqlite(_) => "",
        TxConn::Postgres(_) => " FOR UPDATE",
    };
    let sql = format!("SELECT {COLUMNS} FROM nodes WHERE workflow_id = $1 AND node_id = $2{lock}");
    Ok(on!(tx tx, c => {
        sqlx::query_as::<_, NodeRow>(AssertSqlSafe(sql.as_str())).bind(workflow_id).bind(node_id).fetch_optional(&mut *c).await
    })?)
}

/// Deletes a node; false when it does not exist. Edges are the caller's (see `edges`).
pub async fn delete(tx: &mut Tx, workflow_id: i64, node_id: &str) -> StoreResult<bool> {
    let n = on!(tx tx, c => {
        sqlx::query("DELETE FROM nodes WHERE workflow_id = $1 AND node_id = $2")
            .bind(workflow_id)
            .bind(node_id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// What capability extraction (discovery.md §2) needs from a node: its type, an `ai_model`'s
/// `model_name`, an agent's `extra_config.conversation_memory`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct NodeFactRow {
    pub workflow_id: i64,
    pub node_id: String,
    pub component_type: String,
    pub model_name: Option<String>,
    pub conversation_memory: bool,
}

/// The node facts of these workflows, by workflow.
pub async fn discovery_facts(db: &Db, workflow_ids: &[i64]) -> StoreResult<Vec<NodeFactRow>> {
    let backend = db.read();
    let (model, memory) = sql_for!(backend,
    sqlite: (
        "CASE WHEN n.component_type = 'ai_model' THEN json_extract(n.config, '$.model_name') END",
        "CASE WHEN n.component_type = 'agent'
            AND json_extract(n.config, '$.extra_config.conversation_memory') = 1 THEN 1 ELSE 0 END"
    ),
    postgres: (
        "CASE WHEN n.component_type = 'ai_model' THEN n.config->>'model_name' END",
        "(n.component_type = 'agent'
            AND COALESCE(n.config->'extra_config'->'conversation_memory' = 'true'::jsonb, FALSE))"
    ));
    let sql = format!(
        "SELECT n.workflow_id, n.node_id, n.component_type, {model} AS model_name,
            {memory} AS conversation_memory
         FROM nodes n WHERE n.workflow_id IN {} ORDER BY n.workflow_id",
        crate::workflows::json_id_list(&db.read())
    );
    Ok(on!(backend, c => {
        sqlx::query_as::<_, NodeFactRow>(AssertSqlSafe(sql.as_str())).bind(Json(workflow_ids)).fetch_all(c).await
    })?)
}
