//! `switch` (engine.md §2): picks a route.
//!
//! With `extra_config.rules` (`[{id, field, operator = "equals", value}]`): the first rule whose
//! `operator(field value, value)` holds gives the route (its `id`), `field` being a dotted path
//! into the context (`node_outputs.classify.output`, `trigger.text`, a leading `state.` allowed;
//! missing → null); none → `__other__` with `enable_fallback`, else `""`.
//!
//! Legacy config (no rules), resolved here as follows (the spec names the keys only):
//! * `condition_expression` `path == 'v'` (quotes optional) → route `"true"` when the text
//!   form of the value at `path` equals `v`, else `"false"`;
//! * `condition_expression` `path` → the text form of the value at `path`;
//! * otherwise `condition_field` (default `route`) → the text form of the value at that path,
//!   so the default passes the context's current route on.
//!
//! Text forms are Python's (`True`, `5`), with null giving `""`.
//!
//! Output `{"route": route}`; the context's `route` = route.

use crate::node::{NodeCtx, NodeOutcome, NodeResult, lookup_path};
use agentry_core::operators::{matches, text_form};
use serde_json::{Value, json};

/// The fallback route when no rule matches and `enable_fallback` is set.
pub const FALLBACK_ROUTE: &str = "__other__";

pub fn run(ctx: &NodeCtx<'_>) -> NodeResult {
    let route = choose_route(ctx.node.extra(), &ctx.state.to_json());
    let mut outcome = NodeOutcome::output(json!({ "route": route }));
    outcome.route = Some(route);
    Ok(outcome)
}

/// The route for `extra_config` over the context JSON (`State::to_json`).
pub fn choose_route(extra: &serde_json::Map<String, Value>, context: &Value) -> String {
    match extra.get("rules").and_then(Value::as_array) {
        Some(rules) if !rules.is_empty() => {
            for rule in rules {
                let field = rule
                    .get("field")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let operator = match rule.get("operator") {
                    Some(Value::String(op)) if !op.is_empty() => op.as_str(),
                    _ => "equals",
                };
                let rule_value = rule.get("value").unwrap_or(&Value::Null);
                let field_value = lookup_path(context, field);
                if matches(operator, &field_value, rule_value) {
                    return rule.get("id").map(route_text).unwrap_or_default();
                }
            }
            if extra.get("enable_fallback").is_some_and(truthy) {
                FALLBACK_ROUTE.to_string()
            } else {
                String::new()
            }
        }
        _ => legacy_route(extra, context),
    }
}

fn legacy_route(extra: &serde_json::Map<String, Value>, context: &Value) -> String {
    let expression = extra
        .get("condition_expression")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or_default();
    if !expression.is_empty() {
        return match expression.split_once("==") {
            Some((path, expected)) => {
                let expected = unquote(expected.trim());
                let actual = route_text(&lookup_path(context, path.trim()));
                if actual == expected { "true" } else { "false" }.to_string()
            }
            None => route_text(&lookup_path(context, expression)),
        };
    }
    let field = match extra
        .get("condition_field")
        .and_then(Value::as_str)
        .map(str::trim)
    {
        Some(f) if !f.is_empty() => f,
        _ => "route",
    };
    route_text(&lookup_path(context, field))
}

fn unquote(s: &str) -> &str {
    for q in ['\'', '"'] {
        if let Some(inner) = s.strip_prefix(q).and_then(|rest| rest.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

fn route_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        other => text_form(other).into_owned(),
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Null => false,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => {
            !s.is_empty() && !matches!(s.to_lowercase().as_str(), "false" | "0" | "no")
        }
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
            trigger: json!({"text": "I want a refund", "count": 7, "flag": true}),
            node_outputs: json!({"classify": {"output": "billing"}, "code_1": {"output": [1, 2]}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            route: Some("previous".into()),
            ..State::default()
        }
    }

    fn route_of(extra: Value) -> NodeOutcome {
        let n = node("switch", extra);
        let s = state();
        run(&ctx_for(&n, &s)).expect("switch runs")
    }

    #[test]
    fn first_matching_rule_wins() {
        let out = route_of(json!({"rules": [
            {"id": "refunds", "field": "trigger.text", "operator": "contains", "value": "refund"},
            {"id": "also", "field": "trigger.text", "operator": "contains", "value": "want"},
        ]}));
        assert_eq!(out.output, json!({"route": "refunds"}));
        assert_eq!(out.route.as_deref(), Some("refunds"));

        let out = route_of(json!({"rules": [
            {"id": "sales", "field": "node_outputs.classify.output", "value": "sales"},
            {"id": "billing", "field": "state.node_outputs.classify.output", "value": "billing"},
        ]}));
        assert_eq!(
            out.route.as_deref(),
            Some("billing"),
            "operator defaults to equals; state. prefix allowed"
        );

        let out = route_of(json!({"rules": [
            {"id": "many", "field": "trigger.count", "operator": "gt", "value": "5"},
        ]}));
        assert_eq!(out.route.as_deref(), Some("many"));
        let out = route_of(json!({"rules": [
            {"id": "has_two", "field": "node_outputs.code_1.output", "operator": "contains", "value": 2},
        ]}));
        assert_eq!(out.route.as_deref(), Some("has_two"));
        let out = route_of(json!({"rules": [
            {"id": "flagged", "field": "trigger.flag", "operator": "equals", "value": "True"},
        ]}));
        assert_eq!(out.route.as_deref(), Some("flagged"));
    }

    #[test]
    fn missing_paths_are_null() {
        let out = route_of(json!({"rules": [
            {"id": "absent", "field": "node_outputs.nope.output", "operator": "does_not_exist"},
        ]}));
        assert_eq!(out.route.as_deref(), Some("absent"));
    }

    #[test]
    fn no_match_falls_back_or_routes_nowhere() {
        let rules = json!([{"id": "x", "field": "trigger.text", "value": "nope"}]);
        let out = route_of(json!({"rules": rules, "enable_fallback": true}));
        assert_eq!(out.output, json!({"route": "__other__"}));
        assert_eq!(out.route.as_deref(), Some("__other__"));
        let out = route_of(json!({"rules": rules, "enable_fallback": false}));
        assert_eq!(out.output, json!({"route": ""}));
        assert_eq!(out.route.as_deref(), Some(""));
        let out = route_of(json!({"rules": rules}));
        assert_eq!(out.route.as_deref(), Some(""));
        let out = route_of(
            json!({"rules": [{"id": "x", "field": "trigger.text", "operator": "bogus", "value": ""}]}),
        );
        assert_eq!(
            out.route.as_deref(),
            Some(""),
            "unknown operators never match"
        );
    }

    #[test]
    fn legacy_configs() {
        assert_eq!(
            route_of(json!({})).route.as_deref(),
            Some("previous"),
            "condition_field defaults to route"
        );
        assert_eq!(
            route_of(json!({"rules": []})).route.as_deref(),
            Some("previous")
        );
        assert_eq!(
            route_of(json!({"condition_field": "node_outputs.classify.output"}))
                .route
                .as_deref(),
            Some("billing")
        );
        assert_eq!(
            route_of(json!({"condition_field": "trigger.missing"}))
                .route
                .as_deref(),
            Some("")
        );
        assert_eq!(
            route_of(json!({"condition_expression": "trigger.count"}))
                .route
                .as_deref(),
            Some("7")
        );
        assert_eq!(
            route_of(json!({"condition_expression": "node_outputs.classify.output == 'billing'"}))
                .route
                .as_deref(),
            Some("true")
        );
        assert_eq!(
            route_of(json!({"condition_expression": "node_outputs.classify.output == \"sales\""}))
                .route
                .as_deref(),
            Some("false")
        );
        assert_eq!(
            route_of(json!({"condition_expression": "trigger.flag == True"}))
                .route
                .as_deref(),
            Some("true")
        );
    }
}
