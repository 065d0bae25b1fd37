//! `/credentials/` (api.md §7). Keys are masked in every answer; see
//! `agentry_service::credentials`.

use super::PageQuery;
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, Body, Q};
use agentry_core::page::Page;
use agentry_service::dto::{
    CredentialIn, CredentialOut, CredentialPatch, CredentialTestOut, IdList, ModelOut,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_credentials, create_credential))
        .routes(routes!(batch_delete))
        .routes(routes!(get_credential, patch_credential, delete_credential))
        .routes(routes!(test_credential))
        .routes(routes!(list_models))
}

/// The caller's credentials (admins: all), newest first.
#[utoipa::path(get, path = "/credentials/", tag = "credentials", params(PageQuery),
    responses((status = 200, body = Page<CredentialOut>)))]
async fn list_credentials(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<Page<CredentialOut>>> {
    Ok(Json(s.services.list_credentials(&caller, q.page()?).await?))
}

/// Creates a credential; `detail.api_key` is encrypted at rest and only ever shown masked.
#[utoipa::path(post, path = "/credentials/", tag = "credentials", request_body = CredentialIn,
    responses((status = 201, body = CredentialOut), (status = 422)))]
async fn create_credential(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Body(input): Body<CredentialIn>,
) -> ApiResult<(StatusCode, Json<CredentialOut>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.services.create_credential(&caller, input).await?),
    ))
}

/// Deletes the listed credentials the caller owns; unknown or foreign ids are skipped.
#[utoipa::path(post, path = "/credentials/batch-delete/", tag = "credentials", request_body = IdList,
    responses((status = 204)))]
async fn batch_delete(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Body(input): Body<IdList>,
) -> ApiResult<StatusCode> {
    s.services
        .batch_delete_credentials(&caller, &input.ids)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One credential (key masked).
#[utoipa::path(get, path = "/credentials/{id}/", tag = "credentials", params(("id" = String, Path)),
    responses((status = 200, body = CredentialOut), (status = 404, description = "Credential not found.")))]
async fn get_credential(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<CredentialOut>> {
    Ok(Json(s.services.get_credential(&caller, &id).await?))
}

/// Changes `name` and the `detail` keys present; the masked key sent back keeps the stored one.
#[utoipa::path(patch, path = "/credentials/{id}/", tag = "credentials", params(("id" = String, Path)),
    request_body = CredentialPatch,
    responses((status = 200, body = CredentialOut), (status = 404, description = "Credential not found."), (status = 422)))]
async fn patch_credential(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Body(patch): Body<CredentialPatch>,
) -> ApiResult<Json<CredentialOut>> {
    Ok(Json(
        s.services.patch_credential(&caller, &id, patch).await?,
    ))
}

/// Deletes a credential.
#[utoipa::path(delete, path = "/credentials/{id}/", tag = "credentials", params(("id" = String, Path)),
    responses((status = 204), (status = 404, description = "Credential not found.")))]
async fn delete_credential(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.services.delete_credential(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Makes one real call to the provider (a one-token chat) and reports the outcome.
#[utoipa::path(post, path = "/credentials/{id}/test/", tag = "credentials", params(("id" = String, Path)),
    responses((status = 200, body = CredentialTestOut), (status = 404, description = "Credential not found.")))]
async fn test_credential(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<CredentialTestOut>> {
    Ok(Json(s.services.test_credential(&caller, &id).await?))
}

/// The provider's models, sorted by id (`[]` when the provider cannot be asked).
#[utoipa::path(get, path = "/credentials/{id}/models/", tag = "credentials", params(("id" = String, Path)),
    responses((status = 200, body = Vec<ModelOut>), (status = 404, description = "LLM credential not found.")))]
async fn list_models(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<ModelOut>>> {
    Ok(Json(s.services.credential_models(&caller, &id).await?))
}
