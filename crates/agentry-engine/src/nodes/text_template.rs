//! `text_template` (engine.md §11): renders `extra_config.template` strictly (§7) →
//! `{"output": text}`. The orchestrator leaves this one string unresolved so it is rendered here,
//! where a failure fails the node (`Template error: …`).

use crate::expr;
use crate::node::{NodeCtx, NodeError, NodeOutcome, NodeResult};
use agentry_core::operators::text_form;
use serde_json::{Value, json};

pub fn run(ctx: &NodeCtx<'_>) -> NodeResult {
    let template = match ctx.node.extra().get("template") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        // A number or other scalar written as the template renders as its text.
        Some(other) => Some(text_form(other).into_owned()),
    };
    let Some(template) = template else {
        return Err(NodeError::fatal(
            "template_error",
            "Template error: no template configured",
        ));
    };
    match expr::render_strict_with_state(&template, ctx.state) {
        Ok(text) => Ok(NodeOutcome::output(json!({ "output": text }))),
        Err(message) => Err(NodeError::fatal(
            "template_error",
            format!("Template error: {message}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::State;
    use crate::nodes::testing::{ctx_for, node};

    fn state() -> State {
        State {
            trigger: json!({"text": "hi"}),
            ..State::default()
        }
    }

    #[test]
    fn renders_the_template() {
        let n = node(
            "text_template",
            json!({"template": "Said: {{ trigger.text | upper }}"}),
        );
        let s = state();
        let out = run(&ctx_for(&n, &s)).expect("renders");
        assert_eq!(out.output, json!({"output": "Said: HI"}));
        assert_eq!(out.route, None);
        assert!(out.state_patch.is_empty());
    }

    #[test]
    fn template_failures_fail_the_node() {
        let s = state();
        let n = node("text_template", json!({"template": "{{ agent_9.output }}"}));
        let err = run(&ctx_for(&n, &s)).expect_err("undefined");
        assert_eq!(err.code, "template_error");
        assert!(!err.retryable);
        assert!(
            err.message.starts_with("Template error: undefined value"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("'agent_9.output' is undefined"),
            "{}",
            err.message
        );

        let n = node("text_template", json!({"template": "{% if %}"}));
        let err = run(&ctx_for(&n, &s)).expect_err("syntax");
        assert!(
            err.message.starts_with("Template error: syntax error"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_missing_template_is_an_error() {
        let s = state();
        for config in [
            json!({}),
            json!({"template": null}),
            json!({"template": ""}),
        ] {
            let n = node("text_template", config);
            let err = run(&ctx_for(&n, &s)).expect_err("no template");
            assert_eq!(
                err,
                NodeError::fatal("template_error", "Template error: no template configured")
            );
        }
        let n = node("text_template", json!({"template": 42}));
        assert_eq!(
            run(&ctx_for(&n, &s)).expect("renders").output,
            json!({"output": "42"})
        );
    }
}
