//! Mails and pages as minijinja templates (`templates/`), HTML auto-escaped in `.html` files.
//! A template holds the layout; its sentences come from the translation files through
//! `t("message-id", name=value, …)`, in the language given as `locale` in its context, so a
//! new language needs no new template.

use std::{collections::HashMap, sync::LazyLock};

use fluent_templates::fluent_bundle::FluentValue;
use minijinja::{Environment, State, Value, value::Kwargs};

use super::Locale;

/// Every template, by name (its path under `templates/`): embedded at compile time, so the
/// binary needs no files beside it.
macro_rules! embedded {
    ($($name:literal,)*) => {
        &[$(($name, include_str!(concat!("../../templates/", $name))),)*]
    };
}

const TEMPLATES: &[(&str, &str)] = embedded![
    "mail/reset_password.subject.txt",
    "mail/reset_password.txt",
    "mail/reset_password.html",
    "mail/password_changed.subject.txt",
    "mail/password_changed.txt",
    "mail/password_changed.html",
    "mail/verify_email.subject.txt",
    "mail/verify_email.txt",
    "mail/verify_email.html",
    "mail/email_change_confirm.subject.txt",
    "mail/email_change_confirm.txt",
    "mail/email_change_confirm.html",
    "mail/email_change_notice.subject.txt",
    "mail/email_change_notice.txt",
    "mail/email_change_notice.html",
    // The reset-password pages (`api::pages`).
    "pages/layout.html",
    "pages/errors.html",
    "pages/reset_form.html",
    "pages/link_gone.html",
    "pages/check_mail.html",
    "pages/password_reset.html",
    "pages/too_many_requests.html",
    "pages/went_wrong.html",
    // The page a confirmation mail links to (`api::pages`).
    "pages/verify_email.html",
    "pages/email_verified.html",
    "pages/verify_link_gone.html",
    "pages/verify_went_wrong.html",
];

static ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut environment = Environment::new();
    environment.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    for (name, source) in TEMPLATES {
        if let Err(err) = environment.add_template(name, source) {
            // The templates test renders every template: a broken one never ships.
            tracing::error!(template = name, error = %err, "a template does not compile");
        }
    }
    environment.add_function("t", translate);
    environment
});

/// The template `name` rendered in `locale` with `context` (a `minijinja::context!`).
pub fn render(name: &str, locale: Locale, context: Value) -> Result<String, minijinja::Error> {
    let context = minijinja::context! { locale => locale.as_str(), ..context };
    ENVIRONMENT.get_template(name)?.render(context)
}

/// `t("id", name=value, …)`: the message `id` in the template's `locale`.
// minijinja hands keyword arguments over by value.
#[allow(clippy::needless_pass_by_value)]
fn translate(state: &State, id: &str, arguments: Kwargs) -> Result<String, minijinja::Error> {
    let locale = state
        .lookup("locale")
        .and_then(|locale| locale.as_str().and_then(Locale::parse))
        .unwrap_or_else(Locale::english);
    let mut args = HashMap::new();
    for name in arguments.args() {
        let value: Value = arguments.get(name)?;
        let value = match i64::try_from(value.clone()) {
            Ok(number) => FluentValue::from(number),
            Err(_) => FluentValue::from(value.to_string()),
        };
        args.insert(name.to_owned(), value);
    }
    arguments.assert_all_used()?;
    Ok(super::lookup(locale, id, &args))
}
