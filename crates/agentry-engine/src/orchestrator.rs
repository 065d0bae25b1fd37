//! Running one job: load the execution, run the node, and commit the result, the next jobs and
//! the events in one transaction (ARCHITECTURE.md "durable by construction").
//!
//! A node run has three steps. (1) Read the execution without a lock and decide what to do:
//! a no-op for a finished execution, an interrupt, a timeout, or a node run. (2) Run the node
//! outside any transaction (it may take minutes). (3) In one transaction, re-read the execution
//! (locked on PostgreSQL), merge the node's result into the freshest context (parallel branches
//! commit in any order), record the log row and events, enqueue successors, finalize when
//! nothing is left in flight, and delete the job. If the job's lease was lost meanwhile, the
//! transaction is rolled back: another worker owns the job.

use crate::events::{cut_strings, node_status};
use crate::node::{NodeCtx, NodeEnv, NodeError, NodeOutcome, State, WaitRequest};
use agentry_core::flow::{Advance, RootLink, Snapshot, Topology};
use agentry_core::run::{Book, LoopRun, Status};
use agentry_service::executions::{self as exec_ops, Finish, Origin, emit_execution_event};
use agentry_service::{ServiceError, Services};
use agentry_store::executions::{self, ExecutionFull, Totals};
use agentry_store::jobs::{self, JobRow, NewJob};
use agentry_store::{Tx, confirmations, node_runs, now_ms, waits, workflows};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

mod spawn;

pub use spawn::{DEADLINE_JOB, MAX_SPAWN_DEPTH};

pub type EngineResult<T> = Result<T, ServiceError>;

/// The error a job's transaction ends with when its lease went to another worker.
pub const LEASE_LOST: &str = "job lease lost";

/// Runs jobs for one worker process.
pub struct Orchestrator {
    pub services: Services,
    pub env: NodeEnv,
    /// This process's lease owner id.
    pub owner: String,
    topologies: Mutex<HashMap<String, Arc<(Snapshot, Topology)>>>,
    /// Successor jobs leased to this process at commit, by the job that created them.
    handoff: Mutex<HashMap<i64, JobRow>>,
    /// The execution as a handed-off job's creating commit left it, by that job's id: the
    /// successor decides from it instead of reading the row back.
    prefetched: Mutex<HashMap<i64, ExecutionFull>>,
}

fn json_of<T: serde::Serialize>(v: &T) -> EngineResult<Value> {
    serde_json::to_value(v).map_err(|e| ServiceError::Internal(e.to_string()))
}

/// The mutable parts of an execution while a transaction works on it.
struct Run {
    full: ExecutionFull,
    state: State,
    book: Book,
    status: Status,
    topo: Arc<(Snapshot, Topology)>,
    /// Jobs to enqueue at commit: (node_id, run_at, payload).
    next: Vec<(String, i64, Value)>,
}

impl Run {
    fn id(&self) -> String {
        self.full.row.id.clone()
    }
    /// Where the node events of a child started by `node_id` are mirrored: this execution's
    /// own root link, or this execution itself when it is the root.
    fn root_link(&self, node_id: &str) -> RootLink {
        self.topo.0.root.clone().unwrap_or_else(|| RootLink {
            execution_id: self.full.row.id.clone(),
            slug: self.full.row.workflow_slug.clone(),
            node_id: node_id.to_string(),
        })
    }
    fn slug(&self) -> String {
        self.full.row.workflow_slug.clone()
    }
}

impl Orchestrator {
    pub fn new(services: Services, env: NodeEnv, owner: String) -> Self {
        Orchestrator {
            services,
            env,
            owner,
            topologies: Mutex::new(HashMap::new()),
            handoff: Mutex::new(HashMap::new()),
            prefetched: Mutex::new(HashMap::new()),
        }
    }

    async fn topology(&self, full: &ExecutionFull) -> EngineResult<Arc<(Snapshot, Topology)>> {
        if let Ok(cache) = self.topologies.lock()
            && let Some(t) = cache.get(&full.row.id)
        {
            return Ok(t.clone());
        }
        let raw = match &full.snapshot {
            Some(j) => j.0.clone(),
            // Evicted from the cache since the caller looked: read it now.
            None => executions::get_full(&self.services.db, &full.row.id, true)
                .await?
                .and_then(|f| f.snapshot)
                .map(|j| j.0)
                .unwrap_or(Value::Null),
        };
        let snapshot: Snapshot = serde_json::from_value(raw)
            .map_err(|e| ServiceError::Internal(format!("bad snapshot: {e}")))?;
        let topo = Topology::build(&snapshot, full.row.trigger_node_id.as_deref())
            .map_err(ServiceError::Invalid)?;
        let entry = Arc::new((snapshot, topo));
        if let Ok(mut cache) = self.topologies.lock() {
            if cache.len() > 2048 {
                cache.clear();
            }
            cache.insert(full.row.id.clone(), entry.clone());
        }
        Ok(entry)
    }

    fn is_cached(&self, execution_id: &str) -> bool {
        self.topologies
            .lock()
            .is_ok_and(|c| c.contains_key(execution_id))
    }

    fn forget(&self, execution_id: &str) {
        if let Ok(mut cache) = self.topologies.lock() {
            cache.remove(execution_id);
        }
    }

    /// Runs a claimed job to its commit.
    pub async fn process(&self, job: &JobRow) -> EngineResult<()> {
        match job.kind.as_str() {
            "start" => self.start(job).await,
            "node" => self.node(job).await,
            DEADLINE_JOB => self.spawn_deadline(job).await,
            agentry_service::schedules::JOB_KIND => self.schedule(job).await,
            other => {
                tracing::warn!(kind = other, "dropping a job of unknown kind");
                let mut tx = self.services.db.begin().await?;
                jobs::complete(&mut tx, job.id, &self.owner).await?;
                self.commit(tx).await
            }
        }
    }

    /// A schedule trigger fire (agentry_service::schedules).
    async fn schedule(&self, job: &JobRow) -> EngineResult<()> {
        let mut tx = self.services.db.begin().await?;
        if !jobs::complete(&mut tx, job.id, &self.owner).await? {
            return Err(ServiceError::Conflict(LEASE_LOST.into()));
        }
        agentry_service::schedules::fire_in(&mut tx, &job.payload.0, job.run_at).await?;
        self.commit(tx).await?;
        self.services.work.notify_waiters();
        Ok(())
    }

    async fn commit(&self, tx: Tx) -> EngineResult<()> {
        let events = tx.commit().await?;
        self.services.bus.publish(events);
        Ok(())
    }

    /// Takes the job (deletes it inside `tx`; an error when its lease went to another worker,
    /// which rolls the transaction back) and loads the execution for update.
    async fn load(&self, tx: &mut Tx, job: &JobRow) -> EngineResult<Option<Run>> {
        if !jobs::complete(tx, job.id, &self.owner).await? {
            return Err(ServiceError::Conflict(LEASE_LOST.into()));
        }
        let Some(exec_id) = job.execution_id.as_deref() else {
            return Ok(None);
        };
        let cached = self.is_cached(exec_id);
        let Some(full) = executions::get_full_for_update(tx, exec_id, !cached).await? else {
            return Ok(None);
        };
        let status = Status::parse(&full.row.status).unwrap_or(Status::Failed);
        let topo = match self.topology(&full).await {
            Ok(t) => t,
            Err(e) if status == Status::Pending => {
                // A graph with nothing to run fails the execution at start.
                let row = full.row.clone();
                exec_ops::finish_in(tx, &row, failed(&e.to_string(), None, Totals::default()))
                    .await?;
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let state: State = serde_json::from_value(full.state.0.clone()).unwrap_or_default();
        let book: Book = serde_json::from_value(full.book.0.clone()).unwrap_or_default();
        Ok(Some(Run {
            full,
            state,
            book,
            status,
            topo,
            next: vec![],
        }))
    }

    /// Writes the run back (taken by [`Self::load`]) and enqueues its jobs, then commits.
    /// Without a run (nothing to do), it only deletes the job.
    async fn save_and_commit(
        &self,
        mut tx: Tx,
        run: Option<Run>,
        job: &JobRow,
    ) -> EngineResult<()> {
        if run.is_none() && !jobs::complete(&mut tx, job.id, &self.owner).await? {
            tx.rollback().await?;
            return Ok(()); // lease lost: the job is someone else's now
        }
        let mut woke = false;
        let mut chained = None;
        let mut committed: Option<ExecutionFull> = None;
        if let Some(mut run) = run {
            if !run.status.is_terminal() {
                let now = now_ms();
                for (node_id, run_at, mut payload) in std::mem::take(&mut run.next) {
                    // A successor this worker runs next is announced as running in this
                    // commit (one write instead of two); nodes that may stop for a person are not.
                    let chain_it = chained.is_none() && run_at <= now;
                    let announce = chain_it
                        && run.topo.1.node(&node_id).is_some_and(|n| {
                            !n.interrupt_before && n.component_type != "human_confirmation"
                        });
                    if announce {
                        if let Some(n) = run.topo.1.node(&node_id) {
                            node_status(
                                &mut tx,
                                &run.full.row.id,
                                &run.full.row.workflow_slug,
                                run.topo.0.root.as_ref(),
                                n,
                                "running",
                                json!({}),
                            );
                        }
                        payload["announced"] = json!(true);
                    }
                    let new = NewJob {
                        kind: "node",
                        execution_id: Some(&run.full.row.id),
                        node_id: &node_id,
                        payload,
                        run_at,
                    };
                    if chain_it {
                        // This worker runs the first due successor itself, no claim needed.
                        let lease = now + crate::worker::LEASE_MS;
                        chained =
                            Some(jobs::enqueue_leased(&mut tx, new, &self.owner, lease).await?);
                    } else {
                        jobs::enqueue(&mut tx, new).await?;
                        woke = true;
                    }
                }
                let (state, book) = (json_of(&run.state)?, json_of(&run.book)?);
                executions::save(
                    &mut tx,
                    &run.full.row.id,
                    run.status.as_str(),
                    &state,
                    &book,
                    run.full.row.started_at,
                )
                .await?;
                if chained.is_none() {
                    // Nothing runs next here: an execution that waits (on children, a person,
                    // a delay) or continues on other workers keeps nothing in this process;
                    // whoever runs its next job reads its graph again.
                    self.forget(&run.full.row.id);
                } else {
                    let mut full = run.full;
                    full.row.status = run.status.as_str().to_string();
                    full.snapshot = None;
                    full.state.0 = state;
                    full.book.0 = book;
                    committed = Some(full);
                }
            } else {
                self.forget(&run.full.row.id);
            }
        }
        self.commit(tx).await?;
        if woke {
            self.services.work.notify_waiters();
        }
        if let Some(next) = chained {
            if let (Some(full), Ok(mut prefetched)) = (committed, self.prefetched.lock()) {
                prefetched.insert(next.id, full);
            }
            if let Ok(mut handoff) = self.handoff.lock() {
                handoff.insert(job.id, next);
            }
        }
        Ok(())
    }

    /// The job this worker should run right after `job_id` (see `save_and_commit`).
    pub fn take_handoff(&self, job_id: i64) -> Option<JobRow> {
        self.handoff.lock().ok()?.remove(&job_id)
    }

    async fn start(&self, job: &JobRow) -> EngineResult<()> {
        let mut tx = self.services.db.begin().await?;
        let run = self.load(&mut tx, job).await?;
        let Some(mut run) = run else {
            return self.commit(tx).await;
        };
        if run.status != Status::Pending {
            return self.save_and_commit(tx, Some(run), job).await;
        }
        let now = now_ms();
        let payload = run.full.trigger_payload.0.clone();
        let text = payload
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        run.state = State {
            trigger: payload.clone(),
            messages: if text.is_empty() {
                vec![]
            } else {
                vec![json!({"role": "user", "content": text})]
            },
            user_context: json!({"user_profile_id": run.full.row.user_profile_id, "chat_id": payload.get("chat_id")}),
            execution_id: run.id(),
            ..Default::default()
        };
        if let Some(t) = &run.full.row.trigger_node_id {
            run.state.node_outputs.insert(t.clone(), payload.clone());
        }
        run.status = Status::Running;
        run.full.row.started_at = Some(now);
        let (id, slug) = (run.id(), run.slug());
        emit_execution_event(
            &mut tx,
            &id,
            &slug,
            "execution_started",
            json!({"workflow_id": run.full.row.workflow_id}),
        );
        let entries = run.topo.1.entries().to_vec();
        for node_id in entries {
            self.enqueue(&mut tx, &mut run, &node_id, now);
        }
        self.save_and_commit(tx, Some(run), job).await
    }

    /// Queues a node run (at commit) and counts it in flight (and in its loop's iteration).
    fn enqueue(&self, tx: &mut Tx, run: &mut Run, node_id: &str, run_at: i64) {
        run.book.inflight += 1;
        if let Some(lr) = run
            .topo
            .1
            .loop_of(node_id)
            .and_then(|l| run.book.loops.get_mut(l))
        {
            lr.pending += 1;
        }
        run.next.push((node_id.to_string(), run_at, json!({})));
        emit_execution_event(
            tx,
            &run.full.row.id,
            &run.full.row.workflow_slug,
            "node_enqueued",
            json!({"node_id": node_id}),
        );
    }

    async fn node(&self, job: &JobRow) -> EngineResult<()> {
        let exec_id = job.execution_id.clone().unwrap_or_default();
        // (1) Decide, without holding a lock: from the state the commit that handed this job
        // over left (nothing this node depends on can change after it was enqueued), else
        // from the row.
        let cached = self.is_cached(&exec_id);
        let prefetched = self
            .prefetched
            .lock()
            .ok()
            .and_then(|mut p| p.remove(&job.id))
            .filter(|_| cached);
        // The current status (a cancel may have come since) and the budget gate, in one read.
        let Some(gate) = executions::node_gate(&self.services.db, &exec_id).await? else {
            let tx = self.services.db.begin().await?;
            return self.save_and_commit(tx, None, job).await;
        };
        if Status::parse(&gate.status).is_none_or(|s| s.is_terminal()) {
            let tx = self.services.db.begin().await?;
            return self.save_and_commit(tx, None, job).await;
        }
        let full = match prefetched {
            Some(full) => Some(full),
            None => executions::get_full(&self.services.db, &exec_id, !cached).await?,
        };
        let Some(full) = full else {
            let tx = self.services.db.begin().await?;
            return self.save_and_commit(tx, None, job).await;
        };
        let status = Status::parse(&full.row.status).unwrap_or(Status::Failed);
        if status.is_terminal() {
            let tx = self.services.db.begin().await?;
            return self.save_and_commit(tx, None, job).await;
        }
        let topo = self.topology(&full).await?;
        let Some(node) = topo.1.node(&job.node_id).cloned() else {
            let tx = self.services.db.begin().await?;
            return self.save_and_commit(tx, None, job).await;
        };
        let book: Book = serde_json::from_value(full.book.0.clone()).unwrap_or_default();
        let phase = job
            .payload
            .0
            .get("phase")
            .and_then(Value::as_str)
            .unwrap_or("");

        if phase == "after" {
            // interrupt_after confirmed: advance without running the node again.
            let mut tx = self.services.db.begin().await?;
            let Some(mut run) = self.load(&mut tx, job).await? else {
                return self.commit(tx).await;
            };
            let route = run.book.confirmed_after.remove(&node.node_id).flatten();
            self.advance(&mut tx, &mut run, &node.node_id, route.as_deref(), 0)
                .await?;
            return self.save_and_commit(tx, Some(run), job).await;
        }

        let needs_answer = if node.component_type == "human_confirmation" {
            !book.resume.contains_key(&node.node_id)
        } else {
            node.interrupt_before
                && !book.confirmed_before.contains(&node.node_id)
                && !book.resume.contains_key(&node.node_id)
        };
        if needs_answer {
            return self
                .interrupt(
                    job,
                    &node,
                    if node.component_type == "human_confirmation" {
                        "node"
                    } else {
                        "before"
                    },
                    None,
                )
                .await;
        }

        let now = now_ms();
        let limit_ms = topo.0.max_execution_seconds.max(1) * 1000;
        if let Some(started) = full.row.started_at
            && book.counted_ms(started, now) > limit_ms
        {
            let n = book.counted_ms(started, now) / 1000;
            let msg = format!(
                "Execution timed out after {n}s (limit: {}s)",
                topo.0.max_execution_seconds
            );
            return self.fail_execution(job, &msg, Some("timeout")).await;
        }

        // The epic budget gate of a delegated execution (registry.md §8): the node does not
        // run; the execution fails and its task mirrors the failure.
        let used = &book.usage;
        if let Some(msg) = agentry_service::registry::gate_over_budget(
            &gate,
            used.input_tokens + used.output_tokens,
            used.cost_usd,
        ) {
            let msg: String = msg.chars().take(2000).collect();
            return self
                .fail_execution(job, &msg, Some("budget_exceeded"))
                .await;
        }

        // Tell watchers the node runs (unless the commit that queued it already did).
        if job.payload.0.get("announced").and_then(Value::as_bool) != Some(true) {
            let mut tx = self.services.db.begin().await?;
            node_status(
                &mut tx,
                &exec_id,
                &full.row.workflow_slug,
                topo.0.root.as_ref(),
                &node,
                "running",
                json!({}),
            );
            self.commit(tx).await?;
        }

        // (2) Run.
        let state: State = serde_json::from_value(full.state.0.clone()).unwrap_or_default();
        let resume = book.resume.get(&node.node_id).cloned();
        let resolved = crate::expr::resolve_node_config(&node, &state);
        let started = std::time::Instant::now();
        let result = match node.component_type.as_str() {
            "loop" => loop_items(&resolved, &state),
            "workflow" => Ok(subworkflow(&resolved, &state, resume.clone())),
            "agent" | "deep_agent" => {
                let owner_id = workflows::get(&self.services.db, topo.0.workflow_id)
                    .await?
                    .map(|w| w.owner_id);
                let agent_env = crate::agent::AgentEnv {
                    services: &self.services,
                    snapshot: &topo.0,
                    topo: &topo.1,
                    user_id: full.row.user_profile_id,
                    owner_id,
                    is_child: full.row.parent_execution_id.is_some(),
                };
                crate::agent::run(
                    &agent_env,
                    NodeCtx {
                        env: &self.env,
                        execution_id: &exec_id,
                        node: &resolved,
                        state: &state,
                        resume,
                    },
                )
                .await
            }
            _ => {
                crate::nodes::run(NodeCtx {
                    env: &self.env,
                    execution_id: &exec_id,
                    node: &resolved,
                    state: &state,
                    resume,
                })
                .await
            }
        };
        let duration_ms = started.elapsed().as_millis() as i64;

        // (3) Commit.
        let mut tx = self.services.db.begin().await?;
        let Some(mut run) = self.load(&mut tx, job).await? else {
            return self.commit(tx).await;
        };
        if run.status.is_terminal() {
            return self.save_and_commit(tx, Some(run), job).await;
        }
        match result {
            Ok(outcome) => {
                self.on_success(&mut tx, &mut run, &node.node_id, outcome, duration_ms)
                    .await?
            }
            Err(err) => {
                if !self
                    .on_failure(&mut tx, &mut run, job, &node.node_id, err, duration_ms)
                    .await?
                {
                    // A retry was scheduled as a new job; the node stays in flight.
                    return self.save_and_commit(tx, Some(run), job).await;
                }
            }
        }
        self.save_and_commit(tx, Some(run), job).await
    }

    /// Parks the execution on a pending confirmation (engine.md §6).
    async fn interrupt(
        &self,
        job: &JobRow,
        node: &agentry_core::flow::SnapNode,
        phase: &str,
        route: Option<Option<String>>,
    ) -> EngineResult<()> {
        let mut tx = self.services.db.begin().await?;
        let Some(mut run) = self.load(&mut tx, job).await? else {
            return self.commit(tx).await;
        };
        self.park_for_answer(&mut tx, &mut run, node, phase, route)
            .await?;
        self.save_and_commit(tx, Some(run), job).await
    }

    async fn park_for_answer(
        &self,
        tx: &mut Tx,
        run: &mut Run,
        node: &agentry_core::flow::SnapNode,
        phase: &str,
        route: Option<Option<String>>,
    ) -> EngineResult<()> {
        let now = now_ms();
        let prompt = if node.component_type == "human_confirmation" {
            node.extra()
                .get("prompt")
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty())
                .unwrap_or("Please confirm to proceed.")
                .to_string()
        } else {
            let when = if phase == "after" { "after" } else { "before" };
            format!(
                "Confirmation required at node '{}' ({when} execution).",
                node.node_id
            )
        };
        let id = format!("{:08x}", rand_u32());
        confirmations::insert(
            tx,
            &confirmations::ConfirmationRow {
                id,
                execution_id: run.id(),
                node_id: node.node_id.clone(),
                phase: phase.to_string(),
                prompt,
                expires_at: now + 300_000,
                created_at: now,
            },
        )
        .await?;
        if let Some(route) = route {
            run.book.confirmed_after.insert(node.node_id.clone(), route);
        }
        run.status = Status::Interrupted;
        run.book.pause(now);
        emit_execution_event(
            tx,
            &run.id(),
            &run.slug(),
            "execution_interrupted",
            json!({"node_id": node.node_id}),
        );
        Ok(())
    }

    async fn on_success(
        &self,
        tx: &mut Tx,
        run: &mut Run,
        node_id: &str,
        outcome: NodeOutcome,
        duration_ms: i64,
    ) -> EngineResult<()> {
        let node = run
            .topo
            .1
            .node(node_id)
            .cloned()
            .ok_or_else(|| ServiceError::Internal("node vanished".into()))?;
        let now = now_ms();
        run.book.resume.remove(node_id); // delivered once
        run.book.confirmed_before.remove(node_id);
        let (id, slug) = (run.id(), run.slug());
        if let Some(u) = &outcome.usage {
            run.book.usage.add(u);
        }
        if let Some(cp) = &outcome.checkpoint {
            agentry_store::checkpoints::save_in(
                tx,
                &cp.thread_id,
                cp.scope.as_deref(),
                &cp.node_id,
                &cp.data,
            )
            .await?;
            for e in &cp.events {
                crate::events::emit_node_status(
                    tx,
                    &id,
                    &slug,
                    run.topo.0.root.as_ref(),
                    e.clone(),
                );
            }
        }
        if let Some(WaitRequest::AskHuman { question }) = &outcome.wait {
            return self
                .park_on_question(tx, run, &node, question, duration_ms)
                .await;
        }

        if let Some(WaitRequest::Spawn(req)) = &outcome.wait {
            return self
                .park_on_children(tx, run, &node, req, duration_ms)
                .await;
        }

        if let Some(WaitRequest::Subworkflow {
            workflow_slug,
            trigger_node_id,
            payload,
        }) = &outcome.wait
        {
            return self
                .park_on_child(
                    tx,
                    run,
                    &node,
                    workflow_slug,
                    trigger_node_id.as_deref(),
                    payload.clone(),
                    duration_ms,
                )
                .await;
        }

        run.state
            .node_outputs
            .insert(node_id.to_string(), outcome.output.clone());
        if let Some(route) = &outcome.route {
            run.state.route = Some(route.clone());
        }
        run.state.messages.extend(outcome.messages.iter().cloned());
        for (k, v) in &outcome.state_patch {
            match k.as_str() {
                "output" => run.state.output = v.clone(),
                "route" => run.state.route = v.as_str().map(String::from),
                _ => {}
            }
        }
        run.book.steps += 1;
        node_runs::insert(
            tx,
            node_runs::NewNodeRun {
                execution_id: &id,
                node_id,
                status: "completed",
                input: outcome.log_input.as_ref(),
                output: Some(&outcome.output),
                error: "",
                error_code: "",
                metadata: &usage_metadata(outcome.usage.as_ref()),
                duration_ms,
                now,
            },
        )
        .await?;
        let mut done = json!({"duration_ms": duration_ms, "output": cut_strings(&outcome.output)});
        if let Some(u) = &outcome.usage {
            done["token_usage"] = token_usage(u);
        }
        node_status(
            tx,
            &id,
            &slug,
            run.topo.0.root.as_ref(),
            &node,
            "success",
            done,
        );

        if node.interrupt_after && !run.book.confirmed_after.contains_key(node_id) {
            return self
                .park_for_answer(tx, run, &node, "after", Some(outcome.route.clone()))
                .await;
        }
        let delay_ms = outcome
            .delay_seconds
            .map(|s| (s * 1000.0) as i64)
            .unwrap_or(0);
        if let Some(items) = outcome.loop_items {
            return self
                .begin_loop(tx, run, node_id, items, outcome.output)
                .await;
        }
        let route = outcome.route.or_else(|| run.state.route.clone());
        self.advance(tx, run, node_id, route.as_deref(), delay_ms)
            .await
    }

    /// Creates the child execution of a `workflow` node and parks the node on it.
    #[allow(clippy::too_many_arguments)]
    async fn park_on_child(
        &self,
        tx: &mut Tx,
        run: &mut Run,
        node: &agentry_core::flow::SnapNode,
        slug: &str,
        trigger: Option<&str>,
        payload: Value,
        duration_ms: i64,
    ) -> EngineResult<()> {
        let (id, parent_slug) = (run.id(), run.slug());
        let owner = run.full.row.user_profile_id;
        let target = workflows::get_by_slug_in(tx, slug).await?;
        let target = target.filter(|w| w.is_public || Some(w.owner_id) == owner || owner.is_none());
        let Some(target) = target else {
            let msg = format!(
                "Target workflow not found: slug='{slug}', subworkflow_id={}",
                node.subworkflow_id
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| "None".into())
            );
            let err = NodeError::fatal("subworkflow_error", msg);
            return self
                .fail_now(tx, run, &node.node_id, err, duration_ms)
                .await;
        };
        let cycle = run.book.steps;
        // Implicit mode starts at the target's first workflow trigger, when it has one.
        let default_trigger = agentry_store::nodes::list_in(tx, target.id)
            .await?
            .into_iter()
            .find(|n| n.component_type == "trigger_workflow")
            .map(|n| n.node_id);
        let trigger = trigger.map(String::from).or(default_trigger);
        let child = exec_ops::create_in(
            tx,
            &target,
            Origin {
                trigger_node_id: trigger.as_deref(),
                payload,
                user_id: owner,
                parent: Some((&id, &node.node_id, &run.full.row.root_execution_id.clone())),
                spawn_key: Some(format!("{id}:{}:{cycle}", node.node_id)),
                root: Some(run.root_link(&node.node_id)),
            },
        )
        .await?;
        waits::insert(
            tx,
            &id,
            &node.node_id,
            "subworkflow",
            &json!({"child_ids": [child], "results": {}, "single": true}),
            None,
        )
        .await?;
        run.book.waiting.insert(node.node_id.clone());
        if run.book.waiting.len() as i64 >= run.book.inflight {
            run.book.pause(now_ms());
        }
        node_runs::insert(
            tx,
            node_runs::NewNodeRun {
                execution_id: &id,
                node_id: &node.node_id,
                status: "waiting",
                input: None,
                output: None,
                error: "",
                error_code: "",
                metadata: &json!({"child_execution_ids": [child]}),
                duration_ms,
                now: now_ms(),
            },
        )
        .await?;
        node_status(
            tx,
            &id,
            &parent_slug,
            run.topo.0.root.as_ref(),
            node,
            "waiting",
            json!({"child_execution_ids": [child]}),
        );
        Ok(())
    }

    /// The `ask_human` tool suspended the agent: a pending confirmation carries the question;
    /// the answer resumes the node (engine.md §6, tools.md §8).
    async fn park_on_question(
        &self,
        tx: &mut Tx,
        run: &mut Run,
        node: &agentry_core::flow::SnapNode,
        question: &str,
        duration_ms: i64,
    ) -> EngineResult<()> {
        let now = now_ms();
        let (id, slug) = (run.id(), run.slug());
        confirmations::insert(
            tx,
            &confirmations::ConfirmationRow {
                id: format!("{:08x}", rand_u32()),
                execution_id: id.clone(),
                node_id: node.node_id.clone(),
                phase: "node".into(),
                prompt: question.to_string(),
                expires_at: now + 300_000,
                created_at: now,
            },
        )
        .await?;
        node_runs::insert(
            tx,
            node_runs::NewNodeRun {
                execution_id: &id,
                node_id: &node.node_id,
                status: "waiting",
                input: None,
                output: None,
                error: "",
                error_code: "",
                metadata: &json!({"question": question}),
                duration_ms,
                now,
            },
        )
        .await?;
        node_status(
            tx,
            &id,
            &slug,
            run.topo.0.root.as_ref(),
            node,
            "waiting",
            json!({}),
        );
        run.status = Status::Interrupted;
        run.book.pause(now);
        emit_execution_event(
            tx,
            &id,
            &slug,
            "execution_interrupted",
            json!({"node_id": node.node_id}),
        );
        Ok(())
    }

    /// Returns `true` when the failure is final for the job (the execution failed, or the
    /// loop moved on), `false` when a retry was scheduled.
    async fn on_failure(
        &self,
        tx: &mut Tx,
        run: &mut Run,
        job: &JobRow,
        node_id: &str,
        err: NodeError,
        duration_ms: i64,
    ) -> EngineResult<bool> {
        self.record_failure(tx, run, node_id, &err, duration_ms)
            .await?;
        // Attempts count node failures only: a re-run after a crash is not a retry.
        let attempt = job
            .payload
            .0
            .get("attempt")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        if err.retryable && attempt < 4 {
            let backoff = 1000 * (1i64 << (attempt - 1).clamp(0, 2));
            run.next.push((
                node_id.to_string(),
                now_ms() + backoff,
                json!({"attempt": attempt + 1}),
            ));
            return Ok(false);
        }
        self.fail_or_continue(tx, run, node_id, err).await?;
        Ok(true)
    }

    /// A node failed for good: inside a loop with `on_error: continue` the iteration records the
    /// error and moves on; otherwise the execution fails.
    async fn fail_or_continue(
        &self,
        tx: &mut Tx,
        run: &mut Run,
        node_id: &str,
        err: NodeError,
    ) -> EngineResult<()> {
        if let Some(l) = run.topo.1.loop_of(node_id).map(String::from) {
            let cont = run
                .topo
                .1
                .node(&l)
                .and_then(|n| {
                    n.extra()
                        .get("on_error")
                        .and_then(Value::as_str)
                        .map(|s| s == "continue")
                })
                .unwrap_or(false);
            if cont && run.book.loops.contains_key(&l) {
                let record =
                    json!({"error": exec_ops::truncate(&err.message, 500), "error_code": err.code});
                run.state.node_outputs.insert(node_id.to_string(), record);
                return self.advance(tx, run, node_id, None, 0).await;
            }
        }
        let msg = format!("Node {node_id}: {}", err.message);
        let row = run.full.row.clone();
        exec_ops::finish_in(tx, &row, failed(&msg, None, totals(&run.book))).await?;
        run.status = Status::Failed;
        Ok(())
    }

    /// The failed node run's log row and `node_status failed` event.
    async fn record_failure(
        &self,
        tx: &mut Tx,
        run: &Run,
        node_id: &str,
        err: &NodeError,
        duration_ms: i64,
    ) -> EngineResult<()> {
        let node = run
            .topo
            .1
            .node(node_id)
            .cloned()
            .ok_or_else(|| ServiceError::Internal("node vanished".into()))?;
        let (id, slug) = (run.id(), run.slug());
        node_runs::insert(
            tx,
            node_runs::NewNodeRun {
                execution_id: &id,
                node_id,
                status: "failed",
                input: None,
                output: None,
                error: &exec_ops::truncate(&err.message, 2000),
                error_code: &err.code,
                metadata: &json!({}),
                duration_ms,
                now: now_ms(),
            },
        )
        .await?;
        node_status(
            tx,
            &id,
            &slug,
            run.topo.0.root.as_ref(),
            &node,
            "failed",
            json!({"error": exec_ops::truncate(&err.message, 500), "error_code": err.code}),
        );
        Ok(())
    }

    async fn fail_now(
        &self,
        tx: &mut Tx,
        run: &mut Run,
        node_id: &str,
        err: NodeError,
        duration_ms: i64,
    ) -> EngineResult<()> {
        self.record_failure(tx, run, node_id, &err, duration_ms)
            .await?;
        self.fail_or_continue(tx, run, node_id, err).await
    }

    async fn fail_execution(
        &self,
        job: &JobRow,
        message: &str,
        code: Option<&str>,
    ) -> EngineResult<()> {
        let mut tx = self.services.db.begin().await?;
        let Some(mut run) = self.load(&mut tx, job).await? else {
            return self.commit(tx).await;
        };
        if !run.status.is_terminal() {
            let row = run.full.row.clone();
            exec_ops::finish_in(&mut tx, &row, failed(message, code, totals(&run.book))).await?;
            run.status = Status::Failed;
        }
        self.save_and_commit(tx, Some(run), job).await
    }

    async fn begin_loop(
        &self,
        tx: &mut Tx,
        run: &mut Run,
        loop_id: &str,
        items: Vec<Value>,
        output: Value,
    ) -> EngineResult<()> {
        let body_targets = run
            .topo
            .1
            .loop_shape(loop_id)
            .map(|s| s.body_targets.clone())
            .unwrap_or_default();
        if items.is_empty() || body_targets.is_empty() {
            return self.advance(tx, run, loop_id, None, 0).await;
        }
        let total = items.len();
        run.state.loop_ = Some(json!({"item": items[0], "index": 0, "total": total}));
        run.book.loops.insert(
            loop_id.to_string(),
            LoopRun {
                items,
                index: 0,
                results: vec![],
                record: Map::new(),
                output,
                pending: 0,
            },
        );
        let now = now_ms();
        for t in body_targets {
            self.enqueue(tx, run, &t, now);
        }
        // The loop node stays in flight while it iterates.
        Ok(())
    }

    /// After `node_id` finished: enqueue successors (engine.md §4.6), or, at a path's end,
    /// close loop iterations, promote an agent's output, and finalize when nothing is in flight.
    fn advance<'a>(
        &'a self,
        tx: &'a mut Tx,
        run: &'a mut Run,
        node_id: &'a str,
        route: Option<&'a str>,
        delay_ms: i64,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = EngineResult<()>> + Send + 'a>> {
        Box::pin(async move {
            let now = now_ms();
            // The running loop whose body `node_id` belongs to, if any.
            let owner = run
                .topo
                .1
                .loop_of(node_id)
                .filter(|l| run.book.loops.contains_key(*l))
                .map(String::from);
            match run.topo.1.advance(node_id, route) {
                Advance::Next(targets) => {
                    let topo = run.topo.clone();
                    for t in targets {
                        let is_merge = topo.1.node(&t).is_some_and(|n| n.component_type == "merge");
                        if is_merge {
                            let arrivals = run.book.merge_arrivals.entry(t.clone()).or_default();
                            *arrivals += 1;
                            if (*arrivals as usize) < topo.1.arity(&t) {
                                continue;
                            }
                            run.book.merge_arrivals.remove(&t);
                        }
                        self.enqueue(tx, run, &t, now + delay_ms);
                    }
                    if let Some(l) = owner {
                        run.book.inflight -= 1;
                        return self.loop_step(tx, run, &l, node_id).await;
                    }
                }
                Advance::Terminal => {
                    if let Some(l) = owner {
                        run.book.inflight -= 1;
                        return self.loop_step(tx, run, &l, node_id).await;
                    }
                    let is_agent = run.topo.1.node(node_id).is_some_and(|n| {
                        n.component_type == "agent" || n.component_type == "deep_agent"
                    });
                    if is_agent && run.state.output.is_null() && !run.topo.1.has_reply_chat() {
                        let out = run
                            .state
                            .node_outputs
                            .get(node_id)
                            .and_then(|o| o.get("output"))
                            .cloned()
                            .unwrap_or(Value::Null);
                        if out.as_str().is_some_and(|s| !s.is_empty())
                            || (!out.is_null() && !out.is_string())
                        {
                            run.state.output = out;
                        }
                    }
                }
            }
            run.book.inflight -= 1;
            if run.book.inflight <= 0 && run.status == Status::Running {
                self.finalize(tx, run).await?;
            }
            Ok(())
        })
    }

    /// A body node of loop `l` finished: a completion node's output goes into the iteration's
    /// record; when nothing of the iteration is left in flight, the next iteration starts (or
    /// the loop ends).
    async fn loop_step(
        &self,
        tx: &mut Tx,
        run: &mut Run,
        l: &str,
        node_id: &str,
    ) -> EngineResult<()> {
        let shape = run.topo.1.loop_shape(l).cloned().unwrap_or_default();
        let Some(lr) = run.book.loops.get_mut(l) else {
            return Ok(());
        };
        lr.pending -= 1;
        if shape.completion_nodes.iter().any(|c| c == node_id) {
            let out = run
                .state
                .node_outputs
                .get(node_id)
                .cloned()
                .unwrap_or(Value::Null);
            lr.record.insert(node_id.to_string(), out);
        }
        if lr.pending > 0 {
            return Ok(());
        }
        let record = std::mem::take(&mut lr.record);
        lr.results.push(Value::Object(record));
        lr.index += 1;
        let now = now_ms();
        if lr.index < lr.items.len() {
            run.state.loop_ = Some(
                json!({"item": lr.items[lr.index], "index": lr.index, "total": lr.items.len()}),
            );
            for t in shape.body_targets {
                self.enqueue(tx, run, &t, now);
            }
            return Ok(());
        }
        let Some(done) = run.book.loops.remove(l) else {
            return Ok(());
        };
        let mut output = done.output;
        output["results"] = Value::Array(done.results);
        run.state.node_outputs.insert(l.to_string(), output);
        // Back to the enclosing loop's variable, if any.
        run.state.loop_ = run.topo.1.loop_of(l).and_then(|outer| run.book.loops.get(outer)).map(|o| {
            json!({"item": o.items.get(o.index).cloned().unwrap_or(Value::Null), "index": o.index, "total": o.items.len()})
        });
        self.advance(tx, run, l, None, 0).await
    }

    async fn finalize(&self, tx: &mut Tx, run: &mut Run) -> EngineResult<()> {
        let output = agentry_core::run::final_output(
            &run.state.output,
            &run.state.messages,
            &run.state.node_outputs,
        );
        let started = run.full.row.started_at.unwrap_or(run.full.row.created_at);
        let t = totals(&run.book);
        // Descendants count toward everything but tool invocations (api.md §10).
        let d = executions::descendant_totals_in(tx, &run.id()).await?;
        let activity = json!({
            "total_steps": run.book.steps + d.count,
            "total_duration_ms": now_ms() - started,
            "total_tokens": t.input_tokens + t.output_tokens + d.tokens,
            "total_cost_usd": agentry_core::registry::round_usd(t.cost_usd + d.cost_usd),
            "llm_calls": t.llm_calls + d.llm_calls,
            "tool_invocations": t.tool_invocations,
            "child_count": d.count,
        });
        let row = run.full.row.clone();
        exec_ops::finish_in(
            tx,
            &row,
            Finish {
                status: Status::Completed,
                final_output: Some(&output),
                error_message: "",
                error_code: None,
                totals: t,
                activity,
            },
        )
        .await?;
        run.status = Status::Completed;
        Ok(())
    }
}

fn failed<'a>(message: &'a str, code: Option<&'a str>, totals: Totals) -> Finish<'a> {
    Finish {
        status: Status::Failed,
        final_output: None,
        error_message: message,
        error_code: code,
        totals,
        activity: Value::Null,
    }
}

/// The execution's usage totals: its own nodes' usage, kept in the bookkeeping.
fn totals(book: &Book) -> Totals {
    let u = &book.usage;
    Totals {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        cost_usd: u.cost_usd,
        llm_calls: u.llm_calls,
        tool_invocations: u.tool_invocations,
    }
}

fn token_usage(u: &agentry_core::run::Usage) -> Value {
    json!({
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "total_tokens": u.total_tokens(),
        "cost_usd": u.cost_usd,
        "llm_calls": u.llm_calls,
        "tool_invocations": u.tool_invocations,
    })
}

fn usage_metadata(u: Option<&agentry_core::run::Usage>) -> Value {
    match u {
        Some(u) => json!({"token_usage": token_usage(u)}),
        None => json!({}),
    }
}

fn rand_u32() -> u32 {
    let id = ulid::Ulid::generate();
    (id.random() & 0xffff_ffff) as u32
}

/// The `loop` node (engine.md §2, §5): items from `node_outputs[source_node][field]`.
fn loop_items(
    node: &agentry_core::flow::SnapNode,
    state: &State,
) -> Result<NodeOutcome, NodeError> {
    let extra = node.extra();
    let source = extra
        .get("source_node")
        .and_then(Value::as_str)
        .unwrap_or("");
    let field = extra.get("field").and_then(Value::as_str).unwrap_or("");
    let value = state
        .node_outputs
        .get(source)
        .cloned()
        .unwrap_or(Value::Null);
    let value = if field.is_empty() {
        value
    } else {
        value.get(field).cloned().unwrap_or(Value::Null)
    };
    let items = match value {
        Value::Null => vec![],
        Value::Array(a) => a,
        other => vec![other],
    };
    if let Some(max) = extra.get("max_iterations").and_then(Value::as_u64)
        && items.len() as u64 > max
    {
        return Err(NodeError::fatal(
            "loop_error",
            format!(
                "Loop '{}' has {} items, more than max_iterations ({max})",
                node.node_id,
                items.len()
            ),
        ));
    }
    let output = json!({"items": items, "results": []});
    Ok(NodeOutcome {
        output,
        loop_items: Some(items),
        ..Default::default()
    })
}

/// The `workflow` node: first run asks for a child; the resumed run returns its result.
fn subworkflow(
    node: &agentry_core::flow::SnapNode,
    state: &State,
    resume: Option<Value>,
) -> NodeOutcome {
    if let Some(result) = resume {
        return NodeOutcome::output(json!({"output": result}));
    }
    let extra = node.extra();
    let slug = extra
        .get("target_workflow")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let payload = match extra.get("input_mapping").and_then(Value::as_object) {
        Some(mapping) if !mapping.is_empty() => {
            let s = state.to_json();
            Value::Object(
                mapping
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            crate::node::lookup_path(&s, v.as_str().unwrap_or("")),
                        )
                    })
                    .collect(),
            )
        }
        _ => json!({
            "text": state.trigger.get("text").cloned().unwrap_or(Value::String(String::new())),
            "payload": {"trigger": state.trigger, "node_outputs": state.node_outputs},
        }),
    };
    let mut payload = payload;
    if !payload.is_object() {
        payload = json!({});
    }
    NodeOutcome {
        wait: Some(WaitRequest::Subworkflow {
            workflow_slug: slug,
            trigger_node_id: None,
            payload,
        }),
        ..Default::default()
    }
}
