//! Mail templates: a subject, a text body and an HTML body per mail, kept as files beside this
//! one. `{{name}}`-style placeholders are filled in, HTML-escaped in the HTML body.

use lettre::message::Mailbox;

use super::Mail;

pub struct Template {
    subject: &'static str,
    text: &'static str,
    html: &'static str,
}

pub const RESET_PASSWORD: Template = Template {
    subject: include_str!("templates/reset_password.subject"),
    text: include_str!("templates/reset_password.txt"),
    html: include_str!("templates/reset_password.html"),
};

pub const PASSWORD_CHANGED: Template = Template {
    subject: include_str!("templates/password_changed.subject"),
    text: include_str!("templates/password_changed.txt"),
    html: include_str!("templates/password_changed.html"),
};

impl Template {
    pub fn render(&self, to: Mailbox, values: &[(&str, &str)]) -> Mail {
        let fill = |template: &str, escape: fn(&str) -> String| {
            values
                .iter()
                .fold(template.to_owned(), |text, (name, value)| {
                    text.replace(&format!("{{{{{name}}}}}"), &escape(value))
                })
        };
        Mail {
            to,
            subject: fill(self.subject.trim(), str::to_owned),
            text: fill(self.text, str::to_owned),
            html: fill(self.html, escape_html),
        }
    }
}

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

    #[test]
    fn values_are_filled_in_and_escaped_only_in_html() {
        let to: Mailbox = "ada@example.com".parse().unwrap();
        let mail = RESET_PASSWORD.render(
            to,
            &[
                ("name", "<Ada & Co>"),
                ("link", "http://x/?a=1&b=2"),
                ("validity", "60 minutes"),
            ],
        );
        assert_eq!(mail.subject, "Reset your Comptoir password");
        assert!(mail.text.contains("Hello <Ada & Co>,") && mail.text.contains("http://x/?a=1&b=2"));
        assert!(
            mail.html.contains("Hello &lt;Ada &amp; Co&gt;,")
                && mail.html.contains("href=\"http://x/?a=1&amp;b=2\"")
        );
        assert!(!mail.text.contains("{{") && !mail.html.contains("{{"));
    }
}
