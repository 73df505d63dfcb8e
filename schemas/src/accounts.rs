//! Account values shared by the store (`app_user.role`, `invitation.role`, feature `sqlx`) and the REST API (JSON,
//! and the OpenAPI document with feature `openapi`).

use serde::{Deserialize, Serialize};

/// What a member may do in the shop; a platform administrator belongs to the platform's own tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[cfg_attr(feature = "sqlx", sqlx(type_name = "text", rename_all = "snake_case"))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    Owner,
    Staff,
    PlatformAdmin,
}

words!(Role {
    Owner => "owner",
    Staff => "staff",
    PlatformAdmin => "platform_admin",
});
