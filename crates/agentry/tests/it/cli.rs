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
