//! `?limit=&offset=` for list endpoints.

use serde::Deserialize;

use crate::validate::Check;
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    /// Default 0.
    pub offset: Option<i64>,
}

impl Page {
    /// Validated `(limit, offset)`.
    pub fn bounds(self) -> Result<(i64, i64)> {
        let (limit, offset) = (self.limit.unwrap_or(50), self.offset.unwrap_or(0));
        let mut check = Check::default();
        check.range_i64("limit", limit, 1, 200, "limit doit être entre 1 et 200.");
        check.range_i64("offset", offset, 0, i64::MAX, "offset doit être positif.");
        check.finish()?;
        Ok((limit, offset))
    }
}

/// Query-string rejections in the API's format.
pub fn bad_query(_: axum::extract::rejection::QueryRejection) -> Error {
    Error::BadRequest("Paramètres de requête invalides.".into())
}

/// A malformed id cannot name anything: the same 404 as an unknown one.
pub fn parse_id(id: &str, not_found: Error) -> Result<uuid::Uuid> {
    uuid::Uuid::parse_str(id).map_err(|_| not_found)
}
