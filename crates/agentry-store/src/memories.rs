//! The `memories` table: what agents remember per owner (tools.md §6 `recall` / `remember`).
//! A row is a **fact** (`kind = 'fact'`, unique `key` per owner, typed by `fact_type`:
//! `world_knowledge`, `user_preference`, …, `procedure` for finished epics, registry.md §9) or
//! an **episode** (`kind = 'episode'`, the summary of one finished agent run).
//!
//! Search is word matching: every word of the query (case-insensitive) is looked for in key and
//! value; rows are ranked by how many words they contain, then by recency. Portable across both
//! backends and fast at the sizes one owner's memory reaches.

use crate::{Db, StoreResult, Tx};
use sqlx::AssertSqlSafe;

pub const FACT: &str = "fact";
pub const EPISODE: &str = "episode";

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct MemoryRow {
    pub id: i64,
    pub owner_id: i64,
    pub kind: String,
    pub key: String,
    pub value: String,
    pub fact_type: String,
    pub confidence: f64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str =
    "id, owner_id, kind, key, value, fact_type, confidence, created_at, updated_at";

/// What [`upsert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Created,
    Updated,
    /// The key existed and `overwrite` was false.
    Skipped,
}

impl Written {
    pub fn as_str(self) -> &'static str {
        match self {
            Written::Created => "created",
            Written::Updated => "updated",
            Written::Skipped => "skipped",
        }
    }
}

/// A new memory row.
#[derive(Debug, Clone)]
pub struct NewMemory<'a> {
    pub owner_id: i64,
    pub kind: &'a str,
    pub key: &'a str,
    pub value: &'a str,
    pub fact_type: &'a str,
    pub confidence: f64,
}

/// Inserts or (with `overwrite`) replaces the row with this owner, kind and key.
pub async fn upsert(tx: &mut Tx, m: &NewMemory<'_>, overwrite: bool) -> StoreResult<Written> {
    let now = crate::now_ms();
    let existing: Vec<i64> = on!(tx tx, c => {
        sqlx::query_scalar("SELECT id FROM memories WHERE owner_id = $1 AND kind = $2 AND key = $3")
            .bind(m.owner_id).bind(m.kind).bind(m.key)
            .fetch_all(&mut *c).await
    })?;
    match existing.first() {
        Some(_) if !overwrite => Ok(Written::Skipped),
        Some(id) => {
            on!(tx tx, c => {
                sqlx::query("UPDATE memories SET value = $2, fact_type = $3, confidence = $4, updated_at = $5 WHERE id = $1")
                    .bind(id).bind(m.value).bind(m.fact_type).bind(m.confidence).bind(now)
                    .execute(&mut *c).await.map(|_| ())
            })?;
            Ok(Written::Updated)
        }
        None => {
            on!(tx tx, c => {
                sqlx::query(
                    "INSERT INTO memories (owner_id, kind, key, value, fact_type, confidence, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
                     ON CONFLICT (owner_id, kind, key) DO UPDATE SET value = excluded.value,
                        fact_type = excluded.fact_type, confidence = excluded.confidence, updated_at = excluded.updated_at",
                )
                .bind(m.owner_id).bind(m.kind).bind(m.key).bind(m.value).bind(m.fact_type).bind(m.confidence).bind(now)
                .execute(&mut *c).await.map(|_| ())
            })?;
            Ok(Written::Created)
        }
    }
}

/// The row with this owner, kind and key.
pub async fn get(db: &Db, owner_id: i64, kind: &str, key: &str) -> StoreResult<Option<MemoryRow>> {
    let sql =
        format!("SELECT {COLUMNS} FROM memories WHERE owner_id = $1 AND kind = $2 AND key = $3");
    Ok(on!(db.read(), c => {
        sqlx::query_as::<_, MemoryRow>(AssertSqlSafe(sql.as_str()))
            .bind(owner_id).bind(kind).bind(key)
            .fetch_all(c).await.map(|rows| rows.into_iter().next())
    })?)
}

/// Which rows a listing or search considers.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    pub kind: &'a str,
    /// Only this fact type (`None`: any).
    pub fact_type: Option<&'a str>,
    /// Leave out this fact type (facts listing hides procedures unless asked).
    pub not_fact_type: Option<&'a str>,
    pub min_confidence: f64,
}

/// Rows of one owner, most recently updated first.
pub async fn list(
    db: &Db,
    owner_id: i64,
    filter: &Filter<'_>,
    limit: i64,
) -> StoreResult<Vec<MemoryRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM memories WHERE owner_id = $1 AND kind = $2
           AND ($3 IS NULL OR fact_type = $3) AND ($4 IS NULL OR fact_type <> $4) AND confidence >= $5
         ORDER BY updated_at DESC, id DESC LIMIT $6"
    );
    Ok(on!(db.read(), c => {
        sqlx::query_as::<_, MemoryRow>(AssertSqlSafe(sql.as_str()))
            .bind(owner_id).bind(filter.kind).bind(filter.fact_type).bind(filter.not_fact_type)
            .bind(filter.min_confidence).bind(limit)
            .fetch_all(c).await
    })?)
}

/// The query's words, lowercased, without duplicates (at most 16: a prompt-length query
/// should not become a 100-term scan).
pub fn query_words(query: &str) -> Vec<String> {
    let mut words: Vec<String> = vec![];
    for w in query
        .split(|c: char| !c.is_alphanumeric() && c != '_' && c != '-' && c != ':')
        .map(|w| w.trim_matches(|c| c == '-' || c == ':').to_lowercase())
        .filter(|w| !w.is_empty())
    {
        if !words.contains(&w) && words.len() < 16 {
            words.push(w);
        }
    }
    words
}

/// Rows of one owner containing at least one word of `query` in key or value, best first (most
/// words matched, then most recent).
pub async fn search(
    db: &Db,
    owner_id: i64,
    filter: &Filter<'_>,
    query: &str,
    limit: i64,
) -> StoreResult<Vec<MemoryRow>> {
    let words = query_words(query);
    if words.is_empty() {
        return Ok(vec![]);
    }
    // One `CASE` per word: the score is the number of words found. Words are bound, not
    // spliced; only their `$n` positions are formatted in.
    let first = 6;
    let hit = |i: usize| {
        format!(
            "(LOWER(key) LIKE ${n} ESCAPE '\\' OR LOWER(value) LIKE ${n} ESCAPE '\\')",
            n = first + i
        )
    };
    let score = (0..words.len())
        .map(|i| format!("CASE WHEN {} THEN 1 ELSE 0 END", hit(i)))
        .collect::<Vec<_>>()
        .join(" + ");
    let any = (0..words.len()).map(hit).collect::<Vec<_>>().join(" OR ");
    let sql = format!(
        "SELECT {COLUMNS} FROM (SELECT {COLUMNS}, ({score}) AS score FROM memories
           WHERE owner_id = $1 AND kind = $2 AND ($3 IS NULL OR fact_type = $3)
             AND ($4 IS NULL OR fact_type <> $4) AND confidence >= $5 AND ({any})) AS m
         ORDER BY score DESC, updated_at DESC, id DESC LIMIT {limit}",
        limit = limit.clamp(1, 1000)
    );
    let patterns: Vec<String> = words
        .iter()
        .map(|w| format!("%{}%", crate::like_escape(w)))
        .collect();
    Ok(on!(db.read(), c => {
        let mut q = sqlx::query_as::<_, MemoryRow>(AssertSqlSafe(sql.as_str()))
            .bind(owner_id).bind(filter.kind).bind(filter.fact_type).bind(filter.not_fact_type)
            .bind(filter.min_confidence);
        for p in &patterns {
            q = q.bind(p);
        }
        q.fetch_all(c).await
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_words_are_lowercased_unique_and_capped() {
        assert_eq!(
            query_words("Deploy the API, deploy: procedure:ep-1!"),
            vec!["deploy", "the", "api", "procedure:ep-1"]
        );
        let long = (0..40)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(query_words(&long).len(), 16);
        assert!(query_words("  ,;  ").is_empty());
    }
}
