//! The one mapping from [`ServiceError`] to HTTP: status codes and `{"detail": …}` bodies.

use agentry_service::ServiceError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A route's error: a service error, answered as the spec says.
#[derive(Debug)]
pub struct ApiError(pub ServiceError);

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError(e)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, detail) = match self.0 {
            ServiceError::NotFound(m) => (StatusCode::NOT_FOUND, json!(m)),
            ServiceError::Conflict(m) => (StatusCode::CONFLICT, json!(m)),
            ServiceError::Invalid(m) => (StatusCode::UNPROCESSABLE_ENTITY, json!(m)),
            ServiceError::ValidationErrors(list) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"validation_errors": list}),
            ),
            ServiceError::BadRequest(m) => (StatusCode::BAD_REQUEST, json!(m)),
            ServiceError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, json!(m)),
            ServiceError::Forbidden(m) => (StatusCode::FORBIDDEN, json!(m)),
            ServiceError::Unavailable(m) => {
                tracing::warn!(error = %m, "dependency unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!("Service temporarily unavailable."),
                )
            }
            ServiceError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!("Internal server error."),
                )
            }
        };
        (status, Json(json!({ "detail": detail }))).into_response()
    }
}

/// A 4xx answer with a plain detail, for extractor rejections.
pub fn detail(status: StatusCode, text: impl Into<String>) -> Response {
    (status, Json(json!({"detail": text.into()}))).into_response()
}
