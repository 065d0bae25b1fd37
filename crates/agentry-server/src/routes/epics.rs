//! `/epics/` (api.md §8, registry.md §12): epics of the task registry, owner-scoped (admins:
//! all). The rules live in `agentry_service::registry`.

use super::{PageQuery, split_list};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, Body, Q};
use agentry_core::page::Page;
use agentry_service::registry::{
    EpicIdList, EpicIn, EpicOut, EpicPatch, EpicProgressOut, EpicSearchIn, EpicSearchItem, Scope,
    TaskOut,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_epics, create_epic))
        .routes(routes!(search_epics))
        .routes(routes!(batch_delete))
        .routes(routes!(get_epic, patch_epic, delete_epic))
        .routes(routes!(epic_tasks))
        .routes(routes!(epic_progress))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct ListQuery {
    limit: Option<i64>,
    offset: Option<i64>,
    /// `planning|active|paused|completed|failed|cancelled`.
    status: Option<String>,
    /// Comma-separated; an epic matches when it has any of them.
    tags: Option<String>,
    /// The workflow hosting the epic.
    workflow_id: Option<i64>,
}

/// The caller's epics (admins: all), newest first.
#[utoipa::path(get, path = "/epics/", tag = "epics", params(ListQuery),
    responses((status = 200, body = Page<EpicOut>), (status = 422)))]
async fn list_epics(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Q(q): Q<ListQuery>,
) -> ApiResult<Json<Page<EpicOut>>> {
    let page = PageQuery {
        limit: q.limit,
        offset: q.offset,
    }
    .page()?;
    let tags = split_list(q.tags.as_deref());
    Ok(Json(
        s.services
            .list_epics(Scope::of(&caller), q.status, tags, q.workflow_id, page)
            .await?,
    ))
}

/// Creates a `planning` epic owned by the caller.
#[utoipa::path(post, path = "/epics/", tag = "epics", request_body = EpicIn,
    responses((status = 201, body = EpicOut), (status = 422)))]
async fn create_epic(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Body(input): Body<EpicIn>,
) -> ApiResult<(StatusCode, Json<EpicOut>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.services.create_epic(Scope::of(&caller), input).await?),
    ))
}

/// Ranked full-text search over title, description, tags, result summary and procedural memory.
#[utoipa::path(post, path = "/epics/search/", tag = "epics", request_body = EpicSearchIn,
    responses((status = 200, body = Page<EpicSearchItem>), (status = 422)))]
async fn search_epics(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Body(input): Body<EpicSearchIn>,
) -> ApiResult<Json<Page<EpicSearchItem>>> {
    Ok(Json(
        s.services.search_epics(Scope::of(&caller), input).await?,
    ))
}

/// Deletes the listed epics (and their tasks) the caller may change; others are skipped.
#[utoipa::path(post, path = "/epics/batch-delete/", tag = "epics", request_body = EpicIdList,
    responses((status = 204)))]
async fn batch_delete(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Body(input): Body<EpicIdList>,
) -> ApiResult<StatusCode> {
    s.services
        .batch_delete_epics(Scope::of(&caller), &input.epic_ids)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One epic.
#[utoipa::path(get, path = "/epics/{epic_id}/", tag = "epics", params(("epic_id" = String, Path)),
    responses((status = 200, body = EpicOut), (status = 404, description = "Epic not found.")))]
async fn get_epic(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<EpicOut>> {
    Ok(Json(s.services.get_epic(Scope::of(&caller), &id).await?))
}

/// Changes the fields present; a status change follows the lifecycle (409 otherwise) and
/// `cancelled` cancels the unfinished tasks and their executions.
#[utoipa::path(patch, path = "/epics/{epic_id}/", tag = "epics", params(("epic_id" = String, Path)),
    request_body = EpicPatch,
    responses((status = 200, body = EpicOut), (status = 404, description = "Epic not found."),
        (status = 409, description = "Invalid status transition: {from} -> {to}"), (status = 422)))]
async fn patch_epic(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Body(patch): Body<EpicPatch>,
) -> ApiResult<Json<EpicOut>> {
    Ok(Json(
        s.services
            .patch_epic(Scope::of(&caller), &id, patch)
            .await?,
    ))
}

/// Deletes an epic and its tasks.
#[utoipa::path(delete, path = "/epics/{epic_id}/", tag = "epics", params(("epic_id" = String, Path)),
    responses((status = 204), (status = 404, description = "Epic not found.")))]
async fn delete_epic(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.services.delete_epic(Scope::of(&caller), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The epic's tasks, newest first.
#[utoipa::path(get, path = "/epics/{epic_id}/tasks/", tag = "epics",
    params(("epic_id" = String, Path), PageQuery),
    responses((status = 200, body = Page<TaskOut>), (status = 404, description = "Epic not found.")))]
async fn epic_tasks(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<Page<TaskOut>>> {
    Ok(Json(
        s.services
            .epic_tasks(Scope::of(&caller), &id, q.page()?)
            .await?,
    ))
}

/// Task counts by status, and spend against the budgets.
#[utoipa::path(get, path = "/epics/{epic_id}/progress/", tag = "epics", params(("epic_id" = String, Path)),
    responses((status = 200, body = EpicProgressOut), (status = 404, description = "Epic not found.")))]
async fn epic_progress(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<EpicProgressOut>> {
    Ok(Json(
        s.services.epic_progress(Scope::of(&caller), &id).await?,
    ))
}
