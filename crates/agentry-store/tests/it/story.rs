//! Users, keys, workflows, nodes, edges and events on each backend.

use agentry_core::page::PageRequest;
use agentry_store::{NewEvent, edges, events, nodes, testing, users, workflows};
use serde_json::json;

fn fields(name: &str, tags: Option<Vec<&str>>) -> workflows::WorkflowFields {
    workflows::WorkflowFields {
        name: name.into(),
        description: String::new(),
        is_active: true,
        is_public: false,
        is_default: false,
        is_callable: true,
        tags: tags.map(|t| t.into_iter().map(String::from).collect()),
        error_handler_workflow_id: None,
        forked_from_id: None,
        max_execution_seconds: 600,
        input_schema: None,
        output_schema: Some(json!({"type": "object"})),
    }
}

#[tokio::test]
async fn users_keys_workflows_nodes_edges_events() {
    for t in testing::all("users_keys_workflows_nodes_edges_events").await {
        let db = &t.db;
        let name = db.backend_name();
        let mut tx = db.begin().await.expect("begin");
        let alice = users::insert(&mut tx, "alice", "h", "admin", 1)
            .await
            .expect("insert")
            .expect("new");
        assert!(
            users::insert(&mut tx, "alice", "h", "admin", 1)
                .await
                .expect("insert")
                .is_none(),
            "{name}: dup user"
        );
        let key = agentry_store::api_keys::insert(
            &mut tx,
            agentry_store::api_keys::NewKey {
                user_id: alice.id,
                name: "default",
                prefix: "abcdefgh",
                key_hash: "hash1",
                expires_at: None,
                now: 5,
            },
        )
        .await
        .expect("key");
        tx.commit().await.expect("commit");
        assert_eq!(users::count(db).await.expect("count"), 1);
        let found = agentry_store::api_keys::find_by_hash(db, "hash1")
            .await
            .expect("find")
            .expect("some");
        assert_eq!(found.id, key.id);
        agentry_store::api_keys::touch(db, key.id, 100_000)
            .await
            .expect("touch");
        agentry_store::api_keys::touch(db, key.id, 100_500)
            .await
            .expect("touch");
        let found = agentry_store::api_keys::find_by_hash(db, "hash1")
            .await
            .expect("find")
            .expect("some");
        assert_eq!(
            found.last_used_at,
            Some(100_000),
            "{name}: touched at most once a minute"
        );

        // Slugs: base, base-1, base-2; reserved words skipped.
        let mut tx = db.begin().await.expect("begin");
        let a = workflows::insert_unique_slug(
            &mut tx,
            alice.id,
            "ops",
            1,
            &fields("Ops", Some(vec!["x", "y"])),
            10,
        )
        .await
        .expect("a");
        let b =
            workflows::insert_unique_slug(&mut tx, alice.id, "ops", 1, &fields("Ops", None), 11)
                .await
                .expect("b");
        let c = workflows::insert_unique_slug(
            &mut tx,
            alice.id,
            "ops",
            2,
            &fields("Ops", Some(vec!["z"])),
            12,
        )
        .await
        .expect("c");
        let r = workflows::insert_unique_slug(
            &mut tx,
            alice.id,
            "node-types",
            1,
            &fields("NT", None),
            13,
        )
        .await
        .expect("r");
        tx.emit(NewEvent::new(
            "workflow:ops",
            "workflow_created",
            json!({"slug": "ops"}),
        ));
        let evs = tx.commit().await.expect("commit");
        assert_eq!(
            (
                a.slug.as_str(),
                b.slug.as_str(),
                c.slug.as_str(),
                r.slug.as_str()
            ),
            ("ops", "ops-1", "ops-2", "node-types-1"),
            "{name}"
        );
        assert_eq!(
            a.output_schema.as_ref().map(|j| j.0.clone()),
            Some(json!({"type": "object"}))
        );
        assert_eq!(evs.len(), 1);
        assert!(evs[0].id > 0);

        let (tagged, total) = workflows::list(
            db,
            &workflows::WorkflowFilter {
                owner_id: Some(alice.id),
                tags: Some(vec!["y".into(), "z".into()]),
            },
            PageRequest::default(),
        )
        .await
        .expect("list");
        assert_eq!(total, 2, "{name}: any-of tags");
        assert_eq!(
            tagged.iter().map(|w| w.slug.as_str()).collect::<Vec<_>>(),
            vec!["ops-2", "ops"]
        );
        let (_, all) = workflows::list(
            db,
            &workflows::WorkflowFilter::default(),
            PageRequest {
                limit: 1,
                offset: 0,
            },
        )
        .await
        .expect("list");
        assert_eq!(all, 4);

        // Nodes and edges.
        let mut tx = db.begin().await.expect("begin");
        let node = |id: &str, ct: &str| nodes::NodeFields {
            node_id: id.into(),
            label: String::new(),
            component_type: ct.into(),
            is_entry_point: false,
            interrupt_before: false,
            interrupt_after: false,
            position_x: 1,
            position_y: 2,
            config: json!({"extra_config": {}}),
            subworkflow_id: None,
            code_block_id: None,
        };
        nodes::insert(&mut tx, a.id, &node("t", "trigger_manual"), 20)
            .await
            .expect("n")
            .expect("new");
        nodes::insert(&mut tx, a.id, &node("c", "code"), 20)
            .await
            .expect("n")
            .expect("new");
        assert!(
            nodes::insert(&mut tx, a.id, &node("c", "code"), 20)
                .await
                .expect("n")
                .is_none(),
            "{name}: dup node"
        );
        let edge = edges::EdgeFields {
            source_node_id: "t".into(),
            target_node_id: "c".into(),
            edge_type: "direct".into(),
            edge_label: String::new(),
            condition_mapping: None,
            condition_value: String::new(),
            priority: 0,
        };
        let e1 = edges::insert(&mut tx, a.id, &edge)
            .await
            .expect("e")
            .expect("new");
        assert!(
            edges::insert(&mut tx, a.id, &edge)
                .await
                .expect("e")
                .is_none(),
            "{name}: dup edge"
        );
        edges::rename_node(&mut tx, a.id, "c", "code_1")
            .await
            .expect("rename");
        tx.commit().await.expect("commit");
        let listed = edges::list(db, a.id).await.expect("edges");
        assert_eq!(listed[0].target_node_id, "code_1");
        let w = workflows::get_by_slug(db, "ops")
            .await
            .expect("get")
            .expect("some");
        assert_eq!((w.node_count, w.edge_count), (2, 1));

        let mut tx = db.begin().await.expect("begin");
        let gone = edges::delete_touching(&mut tx, a.id, "t")
            .await
            .expect("touching");
        assert_eq!(gone, vec![e1.id]);
        let deleted = workflows::delete_many(
            &mut tx,
            &["ops".into(), "ops-1".into(), "nope".into()],
            Some(alice.id),
        )
        .await
        .expect("del");
        tx.commit().await.expect("commit");
        assert_eq!(deleted.len(), 2);
        assert!(
            nodes::list(db, a.id).await.expect("nodes").is_empty(),
            "{name}: nodes cascade"
        );

        let after = events::list_after(db, "workflow:ops", 0, 10)
            .await
            .expect("events");
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].data.0, json!({"slug": "ops"}));
        assert_eq!(
            events::oldest_id(db).await.expect("oldest"),
            Some(after[0].id)
        );
    }
}

#[tokio::test]
async fn concurrent_slug_claims_never_collide() {
    for t in testing::all("concurrent_slug_claims_never_collide").await {
        let db = t.db.clone();
        let mut tx = db.begin().await.expect("begin");
        let owner = users::insert(&mut tx, "bob", "h", "normal", 1)
            .await
            .expect("u")
            .expect("new");
        tx.commit().await.expect("commit");
        let mut handles = vec![];
        for _ in 0..8 {
            let db = db.clone();
            handles.push(tokio::spawn(async move {
                let mut tx = db.begin().await.expect("begin");
                let w = workflows::insert_unique_slug(
                    &mut tx,
                    owner.id,
                    "same",
                    1,
                    &fields("Same", None),
                    1,
                )
                .await
                .expect("insert");
                tx.commit().await.expect("commit");
                w.slug
            }));
        }
        let mut slugs = vec![];
        for h in handles {
            slugs.push(h.await.expect("join"));
        }
        slugs.sort();
        slugs.dedup();
        assert_eq!(slugs.len(), 8, "{}: {slugs:?}", db.backend_name());
    }
}
