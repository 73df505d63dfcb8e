//! Outgoing e-mail (invitations, password resets) behind [`Mailer`]. In development the [`DevMailer`] writes
//! each message to the log and keeps the latest ones for the dashboard's dev-only outbox page; production
//! plugs an SMTP mailer in through [`crate::AppState::with_mailer`].

use std::collections::VecDeque;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// A plain-text message.
#[derive(Debug, Clone, PartialEq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// A sent message, as the dev outbox shows it.
#[derive(Debug, Clone)]
pub struct SentMail {
    pub mail: Mail,
    pub sent_at: DateTime<Utc>,
}

#[async_trait::async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one message; an error means it was not handed over (the caller tells the user).
    async fn send(&self, mail: Mail) -> anyhow::Result<()>;

    /// The latest messages, newest first, when this mailer keeps them (development only).
    fn outbox(&self) -> Option<Vec<SentMail>> {
        None
    }
}

/// How many messages the dev outbox keeps.
const OUTBOX_SIZE: usize = 50;

/// Development mailer: logs, and keeps the last messages in memory. Never used with `TDJ_ENV=production`.
#[derive(Default)]
pub struct DevMailer {
    sent: Mutex<VecDeque<SentMail>>,
}

#[async_trait::async_trait]
impl Mailer for DevMailer {
    async fn send(&self, mail: Mail) -> anyhow::Result<()> {
        tracing::info!(to = %mail.to, subject = %mail.subject, "dev mailer: message kept in the outbox (not sent)");
        let mut sent = self
            .sent
            .lock()
            .map_err(|_| anyhow::anyhow!("dev outbox lock poisoned"))?;
        sent.push_front(SentMail {
            mail,
            sent_at: Utc::now(),
        });
        sent.truncate(OUTBOX_SIZE);
        Ok(())
    }

    fn outbox(&self) -> Option<Vec<SentMail>> {
        self.sent
            .lock()
            .ok()
            .map(|sent| sent.iter().cloned().collect())
    }
}
