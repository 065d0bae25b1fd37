//! `/tasks/` (api.md §9, registry.md §7, §12): tasks of the task registry, scoped by their
//! epic's owner (admins: all). Literal routes (`actionable`, `search`, `batch-delete`) win over
//! `{task_id}`. The rules live in `agentry_service::registry`.

use super::{PageQuery, split_list};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, Body, OptionalBody, Q};
use agentry_core::page::Page;
use agentry_service::registry::{
    Scope, TaskCancelIn, TaskIdList, TaskIn, TaskOut, TaskPatch, TaskSearchIn, TaskSearchItem,
};
use agentry_store::tasks::TaskFilter;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tasks, create_task))
        .routes(routes!(actionable))
        .routes(routes!(search_tasks))
        .routes(routes!(batch_delete))
        .routes(routes!(get_task, patch_task, delete_task))
        .routes(routes!(retry_task))
        .routes(routes!(cancel_task))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct ListQuery {
    limit: Option<i64>,
    offset: Option<i64>,
    epic_id: Option<String>,
    /// `pending|blocked|running|completed|failed|cancelled`.
    status: Option<String>,
    /// Comma-separated; a task matches when it has any of them.
    tags: Option<String>,
    workflow_slug: Option<String>,
}

/// Tasks of the caller's epics (admins: all), newest first.
#[utoipa::path(get, path = "/tasks/", tag = "tasks", params(ListQuery),
    responses((status = 200, body = Page<TaskOut>), (status = 422)))]
async fn list_tasks(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Q(q): Q<ListQuery>,
) -> ApiResult<Json<Page<TaskOut>>> {
    let page = PageQuery {
        limit: q.limit,
        offset: q.offset,
    }
    .page()?;
    let filter = TaskFilter {
        epic_id: q.epic_id,
        status: q.status,
        tags: split_list(q.tags.as_deref()),
        workflow_slug: q.workflow_slug,
        ..Default::default()
    };
    Ok(Json(
        s.services
            .list_tasks(Scope::of(&caller), filter, page)
            .await?,
    ))
}

/// Creates a task; `blocked` until every dependency (same epic) is completed.
#[utoipa::path(post, path = "/tasks/", tag = "tasks", request_body = TaskIn,
    responses((status = 201, body = TaskOut), (status = 404, description = "Epic not found."),
        (status = 422, description = "One or more dependencies do not exist")))]
async fn create_task(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Body(input): Body<TaskIn>,
) -> ApiResult<(StatusCode, Json<TaskOut>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.services.create_task(Scope::of(&caller), input).await?),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct ActionableQuery {
    limit: Option<i64>,
    offset: Option<i64>,
    epic_id: Option<String>,
}

/// `pending` tasks (all dependencies completed), oldest first.
#[utoipa::path(get, path = "/tasks/actionable/", tag = "tasks", params(ActionableQuery),
    responses((status = 200, body = Page<TaskOut>)))]
async fn actionable(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Q(q): Q<ActionableQuery>,
) -> ApiResult<Json<Page<TaskOut>>> {
    let page = PageQuery {
        limit: q.limit,
        offset: q.offset,
    }
    .page()?;
    Ok(Json(
        s.services
            .actionable_tasks(Scope::of(&caller), q.epic_id, page)
            .await?,
    ))
}

/// Ranked full-text search over title, description, tags, result summary and notes.
#[utoipa::path(post, path = "/tasks/search/", tag = "tasks", request_body = TaskSearchIn,
    responses((status = 200, body = Page<TaskSearchItem>), (status = 422)))]
async fn search_tasks(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Body(input): Body<TaskSearchIn>,
) -> ApiResult<Json<Page<TaskSearchItem>>> {
    Ok(Json(
        s.services.search_tasks(Scope::of(&caller), input).await?,
    ))
}

/// Deletes the listed tasks the caller may change; others are skipped.
#[utoipa::path(post, path = "/tasks/batch-delete/", tag = "tasks", request_body = TaskIdList,
    responses((status = 204)))]
async fn batch_delete(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Body(input): Body<TaskIdList>,
) -> ApiResult<StatusCode> {
    s.services
        .batch_delete_tasks(Scope::of(&caller), &input.task_ids)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One task.
#[utoipa::path(get, path = "/tasks/{task_id}/", tag = "tasks", params(("task_id" = String, Path)),
    responses((status = 200, body = TaskOut), (status = 404, description = "Task not found.")))]
async fn get_task(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<TaskOut>> {
    Ok(Json(s.services.get_task(Scope::of(&caller), &id).await?))
}

/// Changes the fields present; a status change follows the lifecycle (409 otherwise;
/// `failed → pending` is a retry); `depends_on` cannot change (422).
#[utoipa::path(patch, path = "/tasks/{task_id}/", tag = "tasks", params(("task_id" = String, Path)),
    request_body = TaskPatch,
    responses((status = 200, body = TaskOut), (status = 404, description = "Task not found."),
        (status = 409, description = "Invalid status transition: {from} -> {to}"), (status = 422)))]
async fn patch_task(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Body(patch): Body<TaskPatch>,
) -> ApiResult<Json<TaskOut>> {
    Ok(Json(
        s.services
            .patch_task(Scope::of(&caller), &id, patch)
            .await?,
    ))
}

/// Deletes a task; its id leaves every `depends_on`, and tasks it blocked are re-evaluated.
#[utoipa::path(delete, path = "/tasks/{task_id}/", tag = "tasks", params(("task_id" = String, Path)),
    responses((status = 204), (status = 404, description = "Task not found.")))]
async fn delete_task(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.services.delete_task(Scope::of(&caller), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A failed task back to `pending` (or `blocked`) while `retry_count < max_retries`.
#[utoipa::path(post, path = "/tasks/{task_id}/retry/", tag = "tasks", params(("task_id" = String, Path)),
    responses((status = 200, body = TaskOut), (status = 404, description = "Task not found."),
        (status = 409, description = "Only failed tasks can be retried / Retry limit reached")))]
async fn retry_task(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<TaskOut>> {
    Ok(Json(s.services.retry_task(Scope::of(&caller), &id).await?))
}

/// Cancels a task and its linked execution (with descendants); body `{"reason"}` optional.
#[utoipa::path(post, path = "/tasks/{task_id}/cancel/", tag = "tasks", params(("task_id" = String, Path)),
    request_body(content = Option<TaskCancelIn>),
    responses((status = 200, body = TaskOut), (status = 404, description = "Task not found."),
        (status = 409, description = "Task already completed / Task already cancelled")))]
async fn cancel_task(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OptionalBody(input): OptionalBody<TaskCancelIn>,
) -> ApiResult<Json<TaskOut>> {
    let outcome = s
        .services
        .cancel_task(Scope::of(&caller), &id, input.reason.as_deref())
        .await?;
    Ok(Json(outcome.task))
}
