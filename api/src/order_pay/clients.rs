//! The provider clients of one shop, made from its own sealed credentials (none without an account).

use secrecy::ExposeSecret;
use store::TenantCtx;
use store::shop_payments::{self, Credentials, MerchantProvider};

use crate::billing::providers::orange_money::OrangeMoney;
use crate::billing::providers::wave::Wave;
use crate::{AppState, Result};

/// The shop's credentials at `provider`, opened with its data key; no key is opened (or made) without an
/// account.
async fn credentials(
    state: &AppState,
    ctx: TenantCtx,
    provider: MerchantProvider,
) -> Result<Option<Credentials>> {
    let mut tx = state.db.tenant(ctx).await?;
    if shop_payments::settings(&mut tx)
        .await?
        .account(provider)
        .is_none()
    {
        return Ok(None);
    }
    let key = state.master_key()?.data_key(&mut tx).await?;
    let credentials = shop_payments::credentials(&mut tx, &key, provider).await?;
    tx.commit().await?;
    Ok(credentials)
}

/// A Wave client with the shop's own key, if it has a Wave account.
pub(crate) async fn wave(state: &AppState, ctx: TenantCtx) -> Result<Option<Wave>> {
    Ok(
        match credentials(state, ctx, MerchantProvider::Wave).await? {
            Some(Credentials::Wave(c)) => {
                Some(state.billing.merchant_wave(c.api_key, c.webhook_secret))
            }
            _ => None,
        },
    )
}

/// An Orange Money client with the shop's own credentials, if it has an Orange Money account.
pub(crate) async fn orange_money(state: &AppState, ctx: TenantCtx) -> Result<Option<OrangeMoney>> {
    Ok(
        match credentials(state, ctx, MerchantProvider::OrangeMoney).await? {
            Some(Credentials::OrangeMoney(c)) => Some(state.billing.merchant_orange_money(
                c.client_id.expose_secret().to_owned(),
                c.client_secret,
                c.merchant_key,
            )),
            _ => None,
        },
    )
}
