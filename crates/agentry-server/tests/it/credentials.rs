//! api.md §7 credentials over HTTP: masking, encryption at rest, PATCH merging (the masked key
//! sent back keeps the real one), owner scoping, deletes, and `test` / `models` against the
//! fake provider server. Plus the engine's `chat_model` and the environment shortcuts
//! (engine.md §12) through the service on the same database.

use crate::support::{Client, TestServer, detail};
use agentry_core::users::Role;
use agentry_llm::fake::{FakeProvider, Reply};
use agentry_llm::{ChatRequest, Message};
use agentry_service::dto::CredentialIn;
use agentry_service::secrets::SecretBox;
use agentry_service::{Caller, Services};
use agentry_store::testing;
use serde_json::{Value, json};

const KEY: &str = "sk-test-abcdefghijklmnop";
const KEY_MASKED: &str = "sk-t****mnop";

async fn create(client: &Client, body: Value) -> Value {
    let (status, out) = client.post("/api/v1/credentials/", body).await;
    assert_eq!(status, 201, "create credential: {out}");
    out
}

fn id_of(v: &Value) -> i64 {
    v["id"].as_i64().expect("an id")
}

async fn row(s: &TestServer, id: i64) -> agentry_store::credentials::CredentialRow {
    agentry_store::credentials::get(s.db(), id)
        .await
        .expect("read the row")
        .expect("the row exists")
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["name"].as_str().expect("name").to_string())
        // The server's setup may have created `env:*` credentials from this process's env.
        .filter(|n| !n.starts_with("env:"))
        .collect()
}

#[tokio::test]
async fn create_masks_the_key_and_encrypts_it_at_rest() {
    for db in testing::all("credentials_create_masks_and_encrypts").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;

        let out = create(
            &admin,
            json!({"name": "OpenAI", "credential_type": "llm",
                   "detail": {"api_key": KEY, "pricing": {"gpt-x": {"input": 1.5, "output": 2}}}}),
        )
        .await;
        assert_eq!(out["name"], json!("OpenAI"), "[{b}]");
        assert_eq!(out["credential_type"], json!("llm"));
        assert_eq!(
            out["detail"],
            json!({"provider_type": "openai_compatible", "api_key": KEY_MASKED, "base_url": "",
                   "organization_id": "", "custom_headers": {},
                   "pricing": {"gpt-x": {"input": 1.5, "output": 2}}}),
            "[{b}]"
        );
        for ts in ["created_at", "updated_at"] {
            assert!(
                out[ts].as_str().expect("timestamp").ends_with('Z'),
                "[{b}] {out}"
            );
        }
        let keys: Vec<&String> = out.as_object().expect("object").keys().collect();
        assert_eq!(
            keys.len(),
            6,
            "[{b}] id, name, credential_type, detail, created_at, updated_at: {out}"
        );

        // At rest: `detail` has no key, `secret` is sealed (not the key, not readable).
        let stored = row(&s, id_of(&out)).await;
        assert!(
            stored.detail.0.get("api_key").is_none(),
            "[{b}] {:?}",
            stored.detail
        );
        assert!(stored.secret.starts_with("v1:"), "[{b}] {}", stored.secret);
        assert!(
            !stored.secret.contains(KEY) && !stored.secret.contains("abcdefgh"),
            "[{b}]"
        );
        assert!(!stored.detail.0.to_string().contains("abcdefgh"), "[{b}]");

        // Short keys are all stars; no key shows as "".
        let short = create(
            &admin,
            json!({"name": "short", "credential_type": "llm",
                   "detail": {"provider_type": "anthropic", "api_key": "abc1234"}}),
        )
        .await;
        assert_eq!(short["detail"]["api_key"], json!("****"), "[{b}]");
        assert_eq!(short["detail"]["provider_type"], json!("anthropic"));
        let none = create(&admin, json!({"name": "keyless", "credential_type": "llm"})).await;
        assert_eq!(none["detail"]["api_key"], json!(""), "[{b}]");
        assert_eq!(row(&s, id_of(&none)).await.secret, "", "[{b}]");

        // Tool credentials get their defaults.
        let tool = create(
            &admin,
            json!({"name": "search", "credential_type": "tool",
                   "detail": {"tool_type": "searxng", "config": {"url": "http://searx.local"}}}),
        )
        .await;
        assert_eq!(
            tool["detail"],
            json!({"tool_type": "searxng", "config": {"url": "http://searx.local"}, "is_preferred": false}),
            "[{b}]"
        );

        // Reads: masked everywhere; the key appears in no answer.
        let (status, got) = admin
            .get(&format!("/api/v1/credentials/{}/", id_of(&out)))
            .await;
        assert_eq!(status, 200, "[{b}] {got}");
        assert_eq!(got, out, "[{b}]");
        let (status, page) = admin.get("/api/v1/credentials/").await;
        assert_eq!(status, 200, "[{b}] {page}");
        assert_eq!(
            names(&page),
            ["search", "keyless", "short", "OpenAI"],
            "[{b}] newest first"
        );
        assert!(!page.to_string().contains(KEY), "[{b}]");
        assert!(!page.to_string().contains("abc1234"), "[{b}]");

        // 422s name the field.
        for (body, field) in [
            (
                json!({"name": "x", "credential_type": "git"}),
                "credential_type",
            ),
            (json!({"name": " ", "credential_type": "llm"}), "name"),
            (json!({"credential_type": "llm"}), "name"),
            (
                json!({"name": "x", "credential_type": "llm", "detail": "k"}),
                "detail",
            ),
            (
                json!({"name": "x", "credential_type": "llm", "detail": {"provider_type": "gemini"}}),
                "provider_type",
            ),
            (
                json!({"name": "x", "credential_type": "llm", "detail": {"api_key": 5}}),
                "api_key",
            ),
            (
                json!({"name": "x", "credential_type": "llm", "detail": {"base_url": "localhost"}}),
                "base_url",
            ),
        ] {
            let (status, out) = admin.post("/api/v1/credentials/", body.clone()).await;
            assert_eq!(status, 422, "[{b}] {body}: {out}");
            assert!(
                out["detail"].to_string().contains(field),
                "[{b}] {body}: {out}"
            );
        }
        let (_, page) = admin.get("/api/v1/credentials/").await;
        assert_eq!(names(&page).len(), 4, "[{b}] nothing created by the 422s");
    }
}

#[tokio::test]
async fn patch_merges_detail_and_keeps_the_key_sent_back_masked() {
    for db in testing::all("credentials_patch_merges").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        let fake = FakeProvider::start().await;
        fake.expect_api_key(KEY);

        let out = create(
            &admin,
            json!({"name": "fake", "credential_type": "llm",
                   "detail": {"api_key": KEY, "base_url": fake.base_url(), "organization_id": "org-1"}}),
        )
        .await;
        let id = id_of(&out);
        let path = format!("/api/v1/credentials/{id}/");
        let sealed = row(&s, id).await.secret;

        // The masked value sent back (as a UI form does) changes nothing about the key.
        let (status, patched) = admin
            .patch(
                &path,
                json!({"detail": {"api_key": KEY_MASKED, "organization_id": "org-2"}}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {patched}");
        assert_eq!(patched["detail"]["api_key"], json!(KEY_MASKED), "[{b}]");
        assert_eq!(
            patched["detail"]["organization_id"],
            json!("org-2"),
            "[{b}]"
        );
        // Unlisted keys are kept.
        assert_eq!(
            patched["detail"]["base_url"],
            json!(fake.base_url()),
            "[{b}]"
        );
        assert_eq!(patched["name"], json!("fake"), "[{b}]");
        assert_eq!(row(&s, id).await.secret, sealed, "[{b}] not re-encrypted");
        fake.push(Reply::text("pong"));
        let (status, test) = admin.post(&format!("{path}test/"), json!({})).await;
        assert_eq!(status, 200, "[{b}] {test}");
        assert_eq!(
            test["ok"],
            json!(true),
            "[{b}] the real key still works: {test}"
        );

        // A new key replaces it (and is sealed again).
        let new_key = "sk-new-0000000000000000-zz";
        let (status, patched) = admin
            .patch(&path, json!({"detail": {"api_key": new_key}}))
            .await;
        assert_eq!(status, 200, "[{b}] {patched}");
        assert_eq!(patched["detail"]["api_key"], json!("sk-n****0-zz"), "[{b}]");
        let stored = row(&s, id).await;
        assert_ne!(stored.secret, sealed, "[{b}]");
        assert!(!stored.secret.contains(new_key), "[{b}]");
        let (_, test) = admin.post(&format!("{path}test/"), json!({})).await;
        assert_eq!(
            test["ok"],
            json!(false),
            "[{b}] the fake still wants the old key"
        );
        fake.expect_api_key(new_key);
        fake.push(Reply::text("pong"));
        let (_, test) = admin.post(&format!("{path}test/"), json!({})).await;
        assert_eq!(test["ok"], json!(true), "[{b}] {test}");

        // A mask that is not this key's is refused, never stored.
        let (status, out) = admin
            .patch(&path, json!({"detail": {"api_key": KEY_MASKED}}))
            .await;
        assert_eq!(status, 422, "[{b}] {out}");
        assert!(out["detail"].to_string().contains("api_key"), "[{b}] {out}");

        // name; null detail keys go back to their defaults; validation as on create.
        let (status, patched) = admin
            .patch(&path, json!({"name": "renamed", "detail": {"base_url": null, "custom_headers": {"x-a": "b"}}}))
            .await;
        assert_eq!(status, 200, "[{b}] {patched}");
        assert_eq!(patched["name"], json!("renamed"), "[{b}]");
        assert_eq!(patched["detail"]["base_url"], json!(""), "[{b}]");
        assert_eq!(
            patched["detail"]["custom_headers"],
            json!({"x-a": "b"}),
            "[{b}]"
        );
        assert_eq!(
            patched["detail"]["organization_id"],
            json!("org-2"),
            "[{b}]"
        );
        assert_eq!(patched["detail"]["api_key"], json!("sk-n****0-zz"), "[{b}]");
        for body in [
            json!({"name": null}),
            json!({"name": ""}),
            json!({"detail": null}),
            json!({"detail": {"provider_type": "gemini"}}),
            json!({"detail": {"pricing": {"gpt": {"input": "cheap"}}}}),
        ] {
            let (status, out) = admin.patch(&path, body.clone()).await;
            assert_eq!(status, 422, "[{b}] {body}: {out}");
        }
        // An empty body changes nothing.
        let (status, same) = admin.patch(&path, json!({})).await;
        assert_eq!(status, 200, "[{b}] {same}");
        assert_eq!(same["detail"], patched["detail"], "[{b}]");

        // Clearing the key.
        let (status, cleared) = admin.patch(&path, json!({"detail": {"api_key": ""}})).await;
        assert_eq!(status, 200, "[{b}] {cleared}");
        assert_eq!(cleared["detail"]["api_key"], json!(""), "[{b}]");
        assert_eq!(row(&s, id).await.secret, "", "[{b}]");
    }
}

#[tokio::test]
async fn owner_scoping_lists_and_deletes() {
    for db in testing::all("credentials_owner_scoping").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        let alice = s.user(&admin, "alice").await;
        let bob = s.user(&admin, "bob").await;

        let mut mine = Vec::new();
        for n in ["a1", "a2", "a3"] {
            let c = create(
                &alice,
                json!({"name": n, "credential_type": "llm", "detail": {"api_key": KEY}}),
            )
            .await;
            mine.push(id_of(&c));
        }
        let bobs = id_of(&create(&bob, json!({"name": "b1", "credential_type": "tool"})).await);

        // Lists: own only, newest first; admins see everyone's.
        let (status, page) = alice.get("/api/v1/credentials/").await;
        assert_eq!(status, 200, "[{b}] {page}");
        assert_eq!(names(&page), ["a3", "a2", "a1"], "[{b}]");
        assert_eq!(page["total"], json!(3), "[{b}]");
        let (_, page) = bob.get("/api/v1/credentials/").await;
        assert_eq!(names(&page), ["b1"], "[{b}]");
        let (_, page) = admin.get("/api/v1/credentials/").await;
        assert_eq!(names(&page), ["b1", "a3", "a2", "a1"], "[{b}]");
        // Pagination.
        let (_, page) = alice.get("/api/v1/credentials/?limit=2").await;
        assert_eq!(
            (names(&page), page["total"].clone()),
            (vec!["a3".into(), "a2".into()], json!(3)),
            "[{b}]"
        );
        let (_, page) = alice.get("/api/v1/credentials/?limit=2&offset=2").await;
        assert_eq!(names(&page), ["a1"], "[{b}]");
        let (status, _) = alice.get("/api/v1/credentials/?offset=-1").await;
        assert_eq!(status, 422, "[{b}]");

        // Someone else's credential is 404 everywhere, never 403.
        let theirs = format!("/api/v1/credentials/{}/", mine[0]);
        let not_found = detail("Credential not found.");
        assert_eq!(bob.get(&theirs).await, (404, not_found.clone()), "[{b}]");
        assert_eq!(
            bob.patch(&theirs, json!({"name": "x"})).await,
            (404, not_found.clone()),
            "[{b}]"
        );
        assert_eq!(bob.delete(&theirs).await, (404, not_found.clone()), "[{b}]");
        assert_eq!(
            bob.post(&format!("{theirs}test/"), json!({})).await,
            (404, not_found.clone()),
            "[{b}]"
        );
        assert_eq!(
            bob.get(&format!("{theirs}models/")).await,
            (404, detail("LLM credential not found.")),
            "[{b}]"
        );
        // Ids that name nothing.
        for id in ["999999", "abc", "1.5"] {
            assert_eq!(
                alice.get(&format!("/api/v1/credentials/{id}/")).await,
                (404, not_found.clone()),
                "[{b}] {id}"
            );
        }
        // Admins may read and change anyone's.
        let (status, got) = admin.get(&theirs).await;
        assert_eq!(status, 200, "[{b}] {got}");
        assert_eq!(got["detail"]["api_key"], json!(KEY_MASKED), "[{b}]");

        // Batch delete skips what the caller does not own, and unknown ids.
        let (status, out) = bob
            .post(
                "/api/v1/credentials/batch-delete/",
                json!({"ids": [mine[0], bobs, 999999]}),
            )
            .await;
        assert_eq!((status, out), (204, Value::Null), "[{b}]");
        let (_, page) = bob.get("/api/v1/credentials/").await;
        assert!(names(&page).is_empty(), "[{b}] {page}");
        assert_eq!(alice.get(&theirs).await.0, 200, "[{b}] alice's survives");
        let (status, _) = alice
            .post("/api/v1/credentials/batch-delete/", json!({"ids": ["x"]}))
            .await;
        assert_eq!(status, 422, "[{b}]");
        let (status, _) = alice
            .post("/api/v1/credentials/batch-delete/", json!({"ids": []}))
            .await;
        assert_eq!(status, 204, "[{b}]");
        let (status, _) = alice
            .post(
                "/api/v1/credentials/batch-delete/",
                json!({"ids": [mine[0], mine[1]]}),
            )
            .await;
        assert_eq!(status, 204, "[{b}]");
        let (_, page) = alice.get("/api/v1/credentials/").await;
        assert_eq!(names(&page), ["a3"], "[{b}]");

        // Single delete: 204, then 404; an admin may delete anyone's.
        let last = format!("/api/v1/credentials/{}/", mine[2]);
        assert_eq!(admin.delete(&last).await, (204, Value::Null), "[{b}]");
        assert_eq!(alice.delete(&last).await, (404, not_found), "[{b}]");
        assert!(
            agentry_store::credentials::get(s.db(), mine[2])
                .await
                .expect("read")
                .is_none()
        );
    }
}

#[tokio::test]
async fn test_and_models_call_the_provider() {
    for db in testing::all("credentials_test_and_models").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        let fake = FakeProvider::start().await;
        fake.expect_api_key(KEY);

        let good = id_of(
            &create(
                &admin,
                json!({"name": "good", "credential_type": "llm",
                   "detail": {"api_key": KEY, "base_url": fake.base_url()}}),
            )
            .await,
        );
        let bad = id_of(
            &create(
                &admin,
                json!({"name": "bad", "credential_type": "llm",
                   "detail": {"api_key": "sk-wrong-key-000000", "base_url": fake.base_url()}}),
            )
            .await,
        );

        // ok with the right key: one real chat call of one token, with the key.
        fake.push(Reply::text("pong").usage(1, 1));
        let (status, out) = admin
            .post(&format!("/api/v1/credentials/{good}/test/"), json!({}))
            .await;
        assert_eq!(status, 200, "[{b}] {out}");
        assert_eq!(out["ok"], json!(true), "[{b}] {out}");
        assert!(out.get("error").is_none(), "[{b}] {out}");
        let chats = fake.chat_bodies();
        assert_eq!(chats.len(), 1, "[{b}] {chats:?}");
        assert_eq!(chats[0]["max_tokens"], json!(1), "[{b}] {}", chats[0]);
        // Neither `gpt-4o-mini` nor a `detail.model`: the first listed model.
        assert_eq!(chats[0]["model"], json!("fake-model-1"), "[{b}]");
        let chat_request = fake
            .requests()
            .into_iter()
            .find(|r| r.is_chat())
            .expect("a chat");
        assert_eq!(
            chat_request.headers["authorization"],
            format!("Bearer {KEY}"),
            "[{b}]"
        );
        assert_eq!(fake.remaining(), 0, "[{b}]");

        // The provider's auth failure, in the spec's words.
        fake.push(Reply::text("unused"));
        let (status, out) = admin
            .post(&format!("/api/v1/credentials/{bad}/test/"), json!({}))
            .await;
        assert_eq!(status, 200, "[{b}] {out}");
        assert_eq!(out["ok"], json!(false), "[{b}] {out}");
        assert_eq!(
            out["error"],
            json!("Authentication failed - invalid API key"),
            "[{b}] {out}"
        );
        assert_eq!(out["detail"]["status"], json!(401), "[{b}] {out}");
        assert!(!out.to_string().contains("sk-wrong"), "[{b}] {out}");
        assert_eq!(fake.remaining(), 1, "[{b}] a refused call uses no reply");
        fake.clear_requests();

        // `detail.model` picks the model the test uses.
        let (status, _) = admin
            .patch(
                &format!("/api/v1/credentials/{good}/"),
                json!({"detail": {"model": "chosen-model"}}),
            )
            .await;
        assert_eq!(status, 200, "[{b}]");
        let (_, out) = admin
            .post(&format!("/api/v1/credentials/{good}/test/"), json!({}))
            .await;
        assert_eq!(out["ok"], json!(true), "[{b}] {out}");
        assert_eq!(
            fake.chat_bodies()[0]["model"],
            json!("chosen-model"),
            "[{b}]"
        );
        assert_eq!(out["detail"]["model"], json!("chosen-model"), "[{b}]");

        // Models: sorted by id; a provider that refuses → [].
        fake.set_models(["zeta-model", "alpha-model", "mid-model"]);
        let (status, models) = admin
            .get(&format!("/api/v1/credentials/{good}/models/"))
            .await;
        assert_eq!(status, 200, "[{b}] {models}");
        assert_eq!(
            models,
            json!([{"id": "alpha-model", "name": "alpha-model"}, {"id": "mid-model", "name": "mid-model"},
                   {"id": "zeta-model", "name": "zeta-model"}]),
            "[{b}]"
        );
        assert_eq!(
            admin
                .get(&format!("/api/v1/credentials/{bad}/models/"))
                .await,
            (200, json!([])),
            "[{b}]"
        );

        // Anthropic wire format through the same fake.
        let claude = id_of(&create(
            &admin,
            json!({"name": "claude", "credential_type": "llm",
                   "detail": {"provider_type": "anthropic", "api_key": KEY, "base_url": fake.anthropic_url()}}),
        )
        .await);
        fake.clear_requests();
        fake.push(Reply::text("pong"));
        let (_, out) = admin
            .post(&format!("/api/v1/credentials/{claude}/test/"), json!({}))
            .await;
        assert_eq!(out["ok"], json!(true), "[{b}] {out}");
        let chat = fake
            .requests()
            .into_iter()
            .find(|r| r.is_chat())
            .expect("a chat");
        assert_eq!(chat.path, "/v1/messages", "[{b}]");
        assert_eq!(chat.headers["x-api-key"], KEY, "[{b}]");
        let (status, models) = admin
            .get(&format!("/api/v1/credentials/{claude}/models/"))
            .await;
        assert_eq!(status, 200, "[{b}] {models}");
        let ids: Vec<&str> = models
            .as_array()
            .expect("array")
            .iter()
            .map(|m| m["id"].as_str().expect("id"))
            .collect();
        assert!(!ids.is_empty(), "[{b}]");
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "[{b}] sorted: {ids:?}");

        // Non-LLM and unknown credentials.
        let tool = id_of(&create(&admin, json!({"name": "t", "credential_type": "tool"})).await);
        assert_eq!(
            admin
                .get(&format!("/api/v1/credentials/{tool}/models/"))
                .await,
            (404, detail("LLM credential not found.")),
            "[{b}]"
        );
        for id in ["999999", "nope"] {
            assert_eq!(
                admin
                    .get(&format!("/api/v1/credentials/{id}/models/"))
                    .await,
                (404, detail("LLM credential not found.")),
                "[{b}]"
            );
            assert_eq!(
                admin
                    .post(&format!("/api/v1/credentials/{id}/test/"), json!({}))
                    .await,
                (404, detail("Credential not found.")),
                "[{b}]"
            );
        }
        let (status, out) = admin
            .post(&format!("/api/v1/credentials/{tool}/test/"), json!({}))
            .await;
        assert_eq!(status, 200, "[{b}] {out}");
        assert_eq!(out["ok"], json!(false), "[{b}] {out}");
    }
}

async fn me(client: &Client) -> Caller {
    let (status, me) = client.get("/api/v1/auth/me/").await;
    assert_eq!(status, 200, "{me}");
    Caller {
        user_id: me["id"].as_i64().expect("id"),
        username: me["username"].as_str().expect("username").to_string(),
        role: Role::parse(me["role"].as_str().expect("role")).expect("a role"),
        mfa_enabled: false,
    }
}

#[tokio::test]
async fn chat_model_for_the_engine() {
    for db in testing::all("credentials_chat_model").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        let alice = s.user(&admin, "alice").await;
        let alice = me(&alice).await;
        let services =
            Services::with_secrets(s.db().clone(), SecretBox::from_passphrase("engine test"));
        let fake = FakeProvider::start().await;
        fake.expect_api_key(KEY);

        let detail_in = json!({"api_key": KEY, "base_url": fake.base_url(),
                               "pricing": {"fake-": {"input": 1, "output": 2}}});
        let out = services
            .create_credential(
                &alice,
                CredentialIn {
                    name: "mine".into(),
                    credential_type: "llm".into(),
                    detail: detail_in.as_object().cloned(),
                },
            )
            .await
            .expect("create");
        assert_eq!(out.detail["api_key"], json!(KEY_MASKED), "[{b}]");

        let (model, pricing) = services
            .chat_model(Some(alice.user_id), out.id)
            .await
            .expect("alice's credential");
        assert_eq!(
            pricing,
            json!({"fake-": {"input": 1, "output": 2}}),
            "[{b}]"
        );
        assert_eq!(model.provider(), "openai_compatible", "[{b}]");
        fake.push(Reply::text("hello").usage(3, 4));
        let reply = model
            .chat(&ChatRequest::new("fake-model-1", vec![Message::user("hi")]))
            .await
            .expect("the decrypted key works");
        assert_eq!(reply.usage.total_tokens(), 7, "[{b}]");
        assert!(
            services.chat_model(None, out.id).await.is_ok(),
            "[{b}] any owner"
        );

        let err = services
            .chat_model(Some(alice.user_id + 1000), out.id)
            .await
            .err()
            .expect("someone else's");
        assert_eq!(err.to_string(), "LLM credential not found.", "[{b}]");
        let err = services
            .chat_model(None, 999_999)
            .await
            .err()
            .expect("unknown");
        assert_eq!(err.to_string(), "LLM credential not found.", "[{b}]");
        let tool = services
            .create_credential(
                &alice,
                CredentialIn {
                    name: "tool".into(),
                    credential_type: "tool".into(),
                    detail: None,
                },
            )
            .await
            .expect("tool");
        assert!(
            services.chat_model(None, tool.id).await.is_err(),
            "[{b}] not an LLM credential"
        );

        // Another process with another key cannot read the secret: the answer shows stars, the
        // engine gets an error naming the credential (never garbage).
        let (status, got) = admin.get(&format!("/api/v1/credentials/{}/", out.id)).await;
        assert_eq!(status, 200, "[{b}] {got}");
        assert_eq!(got["detail"]["api_key"], json!("****"), "[{b}]");
        let other = Services::with_secrets(s.db().clone(), SecretBox::from_passphrase("other"));
        let err = other
            .chat_model(None, out.id)
            .await
            .err()
            .expect("wrong key");
        assert!(
            err.to_string().contains("cannot be decrypted"),
            "[{b}] {err}"
        );
    }
}

#[tokio::test]
async fn env_shortcuts_create_credentials_for_the_first_admin() {
    for db in testing::all("credentials_env_shortcuts").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let services =
            Services::with_secrets(s.db().clone(), SecretBox::from_passphrase("env test"));
        let vars = |name: &str| -> Option<String> {
            match name {
                "OPENAI_API_KEY" => Some("sk-env-openai-000000".into()),
                "ANTHROPIC_API_KEY" => Some("  ".into()), // blank: ignored
                "OLLAMA_HOST" => Some("localhost:11434".into()),
                _ => None,
            }
        };
        // Before setup there is no admin: nothing happens.
        assert_eq!(
            services.ensure_credentials_from(vars).await.expect("ok"),
            Vec::<String>::new(),
            "[{b}]"
        );
        assert!(services.needs_setup().await.expect("needs setup"), "[{b}]");

        let admin = s.admin().await;
        let admin_id = me(&admin).await.user_id;
        // The server's own setup may already have made some from this process's environment.
        let existed: Vec<&str> = {
            let mut v = Vec::new();
            for name in ["env:openai", "env:ollama"] {
                if agentry_store::credentials::get_by_name(s.db(), admin_id, name)
                    .await
                    .expect("read")
                    .is_some()
                {
                    v.push(name);
                }
            }
            v
        };
        let created = services.ensure_credentials_from(vars).await.expect("ok");
        let want: Vec<String> = ["env:openai", "env:ollama"]
            .into_iter()
            .filter(|n| !existed.contains(n))
            .map(String::from)
            .collect();
        assert_eq!(created, want, "[{b}]");
        assert_eq!(
            services.ensure_credentials_from(vars).await.expect("again"),
            Vec::<String>::new(),
            "[{b}] idempotent"
        );
        if std::env::var("ANTHROPIC_API_KEY").is_err() {
            let anthropic =
                agentry_store::credentials::get_by_name(s.db(), admin_id, "env:anthropic")
                    .await
                    .expect("read");
            assert!(
                anthropic.is_none(),
                "[{b}] a blank variable creates nothing"
            );
        }
        if created.contains(&"env:ollama".to_string()) {
            let ollama = agentry_store::credentials::get_by_name(s.db(), admin_id, "env:ollama")
                .await
                .expect("read")
                .expect("env:ollama");
            assert_eq!(ollama.credential_type, "llm", "[{b}]");
            assert_eq!(
                ollama.detail.0["provider_type"],
                json!("openai_compatible"),
                "[{b}]"
            );
            assert_eq!(
                ollama.detail.0["base_url"],
                json!("http://localhost:11434/v1"),
                "[{b}]"
            );
            assert_eq!(
                services.secrets.decrypt(&ollama.secret).expect("sealed"),
                "ollama",
                "[{b}]"
            );
        }
        if created.contains(&"env:openai".to_string()) {
            let openai = agentry_store::credentials::get_by_name(s.db(), admin_id, "env:openai")
                .await
                .expect("read")
                .expect("env:openai");
            assert_eq!(openai.detail.0["base_url"], json!(""), "[{b}]");
            assert_eq!(
                services.secrets.decrypt(&openai.secret).expect("sealed"),
                "sk-env-openai-000000",
                "[{b}]"
            );
        }
        // The admin sees them through the API.
        let (_, page) = admin.get("/api/v1/credentials/").await;
        let all: Vec<&str> = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|c| c["name"].as_str().expect("name"))
            .collect();
        assert!(
            all.contains(&"env:openai") && all.contains(&"env:ollama"),
            "[{b}] {all:?}"
        );
    }
}
