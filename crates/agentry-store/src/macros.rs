/// Runs `$body` with `$c` bound to the backend's executor. The body is compiled once per
/// backend, so one SQL text and one row type serve both.
///
/// `on!(db.read(), c => query.fetch_one(c).await)` for pools;
/// `on!(tx tx, c => query.execute(&mut *c).await)` for a [`crate::Tx`].
macro_rules! on {
    (tx $tx:expr, $c:ident => $body:expr) => {
        match &mut $tx.conn {
            $crate::db::TxConn::Sqlite(t) => {
                let $c: &mut sqlx::SqliteConnection = &mut *t;
                $body
            }
            $crate::db::TxConn::Postgres(t) => {
                let $c: &mut sqlx::PgConnection = &mut *t;
                $body
            }
        }
    };
    ($backend:expr, $c:ident => $body:expr) => {
        match $backend {
            $crate::Backend::Sqlite($c) => $body,
            $crate::Backend::Postgres($c) => $body,
        }
    };
}

/// Picks the SQL text for the backend where the dialects differ.
macro_rules! sql_for {
    ($backend:expr, sqlite: $s:expr, postgres: $p:expr) => {
        match $backend {
            $crate::Backend::Sqlite(_) => $s,
            $crate::Backend::Postgres(_) => $p,
        }
    };
}
