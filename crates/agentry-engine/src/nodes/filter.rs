//! `filter` (engine.md §11): keeps the items of a list for which **all** rules hold.
//!
//! * The list: `node_outputs[source_node]`, or its key `field` when set (a dotted path is
//!   followed when no key has that exact name); without `source_node`, the context's `output`.
//! * Rules `{field, operator = "equals", value}` use the switch operators; the field value is
//!   `item[field]` for a mapping item with a non-empty `field` (missing → null), else the item.
//! * No rules → every item. A value that is not a list gives `{"filtered": value}` when it is
//!   truthy (Python's `value or []`), else `{"filtered": []}`.

use crate::node::{NodeCtx, NodeOutcome, NodeResult, lookup_path};
use agentry_core::operators::matches;
use serde_json::{Map, Value, json};

pub fn run(ctx: &NodeCtx<'_>) -> NodeResult {
    let extra = ctx.node.extra();
    let source = match extra
        .get("source_node")
        .and_then(Value::as_str)
        .map(str::trim)
    {
        Some(id) if !id.is_empty() => {
            let output = ctx.state.node_outputs.get(id).unwrap_or(&Value::Null);
            match extra.get("field").and_then(Value::as_str).map(str::trim) {
                Some(field) if !field.is_empty() => key_or_path(output, field),
                _ => output.clone(),
            }
        }
        _ => ctx.state.output.clone(),
    };
    let rules: &[Value] = extra
        .get("rules")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let filtered = match source {
        Value::Array(items) => {
            Value::Array(items.into_iter().filter(|item| keep(item, rules)).collect())
        }
        other if truthy(&other) => other,
        _ => json!([]),
    };
    Ok(NodeOutcome::output(json!({ "filtered": filtered })))
}

fn keep(item: &Value, rules: &[Value]) -> bool {
    rules.iter().all(|rule| {
        let Some(rule) = rule.as_object() else {
            return true;
        };
        let field = rule
            .get("field")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let field_value = match item {
            Value::Object(_) if !field.is_empty() => key_or_path(item, field),
            _ => item.clone(),
        };
        matches(
            operator(rule),
            &field_value,
            rule.get("value").unwrap_or(&Value::Null),
        )
    })
}

fn operator(rule: &Map<String, Value>) -> &str {
    match rule.get("operator") {
        Some(Value::String(op)) if !op.is_empty() => op,
        _ => "equals",
    }
}

/// `value[key]`, or the dotted path `key` inside `value` when there is no such key.
fn key_or_path(value: &Value, key: &str) -> Value {
    match value.get(key) {
        Some(v) => v.clone(),
        None if key.contains('.') => lookup_path(value, key),
        None => Value::Null,
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::State;
    use crate::nodes::testing::{ctx_for, node};

    fn state() -> State {
        State {
            node_outputs: json!({
                "fetch": {"output": [
                    {"name": "a", "score": 9, "tags": ["x"], "meta": {"ok": true}},
                    {"name": "b", "score": 3, "tags": [], "meta": {"ok": false}},
                    {"name": "c", "score": "12", "tags": ["x", "y"]},
                ]},
                "words": {"output": ["apple", "banana", "avocado", 7]},
                "text": {"output": "just text"},
                "empty": {"output": ""},
            })
            .as_object()
            .cloned()
            .unwrap_or_default(),
            output: json!(["keep", "drop"]),
            ..State::default()
        }
    }

    fn filtered(extra: Value) -> Value {
        let n = node("filter", extra);
        let s = state();
        let out = run(&ctx_for(&n, &s)).expect("filter runs");
        out.output["filtered"].clone()
    }

    #[test]
    fn all_rules_must_hold() {
        let got = filtered(json!({"source_node": "fetch", "field": "output", "rules": [
            {"field": "score", "operator": "gt", "value": 5},
            {"field": "tags", "operator": "contains", "value": "x"},
        ]}));
        assert_eq!(
            got.as_array()
                .map(|a| a.iter().map(|i| i["name"].clone()).collect::<Vec<_>>()),
            Some(vec![json!("a"), json!("c")])
        );

        let got = filtered(
            json!({"source_node": "fetch", "field": "output", "rules": [{"field": "name", "value": "b"}]}),
        );
        assert_eq!(
            got,
            json!([{"name": "b", "score": 3, "tags": [], "meta": {"ok": false}}]),
            "operator defaults to equals"
        );

        let got = filtered(
            json!({"source_node": "fetch", "field": "output", "rules": [{"field": "meta.ok", "operator": "is_true"}]}),
        );
        assert_eq!(
            got.as_array().map(Vec::len),
            Some(1),
            "dotted field into a mapping item"
        );

        let got = filtered(
            json!({"source_node": "fetch", "field": "output", "rules": [{"field": "missing", "operator": "exists"}]}),
        );
        assert_eq!(got, json!([]));
    }

    #[test]
    fn scalar_items_are_their_own_field_value() {
        let got = filtered(json!({"source_node": "words", "field": "output", "rules": [
            {"field": "ignored", "operator": "starts_with", "value": "a"},
        ]}));
        assert_eq!(got, json!(["apple", "avocado"]));
    }

    #[test]
    fn no_rules_keep_everything() {
        let got = filtered(json!({"source_node": "words", "field": "output"}));
        assert_eq!(got, json!(["apple", "banana", "avocado", 7]));
        let got = filtered(json!({"source_node": "words", "field": "output", "rules": []}));
        assert_eq!(got.as_array().map(Vec::len), Some(4));
    }

    #[test]
    fn source_defaults() {
        // No field: the whole output object, which is not a list.
        assert_eq!(
            filtered(json!({"source_node": "words"})),
            json!({"output": ["apple", "banana", "avocado", 7]})
        );
        // No source_node: the context's output.
        assert_eq!(
            filtered(json!({"rules": [{"value": "keep"}]})),
            json!(["keep"])
        );
    }

    #[test]
    fn non_lists_pass_through_or_become_empty() {
        assert_eq!(
            filtered(json!({"source_node": "text", "field": "output"})),
            json!("just text")
        );
        assert_eq!(
            filtered(json!({"source_node": "empty", "field": "output"})),
            json!([])
        );
        assert_eq!(
            filtered(json!({"source_node": "nope", "field": "output"})),
            json!([])
        );
        assert_eq!(filtered(json!({"source_node": "nope"})), json!([]));
    }
}
