//! The `workflow_create` tool (tools.md §3) end to end: an agent on the fake provider writes a
//! workflow in the DSL; it is created for the hosting workflow's owner with the agent's model
//! inherited, and runs. A bad document comes back to the model as a tool answer, and the run
//! goes on. Real workers, each backend.

use crate::agent::{agent_workflow, messages, wait_for, world};
use agentry_llm::fake::Reply;
use agentry_store::testing;
use serde_json::{Value, json};

fn tool_answers(body: &Value) -> Vec<Value> {
    messages(body)
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| {
            let text = m["content"].as_str().unwrap_or("");
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
        })
        .collect()
}

const CHILD: &str = r#"
name: Child Helper
trigger: manual
tags: [made-by-agent]
steps:
  - id: helper
    type: agent
    prompt: You help.
    model: {inherit: true}
    tools: [calculator]
"#;

#[tokio::test]
async fn workflow_create_builds_a_runnable_workflow_and_reports_errors_to_the_model() {
    for t in testing::all("workflow_create_tool").await {
        let w = world(t.db.clone()).await;
        let name = t.db.backend_name();
        let slug = agent_workflow(&w, "maker", &["workflow_create"], json!({})).await;

        w.fake.push(Reply::tool_calls(vec![(
            "c1",
            "workflow_create",
            json!({"dsl": CHILD, "tags": "x, y,made-by-agent"}),
        )]));
        w.fake.push(Reply::tool_calls(vec![
            (
                "c2",
                "workflow_create",
                json!({"dsl": "name: Broken\nsteps: [\n"}),
            ),
            ("c3", "workflow_create", json!({"dsl": "name: NoSteps\n"})),
            ("c4", "workflow_create", json!({})),
            // The same call again (as after a crash mid-call): the same workflow, not a new one.
            (
                "c5",
                "workflow_create",
                json!({"dsl": CHILD, "tags": "x, y,made-by-agent"}),
            ),
        ]));
        w.fake.push(Reply::text("Created it."));
        let id = w
            .services
            .execute(&w.caller, &slug, "make a helper".into(), None)
            .await
            .expect("execute");
        let row = wait_for(&w, &id, &["completed", "failed"]).await;
        assert_eq!(row.status, "completed", "{name}: {}", row.error_message);

        let bodies = w.fake.chat_bodies();
        assert_eq!(bodies.len(), 3, "{name}");
        let created = &tool_answers(&bodies[1])[0];
        assert_eq!(created["success"], json!(true), "{name}: {created}");
        assert_eq!(created["slug"], json!("child-helper"));
        assert_eq!(created["mode"], json!("created"));
        // trigger, agent, its inherited ai_model, the calculator tool; 3 edges.
        assert_eq!(created["node_count"], json!(4), "{name}: {created}");
        assert_eq!(created["edge_count"], json!(3));

        let answers = tool_answers(&bodies[2]);
        let broken = &answers[1];
        assert_eq!(broken["success"], json!(false), "{name}: {broken}");
        let error = broken["error"].as_str().expect("error text");
        assert!(error.starts_with("Invalid YAML: "), "{error}");
        assert!(error.contains("(line "), "{error}");
        assert_eq!(broken["errors"][0], json!(error));
        assert_eq!(
            answers[2],
            json!({"success": false, "error": "DSL requires a `steps` list", "errors": ["DSL requires a `steps` list"]}),
            "{name}"
        );
        assert_eq!(
            answers[3],
            json!({"success": false, "error": "dsl is required"})
        );
        assert_eq!(
            &answers[4], created,
            "{name}: a repeated call is idempotent"
        );
        let again = w.services.get_workflow(&w.caller, "child-helper-2").await;
        assert!(again.is_err(), "{name}: no second workflow");

        // Owned by the hosting workflow's owner, tags merged as a set, model inherited.
        let detail = w
            .services
            .get_workflow(&w.caller, "child-helper")
            .await
            .expect("created workflow");
        let mut tags = detail.workflow.tags.clone().unwrap_or_default();
        tags.sort();
        assert_eq!(tags, ["made-by-agent", "x", "y"], "{name}");
        let parent = w
            .services
            .get_workflow(&w.caller, &slug)
            .await
            .expect("parent");
        let parent_model = parent
            .nodes
            .iter()
            .find(|n| n.node_id == "m")
            .expect("parent model");
        let model = detail
            .nodes
            .iter()
            .find(|n| n.node_id == "ai_model_helper")
            .expect("inherited model node");
        assert_eq!(
            model.config.llm_credential_id,
            parent_model.config.llm_credential_id
        );
        assert_eq!(model.config.model_name, "gpt-4o-mini");
        let stored = agentry_store::workflows::get_by_slug(&t.db, "child-helper")
            .await
            .expect("read")
            .expect("row");
        assert_eq!(stored.owner_id, w.caller.user_id);

        // And the new workflow runs: its agent answers through the same provider.
        w.fake.push(Reply::text("child says hi"));
        let child = w
            .services
            .execute(&w.caller, "child-helper", "hello".into(), None)
            .await
            .expect("execute child");
        let row = wait_for(&w, &child, &["completed", "failed"]).await;
        assert_eq!(row.status, "completed", "{name}: {}", row.error_message);
        let full = agentry_store::executions::get_full(&t.db, &child, false)
            .await
            .expect("read")
            .expect("row");
        let output = full.final_output.map(|j| j.0).unwrap_or(Value::Null);
        assert!(
            output.to_string().contains("child says hi"),
            "{name}: {output}"
        );
    }
}
