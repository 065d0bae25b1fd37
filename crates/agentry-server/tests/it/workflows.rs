//! api.md §4 (and §1's ownership, pagination and routing rules) for workflows.

use crate::support::{ADMIN, PASSWORD, TestServer, detail, slugs};
use agentry_store::testing;
use serde_json::{Value, json};

#[tokio::test]
async fn create_derives_unique_slugs_and_defaults() {
    for db in testing::all("create_derives_unique_slugs_and_defaults").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;

        let first = admin
            .create_workflow(json!({"name": "Hello Pipeline"}))
            .await;
        assert_eq!(first["slug"], json!("hello-pipeline"), "[{b}]");
        assert_eq!(first["name"], json!("Hello Pipeline"));
        assert_eq!(first["description"], json!(""));
        assert_eq!(first["is_active"], json!(true));
        assert_eq!(first["is_public"], json!(false));
        assert_eq!(first["is_default"], json!(false));
        assert_eq!(first["tags"], Value::Null);
        assert_eq!(first["error_handler_workflow_id"], Value::Null);
        assert_eq!(first["max_execution_seconds"], json!(600));
        assert_eq!(first["input_schema"], Value::Null);
        assert_eq!(first["output_schema"], Value::Null);
        assert_eq!(first["node_count"], json!(0));
        assert_eq!(first["edge_count"], json!(0));
        assert!(first["id"].is_i64());
        for ts in ["created_at", "updated_at"] {
            assert!(
                first[ts].as_str().expect("timestamp").ends_with('Z'),
                "[{b}] {ts}: {first}"
            );
        }

        // The same name again: `-1`, then `-2`; never 409.
        let second = admin
            .create_workflow(json!({"name": "Hello Pipeline"}))
            .await;
        let third = admin
            .create_workflow(json!({"name": "hello   pipeline"}))
            .await;
        assert_eq!(second["slug"], json!("hello-pipeline-1"), "[{b}]");
        assert_eq!(third["slug"], json!("hello-pipeline-2"), "[{b}]");

        // An explicit slug is used as given, and suffixed when taken.
        let explicit = admin
            .create_workflow(json!({
                "name": "Whatever", "slug": "ops-helper", "description": "d",
                "is_public": true, "tags": ["a", "b"], "max_execution_seconds": 30,
                "input_schema": {"type": "object"}
            }))
            .await;
        assert_eq!(explicit["slug"], json!("ops-helper"), "[{b}]");
        assert_eq!(explicit["description"], json!("d"));
        assert_eq!(explicit["is_public"], json!(true));
        assert_eq!(explicit["tags"], json!(["a", "b"]));
        assert_eq!(explicit["max_execution_seconds"], json!(30));
        assert_eq!(explicit["input_schema"], json!({"type": "object"}));
        let again = admin
            .create_workflow(json!({"name": "Other", "slug": "ops-helper"}))
            .await;
        assert_eq!(again["slug"], json!("ops-helper-1"), "[{b}]");

        // Reserved route segments count as taken.
        let nt = admin.create_workflow(json!({"name": "node-types"})).await;
        assert_eq!(nt["slug"], json!("node-types-1"), "[{b}]");
        let nt2 = admin
            .create_workflow(json!({"name": "x", "slug": "node-types"}))
            .await;
        assert_eq!(nt2["slug"], json!("node-types-2"), "[{b}]");
        let bd = admin.create_workflow(json!({"name": "Batch Delete"})).await;
        assert_eq!(bd["slug"], json!("batch-delete-1"), "[{b}]");
        // …and the literal route still wins.
        let (status, types) = s.anon().get("/api/v1/workflows/node-types/").await;
        assert_eq!(status, 200, "[{b}]");
        assert!(types.get("agent").is_some(), "[{b}]");
        let (status, got) = admin.get("/api/v1/workflows/node-types-1/").await;
        assert_eq!((status, &got["name"]), (200, &json!("node-types")), "[{b}]");

        // Names without ASCII letters still get a slug.
        let sym = admin.create_workflow(json!({"name": "!!!"})).await;
        assert_eq!(sym["slug"], json!("workflow"), "[{b}]");

        // Invalid input.
        for (body, field) in [
            (json!({"name": "x", "slug": "Bad Slug"}), "slug"),
            (json!({"name": "x", "slug": "-lead"}), "slug"),
            (json!({"name": "x", "slug": "UPPER"}), "slug"),
            (json!({"name": "x", "slug": "a".repeat(101)}), "slug"),
            (
                json!({"name": "x", "max_execution_seconds": 0}),
                "max_execution_seconds",
            ),
            (
                json!({"name": "x", "max_execution_seconds": -5}),
                "max_execution_seconds",
            ),
            (json!({"name": ""}), "name"),
            (json!({"name": "   "}), "name"),
            (json!({"description": "no name"}), "name"),
            (json!({"name": "x", "tags": "a,b"}), "tags"),
        ] {
            let (status, out) = admin.post("/api/v1/workflows/", body.clone()).await;
            assert_eq!(status, 422, "[{b}] {body} → {out}");
            let text = out["detail"].to_string();
            assert!(
                text.contains(field),
                "[{b}] {body}: detail {text} names {field}"
            );
        }
        let (_, page) = admin.get("/api/v1/workflows/").await;
        assert_eq!(
            page["total"],
            json!(9),
            "[{b}] refused creates store nothing"
        );
    }
}

#[tokio::test]
async fn get_detail_has_nodes_and_edges() {
    for db in testing::all("get_detail_has_nodes_and_edges").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        admin.create_workflow(json!({"name": "Flow"})).await;
        let t = admin
            .create_node(
                "flow",
                json!({"node_id": "t", "component_type": "trigger_manual"}),
            )
            .await;
        let c = admin
            .create_node("flow", json!({"node_id": "c", "component_type": "code"}))
            .await;
        let e = admin
            .create_edge(
                "flow",
                json!({"source_node_id": "t", "target_node_id": "c"}),
            )
            .await;

        let (status, detail_out) = admin.get("/api/v1/workflows/flow/").await;
        assert_eq!(status, 200, "[{b}] {detail_out}");
        assert_eq!(detail_out["slug"], json!("flow"));
        assert_eq!(detail_out["node_count"], json!(2), "[{b}]");
        assert_eq!(detail_out["edge_count"], json!(1), "[{b}]");
        assert_eq!(detail_out["nodes"], json!([t, c]), "[{b}]");
        assert_eq!(detail_out["edges"], json!([e]), "[{b}]");

        // The list carries the counts too, without nodes and edges.
        let (_, page) = admin.get("/api/v1/workflows/").await;
        let item = &page["items"][0];
        assert_eq!(
            (&item["node_count"], &item["edge_count"]),
            (&json!(2), &json!(1))
        );
        assert!(item.get("nodes").is_none(), "[{b}] {item}");

        for path in [
            "/api/v1/workflows/nope/",
            "/api/v1/workflows/nope",
            "/api/v1/workflows/12345/",
        ] {
            assert_eq!(
                admin.get(path).await,
                (404, detail("Workflow not found.")),
                "[{b}] {path}"
            );
        }
    }
}

#[tokio::test]
async fn list_paginates_and_filters_by_tags() {
    for db in testing::all("list_paginates_and_filters_by_tags").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        for (name, tags) in [
            ("w1", json!(["red"])),
            ("w2", json!(["blue"])),
            ("w3", json!(["red", "green"])),
            ("w4", Value::Null),
            ("w5", json!(["green"])),
        ] {
            admin
                .create_workflow(json!({"name": name, "tags": tags}))
                .await;
        }

        let (status, page) = admin.get("/api/v1/workflows/").await;
        assert_eq!(status, 200, "[{b}]");
        assert_eq!(page["total"], json!(5));
        assert_eq!(
            slugs(&page),
            ["w5", "w4", "w3", "w2", "w1"],
            "[{b}] newest first"
        );

        let (_, page) = admin.get("/api/v1/workflows/?limit=2").await;
        assert_eq!(
            (slugs(&page), &page["total"]),
            (vec!["w5".into(), "w4".into()], &json!(5))
        );
        let (_, page) = admin.get("/api/v1/workflows/?limit=2&offset=2").await;
        assert_eq!(slugs(&page), ["w3", "w2"], "[{b}]");
        assert_eq!(page["total"], json!(5), "[{b}] total before paging");
        let (_, page) = admin.get("/api/v1/workflows/?offset=4").await;
        assert_eq!(slugs(&page), ["w1"], "[{b}]");
        let (_, page) = admin.get("/api/v1/workflows/?offset=10").await;
        assert_eq!(
            (slugs(&page).len(), &page["total"]),
            (0, &json!(5)),
            "[{b}]"
        );
        let (_, page) = admin.get("/api/v1/workflows/?limit=0").await;
        assert_eq!(
            (slugs(&page).len(), &page["total"]),
            (0, &json!(5)),
            "[{b}]"
        );
        let (status, page) = admin.get("/api/v1/workflows/?limit=100000").await;
        assert_eq!(
            (status, slugs(&page).len()),
            (200, 5),
            "[{b}] limit > 500 acts as 500"
        );

        // Tags: exact, any-of.
        let (_, page) = admin.get("/api/v1/workflows/?tags=red").await;
        assert_eq!(
            (slugs(&page), &page["total"]),
            (vec!["w3".into(), "w1".into()], &json!(2))
        );
        let (_, page) = admin.get("/api/v1/workflows/?tags=blue,green").await;
        assert_eq!(slugs(&page), ["w5", "w3", "w2"], "[{b}]");
        assert_eq!(page["total"], json!(3));
        let (_, page) = admin.get("/api/v1/workflows/?tags=%20blue%20,%20red").await;
        assert_eq!(slugs(&page), ["w3", "w2", "w1"], "[{b}] trimmed");
        let (_, page) = admin.get("/api/v1/workflows/?tags=re").await;
        assert_eq!(page["total"], json!(0), "[{b}] exact match only");
        let (_, page) = admin.get("/api/v1/workflows/?tags=green&limit=1").await;
        assert_eq!(
            (slugs(&page), &page["total"]),
            (vec!["w5".into()], &json!(2))
        );
        let (_, page) = admin.get("/api/v1/workflows/?tags=").await;
        assert_eq!(
            page["total"],
            json!(5),
            "[{b}] an empty filter is no filter"
        );
    }
}

#[tokio::test]
async fn patch_is_partial_and_renames() {
    for db in testing::all("patch_is_partial_and_renames").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        admin
            .create_workflow(json!({
                "name": "Flow", "description": "keep me", "tags": ["x"],
                "max_execution_seconds": 90, "output_schema": {"type": "string"}
            }))
            .await;
        admin.create_workflow(json!({"name": "Taken"})).await;

        // Absent keys are untouched.
        let (status, out) = admin
            .patch("/api/v1/workflows/flow/", json!({"is_public": true}))
            .await;
        assert_eq!(status, 200, "[{b}] {out}");
        assert_eq!(out["is_public"], json!(true));
        assert_eq!(out["description"], json!("keep me"));
        assert_eq!(out["tags"], json!(["x"]));
        assert_eq!(out["max_execution_seconds"], json!(90));
        assert_eq!(out["output_schema"], json!({"type": "string"}));
        assert_eq!(out["name"], json!("Flow"));

        // `null` clears nullable fields; a name never becomes null.
        let (status, out) = admin
            .patch(
                "/api/v1/workflows/flow",
                json!({"tags": null, "output_schema": null, "description": null}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {out}");
        assert_eq!(out["tags"], Value::Null);
        assert_eq!(out["output_schema"], Value::Null);
        assert_eq!(out["description"], json!(""));
        assert_eq!(out["is_public"], json!(true), "[{b}] untouched");
        let (status, _) = admin
            .patch("/api/v1/workflows/flow/", json!({"name": null}))
            .await;
        assert_eq!(status, 422, "[{b}]");
        let (status, out) = admin
            .patch(
                "/api/v1/workflows/flow/",
                json!({"name": "Renamed", "tags": ["y", "z"], "is_active": false}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {out}");
        assert_eq!(
            out["slug"],
            json!("flow"),
            "[{b}] renaming does not change the slug"
        );
        assert_eq!(out["tags"], json!(["y", "z"]));
        assert_eq!(out["is_active"], json!(false));

        let (status, out) = admin
            .patch(
                "/api/v1/workflows/flow/",
                json!({"max_execution_seconds": 0}),
            )
            .await;
        assert_eq!(status, 422, "[{b}] {out}");
        assert!(out["detail"].to_string().contains("max_execution_seconds"));

        // Slug changes.
        let conflict = (409, detail("Workflow slug already exists."));
        assert_eq!(
            admin
                .patch("/api/v1/workflows/flow/", json!({"slug": "taken"}))
                .await,
            conflict,
            "[{b}]"
        );
        assert_eq!(
            admin
                .patch("/api/v1/workflows/flow/", json!({"slug": "node-types"}))
                .await,
            conflict,
            "[{b}] reserved"
        );
        let (status, _) = admin
            .patch("/api/v1/workflows/flow/", json!({"slug": "Not Valid"}))
            .await;
        assert_eq!(status, 422, "[{b}]");
        let (status, out) = admin
            .patch("/api/v1/workflows/flow/", json!({"slug": "flow"}))
            .await;
        assert_eq!(
            (status, &out["slug"]),
            (200, &json!("flow")),
            "[{b}] unchanged slug"
        );
        let (status, out) = admin
            .patch("/api/v1/workflows/flow/", json!({"slug": "flow-two"}))
            .await;
        assert_eq!(
            (status, &out["slug"]),
            (200, &json!("flow-two")),
            "[{b}] {out}"
        );
        assert_eq!(
            admin.get("/api/v1/workflows/flow/").await,
            (404, detail("Workflow not found.")),
            "[{b}]"
        );
        let (status, got) = admin.get("/api/v1/workflows/flow-two/").await;
        assert_eq!((status, &got["name"]), (200, &json!("Renamed")), "[{b}]");
        // The old slug is free again.
        let reuse = admin.create_workflow(json!({"name": "flow"})).await;
        assert_eq!(reuse["slug"], json!("flow"), "[{b}]");

        assert_eq!(
            admin
                .patch("/api/v1/workflows/missing/", json!({"name": "x"}))
                .await,
            (404, detail("Workflow not found.")),
            "[{b}]"
        );
    }
}

#[tokio::test]
async fn delete_and_batch_delete() {
    for db in testing::all("delete_and_batch_delete").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        let alice = s.user(&admin, "alice").await;
        let bob = s.user(&admin, "bob").await;

        alice.create_workflow(json!({"name": "gone"})).await;
        alice
            .create_node("gone", json!({"node_id": "n", "component_type": "code"}))
            .await;
        assert_eq!(
            alice.delete("/api/v1/workflows/gone/").await,
            (204, Value::Null),
            "[{b}]"
        );
        let not_found = (404, detail("Workflow not found."));
        assert_eq!(
            alice.get("/api/v1/workflows/gone/").await,
            not_found,
            "[{b}]"
        );
        assert_eq!(
            alice.get("/api/v1/workflows/gone/nodes/").await,
            not_found,
            "[{b}]"
        );
        assert_eq!(
            alice.delete("/api/v1/workflows/gone").await,
            not_found,
            "[{b}]"
        );

        for name in ["a1", "a2", "a3"] {
            alice.create_workflow(json!({"name": name})).await;
        }
        bob.create_workflow(json!({"name": "b1"})).await;

        // Foreign and unknown slugs are skipped silently.
        assert_eq!(
            alice
                .post(
                    "/api/v1/workflows/batch-delete/",
                    json!({"slugs": ["a1", "a3", "b1", "nope"]})
                )
                .await,
            (204, Value::Null),
            "[{b}]"
        );
        let (_, page) = alice.get("/api/v1/workflows/").await;
        assert_eq!(slugs(&page), ["a2"], "[{b}]");
        let (_, page) = bob.get("/api/v1/workflows/").await;
        assert_eq!(slugs(&page), ["b1"], "[{b}] bob's workflow survives");

        assert_eq!(
            alice
                .post("/api/v1/workflows/batch-delete", json!({"slugs": []}))
                .await,
            (204, Value::Null),
            "[{b}] empty list is a no-op"
        );
        let (status, _) = alice
            .post("/api/v1/workflows/batch-delete/", json!({"slugs": "a2"}))
            .await;
        assert_eq!(status, 422, "[{b}] slugs must be a list");

        // Admins may delete anyone's.
        assert_eq!(
            admin
                .post(
                    "/api/v1/workflows/batch-delete/",
                    json!({"slugs": ["b1", "a2"]})
                )
                .await
                .0,
            204
        );
        let (_, page) = admin.get("/api/v1/workflows/").await;
        assert_eq!(page["total"], json!(0), "[{b}]");
    }
}

#[tokio::test]
async fn ownership_scopes_every_route() {
    for db in testing::all("ownership_scopes_every_route").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        let alice = s.user(&admin, "alice").await;
        let bob = s.user(&admin, "bob").await;

        alice.create_workflow(json!({"name": "private"})).await;
        alice
            .create_node("private", json!({"node_id": "n", "component_type": "code"}))
            .await;
        alice
            .create_workflow(json!({"name": "shared", "is_public": true}))
            .await;
        alice
            .create_node("shared", json!({"node_id": "n", "component_type": "code"}))
            .await;
        alice
            .create_node("shared", json!({"node_id": "m", "component_type": "code"}))
            .await;
        let edge = alice
            .create_edge(
                "shared",
                json!({"source_node_id": "n", "target_node_id": "m"}),
            )
            .await;
        bob.create_workflow(json!({"name": "bobs"})).await;

        let not_found = (404, detail("Workflow not found."));
        // A private workflow of someone else does not exist for bob.
        for path in [
            "/api/v1/workflows/private/",
            "/api/v1/workflows/private/nodes/",
            "/api/v1/workflows/private/edges/",
        ] {
            assert_eq!(bob.get(path).await, not_found, "[{b}] GET {path}");
        }
        assert_eq!(
            bob.post("/api/v1/workflows/private/validate/", json!({}))
                .await,
            not_found,
            "[{b}]"
        );
        assert_eq!(
            bob.patch("/api/v1/workflows/private/", json!({"name": "mine"}))
                .await,
            not_found,
            "[{b}]"
        );
        assert_eq!(
            bob.delete("/api/v1/workflows/private/").await,
            not_found,
            "[{b}]"
        );
        assert_eq!(
            bob.post(
                "/api/v1/workflows/private/nodes/",
                json!({"component_type": "code"})
            )
            .await,
            not_found,
            "[{b}]"
        );
        assert_eq!(
            bob.patch("/api/v1/workflows/private/nodes/n/", json!({"label": "x"}))
                .await,
            not_found,
            "[{b}]"
        );
        assert_eq!(
            bob.delete("/api/v1/workflows/private/nodes/n/").await,
            not_found,
            "[{b}]"
        );

        // A public workflow: readable, not changeable, not listed.
        let (status, shared) = bob.get("/api/v1/workflows/shared/").await;
        assert_eq!(status, 200, "[{b}] {shared}");
        assert_eq!(shared["nodes"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            bob.get("/api/v1/workflows/shared/nodes/").await.0,
            200,
            "[{b}]"
        );
        assert_eq!(
            bob.get("/api/v1/workflows/shared/edges/").await,
            (200, json!([edge])),
            "[{b}]"
        );
        assert_eq!(
            bob.post("/api/v1/workflows/shared/validate/", json!({}))
                .await
                .0,
            200,
            "[{b}]"
        );
        assert_eq!(
            bob.patch("/api/v1/workflows/shared/", json!({"name": "mine"}))
                .await,
            not_found,
            "[{b}]"
        );
        assert_eq!(
            bob.delete("/api/v1/workflows/shared/").await,
            not_found,
            "[{b}]"
        );
        assert_eq!(
            bob.post(
                "/api/v1/workflows/shared/nodes/",
                json!({"component_type": "code"})
            )
            .await,
            not_found,
            "[{b}]"
        );
        assert_eq!(
            bob.patch("/api/v1/workflows/shared/nodes/n/", json!({"label": "x"}))
                .await,
            not_found,
            "[{b}]"
        );
        assert_eq!(
            bob.delete("/api/v1/workflows/shared/nodes/n/").await,
            not_found,
            "[{b}]"
        );
        assert_eq!(
            bob.post(
                "/api/v1/workflows/shared/edges/",
                json!({"source_node_id": "m", "target_node_id": "n"})
            )
            .await,
            not_found,
            "[{b}]"
        );
        let edge_path = format!("/api/v1/workflows/shared/edges/{}/", edge["id"]);
        assert_eq!(
            bob.patch(&edge_path, json!({"priority": 3})).await,
            not_found,
            "[{b}]"
        );
        assert_eq!(bob.delete(&edge_path).await, not_found, "[{b}]");

        let (_, page) = bob.get("/api/v1/workflows/").await;
        assert_eq!(
            (slugs(&page), &page["total"]),
            (vec!["bobs".into()], &json!(1)),
            "[{b}]"
        );
        let (_, page) = alice.get("/api/v1/workflows/").await;
        assert_eq!(slugs(&page), ["shared", "private"], "[{b}]");
        assert_eq!(
            alice.get("/api/v1/workflows/bobs/").await,
            not_found,
            "[{b}]"
        );

        // Admins see and change everything.
        let (_, page) = admin.get("/api/v1/workflows/").await;
        assert_eq!(slugs(&page), ["bobs", "shared", "private"], "[{b}]");
        assert_eq!(page["total"], json!(3));
        assert_eq!(
            admin.get("/api/v1/workflows/private/").await.0,
            200,
            "[{b}]"
        );
        let (status, out) = admin
            .patch(
                "/api/v1/workflows/bobs/",
                json!({"description": "by admin"}),
            )
            .await;
        assert_eq!(
            (status, &out["description"]),
            (200, &json!("by admin")),
            "[{b}]"
        );

        // Nothing bob tried changed alice's workflows.
        let (_, private) = alice.get("/api/v1/workflows/private/").await;
        assert_eq!(private["name"], json!("private"));
        assert_eq!(private["node_count"], json!(1), "[{b}]");
        let (_, shared) = alice.get("/api/v1/workflows/shared/").await;
        assert_eq!(
            (&shared["node_count"], &shared["edge_count"]),
            (&json!(2), &json!(1))
        );
        assert_eq!(shared["nodes"][0]["label"], json!(""), "[{b}]");
    }
}

#[tokio::test]
async fn trailing_slash_is_optional() {
    for db in testing::all("trailing_slash_is_optional").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        admin.create_workflow(json!({"name": "flow"})).await;
        admin
            .create_node("flow", json!({"node_id": "a", "component_type": "code"}))
            .await;

        for path in [
            "/api/v1/auth/setup-status",
            "/api/v1/auth/me",
            "/api/v1/users/me/keys",
            "/api/v1/users",
            "/api/v1/workflows",
            "/api/v1/workflows/node-types",
            "/api/v1/workflows/flow",
            "/api/v1/workflows/flow/nodes",
            "/api/v1/workflows/flow/edges",
        ] {
            let without = admin.get(path).await;
            let with = admin.get(&format!("{path}/")).await;
            assert_eq!(without.0, 200, "[{b}] {path}: {}", without.1);
            assert_eq!(with, without, "[{b}] {path}/");
        }
        // Query strings survive the added slash.
        let (status, page) = admin.get("/api/v1/workflows?limit=0").await;
        assert_eq!(
            (status, page["items"].as_array().map(Vec::len)),
            (200, Some(0))
        );

        // Writes too, both ways.
        let (status, out) = admin
            .post("/api/v1/workflows", json!({"name": "no slash"}))
            .await;
        assert_eq!((status, &out["slug"]), (201, &json!("no-slash")), "[{b}]");
        let (status, _) = admin
            .post("/api/v1/workflows/flow/validate", json!({}))
            .await;
        assert_eq!(status, 200, "[{b}]");
        let (status, node) = admin
            .post(
                "/api/v1/workflows/flow/nodes",
                json!({"node_id": "b", "component_type": "code"}),
            )
            .await;
        assert_eq!((status, &node["node_id"]), (201, &json!("b")), "[{b}]");
        let (status, _) = admin
            .patch("/api/v1/workflows/flow/nodes/b", json!({"label": "B"}))
            .await;
        assert_eq!(status, 200, "[{b}]");
        let (status, edge) = admin
            .post(
                "/api/v1/workflows/flow/edges",
                json!({"source_node_id": "a", "target_node_id": "b"}),
            )
            .await;
        assert_eq!(status, 201, "[{b}] {edge}");
        let edge_path = format!("/api/v1/workflows/flow/edges/{}", edge["id"]);
        assert_eq!(admin.patch(&edge_path, json!({"priority": 1})).await.0, 200);
        assert_eq!(admin.delete(&edge_path).await.0, 204, "[{b}]");
        assert_eq!(admin.delete("/api/v1/workflows/flow/nodes/b").await.0, 204);
        assert_eq!(
            admin
                .patch("/api/v1/workflows/flow", json!({"description": "d"}))
                .await
                .0,
            200
        );
        assert_eq!(
            admin.delete("/api/v1/workflows/no-slash").await.0,
            204,
            "[{b}]"
        );
        assert_eq!(
            s.anon()
                .post(
                    "/api/v1/auth/token",
                    json!({"username": ADMIN, "password": PASSWORD})
                )
                .await
                .0,
            200,
            "[{b}]"
        );
    }
}

#[tokio::test]
async fn node_types_need_no_auth() {
    for db in testing::all("node_types_need_no_auth").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let anon = s.anon();
        let (status, types) = anon.get("/api/v1/workflows/node-types/").await;
        assert_eq!(status, 200, "[{b}] {types}");
        let map = types
            .as_object()
            .expect("an object keyed by component_type");
        for ct in [
            "trigger_manual",
            "agent",
            "ai_model",
            "code",
            "switch",
            "human_confirmation",
            "whoami",
        ] {
            let spec = map.get(ct).unwrap_or_else(|| panic!("[{b}] {ct} missing"));
            assert_eq!(spec["component_type"], json!(ct));
            for field in [
                "display_name",
                "description",
                "category",
                "inputs",
                "outputs",
                "requires_model",
                "requires_tools",
                "requires_memory",
                "requires_output_parser",
                "requires_skills",
                "executable",
                "config_schema",
            ] {
                assert!(spec.get(field).is_some(), "[{b}] {ct}.{field}");
            }
        }
        assert_eq!(map["agent"]["requires_model"], json!(true));
        assert_eq!(map["code"]["requires_model"], json!(false));
        let port = &map["agent"]["inputs"][0];
        for field in [
            "name",
            "data_type",
            "description",
            "required",
            "default",
            "port_schema",
        ] {
            assert!(port.get(field).is_some(), "[{b}] port.{field}: {port}");
        }
        // Without the slash, and even with a bad key (the route needs none).
        assert_eq!(
            anon.get("/api/v1/workflows/node-types").await,
            (200, types.clone())
        );
        assert_eq!(
            anon.with_token("garbage")
                .get("/api/v1/workflows/node-types/")
                .await
                .0,
            200,
            "[{b}]"
        );
    }
}
