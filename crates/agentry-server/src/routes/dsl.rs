//! The workflow DSL (dsl.md §9, §12; api.md §4): dry-run validation, apply as the caller, and
//! export. The static paths `/workflows/dsl/` and `/workflows/validate-dsl/` win over
//! `/workflows/{slug}/` (the router matches static segments first), and `dsl` /
//! `validate-dsl` are reserved slugs, so no workflow can be shadowed.

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, Body};
use agentry_service::dsl::{
    ApplyError, DslApplyOut, DslErrorOut, DslExample, DslExportOut, DslRejected, DslValidateOut,
    EXAMPLES,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(validate_dsl))
        .routes(routes!(apply_dsl))
        .routes(routes!(export_dsl))
        .routes(routes!(examples))
}

/// A DSL document (YAML; JSON is YAML too).
#[derive(Debug, Deserialize, ToSchema)]
pub struct DslIn {
    pub yaml_str: String,
}

/// A document that was not applied: the first error, then all of them.
#[derive(Debug, Serialize, ToSchema)]
pub struct DslRejectedOut {
    pub detail: String,
    pub errors: Vec<String>,
    pub error_details: Vec<DslErrorOut>,
}

fn rejected(r: &DslRejected) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"detail": r.first(), "errors": r.texts(), "error_details": r.details()})),
    )
        .into_response()
}

/// The base URL for links in answers: `--public-url`, else the request's `Host`.
fn public_url(s: &AppState, headers: &HeaderMap) -> Option<String> {
    s.services.public_url.clone().or_else(|| {
        headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| format!("http://{h}"))
    })
}

/// Compiles a document without writing anything (dsl.md §9): every error with its position,
/// plus the nodes and edges it would create.
#[utoipa::path(post, path = "/workflows/validate-dsl/", tag = "workflows", request_body = DslIn,
    responses((status = 200, body = DslValidateOut), (status = 422)))]
async fn validate_dsl(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Body(input): Body<DslIn>,
) -> ApiResult<Json<DslValidateOut>> {
    Ok(Json(
        s.services.validate_dsl(&caller, &input.yaml_str).await?,
    ))
}

/// Creates (or forks) a workflow from a document as the caller, in one transaction.
#[utoipa::path(post, path = "/workflows/dsl/", tag = "workflows", request_body = DslIn,
    responses((status = 201, body = DslApplyOut),
        (status = 422, body = DslRejectedOut, description = "Nothing was created.")))]
async fn apply_dsl(
    State(s): State<AppState>,
    Auth(caller): Auth,
    headers: HeaderMap,
    Body(input): Body<DslIn>,
) -> Response {
    let base = public_url(&s, &headers);
    match s
        .services
        .apply_dsl(&caller, &input.yaml_str, None, base.as_deref())
        .await
    {
        Ok(out) => (StatusCode::CREATED, Json(out)).into_response(),
        Err(ApplyError::Rejected(r)) => rejected(&r),
        Err(ApplyError::Service(e)) => ApiError(e).into_response(),
    }
}

/// The workflow as a DSL document (explicit form) that `POST /workflows/dsl/` turns back
/// into the same nodes and edges.
#[utoipa::path(get, path = "/workflows/{slug}/dsl/", tag = "workflows", params(("slug" = String, Path)),
    responses((status = 200, body = DslExportOut), (status = 404, description = "Workflow not found.")))]
async fn export_dsl(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(slug): Path<String>,
) -> ApiResult<Json<DslExportOut>> {
    Ok(Json(s.services.export_dsl(&caller, &slug).await?))
}

/// Built-in DSL documents to start from (templates): a delegating orchestrator, the worker it
/// spawns, a webhook handler and a switch/loop pipeline.
#[utoipa::path(get, path = "/workflows/dsl/examples/", tag = "workflows",
    responses((status = 200, body = Vec<DslExample>)))]
async fn examples(Auth(_caller): Auth) -> Json<&'static [DslExample]> {
    Json(EXAMPLES)
}
