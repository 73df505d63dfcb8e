//! What one WhatsApp customer may get from the bot: a token bucket against bursts (a flood waits, and is
//! answered a bounded number of messages per turn) and a daily cap (one number cannot use up the shop's monthly replies). The state
//! lives on the customer's own chat row, written in the turn's commit: no shared hot row.

use chrono::{DateTime, Utc};
use store::chats::Chat;

use crate::WorkerConfig;

/// Messages answered in one turn at most, oldest first: the next turn answers the rest (within the budget).
pub(super) const MAX_PENDING_PER_TURN: usize = 10;

/// What the customer's budget allows now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Budget {
    /// Answer; `credit_left` is the bucket after this reply.
    Answer { credit_left: f32 },
    /// The burst is spent: answer at `until` (the messages wait, and are answered together).
    WaitUntil(DateTime<Utc>),
    /// Today's replies reached the cap: leave the messages to the shop.
    DailyCapReached { cap: u32 },
}

pub(super) fn budget(chat: &Chat, config: &WorkerConfig, now: DateTime<Utc>) -> Budget {
    let cap = config.customer_replies_per_day.max(1);
    let today = now.date_naive();
    if chat.replies_day == Some(today)
        && chat.replies_on_day >= i32::try_from(cap).unwrap_or(i32::MAX)
    {
        return Budget::DailyCapReached { cap };
    }
    let burst = config.customer_reply_burst.max(1) as f32;
    let per_second = config.customer_replies_per_minute.max(1) as f32 / 60.0;
    let credit = match (chat.reply_credit, chat.credit_at) {
        (Some(credit), Some(at)) => {
            let elapsed = (now - at).num_milliseconds().max(0) as f32 / 1000.0;
            (credit + elapsed * per_second).min(burst)
        }
        _ => burst,
    };
    if credit >= 1.0 {
        Budget::Answer {
            credit_left: credit - 1.0,
        }
    } else {
        let wait_ms = ((1.0 - credit) / per_second * 1000.0).ceil() as i64;
        Budget::WaitUntil(now + chrono::Duration::milliseconds(wait_ms.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use schemas::Channel;
    use uuid::Uuid;

    use super::*;

    fn chat(
        credit: Option<f32>,
        at: Option<DateTime<Utc>>,
        on_day: i32,
        now: DateTime<Utc>,
    ) -> Chat {
        Chat {
            chat_id: Uuid::new_v4(),
            channel: Channel::Whatsapp,
            customer_jid: "2250700000000@s.whatsapp.net".into(),
            customer_name: String::new(),
            bot_paused_until: None,
            last_message_at: None,
            created_at: now,
            reply_credit: credit,
            credit_at: at,
            replies_day: Some(now.date_naive()),
            replies_on_day: on_day,
            ingested_seq: 0,
        }
    }

    #[test]
    fn a_new_customer_has_the_whole_burst() {
        let now = Utc::now();
        let config = WorkerConfig::for_tests();
        assert_eq!(
            budget(&chat(None, None, 0, now), &config, now),
            Budget::Answer { credit_left: 9.0 }
        );
    }

    #[test]
    fn a_spent_burst_waits_for_the_refill() {
        let now = Utc::now();
        let config = WorkerConfig::for_tests();
        // Two a minute: half a credit takes 15 s.
        match budget(&chat(Some(0.5), Some(now), 3, now), &config, now) {
            Budget::WaitUntil(until) => {
                assert!(
                    ((until - now) - Duration::seconds(15))
                        .num_milliseconds()
                        .abs()
                        < 10
                );
            }
            other => panic!("{other:?}"),
        }
        let later = now + Duration::seconds(30);
        assert!(matches!(
            budget(&chat(Some(0.5), Some(now), 3, now), &config, later),
            Budget::Answer { credit_left } if (credit_left - 0.5).abs() < 0.01
        ));
    }

    #[test]
    fn the_daily_cap_stops_answers_until_the_next_day() {
        let now = Utc::now();
        let config = WorkerConfig::for_tests();
        let capped = chat(Some(10.0), Some(now), 100, now);
        assert_eq!(
            budget(&capped, &config, now),
            Budget::DailyCapReached { cap: 100 }
        );
        let tomorrow = now + Duration::days(1);
        assert!(matches!(
            budget(&capped, &config, tomorrow),
            Budget::Answer { .. }
        ));
    }
}
