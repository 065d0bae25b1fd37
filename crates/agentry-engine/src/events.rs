//! `node_status` events (api.md §10 event catalogue).

use agentry_core::flow::{RootLink, SnapNode};
use agentry_core::node_types;
use agentry_service::executions::{emit_execution_event, truncate};
use agentry_store::Tx;
use serde_json::{Value, json};

/// Cuts every string longer than 2048 characters (suffixed `...`), recursively.
pub fn cut_strings(v: &Value) -> Value {
    match v {
        Value::String(s) if s.chars().count() > 2048 => {
            Value::String(format!("{}...", truncate(s, 2048)))
        }
        Value::Array(a) => Value::Array(a.iter().map(cut_strings).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), cut_strings(v))).collect())
        }
        other => other.clone(),
    }
}

/// The common `node_status` fields.
pub fn node_status_data(node: &SnapNode, status: &str) -> Value {
    let display = node_types::get(&node.component_type)
        .map(|s| s.display_name)
        .unwrap_or("");
    json!({
        "node_id": node.node_id,
        "status": status,
        "component_type": node.component_type,
        "display_name": display,
        "node_label": node.label,
    })
}

pub fn node_status(
    tx: &mut Tx,
    execution_id: &str,
    slug: &str,
    root: Option<&RootLink>,
    node: &SnapNode,
    status: &str,
    extra: Value,
) {
    let mut data = node_status_data(node, status);
    if let (Value::Object(d), Value::Object(x)) = (&mut data, extra) {
        d.extend(x);
    }
    emit_node_status(tx, execution_id, slug, root, data);
}

/// `node_status` on the execution's channels and, for a spawned execution, the same data as
/// `child_node_status` on its root's channels (api.md §10).
pub fn emit_node_status(
    tx: &mut Tx,
    execution_id: &str,
    slug: &str,
    root: Option<&RootLink>,
    data: Value,
) {
    if let Some(root) = root {
        let mut mirrored = data.clone();
        mirrored["child_execution_id"] = json!(execution_id);
        mirrored["parent_node_id"] = json!(root.node_id);
        mirrored["is_child_event"] = json!(true);
        emit_execution_event(
            tx,
            &root.execution_id,
            &root.slug,
            "child_node_status",
            mirrored,
        );
    }
    emit_execution_event(tx, execution_id, slug, "node_status", data);
}
