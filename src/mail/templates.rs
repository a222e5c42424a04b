//! The mails Comptoir sends, each three minijinja templates in `templates/mail/` (the subject,
//! the text body, the HTML body, auto-escaped), written in the recipient's language.

use std::time::Duration;

use anyhow::Context;
use lettre::message::Mailbox;
use minijinja::{Value, context};

use super::Mail;
use crate::{
    domain::Message,
    i18n::{self, Locale, templates},
};

/// Whom a mail is for, and in which language.
#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub locale: Locale,
}

/// A link to choose a new password, which works for `validity`.
pub fn reset_password(to: Recipient, link: &str, validity: Duration) -> anyhow::Result<Mail> {
    let validity = i18n::text(to.locale, &how_long(validity));
    render(
        "reset_password",
        to,
        &context! { name => to.name, link => link, validity => validity },
    )
}

/// A link that confirms the account's own address, which works for `validity`.
pub fn verify_email(to: Recipient, link: &str, validity: Duration) -> anyhow::Result<Mail> {
    let validity = i18n::text(to.locale, &how_long(validity));
    render(
        "verify_email",
        to,
        &context! { name => to.name, link => link, validity => validity },
    )
}

/// To the new address `to.email` of an account: a link that confirms it, which works for
/// `validity`; until then the account keeps its old address.
pub fn email_change_confirm(to: Recipient, link: &str, validity: Duration) -> anyhow::Result<Mail> {
    let validity = i18n::text(to.locale, &how_long(validity));
    render(
        "email_change_confirm",
        to,
        &context! { name => to.name, email => to.email, link => link, validity => validity },
    )
}

/// To the old address: someone asked to move the account to `new_email`.
pub fn email_change_notice(to: Recipient, new_email: &str) -> anyhow::Result<Mail> {
    render(
        "email_change_notice",
        to,
        &context! { name => to.name, email => new_email },
    )
}

/// The password was just changed, and every session ended.
pub fn password_changed(to: Recipient) -> anyhow::Result<Mail> {
    render("password_changed", to, &context! { name => to.name })
}

fn render(mail: &str, to: Recipient, context: &Value) -> anyhow::Result<Mail> {
    let part = |suffix: &str| {
        templates::render(&format!("mail/{mail}.{suffix}"), to.locale, context.clone())
            .with_context(|| format!("rendering the {mail} mail ({suffix})"))
    };
    let address = to
        .email
        .parse()
        .context("the account's email is not a mail address")?;
    Ok(Mail {
        to: Mailbox::new(Some(to.name.to_owned()), address),
        language: to.locale,
        subject: part("subject.txt")?.trim().to_owned(),
        text: part("txt")?,
        html: part("html")?,
    })
}

/// "1 hour", "90 minutes", "45 seconds": in the largest unit that says it exactly.
fn how_long(duration: Duration) -> Message {
    match duration.as_secs() {
        seconds if seconds % 3600 == 0 => {
            Message::new("mail-validity-hours").with("count", seconds / 3600)
        }
        seconds if seconds % 60 == 0 => {
            Message::new("mail-validity-minutes").with("count", seconds / 60)
        }
        seconds => Message::new("mail-validity-seconds").with("count", seconds),
    }
}

/// `text` safe inside HTML, for the pages still written in code.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to(locale: &str) -> Recipient<'static> {
        Recipient {
            name: "<Ada & Co>",
            email: "ada@example.com",
            locale: Locale::parse(locale).unwrap(),
        }
    }

    #[test]
    fn values_are_escaped_only_in_html() {
        let mail = reset_password(to("en"), "http://x/?a=1&b=2", Duration::from_hours(1)).unwrap();
        assert_eq!(mail.subject, "Reset your Comptoir password");
        assert!(mail.text.contains("Hello <Ada & Co>,"), "{}", mail.text);
        assert!(mail.text.contains("http://x/?a=1&b=2"));
        assert!(mail.text.contains("within 1 hour:"), "{}", mail.text);
        assert!(
            mail.html.contains("Hello &lt;Ada &amp; Co&gt;,"),
            "{}",
            mail.html
        );
        // minijinja also writes `/` as `&#x2f;`, which a browser reads back as `/`.
        assert!(mail.html.contains("?a=1&amp;b=2\">") && !mail.html.contains("a=1&b"));
        assert!(mail.html.contains("<html lang=\"en\">"));
    }

    #[test]
    fn every_mail_is_written_in_every_language() {
        for locale in Locale::all() {
            let to = Recipient { locale, ..to("en") };
            let mails = [
                reset_password(to, "http://x/", Duration::from_secs(90)).unwrap(),
                password_changed(to).unwrap(),
                verify_email(to, "http://x/", Duration::from_hours(24)).unwrap(),
                email_change_confirm(to, "http://x/", Duration::from_hours(24)).unwrap(),
                email_change_notice(to, "new@example.com").unwrap(),
            ];
            for mail in mails {
                assert_eq!(mail.language, locale);
                assert!(!mail.subject.is_empty() && !mail.subject.contains('\n'));
                for body in [&mail.subject, &mail.text, &mail.html] {
                    // A message missing from a language shows as its id.
                    assert!(!body.contains("mail-"), "{locale}: {body}");
                }
            }
        }
    }

    #[test]
    fn the_validity_is_said_in_the_recipients_language() {
        let fr = to("fr");
        let said = |seconds| {
            reset_password(fr, "http://x/", Duration::from_secs(seconds))
                .unwrap()
                .text
        };
        assert!(said(3600).contains("valable 1 heure :"), "{}", said(3600));
        assert!(said(7200).contains("valable 2 heures :"));
        assert!(said(5400).contains("valable 90 minutes :"));
        assert!(said(45).contains("valable 45 secondes :"));
        let mail = reset_password(fr, "http://x/", Duration::from_mins(1)).unwrap();
        assert_eq!(
            mail.subject,
            "Réinitialisation de votre mot de passe Comptoir"
        );
        assert!(mail.text.starts_with("Bonjour <Ada & Co>,"));
        assert!(mail.text.contains("valable 1 minute :"));
    }
}
