//! Pagination rules shared by every list endpoint (api.md §1).

use serde::{Deserialize, Serialize};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// `limit` (default 50; more than 500 acts as 500) and `offset` (default 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: i64,
    pub offset: i64,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

/// A negative limit or offset; the caller turns it into a 422 naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} must be greater than or equal to 0")]
pub struct NegativePageField {
    pub field: &'static str,
}

impl PageRequest {
    pub fn new(limit: Option<i64>, offset: Option<i64>) -> Result<Self, NegativePageField> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        let offset = offset.unwrap_or(0);
        if limit < 0 {
            return Err(NegativePageField { field: "limit" });
        }
        if offset < 0 {
            return Err(NegativePageField { field: "offset" });
        }
        Ok(Self {
            limit: limit.min(MAX_LIMIT),
            offset,
        })
    }
}

/// `{"items": [...], "total": N}`, `total` counted before limit/offset.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_clamps() {
        assert_eq!(
            PageRequest::new(None, None),
            Ok(PageRequest {
                limit: 50,
                offset: 0
            })
        );
        assert_eq!(
            PageRequest::new(Some(10_000), Some(3)),
            Ok(PageRequest {
                limit: 500,
                offset: 3
            })
        );
        assert_eq!(
            PageRequest::new(Some(-1), None),
            Err(NegativePageField { field: "limit" })
        );
        assert_eq!(
            PageRequest::new(None, Some(-5)),
            Err(NegativePageField { field: "offset" })
        );
    }
}
