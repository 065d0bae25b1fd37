//! The `checkpoints` table: one agent conversation thread per row (messages, pending tool
//! calls, step count, usage), saved after every model call and every tool batch.

use crate::{Db, StoreResult, Tx};
use serde_json::Value;
use sqlx::types::Json;

/// Saves a thread (insert or replace). `execution_id` is set for threads that end with their
/// execution; durable conversation threads have none.
pub async fn save(
    db: &Db,
    thread_id: &str,
    execution_id: Option<&str>,
    node_id: &str,
    data: &Value,
) -> StoreResult<()> {
    let now = crate::now_ms();
    on!(db.write(), c => {
        sqlx::query(
            "INSERT INTO checkpoints (thread_id, execution_id, node_id, data, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (thread_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at,
                execution_id = excluded.execution_id, node_id = excluded.node_id",
        )
        .bind(thread_id)
        .bind(execution_id)
        .bind(node_id)
        .bind(Json(data))
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// The same, inside a transaction.
pub async fn save_in(
    tx: &mut Tx,
    thread_id: &str,
    execution_id: Option<&str>,
    node_id: &str,
    data: &Value,
) -> StoreResult<()> {
    let now = crate::now_ms();
    on!(tx tx, c => {
        sqlx::query(
            "INSERT INTO checkpoints (thread_id, execution_id, node_id, data, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (thread_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at,
                execution_id = excluded.execution_id, node_id = excluded.node_id",
        )
        .bind(thread_id)
        .bind(execution_id)
        .bind(node_id)
        .bind(Json(data))
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// A thread's data and when it was last saved.
pub async fn load(db: &Db, thread_id: &str) -> StoreResult<Option<(Value, i64)>> {
    let row: Option<(Json<Value>, i64)> = on!(db.read(), c => {
        sqlx::query_as("SELECT data, updated_at FROM checkpoints WHERE thread_id = $1").bind(thread_id).fetch_all(c).await.map(|rows| rows.into_iter().next())
    })?;
    Ok(row.map(|(d, t)| (d.0, t)))
}

pub async fn delete(db: &Db, thread_id: &str) -> StoreResult<bool> {
    let n = on!(db.write(), c => {
        sqlx::query("DELETE FROM checkpoints WHERE thread_id = $1").bind(thread_id).execute(c).await.map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// Drops the threads that live only as long as their execution.
pub async fn delete_for_execution(tx: &mut Tx, execution_id: &str) -> StoreResult<()> {
    on!(tx tx, c => {
        sqlx::query("DELETE FROM checkpoints WHERE execution_id = $1").bind(execution_id).execute(&mut *c).await.map(|_| ())
    })?;
    Ok(())
}
