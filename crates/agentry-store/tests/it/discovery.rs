//! The discovery capability cache (migration 0008) on each backend: node and edge changes
//! clear it and bump the version in their own transaction; a write-back with a version read
//! before a change is ignored; a current one sticks.

use agentry_core::discovery::Capabilities;
use agentry_store::edges::{self, EdgeFields};
use agentry_store::nodes::{self, NodeFields};
use agentry_store::workflows::{self, WorkflowFields};
use agentry_store::{testing, users};
use serde_json::json;

fn node(id: &str, ct: &str) -> NodeFields {
    NodeFields {
        node_id: id.into(),
        label: String::new(),
        component_type: ct.into(),
        is_entry_point: false,
        interrupt_before: false,
        interrupt_after: false,
        position_x: 0,
        position_y: 0,
        config: json!({}),
        subworkflow_id: None,
        code_block_id: None,
    }
}

async fn cached(db: &agentry_store::Db, id: i64) -> (Option<Capabilities>, i64) {
    let rows = workflows::discovery_candidates(db, None)
        .await
        .expect("read");
    let row = rows.into_iter().find(|r| r.id == id).expect("candidate");
    (row.capabilities.map(|c| c.0), row.capabilities_version)
}

#[tokio::test]
async fn capability_cache_is_cleared_by_changes_and_guarded_by_version() {
    for t in testing::all("discovery_capability_cache").await {
        let db = &t.db;
        let name = db.backend_name();
        let mut tx = db.begin().await.expect("tx");
        let u = users::insert(&mut tx, "u", "h", "normal", 1)
            .await
            .expect("user")
            .expect("new");
        let f = WorkflowFields {
            name: "W".into(),
            description: String::new(),
            is_active: true,
            is_public: false,
            is_default: false,
            is_callable: true,
            tags: None,
            error_handler_workflow_id: None,
            forked_from_id: None,
            max_execution_seconds: 600,
            input_schema: None,
            output_schema: None,
        };
        let w = workflows::insert_unique_slug(&mut tx, u.id, "w", 1, &f, 1)
            .await
            .expect("wf");
        nodes::insert(&mut tx, w.id, &node("t", "trigger_chat"), 1)
            .await
            .expect("t");
        tx.commit().await.expect("commit");

        let (caps, v1) = cached(db, w.id).await;
        assert_eq!(caps, None, "{name}: cleared by the node insert");
        let first = Capabilities {
            node_types: vec!["x".into()],
            ..Default::default()
        };
        workflows::store_capabilities(db, &[(w.id, v1, first.clone())])
            .await
            .expect("store");
        assert_eq!(
            cached(db, w.id).await,
            (Some(first.clone()), v1),
            "{name}: current version sticks"
        );

        // A change clears it; a write-back computed before the change is ignored.
        let mut tx = db.begin().await.expect("tx");
        nodes::insert(&mut tx, w.id, &node("a", "agent"), 2)
            .await
            .expect("a");
        let e = EdgeFields {
            source_node_id: "t".into(),
            target_node_id: "a".into(),
            edge_type: "direct".into(),
            edge_label: String::new(),
            condition_mapping: None,
            condition_value: String::new(),
            priority: 0,
        };
        edges::insert(&mut tx, w.id, &e).await.expect("edge");
        tx.commit().await.expect("commit");
        let (caps, v2) = cached(db, w.id).await;
        assert_eq!(caps, None, "{name}");
        assert!(v2 >= v1 + 2, "{name}: {v1} → {v2}");
        workflows::store_capabilities(db, &[(w.id, v1, first)])
            .await
            .expect("store");
        assert_eq!(
            cached(db, w.id).await.0,
            None,
            "{name}: stale write-back ignored"
        );

        // Deleting a node clears it too; deleting the workflow (cascade) is fine.
        workflows::store_capabilities(db, &[(w.id, v2, Capabilities::default())])
            .await
            .expect("store");
        let mut tx = db.begin().await.expect("tx");
        nodes::delete(&mut tx, w.id, "a")
            .await
            .expect("delete node");
        tx.commit().await.expect("commit");
        assert_eq!(cached(db, w.id).await.0, None, "{name}");
        let mut tx = db.begin().await.expect("tx");
        assert!(workflows::delete(&mut tx, w.id).await.expect("delete wf"));
        tx.commit().await.expect("commit");
    }
}
