//! Schedule triggers (engine.md §11): each active `trigger_schedule` node has one delayed job
//! for its next fire. A fire starts an execution as the owner (skipped while the trigger's
//! previous execution is pending or running) and queues the next fire. Editing the node queues
//! a fresh job; older jobs see a different node version and drop themselves. After downtime an
//! overdue job runs once and the next fire counts from then, so missed fires run once.

use crate::executions::{Origin, create_in};
use crate::{ServiceError, ServiceResult};
use agentry_core::schedule::Schedule;
use agentry_core::time::iso;
use agentry_store::jobs::{self, NewJob};
use agentry_store::nodes::NodeRow;
use agentry_store::{Tx, executions, nodes, now_ms, workflows};
use serde_json::{Value, json};

pub const JOB_KIND: &str = "schedule";

/// The node's schedule, or a 422 naming the field.
pub fn check(node_config: &Value) -> ServiceResult<Schedule> {
    let tc = node_config
        .get("trigger_config")
        .cloned()
        .unwrap_or(Value::Null);
    Schedule::from_config(&tc).map_err(|e| ServiceError::invalid("config.trigger_config", e))
}

/// Queues the next fire of a schedule trigger node (call after creating or changing it).
pub async fn arm_in(tx: &mut Tx, workflow_id: i64, node: &NodeRow) -> ServiceResult<()> {
    if node.component_type != "trigger_schedule" {
        return Ok(());
    }
    let tc = node.config.0.get("trigger_config");
    let configured =
        tc.is_some_and(|c| c.get("interval_seconds").is_some() || c.get("cron").is_some());
    if !configured {
        return Ok(()); // not scheduled yet (a node created first, configured later)
    }
    let schedule = check(&node.config.0)?;
    let Some(run_at) = schedule.next_after(now_ms()) else {
        return Ok(());
    };
    let payload =
        json!({"workflow_id": workflow_id, "node_id": node.node_id, "version": node.updated_at});
    jobs::enqueue(
        tx,
        NewJob {
            kind: JOB_KIND,
            execution_id: None,
            node_id: &node.node_id,
            payload,
            run_at,
        },
    )
    .await?;
    Ok(())
}

/// Handles one fire (the caller owns the job and the transaction).
pub async fn fire_in(tx: &mut Tx, payload: &Value, fire_at: i64) -> ServiceResult<Option<String>> {
    let workflow_id = payload
        .get("workflow_id")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let node_id = payload.get("node_id").and_then(Value::as_str).unwrap_or("");
    let version = payload.get("version").and_then(Value::as_i64).unwrap_or(0);
    let Some(w) = workflows::get_in(tx, workflow_id).await? else {
        return Ok(None);
    };
    // Locked, so an edit committed while this fire runs cannot be missed by it.
    let Some(node) = nodes::get_for_update_in(tx, workflow_id, node_id).await? else {
        return Ok(None);
    };
    if node.updated_at != version || node.component_type != "trigger_schedule" {
        return Ok(None); // the node changed: a newer job carries its schedule
    }
    let Ok(schedule) = check(&node.config.0) else {
        return Ok(None);
    };
    let active = node.config.0.get("is_active").and_then(Value::as_bool) != Some(false);
    let mut started = None;
    if w.is_active && active && !executions::active_for_trigger(tx, w.id, node_id).await? {
        let tc = node
            .config
            .0
            .get("trigger_config")
            .cloned()
            .unwrap_or(Value::Null);
        let text = tc.get("text").and_then(Value::as_str).unwrap_or("");
        let extra = tc
            .get("payload")
            .cloned()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        let origin = Origin {
            trigger_node_id: Some(node_id),
            payload: json!({"text": text, "timestamp": iso(fire_at), "payload": extra}),
            user_id: Some(w.owner_id),
            parent: None,
            spawn_key: Some(format!("schedule:{workflow_id}:{node_id}:{fire_at}")),
            root: None,
        };
        started = Some(create_in(tx, &w, origin).await?);
    }
    if let Some(run_at) = schedule.next_after(now_ms().max(fire_at)) {
        jobs::enqueue(
            tx,
            NewJob {
                kind: JOB_KIND,
                execution_id: None,
                node_id,
                payload: payload.clone(),
                run_at,
            },
        )
        .await?;
    }
    Ok(started)
}
