//! Command-line interface: one function per command.

use agentry_server::AppState;
use agentry_service::Services;
use agentry_service::dto::UserIn;
use agentry_service::secrets::SecretBox;
use agentry_store::Db;
use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "agentry",
    version,
    about = "Self-hosted platform for LLM agents that delegate work."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database, then serve the API and the web UI.
    Serve(ServeArgs),
    /// Run workers only (no API), e.g. more processes on one PostgreSQL. SIGTERM drains.
    Worker(WorkerArgs),
    /// Apply pending database migrations and exit.
    Migrate(DbArgs),
    /// Manage users without a running server.
    #[command(subcommand)]
    User(UserCommand),
    /// Create (or fork) a workflow from a DSL file on a running server (`POST
    /// /api/v1/workflows/dsl/`) as the API key's user; prints the result, or every error with
    /// its line and column (exit 1).
    Apply {
        /// The YAML (or JSON) DSL document; `-` reads standard input; `example:NAME` a
        /// built-in example (`agentry examples`).
        file: PathBuf,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// List the built-in example documents, or print one (`agentry examples pipeline >
    /// p.yaml`); `agentry apply example:NAME` applies one directly.
    Examples {
        /// The example to print.
        name: Option<String>,
    },
    /// Print a workflow as a DSL document (`GET /api/v1/workflows/{slug}/dsl/`) that `apply`
    /// turns back into the same nodes and edges.
    Export {
        /// The workflow's slug.
        slug: String,
        /// Write the document to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        remote: RemoteArgs,
    },
}

/// How `apply` / `export` reach a running server.
#[derive(Args, Clone)]
struct RemoteArgs {
    /// Base URL of a running `agentry serve`.
    #[arg(long, env = "AGENTRY_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// API key to act as (`POST /api/v1/users/me/keys` or the key `auth/token` returns).
    #[arg(long, env = "AGENTRY_API_KEY", hide_env_values = true)]
    api_key: String,
}

#[derive(Args)]
struct WorkerArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Base URL of the agentry API (`agentry serve`) for the `platform_api` tool; without it
    /// that tool answers that it is unavailable.
    #[arg(long, env = "AGENTRY_PUBLIC_URL")]
    public_url: Option<String>,
    /// Workers in this process.
    #[arg(long, env = "AGENTRY_WORKERS", default_value_t = 4)]
    workers: usize,
    /// Key that encrypts stored credential secrets (any string). Default: the key file
    /// `secret.key` in the data directory, created on first use. Every process sharing a
    /// database needs the same key.
    #[arg(long, env = "AGENTRY_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// Log filter (tracing EnvFilter syntax).
    #[arg(long, env = "AGENTRY_LOG", default_value = "info")]
    log: String,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "AGENTRY_LOG_JSON")]
    log_json: bool,
}

#[derive(Args, Clone)]
struct DbArgs {
    /// Directory for the embedded database and local state.
    #[arg(long, env = "AGENTRY_DATA_DIR", default_value = "./agentry-data")]
    data_dir: PathBuf,
    /// Database URL: `sqlite://FILE` or `postgres://USER@HOST:PORT/DB`. Default: SQLite file
    /// `agentry.db` inside the data directory.
    #[arg(long, env = "AGENTRY_DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "AGENTRY_BIND", default_value = "127.0.0.1:8080")]
    bind: String,
    /// Log filter (tracing EnvFilter syntax), e.g. `info` or `agentry=debug`.
    #[arg(long, env = "AGENTRY_LOG", default_value = "info")]
    log: String,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "AGENTRY_LOG_JSON")]
    log_json: bool,
    /// Base URL of this server as agents and webhooks reach it (the `platform_api` tool calls
    /// it). Default: `http://{bind address}`.
    #[arg(long, env = "AGENTRY_PUBLIC_URL")]
    public_url: Option<String>,
    /// Embedded workers running executions (0 = API only; run `agentry worker` elsewhere).
    #[arg(long, env = "AGENTRY_WORKERS", default_value_t = 4)]
    workers: usize,
    /// Key that encrypts stored credential secrets (any string). Default: the key file
    /// `secret.key` in the data directory, created on first use. Every process sharing a
    /// database needs the same key.
    #[arg(long, env = "AGENTRY_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user. The password is read from standard input (asked twice on a terminal).
    Create {
        /// User name: 1 to 64 characters from A-Z a-z 0-9 _ . -
        name: String,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        db: DbArgs,
    },
}

impl DbArgs {
    fn url(&self) -> Result<String> {
        if let Some(url) = &self.database_url {
            return Ok(url.clone());
        }
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("cannot create data directory {}", self.data_dir.display()))?;
        Ok(format!(
            "sqlite://{}",
            self.data_dir.join("agentry.db").display()
        ))
    }

    async fn open(&self) -> Result<Db> {
        let url = self.url()?;
        let db = Db::connect(&url)
            .await
            .with_context(|| format!("cannot open database {}", redact(&url)))?;
        db.migrate().await.context("database migration failed")?;
        Ok(db)
    }
}

/// Hides a password in a database URL before it is printed.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:****{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

pub async fn run(cli: Cli) -> Result<()> {
    // reqwest (rustls without a default provider) needs one installed before any TLS use.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Worker(args) => worker(args).await,
        Command::Migrate(db) => {
            db.open().await?;
            println!("database is up to date");
            Ok(())
        }
        Command::User(UserCommand::Create { name, admin, db }) => {
            user_create(name, admin, db).await
        }
        Command::Apply { file, remote } => {
            crate::remote::apply(&file, &remote.server, &remote.api_key).await
        }
        Command::Examples { name } => crate::remote::examples(name.as_deref()),
        Command::Export {
            slug,
            output,
            remote,
        } => crate::remote::export(&slug, output.as_deref(), &remote.server, &remote.api_key).await,
    }
}

fn init_logs(filter: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    init_logs(&args.log, args.log_json);
    let db = args.db.open().await?;
    let services = Services::with_secrets(db.clone(), secret_box(&args.secret_key, &args.db)?);
    if let Err(error) = services.ensure_env_credentials().await {
        tracing::warn!(%error, "cannot create the credentials from the environment");
    }
    let listener = tokio::net::TcpListener::bind(&args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let addr = listener.local_addr()?;
    let needs_setup = services.needs_setup().await?;
    println!(
        "agentry {} listening on http://{addr}/ ({} database)",
        env!("CARGO_PKG_VERSION"),
        db.backend_name()
    );
    if needs_setup {
        println!("first-run setup needed: open http://{addr}/ to create the admin account");
    }
    println!("press Ctrl-C to stop");
    let _ = std::io::stdout().flush();
    // On SQLite this process is the only one: leases left by a killed predecessor are void.
    let released = agentry_store::jobs::release_all_leases(&db).await?;
    if released > 0 {
        tracing::info!(jobs = released, "resuming work left by the previous run");
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let mut services = services;
    services.public_url = Some(public_url.trim_end_matches('/').to_string());
    let orchestrator = std::sync::Arc::new(agentry_engine::orchestrator::Orchestrator::new(
        services.clone(),
        node_env(Some(public_url), &args.db),
        format!("serve-{}", std::process::id()),
    ));
    let workers = agentry_engine::worker::spawn_workers(orchestrator, args.workers, stop_rx);
    let state = AppState {
        services,
        version: env!("CARGO_PKG_VERSION"),
    };
    agentry_server::serve(listener, state, shutdown_signal()).await?;
    // Drain: workers finish their current job, then stop claiming.
    let _ = stop_tx.send(true);
    for w in workers {
        let _ = w.await;
    }
    db.close().await;
    Ok(())
}

/// What nodes may use of this process: the public URL and the workspace root under the data
/// directory (`run_command`).
fn node_env(public_url: Option<String>, db: &DbArgs) -> agentry_engine::node::NodeEnv {
    agentry_engine::node::NodeEnv {
        public_url,
        workspace_root: Some(db.data_dir.join("workspaces")),
        ..Default::default()
    }
}

/// The key sealing credential secrets: `--secret-key` / `AGENTRY_SECRET_KEY`, else the data
/// directory's key file (engine.md §12).
fn secret_box(secret_key: &Option<String>, db: &DbArgs) -> Result<SecretBox> {
    SecretBox::from_env_or_file(secret_key.as_deref(), &db.data_dir)
        .context("cannot load the secret key")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}

async fn user_create(name: String, admin: bool, db: DbArgs) -> Result<()> {
    let password = read_password()?;
    let services = Services::new(db.open().await?);
    let role = if admin { "admin" } else { "normal" };
    let user = services
        .create_user(UserIn {
            username: name,
            password,
            role: role.into(),
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "created {} user '{}' (id {})",
        user.role, user.username, user.id
    );
    Ok(())
}

fn read_password() -> Result<String> {
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let read = |prompt: &str| -> Result<String> {
        if interactive {
            eprint!("{prompt}");
            let _ = std::io::stderr().flush();
        }
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    };
    let password = read("Password: ")?;
    if interactive && read("Repeat password: ")? != password {
        bail!("the passwords do not match");
    }
    if password.is_empty() {
        bail!("no password given on standard input");
    }
    Ok(password)
}

async fn worker(args: WorkerArgs) -> Result<()> {
    init_logs(&args.log, args.log_json);
    let db = args.db.open().await?;
    let services = Services::with_secrets(db.clone(), secret_box(&args.secret_key, &args.db)?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let orchestrator = std::sync::Arc::new(agentry_engine::orchestrator::Orchestrator::new(
        services,
        node_env(args.public_url.clone(), &args.db),
        format!("worker-{}-{}", std::process::id(), agentry_store::now_ms()),
    ));
    let workers = agentry_engine::worker::spawn_workers(orchestrator, args.workers.max(1), stop_rx);
    println!(
        "agentry {} worker: {} workers on the {} database",
        env!("CARGO_PKG_VERSION"),
        args.workers.max(1),
        db.backend_name()
    );
    println!("press Ctrl-C to stop");
    let _ = std::io::stdout().flush();
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    for w in workers {
        let _ = w.await;
    }
    db.close().await;
    Ok(())
}
