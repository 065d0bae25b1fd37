//! The two migration sets must produce the same tables and columns. Full-text search is the
//! one deliberate difference (0005_registry): SQLite keeps FTS5 tables (`*_fts` and their
//! `*_fts_*` shadow tables), PostgreSQL a generated `search_tsv` column; both are left out.

use agentry_store::Backend;
use agentry_store::testing;
use std::collections::BTreeSet;

/// Backend-specific full-text structures (see the module comment).
fn is_search_structure(table: &str, column: &str) -> bool {
    table.ends_with("_fts") || table.contains("_fts_") || column == "search_tsv"
}

async fn columns(db: &agentry_store::Db) -> BTreeSet<(String, String)> {
    let all = match db.read() {
        Backend::Sqlite(pool) => {
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
            )
            .fetch_all(pool)
            .await
            .expect("tables");
            let mut out = BTreeSet::new();
            for t in tables {
                let cols: Vec<String> =
                    sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
                        .bind(&t)
                        .fetch_all(pool)
                        .await
                        .expect("columns");
                for c in cols {
                    out.insert((t.clone(), c));
                }
            }
            out
        }
        Backend::Postgres(pool) => sqlx::query_as::<_, (String, String)>(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx%'",
        )
        .fetch_all(pool)
        .await
        .expect("columns")
        .into_iter()
        .collect(),
    };
    all.into_iter()
        .filter(|(t, c)| !is_search_structure(t, c))
        .collect()
}

#[tokio::test]
async fn migrations_agree_between_backends() {
    let sqlite = testing::sqlite().await;
    let Some(pg) = testing::postgres("migrations_agree_between_backends").await else {
        return;
    };
    let a = columns(&sqlite.db).await;
    let b = columns(&pg.db).await;
    assert!(a.len() > 40, "expected the foundation tables, got {a:?}");
    let only_sqlite: Vec<_> = a.difference(&b).collect();
    let only_pg: Vec<_> = b.difference(&a).collect();
    assert!(
        only_sqlite.is_empty() && only_pg.is_empty(),
        "sqlite only: {only_sqlite:?}\npostgres only: {only_pg:?}"
    );
}

#[tokio::test]
async fn migrating_twice_is_a_no_op() {
    for t in testing::all("migrating_twice_is_a_no_op").await {
        t.db.migrate().await.expect("second migrate");
        assert!(t.db.ping().await);
    }
}
