//! Workflow discovery (discovery.md) on each backend: tiers with exact scores, gap lists,
//! metrics over a known execution history, scoping between two users, full-text ranking, and
//! the `workflow_discover` tool driven by the fake provider.

use crate::agent::{agent_workflow, messages, wait_for, world};
use agentry_llm::fake::Reply;
use agentry_service::discovery::{DiscoverIn, DiscoverItem, DiscoverScope};
use agentry_service::registry::Scope;
use agentry_service::{Caller, Services};
use agentry_store::{executions, testing};
use serde_json::{Value, json};
use std::collections::HashMap;

type Nodes<'a> = &'a [(&'a str, &'a str)];
type Edges<'a> = &'a [(&'a str, &'a str, &'a str)];

async fn build(
    s: &Services,
    who: &Caller,
    name: &str,
    extra: Value,
    nodes: Nodes<'_>,
    edges: Edges<'_>,
) -> (i64, String) {
    let mut body = json!({"name": name});
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    let wf = s
        .create_workflow(who, serde_json::from_value(body).expect("wf in"))
        .await
        .expect("workflow");
    for (id, ct) in nodes {
        s.create_node(
            who,
            &wf.slug,
            serde_json::from_value(json!({"node_id": id, "component_type": ct})).expect("node in"),
        )
        .await
        .expect("node");
    }
    for (a, b, label) in edges {
        s.create_edge(
            who,
            &wf.slug,
            serde_json::from_value(
                json!({"source_node_id": a, "target_node_id": b, "edge_label": label}),
            )
            .expect("edge in"),
        )
        .await
        .expect("edge");
    }
    (wf.id, wf.slug)
}

/// An execution of `workflow_id` that ends `status` after running from `start` to `end`,
/// costing `cost`.
async fn history(
    s: &Services,
    workflow_id: i64,
    slug: &str,
    status: &str,
    times: Option<(i64, i64)>,
    cost: f64,
) {
    let id = ulid::Ulid::generate().to_string();
    let empty = json!({});
    let mut tx = s.db.begin().await.expect("tx");
    executions::insert(
        &mut tx,
        executions::NewExecution {
            id: &id,
            workflow_id,
            workflow_slug: slug,
            user_profile_id: None,
            trigger_node_id: None,
            trigger_payload: &empty,
            snapshot: &empty,
            state: &empty,
            book: &empty,
            parent_execution_id: None,
            parent_node_id: "",
            root_execution_id: &id,
            spawn_key: None,
            now: 1,
        },
    )
    .await
    .expect("insert");
    let (start, end) = times.map_or((None, 9), |(a, b)| (Some(a), b));
    executions::save(&mut tx, &id, "running", &empty, &empty, start)
        .await
        .expect("save");
    if status != "running" {
        let totals = executions::Totals {
            cost_usd: cost,
            ..Default::default()
        };
        executions::finish(&mut tx, &id, status, None, "", totals, end)
            .await
            .expect("finish");
    }
    tx.commit().await.expect("commit");
}

async fn discover(
    s: &Services,
    scope: Scope,
    exclude_id: Option<i64>,
    body: Value,
) -> (HashMap<String, DiscoverItem>, Vec<String>, i64) {
    let input: DiscoverIn = serde_json::from_value(body).expect("discover in");
    let out = s
        .discover_workflows(
            DiscoverScope {
                scope,
                exclude_id,
                exclude_slug: None,
            },
            input,
        )
        .await
        .expect("discover");
    let order = out.items.iter().map(|i| i.slug.clone()).collect();
    let map = out.items.into_iter().map(|i| (i.slug.clone(), i)).collect();
    (map, order, out.total)
}

#[tokio::test]
async fn discover_scores_tiers_gaps_metrics_scope_and_text_rank() {
    for t in testing::all("discover_scores").await {
        let w = world(t.db.clone()).await;
        let name = t.db.backend_name();
        let s = &w.services;
        let mut users = vec![];
        for u in ["alice", "bob"] {
            s.create_user(
                serde_json::from_value(json!({"username": u, "password": "password1"}))
                    .expect("user"),
            )
            .await
            .expect("create user");
            let key = s.login(u, "password1").await.expect("login").key;
            users.push(s.authenticate(&key).await.expect("auth"));
        }
        let (alice, bob) = (&users[0], &users[1]);

        // Full match, one completed run.
        let (full_id, full) = build(
            s,
            alice,
            "Chat Helper",
            json!({"tags": ["automation"]}),
            &[
                ("t", "trigger_chat"),
                ("a", "agent"),
                ("ws", "web_search"),
                ("u", "trigger_manual"),
            ],
            &[("t", "a", ""), ("ws", "a", "tool")],
        )
        .await;
        history(s, full_id, &full, "completed", Some((100, 300)), 0.5).await;
        // Two of three capabilities, two completed runs.
        let (half_id, half) = build(
            s,
            alice,
            "Half Helper",
            json!({}),
            &[("t", "trigger_chat"), ("a", "agent")],
            &[("t", "a", "")],
        )
        .await;
        history(s, half_id, &half, "completed", Some((0, 1000)), 0.0).await;
        history(s, half_id, &half, "completed", Some((0, 3000)), 0.0).await;
        // Nothing matching; one completed and one failed counted, the rest ignored.
        let (code_id, code) = build(
            s,
            alice,
            "Code Runner",
            json!({}),
            &[
                ("t", "trigger_manual"),
                ("c", "code"),
                ("h", "http_request"),
            ],
            &[("t", "c", ""), ("c", "h", "")],
        )
        .await;
        history(s, code_id, &code, "completed", Some((1000, 1500)), 0.02).await;
        history(s, code_id, &code, "failed", Some((2000, 2300)), 0.04).await;
        history(s, code_id, &code, "failed", None, 0.0).await;
        history(s, code_id, &code, "cancelled", Some((0, 99_999)), 9.0).await;
        history(s, code_id, &code, "running", Some((0, 0)), 0.0).await;
        // Bob: one private (never Alice's), one public (Alice's too).
        let (_, bob_private) = build(
            s,
            bob,
            "Bob Chat Helper",
            json!({"tags": ["automation"]}),
            &[("t", "trigger_chat"), ("a", "agent"), ("ws", "web_search")],
            &[("t", "a", ""), ("ws", "a", "tool")],
        )
        .await;
        let (_, bob_public) = build(
            s,
            bob,
            "Bob Public Calc",
            json!({"is_public": true}),
            &[
                ("t", "trigger_webhook"),
                ("a", "agent"),
                ("k", "calculator"),
            ],
            &[("t", "a", ""), ("k", "a", "tool")],
        )
        .await;
        // Inactive: never a candidate.
        build(s, alice, "Sleeping", json!({"is_active": false}), &[], &[]).await;

        let req = json!({"requirements": {"triggers": ["chat"], "node_types": ["agent"],
            "tools": ["web_search"], "tags": ["automation"]}, "limit": 50});
        let (got, order, total) = discover(s, Scope::owner(alice.user_id), None, req.clone()).await;
        assert_eq!(total, 4, "{name}: alice's 3 active + bob's public");
        assert!(
            !got.contains_key(&bob_private),
            "{name}: bob's private workflow"
        );
        assert_eq!(
            order,
            [full.clone(), half.clone(), bob_public.clone(), code.clone()],
            "{name}"
        );

        let f = &got[&full];
        assert_eq!(
            (f.match_score, json!(f.recommendation)),
            (1.0, json!("reuse")),
            "{name}"
        );
        assert_eq!(
            f.has_capabilities.triggers,
            ["chat"],
            "unwired manual trigger left out"
        );
        assert_eq!(f.has_capabilities.tools, ["web_search"]);
        assert_eq!((f.execution_count, f.success_rate), (1, Some(1.0)));
        assert_eq!((f.avg_duration_ms, f.avg_cost_usd), (Some(200), Some(0.5)));

        // 0.8·2/3 + 0.1·0 + 0.1·1
        let h = &got[&half];
        assert_eq!(
            (h.match_score, json!(h.recommendation)),
            (0.6333, json!("fork_and_patch")),
            "{name}"
        );
        assert_eq!(h.missing_capabilities.tools, ["web_search"]);
        assert!(
            h.missing_capabilities.triggers.is_empty()
                && h.extra_capabilities.node_types.is_empty()
        );
        assert_eq!((h.execution_count, h.avg_duration_ms), (2, Some(2000)));
        assert_eq!(json!(h.missing), json!(h.missing_capabilities));

        // 0.8·1/3 + 0 + 0.1·0.5 (no history)
        let b = &got[&bob_public];
        assert_eq!(
            (b.match_score, json!(b.recommendation)),
            (0.3167, json!("create_new")),
            "{name}"
        );
        assert_eq!(b.extra_capabilities.triggers, ["webhook"]);
        assert_eq!(b.extra_capabilities.tools, ["calculator"]);
        assert_eq!(
            (b.execution_count, b.success_rate, b.avg_cost_usd),
            (0, None, None)
        );

        // 0 + 0 + 0.1·1/3: completed + failed counted (3), a failed one without start has no
        // duration; cancelled and running ignored.
        let c = &got[&code];
        assert_eq!(
            (c.match_score, json!(c.recommendation)),
            (0.0333, json!("create_new")),
            "{name}"
        );
        assert_eq!(c.missing_capabilities.triggers, ["chat"]);
        assert_eq!(c.missing_capabilities.node_types, ["agent"]);
        assert_eq!(c.extra_capabilities.triggers, ["manual"]);
        assert_eq!(
            c.extra_capabilities.node_types,
            ["code", "http_request"],
            "unwired http_request is a step"
        );
        assert_eq!(
            (c.execution_count, c.success_rate),
            (3, Some(1.0 / 3.0)),
            "{name}"
        );
        assert_eq!(c.avg_duration_ms, Some(400));
        assert!(
            (c.avg_cost_usd.expect("cost") - 0.02).abs() < 1e-9,
            "{name}: {:?}",
            c.avg_cost_usd
        );

        // Bob sees his private one; the calling workflow is excluded; admins see everything.
        let (got, _, total) = discover(s, Scope::owner(bob.user_id), None, req.clone()).await;
        assert_eq!(total, 2, "{name}");
        assert_eq!(
            got[&bob_private].match_score, 0.95,
            "{name}: 0.8 + 0.1 + 0.1·0.5"
        );
        let (got, _, total) =
            discover(s, Scope::owner(alice.user_id), Some(full_id), req.clone()).await;
        assert_eq!(total, 3, "{name}");
        assert!(!got.contains_key(&full));
        let (_, _, total) = discover(s, Scope::of(&w.caller), None, req.clone()).await;
        assert_eq!(total, 5, "{name}: admin sees every active workflow");
        let (_, order, _) =
            discover(s, Scope::owner(alice.user_id), None, json!({"limit": 2})).await;
        assert_eq!(order.len(), 2);

        // Text: only hits when nothing else is asked; more occurrences rank first at equal scores.
        let (one, one_slug) = build(
            s,
            alice,
            "Mailer",
            json!({"description": "Sends the monthly invoice by mail"}),
            &[],
            &[],
        )
        .await;
        let (_, two) = build(s, alice, "Invoice Parser",
            json!({"description": "Parses invoice PDFs and checks invoice totals", "tags": ["invoice"]}), &[], &[]).await;
        let (got, order, total) = discover(
            s,
            Scope::owner(alice.user_id),
            None,
            json!({"query": "invoices"}),
        )
        .await;
        assert_eq!(
            order,
            [two.clone(), one_slug.clone()],
            "{name}: ranked by relevance"
        );
        assert_eq!(total, 6, "{name}: total counts every candidate");
        assert_eq!(
            got[&two].match_score, 1.0,
            "{name}: 0.8 + 0.1 + 0.05 + query bonus"
        );
        // The query in requirements works the same; a top-level one wins.
        let (_, order, _) = discover(
            s,
            Scope::owner(alice.user_id),
            None,
            json!({"requirements": {"query": "nothing-here"}, "query": "monthly"}),
        )
        .await;
        assert_eq!(order, vec![one_slug], "{name}");
        let _ = one;

        // Capabilities follow edits: a web_search tool wired to Half's agent completes its
        // match; deleting a workflow (cascading its nodes) removes it.
        let (got, _, _) = discover(s, Scope::owner(alice.user_id), None, req.clone()).await;
        assert_eq!(got[&half].match_score, 0.6333, "{name}: cached");
        s.create_node(
            alice,
            &half,
            serde_json::from_value(json!({"node_id": "ws", "component_type": "web_search"}))
                .expect("n"),
        )
        .await
        .expect("node");
        s.create_edge(
            alice,
            &half,
            serde_json::from_value(
                json!({"source_node_id": "ws", "target_node_id": "a", "edge_label": "tool"}),
            )
            .expect("e"),
        )
        .await
        .expect("edge");
        s.delete_workflow(alice, &code).await.expect("delete");
        let (got, _, total) = discover(s, Scope::owner(alice.user_id), None, req.clone()).await;
        // 0.8·1 + 0.1·0 + 0.1·1
        assert_eq!(
            got[&half].match_score, 0.9,
            "{name}: recomputed after the edit"
        );
        assert_eq!(got[&half].has_capabilities.tools, ["web_search"]);
        assert!(!got.contains_key(&code), "{name}");
        assert_eq!(total, 5, "{name}");

        // Bad input names the field.
        let err = s
            .discover_workflows(
                DiscoverScope {
                    scope: Scope::owner(alice.user_id),
                    exclude_id: None,
                    exclude_slug: None,
                },
                serde_json::from_value(json!({"requirements": {"tools": 5}})).expect("in"),
            )
            .await
            .expect_err("bad tools");
        assert!(err.to_string().contains("requirements.tools"), "{err}");
    }
}

#[tokio::test]
async fn workflow_discover_tool_answers_the_model() {
    for t in testing::all("workflow_discover_tool").await {
        let w = world(t.db.clone()).await;
        let name = t.db.backend_name();
        let host = agent_workflow(&w, "finder", &["workflow_discover"], json!({})).await;
        let (_, target) = build(
            &w.services,
            &w.caller,
            "Chat Bot",
            json!({"tags": ["bot"]}),
            &[("t", "trigger_chat"), ("a", "agent")],
            &[("t", "a", "")],
        )
        .await;
        w.fake.push(Reply::tool_calls(vec![
            (
                "c1",
                "workflow_discover",
                json!({"requirements": "{\"triggers\": [\"trigger_chat\"], \"node_types\": [\"agent\"], \"tags\": [\"bot\"]}", "limit": 1}),
            ),
            ("c2", "workflow_discover", json!({"requirements": "{nope"})),
            ("c3", "workflow_discover", json!({"requirements": "[1, 2]"})),
        ]));
        w.fake.push(Reply::text("Found it."));
        let id = w
            .services
            .execute(&w.caller, &host, "find a chat bot".into(), None)
            .await
            .expect("execute");
        let row = wait_for(&w, &id, &["completed", "failed"]).await;
        assert_eq!(row.status, "completed", "{name}: {}", row.error_message);
        let bodies = w.fake.chat_bodies();
        let answers: Vec<Value> = messages(&bodies[1])
            .iter()
            .filter(|m| m["role"] == "tool")
            .map(|m| {
                serde_json::from_str(m["content"].as_str().unwrap_or("")).expect("json answer")
            })
            .collect();
        let ok = &answers[0];
        assert_eq!(ok["success"], json!(true), "{name}: {ok}");
        assert_eq!(
            ok["total_searched"],
            json!(1),
            "{name}: the host is excluded: {ok}"
        );
        let m = &ok["matches"][0];
        assert_eq!(m["slug"], json!(target));
        assert_eq!(m["match_score"], json!(0.95), "{name}: 0.8 + 0.1 + 0.05");
        assert_eq!(m["recommendation"], json!("reuse"));
        assert_eq!(m["has"]["triggers"], json!(["chat"]));
        assert_eq!(answers[1]["success"], json!(false));
        assert!(
            answers[1]["error"]
                .as_str()
                .unwrap_or("")
                .starts_with("Invalid JSON: "),
            "{}",
            answers[1]
        );
        assert_eq!(
            answers[2],
            json!({"success": false, "error": "requirements must be a JSON object"})
        );
    }
}
