//! Workflows written in the DSL run (dsl.md §3–5, §11): applied through `POST /workflows/dsl/`
//! on the real server with two workers in process, then executed through the API and waited
//! for by polling; the switch routes, the loop iterates its body, the sub-workflow step calls
//! the workflow it names. SQLite and PostgreSQL.

use crate::support::{Api, Harness, outputs_of, runs};
use agentry_store::testing;
use serde_json::{Value, json};

async fn apply(api: &Api, yaml: &str) -> Value {
    let (status, out) = api
        .post("/api/v1/workflows/dsl/", json!({ "yaml_str": yaml }))
        .await;
    assert_eq!(status, 201, "apply: {out}\n{yaml}");
    out
}

fn completed(detail: &Value) -> Vec<String> {
    runs(detail)
        .into_iter()
        .filter(|(_, s)| s == "completed")
        .map(|(n, _)| n)
        .collect()
}

/// E3 of dsl.md §11 with real code: the switch's route and default, and the dead-end branch.
const ROUTER: &str = r#"
name: Ticket Router
trigger: manual
steps:
  - {id: normalize, type: code, snippet: "return state['trigger']['text'].lower()"}
  - id: route
    type: switch
    rules: [{field: node_outputs.normalize.output, operator: contains, value: refund, route: refunds}]
    default: general
  - {id: refunds, type: transform, template: "refund desk: {{ normalize.output }}"}
  - {id: general, type: transform, template: "general desk: {{ normalize.output }}"}
  - {id: wrap_up, type: transform, template: "done after {{ general.output }}"}
"#;

/// E4 with real code: a list feeds the loop, a two-step body runs per item.
const TAGGER: &str = r#"
name: Batch Tagger
trigger: manual
steps:
  - {id: fetch, type: code, snippet: "return state['trigger']['text'].split(',')"}
  - id: each
    type: loop
    over: "{{ fetch.output }}"
    body:
      - {id: tag_one, type: transform, template: "{{ loop.item | upper }}"}
      - {snippet: "return '#' + state['node_outputs']['tag_one']['output']"}
  - {id: summarize, type: transform, template: "{{ each.results | length }} tagged"}
"#;

#[tokio::test]
async fn dsl_workflows_run_switch_loop_and_subworkflow() {
    for t in testing::all("dsl_workflows_run").await {
        let h = Harness::start(t).await;
        let b = h.backend;

        let out = apply(&h.admin, ROUTER).await;
        assert_eq!(
            (out["node_count"].clone(), out["edge_count"].clone()),
            (json!(6), json!(5)),
            "[{b}] {out}"
        );
        let e = h.run("ticket-router", "I want a REFUND").await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        assert_eq!(completed(&e), ["normalize", "route", "refunds"], "[{b}]");
        assert_eq!(
            outputs_of(&e, "refunds"),
            [json!({"output": "refund desk: i want a refund"})],
            "[{b}]"
        );
        let e = h.run("ticket-router", "Hello").await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        assert_eq!(
            completed(&e),
            ["normalize", "route", "general", "wrap_up"],
            "[{b}]"
        );
        assert_eq!(
            outputs_of(&e, "wrap_up"),
            [json!({"output": "done after general desk: hello"})],
            "[{b}]"
        );

        let out = apply(&h.admin, TAGGER).await;
        assert_eq!(
            (out["node_count"].clone(), out["edge_count"].clone()),
            (json!(6), json!(6)),
            "[{b}] {out}"
        );
        let e = h.run("batch-tagger", "a,b,c").await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        assert_eq!(
            outputs_of(&e, "each_body_2"),
            [
                json!({"output": "#A"}),
                json!({"output": "#B"}),
                json!({"output": "#C"})
            ],
            "[{b}]"
        );
        assert_eq!(
            outputs_of(&e, "summarize"),
            [json!({"output": "3 tagged"})],
            "[{b}]"
        );

        // E5's sub-workflow step: the child (trigger `none` = trigger_workflow) first, so the
        // parent's node gets its id; the payload mapping feeds the child's trigger.
        apply(
            &h.admin,
            "name: Notifier\nsteps:\n  - {id: say, type: transform, template: 'notified: {{ trigger.text }}'}\n",
        )
        .await;
        let parent = r#"
name: Approve And Notify
trigger: manual
steps:
  - {type: code, snippet: "return state['trigger']['text'] + '!'"}
  - {type: workflow, workflow: notifier, payload: {text: node_outputs.code_1.output}}
  - {type: transform, template: "parent got {{ workflow_2.output }}"}
"#;
        let out = apply(&h.admin, parent).await;
        let (_, w) = h.admin.get("/api/v1/workflows/approve-and-notify/").await;
        let (_, child) = h.admin.get("/api/v1/workflows/notifier/").await;
        let sub = w["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .find(|n| n["node_id"] == "workflow_2")
            .expect("workflow_2")
            .clone();
        assert_eq!(sub["subworkflow_id"], child["id"], "[{b}] {out}");
        assert_eq!(
            sub["config"]["extra_config"],
            json!({"target_workflow": "notifier", "trigger_mode": "implicit",
                   "input_mapping": {"text": "node_outputs.code_1.output"}})
        );
        let e = h.run("approve-and-notify", "go").await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        let text = outputs_of(&e, "code_3")
            .first()
            .map(|o| o["output"].to_string())
            .unwrap_or_default();
        assert!(text.contains("notified: go!"), "[{b}] {e:#}");
    }
}
