//! Outgoing mail: lettre over SMTP (pooled, async), or the log when no `SMTP_URL` is set so that
//! a developer can follow a reset link locally.

pub mod templates;

use std::time::Duration;

use anyhow::Context;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
};

use crate::config::MailSettings;

/// A rendered mail, ready to go.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Mailbox,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
}

impl Mailer {
    pub fn new(settings: &MailSettings) -> anyhow::Result<Self> {
        let transport = match &settings.smtp_url {
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .context("SMTP_URL is not a valid SMTP URL")?
                    .timeout(Some(Duration::from_secs(10)))
                    .build(),
            ),
            None => None,
        };
        Ok(Self {
            from: settings.from.clone(),
            transport,
        })
    }

    pub async fn send(&self, mail: Mail) -> anyhow::Result<()> {
        let Some(transport) = &self.transport else {
            tracing::info!(
                to = %mail.to,
                subject = %mail.subject,
                body = %mail.text,
                "mail not sent because SMTP_URL is unset; here it is"
            );
            return Ok(());
        };
        let message = Message::builder()
            .from(self.from.clone())
            .to(mail.to)
            .subject(mail.subject)
            .multipart(MultiPart::alternative_plain_html(mail.text, mail.html))
            .context("building the mail")?;
        transport
            .send(message)
            .await
            .context("sending the mail over SMTP")?;
        Ok(())
    }
}
