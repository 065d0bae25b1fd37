//! api.md §2 and §11: setup, login, bearer keys, API keys, admin user management.

use crate::support::{ADMIN, PASSWORD, TestServer, detail};
use agentry_store::testing;
use serde_json::{Value, json};

#[tokio::test]
async fn setup_status_flips_and_setup_runs_once() {
    for db in testing::all("setup_status_flips_and_setup_runs_once").await {
        let s = TestServer::start(db).await;
        let anon = s.anon();
        let b = s.backend;

        assert_eq!(
            anon.get("/api/v1/auth/setup-status/").await,
            (200, json!({"needs_setup": true})),
            "[{b}]"
        );

        // Bad input is refused before anything is created.
        let (status, body) = anon
            .post(
                "/api/v1/auth/setup/",
                json!({"username": "bad name!", "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, 422, "[{b}] {body}");
        assert!(
            body["detail"]
                .as_str()
                .expect("detail")
                .contains("username"),
            "[{b}] {body}"
        );
        let (status, body) = anon
            .post(
                "/api/v1/auth/setup/",
                json!({"username": "root", "password": "short"}),
            )
            .await;
        assert_eq!(status, 422, "[{b}] {body}");
        assert!(
            body["detail"]
                .as_str()
                .expect("detail")
                .contains("password"),
            "[{b}] {body}"
        );
        let (status, _) = anon
            .post(
                "/api/v1/auth/setup/",
                json!({"username": "", "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, 422, "[{b}] empty username");
        assert_eq!(
            anon.get("/api/v1/auth/setup-status/").await,
            (200, json!({"needs_setup": true})),
            "[{b}] refused setups create nothing"
        );

        let (status, body) = anon
            .post(
                "/api/v1/auth/setup/",
                json!({"username": ADMIN, "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {body}");
        assert_eq!(body["requires_mfa"], json!(false));
        let key = body["key"].as_str().expect("key");
        assert_eq!(key.len(), 43, "[{b}] a 32-byte URL-safe key");

        assert_eq!(
            anon.get("/api/v1/auth/setup-status/").await,
            (200, json!({"needs_setup": false})),
            "[{b}]"
        );
        assert_eq!(
            anon.post(
                "/api/v1/auth/setup/",
                json!({"username": "other", "password": PASSWORD})
            )
            .await,
            (409, detail("Setup already completed.")),
            "[{b}]"
        );

        // The setup key works, belongs to an admin, and is the key named `default`.
        let admin = anon.with_token(key);
        let (status, me) = admin.get("/api/v1/auth/me/").await;
        assert_eq!(status, 200, "[{b}] {me}");
        assert_eq!(me["username"], json!(ADMIN));
        assert_eq!(me["mfa_enabled"], json!(false));
        assert_eq!(me["role"], json!("admin"));
        let (status, keys) = admin.get("/api/v1/users/me/keys").await;
        assert_eq!(status, 200, "[{b}] {keys}");
        let keys = keys.as_array().expect("a bare array");
        assert_eq!(keys.len(), 1, "[{b}] {keys:?}");
        assert_eq!(keys[0]["name"], json!("default"));
        assert_eq!(keys[0]["prefix"], json!(&key[..8]));
    }
}

#[tokio::test]
async fn token_login_and_bearer_validation() {
    for db in testing::all("token_login_and_bearer_validation").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let _admin = s.admin().await;
        let anon = s.anon();

        let (status, body) = anon
            .post(
                "/api/v1/auth/token/",
                json!({"username": ADMIN, "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {body}");
        assert_eq!(body["requires_mfa"], json!(false));
        let session = body["key"].as_str().expect("key").to_string();
        assert_eq!(session.len(), 43);

        for (user, pass) in [(ADMIN, "wrong-password"), ("nobody", PASSWORD)] {
            assert_eq!(
                anon.post(
                    "/api/v1/auth/token/",
                    json!({"username": user, "password": pass})
                )
                .await,
                (401, detail("Invalid credentials.")),
                "[{b}] {user}"
            );
        }

        let me = anon.with_token(&session).get("/api/v1/auth/me/").await;
        assert_eq!(me.0, 200, "[{b}] {}", me.1);
        assert_eq!(me.1["username"], json!(ADMIN));

        // A second login rotates the `session` key: the old one stops working.
        let again = s.login(ADMIN, PASSWORD).await;
        assert_eq!(again.get("/api/v1/auth/me/").await.0, 200, "[{b}]");
        assert_eq!(
            anon.with_token(&session).get("/api/v1/auth/me/").await,
            (401, detail("Invalid or missing API key.")),
            "[{b}] the rotated session key"
        );

        // Missing, malformed and unknown bearer keys.
        let missing = detail("Invalid or missing API key.");
        assert_eq!(
            anon.get("/api/v1/auth/me/").await,
            (401, missing.clone()),
            "[{b}]"
        );
        assert_eq!(
            anon.get("/api/v1/workflows/").await,
            (401, missing.clone()),
            "[{b}]"
        );
        assert_eq!(
            anon.with_token("not-a-real-key")
                .get("/api/v1/auth/me/")
                .await,
            (401, missing.clone()),
            "[{b}]"
        );
        let resp = reqwest::Client::new()
            .get(format!("{}/api/v1/auth/me/", s.base))
            .header("Authorization", "Basic YWRtaW46eA==")
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status().as_u16(), 401, "[{b}] non-bearer scheme");
        assert_eq!(resp.json::<Value>().await.expect("json"), missing);
    }
}

#[tokio::test]
async fn api_keys_create_list_revoke() {
    for db in testing::all("api_keys_create_list_revoke").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;

        let (status, first) = admin
            .post("/api/v1/users/me/keys", json!({"name": "ci"}))
            .await;
        assert_eq!(status, 201, "[{b}] {first}");
        let key = first["key"].as_str().expect("key shown once").to_string();
        assert_eq!(key.len(), 43, "[{b}]");
        assert_eq!(first["prefix"], json!(&key[..8]));
        assert_eq!(first["name"], json!("ci"));
        assert_eq!(first["is_active"], json!(true));
        assert_eq!(first["expires_at"], Value::Null);
        assert_eq!(first["last_used_at"], Value::Null);
        assert!(first["id"].is_i64());
        assert!(
            first["created_at"]
                .as_str()
                .expect("created_at")
                .ends_with('Z'),
            "[{b}] {first}"
        );

        let future = "2999-01-01T00:00:00Z";
        let (status, second) = admin
            .post(
                "/api/v1/users/me/keys/",
                json!({"name": "expiring", "expires_at": future}),
            )
            .await;
        assert_eq!(status, 201, "[{b}] {second}");
        assert!(
            second["expires_at"]
                .as_str()
                .expect("expires_at")
                .starts_with("2999-01-01T00:00:00"),
            "[{b}] {second}"
        );

        // Newest first, never the secret.
        let (status, list) = admin.get("/api/v1/users/me/keys").await;
        assert_eq!(status, 200, "[{b}] {list}");
        let list = list.as_array().expect("a bare array").clone();
        let names: Vec<&str> = list
            .iter()
            .map(|k| k["name"].as_str().expect("name"))
            .collect();
        assert_eq!(names, ["expiring", "ci", "default"], "[{b}]");
        for k in &list {
            assert!(k.get("key").is_none(), "[{b}] key leaked in list: {k}");
            for field in [
                "id",
                "name",
                "prefix",
                "created_at",
                "last_used_at",
                "expires_at",
                "is_active",
            ] {
                assert!(k.get(field).is_some(), "[{b}] {field} missing in {k}");
            }
        }

        // The new key authenticates, and records its use.
        let ci = s.anon().with_token(&key);
        let (status, me) = ci.get("/api/v1/auth/me/").await;
        assert_eq!((status, &me["username"]), (200, &json!(ADMIN)), "[{b}]");
        let (_, list) = admin.get("/api/v1/users/me/keys").await;
        let used = list
            .as_array()
            .expect("array")
            .iter()
            .find(|k| k["id"] == first["id"])
            .expect("the ci key")
            .clone();
        assert!(used["last_used_at"].is_string(), "[{b}] {used}");

        // Revoke: 204, then the key answers 401 "revoked"; the list shows it inactive.
        let id = first["id"].as_i64().expect("id");
        assert_eq!(
            admin.delete(&format!("/api/v1/users/me/keys/{id}")).await,
            (204, Value::Null),
            "[{b}]"
        );
        assert_eq!(
            ci.get("/api/v1/auth/me/").await,
            (401, detail("API key has been revoked.")),
            "[{b}]"
        );
        let (_, list) = admin.get("/api/v1/users/me/keys").await;
        let revoked = list
            .as_array()
            .expect("array")
            .iter()
            .find(|k| k["id"] == first["id"])
            .expect("the ci key")
            .clone();
        assert_eq!(revoked["is_active"], json!(false), "[{b}]");

        // Errors.
        for past in ["2000-01-01T00:00:00Z", "2001-05-05T10:00:00+02:00"] {
            assert_eq!(
                admin
                    .post(
                        "/api/v1/users/me/keys",
                        json!({"name": "old", "expires_at": past})
                    )
                    .await,
                (400, detail("expires_at must be in the future.")),
                "[{b}] {past}"
            );
        }
        let not_found = (404, detail("API key not found."));
        for bad in ["999999", "abc", "-1"] {
            assert_eq!(
                admin.delete(&format!("/api/v1/users/me/keys/{bad}/")).await,
                not_found,
                "[{b}] {bad}"
            );
        }
        // Another user's key is not found either.
        let bob = s.user(&admin, "bob").await;
        let second_id = second["id"].as_i64().expect("id");
        assert_eq!(
            bob.delete(&format!("/api/v1/users/me/keys/{second_id}"))
                .await,
            not_found,
            "[{b}] foreign key"
        );
        let (_, bob_keys) = bob.get("/api/v1/users/me/keys").await;
        let bob_names: Vec<&str> = bob_keys
            .as_array()
            .expect("array")
            .iter()
            .map(|k| k["name"].as_str().expect("name"))
            .collect();
        assert_eq!(bob_names, ["session"], "[{b}] only bob's own keys");
        let (status, body) = admin
            .post(
                "/api/v1/users/me/keys",
                json!({"name": "x", "expires_at": "tomorrow"}),
            )
            .await;
        assert_eq!(status, 422, "[{b}] {body}");
        assert!(
            body["detail"].to_string().contains("expires_at"),
            "[{b}] {body}"
        );
        // A name over 100 characters is refused.
        let (status, _) = admin
            .post("/api/v1/users/me/keys", json!({"name": "x".repeat(101)}))
            .await;
        assert_eq!(status, 422, "[{b}]");
    }
}

#[tokio::test]
async fn admin_manages_users() {
    for db in testing::all("admin_manages_users").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;

        let (status, carol) = admin
            .post(
                "/api/v1/users/",
                json!({"username": "carol", "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, 201, "[{b}] {carol}");
        assert_eq!(carol["username"], json!("carol"));
        assert_eq!(carol["role"], json!("normal"));
        assert!(carol["id"].is_i64() && carol["created_at"].is_string());
        assert!(carol.get("password").is_none() && carol.get("password_hash").is_none());

        let (status, dave) = admin
            .post(
                "/api/v1/users",
                json!({"username": "dave", "password": PASSWORD, "role": "admin"}),
            )
            .await;
        assert_eq!((status, &dave["role"]), (201, &json!("admin")), "[{b}]");

        assert_eq!(
            admin
                .post(
                    "/api/v1/users/",
                    json!({"username": "carol", "password": PASSWORD})
                )
                .await,
            (409, detail("Username already exists.")),
            "[{b}]"
        );
        for bad in [
            json!({"username": "carol smith", "password": PASSWORD}),
            json!({"username": "x".repeat(65), "password": PASSWORD}),
            json!({"username": "erin", "password": "1234567"}),
            json!({"username": "erin", "password": PASSWORD, "role": "root"}),
        ] {
            let (status, body) = admin.post("/api/v1/users/", bad.clone()).await;
            assert_eq!(status, 422, "[{b}] {bad} → {body}");
        }

        let (status, page) = admin.get("/api/v1/users/").await;
        assert_eq!(status, 200, "[{b}] {page}");
        assert_eq!(page["total"], json!(3));
        let mut names: Vec<&str> = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|u| u["username"].as_str().expect("username"))
            .collect();
        names.sort_unstable();
        assert_eq!(names, [ADMIN, "carol", "dave"], "[{b}]");
        let (_, page) = admin.get("/api/v1/users/?limit=1&offset=1").await;
        assert_eq!(page["total"], json!(3), "[{b}] total before limit");
        assert_eq!(page["items"].as_array().expect("items").len(), 1);

        // A normal user is refused every admin route.
        let carol_client = s.login("carol", PASSWORD).await;
        let carol_id = carol["id"].as_i64().expect("id");
        assert_eq!(carol_client.get("/api/v1/users/").await.0, 403, "[{b}]");
        assert_eq!(
            carol_client
                .post(
                    "/api/v1/users/",
                    json!({"username": "frank", "password": PASSWORD})
                )
                .await
                .0,
            403,
            "[{b}]"
        );
        assert_eq!(
            carol_client
                .delete(&format!("/api/v1/users/{carol_id}/"))
                .await
                .0,
            403,
            "[{b}]"
        );

        // Nobody deletes themselves; unknown ids are 404.
        let (_, me) = admin.get("/api/v1/auth/me/").await;
        let admin_id = me["id"].as_i64().expect("id");
        assert_eq!(
            admin.delete(&format!("/api/v1/users/{admin_id}/")).await,
            (409, detail("You cannot delete your own account.")),
            "[{b}]"
        );
        for bad in ["424242", "nope"] {
            assert_eq!(
                admin.delete(&format!("/api/v1/users/{bad}/")).await,
                (404, detail("User not found.")),
                "[{b}] {bad}"
            );
        }

        // Deleting deactivates: keys stop working, login is refused.
        assert_eq!(
            admin.delete(&format!("/api/v1/users/{carol_id}")).await,
            (204, Value::Null),
            "[{b}]"
        );
        assert_eq!(
            carol_client.get("/api/v1/auth/me/").await.0,
            401,
            "[{b}] the deleted user's key"
        );
        assert_eq!(
            s.anon()
                .post(
                    "/api/v1/auth/token/",
                    json!({"username": "carol", "password": PASSWORD})
                )
                .await,
            (401, detail("Invalid credentials.")),
            "[{b}]"
        );
    }
}

/// Bearer validation in the spec's order, for states only the database can arrange: an
/// expired key, and an active key whose user was deleted.
#[tokio::test]
async fn expired_keys_and_missing_owners_are_401() {
    for db in testing::all("expired_keys_and_missing_owners_are_401").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        let (_, me) = admin.get("/api/v1/auth/me/").await;
        let admin_id = me["id"].as_i64().expect("id");
        let (_, carol) = admin
            .post(
                "/api/v1/users/",
                json!({"username": "carol", "password": PASSWORD}),
            )
            .await;
        let carol_id = carol["id"].as_i64().expect("id");
        assert_eq!(
            admin.delete(&format!("/api/v1/users/{carol_id}/")).await.0,
            204
        );

        let now = agentry_store::now_ms();
        let plant = |user_id: i64, expires_at: Option<i64>| {
            let (key, prefix, hash) = agentry_service::auth::generate_key();
            let db = s.db().clone();
            async move {
                let mut tx = db.begin().await.expect("begin");
                agentry_store::api_keys::insert(
                    &mut tx,
                    agentry_store::api_keys::NewKey {
                        user_id,
                        name: "planted",
                        prefix: &prefix,
                        key_hash: &hash,
                        expires_at,
                        now,
                    },
                )
                .await
                .expect("insert a key");
                tx.commit().await.expect("commit");
                key
            }
        };
        let expired = plant(admin_id, Some(now - 1_000)).await;
        let orphan = plant(carol_id, None).await;
        let fresh = plant(admin_id, Some(now + 3_600_000)).await;

        assert_eq!(
            s.anon().with_token(&expired).get("/api/v1/auth/me/").await,
            (401, detail("API key has expired.")),
            "[{b}]"
        );
        assert_eq!(
            s.anon().with_token(&orphan).get("/api/v1/auth/me/").await,
            (401, detail("User not found.")),
            "[{b}]"
        );
        assert_eq!(
            s.anon().with_token(&fresh).get("/api/v1/auth/me/").await.0,
            200,
            "[{b}] not yet expired"
        );
    }
}

/// Racing first-run setups: exactly one wins, the others are told setup is done.
#[tokio::test]
async fn concurrent_setups_create_one_admin() {
    for db in testing::all("concurrent_setups_create_one_admin").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let anon = s.anon();
        let setups = (0..6).map(|i| {
            let anon = anon.clone();
            async move {
                anon.post(
                    "/api/v1/auth/setup/",
                    json!({"username": format!("admin{i}"), "password": PASSWORD}),
                )
                .await
            }
        });
        let results = futures_util::future::join_all(setups).await;
        let winners: Vec<&Value> = results
            .iter()
            .filter(|(status, _)| *status == 200)
            .map(|(_, body)| body)
            .collect();
        assert_eq!(winners.len(), 1, "[{b}] {results:?}");
        for (status, body) in results.iter().filter(|(status, _)| *status != 200) {
            assert_eq!(
                (*status, body),
                (409, &detail("Setup already completed.")),
                "[{b}]"
            );
        }
        let admin = anon.with_token(winners[0]["key"].as_str().expect("key"));
        let (status, users) = admin.get("/api/v1/users/").await;
        assert_eq!((status, &users["total"]), (200, &json!(1)), "[{b}] {users}");
    }
}
