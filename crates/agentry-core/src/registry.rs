//! The task registry's pure rules (registry.md): epic and task statuses with their transition
//! tables (§3), dependency evaluation and de-duplication (§4), list-valued inputs (tools.md §8),
//! budget messages (§8), the procedural-memory value of a completed epic (§9), and the words a
//! full-text query is made of (§12).
//!
//! Every message here is contract text: REST answers and tool errors quote it verbatim.

use serde_json::{Value, json};
use std::fmt;

/// Priority bounds for epics and tasks (1 = highest … 5 = lowest).
pub const PRIORITY_MIN: i64 = 1;
pub const PRIORITY_MAX: i64 = 5;
pub const DEFAULT_PRIORITY: i64 = 2;
pub const DEFAULT_MAX_RETRIES: i64 = 2;
/// Engine sync keeps at most this many characters of a result or an error (§5).
pub const SYNC_TEXT_MAX: usize = 500;

pub const DEPS_MISSING: &str = "One or more dependencies do not exist";
pub const DEPENDS_ON_IMMUTABLE: &str = "depends_on cannot be changed after creation";
pub const ONLY_FAILED_RETRY: &str = "Only failed tasks can be retried";
pub const RETRY_LIMIT: &str = "Retry limit reached";
pub const ALREADY_COMPLETED: &str = "Task already completed";
pub const ALREADY_CANCELLED: &str = "Task already cancelled";

/// `Invalid status transition: {from} -> {to}` (§3).
pub fn transition_error(from: &str, to: &str) -> String {
    format!("Invalid status transition: {from} -> {to}")
}

macro_rules! status_enum {
    ($name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }

            /// `a, b, c` for "must be one of" messages.
            pub fn choices() -> String {
                Self::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

status_enum!(EpicStatus {
    Planning = "planning",
    Active = "active",
    Paused = "paused",
    Completed = "completed",
    Failed = "failed",
    Cancelled = "cancelled",
});

status_enum!(TaskStatus {
    Pending = "pending",
    Blocked = "blocked",
    Running = "running",
    Completed = "completed",
    Failed = "failed",
    Cancelled = "cancelled",
});

impl EpicStatus {
    /// `completed`, `failed`, `cancelled`: `completed_at` is set while the epic is in one.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            EpicStatus::Completed | EpicStatus::Failed | EpicStatus::Cancelled
        )
    }
}

impl TaskStatus {
    /// `completed`, `failed`, `cancelled` set `completed_at` (agentry improvement, §2).
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled
        )
    }

    /// Statuses an epic cancel or a task cancel moves to `cancelled` (§6).
    pub fn is_cancellable_by_epic(self) -> bool {
        matches!(
            self,
            TaskStatus::Pending | TaskStatus::Blocked | TaskStatus::Running
        )
    }
}

/// §3 task table. The same status again is a no-op success. `failed → pending` is allowed here;
/// the caller runs it as a retry (§7).
pub fn check_task_transition(from: TaskStatus, to: TaskStatus) -> Result<(), String> {
    use TaskStatus::*;
    let ok = from == to
        || match from {
            Pending => matches!(to, Running | Completed | Failed | Cancelled | Blocked),
            Blocked => matches!(to, Cancelled),
            Running => matches!(to, Completed | Failed | Cancelled | Pending),
            Failed => matches!(to, Pending | Cancelled),
            Completed | Cancelled => false,
        };
    if ok {
        Ok(())
    } else {
        Err(transition_error(from.as_str(), to.as_str()))
    }
}

/// §3 epic table. The same status again is a no-op success.
pub fn check_epic_transition(from: EpicStatus, to: EpicStatus) -> Result<(), String> {
    use EpicStatus::*;
    let ok = from == to
        || match from {
            Planning => true,
            Active => matches!(to, Paused | Completed | Failed | Cancelled),
            Paused => matches!(to, Active | Failed | Cancelled),
            Completed | Failed | Cancelled => false,
        };
    if ok {
        Ok(())
    } else {
        Err(transition_error(from.as_str(), to.as_str()))
    }
}

/// §4: de-duplicates ids keeping first-seen order (a duplicate would otherwise keep a task
/// blocked forever).
pub fn dedup_ids(ids: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in ids {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// §4: a task is `blocked` iff not every listed dependency is `completed`; else `pending`.
pub fn status_for_deps<'a>(
    deps: &'a [String],
    is_completed: impl Fn(&'a str) -> bool,
) -> TaskStatus {
    if deps.iter().all(|d| is_completed(d)) {
        TaskStatus::Pending
    } else {
        TaskStatus::Blocked
    }
}

/// tools.md §8: a list-valued input is a JSON array of strings, or a string that is either a
/// JSON array of strings or a comma-separated list (items trimmed, empties dropped).
pub fn parse_list(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::Null => Ok(vec![]),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| "must be a list of strings".to_string())
            })
            .collect(),
        Value::String(text) => {
            if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(text.trim())
                && items.iter().all(Value::is_string)
            {
                return parse_list(&Value::Array(items));
            }
            Ok(text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect())
        }
        _ => Err("must be a list of strings or a string".to_string()),
    }
}

/// What an epic allows and has spent (§8).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Budget {
    pub budget_tokens: Option<i64>,
    pub budget_usd: Option<f64>,
    pub spent_tokens: i64,
    pub spent_usd: f64,
}

/// §8: the failure message when the execution's usage so far (`tokens`, `usd`) on top of the
/// epic's spend goes strictly over a budget; tokens are checked first. `None`: within budget.
pub fn budget_exceeded(b: &Budget, tokens: i64, usd: f64) -> Option<String> {
    if let Some(limit) = b.budget_tokens {
        let total = b.spent_tokens.saturating_add(tokens);
        if total > limit {
            return Some(format!(
                "Epic budget exceeded: {total} tokens used (budget: {limit} tokens)"
            ));
        }
    }
    if let Some(limit) = b.budget_usd {
        let total = b.spent_usd + usd;
        if total > limit {
            return Some(format!(
                "Epic budget exceeded: ${total:.4} spent (budget: ${limit:.4})"
            ));
        }
    }
    None
}

/// What §9's procedural memory is made from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EpicOutcome<'a> {
    pub title: &'a str,
    pub tags: &'a [String],
    pub workflow_ids: Vec<i64>,
    pub workflow_slugs: Vec<String>,
    pub total_tasks: i64,
    pub completed_tasks: i64,
    pub spent_usd: f64,
    pub created_at: i64,
    pub completed_at: i64,
}

/// §9: the value stored under `procedure:{epic_id}`. Workflow ids and slugs are distinct, in
/// first-seen order. With no tasks, `success_rate` is 0.0 (nothing succeeded).
pub fn procedure_value(o: &EpicOutcome<'_>) -> Value {
    let mut ids: Vec<i64> = vec![];
    for id in &o.workflow_ids {
        if !ids.contains(id) {
            ids.push(*id);
        }
    }
    let slugs = dedup_ids(o.workflow_slugs.iter().cloned());
    let success_rate = if o.total_tasks > 0 {
        o.completed_tasks as f64 / o.total_tasks as f64
    } else {
        0.0
    };
    json!({
        "goal": o.title,
        "tags": o.tags,
        "workflow_ids": ids,
        "workflow_slugs": slugs,
        "success_rate": success_rate,
        "avg_cost_usd": o.spent_usd / o.total_tasks.max(1) as f64,
        "duration_ms": (o.completed_at - o.created_at).max(0),
    })
}

/// The key of an epic's procedural memory.
pub fn procedure_key(epic_id: &str) -> String {
    format!("procedure:{epic_id}")
}

/// The words of a full-text query: runs of letters and digits, lowercased, distinct, at most
/// 32. Only these reach the FTS engines (quoted on SQLite, OR-ed on PostgreSQL), so query
/// syntax typed by a user can never be an FTS syntax error.
pub fn fts_terms(query: &str) -> Vec<String> {
    let words = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase);
    let mut out = dedup_ids(words);
    out.truncate(32);
    out
}

/// Rounds a dollar amount to the 6 decimals the contract stores (decimal(12,6)).
pub fn round_usd(usd: f64) -> f64 {
    (usd * 1_000_000.0).round() / 1_000_000.0
}

/// At most `max` characters of `text` (§5's 500-character fields).
pub fn truncate_chars(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// `completed / (completed + failed)` or `None` when neither (§10, §12 search items).
pub fn success_rate(completed: i64, failed: i64) -> Option<f64> {
    let denominator = completed + failed;
    (denominator > 0).then(|| completed as f64 / denominator as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn task_table() {
        use TaskStatus::*;
        let allowed = [
            (
                Pending,
                vec![Running, Completed, Failed, Cancelled, Blocked],
            ),
            (Blocked, vec![Cancelled]),
            (Running, vec![Completed, Failed, Cancelled, Pending]),
            (Failed, vec![Pending, Cancelled]),
            (Completed, vec![]),
            (Cancelled, vec![]),
        ];
        for (from, tos) in allowed {
            for &to in TaskStatus::ALL {
                let expect = from == to || tos.contains(&to);
                assert_eq!(
                    check_task_transition(from, to).is_ok(),
                    expect,
                    "{from} -> {to}"
                );
            }
        }
        assert_eq!(
            check_task_transition(Completed, Pending),
            Err("Invalid status transition: completed -> pending".to_string())
        );
    }

    #[test]
    fn epic_table() {
        use EpicStatus::*;
        for &to in EpicStatus::ALL {
            assert!(check_epic_transition(Planning, to).is_ok());
            assert_eq!(
                check_epic_transition(Completed, to).is_ok(),
                to == Completed
            );
        }
        assert!(check_epic_transition(Active, Paused).is_ok());
        assert!(check_epic_transition(Paused, Active).is_ok());
        assert_eq!(
            check_epic_transition(Paused, Completed),
            Err("Invalid status transition: paused -> completed".into())
        );
        assert!(check_epic_transition(Active, Planning).is_err());
    }

    #[test]
    fn statuses_round_trip() {
        for s in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(s.as_str()), Some(*s));
        }
        for s in EpicStatus::ALL {
            assert_eq!(EpicStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(TaskStatus::parse("done"), None);
        assert_eq!(
            EpicStatus::choices(),
            "planning, active, paused, completed, failed, cancelled"
        );
    }

    #[test]
    fn deps_dedup_and_block() {
        let deps = dedup_ids(["a", "b", "a", "c", "b"].map(String::from));
        assert_eq!(deps, vec!["a", "b", "c"]);
        assert_eq!(status_for_deps(&deps, |_| true), TaskStatus::Pending);
        assert_eq!(status_for_deps(&deps, |d| d != "c"), TaskStatus::Blocked);
        assert_eq!(status_for_deps(&[], |_| false), TaskStatus::Pending);
    }

    #[test]
    fn lists_parse_every_form() {
        assert_eq!(
            parse_list(&json!(["a", "b"])),
            Ok(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            parse_list(&json!("a, b,,c ")),
            Ok(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(
            parse_list(&json!("[\"x,y\", \"z\"]")),
            Ok(vec!["x,y".into(), "z".into()])
        );
        assert_eq!(parse_list(&json!("")), Ok(vec![]));
        assert_eq!(parse_list(&Value::Null), Ok(vec![]));
        assert!(parse_list(&json!([1])).is_err());
        assert!(parse_list(&json!(5)).is_err());
        // A JSON array with non-strings is just text.
        assert_eq!(
            parse_list(&json!("[1, 2]")),
            Ok(vec!["[1".into(), "2]".into()])
        );
    }

    #[test]
    fn budget_messages() {
        let b = Budget {
            budget_tokens: Some(1000),
            budget_usd: Some(0.5),
            spent_tokens: 900,
            spent_usd: 0.25,
        };
        assert_eq!(budget_exceeded(&b, 100, 0.0), None, "strict >");
        assert_eq!(
            budget_exceeded(&b, 101, 0.0).as_deref(),
            Some("Epic budget exceeded: 1001 tokens used (budget: 1000 tokens)")
        );
        assert_eq!(
            budget_exceeded(&b, 0, 0.3).as_deref(),
            Some("Epic budget exceeded: $0.5500 spent (budget: $0.5000)")
        );
        let zero = Budget {
            budget_tokens: Some(0),
            ..Default::default()
        };
        assert!(
            budget_exceeded(&zero, 1, 0.0).is_some(),
            "0 is a real limit"
        );
        assert_eq!(budget_exceeded(&Budget::default(), i64::MAX, 1e9), None);
    }

    #[test]
    fn procedure_value_shape() {
        let tags = vec!["ops".to_string()];
        let v = procedure_value(&EpicOutcome {
            title: "Ship it",
            tags: &tags,
            workflow_ids: vec![3, 4, 3],
            workflow_slugs: vec!["build".into(), "deploy".into(), "build".into()],
            total_tasks: 4,
            completed_tasks: 3,
            spent_usd: 2.0,
            created_at: 1_000,
            completed_at: 6_000,
        });
        assert_eq!(
            v,
            json!({"goal": "Ship it", "tags": ["ops"], "workflow_ids": [3, 4],
                   "workflow_slugs": ["build", "deploy"], "success_rate": 0.75,
                   "avg_cost_usd": 0.5, "duration_ms": 5000})
        );
        let empty = procedure_value(&EpicOutcome::default());
        assert_eq!(empty["success_rate"], json!(0.0));
        assert_eq!(empty["avg_cost_usd"], json!(0.0));
    }

    #[test]
    fn fts_terms_are_plain_words() {
        assert_eq!(
            fts_terms("Deploy the \"API\" OR NEAR(x*) deploy-api"),
            vec!["deploy", "the", "api", "or", "near", "x"]
        );
        assert!(fts_terms(" ?!* ").is_empty());
        assert_eq!(success_rate(3, 1), Some(0.75));
        assert_eq!(success_rate(0, 0), None);
        assert_eq!(round_usd(0.1 + 0.2), 0.3);
    }

    fn any_task_status() -> impl Strategy<Value = TaskStatus> {
        proptest::sample::select(TaskStatus::ALL.to_vec())
    }

    proptest! {
        /// Terminal task statuses never move, and every refusal names both states.
        #[test]
        fn terminal_tasks_stay(from in any_task_status(), to in any_task_status()) {
            match check_task_transition(from, to) {
                Ok(()) => prop_assert!(
                    from == to || !matches!(from, TaskStatus::Completed | TaskStatus::Cancelled)
                ),
                Err(m) => prop_assert_eq!(
                    m, format!("Invalid status transition: {from} -> {to}")
                ),
            }
        }

        /// De-duplication keeps first-seen order and every distinct id exactly once.
        #[test]
        fn dedup_is_stable(ids in proptest::collection::vec("[a-d]", 0..12)) {
            let out = dedup_ids(ids.clone());
            let mut seen = std::collections::HashSet::new();
            let expected: Vec<String> = ids.into_iter().filter(|i| seen.insert(i.clone())).collect();
            prop_assert_eq!(out, expected);
        }

        /// Any string parses as a list, and comma lists never yield empty items.
        #[test]
        fn string_lists_never_fail(text in ".{0,40}") {
            let items = parse_list(&Value::String(text));
            prop_assert!(items.is_ok());
        }
    }
}
