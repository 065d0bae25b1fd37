//! The registry's JSON shapes (api.md §8, §9, registry.md §12): `EpicOut` and `TaskOut` with
//! exactly the contract's fields, the create/patch bodies, search and progress answers.

use agentry_core::Patch;
use agentry_core::registry::success_rate;
use agentry_core::time::iso;
use agentry_store::epics::EpicRow;
use agentry_store::tasks::TaskRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// An epic (api.md §8): exactly these fields.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct EpicOut {
    pub id: String,
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub created_by_node_id: Option<String>,
    pub workflow_id: Option<i64>,
    pub user_profile_id: Option<i64>,
    pub status: String,
    pub priority: i64,
    pub budget_tokens: Option<i64>,
    pub budget_usd: Option<f64>,
    pub spent_tokens: i64,
    pub spent_usd: f64,
    pub agent_overhead_tokens: i64,
    pub agent_overhead_usd: f64,
    pub total_tasks: i64,
    pub completed_tasks: i64,
    pub failed_tasks: i64,
    pub created_at: String,
    pub updated_at: String,
    pub completed_at: Option<String>,
    pub result_summary: Option<String>,
}

impl From<&EpicRow> for EpicOut {
    fn from(r: &EpicRow) -> Self {
        EpicOut {
            id: r.id.clone(),
            title: r.title.clone(),
            description: r.description.clone(),
            tags: r.tags.0.clone(),
            created_by_node_id: r.created_by_node_id.clone(),
            workflow_id: r.workflow_id,
            user_profile_id: r.user_profile_id,
            status: r.status.clone(),
            priority: r.priority,
            budget_tokens: r.budget_tokens,
            budget_usd: r.budget_usd,
            spent_tokens: r.spent_tokens,
            spent_usd: r.spent_usd,
            agent_overhead_tokens: r.agent_overhead_tokens,
            agent_overhead_usd: r.agent_overhead_usd,
            total_tasks: r.total_tasks,
            completed_tasks: r.completed_tasks,
            failed_tasks: r.failed_tasks,
            created_at: iso(r.created_at),
            updated_at: iso(r.updated_at),
            completed_at: r.completed_at.map(iso),
            result_summary: r.result_summary.clone(),
        }
    }
}

/// A task (api.md §9): exactly these fields.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct TaskOut {
    pub id: String,
    pub epic_id: String,
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub created_by_node_id: Option<String>,
    pub status: String,
    pub priority: i64,
    pub workflow_id: Option<i64>,
    pub workflow_slug: Option<String>,
    pub execution_id: Option<String>,
    pub workflow_source: String,
    pub depends_on: Vec<String>,
    #[schema(value_type = Option<Object>)]
    pub requirements: Option<Value>,
    pub estimated_tokens: Option<i64>,
    pub actual_tokens: i64,
    pub actual_usd: f64,
    pub llm_calls: i64,
    pub tool_invocations: i64,
    pub duration_ms: i64,
    pub created_at: String,
    pub updated_at: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub result_summary: Option<String>,
    pub error_message: Option<String>,
    pub retry_count: i64,
    pub max_retries: i64,
    #[schema(value_type = Vec<Object>)]
    pub notes: Vec<Value>,
}

impl From<&TaskRow> for TaskOut {
    fn from(r: &TaskRow) -> Self {
        TaskOut {
            id: r.id.clone(),
            epic_id: r.epic_id.clone(),
            title: r.title.clone(),
            description: r.description.clone(),
            tags: r.tags.0.clone(),
            created_by_node_id: r.created_by_node_id.clone(),
            status: r.status.clone(),
            priority: r.priority,
            workflow_id: r.workflow_id,
            workflow_slug: r.workflow_slug.clone(),
            execution_id: r.execution_id.clone(),
            workflow_source: r.workflow_source.clone(),
            depends_on: r.depends_on.0.clone(),
            requirements: r.requirements.as_ref().map(|j| j.0.clone()),
            estimated_tokens: r.estimated_tokens,
            actual_tokens: r.actual_tokens,
            actual_usd: r.actual_usd,
            llm_calls: r.llm_calls,
            tool_invocations: r.tool_invocations,
            duration_ms: r.duration_ms,
            created_at: iso(r.created_at),
            updated_at: iso(r.updated_at),
            started_at: r.started_at.map(iso),
            completed_at: r.completed_at.map(iso),
            result_summary: r.result_summary.clone(),
            error_message: r.error_message.clone(),
            retry_count: r.retry_count,
            max_retries: r.max_retries,
            notes: r.notes.0.clone(),
        }
    }
}

/// `POST /epics/`. `created_by_node_id` is set only by the agent tools.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct EpicIn {
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// 1 (highest) … 5; default 2.
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    pub budget_tokens: Option<i64>,
    #[serde(default)]
    pub budget_usd: Option<f64>,
    #[serde(default)]
    pub workflow_id: Option<i64>,
    #[serde(skip)]
    pub created_by_node_id: Option<String>,
}

/// `PATCH /epics/{id}/`: only keys present are applied.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct EpicPatch {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub title: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub tags: Patch<Vec<String>>,
    /// `planning|active|paused|completed|failed|cancelled`; `cancelled` cascades to tasks.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub status: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub priority: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub budget_tokens: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub budget_usd: Patch<f64>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub result_summary: Patch<String>,
}

/// `POST /tasks/`. `created_by_node_id` is set only by the agent tools.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct TaskIn {
    pub epic_id: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Ids of tasks of the same epic; duplicates are dropped.
    #[serde(default)]
    pub depends_on: Option<Vec<String>>,
    /// 1 (highest) … 5; null → 2.
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    pub workflow_slug: Option<String>,
    #[serde(default)]
    pub estimated_tokens: Option<i64>,
    /// Default 2.
    #[serde(default)]
    pub max_retries: Option<i64>,
    /// An object or null.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub requirements: Option<Value>,
    #[serde(skip)]
    pub created_by_node_id: Option<String>,
}

/// `PATCH /tasks/{id}/`: only keys present are applied; `notes` replaces the array;
/// `depends_on` is refused (422).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct TaskPatch {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub title: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub tags: Patch<Vec<String>>,
    /// `pending|blocked|running|completed|failed|cancelled`; `failed → pending` is a retry.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub status: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub priority: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub workflow_slug: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub execution_id: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub result_summary: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub error_message: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub notes: Patch<Vec<Value>>,
    /// Never accepted: present → 422.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub depends_on: Patch<Value>,
}

/// `POST /tasks/{id}/cancel/` (body optional).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct TaskCancelIn {
    #[serde(default)]
    pub reason: Option<String>,
}

/// What a task cancel did (the tool reports `execution_cancelled`).
#[derive(Debug, Clone, PartialEq)]
pub struct CancelOutcome {
    pub task: TaskOut,
    pub execution_cancelled: bool,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct EpicIdList {
    pub epic_ids: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct TaskIdList {
    pub task_ids: Vec<String>,
}

/// `POST /epics/search/`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct EpicSearchIn {
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub status: Option<String>,
    /// Default 20; clamped to 1..100.
    #[serde(default)]
    pub limit: Option<i64>,
}

/// One epic search hit: EpicOut + `score` + `success_rate`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct EpicSearchItem {
    #[serde(flatten)]
    pub epic: EpicOut,
    /// Relevance; higher is better; only its order is meaningful (0 without a query).
    pub score: f64,
    /// `completed_tasks / (completed_tasks + failed_tasks)`, or null.
    pub success_rate: Option<f64>,
}

impl EpicSearchItem {
    pub fn new(r: &EpicRow, score: f64) -> Self {
        EpicSearchItem {
            epic: EpicOut::from(r),
            score,
            success_rate: success_rate(r.completed_tasks, r.failed_tasks),
        }
    }
}

/// `POST /tasks/search/`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct TaskSearchIn {
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub epic_id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Default 20; clamped to 1..100.
    #[serde(default)]
    pub limit: Option<i64>,
}

/// One task search hit: TaskOut + `score`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct TaskSearchItem {
    #[serde(flatten)]
    pub task: TaskOut,
    pub score: f64,
}

/// `GET /epics/{id}/progress/`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct EpicProgressOut {
    pub progress: ProgressCounts,
    pub cost: ProgressCost,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ProgressCounts {
    pub total: i64,
    pub completed: i64,
    pub running: i64,
    pub failed: i64,
    pub blocked: i64,
    pub pending: i64,
    pub cancelled: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ProgressCost {
    pub spent_tokens: i64,
    pub spent_usd: f64,
    pub budget_tokens: Option<i64>,
    pub budget_usd: Option<f64>,
    pub agent_overhead_tokens: i64,
    pub agent_overhead_usd: f64,
}
