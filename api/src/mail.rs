//! Outgoing e-mail (invitations, password resets) behind [`Mailer`]. In development the [`DevMailer`] writes
//! each message to the log and keeps the latest ones for the dashboard's dev-only outbox page; production
//! plugs the [`SmtpMailer`] in through [`crate::AppState::with_mailer`] ([`mailer_from_config`] picks one).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

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

fn parse_secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s.to_owned()))
}

/// Outgoing e-mail settings.
#[derive(Debug, Clone, clap::Args)]
pub struct MailConfig {
    /// SMTP server for invitations and password resets, with its credentials:
    /// `smtps://user:password@smtp.example.com:465` (TLS from the first byte) or
    /// `smtp://user:password@smtp.example.com:587?tls=required` (STARTTLS). Unset: the development mailer
    /// keeps messages in the dev outbox page instead of sending them (refused with `TDJ_ENV=production`).
    #[arg(long, env = "SMTP_URL", value_parser = parse_secret, hide_env_values = true)]
    pub smtp_url: Option<SecretString>,
    /// The sender of those e-mails, e.g. `Tdjaasa <no-reply@tdjaasa.ci>`.
    #[arg(
        long,
        env = "MAIL_FROM",
        default_value = "Tdjaasa <no-reply@tdjaasa.local>"
    )]
    pub mail_from: String,
}

/// How long one SMTP exchange may take before the message is reported as not sent.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

/// The SMTP mailer when `SMTP_URL` is set; otherwise the development mailer, which production refuses
/// (invitations and reset links would never leave the server).
pub fn mailer_from_config(
    config: &MailConfig,
    production: bool,
) -> anyhow::Result<Arc<dyn Mailer>> {
    match &config.smtp_url {
        Some(url) => Ok(Arc::new(SmtpMailer::new(url, &config.mail_from)?)),
        None if production => anyhow::bail!(
            "TDJ_ENV=production needs SMTP_URL (e.g. smtps://user:password@smtp.example.com:465): without it, \
             invitations and password-reset e-mails would never be sent"
        ),
        None => Ok(Arc::new(DevMailer::default())),
    }
}

/// Sends through an SMTP server (lettre, rustls, a small connection pool). Built inside the Tokio runtime
/// (the pool runs a task of its own).
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    /// Checks the URL and the sender; connects only when the first message is sent.
    pub fn new(url: &SecretString, from: &str) -> anyhow::Result<Self> {
        // The URL holds the password: the error never repeats it.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
            .map_err(|_| {
                anyhow::anyhow!(
                    "SMTP_URL is not an SMTP URL (smtps://user:password@host:465 or smtp://user:password@host:587?tls=required)"
                )
            })?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        let from = from
            .parse::<Mailbox>()
            .with_context(|| format!("MAIL_FROM {from:?} is not an e-mail address"))?;
        Ok(Self { transport, from })
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: Mail) -> anyhow::Result<()> {
        let to = mail
            .to
            .parse::<Mailbox>()
            .context("recipient is not an e-mail address")?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.text)
            .context("cannot build the message")?;
        self.transport
            .send(message)
            .await
            .context("the SMTP server refused the message or could not be reached")?;
        tracing::info!(to = %mail.to, "e-mail handed to the SMTP server");
        Ok(())
    }
}

/// The web addresses in a message's text (the invitation or reset link), for the dev outbox page.
pub fn links_in(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|word| word.starts_with("http://") || word.starts_with("https://"))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    use super::*;

    /// A one-connection SMTP server on loopback that accepts one message and returns what it received.
    async fn fake_smtp_server() -> (u16, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.expect("accept");
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            let mut received = String::new();
            write.write_all(b"220 fake ESMTP\r\n").await.expect("greet");
            let mut in_data = false;
            while let Ok(Some(line)) = lines.next_line().await {
                if in_data {
                    if line == "." {
                        in_data = false;
                        write.write_all(b"250 queued\r\n").await.expect("queued");
                    } else {
                        received.push_str(&line);
                        received.push('\n');
                    }
                    continue;
                }
                let verb = line
                    .split(' ')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_uppercase();
                let reply: &[u8] = match verb.as_str() {
                    "EHLO" | "HELO" => b"250 fake\r\n",
                    "DATA" => {
                        in_data = true;
                        b"354 go on\r\n"
                    }
                    "QUIT" => {
                        write.write_all(b"221 bye\r\n").await.expect("bye");
                        break;
                    }
                    _ => b"250 ok\r\n",
                };
                write.write_all(reply).await.expect("reply");
            }
            received
        });
        (port, server)
    }

    #[tokio::test]
    async fn the_smtp_mailer_hands_a_plain_text_utf8_message_to_the_server() {
        // Arrange
        let (port, server) = fake_smtp_server().await;
        let url = SecretString::from(format!("smtp://127.0.0.1:{port}"));
        let mailer = SmtpMailer::new(&url, "Tdjaasa <no-reply@tdjaasa.ci>").expect("mailer");

        // Act
        mailer
            .send(Mail {
                to: "awa@example.ci".into(),
                subject: "Réinitialiser votre mot de passe".into(),
                text: "Ouvrez ce lien : http://127.0.0.1/password/reset/abc".into(),
            })
            .await
            .expect("sent");
        drop(mailer);

        // Assert
        let received = tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("server done")
            .expect("server task");
        assert!(received.contains("To: awa@example.ci"), "{received}");
        assert!(
            received.contains("From: Tdjaasa <no-reply@tdjaasa.ci>"),
            "{received}"
        );
        assert!(received.contains("text/plain; charset=utf-8"), "{received}");
        assert!(
            received.contains("Subject: =?utf-8?"),
            "the accented subject is encoded: {received}"
        );
    }

    #[tokio::test]
    async fn production_without_smtp_refuses_to_start_and_development_keeps_an_outbox() {
        let config = MailConfig {
            smtp_url: None,
            mail_from: "Tdjaasa <no-reply@tdjaasa.ci>".into(),
        };
        let refused = mailer_from_config(&config, true).err().expect("refused");
        assert!(refused.to_string().contains("SMTP_URL"), "{refused}");
        let dev = mailer_from_config(&config, false).expect("dev mailer");
        assert!(dev.outbox().is_some(), "the dev mailer keeps an outbox");
        let smtp = MailConfig {
            smtp_url: Some(SecretString::from(
                "smtps://u:secret-pass@smtp.example.ci:465".to_owned(),
            )),
            ..config
        };
        let mailer = mailer_from_config(&smtp, true).expect("smtp mailer");
        assert!(mailer.outbox().is_none(), "no outbox page in production");
    }

    #[tokio::test]
    async fn a_bad_smtp_url_is_refused_without_repeating_its_password() {
        let error = SmtpMailer::new(
            &SecretString::from("nonsense://u:hunter22@x".to_owned()),
            "a@b.ci",
        )
        .err()
        .expect("refused");
        assert!(!format!("{error:#}").contains("hunter22"), "{error:#}");
    }

    #[test]
    fn links_are_picked_out_of_a_message() {
        assert_eq!(
            links_in("Ouvrez ce lien :\nhttp://127.0.0.1:8080/invitation/abc\n\nMerci"),
            ["http://127.0.0.1:8080/invitation/abc"]
        );
    }
}
