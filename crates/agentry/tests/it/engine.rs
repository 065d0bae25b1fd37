//! The engine end to end (engine.md §2, §4, §5, §6, §11; api.md §6, §11): workflows built and
//! run through the HTTP API, on SQLite and PostgreSQL, with the server and two workers in
//! process. Every test waits for the state it expects by polling the API and asserts exact
//! outputs, log rows and statuses.

use crate::support::{Graph, Harness, Ws, logs, outputs_of, rows, runs};
use agentry_store::testing;
use serde_json::{Value, json};

/// The node ids of the completed log rows, in order.
fn completed(detail: &Value) -> Vec<String> {
    runs(detail)
        .into_iter()
        .filter(|(_, s)| s == "completed")
        .map(|(n, _)| n)
        .collect()
}

fn count(detail: &Value, node_id: &str) -> usize {
    outputs_of(detail, node_id).len()
}

#[tokio::test]
async fn linear_chain_of_templates() {
    for t in testing::all("linear_chain_of_templates").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        let slug = h
            .create(
                &Graph::new("Chain")
                    .template("a", "{{ trigger.text }}")
                    .template("b", "{{ a.output | upper }}")
                    .chain(&["start", "a", "b"]),
            )
            .await;
        let e = h.run(&slug, "hello world").await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        assert_eq!(e["error_message"], "", "[{b}]");
        assert_eq!(
            e["final_output"],
            json!({"node_outputs": {
                "start": {"text": "hello world"},
                "a": {"output": "hello world"},
                "b": {"output": "HELLO WORLD"},
            }}),
            "[{b}]"
        );
        assert_eq!(
            runs(&e),
            rows(&[("a", "completed"), ("b", "completed")]),
            "[{b}]"
        );
        let l = logs(&e);
        assert_eq!(l[1]["output"], json!({"output": "HELLO WORLD"}), "[{b}]");
        assert_eq!(l[1]["error"], "", "[{b}]");
        assert_eq!(
            e["trigger_payload"],
            json!({"text": "hello world"}),
            "[{b}]"
        );
        assert_eq!(e["pending_confirmation"], Value::Null, "[{b}]");
        assert!(e["completed_at"].is_string(), "[{b}] {e}");

        // Nothing left to answer on a finished execution.
        let id = e["execution_id"].as_str().expect("id");
        let (status, body) = h
            .admin
            .post(
                &format!("/api/v1/executions/{id}/resume/"),
                json!({"input": "yes"}),
            )
            .await;
        assert_eq!(status, 409, "[{b}] {body}");
        assert_eq!(
            body,
            json!({"detail": "Execution is not waiting for input."}),
            "[{b}]"
        );
    }
}

#[tokio::test]
async fn fan_out_and_fan_in_through_merge() {
    for t in testing::all("fan_out_and_fan_in_through_merge").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        // start → left ────────────→ m → done
        //       → right → right2 ──↗
        // `twice` has two incoming edges and is not a merge: it runs once per arrival.
        let slug = h
            .create(
                &Graph::new("Fan")
                    .template("left", "L:{{ trigger.text }}")
                    .template("right", "R:{{ trigger.text }}")
                    .template("right2", "{{ right.output }}!")
                    .node(
                        "m",
                        "merge",
                        json!({"mode": "append", "source_nodes": ["left", "right2"]}),
                    )
                    .template("done", "{{ m.merged | length }} merged")
                    .template("twice", "{{ trigger.text }}")
                    .chain(&["start", "left", "m", "done"])
                    .chain(&["start", "right", "right2", "m"])
                    .edge("left", "twice")
                    .edge("right2", "twice"),
            )
            .await;
        let e = h.run(&slug, "x").await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        let done = completed(&e);
        assert_eq!(done.len(), 7, "[{b}] {done:?}");
        assert_eq!(
            done.iter().filter(|n| *n == "m").count(),
            1,
            "[{b}] {done:?}"
        );
        assert_eq!(count(&e, "twice"), 2, "[{b}] {done:?}");
        let pos = |id: &str| done.iter().position(|n| n == id).expect(id);
        assert!(
            pos("m") > pos("left") && pos("m") > pos("right2"),
            "[{b}] {done:?}"
        );
        assert!(pos("done") > pos("m"), "[{b}] {done:?}");
        assert_eq!(
            outputs_of(&e, "m"),
            vec![json!({"merged": [{"output": "L:x"}, {"output": "R:x!"}]})],
            "[{b}]"
        );
        assert_eq!(
            e["final_output"]["node_outputs"]["done"],
            json!({"output": "2 merged"}),
            "[{b}]"
        );
    }
}

#[tokio::test]
async fn switch_routes_and_fallback() {
    for t in testing::all("switch_routes_and_fallback").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        let slug = h
            .create(
                &Graph::new("Switch")
                    .node(
                        "s",
                        "switch",
                        json!({
                            "rules": [
                                {"id": "greet", "field": "trigger.text", "operator": "starts_with", "value": "hi"},
                                {"id": "bye", "field": "state.trigger.text", "operator": "equals", "value": "bye"},
                            ],
                            "enable_fallback": true,
                        }),
                    )
                    .template("g", "greeting {{ trigger.text }}")
                    .template("y", "farewell")
                    .template("o", "other {{ s.route }}")
                    .edge("start", "s")
                    .when("s", "greet", "g")
                    .when("s", "bye", "y")
                    .when("s", "__other__", "o"),
            )
            .await;
        for (text, route, node, out) in [
            ("hi there", "greet", "g", "greeting hi there"),
            ("bye", "bye", "y", "farewell"),
            ("what?", "__other__", "o", "other __other__"),
        ] {
            let e = h.run(&slug, text).await;
            assert_eq!(e["status"], "completed", "[{b}] {text}: {e:#}");
            assert_eq!(
                runs(&e),
                rows(&[("s", "completed"), (node, "completed")]),
                "[{b}] {text}"
            );
            assert_eq!(outputs_of(&e, "s"), vec![json!({"route": route})], "[{b}]");
            assert_eq!(outputs_of(&e, node), vec![json!({"output": out})], "[{b}]");
        }
    }
}

#[tokio::test]
async fn code_list_feeds_a_loop() {
    for t in testing::all("code_list_feeds_a_loop").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        // start → items (code) → l ─loop_body→ up ; l → after
        let slug = h
            .create(
                &Graph::new("Loop")
                    .code("items", "return state['trigger']['text'].split(',')")
                    .node(
                        "l",
                        "loop",
                        json!({"source_node": "items", "field": "output"}),
                    )
                    .template(
                        "up",
                        "{{ loop.index }}/{{ loop.total }}={{ loop.item | upper }}",
                    )
                    .template("after", "{{ l.results | length }} done")
                    .chain(&["start", "items", "l", "after"])
                    .labelled("l", "loop_body", "up"),
            )
            .await;
        let e = h.run(&slug, "a,b,c").await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        assert_eq!(
            outputs_of(&e, "items"),
            vec![json!({"output": ["a", "b", "c"]})],
            "[{b}]"
        );
        assert_eq!(
            outputs_of(&e, "up"),
            vec![
                json!({"output": "0/3=A"}),
                json!({"output": "1/3=B"}),
                json!({"output": "2/3=C"}),
            ],
            "[{b}]"
        );
        let out = &e["final_output"]["node_outputs"];
        assert_eq!(
            out["l"],
            json!({
                "items": ["a", "b", "c"],
                "results": [
                    {"up": {"output": "0/3=A"}},
                    {"up": {"output": "1/3=B"}},
                    {"up": {"output": "2/3=C"}},
                ],
            }),
            "[{b}]"
        );
        assert_eq!(out["after"], json!({"output": "3 done"}), "[{b}]");
        assert_eq!(
            completed(&e),
            ["items", "l", "up", "up", "up", "after"],
            "[{b}]"
        );
    }
}

#[tokio::test]
async fn nested_loops() {
    for t in testing::all("nested_loops").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        // start → rows (code: [[1,2],[3]]) → outer → after
        // outer ─loop_body→ pick (code: loop.item) → inner ; inner ─loop_return→ outer
        // inner ─loop_body→ cell ; cell ─loop_return→ inner
        let slug = h
            .create(
                &Graph::new("Nested")
                    .code("rows", "return [[1, 2], [3]]")
                    .node(
                        "outer",
                        "loop",
                        json!({"source_node": "rows", "field": "output"}),
                    )
                    .code("pick", "return state['loop']['item']")
                    .node(
                        "inner",
                        "loop",
                        json!({"source_node": "pick", "field": "output"}),
                    )
                    .template(
                        "cell",
                        "{{ loop.index }}:{{ loop.item * 10 }} of {{ pick.output | length }}",
                    )
                    .template("after", "{{ outer.results | length }} rows")
                    .chain(&["start", "rows", "outer", "after"])
                    .labelled("outer", "loop_body", "pick")
                    .edge("pick", "inner")
                    .labelled("inner", "loop_return", "outer")
                    .labelled("inner", "loop_body", "cell")
                    .labelled("cell", "loop_return", "inner"),
            )
            .await;
        let e = h.run(&slug, "go").await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        let out = &e["final_output"]["node_outputs"];
        assert_eq!(
            out["outer"],
            json!({
                "items": [[1, 2], [3]],
                "results": [
                    {"inner": {"items": [1, 2], "results": [
                        {"cell": {"output": "0:10 of 2"}},
                        {"cell": {"output": "1:20 of 2"}},
                    ]}},
                    {"inner": {"items": [3], "results": [
                        {"cell": {"output": "0:30 of 1"}},
                    ]}},
                ],
            }),
            "[{b}]"
        );
        assert_eq!(out["after"], json!({"output": "2 rows"}), "[{b}]");
        for (node, n) in [
            ("rows", 1),
            ("outer", 1),
            ("pick", 2),
            ("inner", 2),
            ("cell", 3),
            ("after", 1),
        ] {
            assert_eq!(count(&e, node), n, "[{b}] {node}: {:?}", completed(&e));
        }
        assert_eq!(completed(&e).len(), 10, "[{b}]");
        assert_eq!(
            completed(&e).last().map(String::as_str),
            Some("after"),
            "[{b}]"
        );
    }
}

#[tokio::test]
async fn loop_over_max_iterations_fails() {
    for t in testing::all("loop_over_max_iterations_fails").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        let slug = h
            .create(
                &Graph::new("Too many")
                    .code("items", "return [1, 2, 3, 4, 5]")
                    .node(
                        "l",
                        "loop",
                        json!({"source_node": "items", "field": "output", "max_iterations": 3}),
                    )
                    .template("body", "{{ loop.item }}")
                    .template("after", "never")
                    .chain(&["start", "items", "l", "after"])
                    .labelled("l", "loop_body", "body"),
            )
            .await;
        let e = h.run(&slug, "").await;
        assert_eq!(e["status"], "failed", "[{b}] {e:#}");
        assert_eq!(
            e["error_message"], "Node l: Loop 'l' has 5 items, more than max_iterations (3)",
            "[{b}]"
        );
        assert_eq!(
            runs(&e),
            rows(&[("items", "completed"), ("l", "failed")]),
            "[{b}] not retried, nothing after"
        );
        assert_eq!(
            logs(&e)[1]["error"],
            "Loop 'l' has 5 items, more than max_iterations (3)",
            "[{b}]"
        );
        assert_eq!(e["final_output"], Value::Null, "[{b}]");

        // At the limit it runs.
        let ok = h
            .create(
                &Graph::new("Just enough")
                    .code("items", "return [1, 2, 3]")
                    .node(
                        "l",
                        "loop",
                        json!({"source_node": "items", "field": "output", "max_iterations": 3}),
                    )
                    .template("body", "{{ loop.item }}")
                    .chain(&["start", "items", "l"])
                    .labelled("l", "loop_body", "body"),
            )
            .await;
        let e = h.run(&ok, "").await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        assert_eq!(count(&e, "body"), 3, "[{b}]");
    }
}

#[tokio::test]
async fn bad_template_fails_the_execution() {
    for t in testing::all("bad_template_fails_the_execution").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        let slug = h
            .create(
                &Graph::new("Bad")
                    .template("ok", "fine")
                    .template("x", "{{ trigger.text ")
                    .template("y", "never")
                    .chain(&["start", "ok", "x", "y"]),
            )
            .await;
        let e = h.run(&slug, "t").await;
        assert_eq!(e["status"], "failed", "[{b}] {e:#}");
        let msg = e["error_message"].as_str().expect("error_message");
        assert!(
            msg.starts_with("Node x: Template error: ")
                && msg.len() > "Node x: Template error: ".len(),
            "[{b}] {msg}"
        );
        assert_eq!(
            runs(&e),
            rows(&[("ok", "completed"), ("x", "failed")]),
            "[{b}] a template error is not retried"
        );
        let row = &logs(&e)[1];
        assert_eq!(row["error_code"], "template_error", "[{b}]");
        assert_eq!(
            format!("Node x: {}", row["error"].as_str().expect("error")),
            msg,
            "[{b}]"
        );

        // Undefined names are errors too (strict undefined).
        let slug = h
            .create(
                &Graph::new("Undefined")
                    .template("x", "{{ nobody.output }}")
                    .chain(&["start", "x"]),
            )
            .await;
        let e = h.run(&slug, "t").await;
        assert_eq!(e["status"], "failed", "[{b}] {e:#}");
        let msg = e["error_message"].as_str().expect("error_message");
        assert!(msg.starts_with("Node x: Template error: "), "[{b}] {msg}");
    }
}

#[tokio::test]
async fn subworkflows_three_levels_deep() {
    for t in testing::all("subworkflows_three_levels_deep").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        let c = h
            .create(
                &Graph::child("Level C")
                    .template("c1", "C({{ trigger.text }})")
                    .node("c2", "reply_chat", json!({"message": "{{ c1.output }}"}))
                    .chain(&["start", "c1", "c2"]),
            )
            .await;
        let bb = h
            .create(
                &Graph::child("Level B")
                    .node("b1", "workflow", json!({"target_workflow": c}))
                    .template("b2", "B[{{ b1.output.output }}]")
                    .node("b3", "reply_chat", json!({"message": "{{ b2.output }}"}))
                    .chain(&["start", "b1", "b2", "b3"]),
            )
            .await;
        let a = h
            .create(
                &Graph::new("Level A")
                    .node("a1", "workflow", json!({"target_workflow": bb}))
                    .template("a2", "A<{{ a1.output.output }}>")
                    .node("a3", "reply_chat", json!({"message": "{{ a2.output }}"}))
                    .chain(&["start", "a1", "a2", "a3"]),
            )
            .await;
        let e = h.run(&a, "hello").await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        assert_eq!(
            e["final_output"],
            json!({"output": "A<B[C(hello)]>"}),
            "[{b}]"
        );
        assert_eq!(e["parent_execution_id"], Value::Null, "[{b}]");
        assert_eq!(
            runs(&e),
            rows(&[
                ("a1", "waiting"),
                ("a1", "completed"),
                ("a2", "completed"),
                ("a3", "completed"),
            ]),
            "[{b}]"
        );
        let a_id = e["execution_id"].as_str().expect("id");

        let kids = h.admin.children(a_id).await;
        assert_eq!(kids.len(), 1, "[{b}] {kids:#?}");
        let b_exec = &kids[0];
        let b_id = b_exec["execution_id"].as_str().expect("id");
        assert_eq!(b_exec["workflow_slug"], bb.as_str(), "[{b}]");
        assert_eq!(b_exec["status"], "completed", "[{b}]");
        assert_eq!(b_exec["parent_execution_id"], a_id, "[{b}]");
        assert_eq!(b_exec["parent_node_id"], "a1", "[{b}]");
        assert_eq!(
            logs(&e)[0]["metadata"],
            json!({"child_execution_ids": [b_id]}),
            "[{b}]"
        );
        assert_eq!(
            outputs_of(&e, "a1"),
            vec![json!({"output": {"output": "B[C(hello)]"}})],
            "[{b}]"
        );

        let b_detail = h.admin.execution(b_id).await;
        assert_eq!(
            b_detail["final_output"],
            json!({"output": "B[C(hello)]"}),
            "[{b}]"
        );
        assert_eq!(b_detail["trigger_payload"]["text"], "hello", "[{b}]");
        let grandkids = h.admin.children(b_id).await;
        assert_eq!(grandkids.len(), 1, "[{b}] {grandkids:#?}");
        let c_exec = &grandkids[0];
        assert_eq!(c_exec["workflow_slug"], c.as_str(), "[{b}]");
        assert_eq!(c_exec["parent_execution_id"], b_id, "[{b}]");
        assert_eq!(c_exec["parent_node_id"], "b1", "[{b}]");
        assert_eq!(c_exec["root_execution_id"], a_id, "[{b}]");
        let c_id = c_exec["execution_id"].as_str().expect("id");
        let c_detail = h.admin.execution(c_id).await;
        assert_eq!(c_detail["status"], "completed", "[{b}]");
        assert_eq!(
            c_detail["final_output"],
            json!({"output": "C(hello)"}),
            "[{b}]"
        );
        assert_eq!(
            outputs_of(&c_detail, "c1"),
            vec![json!({"output": "C(hello)"})],
            "[{b}]"
        );
        assert!(h.admin.children(c_id).await.is_empty(), "[{b}]");
    }
}

/// start → h (human_confirmation) → r (switch without rules: passes the context's route on) →
/// ok (route `confirmed`) | no (route `cancelled`). Only switches have conditional edges.
fn confirmation_graph(name: &str) -> Graph {
    Graph::new(name)
        .node("h", "human_confirmation", json!({"prompt": "Ship it?"}))
        .node("r", "switch", json!({}))
        .template("ok", "shipped {{ trigger.text }}")
        .template("no", "kept {{ trigger.text }}")
        .chain(&["start", "h", "r"])
        .when("r", "confirmed", "ok")
        .when("r", "cancelled", "no")
}

#[tokio::test]
async fn human_confirmation_yes_and_no() {
    for t in testing::all("human_confirmation_yes_and_no").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        let slug = h.create(&confirmation_graph("Confirm")).await;
        for (answer, confirmed, route_node, output) in [
            ("yes", true, "ok", "shipped v2"),
            (" Y ", true, "ok", "shipped v2"),
            ("no", false, "no", "kept v2"),
        ] {
            let id = h.execute(&slug, "v2").await;
            let e = h.admin.wait_for(&id, &["interrupted"]).await;
            let pending = &e["pending_confirmation"];
            assert_eq!(pending["node_id"], "h", "[{b}] {e:#}");
            assert_eq!(pending["prompt"], "Ship it?", "[{b}]");
            let conf_id = pending["id"].as_str().expect("confirmation id");
            assert!(
                conf_id.len() == 8 && conf_id.chars().all(|c| c.is_ascii_hexdigit()),
                "[{b}] {conf_id}"
            );
            assert!(runs(&e).is_empty(), "[{b}] nothing ran yet: {e:#}");

            let (status, out) = h
                .admin
                .post(
                    &format!("/api/v1/executions/{id}/resume/"),
                    json!({ "input": answer }),
                )
                .await;
            assert_eq!(status, 200, "[{b}] {out}");
            assert_eq!(out["execution_id"], id.as_str(), "[{b}]");
            // The answer is committed before the workers may finish the run.
            assert!(
                out["status"] == "running" || out["status"] == "completed",
                "[{b}] {out}"
            );
            let e = h.finished(&id).await;
            assert_eq!(e["status"], "completed", "[{b}] {answer}: {e:#}");
            assert_eq!(e["pending_confirmation"], Value::Null, "[{b}]");
            assert_eq!(
                runs(&e),
                rows(&[
                    ("h", "completed"),
                    ("r", "completed"),
                    (route_node, "completed")
                ]),
                "[{b}] {answer}"
            );
            assert_eq!(
                outputs_of(&e, "h"),
                vec![json!({"confirmed": confirmed, "user_response": answer})],
                "[{b}]"
            );
            assert_eq!(
                outputs_of(&e, "r"),
                vec![json!({ "route": if confirmed { "confirmed" } else { "cancelled" } })],
                "[{b}]"
            );
            assert_eq!(
                outputs_of(&e, route_node),
                vec![json!({ "output": output })],
                "[{b}]"
            );
            // Answered once: a second answer finds nothing to answer.
            let (status, body) = h
                .admin
                .post(
                    &format!("/api/v1/executions/{id}/resume/"),
                    json!({"input": "yes"}),
                )
                .await;
            assert_eq!(status, 409, "[{b}] {body}");
            assert_eq!(
                body["detail"], "Execution is not waiting for input.",
                "[{b}]"
            );
        }
    }
}

#[tokio::test]
async fn interrupt_before_a_normal_node() {
    for t in testing::all("interrupt_before_a_normal_node").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        let slug = h
            .create(
                &Graph::new("Gate")
                    .template("pre", "before")
                    .node_body(json!({
                        "node_id": "a",
                        "component_type": "text_template",
                        "interrupt_before": true,
                        "config": {"extra_config": {"template": "A {{ trigger.text }}"}},
                    }))
                    .template("z", "{{ a.output }}!")
                    .chain(&["start", "pre", "a", "z"]),
            )
            .await;

        // Rejected: the execution is cancelled and `a` never runs.
        let id = h.execute(&slug, "t").await;
        let e = h.admin.wait_for(&id, &["interrupted"]).await;
        assert_eq!(
            e["pending_confirmation"]["prompt"],
            "Confirmation required at node 'a' (before execution).",
            "[{b}] {e:#}"
        );
        assert_eq!(e["pending_confirmation"]["node_id"], "a", "[{b}]");
        assert_eq!(runs(&e), rows(&[("pre", "completed")]), "[{b}]");
        let (status, out) = h
            .admin
            .post(
                &format!("/api/v1/executions/{id}/resume/"),
                json!({"input": "no"}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {out}");
        assert_eq!(out["status"], "cancelled", "[{b}] {out}");
        let e = h.admin.execution(&id).await;
        assert_eq!(e["status"], "cancelled", "[{b}]");
        assert_eq!(e["pending_confirmation"], Value::Null, "[{b}]");
        assert_eq!(runs(&e), rows(&[("pre", "completed")]), "[{b}]");
        let jobs = agentry_store::jobs::for_execution(h.db(), &id)
            .await
            .expect("jobs");
        assert!(jobs.is_empty(), "[{b}] {jobs:?}");

        // Confirmed: `a` runs once and the flow goes on.
        let id = h.execute(&slug, "t").await;
        h.admin.wait_for(&id, &["interrupted"]).await;
        let (status, out) = h
            .admin
            .post(
                &format!("/api/v1/executions/{id}/resume/"),
                json!({"input": "confirm"}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {out}");
        let e = h.finished(&id).await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        assert_eq!(
            runs(&e),
            rows(&[("pre", "completed"), ("a", "completed"), ("z", "completed")]),
            "[{b}]"
        );
        assert_eq!(
            outputs_of(&e, "z"),
            vec![json!({"output": "A t!"})],
            "[{b}]"
        );
    }
}

#[tokio::test]
async fn cancel_during_a_wait() {
    for t in testing::all("cancel_during_a_wait").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        let slug = h
            .create(
                &Graph::new("Slow")
                    .node("w", "wait", json!({"duration": 30, "unit": "seconds"}))
                    .template("after", "too late")
                    .chain(&["start", "w", "after"]),
            )
            .await;
        let id = h.execute(&slug, "").await;
        // The wait node has run; its successor is a job due in 30 s.
        let e = h
            .admin
            .wait_until(&id, "the wait node's log row", |e| !runs(e).is_empty())
            .await;
        assert_eq!(e["status"], "running", "[{b}] {e:#}");
        assert_eq!(
            outputs_of(&e, "w"),
            vec![json!({"output": "Waited 30 seconds"})],
            "[{b}]"
        );
        let jobs = agentry_store::jobs::for_execution(h.db(), &id)
            .await
            .expect("jobs");
        assert_eq!(jobs.len(), 1, "[{b}] {jobs:?}");
        assert_eq!(jobs[0].node_id, "after", "[{b}]");

        let started = std::time::Instant::now();
        let (status, out) = h
            .admin
            .post(&format!("/api/v1/executions/{id}/cancel/"), json!({}))
            .await;
        assert_eq!(status, 200, "[{b}] {out}");
        assert_eq!(out["status"], "cancelled", "[{b}] {out}");
        assert!(out["completed_at"].is_string(), "[{b}] {out}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "[{b}]"
        );
        let e = h.admin.execution(&id).await;
        assert_eq!(e["status"], "cancelled", "[{b}]");
        assert_eq!(runs(&e), rows(&[("w", "completed")]), "[{b}]");
        let jobs = agentry_store::jobs::for_execution(h.db(), &id)
            .await
            .expect("jobs");
        assert!(jobs.is_empty(), "[{b}] {jobs:?}");

        // Cancelling again changes nothing.
        let (status, again) = h
            .admin
            .post(&format!("/api/v1/executions/{id}/cancel/"), json!({}))
            .await;
        assert_eq!(status, 200, "[{b}]");
        assert_eq!(again["status"], "cancelled", "[{b}]");
        assert_eq!(again["completed_at"], out["completed_at"], "[{b}]");
    }
}

#[tokio::test]
async fn cancel_cascades_to_a_running_child() {
    for t in testing::all("cancel_cascades_to_a_running_child").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        let child = h
            .create(
                &Graph::child("Slow child")
                    .node("w", "wait", json!({"duration": 30}))
                    .template("after", "too late")
                    .chain(&["start", "w", "after"]),
            )
            .await;
        let parent = h
            .create(
                &Graph::new("Parent")
                    .node("p", "workflow", json!({"target_workflow": child}))
                    .template("after", "too late")
                    .chain(&["start", "p", "after"]),
            )
            .await;
        let id = h.execute(&parent, "").await;
        h.admin
            .wait_until(&id, "the child's start", |e| {
                runs(e) == rows(&[("p", "waiting")])
            })
            .await;
        let kids = h.admin.children(&id).await;
        assert_eq!(kids.len(), 1, "[{b}] {kids:#?}");
        let kid = kids[0]["execution_id"].as_str().expect("id").to_string();
        h.admin
            .wait_until(&kid, "the child's wait node", |e| !runs(e).is_empty())
            .await;

        let (status, out) = h
            .admin
            .post(&format!("/api/v1/executions/{id}/cancel/"), json!({}))
            .await;
        assert_eq!(status, 200, "[{b}] {out}");
        assert_eq!(out["status"], "cancelled", "[{b}]");
        let k = h.admin.execution(&kid).await;
        assert_eq!(k["status"], "cancelled", "[{b}] {k:#}");
        assert_eq!(runs(&k), rows(&[("w", "completed")]), "[{b}]");
        for e in [&id, &kid] {
            let jobs = agentry_store::jobs::for_execution(h.db(), e)
                .await
                .expect("jobs");
            assert!(jobs.is_empty(), "[{b}] {e}: {jobs:?}");
        }
        let p = h.admin.execution(&id).await;
        assert_eq!(runs(&p), rows(&[("p", "waiting")]), "[{b}]");
    }
}

#[tokio::test]
async fn a_running_execution_keeps_its_graph_snapshot() {
    for t in testing::all("a_running_execution_keeps_its_graph_snapshot").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        let slug = h.create(&confirmation_graph("Snapshot")).await;
        let old = h.execute(&slug, "v1").await;
        h.admin.wait_for(&old, &["interrupted"]).await;

        let (status, node) = h
            .admin
            .patch(
                &format!("/api/v1/workflows/{slug}/nodes/ok/"),
                json!({"config": {"extra_config": {"template": "NEW {{ trigger.text }}"}}}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {node}");
        assert_eq!(
            node["config"]["extra_config"]["template"], "NEW {{ trigger.text }}",
            "[{b}]"
        );

        let (status, out) = h
            .admin
            .post(
                &format!("/api/v1/executions/{old}/resume/"),
                json!({"input": "yes"}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {out}");
        let e = h.finished(&old).await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        assert_eq!(
            outputs_of(&e, "ok"),
            vec![json!({"output": "shipped v1"})],
            "[{b}] the execution uses the graph as it was when it started"
        );

        // A new execution sees the edit.
        let new = h.execute(&slug, "v2").await;
        h.admin.wait_for(&new, &["interrupted"]).await;
        h.admin
            .post(
                &format!("/api/v1/executions/{new}/resume/"),
                json!({"input": "yes"}),
            )
            .await;
        let e = h.finished(&new).await;
        assert_eq!(
            outputs_of(&e, "ok"),
            vec![json!({"output": "NEW v2"})],
            "[{b}]"
        );
    }
}

fn signed(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", agentry_service::signature::sign(secret, body))
}

#[tokio::test]
async fn webhooks_start_workflows() {
    for t in testing::all("webhooks_start_workflows").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        let hook = |name: &str, trigger_config: Value| {
            Graph::bare(name)
                .node_body(json!({
                    "node_id": "hook",
                    "component_type": "trigger_webhook",
                    "config": {"trigger_config": trigger_config},
                }))
                .node(
                    "reply",
                    "reply_chat",
                    json!({"message": "{{ trigger.text }} #{{ trigger.payload.n }} via {{ trigger.headers['x-source'] }}"}),
                )
                .edge("hook", "reply")
        };
        let open = h.create(&hook("Open hook", json!({}))).await;
        let secret = h
            .create(&hook("Secret hook", json!({"secret": "s3cret"})))
            .await;
        let http = reqwest::Client::new();
        let post = |slug: &str, query: &str, body: &'static [u8], sig: Option<String>| {
            let mut req = http
                .post(format!("{}/api/v1/webhooks/{slug}/{query}", h.admin.base))
                .header("content-type", "application/json")
                .header("x-source", "tests")
                .body(body);
            if let Some(sig) = sig {
                req = req.header("x-agentry-signature", sig);
            }
            async move {
                let resp = req.send().await.expect("webhook request");
                let status = resp.status().as_u16();
                let body: Value = resp.json().await.expect("json");
                (status, body)
            }
        };
        const BODY: &[u8] = br#"{"text": "ping", "n": 7}"#;

        // No secret: no signature needed.
        let (status, out) = post(&open, "", BODY, None).await;
        assert_eq!(status, 202, "[{b}] {out}");
        let id = out["execution_id"].as_str().expect("id");
        let e = h.finished(id).await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        assert_eq!(
            e["final_output"],
            json!({"output": "ping #7 via tests"}),
            "[{b}]"
        );
        assert_eq!(
            e["trigger_payload"]["payload"],
            json!({"text": "ping", "n": 7}),
            "[{b}]"
        );
        assert_eq!(
            e["trigger_payload"]["headers"]["x-source"], "tests",
            "[{b}]"
        );

        // A secret: missing or wrong signatures are refused, and start nothing.
        let (status, out) = post(&secret, "", BODY, None).await;
        assert_eq!(
            (status, out),
            (401, json!({"detail": "Invalid signature."})),
            "[{b}]"
        );
        let (status, out) = post(&secret, "", BODY, Some(signed("wrong", BODY))).await;
        assert_eq!(
            (status, out),
            (401, json!({"detail": "Invalid signature."})),
            "[{b}]"
        );
        let (_, page) = h
            .admin
            .get(&format!("/api/v1/executions/?workflow_slug={secret}"))
            .await;
        assert_eq!(page["total"], 0, "[{b}] {page}");

        // Signed, and waiting for the result.
        let (status, out) = post(&secret, "?wait=5", BODY, Some(signed("s3cret", BODY))).await;
        assert_eq!(status, 200, "[{b}] {out}");
        assert_eq!(out["status"], "completed", "[{b}] {out}");
        assert_eq!(
            out["output"],
            json!({"output": "ping #7 via tests"}),
            "[{b}]"
        );
        let id = out["execution_id"].as_str().expect("id");
        let e = h.admin.execution(id).await;
        assert_eq!(e["status"], "completed", "[{b}]");
        assert!(
            e["trigger_payload"]["headers"]
                .get("x-agentry-signature")
                .is_none(),
            "[{b}] {e:#}"
        );

        let (status, out) = post("no-such-hook", "", BODY, None).await;
        assert_eq!(
            (status, out),
            (404, json!({"detail": "Webhook not found."})),
            "[{b}]"
        );
    }
}

#[tokio::test]
async fn websocket_follows_an_execution() {
    for t in testing::all("websocket_follows_an_execution").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        let slug = h
            .create(
                &Graph::new("Watched")
                    .template("a", "{{ trigger.text }}")
                    .node_body(json!({
                        "node_id": "b",
                        "component_type": "text_template",
                        "interrupt_before": true,
                        "config": {"extra_config": {"template": "{{ a.output | upper }}"}},
                    }))
                    .chain(&["start", "a", "b"]),
            )
            .await;
        let id = h.execute(&slug, "hey").await;
        h.admin.wait_for(&id, &["interrupted"]).await;
        let channel = format!("execution:{id}");

        // Stored events, replayed from the start.
        let mut replay = Ws::connect(&h.ws_url()).await;
        replay.subscribe(&channel, Some(0)).await;
        let seen = replay.until("execution_interrupted").await;
        let kinds: Vec<String> = seen
            .iter()
            .map(|v| match v["type"].as_str() {
                Some("node_status") => format!(
                    "{}:{}",
                    v["data"]["node_id"].as_str().unwrap_or("?"),
                    v["data"]["status"].as_str().unwrap_or("?")
                ),
                other => other.unwrap_or("?").to_string(),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "execution_started",
                "node_enqueued",
                "a:running",
                "a:success",
                "node_enqueued",
                "execution_interrupted",
            ],
            "[{b}] {seen:#?}"
        );
        for v in &seen {
            assert_eq!(v["execution_id"], id.as_str(), "[{b}] {v}");
        }
        let success = &seen[3]["data"];
        assert_eq!(success["output"], json!({"output": "hey"}), "[{b}]");
        assert_eq!(success["component_type"], "text_template", "[{b}]");
        assert!(success["duration_ms"].is_i64(), "[{b}] {success}");
        assert_eq!(seen[5]["data"], json!({"node_id": "b"}), "[{b}]");

        // Live events after the answer.
        let mut live = Ws::connect(&h.ws_url()).await;
        live.subscribe(&channel, None).await;
        let (status, out) = h
            .admin
            .post(
                &format!("/api/v1/executions/{id}/resume/"),
                json!({"input": "yes"}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {out}");
        let seen = live.until("execution_completed").await;
        let statuses: Vec<(String, String)> = seen
            .iter()
            .filter(|v| v["type"] == "node_status")
            .map(|v| {
                (
                    v["data"]["node_id"].as_str().unwrap_or("?").to_string(),
                    v["data"]["status"].as_str().unwrap_or("?").to_string(),
                )
            })
            .collect();
        assert_eq!(
            statuses,
            rows(&[("b", "running"), ("b", "success")]),
            "[{b}] {seen:#?}"
        );
        let done = seen.last().expect("a frame");
        assert_eq!(done["execution_id"], id.as_str(), "[{b}]");
        let expected_output = json!({"node_outputs": {
            "start": {"text": "hey"},
            "a": {"output": "hey"},
            "b": {"output": "HEY"},
        }});
        assert_eq!(done["data"]["output"], expected_output, "[{b}] {done}");
        assert_eq!(
            done["data"]["activity_summary"]["total_steps"], 2,
            "[{b}] {done}"
        );
        let e = h.admin.execution(&id).await;
        assert_eq!(e["final_output"], expected_output, "[{b}]");
    }
}

#[tokio::test]
async fn a_loop_runs_one_child_per_iteration() {
    for t in testing::all("a_loop_runs_one_child_per_iteration").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        let child = h
            .create(
                &Graph::child("Per item")
                    .template("c1", "C({{ trigger.text }})")
                    .node("c2", "reply_chat", json!({"message": "{{ c1.output }}"}))
                    .chain(&["start", "c1", "c2"]),
            )
            .await;
        let slug = h
            .create(
                &Graph::new("Fan out children")
                    .code("items", "return ['x', 'y', 'z']")
                    .node(
                        "l",
                        "loop",
                        json!({"source_node": "items", "field": "output"}),
                    )
                    .node(
                        "w",
                        "workflow",
                        json!({"target_workflow": child, "input_mapping": {"text": "loop.item"}}),
                    )
                    .chain(&["start", "items", "l"])
                    .labelled("l", "loop_body", "w"),
            )
            .await;
        let e = h.run(&slug, "").await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        // Each iteration gets its own child and its own result (deliver-once).
        assert_eq!(
            e["final_output"]["node_outputs"]["l"]["results"],
            json!([
                {"w": {"output": {"output": "C(x)"}}},
                {"w": {"output": {"output": "C(y)"}}},
                {"w": {"output": {"output": "C(z)"}}},
            ]),
            "[{b}]"
        );
        assert_eq!(
            runs(&e),
            rows(&[
                ("items", "completed"),
                ("l", "completed"),
                ("w", "waiting"),
                ("w", "completed"),
                ("w", "waiting"),
                ("w", "completed"),
                ("w", "waiting"),
                ("w", "completed"),
            ]),
            "[{b}]"
        );
        let id = e["execution_id"].as_str().expect("id");
        let mut texts: Vec<String> = Vec::new();
        for kid in h.admin.children(id).await {
            assert_eq!(kid["parent_node_id"], "w", "[{b}]");
            assert_eq!(kid["status"], "completed", "[{b}]");
            let d = h
                .admin
                .execution(kid["execution_id"].as_str().expect("id"))
                .await;
            assert_eq!(
                d["trigger_payload"].as_object().map(|o| o.len()),
                Some(1),
                "[{b}] only the mapped input: {d:#}"
            );
            texts.push(d["trigger_payload"]["text"].as_str().expect("text").into());
        }
        texts.sort();
        assert_eq!(texts, ["x", "y", "z"], "[{b}]");
    }
}

#[tokio::test]
async fn a_failed_child_reports_to_its_parent() {
    for t in testing::all("a_failed_child_reports_to_its_parent").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        let child = h
            .create(
                &Graph::child("Broken child")
                    .template("x", "{{ nobody.output }}")
                    .chain(&["start", "x"]),
            )
            .await;
        let slug = h
            .create(
                &Graph::new("Parent of broken")
                    .node("w", "workflow", json!({"target_workflow": child}))
                    .template("after", "went on")
                    .chain(&["start", "w", "after"]),
            )
            .await;
        let e = h.run(&slug, "").await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        let id = e["execution_id"].as_str().expect("id");
        let kids = h.admin.children(id).await;
        assert_eq!(kids.len(), 1, "[{b}]");
        assert_eq!(kids[0]["status"], "failed", "[{b}]");
        let child_error = kids[0]["error_message"]
            .as_str()
            .expect("error")
            .to_string();
        assert!(
            child_error.starts_with("Node x: Template error: "),
            "[{b}] {child_error}"
        );
        assert_eq!(
            outputs_of(&e, "w"),
            vec![json!({"output": {"_error": format!("Child execution failed: {child_error}")}})],
            "[{b}]"
        );
        assert_eq!(
            outputs_of(&e, "after"),
            vec![json!({"output": "went on"})],
            "[{b}]"
        );
    }
}

#[tokio::test]
async fn other_branches_run_while_interrupted() {
    for t in testing::all("other_branches_run_while_interrupted").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        // start → h (human) → after_h ; start → side (slow code) → side2
        let slug = h
            .create(
                &Graph::new("Parallel gate")
                    .node("h", "human_confirmation", json!({}))
                    .template("after_h", "{{ h.confirmed }}")
                    .code("side", "import time\ntime.sleep(0.3)\nreturn 'side'")
                    .template("side2", "{{ side.output }}2")
                    .chain(&["start", "h", "after_h"])
                    .chain(&["start", "side", "side2"]),
            )
            .await;
        let id = h.execute(&slug, "").await;
        let e = h
            .admin
            .wait_until(&id, "the side branch done while interrupted", |e| {
                e["status"] == "interrupted" && !outputs_of(e, "side2").is_empty()
            })
            .await;
        assert_eq!(
            e["pending_confirmation"]["prompt"], "Please confirm to proceed.",
            "[{b}]"
        );
        assert_eq!(
            runs(&e),
            rows(&[("side", "completed"), ("side2", "completed")]),
            "[{b}]"
        );
        // The execution did not finish with the human node still waiting.
        assert_eq!(e["completed_at"], Value::Null, "[{b}] {e:#}");
        let (status, out) = h
            .admin
            .post(
                &format!("/api/v1/executions/{id}/resume/"),
                json!({"input": "1"}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {out}");
        let e = h.finished(&id).await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        assert_eq!(
            runs(&e),
            rows(&[
                ("side", "completed"),
                ("side2", "completed"),
                ("h", "completed"),
                ("after_h", "completed"),
            ]),
            "[{b}]"
        );
        assert_eq!(
            outputs_of(&e, "after_h"),
            vec![json!({"output": "True"})],
            "[{b}] Jinja2 prints booleans as Python does"
        );

        // Cancelling an interrupted execution drops its confirmation.
        let id = h.execute(&slug, "").await;
        h.admin.wait_for(&id, &["interrupted"]).await;
        let (status, out) = h
            .admin
            .post(&format!("/api/v1/executions/{id}/cancel/"), json!({}))
            .await;
        assert_eq!(
            (status, &out["status"]),
            (200, &json!("cancelled")),
            "[{b}] {out}"
        );
        let e = h.admin.execution(&id).await;
        assert_eq!(e["pending_confirmation"], Value::Null, "[{b}]");
        let (status, body) = h
            .admin
            .post(
                &format!("/api/v1/executions/{id}/resume/"),
                json!({"input": "yes"}),
            )
            .await;
        assert_eq!(status, 409, "[{b}] {body}");
        assert!(
            agentry_store::jobs::for_execution(h.db(), &id)
                .await
                .expect("jobs")
                .is_empty(),
            "[{b}]"
        );
    }
}

#[tokio::test]
async fn loop_on_error_continue_records_the_failure() {
    for t in testing::all("loop_on_error_continue_records_the_failure").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        let slug = h
            .create(
                &Graph::new("Tolerant loop")
                    .code("items", "return [{'v': 1}, 'plain', {'v': 3}]")
                    .node(
                        "l",
                        "loop",
                        json!({"source_node": "items", "field": "output", "on_error": "continue"}),
                    )
                    .template("body", "v={{ loop.item.v }}")
                    .template("after", "{{ l.results | length }}")
                    .chain(&["start", "items", "l", "after"])
                    .labelled("l", "loop_body", "body"),
            )
            .await;
        let e = h.run(&slug, "").await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        let results = &e["final_output"]["node_outputs"]["l"]["results"];
        assert_eq!(results[0], json!({"body": {"output": "v=1"}}), "[{b}]");
        assert_eq!(results[2], json!({"body": {"output": "v=3"}}), "[{b}]");
        assert_eq!(
            results[1]["body"]["error_code"], "template_error",
            "[{b}] {results}"
        );
        let err = results[1]["body"]["error"].as_str().expect("error");
        assert!(err.starts_with("Template error: "), "[{b}] {err}");
        assert_eq!(results.as_array().map(Vec::len), Some(3), "[{b}]");
        assert_eq!(
            runs(&e),
            rows(&[
                ("items", "completed"),
                ("l", "completed"),
                ("body", "completed"),
                ("body", "failed"),
                ("body", "completed"),
                ("after", "completed"),
            ]),
            "[{b}]"
        );
        assert_eq!(
            outputs_of(&e, "after"),
            vec![json!({"output": "3"})],
            "[{b}]"
        );
    }
}

#[tokio::test]
async fn transient_failures_are_retried_then_fail() {
    for t in testing::all("transient_failures_are_retried_then_fail").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        // Nothing listens on port 1: every attempt is refused at once.
        let slug = h
            .create(
                &Graph::new("Unreachable")
                    .node(
                        "call",
                        "http_request",
                        json!({"url": "http://127.0.0.1:1/ping"}),
                    )
                    .template("after", "never")
                    .chain(&["start", "call", "after"]),
            )
            .await;
        let started = std::time::Instant::now();
        let e = h.run(&slug, "").await;
        let took = started.elapsed();
        assert_eq!(e["status"], "failed", "[{b}] {e:#}");
        // The first attempt and 3 retries after 1, 2 and 4 s.
        assert_eq!(runs(&e), rows(&[("call", "failed"); 4]), "[{b}] {e:#}");
        assert!(took >= std::time::Duration::from_secs(7), "[{b}] {took:?}");
        let last = logs(&e).pop().expect("a row");
        assert_eq!(last["error_code"], "http_error", "[{b}]");
        let err = last["error"].as_str().expect("error");
        assert!(err.contains("http://127.0.0.1:1/ping"), "[{b}] {err}");
        assert_eq!(e["error_message"], format!("Node call: {err}"), "[{b}]");
    }
}

#[tokio::test]
async fn wall_clock_limit_fails_the_execution() {
    for t in testing::all("wall_clock_limit_fails_the_execution").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        let slug = h
            .create(
                &Graph::new("Too slow")
                    .with("max_execution_seconds", json!(1))
                    .code("slow", "import time\ntime.sleep(1.5)\nreturn 'done'")
                    .template("next", "never")
                    .chain(&["start", "slow", "next"]),
            )
            .await;
        let e = h.run(&slug, "").await;
        assert_eq!(e["status"], "failed", "[{b}] {e:#}");
        let msg = e["error_message"].as_str().expect("error");
        let secs: u64 = msg
            .strip_prefix("Execution timed out after ")
            .and_then(|rest| rest.strip_suffix("s (limit: 1s)"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("[{b}] {msg}"));
        assert!(secs >= 1, "[{b}] {msg}");
        assert_eq!(runs(&e), rows(&[("slow", "completed")]), "[{b}]");
        let id = e["execution_id"].as_str().expect("id");
        let events = agentry_store::events::list_after(h.db(), &format!("execution:{id}"), 0, 1000)
            .await
            .expect("events");
        let failed: Vec<&Value> = events
            .iter()
            .filter(|e| e.kind == "execution_failed")
            .map(|e| &e.data.0)
            .collect();
        assert_eq!(
            failed,
            [&json!({"error": msg, "error_code": "timeout"})],
            "[{b}]"
        );
    }
}

#[tokio::test]
async fn loop_paths_that_end_early_close_the_iteration() {
    for t in testing::all("loop_paths_that_end_early_close_the_iteration").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        // A switch in the body skips small items: their path ends before the return node.
        let skip = h
            .create(
                &Graph::new("Skipping loop")
                    .code("items", "return [1, 2, 3]")
                    .node(
                        "l",
                        "loop",
                        json!({"source_node": "items", "field": "output"}),
                    )
                    .node(
                        "s",
                        "switch",
                        json!({"rules": [{"id": "keep", "field": "loop.item", "operator": "gt", "value": 1}]}),
                    )
                    .template("p", "p{{ loop.item }}")
                    .template("after", "{{ l.results | length }}")
                    .chain(&["start", "items", "l", "after"])
                    .labelled("l", "loop_body", "s")
                    .when("s", "keep", "p")
                    .labelled("p", "loop_return", "l"),
            )
            .await;
        let e = h.run(&skip, "").await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        assert_eq!(
            e["final_output"]["node_outputs"]["l"]["results"],
            json!([{}, {"p": {"output": "p2"}}, {"p": {"output": "p3"}}]),
            "[{b}]"
        );
        assert_eq!(
            outputs_of(&e, "after"),
            vec![json!({"output": "3"})],
            "[{b}]"
        );

        // Without `loop_return` edges the body target is the completion node; the rest of
        // its path still runs inside the same iteration.
        let chain = h
            .create(
                &Graph::new("Loop without returns")
                    .code("items", "return [1, 2]")
                    .node(
                        "l",
                        "loop",
                        json!({"source_node": "items", "field": "output"}),
                    )
                    .template("a", "a{{ loop.item }}")
                    .template("b", "b{{ a.output }}/{{ loop.item }}")
                    .chain(&["start", "items", "l"])
                    .labelled("l", "loop_body", "a")
                    .edge("a", "b"),
            )
            .await;
        let e = h.run(&chain, "").await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        assert_eq!(
            e["final_output"]["node_outputs"]["l"]["results"],
            json!([{"a": {"output": "a1"}}, {"a": {"output": "a2"}}]),
            "[{b}]"
        );
        assert_eq!(
            completed(&e),
            ["items", "l", "a", "b", "a", "b"],
            "[{b}] iterations run one after the other"
        );
        assert_eq!(
            outputs_of(&e, "b"),
            vec![json!({"output": "ba1/1"}), json!({"output": "ba2/2"})],
            "[{b}]"
        );
    }
}
