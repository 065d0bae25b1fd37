//! Extractors: the bearer-key caller, and JSON bodies / query strings whose rejections answer
//! `422 {"detail": …}` naming the field (413 for oversized bodies), never axum's plain text.

use crate::AppState;
use crate::error::{ApiError, detail};
use agentry_service::{Caller, ServiceError};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

/// The authenticated caller (`Authorization: Bearer <key>`).
pub struct Auth(pub Caller);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let key = header
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ServiceError::Unauthorized(agentry_service::auth::INVALID_KEY.into()))?;
        Ok(Auth(state.services.authenticate(key).await?))
    }
}

/// A JSON body.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// An optional JSON body: absent or empty is `T::default()`.
pub struct OptionalBody<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalBody<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    detail(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "Request body too large (limit 1 MiB).",
                    )
                } else {
                    detail(StatusCode::BAD_REQUEST, e.body_text())
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalBody(T::default()));
        }
        serde_json::from_slice(&bytes)
            .map(OptionalBody)
            .map_err(|e| {
                detail(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("Invalid JSON body: {e}"),
                )
            })
    }
}

fn json_rejection(rejection: JsonRejection) -> Response {
    match rejection {
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => detail(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request body too large (limit 1 MiB).",
        ),
        JsonRejection::MissingJsonContentType(_) => detail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expected 'Content-Type: application/json'.",
        ),
        // Syntax errors, wrong types and missing fields: axum's text names the path.
        other => detail(StatusCode::UNPROCESSABLE_ENTITY, other.body_text()),
    }
}

/// A query string.
pub struct Q<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Q<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Q(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(detail(StatusCode::UNPROCESSABLE_ENTITY, e.body_text()))
            }
            Err(other) => Err(other.into_response()),
        }
    }
}
