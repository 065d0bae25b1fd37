//! Agent memory on each backend: upsert semantics, owner scope, word search ranking.

use agentry_store::memories::{self, Filter, NewMemory, Written};
use agentry_store::{testing, users};

fn fact<'a>(owner_id: i64, key: &'a str, value: &'a str, fact_type: &'a str) -> NewMemory<'a> {
    NewMemory {
        owner_id,
        kind: memories::FACT,
        key,
        value,
        fact_type,
        confidence: 1.0,
    }
}

#[tokio::test]
async fn facts_upsert_scope_and_search() {
    for t in testing::all("memories_facts_upsert_scope_and_search").await {
        let db = &t.db;
        let name = db.backend_name();
        let mut tx = db.begin().await.expect("begin");
        let a = users::insert(&mut tx, "ann", "h", "normal", 1)
            .await
            .expect("u")
            .expect("new");
        let b = users::insert(&mut tx, "bob", "h", "normal", 1)
            .await
            .expect("u")
            .expect("new");
        let w = |r| r;
        assert_eq!(
            w(memories::upsert(
                &mut tx,
                &fact(a.id, "color", "blue", "user_preference"),
                true
            )
            .await
            .expect("up")),
            Written::Created
        );
        assert_eq!(
            memories::upsert(
                &mut tx,
                &fact(a.id, "color", "green", "user_preference"),
                false
            )
            .await
            .expect("up"),
            Written::Skipped
        );
        assert_eq!(
            memories::upsert(
                &mut tx,
                &fact(a.id, "color", "red", "user_preference"),
                true
            )
            .await
            .expect("up"),
            Written::Updated
        );
        memories::upsert(
            &mut tx,
            &fact(
                a.id,
                "capital of france",
                "Paris is the capital",
                "world_knowledge",
            ),
            true,
        )
        .await
        .expect("up");
        memories::upsert(
            &mut tx,
            &fact(a.id, "100%_sure", "literal percent", "world_knowledge"),
            true,
        )
        .await
        .expect("up");
        memories::upsert(
            &mut tx,
            &fact(b.id, "color", "yellow", "user_preference"),
            true,
        )
        .await
        .expect("up");
        tx.commit().await.expect("commit");

        let got = memories::get(db, a.id, memories::FACT, "color")
            .await
            .expect("get")
            .expect("row");
        assert_eq!(got.value, "red", "{name}");
        let got_b = memories::get(db, b.id, memories::FACT, "color")
            .await
            .expect("get")
            .expect("row");
        assert_eq!(got_b.value, "yellow", "{name}: owners are separate");

        let f = Filter {
            kind: memories::FACT,
            ..Default::default()
        };
        let all = memories::list(db, a.id, &f, 10).await.expect("list");
        assert_eq!(all.len(), 3, "{name}");

        // Ranking: two words matched beats one.
        let hits = memories::search(db, a.id, &f, "capital Paris color", 10)
            .await
            .expect("search");
        let keys: Vec<&str> = hits.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys, vec!["capital of france", "color"], "{name}");
        // LIKE wildcards in the query are literal.
        let hits = memories::search(db, a.id, &f, "100%", 10)
            .await
            .expect("search");
        assert_eq!(hits.len(), 1, "{name}: {hits:?}");
        assert_eq!(hits[0].key, "100%_sure");
        let hits = memories::search(db, a.id, &f, "p_ris", 10)
            .await
            .expect("search");
        assert!(
            hits.is_empty(),
            "{name}: _ must not be a wildcard: {hits:?}"
        );
        // Another owner's facts never match.
        let hits = memories::search(db, a.id, &f, "yellow", 10)
            .await
            .expect("search");
        assert!(hits.is_empty(), "{name}");
        // Fact-type filters.
        let prefs = Filter {
            kind: memories::FACT,
            fact_type: Some("user_preference"),
            ..Default::default()
        };
        assert_eq!(
            memories::list(db, a.id, &prefs, 10)
                .await
                .expect("list")
                .len(),
            1,
            "{name}"
        );
        let not_prefs = Filter {
            kind: memories::FACT,
            not_fact_type: Some("user_preference"),
            ..Default::default()
        };
        assert_eq!(
            memories::list(db, a.id, &not_prefs, 10)
                .await
                .expect("list")
                .len(),
            2,
            "{name}"
        );
    }
}
