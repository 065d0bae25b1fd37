//! # agentry
//!
//! The one binary: `serve` (API + web UI on embedded SQLite or PostgreSQL), `worker`,
//! `migrate`, `user create` (straight on the database), and `apply` / `export` (DSL documents,
//! through a running server's API, so the server's rules and events apply). Every setting is a flag that also reads an `AGENTRY_*` environment variable;
//! the flag wins.

mod cli;
mod remote;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
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
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
