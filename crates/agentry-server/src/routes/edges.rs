//! `/workflows/{slug}/edges/` (api.md §5).

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, Body};
use agentry_service::dto::{EdgeIn, EdgeOut, EdgePatch};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_edges, create_edge))
        .routes(routes!(patch_edge, delete_edge))
}

/// The workflow's edges.
#[utoipa::path(get, path = "/workflows/{slug}/edges/", tag = "edges", params(("slug" = String, Path)),
    responses((status = 200, body = Vec<EdgeOut>), (status = 404)))]
async fn list_edges(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(slug): Path<String>,
) -> ApiResult<Json<Vec<EdgeOut>>> {
    Ok(Json(s.services.list_edges(&caller, &slug).await?))
}

/// Adds an edge; both ends must exist.
#[utoipa::path(post, path = "/workflows/{slug}/edges/", tag = "edges", params(("slug" = String, Path)), request_body = EdgeIn,
    responses((status = 201, body = EdgeOut), (status = 404), (status = 409), (status = 422)))]
async fn create_edge(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(slug): Path<String>,
    Body(input): Body<EdgeIn>,
) -> ApiResult<(StatusCode, Json<EdgeOut>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.services.create_edge(&caller, &slug, input).await?),
    ))
}

/// Changes the fields present in the body.
#[utoipa::path(patch, path = "/workflows/{slug}/edges/{edge_id}/", tag = "edges",
    params(("slug" = String, Path), ("edge_id" = String, Path)), request_body = EdgePatch,
    responses((status = 200, body = EdgeOut), (status = 404, description = "Edge not found."), (status = 409), (status = 422)))]
async fn patch_edge(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path((slug, edge_id)): Path<(String, String)>,
    Body(patch): Body<EdgePatch>,
) -> ApiResult<Json<EdgeOut>> {
    Ok(Json(
        s.services
            .patch_edge(&caller, &slug, &edge_id, patch)
            .await?,
    ))
}

/// Deletes an edge.
#[utoipa::path(delete, path = "/workflows/{slug}/edges/{edge_id}/", tag = "edges",
    params(("slug" = String, Path), ("edge_id" = String, Path)), responses((status = 204), (status = 404)))]
async fn delete_edge(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path((slug, edge_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    s.services.delete_edge(&caller, &slug, &edge_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
