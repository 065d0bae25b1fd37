//! api.md §5: nodes and edges nested under a workflow, and §4's validate endpoint.

use crate::support::{Client, TestServer, detail};
use agentry_store::testing;
use serde_json::{Value, json};

const NODES: &str = "/api/v1/workflows/flow/nodes/";
const EDGES: &str = "/api/v1/workflows/flow/edges/";

async fn flow(s: &TestServer) -> Client {
    let admin = s.admin().await;
    admin.create_workflow(json!({"name": "flow"})).await;
    admin
}

fn validation_errors(list: &[&str]) -> Value {
    json!({"detail": {"validation_errors": list}})
}

#[tokio::test]
async fn create_nodes() {
    for db in testing::all("create_nodes").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = flow(&s).await;

        let (status, node) = admin
            .post(
                NODES,
                json!({
                    "node_id": "step1", "label": "Step one", "component_type": "code",
                    "is_entry_point": true, "interrupt_after": true,
                    "position_x": 10, "position_y": -20,
                    "config": {"extra_config": {"code": "print(1)", "custom": [1, 2]}}
                }),
            )
            .await;
        assert_eq!(status, 201, "[{b}] {node}");
        assert_eq!(node["node_id"], json!("step1"));
        assert_eq!(node["label"], json!("Step one"));
        assert_eq!(node["component_type"], json!("code"));
        assert_eq!(node["is_entry_point"], json!(true));
        assert_eq!(node["interrupt_before"], json!(false));
        assert_eq!(node["interrupt_after"], json!(true));
        assert_eq!(
            (&node["position_x"], &node["position_y"]),
            (&json!(10), &json!(-20))
        );
        assert_eq!(
            node["config"]["extra_config"],
            json!({"code": "print(1)", "custom": [1, 2]}),
            "[{b}] extra_config is always kept"
        );
        assert_eq!(node["subworkflow_id"], Value::Null);
        assert_eq!(node["code_block_id"], Value::Null);
        assert_eq!(node["schedule_job"], Value::Null);
        assert!(node["id"].is_i64());
        assert!(
            node["updated_at"]
                .as_str()
                .expect("updated_at")
                .ends_with('Z')
        );

        // An automatic id: `{component_type}_{8 hex}`.
        let auto = admin
            .create_node("flow", json!({"component_type": "code"}))
            .await;
        let id = auto["node_id"].as_str().expect("node_id");
        let hex = id
            .strip_prefix("code_")
            .unwrap_or_else(|| panic!("[{b}] {id}"));
        assert_eq!(hex.len(), 8, "[{b}] {id}");
        assert!(
            hex.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
            "[{b}] {id}"
        );
        assert_eq!(auto["label"], json!(""));
        assert_eq!(auto["position_x"], json!(0));
        let other = admin
            .create_node("flow", json!({"component_type": "code"}))
            .await;
        assert_ne!(other["node_id"], auto["node_id"], "[{b}]");

        // Duplicates.
        assert_eq!(
            admin
                .post(
                    NODES,
                    json!({"node_id": "step1", "component_type": "agent"})
                )
                .await,
            (409, detail("Node with id 'step1' already exists.")),
            "[{b}]"
        );

        // Refused input.
        for (body, needle) in [
            (
                json!({"node_id": "x", "component_type": "no_such_type"}),
                "component_type",
            ),
            (json!({"node_id": "x"}), "component_type"),
            (
                json!({"node_id": "x", "component_type": "code", "config": {"extra_config": {"code": 5}}}),
                "config.extra_config.code",
            ),
            (
                json!({"node_id": "x", "component_type": "code", "config": {"extra_config": {"language": "ruby"}}}),
                "config.extra_config.language",
            ),
            (
                json!({"node_id": "x", "component_type": "agent", "config": {"extra_config": {"max_steps": "many"}}}),
                "config.extra_config.max_steps",
            ),
            (
                json!({"node_id": "x", "component_type": "code", "position_x": 1.5}),
                "position_x",
            ),
            (
                json!({"node_id": "x", "component_type": "code", "config": {"extra_config": []}}),
                "extra_config",
            ),
            (
                json!({"node_id": "a/b", "component_type": "code"}),
                "node_id",
            ),
            (json!({"node_id": "", "component_type": "code"}), "node_id"),
            (
                json!({"node_id": "__end__", "component_type": "code"}),
                "node_id",
            ),
            (
                json!({"node_id": "x", "component_type": "agent", "config": {"temperature": 9}}),
                "temperature",
            ),
            (
                json!({"node_id": "x", "component_type": "workflow", "subworkflow_id": 424242}),
                "subworkflow_id",
            ),
        ] {
            let (status, out) = admin.post(NODES, body.clone()).await;
            assert_eq!(status, 422, "[{b}] {body} → {out}");
            assert!(
                out["detail"].to_string().contains(needle),
                "[{b}] {body}: {out} should name {needle}"
            );
        }

        // human_confirmation always interrupts before.
        let hc = admin
            .create_node(
                "flow",
                json!({"node_id": "ok", "component_type": "human_confirmation", "interrupt_before": false}),
            )
            .await;
        assert_eq!(hc["interrupt_before"], json!(true), "[{b}]");

        // The list is a bare array in creation order; the workflow counts them.
        let (status, list) = admin.get(NODES).await;
        assert_eq!(status, 200, "[{b}]");
        let ids: Vec<&str> = list
            .as_array()
            .expect("a bare array")
            .iter()
            .map(|n| n["node_id"].as_str().expect("node_id"))
            .collect();
        assert_eq!(ids.len(), 4, "[{b}] {ids:?}");
        assert!(ids.contains(&"step1") && ids.contains(&"ok"));
        let (_, wf) = admin.get("/api/v1/workflows/flow/").await;
        assert_eq!(wf["node_count"], json!(4), "[{b}]");

        assert_eq!(
            admin
                .post(
                    "/api/v1/workflows/nope/nodes/",
                    json!({"component_type": "code"})
                )
                .await,
            (404, detail("Workflow not found.")),
            "[{b}]"
        );
    }
}

#[tokio::test]
async fn config_persistence_rule() {
    for db in testing::all("config_persistence_rule").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = flow(&s).await;
        let config = json!({
            "system_prompt": "You are terse.",
            "model_name": "gpt-4o",
            "temperature": 0.5,
            "max_tokens": 100,
            "credential_id": 7,
            "priority": 3,
            "is_active": false,
            "trigger_config": {"secret": "s3"},
            "extra_config": {"k": "v"},
            "input_template": "{{ trigger.text }}"
        });
        let code = admin
            .create_node(
                "flow",
                json!({"node_id": "c", "component_type": "code", "config": config}),
            )
            .await;
        let agent = admin
            .create_node(
                "flow",
                json!({"node_id": "a", "component_type": "agent", "config": config}),
            )
            .await;
        let model = admin
            .create_node(
                "flow",
                json!({"node_id": "m", "component_type": "ai_model", "config": config}),
            )
            .await;
        let hook = admin
            .create_node(
                "flow",
                json!({"node_id": "h", "component_type": "trigger_webhook", "config": config}),
            )
            .await;
        let extra = json!({"k": "v", "input_template": "{{ trigger.text }}"});

        // code: only extra_config survives.
        let c = &code["config"];
        assert_eq!(c["system_prompt"], json!(""), "[{b}] dropped for code");
        assert_eq!(c["model_name"], json!(""));
        assert_eq!(c["temperature"], Value::Null);
        assert_eq!(c["max_tokens"], Value::Null);
        assert_eq!(c["credential_id"], Value::Null);
        assert_eq!(c["priority"], json!(0));
        assert_eq!(c["is_active"], json!(true));
        assert_eq!(c["trigger_config"], json!({}));
        assert_eq!(c["extra_config"], extra, "[{b}]");
        assert!(c.get("input_template").is_none(), "[{b}] request-only key");

        // agent: the prompt and model fields.
        let a = &agent["config"];
        assert_eq!(
            a["system_prompt"],
            json!("You are terse."),
            "[{b}] kept for agent"
        );
        assert_eq!(a["model_name"], json!("gpt-4o"));
        assert_eq!(a["temperature"], json!(0.5));
        assert_eq!(a["max_tokens"], json!(100));
        assert_eq!(a["credential_id"], Value::Null);
        assert_eq!(a["trigger_config"], json!({}));
        assert_eq!(a["extra_config"], extra);

        // ai_model: model fields.
        assert_eq!(model["config"]["model_name"], json!("gpt-4o"), "[{b}]");
        assert_eq!(model["config"]["temperature"], json!(0.5));

        // trigger_*: trigger fields.
        let h = &hook["config"];
        assert_eq!(h["credential_id"], json!(7), "[{b}]");
        assert_eq!(h["priority"], json!(3));
        assert_eq!(h["is_active"], json!(false));
        assert_eq!(h["trigger_config"], json!({"secret": "s3"}));
        assert_eq!(h["system_prompt"], json!(""));
        assert_eq!(h["model_name"], json!(""));

        // What came back is what is stored.
        let (_, list) = admin.get(NODES).await;
        assert_eq!(list, json!([code, agent, model, hook]), "[{b}]");
    }
}

#[tokio::test]
async fn patch_nodes() {
    for db in testing::all("patch_nodes").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = flow(&s).await;
        admin
            .create_node(
                "flow",
                json!({"node_id": "t", "component_type": "trigger_manual"}),
            )
            .await;
        admin
            .create_node(
                "flow",
                json!({
                    "node_id": "a", "label": "Agent", "component_type": "agent", "position_x": 5,
                    "config": {"system_prompt": "p", "model_name": "m1", "extra_config": {"max_steps": 3}}
                }),
            )
            .await;
        admin
            .create_node(
                "flow",
                json!({"node_id": "r", "component_type": "reply_chat"}),
            )
            .await;
        let e1 = admin
            .create_edge(
                "flow",
                json!({"source_node_id": "t", "target_node_id": "a"}),
            )
            .await;
        let e2 = admin
            .create_edge(
                "flow",
                json!({"source_node_id": "a", "target_node_id": "r"}),
            )
            .await;

        // Partial: only the keys present change, config keys merge.
        let (status, out) = admin
            .patch(
                &format!("{NODES}a/"),
                json!({"position_y": 42, "config": {"model_name": "m2", "system_prompt": "q"}}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {out}");
        assert_eq!(out["position_y"], json!(42));
        assert_eq!(out["position_x"], json!(5), "[{b}] untouched");
        assert_eq!(out["label"], json!("Agent"), "[{b}] untouched");
        assert_eq!(out["config"]["model_name"], json!("m2"));
        assert_eq!(out["config"]["system_prompt"], json!("q"));
        assert_eq!(
            out["config"]["extra_config"],
            json!({"max_steps": 3}),
            "[{b}] merged"
        );
        let (status, out) = admin
            .patch(
                &format!("{NODES}a"),
                json!({"config": {"temperature": 1.5}}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {out}");
        assert_eq!(
            out["config"]["model_name"],
            json!("m2"),
            "[{b}] earlier patch kept"
        );
        assert_eq!(out["config"]["temperature"], json!(1.5));
        let (status, out) = admin
            .patch(&format!("{NODES}a/"), json!({"label": null}))
            .await;
        assert_eq!(
            (status, &out["label"]),
            (200, &json!("")),
            "[{b}] null label clears"
        );

        // The persistence rule applies to patches too.
        let (status, out) = admin
            .patch(
                &format!("{NODES}r/"),
                json!({"config": {"system_prompt": "nope"}}),
            )
            .await;
        assert_eq!(
            (status, &out["config"]["system_prompt"]),
            (200, &json!("")),
            "[{b}]"
        );

        // Refused patches change nothing.
        let (status, out) = admin
            .patch(
                &format!("{NODES}a/"),
                json!({"config": {"extra_config": {"max_steps": "lots"}}}),
            )
            .await;
        assert_eq!(status, 422, "[{b}] {out}");
        assert!(
            out["detail"]
                .to_string()
                .contains("config.extra_config.max_steps")
        );
        let (status, _) = admin
            .patch(&format!("{NODES}a/"), json!({"component_type": "bogus"}))
            .await;
        assert_eq!(status, 422, "[{b}]");
        let (status, _) = admin
            .patch(&format!("{NODES}a/"), json!({"position_x": "left"}))
            .await;
        assert_eq!(status, 422, "[{b}]");
        let (_, list) = admin.get(NODES).await;
        let a = list
            .as_array()
            .expect("array")
            .iter()
            .find(|n| n["node_id"] == "a")
            .expect("a")
            .clone();
        assert_eq!(
            a["config"]["extra_config"],
            json!({"max_steps": 3}),
            "[{b}]"
        );
        assert_eq!(a["component_type"], json!("agent"));

        // human_confirmation keeps interrupt_before.
        admin
            .create_node(
                "flow",
                json!({"node_id": "hc", "component_type": "human_confirmation"}),
            )
            .await;
        let (status, out) = admin
            .patch(
                &format!("{NODES}hc/"),
                json!({"interrupt_before": false, "label": "Check"}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {out}");
        assert_eq!(
            (&out["interrupt_before"], &out["label"]),
            (&json!(true), &json!("Check"))
        );
        // …and so does a node that becomes one.
        let (status, out) = admin
            .patch(
                &format!("{NODES}r/"),
                json!({"component_type": "human_confirmation"}),
            )
            .await;
        assert_eq!(
            (status, &out["interrupt_before"]),
            (200, &json!(true)),
            "[{b}]"
        );
        let (status, out) = admin
            .patch(
                &format!("{NODES}r/"),
                json!({"component_type": "reply_chat"}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {out}");

        // Renaming follows the edges.
        assert_eq!(
            admin
                .patch(&format!("{NODES}a/"), json!({"node_id": "t"}))
                .await,
            (409, detail("Node with id 't' already exists.")),
            "[{b}]"
        );
        let (status, out) = admin
            .patch(&format!("{NODES}a/"), json!({"node_id": "brain"}))
            .await;
        assert_eq!(
            (status, &out["node_id"]),
            (200, &json!("brain")),
            "[{b}] {out}"
        );
        assert_eq!(out["id"], a["id"], "[{b}] same row");
        let (_, edges) = admin.get(EDGES).await;
        let mut renamed1 = e1.clone();
        renamed1["target_node_id"] = json!("brain");
        let mut renamed2 = e2.clone();
        renamed2["source_node_id"] = json!("brain");
        assert_eq!(edges, json!([renamed1, renamed2]), "[{b}]");
        let not_found = (404, detail("Node not found."));
        assert_eq!(
            admin
                .patch(&format!("{NODES}a/"), json!({"label": "x"}))
                .await,
            not_found,
            "[{b}] old id"
        );
        assert_eq!(
            admin.patch(&format!("{NODES}ghost/"), json!({})).await,
            not_found,
            "[{b}]"
        );
        let (status, _) = admin
            .patch(&format!("{NODES}brain/"), json!({"node_id": "bad id"}))
            .await;
        assert_eq!(status, 422, "[{b}]");
    }
}

#[tokio::test]
async fn delete_node_deletes_its_edges() {
    for db in testing::all("delete_node_deletes_its_edges").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = flow(&s).await;
        for id in ["x", "y", "z"] {
            admin
                .create_node("flow", json!({"node_id": id, "component_type": "code"}))
                .await;
        }
        admin
            .create_edge(
                "flow",
                json!({"source_node_id": "x", "target_node_id": "y"}),
            )
            .await;
        admin
            .create_edge(
                "flow",
                json!({"source_node_id": "y", "target_node_id": "z"}),
            )
            .await;
        let keep = admin
            .create_edge(
                "flow",
                json!({"source_node_id": "x", "target_node_id": "z"}),
            )
            .await;

        assert_eq!(
            admin.delete(&format!("{NODES}y/")).await,
            (204, Value::Null),
            "[{b}]"
        );
        assert_eq!(admin.get(EDGES).await, (200, json!([keep])), "[{b}]");
        let (_, wf) = admin.get("/api/v1/workflows/flow/").await;
        assert_eq!(
            (&wf["node_count"], &wf["edge_count"]),
            (&json!(2), &json!(1)),
            "[{b}]"
        );
        let not_found = (404, detail("Node not found."));
        assert_eq!(
            admin.delete(&format!("{NODES}y/")).await,
            not_found,
            "[{b}]"
        );
        assert_eq!(
            admin.delete(&format!("{NODES}never")).await,
            not_found,
            "[{b}]"
        );
        assert_eq!(
            admin.delete("/api/v1/workflows/nope/nodes/x/").await,
            (404, detail("Workflow not found.")),
            "[{b}]"
        );
    }
}

#[tokio::test]
async fn create_edges_with_rules() {
    for db in testing::all("create_edges_with_rules").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = flow(&s).await;
        for (id, ct) in [
            ("t", "trigger_manual"),
            ("a", "agent"),
            ("m", "ai_model"),
            ("w", "whoami"),
            ("c", "code"),
            ("s", "switch"),
            ("h", "human_confirmation"),
        ] {
            admin
                .create_node("flow", json!({"node_id": id, "component_type": ct}))
                .await;
        }

        let (status, e) = admin
            .post(EDGES, json!({"source_node_id": "t", "target_node_id": "a"}))
            .await;
        assert_eq!(status, 201, "[{b}] trigger edges skip port types: {e}");
        assert!(e["id"].is_i64());
        assert_eq!(e["source_node_id"], json!("t"));
        assert_eq!(e["target_node_id"], json!("a"));
        assert_eq!(e["edge_type"], json!("direct"));
        assert_eq!(e["edge_label"], json!(""));
        assert_eq!(e["condition_mapping"], Value::Null);
        assert_eq!(e["condition_value"], json!(""));
        assert_eq!(e["priority"], json!(0));

        let llm = admin
            .create_edge(
                "flow",
                json!({"source_node_id": "m", "target_node_id": "a", "edge_label": "llm"}),
            )
            .await;
        assert_eq!(llm["edge_label"], json!("llm"));
        admin
            .create_edge(
                "flow",
                json!({"source_node_id": "w", "target_node_id": "a", "edge_label": "tool"}),
            )
            .await;
        let cond = admin
            .create_edge(
                "flow",
                json!({
                    "source_node_id": "s", "target_node_id": "c", "edge_type": "conditional",
                    "condition_value": "yes", "priority": 2, "condition_mapping": {"k": "v"}
                }),
            )
            .await;
        assert_eq!(
            (
                &cond["edge_type"],
                &cond["condition_value"],
                &cond["priority"],
                &cond["condition_mapping"]
            ),
            (
                &json!("conditional"),
                &json!("yes"),
                &json!(2),
                &json!({"k": "v"})
            ),
            "[{b}]"
        );
        // Open ends are fine for data edges.
        admin
            .create_edge("flow", json!({"source_node_id": "c", "target_node_id": ""}))
            .await;
        admin
            .create_edge(
                "flow",
                json!({"source_node_id": "c", "target_node_id": "__end__"}),
            )
            .await;
        admin
            .create_edge(
                "flow",
                json!({"source_node_id": "c", "target_node_id": "c", "edge_label": "loop_body"}),
            )
            .await;

        let d = |t: &str| (422, detail(t));
        for (body, want) in [
            (
                json!({"source_node_id": "ghost", "target_node_id": "a"}),
                d("Edge references unknown source node 'ghost'"),
            ),
            (
                json!({"source_node_id": "c", "target_node_id": "nowhere"}),
                d("Edge references unknown target node 'nowhere'"),
            ),
            (
                json!({"source_node_id": "s", "target_node_id": "a", "edge_type": "conditional"}),
                d("Conditional edges require a non-empty condition_value"),
            ),
            (
                json!({"source_node_id": "s", "edge_type": "conditional", "condition_value": "x"}),
                d("Conditional edges require a non-empty target_node_id"),
            ),
            (
                json!({"source_node_id": "c", "target_node_id": "a", "edge_type": "conditional", "condition_value": "x"}),
                d("Conditional edges can only originate from 'switch' nodes"),
            ),
            (
                json!({"source_node_id": "c", "target_node_id": "a", "edge_label": "tool"}),
                (422, validation_errors(&["Node type 'code' is not a tool"])),
            ),
            (
                json!({"source_node_id": "h", "target_node_id": "a"}),
                (
                    422,
                    validation_errors(&[
                        "Type mismatch: human_confirmation outputs 'boolean' but agent expects 'messages'",
                    ]),
                ),
            ),
            (
                json!({"source_node_id": "m", "target_node_id": "c", "edge_label": "llm"}),
                (
                    422,
                    validation_errors(&["Node type 'code' does not accept 'llm' connections"]),
                ),
            ),
            (
                json!({"source_node_id": "t", "target_node_id": "a"}),
                (409, detail("Edge already exists.")),
            ),
            (
                json!({"source_node_id": "s", "target_node_id": "c", "edge_type": "conditional", "condition_value": "yes"}),
                (409, detail("Edge already exists.")),
            ),
        ] {
            assert_eq!(admin.post(EDGES, body.clone()).await, want, "[{b}] {body}");
        }
        // Same ends, another condition: a different edge.
        admin
            .create_edge(
                "flow",
                json!({"source_node_id": "s", "target_node_id": "c", "edge_type": "conditional", "condition_value": "no"}),
            )
            .await;

        for (body, field) in [
            (
                json!({"source_node_id": "t", "target_node_id": "c", "edge_type": "sideways"}),
                "edge_type",
            ),
            (
                json!({"source_node_id": "t", "target_node_id": "c", "edge_label": "magic"}),
                "edge_label",
            ),
            (
                json!({"source_node_id": "s", "target_node_id": "c", "edge_type": "conditional", "condition_value": "v".repeat(101)}),
                "condition_value",
            ),
            (json!({"target_node_id": "c"}), "source_node_id"),
            (
                json!({"source_node_id": "t", "target_node_id": "c", "priority": "high"}),
                "priority",
            ),
        ] {
            let (status, out) = admin.post(EDGES, body.clone()).await;
            assert_eq!(status, 422, "[{b}] {body} → {out}");
            assert!(
                out["detail"].to_string().contains(field),
                "[{b}] {out} names {field}"
            );
        }

        let (_, list) = admin.get(EDGES).await;
        assert_eq!(list.as_array().map(Vec::len), Some(8), "[{b}] {list}");
        let (_, wf) = admin.get("/api/v1/workflows/flow/").await;
        assert_eq!(wf["edge_count"], json!(8), "[{b}]");
        assert_eq!(
            admin
                .post(
                    "/api/v1/workflows/nope/edges/",
                    json!({"source_node_id": "t"})
                )
                .await,
            (404, detail("Workflow not found.")),
            "[{b}]"
        );
    }
}

#[tokio::test]
async fn patch_and_delete_edges() {
    for db in testing::all("patch_and_delete_edges").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = flow(&s).await;
        for (id, ct) in [
            ("s", "switch"),
            ("x", "code"),
            ("y", "code"),
            ("w", "whoami"),
        ] {
            admin
                .create_node("flow", json!({"node_id": id, "component_type": ct}))
                .await;
        }
        let e1 = admin
            .create_edge(
                "flow",
                json!({"source_node_id": "x", "target_node_id": "y"}),
            )
            .await;
        let e2 = admin
            .create_edge(
                "flow",
                json!({"source_node_id": "y", "target_node_id": "x"}),
            )
            .await;
        let path1 = format!("{EDGES}{}/", e1["id"]);

        let (status, out) = admin.patch(&path1, json!({"priority": 5})).await;
        assert_eq!(status, 200, "[{b}] {out}");
        let mut want = e1.clone();
        want["priority"] = json!(5);
        assert_eq!(out, want, "[{b}] only priority changed");
        let (status, out) = admin
            .patch(
                &path1,
                json!({"source_node_id": "s", "edge_type": "conditional", "condition_value": "go"}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {out}");
        assert_eq!(
            (
                &out["source_node_id"],
                &out["target_node_id"],
                &out["edge_type"],
                &out["condition_value"],
                &out["priority"]
            ),
            (
                &json!("s"),
                &json!("y"),
                &json!("conditional"),
                &json!("go"),
                &json!(5)
            )
        );

        // PATCH runs the create-time rules on the result.
        for (body, want) in [
            (
                json!({"source_node_id": "ghost"}),
                (422, detail("Edge references unknown source node 'ghost'")),
            ),
            (
                json!({"target_node_id": "ghost"}),
                (422, detail("Edge references unknown target node 'ghost'")),
            ),
            (
                json!({"condition_value": ""}),
                (
                    422,
                    detail("Conditional edges require a non-empty condition_value"),
                ),
            ),
            (
                json!({"source_node_id": "x"}),
                (
                    422,
                    detail("Conditional edges can only originate from 'switch' nodes"),
                ),
            ),
            (
                json!({"edge_type": "direct", "source_node_id": "y", "target_node_id": "x", "condition_value": ""}),
                (409, detail("Edge already exists.")),
            ),
        ] {
            assert_eq!(
                admin.patch(&path1, body.clone()).await,
                want,
                "[{b}] {body}"
            );
        }
        let path2 = format!("{EDGES}{}", e2["id"]);
        assert_eq!(
            admin.patch(&path2, json!({"edge_label": "tool"})).await,
            (
                422,
                validation_errors(&[
                    "Node type 'code' is not a tool",
                    "Node type 'code' does not accept 'tool' connections",
                ])
            ),
            "[{b}]"
        );
        let (status, _) = admin.patch(&path2, json!({"edge_type": "wrong"})).await;
        assert_eq!(status, 422, "[{b}]");
        // Nothing refused was written.
        let (_, list) = admin.get(EDGES).await;
        assert_eq!(list[1], e2, "[{b}]");
        assert_eq!(list[0]["source_node_id"], json!("s"), "[{b}]");

        let not_found = (404, detail("Edge not found."));
        for bad in ["999999", "abc", "1.5", "-1"] {
            assert_eq!(
                admin
                    .patch(&format!("{EDGES}{bad}/"), json!({"priority": 1}))
                    .await,
                not_found,
                "[{b}] PATCH {bad}"
            );
            assert_eq!(
                admin.delete(&format!("{EDGES}{bad}/")).await,
                not_found,
                "[{b}] DELETE {bad}"
            );
        }
        // An edge id of another workflow is not found here.
        admin.create_workflow(json!({"name": "other"})).await;
        assert_eq!(
            admin
                .delete(&format!("/api/v1/workflows/other/edges/{}/", e2["id"]))
                .await,
            not_found,
            "[{b}]"
        );

        assert_eq!(admin.delete(&path2).await, (204, Value::Null), "[{b}]");
        assert_eq!(admin.delete(&path2).await, not_found, "[{b}]");
        assert_eq!(
            admin.patch(&path2, json!({"priority": 1})).await,
            not_found,
            "[{b}]"
        );
        let (_, list) = admin.get(EDGES).await;
        assert_eq!(list.as_array().map(Vec::len), Some(1), "[{b}]");
    }
}

#[tokio::test]
async fn validate_reports_every_problem() {
    for db in testing::all("validate_reports_every_problem").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = flow(&s).await;
        let validate = "/api/v1/workflows/flow/validate/";

        assert_eq!(
            admin.post(validate, json!({})).await,
            (200, json!({"valid": true, "errors": []})),
            "[{b}] empty"
        );

        // A valid graph.
        for (id, ct) in [
            ("t", "trigger_chat"),
            ("m", "ai_model"),
            ("a", "agent"),
            ("w", "whoami"),
            ("r", "reply_chat"),
        ] {
            admin
                .create_node("flow", json!({"node_id": id, "component_type": ct}))
                .await;
        }
        for (src, tgt, label) in [
            ("t", "a", ""),
            ("m", "a", "llm"),
            ("w", "a", "tool"),
            ("a", "r", ""),
        ] {
            admin
                .create_edge(
                    "flow",
                    json!({"source_node_id": src, "target_node_id": tgt, "edge_label": label}),
                )
                .await;
        }
        assert_eq!(
            admin.post(validate, json!({})).await,
            (200, json!({"valid": true, "errors": []})),
            "[{b}] valid graph"
        );

        // Break it in several ways that single-edge checks cannot see: nodes change type
        // after their edges exist, and an AI node lacks a model.
        admin
            .create_node("flow", json!({"node_id": "s", "component_type": "switch"}))
            .await;
        admin
            .create_edge(
                "flow",
                json!({"source_node_id": "s", "target_node_id": "r", "edge_type": "conditional", "condition_value": "y"}),
            )
            .await;
        for (node, ct) in [("w", "code"), ("s", "code")] {
            let (status, out) = admin
                .patch(&format!("{NODES}{node}/"), json!({"component_type": ct}))
                .await;
            assert_eq!(status, 200, "[{b}] {out}");
        }
        admin
            .create_node("flow", json!({"node_id": "b", "component_type": "agent"}))
            .await;

        let (status, out) = admin
            .post("/api/v1/workflows/flow/validate", json!({}))
            .await;
        assert_eq!(status, 200, "[{b}] {out}");
        assert_eq!(
            out,
            json!({"valid": false, "errors": [
                "Edge w → a: Node type 'code' is not a tool",
                "Conditional edge from 's' (code): only 'switch' nodes can have conditional edges",
                "Node 'b' (agent) requires a model connection",
            ]}),
            "[{b}]"
        );
        assert_eq!(
            admin
                .post("/api/v1/workflows/nope/validate/", json!({}))
                .await,
            (404, detail("Workflow not found.")),
            "[{b}]"
        );
    }
}
