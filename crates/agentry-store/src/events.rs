//! The `events` table: the outbox. Every state change adds its events in its own transaction;
//! the ids increase in commit order on SQLite (one writer) and give WebSocket clients a cursor
//! to catch up from.

use crate::{StoreResult, Tx};
use serde_json::Value;
use sqlx::AssertSqlSafe;
use sqlx::types::Json;

/// An event about to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// `workflow:{slug}`, `execution:{id}`, `epic:{id}`.
    pub channel: String,
    /// The event `type`, e.g. `node_created`.
    pub kind: String,
    pub data: Value,
    /// Set for execution events (their envelope carries `execution_id`).
    pub execution_id: Option<String>,
}

impl NewEvent {
    pub fn new(channel: impl Into<String>, kind: impl Into<String>, data: Value) -> Self {
        Self {
            channel: channel.into(),
            kind: kind.into(),
            data,
            execution_id: None,
        }
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Event {
    pub id: i64,
    pub channel: String,
    pub kind: String,
    pub data: Json<Value>,
    pub execution_id: Option<String>,
    pub created_at: i64,
}

/// Stores a transaction's events in one statement; returns them with their ids, in id order.
pub(crate) async fn insert_all(tx: &mut Tx, events: Vec<NewEvent>) -> StoreResult<Vec<Event>> {
    if events.is_empty() {
        return Ok(vec![]);
    }
    let now = crate::now_ms();
    let mut sql =
        String::from("INSERT INTO events (channel, kind, data, execution_id, created_at) VALUES ");
    for i in 0..events.len() {
        let b = i * 4;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}, ${})",
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            events.len() * 4 + 1
        ));
    }
    sql.push_str(" RETURNING id, channel, kind, data, execution_id, created_at");
    let mut stored: Vec<Event> = on!(tx tx, c => {
        let mut q = sqlx::query_as::<_, Event>(sqlx::AssertSqlSafe(sql.as_str()));
        for e in &events {
            q = q.bind(&e.channel).bind(&e.kind).bind(Json(&e.data)).bind(&e.execution_id);
        }
        q.bind(now).fetch_all(&mut *c).await
    })?;
    // RETURNING order is not guaranteed; ids are (one statement, increasing).
    stored.sort_by_key(|e| e.id);
    Ok(stored)
}

const COLUMNS: &str = "id, channel, kind, data, execution_id, created_at";

/// Events of `channel` with an id above `after`, oldest first.
pub async fn list_after(
    db: &crate::Db,
    channel: &str,
    after: i64,
    limit: i64,
) -> StoreResult<Vec<Event>> {
    let sql =
        format!("SELECT {COLUMNS} FROM events WHERE channel = $1 AND id > $2 ORDER BY id LIMIT $3");
    Ok(on!(db.read(), c => {
        sqlx::query_as::<_, Event>(AssertSqlSafe(sql.as_str())).bind(channel).bind(after).bind(limit).fetch_all(c).await
    })?)
}

/// Every event with an id above `after`, oldest first (the cross-process feed).
pub async fn list_all_after(db: &crate::Db, after: i64, limit: i64) -> StoreResult<Vec<Event>> {
    let sql = format!("SELECT {COLUMNS} FROM events WHERE id > $1 ORDER BY id LIMIT $2");
    Ok(on!(db.read(), c => {
        sqlx::query_as::<_, Event>(AssertSqlSafe(sql.as_str())).bind(after).bind(limit).fetch_all(c).await
    })?)
}

/// The smallest id still stored, if any: a cursor below it may have missed pruned events.
pub async fn oldest_id(db: &crate::Db) -> StoreResult<Option<i64>> {
    Ok(on!(db.read(), c => {
        sqlx::query_scalar::<_, Option<i64>>("SELECT MIN(id) FROM events").fetch_all(c).await.and_then(|rows| rows.into_iter().next().ok_or(sqlx::Error::RowNotFound))
    })?)
}

/// The largest id stored, if any.
pub async fn latest_id(db: &crate::Db) -> StoreResult<Option<i64>> {
    Ok(on!(db.read(), c => {
        sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(id) FROM events").fetch_all(c).await.and_then(|rows| rows.into_iter().next().ok_or(sqlx::Error::RowNotFound))
    })?)
}

/// Deletes events created before `before_ms`; returns how many. The newest event is always
/// kept: with an empty table [`oldest_id`] could not tell a client whose cursor predates the
/// pruned events that it missed some.
pub async fn prune(db: &crate::Db, before_ms: i64) -> StoreResult<u64> {
    Ok(on!(db.write(), c => {
        sqlx::query("DELETE FROM events WHERE created_at < $1 AND id < (SELECT MAX(id) FROM events)")
            .bind(before_ms)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?)
}
