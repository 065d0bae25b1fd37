//! The service's one error type. `agentry-server` maps it to HTTP statuses and `{"detail": …}`
//! bodies; the engine maps it to tool results.

use agentry_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// 404 with this exact text.
    #[error("{0}")]
    NotFound(String),
    /// 409 with this exact text.
    #[error("{0}")]
    Conflict(String),
    /// 422: the text names the field or quotes the spec's message.
    #[error("{0}")]
    Invalid(String),
    /// 422 with `{"validation_errors": [...]}`.
    #[error("validation failed: {}", .0.join("; "))]
    ValidationErrors(Vec<String>),
    /// 400 with this exact text.
    #[error("{0}")]
    BadRequest(String),
    /// 401 with this exact text.
    #[error("{0}")]
    Unauthorized(String),
    /// 403 with this exact text.
    #[error("{0}")]
    Forbidden(String),
    /// 503: the database (or another dependency) is unreachable.
    #[error("{0}")]
    Unavailable(String),
    /// 500: a bug or an unexpected failure; the text is logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            ServiceError::Unavailable(format!("database unavailable: {e}"))
        } else {
            ServiceError::Internal(e.to_string())
        }
    }
}

impl ServiceError {
    pub fn invalid(field: &str, reason: impl std::fmt::Display) -> Self {
        ServiceError::Invalid(format!("{field}: {reason}"))
    }

    /// A store error, read as `Conflict(text)` when it is a unique-index violation: a
    /// concurrent request took the name between our check and our write.
    pub(crate) fn conflict_on_unique(e: StoreError, text: impl Into<String>) -> Self {
        if e.is_unique_violation() {
            ServiceError::Conflict(text.into())
        } else {
            e.into()
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
