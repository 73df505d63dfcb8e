//! How a shop's customers pay their orders: the shop's own merchant accounts at Wave and Orange Money, and
//! payment on delivery. Credentials are one JSON document sealed with the shop's data key under the purpose
//! `payments/<provider>`; only a short hint of them is ever read back without the key. [`credentials`] is the
//! one way to open them (checkout links, per-shop webhooks).

use chrono::{DateTime, Utc};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::crypto::DataKey;
use crate::{Error, Result, TenantTx};

/// A provider a shop can hold a merchant account with, to be paid by its customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MerchantProvider {
    Wave,
    OrangeMoney,
}

impl MerchantProvider {
    pub const ALL: [MerchantProvider; 2] = [MerchantProvider::Wave, MerchantProvider::OrangeMoney];

    /// The stored word (`shop_payment_account.provider`).
    pub fn as_str(self) -> &'static str {
        match self {
            MerchantProvider::Wave => "wave",
            MerchantProvider::OrangeMoney => "orange_money",
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == word)
    }

    /// The name shown to shops.
    pub fn label(self) -> &'static str {
        match self {
            MerchantProvider::Wave => "Wave",
            MerchantProvider::OrangeMoney => "Orange Money",
        }
    }

    /// The sealing purpose: binds a blob to its provider, so Wave's blob never opens as Orange Money's.
    fn purpose(self) -> String {
        format!("payments/{}", self.as_str())
    }
}

impl std::fmt::Display for MerchantProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Wave Business merchant account (reference/external-apis.md §1).
pub struct WaveCredentials {
    /// `Authorization: Bearer <api_key>` on every API call (`wave_ci_prod_…`).
    pub api_key: SecretString,
    /// The webhook secret (`wave_ci_WHS_…`) that authenticates Wave's notifications to this shop.
    pub webhook_secret: SecretString,
}

/// An Orange Money WebPay merchant account (reference/external-apis.md §2).
pub struct OrangeMoneyCredentials {
    /// OAuth2 client id and secret, exchanged for a bearer token.
    pub client_id: SecretString,
    pub client_secret: SecretString,
    /// Sent with each web payment.
    pub merchant_key: SecretString,
}

/// One provider's credentials.
pub enum Credentials {
    Wave(WaveCredentials),
    OrangeMoney(OrangeMoneyCredentials),
}

impl std::fmt::Debug for WaveCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaveCredentials")
            .field("hint", &hint_of(self.api_key.expose_secret()))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for OrangeMoneyCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrangeMoneyCredentials")
            .field("hint", &hint_of(self.client_id.expose_secret()))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Wave(c) => c.fmt(f),
            Credentials::OrangeMoney(c) => c.fmt(f),
        }
    }
}

/// The last 4 characters of an identifier of 8 or more (a shorter one shows nothing).
fn hint_of(value: &str) -> String {
    let count = value.chars().count();
    if count < 8 {
        return String::new();
    }
    value.chars().skip(count - 4).collect()
}

impl Credentials {
    pub fn provider(&self) -> MerchantProvider {
        match self {
            Credentials::Wave(_) => MerchantProvider::Wave,
            Credentials::OrangeMoney(_) => MerchantProvider::OrangeMoney,
        }
    }

    /// What the dashboard shows (`••••1234`): the end of the Wave key or of the Orange client id.
    pub fn hint(&self) -> String {
        match self {
            Credentials::Wave(c) => hint_of(c.api_key.expose_secret()),
            Credentials::OrangeMoney(c) => hint_of(c.client_id.expose_secret()),
        }
    }

    fn to_json(&self) -> Result<Zeroizing<Vec<u8>>> {
        let sealed = match self {
            Credentials::Wave(c) => Sealed::Wave {
                api_key: c.api_key.expose_secret().to_owned(),
                webhook_secret: c.webhook_secret.expose_secret().to_owned(),
            },
            Credentials::OrangeMoney(c) => Sealed::OrangeMoney {
                client_id: c.client_id.expose_secret().to_owned(),
                client_secret: c.client_secret.expose_secret().to_owned(),
                merchant_key: c.merchant_key.expose_secret().to_owned(),
            },
        };
        serde_json::to_vec(&sealed)
            .map(Zeroizing::new)
            .map_err(|e| Error::Internal(anyhow::Error::new(e).context("credentials to JSON")))
    }

    fn from_json(provider: MerchantProvider, json: &[u8]) -> Result<Self> {
        // Never say why parsing failed: serde's message may quote the secret.
        let sealed: Sealed = serde_json::from_slice(json).map_err(|_| Error::Crypto)?;
        let credentials = match sealed {
            Sealed::Wave {
                api_key,
                webhook_secret,
            } => Credentials::Wave(WaveCredentials {
                api_key: api_key.into(),
                webhook_secret: webhook_secret.into(),
            }),
            Sealed::OrangeMoney {
                client_id,
                client_secret,
                merchant_key,
            } => Credentials::OrangeMoney(OrangeMoneyCredentials {
                client_id: client_id.into(),
                client_secret: client_secret.into(),
                merchant_key: merchant_key.into(),
            }),
        };
        if credentials.provider() != provider {
            return Err(Error::Crypto);
        }
        Ok(credentials)
    }
}

/// The sealed document. Only ever built to be sealed, or opened to be turned into [`Credentials`] at once.
#[derive(Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case")]
enum Sealed {
    Wave {
        api_key: String,
        webhook_secret: String,
    },
    OrangeMoney {
        client_id: String,
        client_secret: String,
        merchant_key: String,
    },
}

/// A configured account as anyone may see it: never a secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountSummary {
    pub provider: MerchantProvider,
    /// The last 4 characters of the Wave API key or the Orange Money client id (`""` for a short one).
    pub hint: String,
    /// Offered to customers.
    pub enabled: bool,
    /// When the provider last accepted these credentials in a live call.
    pub verified_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// The shop's payment settings, without secrets.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PaymentSettings {
    /// Customers may pay in cash on delivery (on by default).
    pub cash_on_delivery: bool,
    /// An unconfirmed order whose payment link expired unpaid is cancelled, its stock sold again (off by
    /// default: the order then waits for its confirmation hold).
    pub release_on_link_expiry: bool,
    /// The configured merchant accounts, Wave first.
    pub accounts: Vec<AccountSummary>,
}

impl PaymentSettings {
    pub fn account(&self, provider: MerchantProvider) -> Option<&AccountSummary> {
        self.accounts.iter().find(|a| a.provider == provider)
    }
}

fn provider_from(stored: &str) -> Result<MerchantProvider> {
    MerchantProvider::parse(stored).ok_or_else(|| {
        Error::Internal(anyhow::anyhow!(
            "unknown payment provider {stored:?} in shop_payment_account"
        ))
    })
}

/// The shop's settings: payment on delivery and each configured account's hint.
pub async fn settings(tx: &mut TenantTx<'_>) -> Result<PaymentSettings> {
    let tenant_id = tx.tenant_id();
    let switches = sqlx::query!(
        r#"select coalesce(s.cash_on_delivery, true) as "cash_on_delivery!",
                  coalesce(s.release_on_link_expiry, false) as "release_on_link_expiry!"
           from (select 1) one left join shop_payment_setting s on s.tenant_id = $1"#,
        tenant_id,
    )
    .fetch_one(&mut **tx)
    .await?;
    let rows = sqlx::query!(
        "select provider, hint, enabled, verified_at, updated_at
         from shop_payment_account where tenant_id = $1",
        tenant_id,
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut accounts = rows
        .into_iter()
        .map(|row| {
            Ok(AccountSummary {
                provider: provider_from(&row.provider)?,
                hint: row.hint,
                enabled: row.enabled,
                verified_at: row.verified_at,
                updated_at: row.updated_at,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    accounts.sort_by_key(|a| MerchantProvider::ALL.iter().position(|p| *p == a.provider));
    Ok(PaymentSettings {
        cash_on_delivery: switches.cash_on_delivery,
        release_on_link_expiry: switches.release_on_link_expiry,
        accounts,
    })
}

/// Seals and stores the shop's account at `credentials`' provider, replacing the previous one. The caller has
/// checked the credentials with the provider at `verified_at`.
pub async fn save_account(
    tx: &mut TenantTx<'_>,
    key: &DataKey,
    credentials: &Credentials,
    enabled: bool,
    verified_at: Option<DateTime<Utc>>,
) -> Result<AccountSummary> {
    if key.tenant_id() != tx.tenant_id() {
        return Err(Error::Crypto);
    }
    let provider = credentials.provider();
    let sealed = key.seal(&provider.purpose(), &credentials.to_json()?)?;
    let row = sqlx::query!(
        "insert into shop_payment_account (tenant_id, provider, sealed_credentials, hint, enabled, verified_at)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (tenant_id, provider) do update
           set sealed_credentials = excluded.sealed_credentials, hint = excluded.hint,
               enabled = excluded.enabled, verified_at = excluded.verified_at, updated_at = now()
         returning hint, enabled, verified_at, updated_at",
        tx.tenant_id(),
        provider.as_str(),
        sealed,
        credentials.hint(),
        enabled,
        verified_at,
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(AccountSummary {
        provider,
        hint: row.hint,
        enabled: row.enabled,
        verified_at: row.verified_at,
        updated_at: row.updated_at,
    })
}

/// The shop's credentials at `provider`, opened with its data key; `None` when it has no account there. Opens
/// a disabled account too: a payment started before it was paused still needs its webhook secret.
pub async fn credentials(
    tx: &mut TenantTx<'_>,
    key: &DataKey,
    provider: MerchantProvider,
) -> Result<Option<Credentials>> {
    if key.tenant_id() != tx.tenant_id() {
        return Err(Error::Crypto);
    }
    let sealed = sqlx::query_scalar!(
        "select sealed_credentials from shop_payment_account where tenant_id = $1 and provider = $2",
        tx.tenant_id(),
        provider.as_str(),
    )
    .fetch_optional(&mut **tx)
    .await?;
    let Some(sealed) = sealed else {
        return Ok(None);
    };
    let json = Zeroizing::new(key.open(&provider.purpose(), &sealed)?);
    Credentials::from_json(provider, &json).map(Some)
}

/// Deletes the shop's account at `provider`: `NotFound` when there was none.
pub async fn remove_account(tx: &mut TenantTx<'_>, provider: MerchantProvider) -> Result<()> {
    let removed = sqlx::query!(
        "delete from shop_payment_account where tenant_id = $1 and provider = $2",
        tx.tenant_id(),
        provider.as_str(),
    )
    .execute(&mut **tx)
    .await?;
    if removed.rows_affected() == 0 {
        return Err(Error::NotFound);
    }
    Ok(())
}

/// Offers payment on delivery, or stops offering it.
pub async fn set_release_on_link_expiry(tx: &mut TenantTx<'_>, enabled: bool) -> Result<()> {
    sqlx::query!(
        "insert into shop_payment_setting (tenant_id, release_on_link_expiry) values ($1, $2)
         on conflict (tenant_id) do update
           set release_on_link_expiry = excluded.release_on_link_expiry, updated_at = now()",
        tx.tenant_id(),
        enabled,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn set_cash_on_delivery(tx: &mut TenantTx<'_>, enabled: bool) -> Result<()> {
    sqlx::query!(
        "insert into shop_payment_setting (tenant_id, cash_on_delivery) values ($1, $2)
         on conflict (tenant_id) do update set cash_on_delivery = excluded.cash_on_delivery, updated_at = now()",
        tx.tenant_id(),
        enabled,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wave() -> Credentials {
        Credentials::Wave(WaveCredentials {
            api_key: "wave_ci_prod_secretsecret1234".into(),
            webhook_secret: "wave_ci_WHS_hooksecret".into(),
        })
    }

    #[test]
    fn debug_output_shows_the_hint_and_never_a_secret() {
        let printed = format!("{:?}", wave());
        assert!(printed.contains("1234"), "{printed}");
        assert!(!printed.contains("secretsecret"), "{printed}");
        assert!(!printed.contains("hooksecret"), "{printed}");
    }

    #[test]
    fn credentials_read_back_only_as_their_own_provider() {
        let json = wave().to_json().expect("json");
        let back = Credentials::from_json(MerchantProvider::Wave, &json).expect("wave");
        assert_eq!(back.hint(), "1234");
        assert!(matches!(
            Credentials::from_json(MerchantProvider::OrangeMoney, &json),
            Err(Error::Crypto)
        ));
    }

    #[test]
    fn a_short_identifier_gives_no_hint() {
        assert_eq!(hint_of("abc1234"), "");
        assert_eq!(hint_of("abcd1234"), "1234");
    }
}
