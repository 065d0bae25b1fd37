//! `reply_chat` (engine.md §2): `{"output": message}`, and the context's `output` = message.

use crate::node::{NodeCtx, NodeOutcome, NodeResult};
use serde_json::{Value, json};

pub fn run(ctx: &NodeCtx<'_>) -> NodeResult {
    let message = ctx
        .node
        .extra()
        .get("message")
        .cloned()
        .unwrap_or_else(|| Value::String(String::new()));
    let mut outcome = NodeOutcome::output(json!({ "output": message.clone() }));
    outcome.state_patch.insert("output".into(), message);
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::State;
    use crate::nodes::testing::{ctx_for, node};

    #[test]
    fn replies_and_sets_the_output() {
        let s = State::default();
        let n = node("reply_chat", json!({"message": "Done: 3 tickets"}));
        let out = run(&ctx_for(&n, &s)).expect("runs");
        assert_eq!(out.output, json!({"output": "Done: 3 tickets"}));
        assert_eq!(
            out.state_patch.get("output"),
            Some(&json!("Done: 3 tickets"))
        );
        assert_eq!(out.state_patch.len(), 1);
    }

    #[test]
    fn no_message_replies_empty() {
        let s = State::default();
        let n = node("reply_chat", json!({}));
        let out = run(&ctx_for(&n, &s)).expect("runs");
        assert_eq!(out.output, json!({"output": ""}));
        assert_eq!(out.state_patch.get("output"), Some(&json!("")));
    }
}
