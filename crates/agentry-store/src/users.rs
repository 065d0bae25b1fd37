//! The `users` table.

use crate::{Db, StoreResult, Tx};
use agentry_core::page::PageRequest;
use sqlx::AssertSqlSafe;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub is_active: bool,
    pub mfa_enabled: bool,
    pub created_at: i64,
}

const COLUMNS: &str = "id, username, password_hash, role, is_active, mfa_enabled, created_at";

/// Inserts a user; `None` when the name is taken.
pub async fn insert(
    tx: &mut Tx,
    username: &str,
    password_hash: &str,
    role: &str,
    now: i64,
) -> StoreResult<Option<UserRow>> {
    let sql = format!(
        "INSERT INTO users (username, password_hash, role, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (username) DO NOTHING RETURNING {COLUMNS}"
    );
    Ok(on!(tx tx, c => {
        sqlx::query_as::<_, UserRow>(AssertSqlSafe(sql.as_str()))
            .bind(username)
            .bind(password_hash)
            .bind(role)
            .bind(now)
            .fetch_optional(&mut *c)
            .await
    })?)
}

/// Counts every user, active or not (setup is needed only while this is 0).
pub async fn count(db: &Db) -> StoreResult<i64> {
    Ok(
        on!(db.read(), c => sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_all(c).await.and_then(|rows| rows.into_iter().next().ok_or(sqlx::Error::RowNotFound)))?,
    )
}

/// The same, inside a transaction (first-run setup checks and inserts atomically). On
/// PostgreSQL the table is first locked against other writers until the transaction ends, so
/// two racing setups cannot both count 0; SQLite's `BEGIN IMMEDIATE` already serializes them.
pub async fn count_in(tx: &mut Tx) -> StoreResult<i64> {
    if let crate::db::TxConn::Postgres(t) = &mut tx.conn {
        let c: &mut sqlx::PgConnection = &mut *t;
        sqlx::query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
            .execute(c)
            .await?;
    }
    Ok(on!(tx tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&mut *c).await)?)
}

pub async fn get(db: &Db, id: i64) -> StoreResult<Option<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    Ok(
        on!(db.read(), c => sqlx::query_as::<_, UserRow>(AssertSqlSafe(sql.as_str())).bind(id).fetch_all(c).await.map(|rows| rows.into_iter().next()))?,
    )
}

pub async fn get_by_name(db: &Db, username: &str) -> StoreResult<Option<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE username = $1");
    Ok(
        on!(db.read(), c => sqlx::query_as::<_, UserRow>(AssertSqlSafe(sql.as_str())).bind(username).fetch_all(c).await.map(|rows| rows.into_iter().next()))?,
    )
}

/// The first active admin (oldest), if any.
pub async fn first_admin(db: &Db) -> StoreResult<Option<UserRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM users WHERE role = 'admin' AND is_active = TRUE ORDER BY id LIMIT 1"
    );
    Ok(
        on!(db.read(), c => sqlx::query_as::<_, UserRow>(AssertSqlSafe(sql.as_str())).fetch_all(c).await.map(|rows| rows.into_iter().next()))?,
    )
}

pub async fn list(db: &Db, page: PageRequest) -> StoreResult<(Vec<UserRow>, i64)> {
    let sql = format!("SELECT {COLUMNS} FROM users ORDER BY id LIMIT $1 OFFSET $2");
    let rows = on!(db.read(), c => {
        sqlx::query_as::<_, UserRow>(AssertSqlSafe(sql.as_str())).bind(page.limit).bind(page.offset).fetch_all(c).await
    })?;
    Ok((rows, count(db).await?))
}

/// Marks a user inactive and revokes every key; returns false when the user does not exist.
pub async fn deactivate(tx: &mut Tx, id: i64) -> StoreResult<bool> {
    let changed = on!(tx tx, c => {
        sqlx::query("UPDATE users SET is_active = FALSE WHERE id = $1")
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    if changed == 0 {
        return Ok(false);
    }
    on!(tx tx, c => {
        sqlx::query("UPDATE api_keys SET is_active = FALSE WHERE user_id = $1")
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|_| ())
    })?;
    Ok(true)
}
