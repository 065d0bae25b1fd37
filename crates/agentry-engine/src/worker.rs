//! The worker pool: each worker claims due jobs with a lease and runs them. Idle workers sleep
//! until this process commits new jobs (a notification) or a short poll finds work committed by
//! another process. A long job's lease is extended while it runs.

use crate::orchestrator::Orchestrator;
use agentry_store::{jobs, now_ms};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a claim holds a job before another worker may take it.
pub const LEASE_MS: i64 = 30_000;
/// Poll interval when idle (work committed by other processes).
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Starts `n` workers; they stop (after finishing their current job) when `shutdown` turns true.
pub fn spawn_workers(
    orch: Arc<Orchestrator>,
    n: usize,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    (0..n)
        .map(|i| tokio::spawn(worker_loop(orch.clone(), i, shutdown.clone())))
        .collect()
}

async fn worker_loop(orch: Arc<Orchestrator>, index: usize, mut shutdown: watch::Receiver<bool>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        if *shutdown.borrow() {
            break;
        }
        // Register interest before claiming, so a notification between an empty claim and
        // the wait is not lost.
        let notified = orch.services.work.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        match jobs::claim(&orch.services.db, &orch.owner, now_ms(), LEASE_MS).await {
            Ok(Some(first)) => {
                backoff = Duration::from_millis(100);
                let mut next = Some(first);
                while let Some(job) = next.take() {
                    let heartbeat = tokio::spawn(extend_lease(orch.clone(), job.id));
                    let result = orch.process(&job).await;
                    heartbeat.abort();
                    match result {
                        Ok(()) => next = orch.take_handoff(job.id),
                        Err(agentry_service::ServiceError::Conflict(m))
                            if m == crate::orchestrator::LEASE_LOST =>
                        {
                            tracing::debug!(
                                job = job.id,
                                "lease lost; another worker runs the job"
                            );
                        }
                        // The job keeps its lease and runs again when it expires.
                        Err(e) => {
                            tracing::error!(worker = index, job = job.id, kind = %job.kind, error = %e, "job failed")
                        }
                    }
                    if *shutdown.borrow() {
                        // A handed-off job keeps its lease; it runs after a restart or expiry.
                        break;
                    }
                }
            }
            Ok(None) => {
                tokio::select! {
                    _ = &mut notified => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Err(e) => {
                tracing::warn!(worker = index, error = %e, "cannot claim jobs; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn extend_lease(orch: Arc<Orchestrator>, job_id: i64) {
    loop {
        tokio::time::sleep(Duration::from_millis((LEASE_MS / 3) as u64)).await;
        if !matches!(
            jobs::extend(&orch.services.db, job_id, &orch.owner, now_ms() + LEASE_MS).await,
            Ok(true)
        ) {
            break;
        }
    }
}
