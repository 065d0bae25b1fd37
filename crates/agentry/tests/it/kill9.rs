//! The durability proof (ARCHITECTURE.md "durable by construction"; engine.md §11 crash
//! recovery): the real `agentry serve` process is killed with SIGKILL at random moments while
//! 20 executions of a 5-step workflow run (plus 4 executions whose `workflow` node runs a
//! 2-step child), and restarted on the same SQLite database each time. Every execution must
//! still complete exactly once, with exactly one completed log row per node, exactly one child
//! per `workflow` node, the right outputs, and no job left behind.
//!
//! The kill delays come from an xorshift generator seeded from the clock; the seed is printed
//! (set `AGENTRY_KILL9_SEED` to replay a run's schedule).

use crate::support::{Api, Graph, TERMINAL};
use agentry_store::testing;
use serde_json::{Map, Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_agentry");
/// Executions of the 5-step chain.
const EXECUTIONS: usize = 20;
const STEPS: usize = 5;
/// Executions of a workflow whose `workflow` node runs a 2-step child (each spawns one child).
const PARENTS: usize = 4;
/// Every execution, children included.
const TOTAL: usize = EXECUTIONS + 2 * PARENTS;
/// Bounds of the kill phase; afterwards the last process runs undisturbed.
const MAX_KILLS: u32 = 40;
const KILL_PHASE: Duration = Duration::from_secs(90);
/// How long the last process may take to finish what is left.
const FINISH: Duration = Duration::from_secs(60);

/// A running `agentry serve`; SIGKILLed on drop.
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
}

impl Server {
    /// Starts `agentry serve --workers 2` on port 0 and reads the URL it prints.
    pub(crate) fn start(db_url: &str, data_dir: &Path) -> Server {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.join("agentry.log"))
            .expect("open the log file");
        let mut child = Command::new(BIN)
            .args(["serve", "--bind", "127.0.0.1:0", "--workers", "2"])
            .env("AGENTRY_DATABASE_URL", db_url)
            .env("AGENTRY_DATA_DIR", data_dir)
            .env("AGENTRY_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start agentry serve");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut base = None;
        for line in lines.by_ref() {
            let line = line.expect("utf-8");
            if base.is_none()
                && let Some(rest) = line.split("http://").nth(1)
            {
                let host = rest.split('/').next().unwrap_or_default();
                base = Some(format!("http://{host}"));
            }
            if line.contains("Ctrl-C") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        let base = base.unwrap_or_else(|| {
            panic!(
                "agentry serve printed no URL; log: {}",
                std::fs::read_to_string(data_dir.join("agentry.log")).unwrap_or_default()
            )
        });
        Server { child, base }
    }

    /// SIGKILL: no drain, no graceful anything.
    pub(crate) fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// xorshift64: small, seedable, good enough for a kill schedule.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

fn seed() -> u64 {
    if let Some(s) = std::env::var("AGENTRY_KILL9_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        return s.max(1);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9e37_79b9_7f4a_7c15);
    nanos | 1
}

/// start → n1 → … → n5; each `code` step sleeps 0.2 s and appends `-k` to its predecessor's
/// output (the first starts from the trigger text).
fn steps_graph() -> Graph {
    let mut g = Graph::new("Durable chain");
    let mut path = vec!["start".to_string()];
    for k in 1..=STEPS {
        let prev = if k == 1 {
            "state['trigger']['text']".to_string()
        } else {
            format!("node_outputs['n{}']['output']", k - 1)
        };
        g = g.code(
            &format!("n{k}"),
            &format!("import time\ntime.sleep(0.2)\nreturn {prev} + '-{k}'"),
        );
        path.push(format!("n{k}"));
    }
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    g.chain(&path)
}

/// A child of 2 slow `code` steps replying `{text}-c1-c2`.
fn child_graph() -> Graph {
    Graph::child("Durable child")
        .code(
            "c1",
            "import time\ntime.sleep(0.2)\nreturn state['trigger']['text'] + '-c1'",
        )
        .code(
            "c2",
            "import time\ntime.sleep(0.2)\nreturn node_outputs['c1']['output'] + '-c2'",
        )
        .node("c3", "reply_chat", json!({"message": "{{ c2.output }}"}))
        .chain(&["start", "c1", "c2", "c3"])
}

/// start → p (runs the child) → fin (a slow `code` step appending `-fin`).
fn parent_graph(child: &str) -> Graph {
    Graph::new("Durable parent")
        .node("p", "workflow", json!({ "target_workflow": child }))
        .code(
            "fin",
            "import time\ntime.sleep(0.2)\nreturn node_outputs['p']['output']['output'] + '-fin'",
        )
        .chain(&["start", "p", "fin"])
}

/// How many executions (children included) are terminal (`None` if the server did not answer).
async fn terminal_count(api: &Api) -> Option<usize> {
    let mut n = 0;
    for status in TERMINAL {
        let (code, page) = api
            .get(&format!("/api/v1/executions/?status={status}&limit=1"))
            .await;
        if code != 200 {
            return None;
        }
        n += page["total"].as_u64()? as usize;
    }
    Some(n)
}

/// `(node_id, status)` of an execution's log rows.
fn log_rows(e: &Value) -> Vec<(String, String)> {
    e["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .map(|l| {
            (
                l["node_id"].as_str().unwrap_or("?").to_string(),
                l["status"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_loses_nothing() {
    let t = testing::sqlite().await;
    let url = t.url.clone();
    t.db.close().await;
    let seed = seed();
    let data_dir =
        std::env::temp_dir().join(format!("agentry-kill9-{}-{seed}", std::process::id()));
    std::fs::create_dir_all(&data_dir).expect("data dir");
    let log = data_dir.join("agentry.log");
    let mut rng = XorShift(seed);
    println!("kill9: seed {seed} (AGENTRY_KILL9_SEED={seed} replays the schedule)");

    let began = Instant::now();
    let mut server = Server::start(&url, &data_dir);
    let mut api = Api::new(&server.base).setup().await;
    let chain = api.create(&steps_graph()).await;
    let child = api.create(&child_graph()).await;
    let parent = api.create(&parent_graph(&child)).await;
    let mut chains = Vec::new();
    let mut parents = Vec::new();
    for i in 0..EXECUTIONS {
        let text = format!("e{i:02}");
        chains.push((api.execute(&chain, &text).await, text));
        if i % (EXECUTIONS / PARENTS) == 0 {
            let text = format!("p{i:02}");
            parents.push((api.execute(&parent, &text).await, text));
        }
    }
    assert_eq!(parents.len(), PARENTS);

    // Kill at random moments, restart on the same database, until everything ended.
    let mut kills = 0u32;
    while terminal_count(&api).await != Some(TOTAL)
        && kills < MAX_KILLS
        && began.elapsed() < KILL_PHASE
    {
        let delay = 100 + rng.next() % 1401;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        server.kill9();
        kills += 1;
        server = Server::start(&url, &data_dir);
        api = api.at(&server.base);
    }
    let kill_phase = began.elapsed();

    // The last process finishes whatever is left, undisturbed.
    let deadline = Instant::now() + FINISH;
    while terminal_count(&api).await != Some(TOTAL) {
        assert!(
            Instant::now() < deadline,
            "not all executions ended {FINISH:?} after the last restart (seed {seed}, {kills} kills); log: {}",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "kill9: {kills} kills, {kills} restarts; kill phase {:.1} s; all {TOTAL} executions ended after {:.1} s",
        kill_phase.as_secs_f64(),
        began.elapsed().as_secs_f64()
    );

    // Every chain execution completed with exactly one completed log row per node (no failed
    // or duplicated rows) and the right outputs.
    let nodes: Vec<String> = (1..=STEPS).map(|k| format!("n{k}")).collect();
    for (id, text) in &chains {
        let e = api.execution(id).await;
        assert_eq!(e["status"], "completed", "{id} (seed {seed}): {e:#}");
        assert_eq!(e["error_message"], "", "{id}");
        let want: Vec<(&str, &str)> = nodes.iter().map(|n| (n.as_str(), "completed")).collect();
        assert_eq!(log_rows(&e), pairs(&want), "{id} (seed {seed})");
        let mut outputs = Map::new();
        outputs.insert("start".into(), json!({ "text": text }));
        let mut acc = text.clone();
        for (k, n) in nodes.iter().enumerate() {
            acc = format!("{acc}-{}", k + 1);
            outputs.insert(n.clone(), json!({ "output": acc }));
            assert_eq!(e["logs"][k]["output"], json!({ "output": acc }), "{id} {n}");
        }
        assert_eq!(
            e["final_output"],
            json!({ "node_outputs": Value::Object(outputs) }),
            "{id} (seed {seed})"
        );
    }
    // Every parent spawned exactly one child, which completed once; the result came back.
    let mut all_ids: Vec<String> = chains.iter().map(|(id, _)| id.clone()).collect();
    for (id, text) in &parents {
        let e = api.execution(id).await;
        assert_eq!(e["status"], "completed", "{id} (seed {seed}): {e:#}");
        assert_eq!(
            log_rows(&e),
            pairs(&[("p", "waiting"), ("p", "completed"), ("fin", "completed")]),
            "{id} (seed {seed})"
        );
        let reply = format!("{text}-c1-c2");
        assert_eq!(
            e["final_output"],
            json!({"node_outputs": {
                "start": {"text": text},
                "p": {"output": {"output": reply}},
                "fin": {"output": format!("{reply}-fin")},
            }}),
            "{id} (seed {seed})"
        );
        let kids = api.children(id).await;
        assert_eq!(kids.len(), 1, "{id} (seed {seed}): {kids:#?}");
        let kid = kids[0]["execution_id"].as_str().expect("id").to_string();
        let k = api.execution(&kid).await;
        assert_eq!(k["status"], "completed", "{kid}: {k:#}");
        assert_eq!(
            log_rows(&k),
            pairs(&[
                ("c1", "completed"),
                ("c2", "completed"),
                ("c3", "completed")
            ]),
            "{kid} (seed {seed})"
        );
        assert_eq!(k["final_output"], json!({ "output": reply }), "{kid}");
        all_ids.push(id.clone());
        all_ids.push(kid);
    }
    server.kill9();

    // Completed exactly once: one final event per execution in the outbox (`execution_completed`),
    // and no job left behind.
    let db = agentry_store::Db::connect(&url).await.expect("reopen");
    let mut started_runs = 0;
    for id in &all_ids {
        let events = agentry_store::events::list_after(&db, &format!("execution:{id}"), 0, 10_000)
            .await
            .expect("events");
        let finals: Vec<&str> = events
            .iter()
            .map(|e| e.kind.as_str())
            .filter(|k| k.starts_with("execution_") && *k != "execution_started")
            .collect();
        assert_eq!(finals, ["execution_completed"], "{id} (seed {seed})");
        started_runs += events
            .iter()
            .filter(|e| e.kind == "node_status" && e.data.0["status"] == "running")
            .count();
        let jobs = agentry_store::jobs::for_execution(&db, id)
            .await
            .expect("jobs");
        assert!(jobs.is_empty(), "{id}: {jobs:?}");
    }
    db.close().await;
    // Node runs a kill interrupted were started again after the restart.
    let runs = EXECUTIONS * STEPS + PARENTS * (3 + 3);
    println!(
        "kill9: {started_runs} node runs started for {runs} that completed ({} redone after kills)",
        started_runs.saturating_sub(runs)
    );
    let _ = std::fs::remove_dir_all(&data_dir);
    drop(t);
}
