//! Outgoing mail: lettre over SMTP (pooled, async), or the log when no `SMTP_URL` is set so that
//! a developer can follow a reset link locally. Each mail is rendered from its templates
//! (`templates`) in its recipient's own language, whoever caused it to be sent.

pub mod templates;

use std::time::Duration;

use anyhow::Context;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{
        Body, Mailbox, MultiPart, SinglePart,
        header::{ContentTransferEncoding, HeaderName, HeaderValue},
    },
};

use crate::{config::MailSettings, i18n::Locale};

/// A rendered mail, ready to go.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Mailbox,
    /// The language it is written in, sent as `Content-Language`.
    pub language: Locale,
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
        let readable = message(&self.from, &mail, readable_as_sent(&mail.text))?;
        match transport.send(readable).await {
            // The server takes only 7-bit mail (no 8BITMIME): lettre refused before sending
            // anything, so send it again in the encoding lettre picks.
            Err(err) if err.is_client() => {
                let encoded = message(&self.from, &mail, Body::new(mail.text.clone()))?;
                transport.send(encoded).await
            }
            sent => sent,
        }
        .context("sending the mail over SMTP")?;
        Ok(())
    }
}

fn message(from: &Mailbox, mail: &Mail, text: Body) -> anyhow::Result<Message> {
    Message::builder()
        .from(from.clone())
        .to(mail.to.clone())
        .subject(mail.subject.clone())
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Content-Language"),
            mail.language.as_str().to_owned(),
        ))
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::plain(text))
                .singlepart(SinglePart::html(mail.html.clone())),
        )
        .context("building the mail")
}

/// The text part as it is, in 7 or 8 bits, so that a link stays one unbroken line that a
/// reader of the raw mail can copy: lettre would choose quoted-printable or base64 for a line
/// over 76 characters, cutting the link and writing its `=` as `=3D`. SMTP allows 998 bytes a
/// line; a text with longer lines, or a NUL, gets lettre's own choice. 8 bits need the
/// server's 8BITMIME, which every common server offers; `send` falls back without it.
fn readable_as_sent(text: &str) -> Body {
    const MAX_LINE_BYTES: usize = 998;
    let text = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let fits = text
        .split("\r\n")
        .all(|line| line.len() <= MAX_LINE_BYTES && !line.contains(['\r', '\0']));
    if !fits {
        return Body::new(text);
    }
    let encoding = if text.is_ascii() {
        ContentTransferEncoding::SevenBit
    } else {
        ContentTransferEncoding::EightBit
    };
    Body::dangerous_pre_encoded(text.into_bytes(), encoding)
}
