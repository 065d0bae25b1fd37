//! `/workflows/` (api.md §4).

use super::{PageQuery, split_list};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, Body, Q};
use agentry_core::node_types::{self, NodeTypeSpec};
use agentry_core::page::Page;
use agentry_service::dto::{
    SlugList, ValidationOut, WorkflowDetailOut, WorkflowIn, WorkflowOut, WorkflowPatch,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use std::collections::BTreeMap;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_workflows, create_workflow))
        .routes(routes!(node_types_list))
        .routes(routes!(batch_delete))
        .routes(routes!(get_workflow, patch_workflow, delete_workflow))
        .routes(routes!(validate))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct ListQuery {
    limit: Option<i64>,
    offset: Option<i64>,
    /// Comma-separated; a workflow matches when it has any of them.
    tags: Option<String>,
}

/// The caller's workflows (admins: all), newest first.
#[utoipa::path(get, path = "/workflows/", tag = "workflows", params(ListQuery), responses((status = 200, body = Page<WorkflowOut>)))]
async fn list_workflows(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Q(q): Q<ListQuery>,
) -> ApiResult<Json<Page<WorkflowOut>>> {
    let page = PageQuery {
        limit: q.limit,
        offset: q.offset,
    }
    .page()?;
    Ok(Json(
        s.services
            .list_workflows(&caller, split_list(q.tags.as_deref()), page)
            .await?,
    ))
}

/// Creates a workflow; a taken slug gets `-1`, `-2`, … appended.
#[utoipa::path(post, path = "/workflows/", tag = "workflows", request_body = WorkflowIn,
    responses((status = 201, body = WorkflowOut), (status = 422)))]
async fn create_workflow(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Body(input): Body<WorkflowIn>,
) -> ApiResult<(StatusCode, Json<WorkflowOut>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.services.create_workflow(&caller, input).await?),
    ))
}

/// Every node type with its ports and config schema (no auth).
#[utoipa::path(get, path = "/workflows/node-types/", tag = "workflows", security(()),
    responses((status = 200, body = BTreeMap<String, NodeTypeSpec>)))]
async fn node_types_list() -> Json<&'static BTreeMap<&'static str, NodeTypeSpec>> {
    Json(node_types::all())
}

/// Deletes the named workflows the caller owns; unknown or foreign slugs are skipped.
#[utoipa::path(post, path = "/workflows/batch-delete/", tag = "workflows", request_body = SlugList, responses((status = 204)))]
async fn batch_delete(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Body(input): Body<SlugList>,
) -> ApiResult<StatusCode> {
    s.services
        .batch_delete_workflows(&caller, &input.slugs)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A workflow with its nodes and edges.
#[utoipa::path(get, path = "/workflows/{slug}/", tag = "workflows", params(("slug" = String, Path)),
    responses((status = 200, body = WorkflowDetailOut), (status = 404, description = "Workflow not found.")))]
async fn get_workflow(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(slug): Path<String>,
) -> ApiResult<Json<WorkflowDetailOut>> {
    Ok(Json(s.services.get_workflow(&caller, &slug).await?))
}

/// Changes the fields present in the body.
#[utoipa::path(patch, path = "/workflows/{slug}/", tag = "workflows", params(("slug" = String, Path)), request_body = WorkflowPatch,
    responses((status = 200, body = WorkflowOut), (status = 404), (status = 409, description = "Workflow slug already exists.")))]
async fn patch_workflow(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(slug): Path<String>,
    Body(patch): Body<WorkflowPatch>,
) -> ApiResult<Json<WorkflowOut>> {
    Ok(Json(
        s.services.patch_workflow(&caller, &slug, patch).await?,
    ))
}

/// Deletes a workflow with its nodes and edges.
#[utoipa::path(delete, path = "/workflows/{slug}/", tag = "workflows", params(("slug" = String, Path)),
    responses((status = 204), (status = 404)))]
async fn delete_workflow(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(slug): Path<String>,
) -> ApiResult<StatusCode> {
    s.services.delete_workflow(&caller, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every problem of the workflow's graph.
#[utoipa::path(post, path = "/workflows/{slug}/validate/", tag = "workflows", params(("slug" = String, Path)),
    responses((status = 200, body = ValidationOut), (status = 404)))]
async fn validate(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(slug): Path<String>,
) -> ApiResult<Json<ValidationOut>> {
    Ok(Json(s.services.validate_workflow(&caller, &slug).await?))
}
