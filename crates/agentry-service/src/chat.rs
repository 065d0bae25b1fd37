//! Chat history (api.md §6): the conversation thread of a chat-triggered agent with
//! `conversation_memory` on, as the caller sees it. Chat endpoint executions carry no chat id, so
//! the thread is `{user_id}:{workflow_id}` (delegation.md §10).

use crate::{Caller, ServiceError, ServiceResult, Services};
use agentry_core::time::{iso, parse_iso};
use agentry_store::checkpoints;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ChatMessageOut {
    /// `user` or `assistant`.
    pub role: String,
    pub text: String,
    pub timestamp: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ChatHistoryOut {
    pub messages: Vec<ChatMessageOut>,
    pub thread_id: String,
    pub has_more: bool,
}

const SYSTEM_ECHO: &str = "[System instructions";

impl Services {
    fn chat_thread_id(caller: &Caller, workflow_id: i64) -> String {
        format!("{}:{workflow_id}", caller.user_id)
    }

    /// The newest `limit` (default 10) messages before `before`, oldest first.
    pub async fn chat_history(
        &self,
        caller: &Caller,
        slug: &str,
        limit: Option<i64>,
        before: Option<&str>,
    ) -> ServiceResult<ChatHistoryOut> {
        let w = self.readable_workflow(caller, slug).await?;
        let before = match before {
            Some(text) => Some(parse_iso(text).ok_or_else(|| {
                ServiceError::BadRequest(
                    "Invalid 'before' datetime format. Use ISO 8601 (e.g. 2026-01-01T00:00:00Z)."
                        .into(),
                )
            })?),
            None => None,
        };
        let limit = limit.unwrap_or(10).clamp(1, 500) as usize;
        let thread_id = Self::chat_thread_id(caller, w.id);
        let Some((data, updated_at)) = checkpoints::load(&self.db, &thread_id).await? else {
            return Ok(ChatHistoryOut {
                messages: vec![],
                thread_id,
                has_more: false,
            });
        };
        let times: Vec<i64> = data
            .get("times")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        let all: Vec<ChatMessageOut> = data
            .get("messages")
            .and_then(Value::as_array)
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                let role = m.get("role").and_then(Value::as_str)?;
                let text = m.get("content").and_then(Value::as_str).unwrap_or("");
                let visible = matches!(role, "user" | "assistant")
                    && !text.is_empty()
                    && !text.starts_with(SYSTEM_ECHO);
                let at = times.get(i).copied().unwrap_or(updated_at);
                (visible && before.is_none_or(|b| at < b)).then(|| ChatMessageOut {
                    role: role.to_string(),
                    text: text.to_string(),
                    timestamp: iso(at),
                })
            })
            .collect();
        let has_more = all.len() > limit;
        let messages = all[all.len().saturating_sub(limit)..].to_vec();
        Ok(ChatHistoryOut {
            messages,
            thread_id,
            has_more,
        })
    }

    pub async fn delete_chat_history(&self, caller: &Caller, slug: &str) -> ServiceResult<()> {
        let w = self.readable_workflow(caller, slug).await?;
        checkpoints::delete(&self.db, &Self::chat_thread_id(caller, w.id))
            .await
            .map_err(|_| ServiceError::Internal("Failed to delete chat history.".into()))?;
        Ok(())
    }
}
