//! May the bot answer this shop's customers right now? And the usage counters that feed the reply limit.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use schemas::billing::SubscriptionStatus;
use serde::Serialize;

use crate::error::OptionalExt;
use crate::tenants::TenantStatus;
use crate::{PlatformTx, Result, TenantTx};

/// Why a shop's bot is silenced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SuspendReason {
    /// The platform operator suspended the shop (`tenant.status = 'suspended'`), whatever its subscription.
    ByOperator,
    /// The subscription expired and its grace period is over (or the expiry job already suspended it).
    Unpaid,
}

/// The worker's answer to "may the bot reply to a customer of this shop now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnswerPermission {
    /// The subscription is paid and the month's reply quota is not used up: answer.
    Allowed,
    /// The subscription expired but is within its grace period: answer, and the shop should be reminded to
    /// pay before `until`.
    GracePeriod { until: DateTime<Utc> },
    /// Do not answer: the shop is suspended (by the operator, or for non-payment). Data and dashboard stay.
    Suspended { reason: SuspendReason },
    /// Do not answer: this UTC month's bot replies reached the plan's `max_replies_per_month`.
    ReplyLimitReached { limit: i32 },
    /// Do not answer: the shop signed up but never paid (subscription `pending`) and its trial is over.
    NotPaid,
    /// The shop never paid but is within its free trial: answer until `until`, within the plan's limits.
    Trial { until: DateTime<Utc> },
}

impl AnswerPermission {
    /// Whether the bot may send a reply.
    pub fn is_allowed(&self) -> bool {
        matches!(
            self,
            AnswerPermission::Allowed
                | AnswerPermission::GracePeriod { .. }
                | AnswerPermission::Trial { .. }
        )
    }
}

/// First day of `now`'s UTC month: the key of `tenant_usage`.
pub fn month_start(now: DateTime<Utc>) -> NaiveDate {
    NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap_or(now.date_naive())
}

/// Decides whether the transaction's tenant may get a bot reply at `now`. Checks, in order: operator
/// suspension, never paid (answered during the trial only), suspended or past the grace period, the monthly reply limit, then the grace period.
///
/// The expiry job is the one authority that moves an expired subscription to `past_due` (it writes
/// `grace_until`) and then `suspended`; between its runs (a few minutes) an `active` subscription whose
/// `expires_at` just passed is still answered.
#[tracing::instrument(skip_all, fields(tenant_id = %tx.tenant_id()))]
pub async fn answer_permission(
    tx: &mut TenantTx<'_>,
    now: DateTime<Utc>,
) -> Result<AnswerPermission> {
    let state = sqlx::query!(
        r#"select t.status as "tenant_status: TenantStatus",
                  s.status as "sub_status?: SubscriptionStatus", s.grace_until as "grace_until?",
                  s.trial_ends_at as "trial_ends_at?",
                  p.max_replies_per_month, u.bot_replies as "bot_replies?"
           from tenant t
           join plan p on p.plan_code = t.plan_code
           left join subscription s on s.tenant_id = t.tenant_id
           left join tenant_usage_now u on u.tenant_id = t.tenant_id and u.month = $2
           where t.tenant_id = $1"#,
        tx.tenant_id(),
        month_start(now),
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()?;

    if state.tenant_status == TenantStatus::Suspended {
        return Ok(AnswerPermission::Suspended {
            reason: SuspendReason::ByOperator,
        });
    }
    let mut trial_until = None;
    let grace_until = match state.sub_status {
        None => return Ok(AnswerPermission::NotPaid),
        Some(SubscriptionStatus::Pending) => match state.trial_ends_at {
            Some(until) if now < until => {
                trial_until = Some(until);
                None
            }
            _ => return Ok(AnswerPermission::NotPaid),
        },
        Some(SubscriptionStatus::Suspended) => {
            return Ok(AnswerPermission::Suspended {
                reason: SuspendReason::Unpaid,
            });
        }
        Some(SubscriptionStatus::PastDue) => match state.grace_until {
            Some(until) if now < until => Some(until),
            _ => {
                return Ok(AnswerPermission::Suspended {
                    reason: SuspendReason::Unpaid,
                });
            }
        },
        Some(SubscriptionStatus::Active) => None,
    };
    if let Some(limit) = state.max_replies_per_month
        && state.bot_replies.unwrap_or(0) >= limit
    {
        return Ok(AnswerPermission::ReplyLimitReached { limit });
    }
    Ok(match (grace_until, trial_until) {
        (Some(until), _) => AnswerPermission::GracePeriod { until },
        (None, Some(until)) => AnswerPermission::Trial { until },
        (None, None) => AnswerPermission::Allowed,
    })
}

/// Why and since when the platform operator suspended the transaction's shop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OperatorSuspension {
    /// The operator's reason, shown to the shop.
    pub reason: String,
    pub since: DateTime<Utc>,
}

/// The operator's suspension of the transaction's shop, if it is suspended (`SuspendReason::ByOperator`).
/// A suspension or non-payment are different states: this one is lifted by the operator, never by paying.
pub async fn operator_suspension(tx: &mut TenantTx<'_>) -> Result<Option<OperatorSuspension>> {
    Ok(sqlx::query_as!(
        OperatorSuspension,
        r#"select coalesce(suspended_reason, 'motif non précisé') as "reason!",
                  coalesce(suspended_at, created_at) as "since!"
           from tenant where tenant_id = $1 and status = 'suspended'"#,
        tx.tenant_id(),
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// Counts one bot reply and its language-model tokens in `now`'s UTC month (in the worker's transaction
/// that stores the reply, so a rolled-back turn is not counted).
pub async fn record_bot_reply(
    tx: &mut TenantTx<'_>,
    now: DateTime<Utc>,
    tokens: Tokens,
) -> Result<()> {
    record_usage(tx, now, 1, 0, tokens).await
}

/// Counts a test-chat turn's language-model tokens, and the turn against the plan's test allowance when
/// the model answered it (it used tokens).
pub async fn record_test_turn(
    tx: &mut TenantTx<'_>,
    now: DateTime<Utc>,
    tokens: Tokens,
) -> Result<()> {
    let model_turns = i32::from(tokens.prompt > 0 || tokens.output > 0);
    record_usage(tx, now, 0, model_turns, tokens).await
}

/// This month's test-chat turns answered by the model, and the plan's allowance (`None`: unlimited).
pub async fn test_allowance(
    tx: &mut TenantTx<'_>,
    now: DateTime<Utc>,
) -> Result<(i32, Option<i32>)> {
    let row = sqlx::query!(
        r#"select coalesce(u.test_model_turns, 0) as "used!", p.max_test_turns_per_month
           from tenant t
           join plan p on p.plan_code = t.plan_code
           left join tenant_usage_now u on u.tenant_id = t.tenant_id and u.month = $2
           where t.tenant_id = $1"#,
        tx.tenant_id(),
        month_start(now),
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()?;
    Ok((row.used, row.max_test_turns_per_month))
}

/// A turn's language-model tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub prompt: i64,
    pub output: i64,
    /// Of the prompt tokens, those of customers' voice notes and photos.
    pub media: i64,
}

async fn record_usage(
    tx: &mut TenantTx<'_>,
    now: DateTime<Utc>,
    replies: i32,
    test_model_turns: i32,
    tokens: Tokens,
) -> Result<()> {
    sqlx::query!(
        "insert into usage_delta (tenant_id, month, bot_replies, test_model_turns, llm_prompt_tokens,
                                  llm_output_tokens, llm_media_tokens)
         values ($1, $2, $3, $4, $5, $6, $7)",
        tx.tenant_id(),
        month_start(now),
        replies,
        test_model_turns,
        tokens.prompt.max(0),
        tokens.output.max(0),
        tokens.media.max(0),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Counts one inbound customer message in `now`'s UTC month.
pub async fn record_inbound(tx: &mut TenantTx<'_>, now: DateTime<Utc>) -> Result<()> {
    sqlx::query!(
        "insert into usage_delta (tenant_id, month, inbound_messages) values ($1, $2, 1)",
        tx.tenant_id(),
        month_start(now),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Folds up to `limit` usage deltas (every shop's) into the monthly `tenant_usage` rows, in one statement: a
/// delta is counted either as itself or in its row, never both and never neither. Two folds at once do not
/// count a delta twice (the second finds it deleted). Returns how many deltas were folded.
pub async fn fold_usage(tx: &mut PlatformTx, limit: i64) -> Result<u64> {
    let folded = sqlx::query_scalar!(
        r#"with folded as (
             delete from usage_delta where (tenant_id, delta_id) in (
               select tenant_id, delta_id from usage_delta order by delta_id limit $1)
             returning *
           ), summed as (
             insert into tenant_usage (tenant_id, month, bot_replies, inbound_messages, test_model_turns,
                                       llm_prompt_tokens, llm_output_tokens, llm_media_tokens)
             select tenant_id, month, sum(bot_replies), sum(inbound_messages), sum(test_model_turns),
                    sum(llm_prompt_tokens), sum(llm_output_tokens), sum(llm_media_tokens)
             from folded group by tenant_id, month
             on conflict (tenant_id, month) do update set
               bot_replies = tenant_usage.bot_replies + excluded.bot_replies,
               inbound_messages = tenant_usage.inbound_messages + excluded.inbound_messages,
               test_model_turns = tenant_usage.test_model_turns + excluded.test_model_turns,
               llm_prompt_tokens = tenant_usage.llm_prompt_tokens + excluded.llm_prompt_tokens,
               llm_output_tokens = tenant_usage.llm_output_tokens + excluded.llm_output_tokens,
               llm_media_tokens = tenant_usage.llm_media_tokens + excluded.llm_media_tokens
           )
           select count(*) as "folded!" from folded"#,
        limit,
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(u64::try_from(folded).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn usage_month_is_the_first_day_of_the_utc_month() {
        for (now, expected) in [
            (Utc.with_ymd_and_hms(2026, 3, 31, 23, 59, 59), (2026, 3, 1)),
            (Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0), (2026, 4, 1)),
            (Utc.with_ymd_and_hms(2026, 12, 15, 12, 0, 0), (2026, 12, 1)),
        ] {
            let now = now.single().expect("valid date");
            let (y, m, d) = expected;
            assert_eq!(
                month_start(now),
                NaiveDate::from_ymd_opt(y, m, d).expect("date"),
                "month of {now}"
            );
        }
    }
}
