//! The registry tools (tools.md §1–2): `create_epic`, `epic_status`, `update_epic`,
//! `search_epics`, `create_task`, `list_tasks`, `update_task`, `cancel_task`. They act as the
//! hosting workflow's owner on that owner's epics only (registry.md §11) through the same
//! service operations as the REST routes, and answer JSON text with `"success"`; a failure is
//! `{"success": false, "error": …}` and persisted nothing.
//!
//! Each successful call also reports what it touched ([`RegistryTouch`]): the agent charges its
//! later model calls to its active inline task or, without one, to the touched epic's overhead
//! (registry.md §12).

use super::{Tool, ToolCtx, ToolOutcome};
use agentry_core::Patch;
use agentry_core::page::PageRequest;
use agentry_core::registry::{EpicStatus, TaskStatus, parse_list};
use agentry_service::registry::{EpicIn, EpicPatch, Scope, TaskIn, TaskPatch};
use agentry_service::{ServiceError, Services};
use agentry_store::tasks::TaskFilter;
use serde_json::{Value, json};

/// The LLM-facing names this module serves.
pub const NAMES: &[&str] = &[
    "create_epic",
    "epic_status",
    "update_epic",
    "search_epics",
    "create_task",
    "list_tasks",
    "update_task",
    "cancel_task",
];

const MAX_TAGS: usize = 20;
const TOO_MANY_TAGS: &str = "Too many tags specified. Maximum is 20.";
const PRIORITY_RANGE: &str = "Priority must be between 1 and 5";
const EPIC_NOT_FOUND: &str = "Epic not found";
const TASK_NOT_FOUND: &str = "Task not found";

/// What a successful registry call means for the agent's inline-task cost.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryTouch {
    /// The epic the call worked on (the most recently touched epic takes the overhead).
    pub epic_id: Option<String>,
    pub active: ActiveTask,
}

/// A change to the agent's active inline task.
#[derive(Debug, Clone, PartialEq)]
pub enum ActiveTask {
    Keep,
    /// The call moved this task to `running`: it becomes the active one.
    Set(String),
    /// The call moved this task out of `running`: it stops being active if it was.
    Clear(String),
}

type Answer = Result<(Value, RegistryTouch), String>;

/// The description and JSON Schema of a registry tool (tools.md §1–2, verbatim).
pub fn schema(name: &str) -> Option<(&'static str, Value)> {
    let nullable_str = json!({"type": ["string", "null"]});
    let nullable_int = json!({"type": ["integer", "null"]});
    let nullable_num = json!({"type": ["number", "null"]});
    Some(match name {
        "create_epic" => (
            "Record a goal as an epic (status planning) to split into tasks.",
            json!({"type": "object", "required": ["title"], "properties": {
                "title": {"type": "string"},
                "description": {"type": "string", "default": ""},
                "tags": {"type": "string", "default": "", "description": "comma-separated"},
                "priority": {"type": "integer", "default": 2},
                "budget_tokens": {"type": ["integer", "null"], "default": null},
                "budget_usd": {"type": ["number", "null"], "default": null}}}),
        ),
        "epic_status" => (
            "An epic's status, progress, spend and tasks.",
            json!({"type": "object", "required": ["epic_id"], "properties": {
                "epic_id": {"type": "string"}}}),
        ),
        "update_epic" => (
            "Change an epic's status, title, description, priority, budgets or result summary.",
            json!({"type": "object", "required": ["epic_id"], "properties": {
                "epic_id": {"type": "string"},
                "status": nullable_str, "title": nullable_str, "description": nullable_str,
                "priority": nullable_int, "budget_tokens": nullable_int,
                "budget_usd": nullable_num, "result_summary": nullable_str}}),
        ),
        "search_epics" => (
            "Find earlier epics by text, tags and status, with their success rate and cost.",
            json!({"type": "object", "properties": {
                "query": {"type": "string", "default": ""},
                "tags": {"type": "string", "default": ""},
                "status": {"type": ["string", "null"], "default": null},
                "limit": {"type": "integer", "default": 10}}}),
        ),
        "create_task" => (
            "Add a task to an epic; it is blocked until the tasks it depends on complete.",
            json!({"type": "object", "required": ["epic_id", "title"], "properties": {
                "epic_id": {"type": "string"}, "title": {"type": "string"},
                "description": {"type": "string", "default": ""},
                "tags": {"type": "string", "default": ""},
                "depends_on": {"type": "string", "default": "",
                    "description": "comma-separated task ids"},
                "priority": {"type": "integer", "default": 2},
                "estimated_tokens": {"type": ["integer", "null"], "default": null},
                "max_retries": {"type": "integer", "default": 2}}}),
        ),
        "list_tasks" => (
            "List an epic's tasks, newest first.",
            json!({"type": "object", "required": ["epic_id"], "properties": {
                "epic_id": {"type": "string"},
                "status": {"type": ["string", "null"], "default": null},
                "tags": {"type": ["string", "null"], "default": null},
                "limit": {"type": "integer", "default": 20}}}),
        ),
        "update_task" => (
            "Change a task's status, title, description, priority, result or error, or append a note.",
            json!({"type": "object", "required": ["task_id"], "properties": {
                "task_id": {"type": "string"},
                "status": nullable_str, "title": nullable_str, "description": nullable_str,
                "priority": nullable_int, "result_summary": nullable_str,
                "error_message": nullable_str,
                "notes": {"type": ["string", "null"], "description": "one note appended"}}}),
        ),
        "cancel_task" => (
            "Cancel a task (and the execution working on it).",
            json!({"type": "object", "required": ["task_id"], "properties": {
                "task_id": {"type": "string"},
                "reason": {"type": "string", "default": ""}}}),
        ),
        _ => return None,
    })
}

/// Runs one registry tool call for the hosting workflow's owner.
pub(super) async fn call(tool: &Tool, args: &Value, ctx: &ToolCtx) -> ToolOutcome {
    let Some(owner) = ctx.owner_id else {
        return failure("the workflow has no owner".into());
    };
    let r = Registry {
        services: &ctx.services,
        scope: Scope::owner(owner),
        tool_node_id: &tool.node.node_id,
        workflow_id: ctx.workflow_id,
    };
    let answer = match tool.name {
        "create_epic" => r.create_epic(args).await,
        "epic_status" => r.epic_status(args).await,
        "update_epic" => r.update_epic(args).await,
        "search_epics" => r.search_epics(args).await,
        "create_task" => r.create_task(args).await,
        "list_tasks" => r.list_tasks(args).await,
        "update_task" => r.update_task(args).await,
        "cancel_task" => r.cancel_task(args).await,
        other => Err(format!("unknown registry tool '{other}'")),
    };
    match answer {
        Ok((mut body, touch)) => {
            body["success"] = json!(true);
            ToolOutcome::Registry {
                text: body.to_string(),
                touch,
            }
        }
        Err(e) => failure(e),
    }
}

fn failure(error: String) -> ToolOutcome {
    ToolOutcome::Text(json!({"success": false, "error": error}).to_string())
}

struct Registry<'a> {
    services: &'a Services,
    scope: Scope,
    tool_node_id: &'a str,
    workflow_id: i64,
}

impl Registry<'_> {
    async fn create_epic(&self, a: &Value) -> Answer {
        let priority = priority_arg(a, "priority")?.unwrap_or(2);
        let epic = self
            .services
            .create_epic(
                self.scope,
                EpicIn {
                    title: text(a, "title").unwrap_or_default(),
                    description: text(a, "description"),
                    tags: Some(list(a, "tags")?),
                    priority: Some(priority),
                    budget_tokens: int(a, "budget_tokens")?,
                    budget_usd: num(a, "budget_usd")?,
                    workflow_id: Some(self.workflow_id),
                    created_by_node_id: Some(self.tool_node_id.to_string()),
                },
            )
            .await
            .map_err(|e| message(e, EPIC_NOT_FOUND))?;
        Ok((
            json!({"epic_id": epic.id, "title": epic.title, "status": epic.status}),
            touch(&epic.id, ActiveTask::Keep),
        ))
    }

    async fn epic_status(&self, a: &Value) -> Answer {
        let id = text(a, "epic_id").unwrap_or_default();
        let not_found = |e| message(e, EPIC_NOT_FOUND);
        let epic = self
            .services
            .get_epic(self.scope, &id)
            .await
            .map_err(not_found)?;
        let progress = self
            .services
            .epic_progress(self.scope, &id)
            .await
            .map_err(not_found)?;
        let filter = TaskFilter {
            epic_id: Some(id.clone()),
            oldest_first: true,
            ..Default::default()
        };
        let tasks = self
            .services
            .list_tasks(self.scope, filter, all())
            .await
            .map_err(not_found)?;
        let p = &progress.progress;
        Ok((
            json!({
                "epic_id": epic.id, "title": epic.title, "status": epic.status,
                "priority": epic.priority, "total_tasks": epic.total_tasks,
                "completed_tasks": epic.completed_tasks, "failed_tasks": epic.failed_tasks,
                "spent_tokens": epic.spent_tokens, "spent_usd": epic.spent_usd,
                "budget_tokens": epic.budget_tokens, "budget_usd": epic.budget_usd,
                "progress": {"total": p.total, "pending": p.pending, "blocked": p.blocked,
                    "running": p.running, "completed": p.completed, "failed": p.failed,
                    "cancelled": p.cancelled},
                "tasks": tasks.items.iter()
                    .map(|t| json!({"id": t.id, "title": t.title, "status": t.status}))
                    .collect::<Vec<_>>(),
            }),
            touch(&epic.id, ActiveTask::Keep),
        ))
    }

    async fn update_epic(&self, a: &Value) -> Answer {
        let id = text(a, "epic_id").unwrap_or_default();
        self.services
            .get_epic(self.scope, &id)
            .await
            .map_err(|e| message(e, EPIC_NOT_FOUND))?;
        let priority = priority_arg(a, "priority")?;
        let status = text(a, "status");
        if let Some(s) = &status
            && EpicStatus::parse(s).is_none()
        {
            return Err(format!(
                "Invalid status. Must be one of: {}",
                sorted_choices(EpicStatus::ALL.iter().map(|s| s.as_str()))
            ));
        }
        let patch = EpicPatch {
            title: patch(text(a, "title")),
            description: patch(text(a, "description")),
            status: patch(status),
            priority: patch(priority),
            budget_tokens: patch(int(a, "budget_tokens")?),
            budget_usd: patch(num(a, "budget_usd")?),
            result_summary: patch(text(a, "result_summary")),
            tags: Patch::Absent,
        };
        let epic = self
            .services
            .patch_epic(self.scope, &id, patch)
            .await
            .map_err(|e| message(e, EPIC_NOT_FOUND))?;
        Ok((
            json!({"epic_id": epic.id, "status": epic.status}),
            touch(&epic.id, ActiveTask::Keep),
        ))
    }

    async fn search_epics(&self, a: &Value) -> Answer {
        let tags = list(a, "tags")?;
        if tags.len() > MAX_TAGS {
            return Err(TOO_MANY_TAGS.into());
        }
        let limit = int(a, "limit")?.unwrap_or(10);
        let epics = self
            .services
            .find_epics(
                self.scope,
                &text(a, "query").unwrap_or_default(),
                text(a, "status").filter(|s| !s.is_empty()),
                tags,
                limit,
            )
            .await
            .map_err(|e| message(e, EPIC_NOT_FOUND))?;
        let done = epics.iter().filter(|e| e.status == "completed").count();
        let failed = epics.iter().filter(|e| e.status == "failed").count();
        let success_rate = (done + failed > 0).then(|| done as f64 / (done + failed) as f64);
        let avg_cost = if epics.is_empty() {
            0.0
        } else {
            epics.iter().map(|e| e.spent_usd).sum::<f64>() / epics.len() as f64
        };
        let results: Vec<Value> = epics
            .iter()
            .map(|e| {
                json!({"epic_id": e.id, "title": e.title, "status": e.status, "tags": e.tags,
                    "success_rate": agentry_core::registry::success_rate(e.completed_tasks, e.failed_tasks),
                    "spent_usd": e.spent_usd, "total_tasks": e.total_tasks,
                    "completed_tasks": e.completed_tasks})
            })
            .collect();
        // A search touches no particular epic; the last one touched keeps the overhead.
        Ok((
            json!({"results": results, "success_rate": success_rate, "avg_cost": avg_cost}),
            RegistryTouch {
                epic_id: None,
                active: ActiveTask::Keep,
            },
        ))
    }

    async fn create_task(&self, a: &Value) -> Answer {
        let epic_id = text(a, "epic_id").unwrap_or_default();
        self.services
            .get_epic(self.scope, &epic_id)
            .await
            .map_err(|e| message(e, EPIC_NOT_FOUND))?;
        let priority = priority_arg(a, "priority")?.unwrap_or(2);
        let task = self
            .services
            .create_task(
                self.scope,
                TaskIn {
                    epic_id: epic_id.clone(),
                    title: text(a, "title").unwrap_or_default(),
                    description: text(a, "description"),
                    tags: Some(list(a, "tags")?),
                    depends_on: Some(list(a, "depends_on")?),
                    priority: Some(priority),
                    estimated_tokens: int(a, "estimated_tokens")?,
                    max_retries: Some(int(a, "max_retries")?.unwrap_or(2)),
                    created_by_node_id: Some(self.tool_node_id.to_string()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| message(e, EPIC_NOT_FOUND))?;
        Ok((
            json!({"task_id": task.id, "status": task.status}),
            touch(&epic_id, ActiveTask::Keep),
        ))
    }

    async fn list_tasks(&self, a: &Value) -> Answer {
        let epic_id = text(a, "epic_id").unwrap_or_default();
        self.services
            .get_epic(self.scope, &epic_id)
            .await
            .map_err(|e| message(e, EPIC_NOT_FOUND))?;
        let tags = list(a, "tags")?;
        if tags.len() > MAX_TAGS {
            return Err(TOO_MANY_TAGS.into());
        }
        let limit = int(a, "limit")?.unwrap_or(20).clamp(1, 100);
        let filter = TaskFilter {
            epic_id: Some(epic_id.clone()),
            status: text(a, "status").filter(|s| !s.is_empty()),
            tags: Some(tags).filter(|t| !t.is_empty()),
            ..Default::default()
        };
        let page = self
            .services
            .list_tasks(self.scope, filter, PageRequest { limit, offset: 0 })
            .await
            .map_err(|e| message(e, EPIC_NOT_FOUND))?;
        let tasks: Vec<Value> = page
            .items
            .iter()
            .map(|t| {
                json!({"id": t.id, "title": t.title, "status": t.status, "priority": t.priority,
                    "depends_on": t.depends_on, "execution_id": t.execution_id})
            })
            .collect();
        Ok((
            json!({"tasks": tasks, "total": page.total}),
            touch(&epic_id, ActiveTask::Keep),
        ))
    }

    async fn update_task(&self, a: &Value) -> Answer {
        let id = text(a, "task_id").unwrap_or_default();
        let current = self
            .services
            .get_task(self.scope, &id)
            .await
            .map_err(|e| message(e, TASK_NOT_FOUND))?;
        let priority = priority_arg(a, "priority")?;
        let status = text(a, "status");
        if let Some(s) = &status
            && TaskStatus::parse(s).is_none()
        {
            return Err(format!(
                "Invalid status. Must be one of: {}",
                sorted_choices(TaskStatus::ALL.iter().map(|s| s.as_str()))
            ));
        }
        let notes = match text(a, "notes") {
            Some(note) => {
                let mut all = current.notes.clone();
                all.push(Value::String(note));
                Patch::Value(all)
            }
            None => Patch::Absent,
        };
        let patch = TaskPatch {
            title: patch(text(a, "title")),
            description: patch(text(a, "description")),
            status: patch(status.clone()),
            priority: patch(priority),
            result_summary: patch(text(a, "result_summary")),
            error_message: patch(text(a, "error_message")),
            notes,
            ..Default::default()
        };
        let task = self
            .services
            .patch_task(self.scope, &id, patch)
            .await
            .map_err(|e| message(e, TASK_NOT_FOUND))?;
        let active = match status.as_deref() {
            None => ActiveTask::Keep,
            Some(_) if task.status == TaskStatus::Running.as_str() => {
                ActiveTask::Set(task.id.clone())
            }
            Some(_) => ActiveTask::Clear(task.id.clone()),
        };
        Ok((
            json!({"task_id": task.id, "status": task.status}),
            touch(&task.epic_id, active),
        ))
    }

    async fn cancel_task(&self, a: &Value) -> Answer {
        let id = text(a, "task_id").unwrap_or_default();
        let reason = text(a, "reason").unwrap_or_default();
        let done = self
            .services
            .cancel_task(self.scope, &id, Some(&reason))
            .await
            .map_err(|e| message(e, TASK_NOT_FOUND))?;
        Ok((
            json!({"task_id": done.task.id, "execution_cancelled": done.execution_cancelled}),
            touch(&done.task.epic_id, ActiveTask::Clear(done.task.id.clone())),
        ))
    }
}

fn touch(epic_id: &str, active: ActiveTask) -> RegistryTouch {
    RegistryTouch {
        epic_id: Some(epic_id.to_string()),
        active,
    }
}

/// Every row (an epic's task list in `epic_status`).
fn all() -> PageRequest {
    PageRequest {
        limit: 10_000,
        offset: 0,
    }
}

/// The service's error as the tool's text: "not found" in the tool's own wording (the REST
/// text ends with a period), everything else as the service words it.
fn message(e: ServiceError, not_found: &str) -> String {
    match e {
        ServiceError::NotFound(_) => not_found.to_string(),
        ServiceError::Internal(_) | ServiceError::Unavailable(_) => {
            tracing::warn!(error = %e, "registry tool failed");
            "The registry is unavailable right now; try again.".into()
        }
        other => other.to_string(),
    }
}

fn patch<T>(v: Option<T>) -> Patch<T> {
    match v {
        Some(v) => Patch::Value(v),
        None => Patch::Absent,
    }
}

fn sorted_choices<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut v: Vec<&str> = names.collect();
    v.sort_unstable();
    v.join(", ")
}

/// A string argument; `None` when absent or null (numbers as their JSON text).
fn text(a: &Value, key: &str) -> Option<String> {
    match a.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}

/// An integer argument; numbers given as text or as whole floats are accepted.
fn int(a: &Value, key: &str) -> Result<Option<i64>, String> {
    match a.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| format!("{key} must be an integer")),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("{key} must be an integer")),
        Some(_) => Err(format!("{key} must be an integer")),
    }
}

fn num(a: &Value, key: &str) -> Result<Option<f64>, String> {
    match a.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("{key} must be a number")),
        Some(_) => Err(format!("{key} must be a number")),
    }
}

/// A priority argument: outside 1..5 is the spec's first check.
fn priority_arg(a: &Value, key: &str) -> Result<Option<i64>, String> {
    match int(a, key) {
        Ok(Some(p)) if !(1..=5).contains(&p) => Err(PRIORITY_RANGE.into()),
        Ok(p) => Ok(p),
        Err(_) => Err(PRIORITY_RANGE.into()),
    }
}

fn list(a: &Value, key: &str) -> Result<Vec<String>, String> {
    parse_list(a.get(key).unwrap_or(&Value::Null)).map_err(|e| format!("{key} {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_has_a_schema_with_an_object_type() {
        for name in NAMES {
            let (desc, params) = schema(name).expect("schema");
            assert!(!desc.is_empty(), "{name}");
            assert_eq!(params["type"], "object", "{name}");
        }
        assert!(schema("nope").is_none());
    }

    #[test]
    fn priority_is_checked_first_and_in_range() {
        assert_eq!(priority_arg(&json!({}), "priority"), Ok(None));
        assert_eq!(
            priority_arg(&json!({"priority": 5}), "priority"),
            Ok(Some(5))
        );
        assert_eq!(
            priority_arg(&json!({"priority": "3"}), "priority"),
            Ok(Some(3))
        );
        assert_eq!(
            priority_arg(&json!({"priority": 0}), "priority"),
            Err(PRIORITY_RANGE.to_string())
        );
        assert_eq!(
            priority_arg(&json!({"priority": "high"}), "priority"),
            Err(PRIORITY_RANGE.to_string())
        );
    }

    #[test]
    fn status_choices_are_listed_alphabetically() {
        assert_eq!(
            sorted_choices(EpicStatus::ALL.iter().map(|s| s.as_str())),
            "active, cancelled, completed, failed, paused, planning"
        );
        assert_eq!(
            sorted_choices(TaskStatus::ALL.iter().map(|s| s.as_str())),
            "blocked, cancelled, completed, failed, pending, running"
        );
    }
}
