//! The workflow DSL over HTTP (dsl.md §8–12, api.md §4): validate-dsl, apply, fork, export, and
//! that a failed apply leaves nothing behind, on every backend.

use crate::support::{Client, TestServer};
use agentry_llm::fake::FakeProvider;
use agentry_store::testing;
use serde_json::{Value, json};

/// `(workflows, nodes, edges)` the admin sees. Nodes and edges reference their workflow with
/// a foreign key, so rows of a rolled-back workflow would have to show up under some workflow.
async fn counts(admin: &Client) -> (i64, i64, i64) {
    let (status, page) = admin.get("/api/v1/workflows/?limit=500").await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().expect("items");
    let sum = |k: &str| items.iter().map(|w| w[k].as_i64().expect("count")).sum();
    (
        page["total"].as_i64().expect("total"),
        sum("node_count"),
        sum("edge_count"),
    )
}

async fn apply(c: &Client, yaml: &str) -> (u16, Value) {
    c.post("/api/v1/workflows/dsl/", json!({ "yaml_str": yaml }))
        .await
}

async fn validate(c: &Client, yaml: &str) -> (u16, Value) {
    c.post(
        "/api/v1/workflows/validate-dsl/",
        json!({ "yaml_str": yaml }),
    )
    .await
}

const E1: &str = "name: Hello Pipeline\ntrigger: manual\nsteps:\n  - {id: greet, type: code, snippet: \"return 1\"}\n";

const E4: &str = r#"
name: Batch Tagger
trigger: manual
steps:
  - {id: fetch, type: code, snippet: "return [1, 2]"}
  - id: each
    type: loop
    over: "{{ fetch.output }}"
    body:
      - {id: tag_one, type: code, snippet: "return 1"}
      - {snippet: "return 2"}
  - {id: summarize, type: code, snippet: "return 3"}
"#;

#[tokio::test]
async fn validate_dsl_reports_nodes_edges_and_located_errors() {
    for db in testing::all("dsl_validate").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        let before = counts(&admin).await;

        let (status, out) = validate(&admin, E4).await;
        assert_eq!(status, 200, "[{b}] {out}");
        assert_eq!(out["valid"], json!(true), "[{b}] {out}");
        assert_eq!(out["errors"], json!([]));
        assert_eq!(
            (out["node_count"].clone(), out["edge_count"].clone()),
            (json!(6), json!(6))
        );
        let ids: Vec<&str> = out["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| n["node_id"].as_str().expect("id"))
            .collect();
        assert_eq!(
            ids,
            [
                "trigger_manual_1",
                "fetch",
                "each",
                "tag_one",
                "each_body_2",
                "summarize"
            ],
            "[{b}]"
        );
        let each = &out["nodes"][2];
        assert_eq!(each["component_type"], json!("loop"));
        assert_eq!(
            each["config"]["extra_config"],
            json!({"source_node": "fetch", "field": "output", "max_iterations": 100})
        );
        assert_eq!(
            (each["position_x"].clone(), each["position_y"].clone()),
            (json!(600), json!(200))
        );
        assert!(each.get("id").is_none(), "no row ids in a dry run: {each}");
        let labels: Vec<(&str, &str, &str)> = out["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| {
                (
                    e["source_node_id"].as_str().expect("s"),
                    e["target_node_id"].as_str().expect("t"),
                    e["edge_label"].as_str().expect("l"),
                )
            })
            .collect();
        assert!(
            labels.contains(&("each", "tag_one", "loop_body")),
            "{labels:?}"
        );
        assert!(
            labels.contains(&("each_body_2", "each", "loop_return")),
            "{labels:?}"
        );
        assert!(labels.contains(&("each", "summarize", "")), "{labels:?}");

        // Several errors at once, each with its step, key, line and column.
        let bad = "name: Broken\nsteps:\n  - {id: a, type: code, snippet: x}\n  - {id: a, type: code}\n  - {type: teleport}\n";
        let (status, out) = validate(&admin, bad).await;
        assert_eq!(status, 200, "[{b}] {out}");
        assert_eq!(out["valid"], json!(false));
        assert_eq!(
            (out["node_count"].clone(), out["edge_count"].clone()),
            (json!(0), json!(0))
        );
        let errors = out["errors"].as_array().expect("errors");
        assert_eq!(errors.len(), 2, "[{b}] {out}");
        assert_eq!(
            errors[0],
            json!("Parse error: Duplicate step ID 'a' in step 1 (line 4, column 10)"),
            "[{b}] {out}"
        );
        assert!(
            errors[1].as_str().expect("text").starts_with(
                "Parse error: Unknown step type 'teleport' in step 2. Valid: code, agent"
            ),
            "{out}"
        );
        let d = &out["error_details"][0];
        assert_eq!(d["message"], json!("Duplicate step ID 'a' in step 1"));
        assert_eq!(d["step_id"], json!("a"));
        assert_eq!(
            (d["line"].clone(), d["column"].clone()),
            (json!(4), json!(10)),
            "{d}"
        );
        assert_eq!(out["error_details"][1]["key"], json!("type"), "{out}");

        // YAML syntax.
        let (_, out) = validate(&admin, "name: x\nsteps: [\n").await;
        assert_eq!(out["valid"], json!(false));
        let first = out["errors"][0].as_str().expect("text");
        assert!(first.starts_with("Parse error: Invalid YAML: "), "{first}");
        assert!(out["error_details"][0]["line"].is_u64(), "{out}");

        // A model that cannot resolve is recorded and the graph is still shown.
        let (_, out) = validate(
            &admin,
            "name: M\nsteps:\n  - {id: a, type: agent, prompt: hi, model: {capability: gpt}}\n",
        )
        .await;
        assert_eq!(out["valid"], json!(false));
        assert_eq!(
            out["errors"],
            json!(["Model resolution error: No LLM credential found for capability 'gpt'"])
        );
        assert_eq!(
            out["node_count"],
            json!(2),
            "trigger + agent, no model node: {out}"
        );

        // Body checks and auth.
        let (status, out) = admin
            .post("/api/v1/workflows/validate-dsl/", json!({}))
            .await;
        assert_eq!(status, 422, "{out}");
        assert!(
            out["detail"].as_str().expect("detail").contains("yaml_str"),
            "{out}"
        );
        let (status, _) = validate(&s.anon(), E1).await;
        assert_eq!(status, 401);

        assert_eq!(
            counts(&admin).await,
            before,
            "[{b}] a dry run writes nothing"
        );
    }
}

#[tokio::test]
async fn apply_creates_exact_graph_and_suffixes_slugs() {
    for db in testing::all("dsl_apply").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;

        let (status, out) = apply(&admin, E4).await;
        assert_eq!(status, 201, "[{b}] {out}");
        assert_eq!(out["success"], json!(true));
        assert_eq!(out["slug"], json!("batch-tagger"));
        assert_eq!(out["mode"], json!("created"));
        assert_eq!(
            (out["node_count"].clone(), out["edge_count"].clone()),
            (json!(6), json!(6))
        );
        let (_, w) = admin.get("/api/v1/workflows/batch-tagger/").await;
        assert_eq!(w["id"], out["workflow_id"]);
        assert_eq!(
            (w["node_count"].clone(), w["edge_count"].clone()),
            (json!(6), json!(6)),
            "[{b}] {w}"
        );
        let fetch = w["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .find(|n| n["node_id"] == json!("fetch"))
            .expect("fetch")
            .clone();
        assert_eq!(fetch["is_entry_point"], json!(true));
        assert_eq!(
            fetch["config"]["extra_config"],
            json!({"code": "return [1, 2]", "language": "python"})
        );

        // The same name again: `-2` (dsl.md §8), then `-3`.
        let (_, again) = apply(&admin, E4).await;
        assert_eq!(again["slug"], json!("batch-tagger-2"), "[{b}] {again}");
        let (_, third) = apply(&admin, E4).await;
        assert_eq!(third["slug"], json!("batch-tagger-3"), "[{b}] {third}");

        // A webhook workflow answers its URL.
        let (status, out) = apply(
            &admin,
            "name: Hook\ntrigger: webhook\nsteps:\n  - {type: transform, template: ok}\n",
        )
        .await;
        assert_eq!(status, 201, "{out}");
        let url = out["webhook_url"].as_str().expect("webhook_url");
        assert!(
            url.starts_with("http://127.0.0.1:") && url.ends_with("/api/v1/webhooks/hook/"),
            "{url}"
        );

        // An explicit model: the ai_model node and its llm edge exist with the resolved fields.
        let (_, cred) = admin
            .post(
                "/api/v1/credentials/",
                json!({"name": "c", "credential_type": "llm", "detail": {"api_key": "k"}}),
            )
            .await;
        let cred_id = cred["id"].as_i64().expect("credential id");
        let doc = format!(
            "name: Ops Helper\ntrigger: chat\nmodel: {{credential_id: {cred_id}, model_name: gpt-4o, temperature: 0.2}}\nsteps:\n  - id: helper\n    type: agent\n    prompt: You operate the platform.\n    tools: [run_command, {{type: platform_api, api_base_url: 'http://localhost:8000'}}]\n"
        );
        let (status, out) = apply(&admin, &doc).await;
        assert_eq!(status, 201, "[{b}] {out}");
        assert_eq!(
            (out["node_count"].clone(), out["edge_count"].clone()),
            (json!(5), json!(4))
        );
        let (_, w) = admin.get("/api/v1/workflows/ops-helper/").await;
        let node = |id: &str| {
            w["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .find(|n| n["node_id"] == json!(id))
                .unwrap_or_else(|| panic!("{id} in {w}"))
                .clone()
        };
        let model = node("ai_model_helper");
        assert_eq!(model["config"]["llm_credential_id"], json!(cred_id));
        assert_eq!(model["config"]["model_name"], json!("gpt-4o"));
        assert_eq!(model["config"]["temperature"], json!(0.2));
        assert_eq!(
            node("helper")["config"]["system_prompt"],
            json!("You operate the platform.")
        );
        assert_eq!(
            node("platform_api_helper_2")["config"]["extra_config"],
            json!({"api_base_url": "http://localhost:8000"})
        );
        let (_, validation) = admin
            .post("/api/v1/workflows/ops-helper/validate/", json!({}))
            .await;
        assert_eq!(validation, json!({"valid": true, "errors": []}), "[{b}]");
    }
}

#[tokio::test]
async fn failed_apply_leaves_nothing_behind() {
    for db in testing::all("dsl_apply_atomic").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        let (status, _) = apply(&admin, E1).await;
        assert_eq!(status, 201);
        let before = counts(&admin).await;
        assert_eq!(before, (1, 2, 1));

        // Early: a parse error.
        let (status, out) = apply(&admin, "name: X\nsteps: []\n").await;
        assert_eq!(status, 422, "[{b}] {out}");
        assert_eq!(
            out["detail"],
            json!("`steps` must be a non-empty list (line 2, column 8)"),
            "{out}"
        );
        assert_eq!(out["errors"].as_array().map(Vec::len), Some(1));

        // Model resolution: no credential for the capability.
        let (status, out) = apply(
            &admin,
            "name: Needs Model\nsteps:\n  - {id: a, type: agent, prompt: hi, model: {discover: true}}\n",
        )
        .await;
        assert_eq!(status, 422, "[{b}] {out}");
        assert_eq!(
            out["detail"],
            json!("No LLM credentials available for model discovery")
        );
        assert_eq!(out["error_details"][0]["step_id"], json!("a"));

        // Late: the workflow row and every node but the last are written before the last node
        // names a sub-workflow that does not exist; the transaction must undo all of it.
        let late = r#"
name: Late Failure
steps:
  - {id: a, component: trigger_manual}
  - {id: b, type: code, snippet: "return 1", entry: true}
  - {id: c, component: workflow, subworkflow_id: 999999}
edges:
  - {from: a, to: b}
  - {from: b, to: c}
"#;
        let (status, out) = validate(&admin, late).await;
        assert_eq!(status, 200);
        assert_eq!(
            out["errors"],
            json!(["Graph build error: Step 'c': subworkflow_id 999999 not found"]),
            "[{b}] {out}"
        );
        let (status, out) = apply(&admin, late).await;
        assert_eq!(status, 422, "[{b}] {out}");
        assert_eq!(
            out["detail"],
            json!("Step 'c': subworkflow_id 999999 not found")
        );
        assert_eq!(out["error_details"][0]["step_id"], json!("c"));

        // Late, in the graph check after every edge is written: a conditional edge from a
        // non-switch node.
        let bad_edge = "name: Bad Edge\nsteps:\n  - {id: a, component: trigger_manual}\n  - {id: b, type: code, snippet: x}\nedges:\n  - {from: a, to: b, type: conditional, value: v}\n";
        let (status, out) = apply(&admin, bad_edge).await;
        assert_eq!(status, 422, "[{b}] {out}");

        // A schedule trigger with a bad cron fails after its node is written.
        let (status, out) = apply(
            &admin,
            "name: Bad Cron\ntrigger: schedule\ntrigger_config: {cron: 'not a cron'}\nsteps:\n  - {type: transform, template: x}\n",
        )
        .await;
        assert_eq!(status, 422, "[{b}] {out}");
        assert!(
            out["detail"]
                .as_str()
                .expect("detail")
                .contains("trigger_schedule_1"),
            "{out}"
        );

        assert_eq!(
            counts(&admin).await,
            before,
            "[{b}] nothing of a failed apply remains"
        );
        let (status, _) = admin.get("/api/v1/workflows/late-failure/").await;
        assert_eq!(status, 404);
        // The slug was not burnt either.
        let late_ok = late.replace("subworkflow_id: 999999", "subworkflow: nowhere");
        let (status, out) = apply(&admin, &late_ok).await;
        assert_eq!(status, 201, "[{b}] {out}");
        assert_eq!(out["slug"], json!("late-failure"));
    }
}

#[tokio::test]
async fn fork_needs_a_readable_source_and_never_changes_it() {
    for db in testing::all("dsl_fork").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        let alice = s.user(&admin, "alice").await;
        let bob = s.user(&admin, "bob").await;

        let source = r#"
name: Source Flow
description: the original
tags: [orig]
trigger: chat
steps:
  - {id: agent_1, type: agent, prompt: Be verbose.}
  - {id: code_1, type: code, snippet: "return 1"}
"#;
        let (status, out) = apply(&alice, source).await;
        assert_eq!(status, 201, "[{b}] {out}");
        let (_, original) = alice.get("/api/v1/workflows/source-flow/").await;

        let fork = r#"
based_on: source-flow
name: Source Flow Variant
patches:
  - {action: update_prompt, step_id: agent_1, prompt: Answer tersely.}
  - {action: add_step, after: agent_1, step: {id: audit, type: code, snippet: "return 2"}}
  - {action: add_tool, step_id: agent_1, tool: whoami}
  - {action: remove_step, step_id: code_1}
"#;
        // Bob may not read Alice's private workflow: refused, nothing created.
        let before = counts(&admin).await;
        let (status, out) = apply(&bob, fork).await;
        assert_eq!(status, 422, "[{b}] {out}");
        assert_eq!(
            out["detail"],
            json!("Source workflow 'source-flow' not found")
        );
        let (_, v) = validate(&bob, fork).await;
        assert_eq!(
            v["errors"],
            json!(["Graph build error: Source workflow 'source-flow' not found"])
        );
        assert_eq!(counts(&admin).await, before);

        // Alice forks her own (E6).
        let (status, out) = apply(&alice, fork).await;
        assert_eq!(status, 201, "[{b}] {out}");
        assert_eq!(out["mode"], json!("forked"));
        assert_eq!(out["based_on"], json!("source-flow"));
        assert_eq!(out["slug"], json!("source-flow-variant"));
        assert_eq!(
            (out["node_count"].clone(), out["edge_count"].clone()),
            (json!(4), json!(3)),
            "{out}"
        );
        let (_, forked) = alice.get("/api/v1/workflows/source-flow-variant/").await;
        assert_eq!(forked["description"], json!("the original"));
        assert_eq!(forked["tags"], json!(["orig"]));
        let agent = forked["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .find(|n| n["node_id"] == json!("agent_1"))
            .expect("agent_1")
            .clone();
        assert_eq!(agent["config"]["system_prompt"], json!("Answer tersely."));

        // The source is untouched (nodes, edges, configs).
        let (_, after) = alice.get("/api/v1/workflows/source-flow/").await;
        assert_eq!(after["nodes"], original["nodes"], "[{b}]");
        assert_eq!(after["edges"], original["edges"], "[{b}]");

        // Public sources may be forked by anyone; a patch error aborts with nothing created.
        let (status, _) = alice
            .patch("/api/v1/workflows/source-flow/", json!({"is_public": true}))
            .await;
        assert_eq!(status, 200);
        let (status, out) = apply(&bob, fork).await;
        assert_eq!(status, 201, "[{b}] {out}");
        let before = counts(&admin).await;
        let (status, out) = apply(
            &bob,
            "based_on: source-flow\npatches:\n  - {action: update_prompt, step_id: ghost, prompt: x}\n",
        )
        .await;
        assert_eq!(status, 422, "{out}");
        assert!(
            out["detail"]
                .as_str()
                .expect("detail")
                .starts_with("Step 'ghost' not found for update_prompt"),
            "{out}"
        );
        assert_eq!(counts(&admin).await, before);
    }
}

#[tokio::test]
async fn export_of_an_api_built_workflow_round_trips() {
    for db in testing::all("dsl_export").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        let other = s.user(&admin, "carol").await;

        // Built node by node through the API: a switch, templates, a sub-workflow call.
        let kid = admin.create_workflow(json!({"name": "Kid"})).await;
        admin
            .create_workflow(json!({"name": "Built", "description": "by hand", "tags": ["x"]}))
            .await;
        let nodes = [
            json!({"node_id": "call", "component_type": "workflow", "subworkflow_id": kid["id"],
                "config": {"extra_config": {"target_workflow": "kid"}}}),
            json!({"node_id": "start", "component_type": "trigger_manual", "config": {}}),
            json!({"node_id": "route", "component_type": "switch", "is_entry_point": true,
                "config": {"extra_config": {"rules": [{"id": "a", "field": "trigger.text", "operator": "equals", "value": "a"}], "enable_fallback": true}}}),
            json!({"node_id": "say_a", "component_type": "text_template", "label": "Say A",
                "position_x": 10, "position_y": 20, "config": {"extra_config": {"template": "A {{ trigger.text }}"}}}),
            json!({"node_id": "other", "component_type": "text_template", "interrupt_after": true,
                "config": {"extra_config": {"template": "other"}}}),
        ];
        for n in nodes {
            admin.create_node("built", n).await;
        }
        for e in [
            json!({"source_node_id": "start", "target_node_id": "route"}),
            json!({"source_node_id": "route", "target_node_id": "say_a", "edge_type": "conditional", "condition_value": "a"}),
            json!({"source_node_id": "route", "target_node_id": "other", "edge_type": "conditional", "condition_value": "__other__", "priority": 3}),
        ] {
            admin.create_edge("built", e).await;
        }

        let (status, out) = admin.get("/api/v1/workflows/built/dsl/").await;
        assert_eq!(status, 200, "[{b}] {out}");
        assert_eq!(out["slug"], json!("built"));
        let yaml = out["yaml_str"].as_str().expect("yaml_str").to_string();
        assert!(yaml.contains("name: Built"), "{yaml}");
        // Sub-workflows by slug, not by row id, so the text applies on another server too.
        assert!(
            yaml.contains("subworkflow: kid") && !yaml.contains("subworkflow_id"),
            "{yaml}"
        );

        // Others cannot export a private workflow; unknown slugs are 404.
        assert_eq!(other.get("/api/v1/workflows/built/dsl/").await.0, 404);
        assert_eq!(admin.get("/api/v1/workflows/nope/dsl/").await.0, 404);

        let (status, applied) = apply(&admin, &yaml).await;
        assert_eq!(status, 201, "[{b}] {applied}\n{yaml}");
        assert_eq!(applied["slug"], json!("built-2"));
        let (_, a) = admin.get("/api/v1/workflows/built/").await;
        let (_, c) = admin.get("/api/v1/workflows/built-2/").await;
        let strip_nodes = |w: &Value| -> Vec<Value> {
            w["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .map(|n| {
                    let mut n = n.clone();
                    let o = n.as_object_mut().expect("object");
                    for k in ["id", "updated_at"] {
                        o.remove(k);
                    }
                    n
                })
                .collect()
        };
        let strip_edges = |w: &Value| -> Vec<Value> {
            w["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| {
                    let mut e = e.clone();
                    e.as_object_mut().expect("object").remove("id");
                    e
                })
                .collect()
        };
        assert_eq!(strip_nodes(&c), strip_nodes(&a), "[{b}] nodes round-trip");
        assert_eq!(strip_edges(&c), strip_edges(&a), "[{b}] edges round-trip");
        assert_eq!(c["description"], json!("by hand"));
        assert_eq!(c["tags"], json!(["x"]));

        // And exporting the copy gives the same text (but for the name's slug).
        let (_, again) = admin.get("/api/v1/workflows/built-2/dsl/").await;
        assert_eq!(again["yaml_str"], json!(yaml), "[{b}]");
    }
}

#[tokio::test]
async fn model_discovery_uses_the_owners_credentials_and_tolerates_listing_errors() {
    for db in testing::all("dsl_models").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        let fake = FakeProvider::start().await;
        fake.set_models(["gpt-4o", "gpt-4o-mini", "llama-3.1-8b-instant"]);
        let broken = FakeProvider::start().await;
        broken.fail_models();
        for (name, url) in [("broken", broken.base_url()), ("fake", fake.base_url())] {
            let (status, out) = admin
                .post(
                    "/api/v1/credentials/",
                    json!({"name": name, "credential_type": "llm", "detail": {"api_key": "k", "base_url": url}}),
                )
                .await;
            assert_eq!(status, 201, "{out}");
        }
        let (_, creds) = admin.get("/api/v1/credentials/").await;
        let id_of = |name: &str| {
            creds["items"]
                .as_array()
                .expect("items")
                .iter()
                .find(|c| c["name"] == json!(name))
                .and_then(|c| c["id"].as_i64())
                .expect("credential")
        };
        let doc = "name: Picky\nsteps:\n  - {id: cheap, type: agent, prompt: a, model: {discover: true, preference: cheapest, temperature: 0.5}}\n  - {id: smart, type: agent, prompt: b, model: {capability: 4o-mini}}\n";
        let (status, out) = validate(&admin, doc).await;
        assert_eq!(status, 200, "[{b}] {out}");
        assert_eq!(out["valid"], json!(true), "[{b}] {out}");
        let model = |id: &str| {
            out["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .find(|n| n["node_id"] == json!(id))
                .map(|n| n["config"].clone())
                .unwrap_or_else(|| panic!("{id} in {out}"))
        };
        let cheap = model("ai_model_cheap");
        assert_eq!(
            cheap["llm_credential_id"],
            json!(id_of("fake")),
            "[{b}] {cheap}"
        );
        assert_eq!(cheap["model_name"], json!("llama-3.1-8b-instant"));
        assert_eq!(cheap["temperature"], json!(0.5));
        let smart = model("ai_model_smart");
        assert_eq!(smart["llm_credential_id"], json!(id_of("fake")));
        assert_eq!(smart["model_name"], json!("4o-mini"));
        // Another user has no credentials of their own.
        let dave = s.user(&admin, "dave").await;
        let (_, out) = validate(&dave, doc).await;
        assert_eq!(
            out["errors"][0],
            json!("Model resolution error: No LLM credentials available for model discovery"),
            "[{b}] {out}"
        );
    }
}

/// Every step type, trigger and inline tool form compiles to nodes the node API would accept
/// (its persistence rule and each type's `config_schema`), and applies.
#[tokio::test]
async fn every_step_type_and_trigger_applies() {
    for db in testing::all("dsl_every_step_type").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        let all = r#"
name: Everything
trigger: {type: schedule, id: tick}
trigger_config: {interval_seconds: 3600}
steps:
  - {id: c, type: code, code: "```python\nreturn 1\n```", language: python}
  - id: ag
    type: agent
    prompt: p
    memory: true
    skills: [skills/a.md, {path: skills/b.md, source: git}]
    tools:
      - calculator
      - {type: code, timeout_seconds: 5}
      - {type: http_request, config: {allow_hosts: [example.com], timeout: 5}}
      - web_search
      - datetime
      - ask_human
      - whoami
      - platform_api
      - run_command
      - epic_tools
      - task_tools
      - spawn_and_await
      - workflow_create
      - workflow_discover
      - scheduler_tools
      - system_health
      - get_totp_code
  - {id: da, type: deep_agent, prompt: p, enable_todos: true, subagents: [{name: x}]}
  - {id: cat, type: categorizer, prompt: p, categories: [a, b]}
  - {id: rt, type: router, prompt: p}
  - {id: ex, type: extractor, prompt: p, schema: {type: object}}
  - id: sw
    type: switch
    rules: [{field: trigger.text, value: a, route: hu}]
    default: tr
  - {id: fi, type: filter, rules: [{field: trigger.text, operator: equals, value: x}]}
  - id: lp
    type: loop
    over: c.output
    max_iterations: 5
    body: [{type: transform, template: x}, {type: wait, delay: 1}]
  - {id: sub, type: workflow, slug: nowhere, payload: {text: trigger.text}}
  - {id: hu, type: human, message: OK?}
  - {id: tr, type: transform, template: "{{ trigger.text }}"}
  - {id: rc, type: reply_chat, message: hi}
  - {id: me, type: merge}
  - {id: wa, type: wait, delay: 2, delay_unit: minutes}
  - {id: iu, type: identify_user, channel: telegram}
  - {id: ht, type: http, url: "https://example.com", method: POST, headers: {a: b}, body: "x", timeout: 5}
"#;
        let (status, v) = validate(&admin, all).await;
        assert_eq!(status, 200);
        assert_eq!(v["errors"], json!([]), "[{b}] {v}");
        let (status, out) = apply(&admin, all).await;
        assert_eq!(status, 201, "[{b}] {out}");
        assert_eq!(out["node_count"], v["node_count"]);
        assert_eq!(out["edge_count"], v["edge_count"]);
        let (_, w) = admin.get("/api/v1/workflows/everything/").await;
        assert_eq!(w["node_count"], out["node_count"], "[{b}]");
        let (_, check) = admin
            .post("/api/v1/workflows/everything/validate/", json!({}))
            .await;
        // The only complaints the engine's own check may have are missing models.
        for e in check["errors"].as_array().expect("errors") {
            assert!(
                e.as_str()
                    .unwrap_or("")
                    .contains("requires a model connection"),
                "[{b}] {check}"
            );
        }
        for trigger in [
            "none", "workflow", "manual", "chat", "telegram", "error", "webhook",
        ] {
            let (status, out) = apply(
                &admin,
                &format!("name: T {trigger}\ntrigger: {trigger}\nsteps:\n  - {{type: merge}}\n"),
            )
            .await;
            assert_eq!(status, 201, "[{b}] {trigger}: {out}");
        }
    }
}

/// Hostile input is a 4xx or an invalid document, never a 500 or a hang: an alias bomb, deep
/// nesting, a document over the size limit, non-string `yaml_str`.
#[tokio::test]
async fn hostile_documents_are_refused_quickly() {
    let s = TestServer::start(testing::sqlite().await).await;
    let admin = s.admin().await;
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
            p = i - 1
        ));
    }
    bomb.push_str("name: Bomb\nsteps: [{type: merge}]\n");
    let deep = format!(
        "name: Deep\nsteps: {}{}\n",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let big = format!(
        "name: Big\ndescription: '{}'\nsteps: [{{type: merge}}]\n",
        "x".repeat(600 * 1024)
    );
    for (what, doc) in [("bomb", &bomb), ("deep", &deep), ("big", &big)] {
        let started = std::time::Instant::now();
        let (status, out) = validate(&admin, doc).await;
        assert_eq!(status, 200, "{what}: {out}");
        assert_eq!(out["valid"], json!(false), "{what}: {out}");
        let (status, out) = apply(&admin, doc).await;
        assert_eq!(status, 422, "{what}: {out}");
        assert!(out["detail"].is_string(), "{what}: {out}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{what} took {:?}",
            started.elapsed()
        );
    }
    let (status, out) = admin
        .post("/api/v1/workflows/dsl/", json!({"yaml_str": 5}))
        .await;
    assert_eq!(status, 422, "{out}");
    assert!(
        out["detail"].as_str().expect("detail").contains("yaml_str"),
        "{out}"
    );
    assert_eq!(counts(&admin).await, (0, 0, 0));
}
