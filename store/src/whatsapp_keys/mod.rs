//! The WhatsApp linked-device state of each tenant (migration 0005): [`wa_kv`], the sealed key-value rows of
//! the Signal and app-state stores, and [`wa_device`], the sealed device credentials.
//!
//! The ingress's `PgSessionStore` implements whatsapp-rust's storage traits on these functions. It seals every
//! value and hashes every row key that could name a person before calling them, so this module only ever
//! sees ciphertexts and HMACs; every function takes the tenant's [`TenantTx`], so row-level security confines
//! it to one tenant.

pub mod wa_device;
pub mod wa_kv;

use crate::{Error, Result, TenantTx};

/// Deletes every session row of the tenant (device, keys, sessions, buffers), for logout or re-linking.
pub async fn wipe(tx: &mut TenantTx<'_>) -> Result<()> {
    let tenant_id = tx.tenant_id();
    sqlx::query!("delete from wa_kv where tenant_id = $1", tenant_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query!("delete from wa_device where tenant_id = $1", tenant_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Whether `error` means PostgreSQL could not be reached (pool exhausted or closed, I/O, TLS) rather than
/// that a statement failed: whatsapp-rust treats the former as a connection problem.
pub fn is_unreachable(error: &Error) -> bool {
    matches!(
        error,
        Error::Database(
            sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
        )
    )
}
