//! api.md §10: the global socket `/ws/?token=`: auth, subscriptions, envelopes, replay.

use crate::support::{Frame, TestServer, Ws};
use agentry_store::testing;
use serde_json::{Value, json};
use std::collections::BTreeSet;

const CHANNEL: &str = "workflow:flow";

/// Asserts the resource-event envelope and returns its id.
fn check_envelope(event: &Value, kind: &str, channel: &str, data: &Value) -> i64 {
    assert_eq!(event["type"], json!(kind), "{event}");
    assert_eq!(event["channel"], json!(channel), "{event}");
    assert_eq!(&event["data"], data, "{kind}");
    let keys: BTreeSet<&str> = event
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["type", "channel", "timestamp", "data", "id"]),
        "{event}"
    );
    let ts = event["timestamp"]
        .as_f64()
        .expect("timestamp in unix seconds");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    assert!(
        (now - ts).abs() < 300.0,
        "timestamp {ts} is about now ({now})"
    );
    event["id"].as_i64().expect("an integer id")
}

#[tokio::test]
async fn bad_tokens_close_with_1008() {
    for db in testing::all("bad_tokens_close_with_1008").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        let (_, key) = admin
            .post("/api/v1/users/me/keys", json!({"name": "soon revoked"}))
            .await;
        let revoked = key["key"].as_str().expect("key").to_string();
        let id = key["id"].as_i64().expect("id");
        assert_eq!(
            admin.delete(&format!("/api/v1/users/me/keys/{id}")).await.0,
            204
        );

        let ws_base = s.base.replacen("http://", "ws://", 1);
        let urls = [
            s.ws_url("garbage"),
            s.ws_url(&revoked),
            s.ws_url(""),
            format!("{ws_base}/ws/"),
            format!("{ws_base}/ws"),
        ];
        for url in urls {
            let mut ws = Ws::connect_url(&url).await;
            match ws.next_frame().await {
                Frame::Close { code, reason } => {
                    assert_eq!(code, 1008, "[{b}] {url}");
                    assert_eq!(reason, "Invalid or missing token", "[{b}] {url}");
                }
                other => panic!("[{b}] {url}: expected a close frame, got {other:?}"),
            }
        }

        // A good token gets a working session, with and without the slash.
        let mut ws = Ws::connect(&s, admin.token()).await;
        ws.subscribe("workflow:anything").await;
        let url = format!("{ws_base}/ws?token={}", admin.token());
        let mut ws = Ws::connect_url(&url).await;
        ws.subscribe("workflow:anything").await;
    }
}

#[tokio::test]
async fn workflow_events_arrive_in_order() {
    for db in testing::all("workflow_events_arrive_in_order").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        let alice = s.user(&admin, "alice").await;
        alice.create_workflow(json!({"name": "flow"})).await;

        let mut ws = Ws::connect(&s, alice.token()).await;
        ws.subscribe(CHANNEL).await;
        ws.subscribe(CHANNEL).await; // idempotent

        let mut ids = vec![];
        let a = alice
            .create_node("flow", json!({"node_id": "a", "component_type": "code"}))
            .await;
        ids.push(check_envelope(
            &ws.recv().await,
            "node_created",
            CHANNEL,
            &a,
        ));
        let c = alice
            .create_node("flow", json!({"node_id": "c", "component_type": "code"}))
            .await;
        ids.push(check_envelope(
            &ws.recv().await,
            "node_created",
            CHANNEL,
            &c,
        ));

        let (_, a2) = alice
            .patch(
                "/api/v1/workflows/flow/nodes/a/",
                json!({"label": "A", "position_x": 7}),
            )
            .await;
        ids.push(check_envelope(
            &ws.recv().await,
            "node_updated",
            CHANNEL,
            &a2,
        ));

        let e = alice
            .create_edge(
                "flow",
                json!({"source_node_id": "a", "target_node_id": "c"}),
            )
            .await;
        ids.push(check_envelope(
            &ws.recv().await,
            "edge_created",
            CHANNEL,
            &e,
        ));

        let (_, e2) = alice
            .patch(
                &format!("/api/v1/workflows/flow/edges/{}/", e["id"]),
                json!({"priority": 4}),
            )
            .await;
        ids.push(check_envelope(
            &ws.recv().await,
            "edge_updated",
            CHANNEL,
            &e2,
        ));

        // Deleting a node removes its edges: both deletions are announced.
        assert_eq!(alice.delete("/api/v1/workflows/flow/nodes/c/").await.0, 204);
        ids.push(check_envelope(
            &ws.recv().await,
            "edge_deleted",
            CHANNEL,
            &json!({"id": e["id"]}),
        ));
        ids.push(check_envelope(
            &ws.recv().await,
            "node_deleted",
            CHANNEL,
            &json!({"node_id": "c"}),
        ));

        let (status, wf) = alice
            .patch("/api/v1/workflows/flow/", json!({"description": "changed"}))
            .await;
        assert_eq!(status, 200, "[{b}]");
        ids.push(check_envelope(
            &ws.recv().await,
            "workflow_updated",
            CHANNEL,
            &wf,
        ));

        // Strictly increasing ids, no duplicates from the double subscribe.
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "[{b}] {ids:?}");

        // A change to another workflow is not delivered: the next frame is ours.
        alice.create_workflow(json!({"name": "other"})).await;
        alice
            .create_node("other", json!({"node_id": "x", "component_type": "code"}))
            .await;
        let d = alice
            .create_node("flow", json!({"node_id": "d", "component_type": "code"}))
            .await;
        let id = check_envelope(&ws.recv().await, "node_created", CHANNEL, &d);
        assert!(
            id > ids[ids.len() - 1] + 1,
            "[{b}] other channels' events took ids"
        );
    }
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    for db in testing::all("unsubscribe_stops_delivery").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        admin.create_workflow(json!({"name": "one"})).await;
        admin.create_workflow(json!({"name": "two"})).await;

        let mut ws = Ws::connect(&s, admin.token()).await;
        ws.subscribe("workflow:one").await;
        ws.subscribe("workflow:two").await;

        let n1 = admin
            .create_node("one", json!({"node_id": "n1", "component_type": "code"}))
            .await;
        check_envelope(&ws.recv().await, "node_created", "workflow:one", &n1);

        ws.send(json!({"type": "unsubscribe", "channel": "workflow:one"}))
            .await;
        assert_eq!(
            ws.recv().await,
            json!({"type": "unsubscribed", "channel": "workflow:one"}),
            "[{b}]"
        );

        // Events are delivered in commit order, so if `one`'s event were forwarded it would
        // come before `two`'s.
        admin
            .create_node("one", json!({"node_id": "n2", "component_type": "code"}))
            .await;
        let m = admin
            .create_node("two", json!({"node_id": "m", "component_type": "code"}))
            .await;
        check_envelope(&ws.recv().await, "node_created", "workflow:two", &m);

        // Malformed frames, unknown types and pongs are ignored without an answer.
        for frame in [
            "not json",
            r#"{"type": "bogus"}"#,
            r#"{"type": "pong"}"#,
            r#"{"no": "type"}"#,
        ] {
            ws.send_text(frame).await;
        }
        ws.subscribe("workflow:one").await;
        let n3 = admin
            .create_node("one", json!({"node_id": "n3", "component_type": "code"}))
            .await;
        check_envelope(&ws.recv().await, "node_created", "workflow:one", &n3);
    }
}

#[tokio::test]
async fn foreign_channels_are_forbidden() {
    for db in testing::all("foreign_channels_are_forbidden").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        let alice = s.user(&admin, "alice").await;
        let bob = s.user(&admin, "bob").await;
        alice.create_workflow(json!({"name": "secret"})).await;
        alice
            .create_workflow(json!({"name": "open", "is_public": true}))
            .await;
        bob.create_workflow(json!({"name": "bobs"})).await;

        let mut ws = Ws::connect(&s, bob.token()).await;
        for channel in [
            "workflow:secret",
            "workflow:open",
            "workflow:missing",
            "execution:00000000-0000-4000-8000-000000000000",
            "epic:ep-01JKXYZ4M8Q2V7R5T3W9B6N1CD",
            "nonsense",
        ] {
            ws.send(json!({"type": "subscribe", "channel": channel}))
                .await;
            assert_eq!(
                ws.recv().await,
                json!({"type": "error", "channel": channel, "detail": "forbidden"}),
                "[{b}] {channel}"
            );
        }
        // A refused subscription delivers nothing: the next frame is bob's own event.
        ws.subscribe("workflow:bobs").await;
        alice
            .create_node("secret", json!({"node_id": "s", "component_type": "code"}))
            .await;
        let n = bob
            .create_node("bobs", json!({"node_id": "n", "component_type": "code"}))
            .await;
        check_envelope(&ws.recv().await, "node_created", "workflow:bobs", &n);

        // Admins may read any channel.
        let mut ws = Ws::connect(&s, admin.token()).await;
        ws.subscribe("workflow:secret").await;
        let t = alice
            .create_node("secret", json!({"node_id": "t", "component_type": "code"}))
            .await;
        check_envelope(&ws.recv().await, "node_created", "workflow:secret", &t);

        // A deleted user's session key no longer opens a socket.
        let (_, users) = admin.get("/api/v1/users/").await;
        let bob_id = users["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|u| u["username"] == "bob")
            .expect("bob")["id"]
            .clone();
        assert_eq!(
            admin.delete(&format!("/api/v1/users/{bob_id}/")).await.0,
            204
        );
        match Ws::connect_url(&s.ws_url(bob.token()))
            .await
            .next_frame()
            .await
        {
            Frame::Close { code, .. } => assert_eq!(code, 1008, "[{b}]"),
            other => panic!("[{b}] expected a close, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn subscribe_after_replays_stored_events() {
    for db in testing::all("subscribe_after_replays_stored_events").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;

        // History on two channels, interleaved.
        let wf = admin.create_workflow(json!({"name": "flow"})).await;
        admin.create_workflow(json!({"name": "noise"})).await;
        let a = admin
            .create_node("flow", json!({"node_id": "a", "component_type": "code"}))
            .await;
        admin
            .create_node("noise", json!({"node_id": "z", "component_type": "code"}))
            .await;
        let c = admin
            .create_node("flow", json!({"node_id": "c", "component_type": "code"}))
            .await;
        let e = admin
            .create_edge(
                "flow",
                json!({"source_node_id": "a", "target_node_id": "c"}),
            )
            .await;
        let (_, a2) = admin
            .patch("/api/v1/workflows/flow/nodes/a/", json!({"label": "A"}))
            .await;
        let expected = [
            (
                "workflow_created",
                json!({"slug": "flow", "name": wf["name"]}),
            ),
            ("node_created", a),
            ("node_created", c),
            ("edge_created", e),
            ("node_updated", a2),
        ];

        let mut ws = Ws::connect(&s, admin.token()).await;
        ws.send(json!({"type": "subscribe", "channel": CHANNEL, "after": 0}))
            .await;
        assert_eq!(
            ws.recv().await,
            json!({"type": "subscribed", "channel": CHANNEL}),
            "[{b}] nothing pruned, so no gap"
        );
        let mut ids = vec![];
        for (kind, data) in &expected {
            ids.push(check_envelope(&ws.recv().await, kind, CHANNEL, data));
        }
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "[{b}] {ids:?}");

        // Then live, without repeating the replay.
        let d = admin
            .create_node("flow", json!({"node_id": "d", "component_type": "code"}))
            .await;
        let live = check_envelope(&ws.recv().await, "node_created", CHANNEL, &d);
        assert!(live > ids[ids.len() - 1], "[{b}]");

        // A cursor in the middle replays only what came after it.
        let mut ws2 = Ws::connect(&s, admin.token()).await;
        ws2.send(json!({"type": "subscribe", "channel": CHANNEL, "after": ids[2]}))
            .await;
        assert_eq!(
            ws2.recv().await,
            json!({"type": "subscribed", "channel": CHANNEL}),
            "[{b}]"
        );
        for (kind, data) in &expected[3..] {
            check_envelope(&ws2.recv().await, kind, CHANNEL, data);
        }
        check_envelope(&ws2.recv().await, "node_created", CHANNEL, &d);

        // A cursor at the end replays nothing; live events still come.
        let mut ws3 = Ws::connect(&s, admin.token()).await;
        ws3.send(json!({"type": "subscribe", "channel": CHANNEL, "after": live}))
            .await;
        assert_eq!(
            ws3.recv().await,
            json!({"type": "subscribed", "channel": CHANNEL}),
            "[{b}]"
        );
        let (_, wf2) = admin
            .patch("/api/v1/workflows/flow/", json!({"is_public": true}))
            .await;
        check_envelope(&ws3.recv().await, "workflow_updated", CHANNEL, &wf2);
        check_envelope(&ws2.recv().await, "workflow_updated", CHANNEL, &wf2);
        check_envelope(&ws.recv().await, "workflow_updated", CHANNEL, &wf2);
    }
}

#[tokio::test]
async fn replay_is_scoped_and_reports_gaps() {
    for db in testing::all("replay_is_scoped_and_reports_gaps").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        let alice = s.user(&admin, "alice").await;
        let bob = s.user(&admin, "bob").await;
        alice.create_workflow(json!({"name": "secret"})).await;
        alice
            .create_node("secret", json!({"node_id": "s", "component_type": "code"}))
            .await;
        bob.create_workflow(json!({"name": "flow"})).await;

        // A forbidden channel replays nothing, even with a cursor.
        let mut ws = Ws::connect(&s, bob.token()).await;
        ws.send(json!({"type": "subscribe", "channel": "workflow:secret", "after": 0}))
            .await;
        assert_eq!(
            ws.recv().await,
            json!({"type": "error", "channel": "workflow:secret", "detail": "forbidden"}),
            "[{b}]"
        );
        ws.subscribe(CHANNEL).await;
        let n = bob
            .create_node("flow", json!({"node_id": "n", "component_type": "code"}))
            .await;
        let last = check_envelope(&ws.recv().await, "node_created", CHANNEL, &n);

        // Renaming a workflow announces it on the old channel as well as the new one.
        let (status, renamed) = bob
            .patch("/api/v1/workflows/flow/", json!({"slug": "flow-two"}))
            .await;
        assert_eq!(status, 200, "[{b}] {renamed}");
        let moved = check_envelope(&ws.recv().await, "workflow_updated", CHANNEL, &renamed);
        assert!(moved > last);

        // Pruned history: a cursor before the oldest stored event is told about the gap. The
        // newest event (`workflow_updated` on the new channel) is always kept as the anchor.
        let pruned = agentry_store::events::prune(s.db(), agentry_store::now_ms() + 1)
            .await
            .expect("prune");
        assert!(pruned > 0, "[{b}]");
        let mut ws2 = Ws::connect(&s, bob.token()).await;
        ws2.send(json!({"type": "subscribe", "channel": "workflow:flow-two", "after": last}))
            .await;
        let reply = ws2.recv().await;
        assert_eq!(
            reply,
            json!({"type": "subscribed", "channel": "workflow:flow-two", "gap": true}),
            "[{b}] events after the cursor were pruned"
        );
        check_envelope(
            &ws2.recv().await,
            "workflow_updated",
            "workflow:flow-two",
            &renamed,
        );
        let m = bob
            .create_node(
                "flow-two",
                json!({"node_id": "m", "component_type": "code"}),
            )
            .await;
        check_envelope(&ws2.recv().await, "node_created", "workflow:flow-two", &m);
        let mut ws3 = Ws::connect(&s, bob.token()).await;
        ws3.send(json!({"type": "subscribe", "channel": "workflow:flow-two", "after": 0}))
            .await;
        let reply = ws3.recv().await;
        assert_eq!(reply["gap"], json!(true), "[{b}] {reply}");
        check_envelope(
            &ws3.recv().await,
            "workflow_updated",
            "workflow:flow-two",
            &renamed,
        );
        check_envelope(&ws3.recv().await, "node_created", "workflow:flow-two", &m);
    }
}
