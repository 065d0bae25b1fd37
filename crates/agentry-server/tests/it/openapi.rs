//! api.md §3: `/openapi.json` = `/api/v1/openapi.json`, documenting every route; `/health`.

use crate::support::TestServer;
use agentry_store::testing;
use reqwest::Method;
use serde_json::json;
use std::collections::BTreeSet;

/// Every route the router serves so far, with its methods. Routes added later must be added
/// here too; the check below also catches documented paths that no route serves.
const EXPECTED: &[(&str, &[&str])] = &[
    ("/health", &["get"]),
    ("/api/v1/auth/setup-status/", &["get"]),
    ("/api/v1/auth/setup/", &["post"]),
    ("/api/v1/auth/token/", &["post"]),
    ("/api/v1/auth/me/", &["get"]),
    ("/api/v1/users/me/keys/", &["get", "post"]),
    ("/api/v1/users/me/keys/{key_id}/", &["delete"]),
    ("/api/v1/users/", &["get", "post"]),
    ("/api/v1/users/{id}/", &["delete"]),
    ("/api/v1/workflows/", &["get", "post"]),
    ("/api/v1/workflows/node-types/", &["get"]),
    ("/api/v1/workflows/batch-delete/", &["post"]),
    ("/api/v1/workflows/{slug}/", &["delete", "get", "patch"]),
    ("/api/v1/workflows/{slug}/validate/", &["post"]),
    ("/api/v1/workflows/validate-dsl/", &["post"]),
    ("/api/v1/workflows/discover/", &["post"]),
    ("/api/v1/workflows/dsl/", &["post"]),
    ("/api/v1/workflows/{slug}/dsl/", &["get"]),
    ("/api/v1/workflows/dsl/examples/", &["get"]),
    ("/api/v1/workflows/{slug}/nodes/", &["get", "post"]),
    (
        "/api/v1/workflows/{slug}/nodes/{node_id}/",
        &["delete", "patch"],
    ),
    ("/api/v1/workflows/{slug}/edges/", &["get", "post"]),
    (
        "/api/v1/workflows/{slug}/edges/{edge_id}/",
        &["delete", "patch"],
    ),
    ("/api/v1/credentials/", &["get", "post"]),
    ("/api/v1/credentials/batch-delete/", &["post"]),
    ("/api/v1/credentials/{id}/", &["delete", "get", "patch"]),
    ("/api/v1/credentials/{id}/test/", &["post"]),
    ("/api/v1/credentials/{id}/models/", &["get"]),
    ("/api/v1/epics/", &["get", "post"]),
    ("/api/v1/epics/search/", &["post"]),
    ("/api/v1/epics/batch-delete/", &["post"]),
    ("/api/v1/epics/{epic_id}/", &["delete", "get", "patch"]),
    ("/api/v1/epics/{epic_id}/tasks/", &["get"]),
    ("/api/v1/epics/{epic_id}/progress/", &["get"]),
    ("/api/v1/tasks/", &["get", "post"]),
    ("/api/v1/tasks/actionable/", &["get"]),
    ("/api/v1/tasks/search/", &["post"]),
    ("/api/v1/tasks/batch-delete/", &["post"]),
    ("/api/v1/tasks/{task_id}/", &["delete", "get", "patch"]),
    ("/api/v1/tasks/{task_id}/retry/", &["post"]),
    ("/api/v1/tasks/{task_id}/cancel/", &["post"]),
];

/// Routes anyone may call (api.md §1 "Auth").
const PUBLIC: &[&str] = &[
    "/health",
    "/api/v1/auth/setup-status/",
    "/api/v1/auth/setup/",
    "/api/v1/auth/token/",
    "/api/v1/workflows/node-types/",
];

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

#[tokio::test]
async fn openapi_documents_every_route() {
    for db in testing::all("openapi_documents_every_route").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let anon = s.anon();

        let (status, doc) = anon.get("/api/v1/openapi.json").await;
        assert_eq!(status, 200, "[{b}] {doc}");
        for path in ["/openapi.json", "/openapi.json/", "/api/v1/openapi.json/"] {
            assert_eq!(
                anon.get(path).await,
                (200, doc.clone()),
                "[{b}] {path}: same document"
            );
        }
        assert!(
            doc["openapi"].as_str().is_some_and(|v| v.starts_with('3')),
            "[{b}]"
        );
        assert_eq!(doc["info"]["version"], json!("test"), "[{b}]");
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            json!("bearer"),
            "[{b}]"
        );

        let paths = doc["paths"].as_object().expect("paths");
        for (path, methods) in EXPECTED {
            let item = paths
                .get(*path)
                .unwrap_or_else(|| panic!("[{b}] {path} is not documented"));
            let documented: BTreeSet<&str> = item
                .as_object()
                .expect("a path item")
                .keys()
                .map(String::as_str)
                .filter(|k| METHODS.contains(k))
                .collect();
            let want: BTreeSet<&str> = methods.iter().copied().collect();
            assert_eq!(documented, want, "[{b}] methods of {path}");
            for m in methods.iter() {
                let op = &item[*m];
                let public = op["security"] == json!([{}]);
                assert_eq!(
                    public,
                    PUBLIC.contains(path),
                    "[{b}] {m} {path}: security {}",
                    op["security"]
                );
                assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()));
            }
        }

        // Every documented operation is served by a real route (not the fallback, not 405).
        let admin = s.admin().await;
        for (path, item) in paths {
            let concrete = path
                .split('/')
                .map(|seg| {
                    if seg.starts_with('{') {
                        "nonexistent"
                    } else {
                        seg
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            for m in item.as_object().expect("a path item").keys() {
                let Some(method) = method_of(m) else { continue };
                let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
                let (status, out) = admin.request(method.clone(), &concrete, body).await;
                assert_ne!(status, 405, "[{b}] {method} {concrete}");
                assert!(
                    !(status == 404 && out == json!({"detail": "Not found."})),
                    "[{b}] {method} {concrete} fell through to the fallback"
                );
                assert!(status < 500, "[{b}] {method} {concrete}: {status} {out}");
            }
        }
    }
}

fn method_of(name: &str) -> Option<Method> {
    Some(match name {
        "get" => Method::GET,
        "post" => Method::POST,
        "put" => Method::PUT,
        "patch" => Method::PATCH,
        "delete" => Method::DELETE,
        _ => return None,
    })
}

#[tokio::test]
async fn health_and_ui_fallback() {
    for db in testing::all("health_and_ui_fallback").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let anon = s.anon();
        let want = json!({
            "status": "ok", "version": "test", "database": true, "queue": true, "queue_depth": 0
        });
        assert_eq!(anon.get("/health").await, (200, want.clone()), "[{b}]");
        assert_eq!(
            anon.get("/health/").await,
            (200, want),
            "[{b}] trailing slash"
        );

        // Unknown API paths are JSON 404s; other GETs serve the web UI.
        assert_eq!(
            anon.get("/api/v1/no-such-thing/").await,
            (404, json!({"detail": "Not found."})),
            "[{b}]"
        );
        let (status, page) = anon.get("/some/client/route").await;
        assert_eq!(status, 200, "[{b}]");
        assert!(
            page.as_str().is_some_and(|p| p.contains("<html")),
            "[{b}] {page}"
        );
    }
}
