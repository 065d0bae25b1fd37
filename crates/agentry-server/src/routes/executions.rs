//! Executions (api.md §6, §11) and starting work: execute, chat, webhook.

use super::PageQuery;
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, Body, OptionalBody, Q};
use agentry_core::page::Page;
use agentry_service::dto::{
    ChatIn, ExecuteIn, ExecutionDetailOut, ExecutionIdList, ExecutionOut, ExecutionStarted,
    ExecutionStatusOut, ResumeIn,
};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(execute))
        .routes(routes!(chat))
        .routes(routes!(chat_history, delete_chat_history))
        .routes(routes!(webhook))
        .routes(routes!(list_executions))
        .routes(routes!(batch_delete))
        .routes(routes!(get_execution))
        .routes(routes!(execution_status))
        .routes(routes!(cancel))
        .routes(routes!(resume))
}

/// Starts the workflow at its (first or named) manual trigger; the work runs on workers.
#[utoipa::path(post, path = "/workflows/{slug}/execute/", tag = "executions", params(("slug" = String, Path)), request_body = ExecuteIn,
    responses((status = 200, body = ExecutionStarted), (status = 404)))]
async fn execute(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(slug): Path<String>,
    OptionalBody(input): OptionalBody<ExecuteIn>,
) -> ApiResult<Json<ExecutionStarted>> {
    let id = s
        .services
        .execute(&caller, &slug, input.text, input.trigger_node_id)
        .await?;
    Ok(Json(ExecutionStarted {
        execution_id: id,
        status: "pending".into(),
        response: None,
    }))
}

/// Sends a chat message to the workflow's chat trigger.
#[utoipa::path(post, path = "/workflows/{slug}/chat/", tag = "executions", params(("slug" = String, Path)), request_body = ChatIn,
    responses((status = 200, body = ExecutionStarted), (status = 404), (status = 503)))]
async fn chat(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(slug): Path<String>,
    Body(input): Body<ChatIn>,
) -> ApiResult<Json<ExecutionStarted>> {
    if let Some((confirmation, answer)) = agentry_service::executions::chat_command(&input.text) {
        let (id, status) = s
            .services
            .answer_chat_command(&caller, confirmation, answer)
            .await?;
        return Ok(Json(ExecutionStarted {
            execution_id: id,
            status,
            response: Some(String::new()),
        }));
    }
    let id = s
        .services
        .chat(&caller, &slug, input.text, input.trigger_node_id)
        .await?;
    Ok(Json(ExecutionStarted {
        execution_id: id,
        status: "pending".into(),
        response: Some(String::new()),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct WebhookQuery {
    /// Wait up to N seconds (1..30) for the execution to finish.
    wait: Option<u64>,
}

/// Starts the workflow at its webhook trigger (no bearer key; optional HMAC signature).
#[utoipa::path(post, path = "/webhooks/{slug}/", tag = "executions", security(()), params(("slug" = String, Path), WebhookQuery), request_body(content = Object, content_type = "application/json"),
    responses((status = 202), (status = 200), (status = 401, description = "Invalid signature."), (status = 404, description = "Webhook not found.")))]
async fn webhook(
    State(s): State<AppState>,
    Path(slug): Path<String>,
    Q(q): Q<WebhookQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let pairs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_ascii_lowercase(), v.to_string()))
        })
        .collect();
    let signature = headers
        .get("x-agentry-signature")
        .and_then(|v| v.to_str().ok());
    let id = s.services.webhook(&slug, &body, pairs, signature).await?;
    let Some(wait) = q.wait.filter(|w| *w > 0) else {
        return Ok(IntoResponse::into_response((
            StatusCode::ACCEPTED,
            Json(json!({"execution_id": id})),
        )));
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(wait.min(30));
    let mut events = s.services.bus.subscribe();
    loop {
        let row = agentry_store::executions::get_full(&s.services.db, &id, false)
            .await
            .map_err(agentry_service::ServiceError::from)?;
        if let Some(full) = row {
            let terminal = agentry_core::run::Status::parse(&full.row.status)
                .is_some_and(|st| st.is_terminal());
            if terminal {
                let out = json!({"execution_id": id, "status": full.row.status, "output": full.final_output.map(|j| j.0)});
                return Ok((StatusCode::OK, Json(out)).into_response());
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok((
                    StatusCode::ACCEPTED,
                    Json(json!({"execution_id": id, "status": full.row.status})),
                )
                    .into_response());
            }
        }
        // Wake on this execution's events (or re-check at the deadline).
        let channel = format!("execution:{id}");
        loop {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Ok(e)) if e.channel != channel => continue,
                _ => break,
            }
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct ListQuery {
    limit: Option<i64>,
    offset: Option<i64>,
    workflow_slug: Option<String>,
    status: Option<String>,
    /// Only children of this execution.
    parent_execution_id: Option<String>,
}

/// Executions the caller may see, newest first.
#[utoipa::path(get, path = "/executions/", tag = "executions", params(ListQuery), responses((status = 200, body = Page<ExecutionOut>)))]
async fn list_executions(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Q(q): Q<ListQuery>,
) -> ApiResult<Json<Page<ExecutionOut>>> {
    let page = PageQuery {
        limit: q.limit,
        offset: q.offset,
    }
    .page()?;
    Ok(Json(
        s.services
            .list_executions(
                &caller,
                q.workflow_slug,
                q.status,
                q.parent_execution_id,
                page,
            )
            .await?,
    ))
}

/// Deletes the caller's executions and their logs (cancelling running ones first).
#[utoipa::path(post, path = "/executions/batch-delete/", tag = "executions", request_body = ExecutionIdList, responses((status = 204)))]
async fn batch_delete(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Body(input): Body<ExecutionIdList>,
) -> ApiResult<StatusCode> {
    s.services
        .batch_delete_executions(&caller, &input.execution_ids)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An execution with its logs and pending confirmation.
#[utoipa::path(get, path = "/executions/{id}/", tag = "executions", params(("id" = String, Path)),
    responses((status = 200, body = ExecutionDetailOut), (status = 404, description = "Execution not found.")))]
async fn get_execution(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ExecutionDetailOut>> {
    Ok(Json(s.services.get_execution(&caller, &id).await?))
}

/// Status and output of an execution.
#[utoipa::path(get, path = "/executions/{id}/status/", tag = "executions", params(("id" = String, Path)),
    responses((status = 200, body = ExecutionStatusOut), (status = 404)))]
async fn execution_status(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ExecutionStatusOut>> {
    Ok(Json(s.services.execution_status(&caller, &id).await?))
}

/// Cancels a pending, running or interrupted execution and all its descendants.
#[utoipa::path(post, path = "/executions/{id}/cancel/", tag = "executions", params(("id" = String, Path)),
    responses((status = 200, body = ExecutionOut), (status = 404)))]
async fn cancel(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ExecutionOut>> {
    Ok(Json(s.services.cancel_execution(&caller, &id).await?))
}

/// Answers the execution's pending confirmation.
#[utoipa::path(post, path = "/executions/{id}/resume/", tag = "executions", params(("id" = String, Path)), request_body = ResumeIn,
    responses((status = 200, body = ExecutionOut), (status = 404), (status = 409, description = "Execution is not waiting for input.")))]
async fn resume(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Body(input): Body<ResumeIn>,
) -> ApiResult<Json<ExecutionOut>> {
    Ok(Json(
        s.services
            .resume_execution(&caller, &id, input.input)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct HistoryQuery {
    /// How many messages (default 10).
    limit: Option<i64>,
    /// Only messages before this ISO-8601 time.
    before: Option<String>,
}

/// The caller's conversation with the workflow's memory-enabled chat agent.
#[utoipa::path(get, path = "/workflows/{slug}/chat/history/", tag = "executions", params(("slug" = String, Path), HistoryQuery),
    responses((status = 200, body = agentry_service::chat::ChatHistoryOut), (status = 400), (status = 404)))]
async fn chat_history(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(slug): Path<String>,
    Q(q): Q<HistoryQuery>,
) -> ApiResult<Json<agentry_service::chat::ChatHistoryOut>> {
    Ok(Json(
        s.services
            .chat_history(&caller, &slug, q.limit, q.before.as_deref())
            .await?,
    ))
}

/// Deletes the caller's conversation thread with the workflow.
#[utoipa::path(delete, path = "/workflows/{slug}/chat/history/", tag = "executions", params(("slug" = String, Path)),
    responses((status = 204), (status = 404)))]
async fn delete_chat_history(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(slug): Path<String>,
) -> ApiResult<StatusCode> {
    s.services.delete_chat_history(&caller, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}
