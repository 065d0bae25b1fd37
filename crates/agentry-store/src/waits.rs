//! The `waits` table: a node parked until something happens (a child execution ends). A wait
//! is rows only; no task or thread stands behind it.

use crate::{StoreResult, Tx};
use serde_json::Value;
use sqlx::types::Json;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct WaitRow {
    pub id: i64,
    pub execution_id: String,
    pub node_id: String,
    pub kind: String,
    pub data: Json<Value>,
    pub deadline: Option<i64>,
    pub created_at: i64,
}

const COLUMNS: &str = "id, execution_id, node_id, kind, data, deadline, created_at";

pub async fn insert(
    tx: &mut Tx,
    execution_id: &str,
    node_id: &str,
    kind: &str,
    data: &Value,
    deadline: Option<i64>,
) -> StoreResult<i64> {
    let now = crate::now_ms();
    Ok(on!(tx tx, c => {
        sqlx::query_scalar(
            "INSERT INTO waits (execution_id, node_id, kind, data, deadline, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(execution_id)
        .bind(node_id)
        .bind(kind)
        .bind(Json(data))
        .bind(deadline)
        .bind(now)
        .fetch_one(&mut *c)
        .await
    })?)
}

/// The wait of `node_id` in `execution_id`, if any.
pub async fn find(tx: &mut Tx, execution_id: &str, node_id: &str) -> StoreResult<Option<WaitRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM waits WHERE execution_id = $1 AND node_id = $2 ORDER BY id LIMIT 1"
    );
    Ok(on!(tx tx, c => {
        sqlx::query_as::<_, WaitRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(execution_id)
            .bind(node_id)
            .fetch_optional(&mut *c)
            .await
    })?)
}

pub async fn update_data(tx: &mut Tx, id: i64, data: &Value) -> StoreResult<()> {
    on!(tx tx, c => {
        sqlx::query("UPDATE waits SET data = $2 WHERE id = $1").bind(id).bind(Json(data)).execute(&mut *c).await.map(|_| ())
    })?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, id: i64) -> StoreResult<()> {
    on!(tx tx, c => sqlx::query("DELETE FROM waits WHERE id = $1").bind(id).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

pub async fn delete_for_execution(tx: &mut Tx, execution_id: &str) -> StoreResult<()> {
    on!(tx tx, c => {
        sqlx::query("DELETE FROM waits WHERE execution_id = $1").bind(execution_id).execute(&mut *c).await.map(|_| ())
    })?;
    Ok(())
}
