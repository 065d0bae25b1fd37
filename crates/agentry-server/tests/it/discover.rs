//! `POST /api/v1/workflows/discover/` (discovery.md, "agentry additions") on each backend: the
//! caller's and public workflows only (admins: all), `exclude_slug`, the result shape, text
//! ranking, and 422s naming the field. Scores and metrics in depth: agentry-engine's
//! `discover` tests.

use crate::support::{Client, TestServer, slugs};
use agentry_store::testing;
use serde_json::{Value, json};

async fn chat_workflow(c: &Client, body: Value) -> String {
    let wf = c.create_workflow(body).await;
    let slug = wf["slug"].as_str().expect("slug").to_string();
    c.create_node(
        &slug,
        json!({"node_id": "t", "component_type": "trigger_chat"}),
    )
    .await;
    c.create_node(&slug, json!({"node_id": "a", "component_type": "agent"}))
        .await;
    c.create_edge(&slug, json!({"source_node_id": "t", "target_node_id": "a"}))
        .await;
    slug
}

#[tokio::test]
async fn discover_route_scopes_ranks_and_validates() {
    for db in testing::all("discover_route").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        let alice = s.user(&admin, "alice").await;
        let bob = s.user(&admin, "bob").await;
        let mine = chat_workflow(
            &alice,
            json!({"name": "Support Chat", "tags": ["support"],
            "description": "Answers support questions"}),
        )
        .await;
        let other = chat_workflow(&alice, json!({"name": "Plain"})).await;
        let private = chat_workflow(&bob, json!({"name": "Bob Support Secret"})).await;
        let public = chat_workflow(
            &bob,
            json!({"name": "Bob Support Public", "is_public": true}),
        )
        .await;

        let url = "/api/v1/workflows/discover/";
        let (status, out) = alice
            .post(
                url,
                json!({"requirements": {"triggers": ["chat"], "node_types": ["agent"],
                "tags": ["support"]}, "limit": 50}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {out}");
        assert_eq!(out["total"], json!(3), "[{b}] {out}");
        assert_eq!(
            slugs(&out),
            vec![mine.clone(), other.clone(), public.clone()],
            "[{b}] {out}"
        );
        let top = &out["items"][0];
        assert_eq!(top["match_score"], json!(0.95), "[{b}] 0.8 + 0.1 + 0.1·0.5");
        assert_eq!(top["recommendation"], json!("reuse"));
        assert_eq!(top["has_capabilities"]["triggers"], json!(["chat"]));
        assert_eq!(top["has"], top["has_capabilities"]);
        assert_eq!(top["missing"]["tools"], json!([]));
        for key in [
            "workflow_id",
            "slug",
            "name",
            "description",
            "tags",
            "success_rate",
            "execution_count",
            "avg_duration_ms",
            "avg_cost_usd",
            "extra_capabilities",
            "missing_capabilities",
            "extra",
        ] {
            assert!(top.get(key).is_some(), "[{b}] {key} in {top}");
        }
        assert!(
            !slugs(&out).contains(&private),
            "[{b}] bob's private workflow"
        );

        // exclude_slug, limit; the admin sees everyone's.
        let (_, out) = alice
            .post(url, json!({"exclude_slug": mine, "limit": 1}))
            .await;
        assert_eq!(
            (out["total"].clone(), slugs(&out).len()),
            (json!(2), 1),
            "[{b}] {out}"
        );
        let (_, out) = admin.post(url, json!({})).await;
        assert_eq!(out["total"], json!(4), "[{b}] {out}");

        // Text: only hits, best first.
        let (_, out) = alice.post(url, json!({"query": "support"})).await;
        assert_eq!(
            slugs(&out),
            vec![mine.clone(), public.clone()],
            "[{b}] {out}"
        );

        // Bad input: 422 naming the field.
        for (body, field) in [
            (json!({"requirements": [1]}), "requirements"),
            (
                json!({"requirements": {"triggers": 7}}),
                "requirements.triggers",
            ),
            (json!({"limit": "x"}), "limit"),
        ] {
            let (status, out) = alice.post(url, body.clone()).await;
            assert_eq!(status, 422, "[{b}] {body} → {out}");
            assert!(
                out["detail"].to_string().contains(field),
                "[{b}] {body} → {out}"
            );
        }
        // The static path does not shadow a workflow read.
        let (status, _) = alice.get(&format!("/api/v1/workflows/{mine}/")).await;
        assert_eq!(status, 200);
    }
}
