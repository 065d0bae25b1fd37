//! Full-text ranking shared by every search (workflow discovery, epic and task search), so a
//! query ranks the same way wherever it is typed: the query's words (see
//! `agentry_core::registry::fts_terms`) are OR-ed; SQLite matches an external-content FTS5
//! table (`porter unicode61`) and ranks by `-bm25(...)`, PostgreSQL matches a generated
//! `search_tsv` column (`english`) with `@@ to_tsquery` and ranks by `ts_rank`. Higher is
//! better on both; only the order is meaningful.

use crate::Backend;

/// An FTS5 query matching any of `terms`, each quoted (terms are letters and digits only).
pub(crate) fn fts5_query(terms: &[String]) -> String {
    terms
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "")))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// The text bound as the query parameter for `terms` on this backend.
pub(crate) fn query_text(backend: &Backend<'_>, terms: &[String]) -> String {
    match backend {
        Backend::Sqlite(_) => fts5_query(terms),
        Backend::Postgres(_) => terms.join(" | "),
    }
}

/// The SQL pieces of a ranked match of table `table` (alias `alias`, FTS5 table
/// `{table}_fts` keyed by `key`) against the query bound as `$param`: the `FROM` clause, the
/// score expression (a DOUBLE PRECISION, higher is better) and the match predicate.
pub(crate) struct Ranked {
    pub from: String,
    pub score: String,
    pub matches: String,
}

pub(crate) fn ranked(
    backend: &Backend<'_>,
    table: &str,
    alias: &str,
    key: &str,
    param: u8,
) -> Ranked {
    match backend {
        Backend::Sqlite(_) => Ranked {
            from: format!("{table}_fts JOIN {table} {alias} ON {alias}.{key} = {table}_fts.rowid"),
            score: format!("-bm25({table}_fts)"),
            matches: format!("{table}_fts MATCH ${param}"),
        },
        Backend::Postgres(_) => Ranked {
            from: format!("{table} {alias}"),
            score: format!(
                "CAST(ts_rank({alias}.search_tsv, to_tsquery('english', ${param})) AS DOUBLE PRECISION)"
            ),
            matches: format!("{alias}.search_tsv @@ to_tsquery('english', ${param})"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts5_query_quotes_and_ors() {
        let terms = vec!["deploy".to_string(), "api".to_string()];
        assert_eq!(fts5_query(&terms), "\"deploy\" OR \"api\"");
    }
}
