//! api.md §1: malformed bodies, wrong types, oversized bodies, bad paging, odd names, races.

use crate::support::{PASSWORD, TestServer, detail};
use agentry_store::testing;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn detail_text(body: &Value) -> String {
    let d = &body["detail"];
    assert!(
        !d.is_null() && d != "",
        "a 4xx answer carries a detail: {body}"
    );
    d.to_string()
}

#[tokio::test]
async fn malformed_json_and_wrong_types_are_422() {
    for db in testing::all("malformed_json_and_wrong_types_are_422").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        admin.create_workflow(json!({"name": "flow"})).await;

        // Not JSON at all, cut short, empty, or not an object.
        for (method, path) in [
            (Method::POST, "/api/v1/workflows/"),
            (Method::PATCH, "/api/v1/workflows/flow/"),
            (Method::POST, "/api/v1/workflows/flow/nodes/"),
            (Method::POST, "/api/v1/workflows/flow/edges/"),
            (Method::POST, "/api/v1/users/me/keys"),
            (Method::POST, "/api/v1/auth/token/"),
        ] {
            for raw in [
                &b"{\"name\": "[..],
                b"not json",
                b"",
                b"[1, 2]",
                b"{\"name\": \"x\",}",
            ] {
                let (status, body) = admin.raw(method.clone(), path, Some(raw.to_vec())).await;
                assert_eq!(
                    status,
                    422,
                    "[{b}] {method} {path} {:?} → {body}",
                    String::from_utf8_lossy(raw)
                );
                detail_text(&body);
            }
        }

        // Wrong types: the detail names the field.
        for (method, path, body, field) in [
            (
                Method::POST,
                "/api/v1/workflows/",
                json!({"name": 5}),
                "name",
            ),
            (
                Method::POST,
                "/api/v1/workflows/",
                json!({"name": "x", "is_public": "yes"}),
                "is_public",
            ),
            (
                Method::POST,
                "/api/v1/workflows/",
                json!({"name": "x", "max_execution_seconds": "ten"}),
                "max_execution_seconds",
            ),
            (
                Method::PATCH,
                "/api/v1/workflows/flow/",
                json!({"is_active": "no"}),
                "is_active",
            ),
            (
                Method::PATCH,
                "/api/v1/workflows/flow/",
                json!({"tags": [1, 2]}),
                "tags",
            ),
            (
                Method::POST,
                "/api/v1/workflows/flow/nodes/",
                json!({"component_type": "code", "position_y": "top"}),
                "position_y",
            ),
            (
                Method::POST,
                "/api/v1/workflows/flow/nodes/",
                json!({"component_type": "code", "config": "nope"}),
                "config",
            ),
            (
                Method::POST,
                "/api/v1/workflows/flow/nodes/",
                json!({"component_type": 3}),
                "component_type",
            ),
            (
                Method::POST,
                "/api/v1/workflows/flow/edges/",
                json!({"source_node_id": ["a"]}),
                "source_node_id",
            ),
            (
                Method::POST,
                "/api/v1/users/me/keys",
                json!({"name": false}),
                "name",
            ),
            (
                Method::POST,
                "/api/v1/users/",
                json!({"username": 7, "password": "x"}),
                "username",
            ),
            (
                Method::POST,
                "/api/v1/workflows/batch-delete/",
                json!({"slugs": [1]}),
                "slugs",
            ),
        ] {
            let (status, out) = admin
                .request(method.clone(), path, Some(body.clone()))
                .await;
            assert_eq!(status, 422, "[{b}] {method} {path} {body} → {out}");
            let text = detail_text(&out);
            assert!(
                text.contains(field),
                "[{b}] {body}: {text} should name {field}"
            );
        }

        // Unknown keys are ignored.
        let (status, out) = admin
            .post(
                "/api/v1/workflows/",
                json!({"name": "extra", "surprise": {"a": 1}}),
            )
            .await;
        assert_eq!((status, &out["slug"]), (201, &json!("extra")), "[{b}]");

        let (_, page) = admin.get("/api/v1/workflows/").await;
        assert_eq!(page["total"], json!(2), "[{b}] nothing else was created");
    }
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    for db in testing::all("oversized_bodies_are_413").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        admin.create_workflow(json!({"name": "flow"})).await;

        let big = |n: usize| {
            json!({"name": "big", "description": "d".repeat(n)})
                .to_string()
                .into_bytes()
        };
        for (method, path) in [
            (Method::POST, "/api/v1/workflows/"),
            (Method::PATCH, "/api/v1/workflows/flow/"),
            (Method::POST, "/api/v1/workflows/flow/nodes/"),
        ] {
            let (status, body) = admin
                .raw(method.clone(), path, Some(big(1024 * 1024 + 1)))
                .await;
            assert_eq!(status, 413, "[{b}] {method} {path}: {body}");
            detail_text(&body);
        }
        // Just under the limit is accepted.
        let (status, out) = admin
            .raw(Method::POST, "/api/v1/workflows/", Some(big(1000 * 1000)))
            .await;
        assert_eq!(status, 201, "[{b}] {}", out["detail"]);
        assert_eq!(out["description"].as_str().map(str::len), Some(1000 * 1000));
    }
}

#[tokio::test]
async fn negative_paging_is_422() {
    for db in testing::all("negative_paging_is_422").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        for (path, field) in [
            ("/api/v1/workflows/?limit=-1", "limit"),
            ("/api/v1/workflows/?offset=-5", "offset"),
            ("/api/v1/workflows?limit=-1&offset=0", "limit"),
            ("/api/v1/workflows/?limit=ten", "limit"),
            ("/api/v1/users/?limit=-1", "limit"),
            ("/api/v1/users/?offset=-1", "offset"),
        ] {
            let (status, body) = admin.get(path).await;
            assert_eq!(status, 422, "[{b}] {path} → {body}");
            let text = detail_text(&body);
            assert!(text.contains(field), "[{b}] {path}: {text}");
        }
        assert_eq!(
            admin.get("/api/v1/workflows/?limit=0&offset=0").await,
            (200, json!({"items": [], "total": 0})),
            "[{b}]"
        );
    }
}

#[tokio::test]
async fn unicode_names_get_ascii_slugs() {
    for db in testing::all("unicode_names_get_ascii_slugs").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        let names = [
            "🚀 Launch 🚀",
            "مرحبا بالعالم",
            "שלום flow",
            "Cafe\u{301} cre\u{300}me",
            "e\u{301}\u{301}\u{301}",
            "Ünïcödé — Flow",
            "日本語のワークフロー",
            "\u{202e}evil\u{202c} name",
            "🙂",
        ];
        let mut seen = BTreeSet::new();
        for name in names {
            let out = admin.create_workflow(json!({"name": name})).await;
            assert_eq!(out["name"], json!(name), "[{b}] the name is kept as given");
            let slug = out["slug"].as_str().expect("slug").to_string();
            let valid = !slug.is_empty()
                && slug.len() <= 100
                && slug
                    .bytes()
                    .next()
                    .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && slug.bytes().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_'
                });
            assert!(valid, "[{b}] {name:?} → {slug:?}");
            assert!(seen.insert(slug.clone()), "[{b}] {slug} repeated");
            let (status, got) = admin.get(&format!("/api/v1/workflows/{slug}/")).await;
            assert_eq!((status, &got["name"]), (200, &json!(name)), "[{b}] {slug}");
        }
        let (_, page) = admin.get("/api/v1/workflows/").await;
        assert_eq!(page["total"], json!(names.len()), "[{b}]");

        // The derivation itself, for names with some ASCII in them.
        let launch = admin
            .create_workflow(json!({"name": "🚀 Launch Pad"}))
            .await;
        assert_eq!(launch["slug"], json!("launch-pad"), "[{b}]");
        let combining = admin
            .create_workflow(json!({"name": "Re\u{301}sume\u{301} Bot"}))
            .await;
        assert_eq!(combining["slug"], json!("resume-bot"), "[{b}]");

        // A very long unicode name is accepted and still yields a short slug.
        let long = admin
            .create_workflow(json!({"name": "ж".repeat(200)}))
            .await;
        assert!(
            long["slug"].as_str().is_some_and(|s| s.len() <= 100),
            "[{b}]"
        );
        let (status, body) = admin
            .post("/api/v1/workflows/", json!({"name": "ж".repeat(201)}))
            .await;
        assert_eq!(status, 422, "[{b}] {body}");
        // Unicode node ids and labels round-trip.
        let node = admin
            .create_node(
                "launch-pad",
                json!({"node_id": "шаг_1", "label": "🚀 שלום", "component_type": "code"}),
            )
            .await;
        assert_eq!(
            (&node["node_id"], &node["label"]),
            (&json!("шаг_1"), &json!("🚀 שלום"))
        );
        let (status, out) = admin
            .patch(
                "/api/v1/workflows/launch-pad/nodes/%D1%88%D0%B0%D0%B3_1/",
                json!({"position_x": 3}),
            )
            .await;
        assert_eq!(
            (status, &out["position_x"]),
            (200, &json!(3)),
            "[{b}] {out}"
        );
    }
}

#[tokio::test]
async fn concurrent_creates_get_distinct_slugs() {
    for db in testing::all("concurrent_creates_get_distinct_slugs").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        let bob = s.user(&admin, "bob").await;

        let creates = (0..8).map(|i| {
            // Two users racing for the same slug space.
            let client = if i % 2 == 0 {
                admin.clone()
            } else {
                bob.clone()
            };
            async move {
                client
                    .post("/api/v1/workflows/", json!({"name": "Same Name"}))
                    .await
            }
        });
        let results = futures_util::future::join_all(creates).await;
        let mut got = BTreeSet::new();
        for (status, body) in results {
            assert_eq!(status, 201, "[{b}] never 409 or 500: {body}");
            got.insert(body["slug"].as_str().expect("slug").to_string());
        }
        let want: BTreeSet<String> = std::iter::once("same-name".to_string())
            .chain((1..8).map(|n| format!("same-name-{n}")))
            .collect();
        assert_eq!(got, want, "[{b}]");

        // Parallel node creates with the same id: exactly one wins, the others get 409.
        admin.create_workflow(json!({"name": "race"})).await;
        let nodes = (0..8).map(|_| {
            let client = admin.clone();
            async move {
                client
                    .post(
                        "/api/v1/workflows/race/nodes/",
                        json!({"node_id": "same", "component_type": "code"}),
                    )
                    .await
            }
        });
        let results = futures_util::future::join_all(nodes).await;
        let created = results.iter().filter(|(st, _)| *st == 201).count();
        assert_eq!(created, 1, "[{b}] {results:?}");
        for (status, body) in results.iter().filter(|(st, _)| *st != 201) {
            assert_eq!(
                (*status, body),
                (409, &detail("Node with id 'same' already exists.")),
                "[{b}]"
            );
        }
    }
}

/// Parallel writes that collide on a unique name: one wins, the others get the spec's 409,
/// never a 500.
#[tokio::test]
async fn concurrent_collisions_are_409() {
    for db in testing::all("concurrent_collisions_are_409").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        admin.create_workflow(json!({"name": "flow"})).await;
        for i in 0..8 {
            admin
                .create_node(
                    "flow",
                    json!({"node_id": format!("n{i}"), "component_type": "code"}),
                )
                .await;
        }
        admin
            .create_node("flow", json!({"node_id": "hub", "component_type": "code"}))
            .await;
        let mut edge_ids = vec![];
        for i in 0..8 {
            let e = admin
                .create_edge(
                    "flow",
                    json!({"source_node_id": "hub", "target_node_id": format!("n{i}")}),
                )
                .await;
            edge_ids.push(e["id"].as_i64().expect("id"));
        }

        let expect_one_winner = |what: &str, results: Vec<(u16, Value)>, conflict: Value| {
            let wins = results
                .iter()
                .filter(|(st, _)| (200..300).contains(st))
                .count();
            assert_eq!(wins, 1, "[{b}] {what}: {results:?}");
            for (status, body) in results.iter().filter(|(st, _)| !(200..300).contains(st)) {
                assert_eq!((*status, body), (409, &conflict), "[{b}] {what}");
            }
        };

        // Same new node id for eight nodes.
        let renames = (0..8).map(|i| {
            let c = admin.clone();
            async move {
                c.patch(
                    &format!("/api/v1/workflows/flow/nodes/n{i}/"),
                    json!({"node_id": "same"}),
                )
                .await
            }
        });
        let results = futures_util::future::join_all(renames).await;
        expect_one_winner(
            "node renames",
            results,
            detail("Node with id 'same' already exists."),
        );

        // Eight edges rewritten into the same edge.
        let patches = edge_ids.iter().map(|id| {
            let c = admin.clone();
            async move {
                c.patch(
                    &format!("/api/v1/workflows/flow/edges/{id}/"),
                    json!({"target_node_id": ""}),
                )
                .await
            }
        });
        let results = futures_util::future::join_all(patches).await;
        expect_one_winner("edge patches", results, detail("Edge already exists."));

        // Eight identical new edges.
        let creates = (0..8).map(|_| {
            let c = admin.clone();
            async move {
                c.post(
                    "/api/v1/workflows/flow/edges/",
                    json!({"source_node_id": "hub", "target_node_id": "hub"}),
                )
                .await
            }
        });
        let results = futures_util::future::join_all(creates).await;
        expect_one_winner("edge creates", results, detail("Edge already exists."));

        // Eight workflows renamed to one slug.
        for i in 0..8 {
            admin
                .create_workflow(json!({"name": format!("w{i}")}))
                .await;
        }
        let slugs = (0..8).map(|i| {
            let c = admin.clone();
            async move {
                c.patch(
                    &format!("/api/v1/workflows/w{i}/"),
                    json!({"slug": "target"}),
                )
                .await
            }
        });
        let results = futures_util::future::join_all(slugs).await;
        expect_one_winner(
            "slug renames",
            results,
            detail("Workflow slug already exists."),
        );

        // Eight users with one name.
        let users = (0..8).map(|_| {
            let c = admin.clone();
            async move {
                c.post(
                    "/api/v1/users/",
                    json!({"username": "twin", "password": PASSWORD}),
                )
                .await
            }
        });
        let results = futures_util::future::join_all(users).await;
        expect_one_winner("user creates", results, detail("Username already exists."));
    }
}
