//! # agentry-bench
//!
//! API throughput of the agentry server, measured end to end: for each scenario it starts the
//! real server (`agentry_server::serve`) in this process on `127.0.0.1:0` against a fresh,
//! migrated database (SQLite in a temporary directory, or a fresh schema in the PostgreSQL
//! database given with `--postgres`), runs first-run setup for an API key, and then sends a
//! bounded number of HTTP requests over loopback with reqwest, keeping `--concurrency` of them
//! in flight.
//!
//! Scenarios:
//! - `create-workflow`: `POST /api/v1/workflows/` with a distinct name each time (default 2,000);
//! - `create-node`: `POST /api/v1/workflows/{slug}/nodes/` (a `code` node with a distinct
//!   `node_id`) into one workflow (default 2,000);
//! - `list-workflows`: `GET /api/v1/workflows/?limit=500` with 1,000 workflows present, so each
//!   answer carries 500 items and `total: 1000` (default 500).
//!
//! Each timed request includes the whole HTTP exchange (request JSON, the bearer-key lookup,
//! the service call with its transaction for writes, the response JSON, reading the full body).
//! A few untimed warm-up requests open the connections first. Client and server share the
//! machine's cores, so the figures are a floor for a server on its own host.
//!
//! For each scenario it prints requests/s, p50/p90/p99/max latency in milliseconds, and the CPU
//! time this process (client + server, not PostgreSQL's own processes) spent per request during
//! the timed run (Linux `/proc/self/stat`; on a shared machine it shows cost independently of
//! interference). The output is a row of a Markdown table on stdout, progress goes to stderr, and
//! the exit status is non-zero if any request failed or the run exceeded `--time-limit`.

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, ValueEnum};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use std::future::Future;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(
    name = "agentry-bench",
    about = "API throughput benchmark for the agentry server"
)]
struct Args {
    /// Timed requests per scenario (default: 2000 for creates, 500 for the list).
    #[arg(long)]
    requests: Option<usize>,
    /// Requests kept in flight.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Run against this PostgreSQL database (a fresh schema per scenario, dropped afterwards)
    /// instead of a temporary SQLite file.
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
    /// PostgreSQL pool size (`agentry serve` uses 10).
    #[arg(long, default_value_t = 10)]
    pg_pool: u32,
    /// Which scenario to run.
    #[arg(long, value_enum, default_value_t = Scenario::All)]
    scenario: Scenario,
    /// Workflows present during `list-workflows`.
    #[arg(long, default_value_t = 1000)]
    list_rows: usize,
    /// Untimed warm-up requests before each timed run.
    #[arg(long, default_value_t = 32)]
    warmup: usize,
    /// Give up (and fail) when the whole run takes longer than this many seconds.
    #[arg(long, default_value_t = 600)]
    time_limit: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    All,
    CreateWorkflow,
    CreateNode,
    ListWorkflows,
}

impl Scenario {
    fn name(self, args: &Args) -> String {
        match self {
            Scenario::All => "all".into(),
            Scenario::CreateWorkflow => "create workflow".into(),
            Scenario::CreateNode => "create node".into(),
            Scenario::ListWorkflows => {
                format!("list workflows ({LIST_LIMIT} of {})", args.list_rows)
            }
        }
    }

    fn default_requests(self) -> usize {
        match self {
            Scenario::ListWorkflows => 500,
            _ => 2000,
        }
    }
}

/// `LIMIT` of the list request (the API's maximum).
const LIST_LIMIT: usize = 500;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    if args.list_rows < LIST_LIMIT {
        bail!("--list-rows must be at least {LIST_LIMIT}");
    }
    let scenarios = match args.scenario {
        Scenario::All => vec![
            Scenario::CreateWorkflow,
            Scenario::CreateNode,
            Scenario::ListWorkflows,
        ],
        one => vec![one],
    };
    let backend = if args.postgres.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let deadline = Instant::now() + Duration::from_secs(args.time_limit);

    println!(
        "| backend | scenario | requests | concurrency | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | bench CPU ms/req |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut failed = Vec::new();
    for scenario in scenarios {
        let requests = args.requests.unwrap_or(scenario.default_requests());
        eprintln!(
            "[{backend}] {}: starting ({requests} requests, {} in flight)",
            scenario.name(&args),
            args.concurrency
        );
        let env = Env::start(&args).await?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let outcome =
            tokio::time::timeout(remaining, scenario_run(&env, &args, scenario, requests))
                .await
                .map_err(|_| anyhow!("time limit of {} s exceeded", args.time_limit));
        env.stop().await;
        let stats = outcome??;
        eprintln!(
            "[{backend}] {}: done in {:.2} s, {:.0} req/s, {} errors",
            scenario.name(&args),
            stats.elapsed.as_secs_f64(),
            stats.rate(),
            stats.errors.len()
        );
        println!(
            "| {backend} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} |",
            scenario.name(&args),
            stats.latencies.len(),
            args.concurrency,
            stats.rate(),
            stats.percentile_ms(0.50),
            stats.percentile_ms(0.90),
            stats.percentile_ms(0.99),
            stats.percentile_ms(1.0),
            stats.errors.len(),
            stats.cpu_per_request()
        );
        if !stats.errors.is_empty() {
            for e in stats.errors.iter().take(5) {
                eprintln!("  error: {e}");
            }
            failed.push(scenario.name(&args));
        }
    }
    if !failed.is_empty() {
        bail!("requests failed in: {}", failed.join(", "));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The server under test

enum Cleanup {
    Dir(PathBuf),
    Schema { admin: sqlx::PgPool, schema: String },
}

/// A running server on a fresh database, with a key for it.
struct Env {
    http: Arc<EnvRef>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    db: agentry_store::Db,
    cleanup: Cleanup,
}

impl Env {
    async fn start(args: &Args) -> Result<Env> {
        let id = ulid::Ulid::generate().to_string().to_lowercase();
        let (db, cleanup) = match &args.postgres {
            Some(url) => {
                let schema = format!("bench_{id}");
                let base = sqlx::postgres::PgConnectOptions::from_str(url)
                    .context("cannot parse the --postgres URL")?;
                let admin = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with(base.clone())
                    .await
                    .context("cannot connect to PostgreSQL")?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&admin)
                    .await
                    .context("cannot create the bench schema")?;
                let cleanup = Cleanup::Schema {
                    admin,
                    schema: schema.clone(),
                };
                let opts = base.options([("search_path", schema.as_str())]);
                match agentry_store::Db::connect_postgres(opts, args.pg_pool).await {
                    Ok(db) => (db, cleanup),
                    Err(e) => {
                        cleanup.run().await;
                        return Err(e).context("cannot connect to the bench schema");
                    }
                }
            }
            None => {
                let dir = std::env::temp_dir().join(format!("agentry-bench-{id}"));
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                let url = format!("sqlite://{}", dir.join("agentry.db").display());
                match agentry_store::Db::connect(&url).await {
                    Ok(db) => (db, Cleanup::Dir(dir)),
                    Err(e) => {
                        Cleanup::Dir(dir).run().await;
                        return Err(e).context("cannot open the SQLite database");
                    }
                }
            }
        };
        match Self::serve(db.clone()).await {
            Ok((client, base, auth, shutdown, server)) => Ok(Env {
                http: Arc::new(EnvRef { client, base, auth }),
                shutdown,
                server,
                db,
                cleanup,
            }),
            Err(e) => {
                db.close().await;
                cleanup.run().await;
                Err(e)
            }
        }
    }

    #[allow(clippy::type_complexity)]
    async fn serve(
        db: agentry_store::Db,
    ) -> Result<(
        Client,
        String,
        String,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<std::io::Result<()>>,
    )> {
        db.migrate().await.context("migration failed")?;
        let services = agentry_service::Services::new(db);
        let token = services
            .setup("bench", "bench-password-0123")
            .await
            .map_err(|e| anyhow!("first-run setup failed: {e}"))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let state = agentry_server::AppState {
            services,
            version: "bench",
        };
        let server = tokio::spawn(agentry_server::serve(listener, state, async move {
            let _ = stop.await;
        }));
        let client = Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("cannot build the HTTP client")?;
        Ok((
            client,
            format!("http://{addr}/api/v1"),
            format!("Bearer {}", token.key),
            shutdown,
            server,
        ))
    }

    async fn stop(self) {
        // Idle keep-alive connections go with the client, so graceful shutdown is quick.
        drop(self.http);
        let _ = self.shutdown.send(());
        let _ = tokio::time::timeout(Duration::from_secs(10), self.server).await;
        self.db.close().await;
        self.cleanup.run().await;
    }
}

impl Cleanup {
    async fn run(self) {
        match self {
            Cleanup::Dir(dir) => {
                if let Err(e) = std::fs::remove_dir_all(&dir) {
                    eprintln!("warning: cannot remove {}: {e}", dir.display());
                }
            }
            Cleanup::Schema { admin, schema } => {
                let dropped = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE"
                )))
                .execute(&admin)
                .await;
                if let Err(e) = dropped {
                    eprintln!("warning: cannot drop schema {schema}: {e}");
                }
                admin.close().await;
            }
        }
    }
}

/// Sends a request, reads the whole body, and checks the status.
async fn exchange(req: RequestBuilder, expect: StatusCode) -> Result<Vec<u8>, String> {
    let resp = req.send().await.map_err(|e| format!("send: {e}"))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| format!("body: {e}"))?;
    if status != expect {
        let text = String::from_utf8_lossy(&body);
        return Err(format!("status {status} (expected {expect}): {text}"));
    }
    Ok(body.to_vec())
}

// ---------------------------------------------------------------------------------------------
// Scenarios

async fn scenario_run(
    env: &Env,
    args: &Args,
    scenario: Scenario,
    requests: usize,
) -> Result<Stats> {
    let c = args.concurrency;
    let env = env.http.clone();
    match scenario {
        Scenario::CreateWorkflow => {
            let create = |prefix: &'static str| {
                let env = env.clone();
                move |i: usize| {
                    let req = env.post(
                        "/workflows/",
                        &json!({ "name": format!("{prefix} {i:06}") }),
                    );
                    async move { exchange(req, StatusCode::CREATED).await.map(drop) }
                }
            };
            drive(args.warmup, c, create("warmup"))
                .await
                .check("warm-up")?;
            Ok(drive(requests, c, create("bench workflow")).await)
        }
        Scenario::CreateNode => {
            let body = exchange(
                env.post("/workflows/", &json!({ "name": "bench nodes" })),
                StatusCode::CREATED,
            )
            .await
            .map_err(|e| anyhow!("creating the workflow: {e}"))?;
            let created: Value = serde_json::from_slice(&body)?;
            let slug = created["slug"]
                .as_str()
                .ok_or_else(|| anyhow!("no slug in {created}"))?
                .to_string();
            let path: Arc<str> = format!("/workflows/{slug}/nodes/").into();
            let create = |prefix: &'static str| {
                let env = env.clone();
                let path = path.clone();
                move |i: usize| {
                    let req = env.post(
                        &path,
                        &json!({ "component_type": "code", "node_id": format!("{prefix}{i}") }),
                    );
                    async move { exchange(req, StatusCode::CREATED).await.map(drop) }
                }
            };
            drive(args.warmup, c, create("warmup_"))
                .await
                .check("warm-up")?;
            Ok(drive(requests, c, create("node_")).await)
        }
        Scenario::ListWorkflows => {
            let seed = {
                let env = env.clone();
                move |i: usize| {
                    let req = env.post("/workflows/", &json!({ "name": format!("listed {i:06}") }));
                    async move { exchange(req, StatusCode::CREATED).await.map(drop) }
                }
            };
            drive(args.list_rows, c, seed).await.check("seeding")?;
            let path = format!("/workflows/?limit={LIST_LIMIT}");
            // One checked answer first: the page must really hold LIST_LIMIT of list_rows items.
            let body = exchange(env.get(&path), StatusCode::OK)
                .await
                .map_err(|e| anyhow!("first list: {e}"))?;
            let page: Value = serde_json::from_slice(&body)?;
            let items = page["items"].as_array().map_or(0, Vec::len);
            let total = page["total"].as_u64().unwrap_or(0);
            if items != LIST_LIMIT || total != args.list_rows as u64 {
                bail!(
                    "list answered {items} items of {total}, expected {LIST_LIMIT} of {}",
                    args.list_rows
                );
            }
            eprintln!(
                "  list answer: {items} items of {total}, {} bytes",
                body.len()
            );
            let list = {
                let env = env.clone();
                let path: Arc<str> = path.into();
                move |_: usize| {
                    let req = env.get(&path);
                    async move { exchange(req, StatusCode::OK).await.map(drop) }
                }
            };
            drive(args.warmup, c, list.clone()).await.check("warm-up")?;
            Ok(drive(requests, c, list).await)
        }
        Scenario::All => bail!("'all' is not a single scenario"),
    }
}

/// What a request closure needs (cheap to share between tasks).
struct EnvRef {
    client: Client,
    base: String,
    auth: String,
}

impl EnvRef {
    fn post(&self, path: &str, body: &Value) -> RequestBuilder {
        self.client
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .json(body)
    }

    fn get(&self, path: &str) -> RequestBuilder {
        self.client
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::AUTHORIZATION, &self.auth)
    }
}

// ---------------------------------------------------------------------------------------------
// The load driver

struct Stats {
    elapsed: Duration,
    /// CPU time this process (client and server) used during the run, where known.
    cpu: Option<Duration>,
    /// Sorted.
    latencies: Vec<Duration>,
    errors: Vec<String>,
}

impl Stats {
    fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.latencies.len() as f64 / secs
        } else {
            0.0
        }
    }

    /// This process's CPU milliseconds per request, or `-` where unknown.
    fn cpu_per_request(&self) -> String {
        match self.cpu {
            Some(cpu) if !self.latencies.is_empty() => format!(
                "{:.2}",
                cpu.as_secs_f64() * 1000.0 / self.latencies.len() as f64
            ),
            _ => "-".into(),
        }
    }

    /// Nearest-rank percentile (`q` in 0..=1) in milliseconds.
    fn percentile_ms(&self, q: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let n = self.latencies.len();
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        self.latencies[rank - 1].as_secs_f64() * 1000.0
    }

    /// Fails when an untimed phase had errors.
    fn check(self, phase: &str) -> Result<()> {
        match self.errors.first() {
            None => Ok(()),
            Some(e) => bail!("{} {phase} requests failed; first: {e}", self.errors.len()),
        }
    }
}

/// Runs `requests` calls of `call(i)` (`i` = 0..requests) with `concurrency` in flight; a failed
/// call counts as an error and its latency is still recorded.
async fn drive<F, Fut>(requests: usize, concurrency: usize, call: F) -> Stats
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = process_cpu();
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.min(requests.max(1)) {
        let next = next.clone();
        let call = call.clone();
        workers.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let t = Instant::now();
                let result = call(i).await;
                latencies.push(t.elapsed());
                if let Err(e) = result {
                    errors.push(e);
                }
            }
            (latencies, errors)
        });
    }
    let mut latencies = Vec::with_capacity(requests);
    let mut errors = Vec::new();
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok((l, e)) => {
                latencies.extend(l);
                errors.extend(e);
            }
            Err(e) => errors.push(format!("worker task failed: {e}")),
        }
    }
    let elapsed = started.elapsed();
    let cpu = match (cpu_before, process_cpu()) {
        (Some(a), Some(b)) => b.checked_sub(a),
        _ => None,
    };
    latencies.sort_unstable();
    Stats {
        elapsed,
        cpu,
        latencies,
        errors,
    }
}

/// User + system CPU time of this process so far (Linux: `/proc/self/stat`, in 1/100 s ticks).
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) close with ')'.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}
