//! The task registry (registry.md; api.md §8, §9, §10): epics and tasks, their dependencies,
//! roll-ups, cancel cascades, retries, search, and the engine's sync from executions.
//!
//! Every operation takes a [`Scope`] instead of a `Caller`, so the same functions serve the
//! REST routes (`Scope::of(caller)`: admins see all) and the agent tools
//! (`Scope::owner(workflow owner)`: exactly that owner's epics, admin or not, registry.md §11).
//! Anything out of scope answers 404, is absent from lists and skipped by batch deletes.
//!
//! Write discipline (one rule, everywhere): a change runs in one transaction that first locks
//! the epic row (`epics::lock`), changes task rows, re-evaluates blocked dependents, recounts
//! the epic from its tasks, and queues the events; they are published after the commit. When a
//! linked execution must be cancelled too, that happens **before** the epic lock, so the lock
//! order is always execution → epic, the order the engine's sync (run while it finishes an
//! execution) takes them in; PostgreSQL never sees the two waiting on each other.

mod dto;
mod epics;
mod sync;
mod tasks;

pub use dto::*;
pub use sync::{
    add_epic_overhead_in, add_task_usage_in, budget_check_in, charge_agent_call_in,
    gate_over_budget, link_task_in, sync_task_from_execution,
};

use crate::{Caller, ServiceError, ServiceResult};
use agentry_core::registry::{PRIORITY_MAX, PRIORITY_MIN};
use agentry_store::epics::{self as epic_store, EpicRow};
use agentry_store::tasks::TaskRow;
use agentry_store::{NewEvent, Tx, now_ms};

pub const EPIC_NOT_FOUND: &str = "Epic not found.";
pub const TASK_NOT_FOUND: &str = "Task not found.";
/// Titles are at most this many characters (registry.md §1-2).
pub const TITLE_MAX: usize = 255;

/// Whose epics an operation may see and change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    pub user_id: i64,
    /// Sees and changes every epic.
    pub is_admin: bool,
}

impl Scope {
    /// A REST caller: their own epics, or all of them for an admin.
    pub fn of(caller: &Caller) -> Scope {
        Scope {
            user_id: caller.user_id,
            is_admin: caller.is_admin(),
        }
    }

    /// An agent tool acting for the hosting workflow's owner: only that owner's epics.
    pub fn owner(user_id: i64) -> Scope {
        Scope {
            user_id,
            is_admin: false,
        }
    }

    pub fn sees(&self, owner: Option<i64>) -> bool {
        self.is_admin || owner == Some(self.user_id)
    }

    /// Owner filter for list queries (`None`: everyone's).
    pub fn owner_filter(&self) -> Option<i64> {
        if self.is_admin {
            None
        } else {
            Some(self.user_id)
        }
    }
}

pub(crate) fn epic_not_found() -> ServiceError {
    ServiceError::NotFound(EPIC_NOT_FOUND.into())
}

pub(crate) fn task_not_found() -> ServiceError {
    ServiceError::NotFound(TASK_NOT_FOUND.into())
}

/// `epic:{id}`: where every event of an epic and its tasks goes.
pub fn channel(epic_id: &str) -> String {
    format!("epic:{epic_id}")
}

fn to_value<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

pub(crate) fn emit_epic(tx: &mut Tx, kind: &str, e: &EpicRow) {
    tx.emit(NewEvent::new(
        channel(&e.id),
        kind,
        to_value(&EpicOut::from(e)),
    ));
}

pub(crate) fn emit_task(tx: &mut Tx, kind: &str, t: &TaskRow) {
    tx.emit(NewEvent::new(
        channel(&t.epic_id),
        kind,
        to_value(&TaskOut::from(t)),
    ));
}

/// Recounts the epic (registry.md §5) and announces `epic_updated` when its counters or spend
/// changed.
pub(crate) async fn recount_and_announce(tx: &mut Tx, epic_id: &str) -> ServiceResult<()> {
    if epic_store::recount(tx, epic_id, now_ms()).await?
        && let Some(e) = epic_store::get_in(tx, epic_id).await?
    {
        emit_epic(tx, "epic_updated", &e);
    }
    Ok(())
}

pub(crate) fn check_title(title: &str) -> ServiceResult<String> {
    let title = title.trim();
    if title.is_empty() {
        return Err(ServiceError::invalid("title", "must not be empty"));
    }
    if title.chars().count() > TITLE_MAX {
        return Err(ServiceError::invalid(
            "title",
            format!("must be at most {TITLE_MAX} characters"),
        ));
    }
    Ok(title.to_string())
}

pub(crate) fn check_priority(priority: i64) -> ServiceResult<i64> {
    if (PRIORITY_MIN..=PRIORITY_MAX).contains(&priority) {
        Ok(priority)
    } else {
        Err(ServiceError::invalid(
            "priority",
            format!("must be an integer from {PRIORITY_MIN} to {PRIORITY_MAX}"),
        ))
    }
}

pub(crate) fn check_tags(tags: &[String]) -> ServiceResult<()> {
    if tags.len() > 50 {
        return Err(ServiceError::invalid("tags", "at most 50 tags"));
    }
    if tags.iter().any(|t| t.chars().count() > 100) {
        return Err(ServiceError::invalid(
            "tags",
            "each tag must be at most 100 characters",
        ));
    }
    Ok(())
}

pub(crate) fn check_non_negative(field: &str, value: Option<f64>) -> ServiceResult<()> {
    match value {
        Some(v) if v < 0.0 || !v.is_finite() => Err(ServiceError::invalid(
            field,
            "must be a number greater than or equal to 0",
        )),
        _ => Ok(()),
    }
}

/// Search `limit`: default 20, clamped to 1..100 (like page limits, out-of-range acts as the
/// nearest bound rather than failing).
pub(crate) fn search_limit(limit: Option<i64>) -> i64 {
    limit.unwrap_or(20).clamp(1, 100)
}
