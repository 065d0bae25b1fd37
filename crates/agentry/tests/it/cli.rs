use agentry_store::testing;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_agentry");

/// A data directory (for the secret key file) outside the source tree.
fn data_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join("agentry-cli-test-data");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

fn agentry(args: &[&str], db_url: &str, stdin: &str) -> std::process::Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("AGENTRY_DATABASE_URL", db_url)
        .env("AGENTRY_DATA_DIR", data_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start agentry");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait for agentry")
}

/// A running `agentry serve`, killed on drop.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `agentry serve` on an ephemeral port and reads the URL it prints.
fn serve(db_url: &str) -> (Server, Vec<String>) {
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("AGENTRY_DATABASE_URL", db_url)
        .env("AGENTRY_DATA_DIR", data_dir())
        .env("AGENTRY_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start agentry serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    let base = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .map(|host| format!("http://{host}"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"));
    let mut printed = vec![first];
    // The start-up message ends with the line telling how to stop.
    for line in lines.by_ref() {
        let line = line.expect("utf-8");
        let done = line.contains("Ctrl-C");
        printed.push(line);
        if done {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (Server { child, base }, printed)
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

#[test]
fn help_and_version_explain_every_flag() {
    let out = Command::new(BIN).arg("--version").output().expect("run");
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
    let out = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--bind",
        "--data-dir",
        "--database-url",
        "AGENTRY_BIND",
        "AGENTRY_DATA_DIR",
        "AGENTRY_DATABASE_URL",
        "127.0.0.1:8080",
    ] {
        assert!(help.contains(flag), "serve --help lacks {flag}:\n{help}");
    }
    let out = Command::new(BIN)
        .args(["user", "create", "--help"])
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&out.stdout).contains("--admin"));
}

#[test]
fn bad_database_url_is_a_clear_error() {
    let out = agentry(&["migrate"], "mysql://nope", "");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("neither sqlite") && err.contains("postgres"),
        "{err}"
    );
}

#[tokio::test]
async fn migrate_user_create_then_serve_and_log_in() {
    for t in testing::all("migrate_user_create_then_serve_and_log_in").await {
        let url = t.url.clone();
        let backend = t.db.backend_name();
        t.db.close().await;
        let out = agentry(&["migrate"], &url, "");
        assert!(
            out.status.success(),
            "{backend}: {}",
            String::from_utf8_lossy(&out.stderr)
        );

        // Empty database: serve says setup is needed.
        {
            let (server, printed) = serve(&url);
            assert!(
                printed.iter().any(|l| l.contains("first-run setup needed")),
                "{backend}: {printed:?}"
            );
            let health: Value = client()
                .get(format!("{}/health", server.base))
                .send()
                .await
                .expect("health")
                .json()
                .await
                .expect("json");
            assert_eq!(health["status"], "ok");
            assert_eq!(health["database"], true);
        }

        let out = agentry(
            &["user", "create", "--admin", "root_admin"],
            &url,
            "correct horse\n",
        );
        assert!(
            out.status.success(),
            "{backend}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("created admin user 'root_admin'"));
        let dup = agentry(&["user", "create", "root_admin"], &url, "correct horse\n");
        assert!(!dup.status.success());
        assert!(String::from_utf8_lossy(&dup.stderr).contains("Username already exists."));
        let short = agentry(&["user", "create", "shorty"], &url, "short\n");
        assert!(!short.status.success());
        assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8"));

        let (server, printed) = serve(&url);
        assert!(
            !printed.iter().any(|l| l.contains("first-run setup needed")),
            "{backend}: {printed:?}"
        );
        let http = client();
        let status: Value = http
            .get(format!("{}/api/v1/auth/setup-status/", server.base))
            .send()
            .await
            .expect("req")
            .json()
            .await
            .expect("json");
        assert_eq!(status, json!({"needs_setup": false}));
        let token: Value = http
            .post(format!("{}/api/v1/auth/token/", server.base))
            .json(&json!({"username": "root_admin", "password": "correct horse"}))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("json");
        let key = token["key"].as_str().expect("key");
        let me: Value = http
            .get(format!("{}/api/v1/auth/me/", server.base))
            .bearer_auth(key)
            .send()
            .await
            .expect("me")
            .json()
            .await
            .expect("json");
        assert_eq!(me["username"], "root_admin");
        assert_eq!(me["role"], "admin");
    }
}

/// `agentry apply` then `agentry export` against a running `agentry serve`: the applied workflow
/// runs to completion, the export applies again to the same graph, and a bad document is
/// refused with `FILE:LINE:COLUMN` errors and exit status 1.
#[tokio::test]
async fn apply_and_export_through_a_running_server() {
    for t in testing::all("apply_and_export_through_a_running_server").await {
        let url = t.url.clone();
        let backend = t.db.backend_name();
        let (server, _) = serve(&url);
        let http = client();
        let setup: Value = http
            .post(format!("{}/api/v1/auth/setup/", server.base))
            .json(&json!({"username": "admin", "password": "correct horse"}))
            .send()
            .await
            .expect("setup")
            .json()
            .await
            .expect("json");
        let key = setup["key"].as_str().expect("key").to_string();
        let dir = std::env::temp_dir().join(format!("agentry-apply-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join(format!("greeter-{backend}.yaml"));
        std::fs::write(
            &file,
            "name: Greeter\ntrigger: manual\nsteps:\n  - {id: greet, type: transform, template: 'Hello {{ trigger.text }}'}\n",
        )
        .expect("write the document");
        let remote = |args: &[&str]| {
            Command::new(BIN)
                .args(args)
                .args(["--server", &server.base])
                .env("AGENTRY_API_KEY", &key)
                .output()
                .expect("run agentry")
        };

        let out = remote(&["apply", file.to_str().expect("path")]);
        assert!(
            out.status.success(),
            "{backend}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let result: Value = serde_json::from_slice(&out.stdout).expect("JSON result");
        assert_eq!(result["success"], json!(true), "{backend}: {result}");
        assert_eq!(result["slug"], json!("greeter"));
        assert_eq!(result["mode"], json!("created"));
        assert_eq!(
            (result["node_count"].clone(), result["edge_count"].clone()),
            (json!(2), json!(1))
        );

        // It runs (the server's embedded workers) to completion.
        let started: Value = http
            .post(format!("{}/api/v1/workflows/greeter/execute/", server.base))
            .bearer_auth(&key)
            .json(&json!({"text": "world"}))
            .send()
            .await
            .expect("execute")
            .json()
            .await
            .expect("json");
        let id = started["execution_id"].as_str().expect("execution id");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let detail = loop {
            let d: Value = http
                .get(format!("{}/api/v1/executions/{id}/", server.base))
                .bearer_auth(&key)
                .send()
                .await
                .expect("execution")
                .json()
                .await
                .expect("json");
            if ["completed", "failed", "cancelled"].contains(&d["status"].as_str().unwrap_or("")) {
                break d;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{backend}: stuck: {d}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        };
        assert_eq!(detail["status"], json!("completed"), "{backend}: {detail}");
        assert!(
            detail["final_output"].to_string().contains("Hello world"),
            "{backend}: {detail}"
        );

        // Export, and the export applies again to the same nodes and edges.
        let out = remote(&["export", "greeter"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let yaml = String::from_utf8(out.stdout).expect("utf-8");
        assert!(
            yaml.contains("name: Greeter") && yaml.contains("edges:"),
            "{yaml}"
        );
        let exported = dir.join(format!("exported-{backend}.yaml"));
        std::fs::write(&exported, &yaml).expect("write");
        let out = remote(&["apply", exported.to_str().expect("path")]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let again: Value = serde_json::from_slice(&out.stdout).expect("JSON result");
        assert_eq!(again["slug"], json!("greeter-2"));
        let graph = |slug: &str| {
            let http = http.clone();
            let (base, key) = (server.base.clone(), key.clone());
            let slug = slug.to_string();
            async move {
                let w: Value = http
                    .get(format!("{base}/api/v1/workflows/{slug}/"))
                    .bearer_auth(&key)
                    .send()
                    .await
                    .expect("workflow")
                    .json()
                    .await
                    .expect("json");
                let nodes: Vec<(Value, Value, Value)> = w["nodes"]
                    .as_array()
                    .expect("nodes")
                    .iter()
                    .map(|n| {
                        (
                            n["node_id"].clone(),
                            n["component_type"].clone(),
                            n["config"].clone(),
                        )
                    })
                    .collect();
                let edges: Vec<(Value, Value, Value)> = w["edges"]
                    .as_array()
                    .expect("edges")
                    .iter()
                    .map(|e| {
                        (
                            e["source_node_id"].clone(),
                            e["target_node_id"].clone(),
                            e["edge_label"].clone(),
                        )
                    })
                    .collect();
                (nodes, edges)
            }
        };
        assert_eq!(
            graph("greeter-2").await,
            graph("greeter").await,
            "{backend}"
        );

        // A bad document: every error with its position, exit 1, nothing created.
        let bad = dir.join(format!("bad-{backend}.yaml"));
        std::fs::write(
            &bad,
            "name: Bad\nsteps:\n  - {id: a, type: code}\n  - {id: a, type: code}\n  - {type: warp}\n",
        )
        .expect("write");
        let out = remote(&["apply", bad.to_str().expect("path")]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        let bad_name = bad.display().to_string();
        assert!(
            err.contains(&format!("{bad_name}:4:10: Duplicate step ID 'a' in step 1")),
            "{backend}: {err}"
        );
        assert!(err.contains("Unknown step type 'warp' in step 2"), "{err}");
        assert!(
            err.contains("not applied (2 errors); nothing was created"),
            "{err}"
        );
        let out = remote(&["export", "bad"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("HTTP 404: Workflow not found."),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // A wrong key is the server's 401.
        let out = Command::new(BIN)
            .args([
                "export",
                "greeter",
                "--server",
                &server.base,
                "--api-key",
                "nope",
            ])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 401"));
        // The built-in examples: listed, printed, applied by name.
        let out = Command::new(BIN).arg("examples").output().expect("run");
        let list = String::from_utf8_lossy(&out.stdout);
        for name in ["orchestrator", "worker", "webhook", "pipeline"] {
            assert!(list.contains(name), "{list}");
        }
        let out = Command::new(BIN)
            .args(["examples", "pipeline"])
            .output()
            .expect("run");
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("# A switch/loop pipeline"));
        let out = remote(&["apply", "example:pipeline"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let applied: Value = serde_json::from_slice(&out.stdout).expect("JSON result");
        assert_eq!(applied["slug"], json!("word-pipeline"), "{backend}");
        let out = remote(&["apply", "example:nope"]);
        assert_eq!(out.status.code(), Some(1));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
