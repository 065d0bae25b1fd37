//! The `agent` node (engine.md §2, delegation.md §3/§7/§10): an LLM tool-calling loop run as a
//! resumable state machine. The conversation thread (messages, the pending tool call, steps and
//! usage of this invocation) is checkpointed after every model call and every tool batch, so:
//! a crash resumes from the last checkpoint without repeating finished tool calls; a tool that
//! suspends (`ask_human`) parks the node with no worker held, and the answer resumes the loop
//! exactly where it stopped.

pub mod calculator;
pub mod tools;

use crate::node::{NodeCtx, NodeError, NodeOutcome, NodeResult, WaitRequest};
use agentry_core::flow::{SnapNode, Snapshot, Topology};
use agentry_core::graph::EdgeLabel;
use agentry_core::run::Usage;
use agentry_llm::{ChatRequest, LlmError, Message, Role, ToolCall};
use agentry_service::Services;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tools::{Tool, ToolCtx, ToolOutcome};

/// Model calls per node run unless `extra_config.max_steps` says otherwise.
pub const DEFAULT_MAX_STEPS: u32 = 25;

/// The tool calls of one model answer, checkpointed before they run and after each finishes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PendingBatch {
    pub calls: Vec<ToolCall>,
    /// Answers so far, aligned with `calls` (`None`: not run yet, or waiting).
    pub answers: Vec<Option<String>>,
    /// Calls waiting for an outside answer (`ask_human`), by index.
    #[serde(default)]
    pub waiting: Vec<usize>,
    /// The question the node is parked on.
    #[serde(default)]
    pub question: Option<String>,
    /// The node has parked on this batch; the resume value answers `waiting`.
    #[serde(default)]
    pub suspended: bool,
    /// The waiting call is a `spawn_and_await` with these children (else `ask_human`).
    #[serde(default)]
    pub spawn: Option<tools::spawn::SpawnRequest>,
}

impl PendingBatch {
    /// What the node parks on for this batch's waiting call.
    fn wait_request(&self) -> WaitRequest {
        match &self.spawn {
            Some(req) => WaitRequest::Spawn(req.clone()),
            None => WaitRequest::AskHuman {
                question: self.question.clone().unwrap_or_default(),
            },
        }
    }
}

/// The answer to a second suspending call in one batch: one wait per turn.
const ONE_WAIT_PER_TURN: &str = "Error: only one spawn_and_await or ask_human call can wait per \
     turn; make this call again after the other one has returned";

impl PendingBatch {
    pub fn new(calls: Vec<ToolCall>) -> Self {
        PendingBatch {
            answers: vec![None; calls.len()],
            calls,
            ..Default::default()
        }
    }
}

/// The checkpointed thread.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Thread {
    pub messages: Vec<Message>,
    /// Index of the first message of the current invocation.
    #[serde(default)]
    pub start: usize,
    /// Model calls in the current invocation (a resumed run continues the count).
    #[serde(default)]
    pub steps: u32,
    #[serde(default)]
    pub pending: Option<PendingBatch>,
    /// Usage not yet reported (reported when the node suspends or finishes).
    #[serde(default)]
    pub usage: Usage,
    /// The current invocation has produced its final answer.
    #[serde(default)]
    pub finished: bool,
    /// When each message was added (UTC ms), aligned with `messages` (chat history).
    #[serde(default)]
    pub times: Vec<i64>,
    /// Where this invocation's model calls are charged in the registry (registry.md §12).
    #[serde(default)]
    pub inline: InlineCost,
}

/// registry.md §12 inline-task cost, per invocation: the task the agent last moved to
/// `running` through `update_task` (until it leaves `running`), and the epic it last touched
/// through a registry tool (which takes the calls made with no active task as overhead).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InlineCost {
    #[serde(default)]
    pub active_task: Option<String>,
    #[serde(default)]
    pub touched_epic: Option<String>,
}

impl InlineCost {
    fn apply(&mut self, touch: &tools::RegistryTouch) {
        if let Some(epic) = &touch.epic_id {
            self.touched_epic = Some(epic.clone());
        }
        match &touch.active {
            tools::ActiveTask::Keep => {}
            tools::ActiveTask::Set(task) => self.active_task = Some(task.clone()),
            tools::ActiveTask::Clear(task) => {
                if self.active_task.as_ref() == Some(task) {
                    self.active_task = None;
                }
            }
        }
    }
}

impl Thread {
    /// Dates the messages added since the last call.
    fn stamp(&mut self) {
        let now = agentry_store::now_ms();
        self.times.resize(self.messages.len(), now);
    }
}

/// What the agent needs besides the node contract.
pub struct AgentEnv<'a> {
    pub services: &'a Services,
    pub snapshot: &'a Snapshot,
    pub topo: &'a Topology,
    pub user_id: Option<i64>,
    pub owner_id: Option<i64>,
    pub is_child: bool,
}

fn thread_id(env: &AgentEnv<'_>, ctx: &NodeCtx<'_>, memory: bool) -> (String, Option<String>) {
    if memory && !env.is_child {
        let user = env
            .user_id
            .map(|u| u.to_string())
            .unwrap_or_else(|| "anon".into());
        let chat = ctx
            .state
            .trigger
            .get("chat_id")
            .and_then(Value::as_str)
            .map(String::from);
        let id = match chat {
            Some(c) => format!("{user}:{c}:{}", env.snapshot.workflow_id),
            None => format!("{user}:{}", env.snapshot.workflow_id),
        };
        return (id, None);
    }
    (
        format!("exec:{}:{}", ctx.execution_id, ctx.node.node_id),
        Some(ctx.execution_id.to_string()),
    )
}

fn llm_error(e: LlmError) -> NodeError {
    if e.is_retryable() {
        NodeError::transient("llm_error", e.to_string())
    } else {
        NodeError::fatal("llm_error", e.to_string())
    }
}

fn store_error(e: agentry_store::StoreError) -> NodeError {
    NodeError::transient("checkpoint_error", format!("checkpoint failed: {e}"))
}

/// The input messages of a fresh invocation (engine.md §2 `agent` "Reads").
fn input_messages(node: &SnapNode, ctx: &NodeCtx<'_>, has_tools: bool) -> Vec<Message> {
    if let Some(t) = node
        .extra()
        .get("input_template")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        return vec![Message::user(t)];
    }
    ctx.state
        .messages
        .iter()
        .filter_map(|m| {
            let content = m.get("content").and_then(Value::as_str).unwrap_or("");
            match m.get("role").and_then(Value::as_str) {
                Some("user") => Some(Message::user(content)),
                Some("assistant") if !content.is_empty() => Some(Message::assistant(content)),
                Some("tool") if has_tools => None,
                _ => None,
            }
        })
        .collect()
}

/// Runs (or resumes) the agent node.
pub async fn run(env: &AgentEnv<'_>, ctx: NodeCtx<'_>) -> NodeResult {
    let node = ctx.node;
    let extra = node.extra();
    let memory = extra
        .get("conversation_memory")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let max_steps = extra
        .get("max_steps")
        .and_then(Value::as_u64)
        .map(|n| n.max(1) as u32)
        .unwrap_or(DEFAULT_MAX_STEPS);

    // Model: the ai_model wired by an `llm` edge.
    let model_node = env
        .topo
        .attached(env.snapshot, &node.node_id, EdgeLabel::Llm)
        .first()
        .and_then(|id| env.snapshot.nodes.iter().find(|n| &n.node_id == id))
        .cloned()
        .ok_or_else(|| {
            NodeError::fatal(
                "no_model",
                format!(
                    "Node '{}' has no connected ai_model node via edge_label='llm'.",
                    node.node_id
                ),
            )
        })?;
    let mc = &model_node.config;
    let credential_id = mc
        .get("llm_credential_id")
        .and_then(Value::as_i64)
        .ok_or_else(|| {
            NodeError::fatal(
                "no_model",
                format!("ai_model '{}' has no llm_credential_id", model_node.node_id),
            )
        })?;
    let model_name = mc
        .get("model_name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let (model, pricing) = env
        .services
        .chat_model(env.owner_id, credential_id)
        .await
        .map_err(|e| {
            NodeError::fatal(
                "no_model",
                format!("ai_model '{}': {e}", model_node.node_id),
            )
        })?;

    // Tools from `tool` edges (and web_search from the owner's SearXNG credential).
    let tool_nodes: Vec<SnapNode> = env
        .topo
        .attached(env.snapshot, &node.node_id, EdgeLabel::Tool)
        .iter()
        .filter_map(|id| {
            env.snapshot
                .nodes
                .iter()
                .find(|n| &n.node_id == id)
                .cloned()
        })
        .collect();
    let tools: Vec<Tool> = tools::resolve(&tool_nodes, env.services, env.owner_id).await;
    let specs: Vec<agentry_llm::ToolSpec> = tools.iter().map(tools::spec).collect();
    let tool_ctx = std::sync::Arc::new(ToolCtx {
        env: ctx.env.clone(),
        services: env.services.clone(),
        execution_id: ctx.execution_id.to_string(),
        workflow_slug: env.snapshot.slug.clone(),
        workflow_id: env.snapshot.workflow_id,
        owner_id: env.owner_id,
        agent: node.clone(),
    });

    let (tid, exec_scope) = thread_id(env, &ctx, memory);
    let db = &env.services.db;
    let mut th: Thread = agentry_store::checkpoints::load(db, &tid)
        .await
        .map_err(store_error)?
        .and_then(|(v, _)| serde_json::from_value(v).ok())
        .unwrap_or_default();

    let mut resumed_events: Vec<Value> = vec![];
    match (ctx.resume.as_ref(), th.pending.as_mut()) {
        (Some(answer), Some(batch)) if batch.suspended => {
            // Resume: the suspended calls get the answer; the rest of the batch runs below.
            let text = match (&batch.spawn, answer) {
                (Some(_), v) => tools::spawn::resume_text(v),
                (None, Value::String(s)) => s.clone(),
                (None, other) => other.to_string(),
            };
            for i in std::mem::take(&mut batch.waiting) {
                if let Some(slot) = batch.answers.get_mut(i) {
                    *slot = Some(text.clone());
                }
                resumed_events.push(tool_event(&batch.calls[i], &tools, node, "success"));
            }
            batch.suspended = false;
            batch.question = None;
            batch.spawn = None;
        }
        (None, Some(batch)) if batch.suspended => {
            // Re-run of a parked node without its answer (a duplicate job): park again.
            return Ok(NodeOutcome {
                wait: Some(batch.wait_request()),
                usage: Some(std::mem::take(&mut th.usage)),
                ..Default::default()
            });
        }
        (_, Some(_)) => {
            // A crash in the middle of a tool batch: the calls without an answer run again.
        }
        (_, None) => {
            let crashed_mid_run = !th.finished && !th.messages.is_empty() && exec_scope.is_some();
            if !crashed_mid_run {
                // A fresh invocation.
                th.finished = false;
                th.steps = 0;
                th.usage = Usage::default();
                th.inline = InlineCost::default();
                let prompt = node
                    .config
                    .get("system_prompt")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                if th.messages.is_empty() && !prompt.is_empty() {
                    th.messages.push(Message::system(&prompt));
                    th.messages.push(Message::user(format!(
                        "[System instructions — follow these for the entire conversation]\n{prompt}"
                    )));
                }
                th.start = th.messages.len();
                let new_input = if memory && !th.messages.is_empty() && th.start > 2 {
                    // A continuing conversation: only this turn's user text is new.
                    input_messages(node, &ctx, !tools.is_empty())
                        .into_iter()
                        .rfind(|m| m.role == Role::User)
                        .into_iter()
                        .collect()
                } else {
                    input_messages(node, &ctx, !tools.is_empty())
                };
                th.messages.extend(new_input);
            }
        }
    }

    let saver = Saver {
        services: env.services,
        thread_id: &tid,
        execution_id: ctx.execution_id,
        scope: exec_scope.as_deref(),
        slug: &env.snapshot.slug,
        root: env.snapshot.root.as_ref(),
        agent: node,
    };

    let final_text = loop {
        if let Some(mut batch) = th.pending.take() {
            let mut events = std::mem::take(&mut resumed_events);
            events.extend(run_batch(&mut th, &mut batch, &tools, &tool_ctx, &saver).await?);
            if !batch.waiting.is_empty() {
                // Suspend: report the usage so far; the answer resumes this batch.
                let wait = batch.wait_request();
                batch.suspended = true;
                let usage = std::mem::take(&mut th.usage);
                events.extend(
                    batch
                        .waiting
                        .iter()
                        .map(|i| tool_event(&batch.calls[*i], &tools, node, "waiting")),
                );
                th.pending = Some(batch);
                // Written by the commit that parks the node: the saved conversation with its
                // pending call and the wait (children, question) exist together or not at all.
                return Ok(NodeOutcome {
                    wait: Some(wait),
                    usage: Some(usage),
                    checkpoint: Some(saver.park_checkpoint(&mut th, events)),
                    ..Default::default()
                });
            }
            push_tool_messages(&mut th, &batch);
            saver.save(&mut th, events).await?;
        }
        if th.steps >= max_steps {
            return Err(NodeError::fatal(
                "max_steps",
                format!(
                    "Agent '{}' reached max_steps ({max_steps}) without a final answer",
                    node.node_id
                ),
            ));
        }
        let mut req =
            ChatRequest::new(model_name.clone(), th.messages.clone()).with_tools(specs.clone());
        if let Some(t) = mc.get("temperature").and_then(Value::as_f64) {
            req = req.with_temperature(t);
        }
        if let Some(m) = mc.get("max_tokens").and_then(Value::as_u64) {
            req = req.with_max_tokens(m as u32);
        }
        if let Some(rf) = mc.get("response_format").filter(|v| !v.is_null()) {
            req = req.with_response_format(rf.clone());
        }
        let resp = model.chat(&req).await.map_err(llm_error)?;
        th.steps += 1;
        let call_tokens = (resp.usage.input_tokens + resp.usage.output_tokens) as i64;
        let call_usd = resp.usage.cost_usd(&model_name, &pricing);
        th.usage.input_tokens += resp.usage.input_tokens as i64;
        th.usage.output_tokens += resp.usage.output_tokens as i64;
        th.usage.cost_usd += call_usd;
        let charge = Some((call_tokens, call_usd));
        if resp.usage_reported {
            th.usage.llm_calls += 1;
        }
        let calls = resp.message.tool_calls.clone();
        th.usage.tool_invocations += calls.len() as i64;
        // Each turn's text goes out as `chat_message` (api.md §10), a repeat only once.
        let said = resp.message.content.trim();
        let previous = th.messages[th.start.min(th.messages.len())..]
            .iter()
            .rev()
            .find(|m| m.role == Role::Assistant)
            .map(|m| m.content.trim());
        let chat = (!said.is_empty() && previous != Some(said)).then(|| said.to_string());
        th.messages.push(resp.message.clone());
        if calls.is_empty() {
            th.finished = true;
            saver.save_after_call(&mut th, vec![], charge, chat).await?;
            break resp.message.content;
        }
        // The batch is part of the checkpoint before any tool runs, so a crash from here on
        // resumes it instead of asking the model again.
        let running: Vec<Value> = calls
            .iter()
            .map(|c| tool_event(c, &tools, node, "running"))
            .collect();
        th.pending = Some(PendingBatch::new(calls));
        saver
            .save_after_call(&mut th, running, charge, chat)
            .await?;
    };

    if let Some(owner) = env.owner_id
        && tools
            .iter()
            .any(|t| matches!(t.name, "recall" | "remember"))
    {
        let asked = th.messages[th.start.min(th.messages.len())..]
            .iter()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.clone())
            .unwrap_or_default();
        if let Err(e) = tools::record_episode(
            env.services,
            owner,
            ctx.execution_id,
            &node.node_id,
            &asked,
            &final_text,
        )
        .await
        {
            tracing::warn!(error = %e, "cannot record the agent's episode");
        }
    }

    let output = match mc.get("response_format").filter(|v| !v.is_null()) {
        Some(_) => {
            serde_json::from_str::<Value>(&final_text).unwrap_or(Value::String(final_text.clone()))
        }
        None => Value::String(final_text.clone()),
    };
    let new_messages: Vec<Value> = th.messages[th.start.min(th.messages.len())..]
        .iter()
        .filter(|m| matches!(m.role, Role::User | Role::Assistant) && !m.content.is_empty())
        .map(|m| json!({"role": if m.role == Role::User { "user" } else { "assistant" }, "content": m.content}))
        .filter(|m| m["role"] == "assistant")
        .collect();
    let usage = std::mem::take(&mut th.usage);
    let prompt = node
        .config
        .get("system_prompt")
        .and_then(Value::as_str)
        .unwrap_or("");
    Ok(NodeOutcome {
        output: json!({"output": output}),
        messages: new_messages,
        usage: Some(usage),
        log_input: Some(json!({"system_prompt": prompt.chars().take(4000).collect::<String>()})),
        ..Default::default()
    })
}

fn push_tool_messages(th: &mut Thread, batch: &PendingBatch) {
    for (call, answer) in batch.calls.iter().zip(&batch.answers) {
        th.messages.push(Message::tool(
            call.id.clone(),
            call.name.clone(),
            answer.clone().unwrap_or_default(),
        ));
    }
}

/// Writes the thread's checkpoint, with the tool-call events it carries in the same commit.
struct Saver<'a> {
    services: &'a Services,
    thread_id: &'a str,
    execution_id: &'a str,
    /// The execution a per-execution thread ends with (`None`: a conversation thread).
    scope: Option<&'a str>,
    slug: &'a str,
    /// Where tool-call events are mirrored for a spawned execution.
    root: Option<&'a agentry_core::flow::RootLink>,
    agent: &'a SnapNode,
}

impl Saver<'_> {
    /// The checkpoint for the orchestrator to write in the commit that parks the node.
    fn park_checkpoint(&self, th: &mut Thread, events: Vec<Value>) -> crate::node::ParkCheckpoint {
        th.stamp();
        crate::node::ParkCheckpoint {
            thread_id: self.thread_id.to_string(),
            scope: self.scope.map(String::from),
            node_id: self.agent.node_id.clone(),
            data: serde_json::to_value(&*th).unwrap_or(Value::Null),
            events,
        }
    }

    async fn save(&self, th: &mut Thread, events: Vec<Value>) -> Result<(), NodeError> {
        self.save_after_call(th, events, None, None).await
    }

    /// Saves the checkpoint after a model call, in one commit with: the call's usage
    /// (`tokens`, `usd`) charged in the registry (registry.md §12), so a crash never charges it
    /// twice; the tool-call events; and the turn's text as `chat_message`.
    async fn save_after_call(
        &self,
        th: &mut Thread,
        events: Vec<Value>,
        charge: Option<(i64, f64)>,
        chat: Option<String>,
    ) -> Result<(), NodeError> {
        th.stamp();
        let db = &self.services.db;
        let node_id = &self.agent.node_id;
        let charge =
            charge.filter(|_| th.inline.active_task.is_some() || th.inline.touched_epic.is_some());
        if charge.is_none() && events.is_empty() && chat.is_none() {
            let data = serde_json::to_value(&*th).unwrap_or(Value::Null);
            return agentry_store::checkpoints::save(
                db,
                self.thread_id,
                self.scope,
                node_id,
                &data,
            )
            .await
            .map_err(store_error);
        }
        let mut tx = db.begin().await.map_err(store_error)?;
        if let Some((tokens, usd)) = charge {
            let still_active = agentry_service::registry::charge_agent_call_in(
                &mut tx,
                th.inline.active_task.as_deref(),
                th.inline.touched_epic.as_deref(),
                tokens,
                usd,
            )
            .await
            .map_err(|e| NodeError::transient("registry", e.to_string()))?;
            if !still_active {
                th.inline.active_task = None;
            }
        }
        let data = serde_json::to_value(&*th).unwrap_or(Value::Null);
        agentry_store::checkpoints::save_in(&mut tx, self.thread_id, self.scope, node_id, &data)
            .await
            .map_err(store_error)?;
        for e in events {
            crate::events::emit_node_status(&mut tx, self.execution_id, self.slug, self.root, e);
        }
        if let Some(text) = chat {
            agentry_service::executions::emit_execution_event(
                &mut tx,
                self.execution_id,
                self.slug,
                "chat_message",
                json!({"text": text, "node_id": self.agent.node_id}),
            );
        }
        let stored = tx.commit().await.map_err(store_error)?;
        self.services.bus.publish(stored);
        Ok(())
    }
}

/// The `node_status` data of a tool call (api.md §10, "tool call").
fn tool_event(call: &ToolCall, tools: &[Tool], agent: &SnapNode, status: &str) -> Value {
    let mut data = match tools.iter().find(|t| t.name == call.name) {
        Some(t) => crate::events::node_status_data(&t.node, status),
        None => json!({"node_id": format!("_builtin_{}", call.name), "status": status,
            "component_type": "", "display_name": "", "node_label": ""}),
    };
    data["tool_name"] = json!(call.name);
    data["parent_node_id"] = json!(agent.node_id);
    data["is_tool_call"] = json!(true);
    data
}

/// Whether a tool's answer reports a failure (`Error…` text or `{"success": false}` /
/// `{"error": …}` JSON): only the event's status depends on it.
fn answer_failed(text: &str) -> bool {
    if text.starts_with("Error") {
        return true;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => {
            m.get("success") == Some(&Value::Bool(false)) || m.contains_key("error")
        }
        _ => false,
    }
}

/// Runs the calls of `batch` that have no answer yet, in parallel. After each one finishes the
/// checkpoint records its answer (so a crash never repeats it), except the last: its event is
/// returned for the caller's next checkpoint, which records the whole batch.
async fn run_batch(
    th: &mut Thread,
    batch: &mut PendingBatch,
    tools: &[Tool],
    tool_ctx: &std::sync::Arc<ToolCtx>,
    saver: &Saver<'_>,
) -> Result<Vec<Value>, NodeError> {
    let todo: Vec<usize> = (0..batch.calls.len())
        .filter(|i| batch.answers[*i].is_none() && !batch.waiting.contains(i))
        .collect();
    // Each call is its own task: while one finished call's answer is being checkpointed, the
    // others keep running (and keep any connection they hold moving).
    let mut running = tokio::task::JoinSet::new();
    for &i in &todo {
        let call = batch.calls[i].clone();
        let tool = tools.iter().find(|t| t.name == call.name).cloned();
        let ctx = tool_ctx.clone();
        running.spawn(async move {
            let outcome = match (tool, call.invalid_arguments()) {
                (None, _) => ToolOutcome::Text(format!("Error: unknown tool '{}'", call.name)),
                (_, Some(raw)) => {
                    ToolOutcome::Text(format!("Error: arguments are not valid JSON: {raw}"))
                }
                (Some(t), None) => tools::call(&t, &call.arguments, &ctx).await,
            };
            (i, outcome)
        });
    }
    let mut left = todo.len();
    while let Some(joined) = running.join_next().await {
        let (i, outcome) = joined.map_err(|e| {
            NodeError::transient("tool_panic", format!("a tool call stopped abnormally: {e}"))
        })?;
        left -= 1;
        let event = match outcome {
            ToolOutcome::Text(t) => {
                let status = if answer_failed(&t) {
                    "failed"
                } else {
                    "success"
                };
                batch.answers[i] = Some(t);
                Some(tool_event(&batch.calls[i], tools, saver.agent, status))
            }
            ToolOutcome::Registry { text, touch } => {
                th.inline.apply(&touch);
                batch.answers[i] = Some(text);
                Some(tool_event(&batch.calls[i], tools, saver.agent, "success"))
            }
            ToolOutcome::AskHuman { .. } | ToolOutcome::Spawn(_)
                if batch.spawn.is_some()
                    || (matches!(outcome, ToolOutcome::Spawn(_)) && !batch.waiting.is_empty()) =>
            {
                batch.answers[i] = Some(ONE_WAIT_PER_TURN.to_string());
                Some(tool_event(&batch.calls[i], tools, saver.agent, "failed"))
            }
            ToolOutcome::AskHuman { question } => {
                batch.waiting.push(i);
                batch.question.get_or_insert(question);
                None
            }
            ToolOutcome::Spawn(req) => {
                batch.waiting.push(i);
                batch.spawn = Some(req);
                None
            }
        };
        if left == 0 {
            return Ok(event.into_iter().collect());
        }
        th.pending = Some(batch.clone());
        saver.save(th, event.into_iter().collect()).await?;
        th.pending = None;
    }
    Ok(vec![])
}
