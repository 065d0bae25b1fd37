//! The examples (`examples/*.yaml`, built in as `agentry_service::dsl::EXAMPLES`) apply and run:
//! the pipeline and the webhook handler with no model, the orchestrator (chat) and the worker
//! (as a sub-workflow) with the fake LLM provider. SQLite and PostgreSQL.

use crate::support::Harness;
use agentry_llm::fake::{FakeProvider, Reply};
use agentry_service::dsl::EXAMPLES;
use agentry_store::testing;
use serde_json::{Value, json};

#[tokio::test]
async fn every_example_applies_and_runs() {
    for t in testing::all("every_example_applies_and_runs").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        let fake = FakeProvider::start().await;
        fake.set_models(["gpt-4o-mini"]);
        let (status, cred) = h
            .admin
            .post(
                "/api/v1/credentials/",
                json!({"name": "fake", "credential_type": "llm",
                    "detail": {"api_key": "sk-test-123456", "base_url": fake.base_url()}}),
            )
            .await;
        assert_eq!(status, 201, "{cred}");
        let (status, listed) = h.admin.get("/api/v1/workflows/dsl/examples/").await;
        assert_eq!(status, 200, "{listed}");
        assert_eq!(listed.as_array().map(Vec::len), Some(EXAMPLES.len()));

        let mut slugs = std::collections::BTreeMap::new();
        for e in EXAMPLES {
            let (status, v) = h
                .admin
                .post(
                    "/api/v1/workflows/validate-dsl/",
                    json!({"yaml_str": e.yaml_str}),
                )
                .await;
            assert_eq!(
                (status, &v["errors"]),
                (200, &json!([])),
                "[{b}] {}: {v}",
                e.name
            );
            let (status, out) = h
                .admin
                .post("/api/v1/workflows/dsl/", json!({"yaml_str": e.yaml_str}))
                .await;
            assert_eq!(status, 201, "[{b}] {}: {out}", e.name);
            slugs.insert(e.name, out["slug"].as_str().expect("slug").to_string());
        }

        // The pipeline: loop over the words, then the switch picks the summary.
        let e = h.run(&slugs["pipeline"], "alpha beta gamma delta").await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        assert_eq!(
            e["final_output"]["node_outputs"]["long_text"]["output"],
            json!("4 words, starting ALPHA!"),
            "[{b}] {e:#}"
        );
        let e = h.run(&slugs["pipeline"], "hi there").await;
        assert_eq!(
            e["final_output"]["node_outputs"]["short_text"]["output"],
            json!("short: HI! THERE!"),
            "[{b}] {e:#}"
        );

        // The webhook handler, answered synchronously.
        let http = reqwest::Client::new();
        let hook = |body: Value| {
            let req = http
                .post(format!(
                    "{}/api/v1/webhooks/{}/?wait=10",
                    h.admin.base, slugs["webhook"]
                ))
                .json(&body);
            async move {
                let resp = req.send().await.expect("webhook");
                (
                    resp.status().as_u16(),
                    resp.json::<Value>().await.expect("json"),
                )
            }
        };
        let (status, out) = hook(json!({"event": "order.created", "order_id": 42})).await;
        assert_eq!(status, 200, "[{b}] {out}");
        assert_eq!(
            out["output"]["node_outputs"]["new_order"]["output"],
            json!("Order 42 received"),
            "[{b}] {out}"
        );
        let (_, out) = hook(json!({"event": "order.deleted"})).await;
        assert_eq!(
            out["output"]["node_outputs"]["other_event"]["output"],
            json!("Ignored event 'order.deleted'"),
            "[{b}] {out}"
        );

        // The orchestrator, over chat: the model is offered its registry and workflow tools.
        fake.push(Reply::text("Plan: nothing to delegate."));
        let (status, started) = h
            .admin
            .post(
                &format!("/api/v1/workflows/{}/chat/", slugs["orchestrator"]),
                json!({"text": "hello"}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {started}");
        let e = h
            .finished(started["execution_id"].as_str().expect("execution id"))
            .await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        assert_eq!(
            e["final_output"]["output"],
            json!("Plan: nothing to delegate."),
            "[{b}] {e:#}"
        );
        let bodies = fake.chat_bodies();
        let offered: Vec<&str> = bodies[0]["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .filter_map(|t| t["function"]["name"].as_str())
            .collect();
        for tool in [
            "create_epic",
            "create_task",
            "workflow_create",
            "recall",
            "remember",
        ] {
            assert!(offered.contains(&tool), "[{b}] {tool} not in {offered:?}");
        }
        assert_eq!(bodies[0]["model"], json!("gpt-4o-mini"));

        // The worker, started as a child by a `workflow` step, as spawn_and_await would.
        fake.push(Reply::text("42"));
        let (status, out) = h
            .admin
            .post(
                "/api/v1/workflows/dsl/",
                json!({"yaml_str": format!(
                    "name: Ask Worker\ntrigger: manual\nsteps:\n  - {{id: ask, type: workflow, workflow: {}}}\n",
                    slugs["worker"]
                )}),
            )
            .await;
        assert_eq!(status, 201, "[{b}] {out}");
        let e = h.run("ask-worker", "What is 6 * 7?").await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        assert!(e["final_output"].to_string().contains("42"), "[{b}] {e:#}");
        let last = fake.chat_bodies().pop().expect("a worker call");
        assert!(last.to_string().contains("What is 6 * 7?"), "[{b}] {last}");
    }
}
