//! What an operator-suspended shop is refused, and why it is told: a test chat that would answer while
//! customers get silence, a payment that would not lift the suspension. Non-payment is another state, with
//! another message (paying is the way out there).

use store::TenantCtx;

use crate::{AppState, Error, Result};

/// What the shop was trying to do.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Refused {
    /// The "test your bot" chat (`POST /api/v1/simulator/messages`).
    TestChat,
    /// A checkout.
    Payment,
}

/// `Error::ShopSuspended` (403, in French, with the operator's reason and whom to contact) when the platform
/// operator suspended the shop; `Ok` otherwise.
pub(crate) async fn refuse_if_suspended(
    state: &AppState,
    ctx: TenantCtx,
    what: Refused,
) -> Result<()> {
    let mut tx = state.db.tenant(ctx).await?;
    let suspension = store::billing::operator_suspension(&mut tx).await?;
    tx.commit().await?;
    let Some(suspension) = suspension else {
        return Ok(());
    };
    let reason = suspension.reason;
    Err(Error::ShopSuspended(match what {
        Refused::TestChat => format!(
            "Votre boutique est suspendue par l'équipe Tdjaasa (motif : {reason}). Le bot ne répond plus, ni à \
             vos clients WhatsApp ni dans le test. Contactez l'équipe Tdjaasa pour la réactiver."
        ),
        Refused::Payment => format!(
            "Paiement impossible : votre boutique est suspendue par l'équipe Tdjaasa (motif : {reason}). Un \
             paiement ne lèverait pas cette suspension : contactez l'équipe Tdjaasa, qui seule peut la lever. \
             Aucun montant n'a été débité."
        ),
    }))
}
