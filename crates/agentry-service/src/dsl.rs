//! The workflow DSL (dsl.md) against the database: dry-run validation, apply (create or fork)
//! in **one** store transaction, and export.
//!
//! * **Apply** = parse → compile (or clone the source + patch) → resolve models through the
//!   owner's LLM credentials → one transaction that inserts the workflow row, every node and
//!   every edge, arms schedule triggers and runs agentry-core's graph validation on what it
//!   wrote. Any failure, early or late, rolls the transaction back, so nothing is left behind;
//!   the caller gets every error found (`Err(DslRejected)`), each with its step, key, line and
//!   column. `workflow_created` is published after the commit.
//! * **Slugs**: `slugify(name)`, then `-2`, `-3`, … while taken by anyone (dsl.md §8), decided
//!   inside the insert (`ON CONFLICT DO NOTHING`), so concurrent applies never collide.
//! * **Sub-workflows**: a `workflow` step's target slug sets `subworkflow_id` when the owner
//!   may read that workflow (a missing target is not an error, §4). An explicit
//!   `subworkflow_id` (export's form) must name a workflow the owner may read, as the node API
//!   requires; otherwise the apply fails.
//! * **Node configs** follow the API's persistence rule (`nodes::normalize_config`) and the
//!   node type's `config_schema`, so a DSL-built node is exactly what `POST …/nodes/` would
//!   have stored.
//! * **Models** (§7): only the owner's LLM credentials, by id. Model lists are fetched only when
//!   a `discover` / `capability` spec needs them: Anthropic credentials give the fixed list,
//!   others `GET {base}/models` (10 s, no retry; a failure is an empty list). Lists are cached
//!   per (credential, version) for [`MODEL_LIST_TTL`].
//! * **Validation** (§9): the same pipeline without the transaction. agentry also runs a fork's
//!   patches in the dry run (the reference only checks that the source exists), so patch errors
//!   and counts show before applying.

use crate::dto::{ConfigIn, ConfigOut};
use crate::nodes::normalize_config;
use crate::workflows::{can_read, channel};
use crate::{Caller, ServiceError, ServiceResult, Services};
use agentry_core::flow::{SnapEdge, Snapshot};
use agentry_core::graph::{self, EdgeLabel, EdgeRef, EdgeType, NodeRef};
use agentry_core::node_types;
use agentry_core::users::Role;
use agentry_dsl::resolve::ANTHROPIC_MODELS;
use agentry_dsl::{
    CompiledWorkflow, CredentialModels, Document, DslError, EdgeSpec, GraphSnapshot, NodeConfig,
    NodeSpec, ParentModel, ParentTools, ResolveContext, WorkflowFields,
};
use agentry_llm::{ClientOptions, RetryPolicy};
use agentry_store::nodes::NodeFields;
use agentry_store::workflows::{self, WorkflowRow};
use agentry_store::{NewEvent, Tx, credentials, edges, nodes, now_ms, users};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use utoipa::ToSchema;

/// How long a credential's model list is reused.
pub const MODEL_LIST_TTL: Duration = Duration::from_secs(300);
/// Per-credential timeout of a model listing (dsl.md §7).
pub const MODEL_LIST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest DSL text accepted (the HTTP body limit is 1 MiB anyway).
pub const MAX_DSL_BYTES: usize = 512 * 1024;

/// A DSL document to start from (`examples/` at the repository root, built in).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct DslExample {
    pub name: &'static str,
    pub description: &'static str,
    pub yaml_str: &'static str,
}

/// The built-in examples, offered by `GET /workflows/dsl/examples/` and `agentry examples`.
pub const EXAMPLES: &[DslExample] = &[
    DslExample {
        name: "orchestrator",
        description: "Chat agent that plans an epic with tasks and delegates them (registry tools, workflow_discover, workflow_create, spawn_and_await)",
        yaml_str: include_str!("../../../examples/orchestrator.yaml"),
    },
    DslExample {
        name: "worker",
        description: "Child workflow the orchestrator spawns for one task (trigger none, agent with tools)",
        yaml_str: include_str!("../../../examples/worker.yaml"),
    },
    DslExample {
        name: "webhook",
        description: "Webhook handler routing incoming JSON events with a switch",
        yaml_str: include_str!("../../../examples/webhook.yaml"),
    },
    DslExample {
        name: "pipeline",
        description: "Code, loop and switch pipeline over the words of the input (no model)",
        yaml_str: include_str!("../../../examples/pipeline.yaml"),
    },
];

/// A built-in example by name.
pub fn example(name: &str) -> Option<&'static DslExample> {
    EXAMPLES.iter().find(|e| e.name == name)
}

/// Model lists by `(credential id, updated_at)`.
#[derive(Default)]
pub struct ModelListCache {
    entries: Mutex<HashMap<(i64, i64), CachedList>>,
}

type CachedList = (Instant, Vec<String>);

impl ModelListCache {
    fn get(&self, key: (i64, i64)) -> Option<Vec<String>> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(&key)
            .filter(|(at, _)| at.elapsed() < MODEL_LIST_TTL)
            .map(|(_, v)| v.clone())
    }
    fn put(&self, key: (i64, i64), models: Vec<String>) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() > 1024 {
                entries.clear();
            }
            entries.insert(key, (Instant::now(), models));
        }
    }
}

/// The calling agent of the `workflow_create` tool: its model (for `inherit`) and its tools
/// (for `inherit` option values).
#[derive(Debug, Clone, Default)]
pub struct DslParent {
    pub model: ParentModel,
    pub tools: ParentTools,
}

/// One error of a document, with where it is.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DslErrorOut {
    /// The spec's text, without the position.
    pub message: String,
    /// `parse`, `build` or `model`.
    pub kind: String,
    pub step_id: Option<String>,
    pub key: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl From<&DslError> for DslErrorOut {
    fn from(e: &DslError) -> Self {
        DslErrorOut {
            message: e.message.clone(),
            kind: match e.kind {
                agentry_dsl::ErrorKind::Parse => "parse",
                agentry_dsl::ErrorKind::Build => "build",
                agentry_dsl::ErrorKind::Model => "model",
            }
            .into(),
            step_id: e.step_id.clone(),
            key: e.key.clone(),
            line: e.line,
            column: e.column,
        }
    }
}

/// A compiled node as it would be stored (`NodeOut` without row id and timestamps).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DslNodeOut {
    pub node_id: String,
    pub label: String,
    pub component_type: String,
    pub is_entry_point: bool,
    pub interrupt_before: bool,
    pub interrupt_after: bool,
    pub position_x: i64,
    pub position_y: i64,
    pub config: ConfigOut,
    pub subworkflow_id: Option<i64>,
}

/// A compiled edge (`EdgeOut` without row id).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DslEdgeOut {
    pub source_node_id: String,
    pub target_node_id: String,
    pub edge_type: String,
    pub edge_label: String,
    pub condition_value: String,
    pub priority: i64,
}

/// `POST /workflows/validate-dsl/` (dsl.md §9 + agentry's `nodes`, `edges`, `error_details`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DslValidateOut {
    pub valid: bool,
    /// Texts prefixed by stage (`Parse error: …`, `Model resolution error: …`,
    /// `Graph build error: …`), with `(line L, column C)` where known.
    pub errors: Vec<String>,
    /// The same errors, structured.
    pub error_details: Vec<DslErrorOut>,
    pub node_count: usize,
    pub edge_count: usize,
    pub nodes: Vec<DslNodeOut>,
    pub edges: Vec<DslEdgeOut>,
}

/// The compiler result of dsl.md §8 (success).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DslApplyOut {
    pub success: bool,
    pub workflow_id: i64,
    pub slug: String,
    pub node_count: usize,
    pub edge_count: usize,
    /// `created` or `forked`.
    pub mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub based_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
}

/// A document that was not applied: every error, first one first. Nothing was written.
#[derive(Debug, Clone, PartialEq)]
pub struct DslRejected {
    pub errors: Vec<DslError>,
}

impl DslRejected {
    fn one(e: DslError) -> Self {
        DslRejected { errors: vec![e] }
    }
    /// The first error's text (with its position).
    pub fn first(&self) -> String {
        self.errors
            .first()
            .map(ToString::to_string)
            .unwrap_or_else(|| "Invalid DSL".into())
    }
    /// Every error's text (with its position).
    pub fn texts(&self) -> Vec<String> {
        self.errors.iter().map(ToString::to_string).collect()
    }
    pub fn details(&self) -> Vec<DslErrorOut> {
        self.errors.iter().map(DslErrorOut::from).collect()
    }
    /// dsl.md §8's failure object: `{"success": false, "error", "errors"}`.
    pub fn to_json(&self) -> Value {
        json!({"success": false, "error": self.first(), "errors": self.texts()})
    }
}

/// `GET /workflows/{slug}/dsl/`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DslExportOut {
    pub slug: String,
    pub yaml_str: String,
}

/// What apply did not get to commit: a document problem, or a service failure (database…).
pub enum ApplyError {
    Rejected(DslRejected),
    Service(ServiceError),
}

impl From<ServiceError> for ApplyError {
    fn from(e: ServiceError) -> Self {
        ApplyError::Service(e)
    }
}
impl From<agentry_store::StoreError> for ApplyError {
    fn from(e: agentry_store::StoreError) -> Self {
        ApplyError::Service(e.into())
    }
}
impl From<DslRejected> for ApplyError {
    fn from(e: DslRejected) -> Self {
        ApplyError::Rejected(e)
    }
}

/// How [`Services::apply_dsl_with`] applies.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions<'a> {
    /// The calling agent (for `inherit`).
    pub parent: Option<&'a DslParent>,
    /// Base of a webhook workflow's `webhook_url`.
    pub public_url: Option<&'a str>,
    /// Tags merged into the workflow's own, as a set (the tool's `tags`).
    pub extra_tags: &'a [String],
    /// Idempotency: applying again with the same key answers the workflow created the first
    /// time (even if it was changed or its document differs) and creates nothing. Hashed
    /// before it is stored.
    pub create_key: Option<&'a str>,
}

fn webhook_url(public_url: Option<&str>, slug: &str) -> String {
    format!(
        "{}/api/v1/webhooks/{slug}/",
        public_url.unwrap_or("").trim_end_matches('/')
    )
}

/// A compiled document ready to persist.
struct Prepared {
    graph: GraphSnapshot,
    forked_from: Option<WorkflowRow>,
}

fn too_large(text: &str) -> DslError {
    DslError::parse(format!(
        "DSL text is too large ({} bytes; at most {MAX_DSL_BYTES})",
        text.len()
    ))
    .key("yaml_str")
}

/// A database graph as the DSL's in-memory graph.
pub fn snapshot_of(
    w: &WorkflowRow,
    node_rows: &[agentry_store::nodes::NodeRow],
    edge_rows: &[agentry_store::edges::EdgeRow],
) -> GraphSnapshot {
    let nodes = node_rows
        .iter()
        .map(|n| {
            let cfg = crate::nodes::config_out(&n.component_type, &n.config.0);
            let config: NodeConfig = serde_json::to_value(&cfg)
                .ok()
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default();
            NodeSpec {
                node_id: n.node_id.clone(),
                component_type: n.component_type.clone(),
                label: n.label.clone(),
                is_entry_point: n.is_entry_point,
                interrupt_before: n.interrupt_before,
                interrupt_after: n.interrupt_after,
                position_x: n.position_x,
                position_y: n.position_y,
                config,
                subworkflow_slug: None,
                subworkflow_id: n.subworkflow_id,
            }
        })
        .collect();
    let edges = edge_rows
        .iter()
        .map(|e| EdgeSpec {
            source: e.source_node_id.clone(),
            target: e.target_node_id.clone(),
            edge_type: EdgeType::parse(&e.edge_type).unwrap_or(EdgeType::Direct),
            edge_label: EdgeLabel::parse(&e.edge_label).unwrap_or(EdgeLabel::Data),
            condition_value: e.condition_value.clone(),
            priority: e.priority,
        })
        .collect();
    GraphSnapshot {
        workflow: WorkflowFields {
            name: w.name.clone(),
            slug: w.slug.clone(),
            description: w.description.clone(),
            tags: w.tags.as_ref().map(|t| t.0.clone()).unwrap_or_default(),
        },
        nodes,
        edges,
    }
}

/// A node's config as the API stores it (persistence rule of api.md §5).
fn stored_config(n: &NodeSpec) -> ConfigOut {
    let input: ConfigIn = serde_json::to_value(&n.config)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    normalize_config(&n.component_type, input)
}

/// The node-level checks the node API makes, as DSL errors.
fn check_node(n: &NodeSpec, config: &ConfigOut) -> Vec<DslError> {
    let mut errors = vec![];
    let at = |msg: String| DslError::build(msg).step(&n.node_id);
    if let Err(e) = agentry_core::ids::check_node_id(&n.node_id) {
        errors.push(at(format!("Step '{}': {e}", n.node_id)).key("id"));
    }
    let Some(spec) = node_types::get(&n.component_type) else {
        errors.push(
            at(format!(
                "Step '{}': unknown component type '{}'",
                n.node_id, n.component_type
            ))
            .key("component"),
        );
        return errors;
    };
    for p in node_types::check_extra_config(spec, &config.extra_config) {
        errors.push(at(format!("Step '{}': {p}", n.node_id)).key("extra_config"));
    }
    if let Some(t) = config.temperature
        && !(0.0..=2.0).contains(&t)
    {
        errors.push(
            at(format!(
                "Step '{}': temperature must be between 0 and 2",
                n.node_id
            ))
            .key("model.temperature"),
        );
    }
    if n.label.chars().count() > 200 {
        errors.push(
            at(format!(
                "Step '{}': label must be at most 200 characters",
                n.node_id
            ))
            .key("label"),
        );
    }
    errors
}

fn check_workflow_fields(f: &WorkflowFields) -> Vec<DslError> {
    let mut errors = vec![];
    if f.name.trim().is_empty() {
        errors.push(DslError::parse("DSL requires a `name` field").key("name"));
    } else if f.name.chars().count() > 200 {
        errors.push(DslError::build("`name` must be at most 200 characters").key("name"));
    }
    if f.tags.len() > 50 {
        errors.push(DslError::build("`tags`: at most 50 tags").key("tags"));
    }
    if f.tags
        .iter()
        .any(|t| t.trim().is_empty() || t.chars().count() > 100)
    {
        errors.push(DslError::build("`tags`: each tag must be 1 to 100 characters").key("tags"));
    }
    errors
}

fn node_out(n: &NodeSpec, subworkflow_id: Option<i64>) -> DslNodeOut {
    DslNodeOut {
        node_id: n.node_id.clone(),
        label: n.label.clone(),
        component_type: n.component_type.clone(),
        is_entry_point: n.is_entry_point,
        interrupt_before: n.interrupt_before,
        interrupt_after: n.interrupt_after,
        position_x: n.position_x,
        position_y: n.position_y,
        config: stored_config(n),
        subworkflow_id,
    }
}

fn edge_out(e: &EdgeSpec) -> DslEdgeOut {
    DslEdgeOut {
        source_node_id: e.source.clone(),
        target_node_id: e.target.clone(),
        edge_type: e.edge_type.as_str().to_string(),
        edge_label: e.edge_label.as_str().to_string(),
        condition_value: e.condition_value.clone(),
        priority: e.priority,
    }
}

/// engine.md §9 on the rows written, minus the model-connection check (dsl.md §0).
fn check_written(
    node_rows: &[agentry_store::nodes::NodeRow],
    edge_rows: &[agentry_store::edges::EdgeRow],
) -> Vec<DslError> {
    let node_refs: Vec<NodeRef<'_>> = node_rows
        .iter()
        .map(|n| NodeRef {
            node_id: &n.node_id,
            component_type: &n.component_type,
        })
        .collect();
    let edge_refs: Vec<EdgeRef<'_>> = edge_rows
        .iter()
        .map(|e| EdgeRef {
            source: &e.source_node_id,
            target: &e.target_node_id,
            edge_type: EdgeType::parse(&e.edge_type).unwrap_or(EdgeType::Direct),
            label: EdgeLabel::parse(&e.edge_label).unwrap_or(EdgeLabel::Data),
            condition_value: &e.condition_value,
        })
        .collect();
    graph::validate(&node_refs, &edge_refs)
        .into_iter()
        .filter(|m| !(m.starts_with("Node '") && m.ends_with("requires a model connection")))
        .map(DslError::build)
        .collect()
}

/// The parent of the `workflow_create` tool (tools.md §3) in an execution's graph: the agent
/// `agent_id`, its first `llm`-wired `ai_model` and its `tool`-wired nodes in edge order.
pub fn parent_from_snapshot(snapshot: &Snapshot, agent_id: &str) -> DslParent {
    let model_of = |c: &Value| agentry_dsl::ResolvedModel {
        credential_id: c.get("llm_credential_id").and_then(Value::as_i64),
        model_name: c
            .get("model_name")
            .and_then(Value::as_str)
            .map(String::from),
        temperature: c.get("temperature").and_then(Value::as_f64),
    };
    let mut wired: Vec<&SnapEdge> = snapshot
        .edges
        .iter()
        .filter(|e| e.target == agent_id)
        .collect();
    wired.sort_by_key(|e| (e.priority, e.id));
    let find = |id: &str| snapshot.nodes.iter().find(|n| n.node_id == id);
    let model_node = wired
        .iter()
        .filter(|e| e.label == EdgeLabel::Llm)
        .filter_map(|e| find(&e.source))
        .find(|n| n.component_type == "ai_model");
    let own = find(agent_id).and_then(|n| match &n.config {
        Value::Object(m) if !m.is_empty() => Some(model_of(&n.config)),
        _ => None,
    });
    let tools = wired
        .iter()
        .filter(|e| e.label == EdgeLabel::Tool)
        .filter_map(|e| find(&e.source))
        .map(|n| (n.component_type.clone(), n.extra().clone()))
        .collect();
    DslParent {
        model: ParentModel {
            wired: model_node.map(|n| model_of(&n.config)),
            own,
        },
        tools: ParentTools {
            node_id: agent_id.to_string(),
            tools,
        },
    }
}

impl Services {
    /// The caller acting as user `user_id` (the owner of a workflow whose agent applies a
    /// document); `NotFound` when that user does not exist or is inactive.
    pub async fn caller_for_user(&self, user_id: i64) -> ServiceResult<Caller> {
        match users::get(&self.db, user_id).await? {
            Some(u) if u.is_active => Ok(Caller {
                user_id: u.id,
                username: u.username,
                role: Role::parse(&u.role).unwrap_or(Role::Normal),
                mfa_enabled: u.mfa_enabled,
            }),
            _ => Err(ServiceError::NotFound("User not found.".into())),
        }
    }

    /// The model ids of one LLM credential (§7's lists), cached.
    async fn model_ids(&self, row: &agentry_store::credentials::CredentialRow) -> Vec<String> {
        let provider = row.detail.0["provider_type"]
            .as_str()
            .unwrap_or("openai_compatible");
        if provider == "anthropic" {
            return ANTHROPIC_MODELS.iter().map(|m| m.to_string()).collect();
        }
        let key = (row.id, row.updated_at);
        if let Some(hit) = self.model_lists.get(key) {
            return hit;
        }
        let options = ClientOptions::default()
            .with_timeout(MODEL_LIST_TIMEOUT)
            .with_retry(RetryPolicy::none());
        let ids: Vec<String> = match self.client_for(row, options) {
            Ok(client) => client
                .list_models()
                .await
                .into_iter()
                .map(|m| m.id)
                .collect(),
            Err(error) => {
                tracing::warn!(credential = row.id, %error, "cannot list models for the DSL");
                vec![]
            }
        };
        self.model_lists.put(key, ids.clone());
        ids
    }

    /// The owner's LLM credentials (by id) with their model lists when `lists` is set.
    async fn resolve_context(
        &self,
        owner_id: i64,
        lists: bool,
        parent: Option<&DslParent>,
    ) -> ServiceResult<ResolveContext> {
        let rows = credentials::of_type(&self.db, owner_id, "llm").await?;
        let mut creds = Vec::with_capacity(rows.len());
        for row in &rows {
            creds.push(CredentialModels {
                id: row.id,
                provider_type: row.detail.0["provider_type"]
                    .as_str()
                    .unwrap_or("openai_compatible")
                    .to_string(),
                model_ids: if lists {
                    self.model_ids(row).await
                } else {
                    vec![]
                },
            });
        }
        Ok(ResolveContext {
            parent: parent.map(|p| p.model.clone()),
            credentials: creds,
        })
    }

    /// Parse, compile (or fork + patch), resolve. `Err` = the document's errors.
    async fn prepare(
        &self,
        owner: &Caller,
        text: &str,
        parent: Option<&DslParent>,
    ) -> Result<Prepared, ApplyError> {
        if text.len() > MAX_DSL_BYTES {
            return Err(DslRejected::one(too_large(text)).into());
        }
        let doc = agentry_dsl::parse(text).map_err(|errors| DslRejected { errors })?;
        let (compiled, forked_from): (CompiledWorkflow, Option<WorkflowRow>) = match doc {
            Document::Create(doc) => (
                agentry_dsl::compile(&doc).map_err(|errors| DslRejected { errors })?,
                None,
            ),
            Document::Fork(doc) => {
                let source = match self.readable_workflow(owner, &doc.based_on).await {
                    Ok(w) => w,
                    Err(ServiceError::NotFound(_)) => {
                        return Err(DslRejected::one(
                            DslError::build(format!(
                                "Source workflow '{}' not found",
                                doc.based_on
                            ))
                            .key("based_on"),
                        )
                        .into());
                    }
                    Err(e) => return Err(e.into()),
                };
                let (node_rows, edge_rows) = tokio::try_join!(
                    nodes::list(&self.db, source.id),
                    edges::list(&self.db, source.id)
                )?;
                let base = snapshot_of(&source, &node_rows, &edge_rows);
                (
                    agentry_dsl::fork(&base, &doc).map_err(|errors| DslRejected { errors })?,
                    Some(source),
                )
            }
        };
        let mut ctx = self
            .resolve_context(owner.user_id, compiled.needs_model_lists(), parent)
            .await?;
        let (graph, mut errors) = compiled.finalize(&mut ctx, parent.map(|p| &p.tools));
        errors.extend(check_workflow_fields(&graph.workflow));
        for n in &graph.nodes {
            errors.extend(check_node(n, &stored_config(n)));
        }
        if !errors.is_empty() {
            return Err(DslRejected { errors }.into());
        }
        Ok(Prepared { graph, forked_from })
    }

    /// `subworkflow_id` for a node: its explicit id (must be readable) or its target slug's
    /// workflow when readable (a missing slug is not an error).
    async fn subworkflow_in(
        &self,
        tx: &mut Tx,
        owner: &Caller,
        n: &NodeSpec,
    ) -> Result<Option<i64>, ApplyError> {
        if let Some(id) = n.subworkflow_id {
            return match workflows::get_in(tx, id).await? {
                Some(w) if can_read(owner, &w) => Ok(Some(id)),
                _ => Err(DslRejected::one(
                    DslError::build(format!(
                        "Step '{}': subworkflow_id {id} not found",
                        n.node_id
                    ))
                    .step(&n.node_id)
                    .key("subworkflow_id"),
                )
                .into()),
            };
        }
        let Some(slug) = n.subworkflow_slug.as_deref().filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        Ok(workflows::get_by_slug_in(tx, slug)
            .await?
            .filter(|w| can_read(owner, w))
            .map(|w| w.id))
    }

    /// The dry run of dsl.md §9, as `caller`: nothing is written.
    pub async fn validate_dsl(&self, caller: &Caller, text: &str) -> ServiceResult<DslValidateOut> {
        let rejected = |errors: Vec<DslError>| DslValidateOut {
            valid: false,
            errors: errors.iter().map(DslError::prefixed).collect(),
            error_details: errors.iter().map(DslErrorOut::from).collect(),
            node_count: 0,
            edge_count: 0,
            nodes: vec![],
            edges: vec![],
        };
        if text.len() > MAX_DSL_BYTES {
            return Ok(rejected(vec![too_large(text)]));
        }
        let doc = match agentry_dsl::parse(text) {
            Ok(doc) => doc,
            Err(errors) => return Ok(rejected(errors)),
        };
        let compiled = match doc {
            Document::Create(doc) => agentry_dsl::compile(&doc),
            Document::Fork(doc) => match self.readable_workflow(caller, &doc.based_on).await {
                Ok(source) => {
                    let (node_rows, edge_rows) = tokio::try_join!(
                        nodes::list(&self.db, source.id),
                        edges::list(&self.db, source.id)
                    )?;
                    agentry_dsl::fork(&snapshot_of(&source, &node_rows, &edge_rows), &doc)
                }
                Err(ServiceError::NotFound(_)) => Err(vec![
                    DslError::build(format!("Source workflow '{}' not found", doc.based_on))
                        .key("based_on"),
                ]),
                Err(e) => return Err(e),
            },
        };
        let compiled = match compiled {
            Ok(c) => c,
            Err(errors) => return Ok(rejected(errors)),
        };
        let mut ctx = self
            .resolve_context(caller.user_id, compiled.needs_model_lists(), None)
            .await?;
        // No parent: `inherit` resolves to no model; `inherit` tool options cannot resolve.
        let (graph, mut errors) = compiled.finalize(&mut ctx, None);
        errors.extend(check_workflow_fields(&graph.workflow));
        let mut out_nodes = Vec::with_capacity(graph.nodes.len());
        for n in &graph.nodes {
            errors.extend(check_node(n, &stored_config(n)));
            let sub = match (n.subworkflow_id, n.subworkflow_slug.as_deref()) {
                (Some(id), _) => match workflows::get(&self.db, id).await? {
                    Some(w) if can_read(caller, &w) => Some(id),
                    _ => {
                        errors.push(
                            DslError::build(format!(
                                "Step '{}': subworkflow_id {id} not found",
                                n.node_id
                            ))
                            .step(&n.node_id)
                            .key("subworkflow_id"),
                        );
                        None
                    }
                },
                (None, Some(slug)) if !slug.is_empty() => workflows::get_by_slug(&self.db, slug)
                    .await?
                    .filter(|w| can_read(caller, w))
                    .map(|w| w.id),
                _ => None,
            };
            out_nodes.push(node_out(n, sub));
        }
        let out_edges: Vec<DslEdgeOut> = graph.edges.iter().map(edge_out).collect();
        Ok(DslValidateOut {
            valid: errors.is_empty(),
            errors: errors.iter().map(DslError::prefixed).collect(),
            error_details: errors.iter().map(DslErrorOut::from).collect(),
            node_count: out_nodes.len(),
            edge_count: out_edges.len(),
            nodes: out_nodes,
            edges: out_edges,
        })
    }

    /// Applies a document as `owner` (create or fork) in one transaction; see the module doc.
    /// `parent` is the calling agent (the `workflow_create` tool); `public_url` is the base of
    /// the `webhook_url` of webhook workflows (`None`: a path from `/api/v1/`).
    pub async fn apply_dsl(
        &self,
        owner: &Caller,
        text: &str,
        parent: Option<&DslParent>,
        public_url: Option<&str>,
    ) -> Result<DslApplyOut, ApplyError> {
        self.apply_dsl_with(
            owner,
            text,
            ApplyOptions {
                parent,
                public_url,
                ..Default::default()
            },
        )
        .await
    }

    /// [`apply_dsl`](Services::apply_dsl) with every option (the `workflow_create` tool).
    pub async fn apply_dsl_with(
        &self,
        owner: &Caller,
        text: &str,
        opts: ApplyOptions<'_>,
    ) -> Result<DslApplyOut, ApplyError> {
        let key = opts
            .create_key
            .map(|k| hex::encode(Sha256::digest(k.as_bytes())));
        if let Some(key) = &key
            && let Some(done) = self.created_with(key, opts.public_url).await?
        {
            return Ok(done);
        }
        let Prepared {
            mut graph,
            forked_from,
        } = self.prepare(owner, text, opts.parent).await?;
        for t in opts.extra_tags {
            if !graph.workflow.tags.contains(t) {
                graph.workflow.tags.push(t.clone());
            }
        }
        let tag_errors = check_workflow_fields(&graph.workflow);
        if !tag_errors.is_empty() {
            return Err(DslRejected { errors: tag_errors }.into());
        }
        let mut tx = self.db.begin().await?;
        let persisted = match self
            .persist(&mut tx, owner, &graph, forked_from.as_ref())
            .await
        {
            Ok(row) => match &key {
                Some(key) => workflows::set_create_key(&mut tx, row.id, key)
                    .await
                    .map(|()| row)
                    .map_err(ApplyError::from),
                None => Ok(row),
            },
            Err(e) => Err(e),
        };
        let row = match persisted {
            Ok(row) => row,
            Err(e) => {
                // Dropping the transaction would roll it back too; say so explicitly.
                if let Err(rollback) = tx.rollback().await {
                    tracing::warn!(error = %rollback, "DSL apply: rollback failed");
                }
                // A concurrent run of the same call won the key: answer what it created.
                if let (Some(key), ApplyError::Service(_)) = (&key, &e)
                    && let Some(done) = self.created_with(key, opts.public_url).await?
                {
                    return Ok(done);
                }
                return Err(e);
            }
        };
        self.commit(tx).await?;
        let webhook = graph
            .nodes
            .iter()
            .any(|n| n.component_type == "trigger_webhook");
        Ok(DslApplyOut {
            success: true,
            workflow_id: row.id,
            webhook_url: webhook.then(|| webhook_url(opts.public_url, &row.slug)),
            slug: row.slug,
            node_count: graph.nodes.len(),
            edge_count: graph.edges.len(),
            mode: if forked_from.is_some() {
                "forked"
            } else {
                "created"
            }
            .into(),
            based_on: forked_from.map(|w| w.slug),
        })
    }

    /// The result of an earlier apply with idempotency key `key` (already hashed), if any.
    async fn created_with(
        &self,
        key: &str,
        public_url: Option<&str>,
    ) -> Result<Option<DslApplyOut>, ApplyError> {
        let mut tx = self.db.begin().await?;
        let found = workflows::get_by_create_key_in(&mut tx, key).await?;
        tx.rollback().await?;
        let Some(w) = found else { return Ok(None) };
        let node_rows = nodes::list(&self.db, w.id).await?;
        let based_on = match w.forked_from_id {
            Some(id) => workflows::get(&self.db, id).await?.map(|s| s.slug),
            None => None,
        };
        let webhook = node_rows
            .iter()
            .any(|n| n.component_type == "trigger_webhook");
        Ok(Some(DslApplyOut {
            success: true,
            workflow_id: w.id,
            webhook_url: webhook.then(|| webhook_url(public_url, &w.slug)),
            node_count: w.node_count as usize,
            edge_count: w.edge_count as usize,
            mode: if w.forked_from_id.is_some() {
                "forked"
            } else {
                "created"
            }
            .into(),
            based_on,
            slug: w.slug,
        }))
    }

    /// Writes the workflow, its nodes and edges inside `tx`, then checks what was written.
    async fn persist(
        &self,
        tx: &mut Tx,
        owner: &Caller,
        g: &GraphSnapshot,
        forked_from: Option<&WorkflowRow>,
    ) -> Result<WorkflowRow, ApplyError> {
        let fields = workflows::WorkflowFields {
            name: g.workflow.name.clone(),
            description: g.workflow.description.clone(),
            is_active: true,
            is_public: false,
            is_default: false,
            is_callable: true,
            tags: (!g.workflow.tags.is_empty()).then(|| g.workflow.tags.clone()),
            error_handler_workflow_id: None,
            forked_from_id: forked_from.map(|w| w.id),
            max_execution_seconds: forked_from.map_or(600, |w| w.max_execution_seconds),
            input_schema: forked_from.and_then(|w| w.input_schema.as_ref().map(|j| j.0.clone())),
            output_schema: forked_from.and_then(|w| w.output_schema.as_ref().map(|j| j.0.clone())),
        };
        let now = now_ms();
        let base = if g.workflow.slug.is_empty() {
            "workflow"
        } else {
            g.workflow.slug.as_str()
        };
        let row = workflows::insert_unique_slug(tx, owner.user_id, base, 2, &fields, now).await?;
        let mut inserted = Vec::with_capacity(g.nodes.len());
        for n in &g.nodes {
            let subworkflow_id = self.subworkflow_in(tx, owner, n).await?;
            let config = stored_config(n);
            let f = NodeFields {
                node_id: n.node_id.clone(),
                label: n.label.clone(),
                component_type: n.component_type.clone(),
                is_entry_point: n.is_entry_point,
                interrupt_before: n.interrupt_before,
                interrupt_after: n.interrupt_after,
                position_x: n.position_x,
                position_y: n.position_y,
                config: serde_json::to_value(&config)
                    .map_err(|e| ServiceError::Internal(e.to_string()))?,
                subworkflow_id,
                code_block_id: None,
            };
            let node_row = nodes::insert(tx, row.id, &f, now).await?.ok_or_else(|| {
                DslRejected::one(
                    DslError::build(format!("Duplicate node id '{}'", n.node_id)).step(&n.node_id),
                )
            })?;
            inserted.push(node_row);
        }
        let mut edge_rows = Vec::with_capacity(g.edges.len());
        for e in &g.edges {
            let f = edges::EdgeFields {
                source_node_id: e.source.clone(),
                target_node_id: e.target.clone(),
                edge_type: e.edge_type.as_str().to_string(),
                edge_label: e.edge_label.as_str().to_string(),
                condition_mapping: None,
                condition_value: e.condition_value.clone(),
                priority: e.priority,
            };
            let edge_row = edges::insert(tx, row.id, &f).await?.ok_or_else(|| {
                DslRejected::one(DslError::build(format!(
                    "Duplicate edge '{}' → '{}'",
                    e.source, e.target
                )))
            })?;
            edge_rows.push(edge_row);
        }
        let problems = check_written(&inserted, &edge_rows);
        if !problems.is_empty() {
            return Err(DslRejected { errors: problems }.into());
        }
        for node_row in &inserted {
            crate::schedules::arm_in(tx, row.id, node_row)
                .await
                .map_err(|e| match e {
                    ServiceError::Invalid(m) => ApplyError::Rejected(DslRejected::one(
                        DslError::build(format!("Step '{}': {m}", node_row.node_id))
                            .step(&node_row.node_id)
                            .key("trigger_config"),
                    )),
                    other => ApplyError::Service(other),
                })?;
        }
        tx.emit(NewEvent::new(
            channel(&row.slug),
            "workflow_created",
            json!({"slug": row.slug, "name": row.name}),
        ));
        Ok(row)
    }

    /// `GET /workflows/{slug}/dsl/`: any readable workflow as DSL (dsl.md §12).
    pub async fn export_dsl(&self, caller: &Caller, slug: &str) -> ServiceResult<DslExportOut> {
        let w = self.readable_workflow(caller, slug).await?;
        let (node_rows, edge_rows) =
            tokio::try_join!(nodes::list(&self.db, w.id), edges::list(&self.db, w.id))?;
        let mut g = snapshot_of(&w, &node_rows, &edge_rows);
        // Name sub-workflows by slug rather than row id, so the document also applies on
        // another deployment (the slug resolves to the id there, when that workflow exists).
        for n in &mut g.nodes {
            if let Some(id) = n.subworkflow_id
                && let Some(sub) = workflows::get(&self.db, id).await?
            {
                n.subworkflow_slug = Some(sub.slug);
                n.subworkflow_id = None;
            }
        }
        Ok(DslExportOut {
            slug: w.slug.clone(),
            yaml_str: agentry_dsl::export(&g),
        })
    }
}
