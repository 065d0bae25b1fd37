//! The JSON shapes of the v1 API (api.md), shared by the HTTP routes, the agent tools and the
//! OpenAPI document.

use agentry_core::Patch;
use agentry_core::time::iso;
use agentry_store::{edges::EdgeRow, nodes::NodeRow, workflows::WorkflowRow};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

// ---------- auth ----------

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SetupStatus {
    pub needs_setup: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenOut {
    pub key: String,
    pub requires_mfa: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MeOut {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub mfa_enabled: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ApiKeyIn {
    pub name: String,
    /// ISO-8601; must be in the future.
    #[serde(default)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyOut {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
    pub is_active: bool,
    /// The full key: present only in the answer that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserIn {
    pub username: String,
    pub password: String,
    #[serde(default = "default_role")]
    pub role: String,
}

fn default_role() -> String {
    "normal".into()
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserOut {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub created_at: String,
}

// ---------- workflows ----------

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct WorkflowIn {
    pub name: String,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default = "yes")]
    pub is_active: bool,
    #[serde(default)]
    pub is_public: bool,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub error_handler_workflow_id: Option<i64>,
    #[serde(default = "default_max_seconds")]
    pub max_execution_seconds: i64,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub input_schema: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub output_schema: Option<Value>,
}

fn yes() -> bool {
    true
}
fn default_max_seconds() -> i64 {
    600
}

/// Every field optional; only keys present are applied.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct WorkflowPatch {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub slug: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub is_active: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub is_public: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub is_default: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub tags: Patch<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub error_handler_workflow_id: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub max_execution_seconds: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub input_schema: Patch<Value>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub output_schema: Patch<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct WorkflowOut {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub is_active: bool,
    pub is_public: bool,
    pub is_default: bool,
    pub tags: Option<Vec<String>>,
    pub error_handler_workflow_id: Option<i64>,
    pub max_execution_seconds: i64,
    #[schema(value_type = Option<Object>)]
    pub input_schema: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub output_schema: Option<Value>,
    pub node_count: i64,
    pub edge_count: i64,
    pub owner_id: i64,
    pub forked_from_id: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&WorkflowRow> for WorkflowOut {
    fn from(w: &WorkflowRow) -> Self {
        WorkflowOut {
            id: w.id,
            name: w.name.clone(),
            slug: w.slug.clone(),
            description: w.description.clone(),
            is_active: w.is_active,
            is_public: w.is_public,
            is_default: w.is_default,
            tags: w.tags.as_ref().map(|t| t.0.clone()),
            error_handler_workflow_id: w.error_handler_workflow_id,
            max_execution_seconds: w.max_execution_seconds,
            input_schema: w.input_schema.as_ref().map(|j| j.0.clone()),
            output_schema: w.output_schema.as_ref().map(|j| j.0.clone()),
            node_count: w.node_count,
            edge_count: w.edge_count,
            owner_id: w.owner_id,
            forked_from_id: w.forked_from_id,
            created_at: iso(w.created_at),
            updated_at: iso(w.updated_at),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WorkflowDetailOut {
    #[serde(flatten)]
    pub workflow: WorkflowOut,
    pub nodes: Vec<NodeOut>,
    pub edges: Vec<EdgeOut>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SlugList {
    pub slugs: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ValidationOut {
    pub valid: bool,
    pub errors: Vec<String>,
}

// ---------- nodes ----------

/// `ComponentConfigData` as a request carries it: every key optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct ConfigIn {
    pub system_prompt: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub extra_config: Option<Map<String, Value>>,
    pub llm_credential_id: Option<i64>,
    pub model_name: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<i64>,
    pub frequency_penalty: Option<f64>,
    pub presence_penalty: Option<f64>,
    pub top_p: Option<f64>,
    pub timeout: Option<f64>,
    pub max_retries: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub response_format: Option<Value>,
    pub llm_model_config_id: Option<i64>,
    pub credential_id: Option<i64>,
    pub is_active: Option<bool>,
    pub priority: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub trigger_config: Option<Map<String, Value>>,
    /// Request only: stored as `extra_config.input_template`.
    pub input_template: Option<String>,
}

/// `ComponentConfigData` as stored and returned: every key present.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, ToSchema)]
pub struct ConfigOut {
    pub system_prompt: String,
    #[schema(value_type = Object)]
    pub extra_config: Map<String, Value>,
    pub llm_credential_id: Option<i64>,
    pub model_name: String,
    pub temperature: Option<f64>,
    pub max_tokens: Option<i64>,
    pub frequency_penalty: Option<f64>,
    pub presence_penalty: Option<f64>,
    pub top_p: Option<f64>,
    pub timeout: Option<f64>,
    pub max_retries: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub response_format: Option<Value>,
    pub llm_model_config_id: Option<i64>,
    pub credential_id: Option<i64>,
    pub is_active: bool,
    pub priority: i64,
    #[schema(value_type = Object)]
    pub trigger_config: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NodeIn {
    #[serde(default)]
    pub node_id: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    pub component_type: String,
    #[serde(default)]
    pub is_entry_point: bool,
    #[serde(default)]
    pub interrupt_before: bool,
    #[serde(default)]
    pub interrupt_after: bool,
    #[serde(default)]
    pub position_x: i64,
    #[serde(default)]
    pub position_y: i64,
    #[serde(default)]
    pub config: ConfigIn,
    #[serde(default)]
    pub subworkflow_id: Option<i64>,
    #[serde(default)]
    pub code_block_id: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct NodePatch {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub node_id: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub label: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub component_type: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub is_entry_point: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub interrupt_before: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub interrupt_after: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub position_x: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub position_y: Patch<i64>,
    /// Only the config keys present are applied.
    #[serde(default)]
    #[schema(value_type = Option<ConfigIn>)]
    pub config: Patch<Map<String, Value>>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub subworkflow_id: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub code_block_id: Patch<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct NodeOut {
    pub id: i64,
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
    pub code_block_id: Option<i64>,
    pub updated_at: String,
    #[schema(value_type = Option<Object>)]
    pub schedule_job: Option<Value>,
}

impl NodeOut {
    pub fn from_row(n: &NodeRow) -> Self {
        NodeOut {
            id: n.id,
            node_id: n.node_id.clone(),
            label: n.label.clone(),
            component_type: n.component_type.clone(),
            is_entry_point: n.is_entry_point,
            interrupt_before: n.interrupt_before,
            interrupt_after: n.interrupt_after,
            position_x: n.position_x,
            position_y: n.position_y,
            config: crate::nodes::config_out(&n.component_type, &n.config.0),
            subworkflow_id: n.subworkflow_id,
            code_block_id: n.code_block_id,
            updated_at: iso(n.updated_at),
            schedule_job: None,
        }
    }
}

// ---------- edges ----------

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct EdgeIn {
    pub source_node_id: String,
    #[serde(default)]
    pub target_node_id: String,
    #[serde(default = "direct")]
    pub edge_type: String,
    #[serde(default)]
    pub edge_label: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub condition_mapping: Option<Value>,
    #[serde(default)]
    pub condition_value: String,
    #[serde(default)]
    pub priority: i64,
}

fn direct() -> String {
    "direct".into()
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct EdgePatch {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub source_node_id: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub target_node_id: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub edge_type: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub edge_label: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub condition_mapping: Patch<Value>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub condition_value: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub priority: Patch<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct EdgeOut {
    pub id: i64,
    pub source_node_id: String,
    pub target_node_id: String,
    pub edge_type: String,
    pub edge_label: String,
    #[schema(value_type = Option<Object>)]
    pub condition_mapping: Option<Value>,
    pub condition_value: String,
    pub priority: i64,
}

impl From<&EdgeRow> for EdgeOut {
    fn from(e: &EdgeRow) -> Self {
        EdgeOut {
            id: e.id,
            source_node_id: e.source_node_id.clone(),
            target_node_id: e.target_node_id.clone(),
            edge_type: e.edge_type.clone(),
            edge_label: e.edge_label.clone(),
            condition_mapping: e.condition_mapping.as_ref().map(|j| j.0.clone()),
            condition_value: e.condition_value.clone(),
            priority: e.priority,
        }
    }
}

// ---------- executions ----------

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct ExecuteIn {
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub trigger_node_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ChatIn {
    pub text: String,
    #[serde(default)]
    pub trigger_node_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExecutionStarted {
    pub execution_id: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ExecutionOut {
    pub execution_id: String,
    pub workflow_slug: String,
    pub status: String,
    pub error_message: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub created_at: String,
    pub total_tokens: i64,
    pub total_input_tokens: i64,
    pub total_output_tokens: i64,
    pub total_cost_usd: f64,
    pub llm_calls: i64,
    pub tool_invocations: i64,
    pub parent_execution_id: Option<String>,
    pub parent_node_id: String,
    pub root_execution_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct LogOut {
    pub id: i64,
    pub node_id: String,
    /// `completed`, `failed` or `waiting`.
    pub status: String,
    #[schema(value_type = Option<Object>)]
    pub input: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
    pub error: String,
    pub error_code: String,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub duration_ms: i64,
    pub timestamp: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct PendingConfirmationOut {
    pub id: String,
    pub node_id: String,
    pub prompt: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExecutionDetailOut {
    #[serde(flatten)]
    pub execution: ExecutionOut,
    #[schema(value_type = Option<Object>)]
    pub final_output: Option<Value>,
    #[schema(value_type = Object)]
    pub trigger_payload: Value,
    pub logs: Vec<LogOut>,
    pub pending_confirmation: Option<PendingConfirmationOut>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExecutionStatusOut {
    pub execution_id: String,
    pub workflow: String,
    pub status: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub final_output: Option<Value>,
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ResumeIn {
    pub input: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ExecutionIdList {
    pub execution_ids: Vec<String>,
}

// ---------- credentials ----------

/// `POST /credentials/` (api.md §7). LLM `detail`: `provider_type` (`openai_compatible`
/// default, `anthropic`, `glm`), `api_key`, `base_url`, `organization_id`, `custom_headers`,
/// `pricing`. Tool `detail`: `tool_type` (`api` default; `searxng` with `config.url`), `config`,
/// `is_preferred`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CredentialIn {
    pub name: String,
    /// `llm` or `tool`.
    pub credential_type: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub detail: Option<Map<String, Value>>,
}

/// `PATCH /credentials/{id}/`: `detail` keys present are merged (a key set to `null` goes back
/// to its default); an `api_key` equal to the masked value leaves the stored key unchanged.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct CredentialPatch {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub detail: Patch<Map<String, Value>>,
}

/// A credential as read back: `detail.api_key` is always masked (first 4 + `****` + last 4, or
/// `****` when shorter than 8; `""` when there is none).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct CredentialOut {
    pub id: i64,
    pub name: String,
    pub credential_type: String,
    #[schema(value_type = Object)]
    pub detail: Value,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct IdList {
    pub ids: Vec<i64>,
}

/// `POST /credentials/{id}/test/`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct CredentialTestOut {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub detail: Option<Value>,
}

/// One item of `GET /credentials/{id}/models/`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ModelOut {
    pub id: String,
    pub name: String,
}
