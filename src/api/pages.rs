//! The pages mails link to: the reset form, a small form that works without JavaScript and
//! applies the same rules and messages as `POST /api/reset-password`, and the confirmation of
//! an address, whose button does what `POST /api/email/verify` does. They are not part of the
//! API, so they are not in the spec. The markup is in `templates/pages/`, the sentences in
//! `locales/*/pages.ftl`, written in the request's language.

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use minijinja::{Value, context};
use poem::{
    IntoResponse, Response, handler,
    http::StatusCode,
    web::{Data, Form, Html, Query},
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{AppState, error::ApiError, layers::ClientAddress};
use crate::{
    domain::{Email, FieldErrors, Password, account::MIN_PASSWORD_CHARS},
    i18n::{self, Locale, templates},
    service::{ServiceError, email_verification::Verified},
};

/// The token and address a mailed link carries (a reset or a confirmation).
#[derive(Debug, Deserialize)]
pub struct MailedLink {
    #[serde(default)]
    token: String,
    #[serde(default)]
    email: String,
}

#[derive(Debug, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirmation: String,
}

/// The form, or at once, for a used, expired or mangled link, a way to ask for a new one.
#[handler]
pub async fn reset_form(
    state: Data<&AppState>,
    locale: Data<&Locale>,
    Query(link): Query<MailedLink>,
) -> Response {
    let locale = *locale.0;
    match state
        .password_resets
        .link_works(&link.token, &link.email)
        .await
    {
        Ok(true) => form(
            StatusCode::OK,
            locale,
            &link.token,
            &link.email,
            &FieldErrors::new(),
        ),
        Ok(false) => ask_again(StatusCode::GONE, locale, &link.email, Vec::new()),
        Err(err) => page(
            ApiError::from(err).status(),
            locale,
            "pages/went_wrong.html",
            context! { submitted => false },
        ),
    }
}

#[derive(Debug, Deserialize)]
pub struct NewLinkForm {
    #[serde(default)]
    email: String,
}

/// Asks for a new link from the page, like `POST /api/forgot-password`: the same answer
/// whether or not the address has an account, and the same per-address limit.
#[handler]
pub async fn new_link_submit(
    state: Data<&AppState>,
    client: Data<&ClientAddress>,
    locale: Data<&Locale>,
    Form(submitted): Form<NewLinkForm>,
) -> Response {
    let locale = *locale.0;
    if let Err(decision) = state.limits.forgot_password(client.0.0).await {
        return page(
            StatusCode::TOO_MANY_REQUESTS,
            locale,
            "pages/too_many_requests.html",
            context! { seconds => decision.reset_secs() },
        );
    }
    match Email::parse(&submitted.email) {
        Ok(email) => {
            state.password_resets.request_link(email);
            page(StatusCode::OK, locale, "pages/check_mail.html", context! {})
        }
        Err(message) => ask_again(
            StatusCode::UNPROCESSABLE_ENTITY,
            locale,
            &submitted.email,
            vec![i18n::text(locale, &message)],
        ),
    }
}

/// The link no longer works: the form that asks for a new one, with what was wrong with the
/// address given, if anything.
fn ask_again(status: StatusCode, locale: Locale, email: &str, errors: Vec<String>) -> Response {
    page(
        status,
        locale,
        "pages/link_gone.html",
        context! { email, errors },
    )
}

#[handler]
pub async fn reset_submit(
    state: Data<&AppState>,
    client: Data<&ClientAddress>,
    locale: Data<&Locale>,
    Form(submitted): Form<ResetForm>,
) -> Response {
    let locale = *locale.0;
    let outcome =
        match Password::parse_confirmed(submitted.password, Some(&submitted.password_confirmation))
        {
            Ok(password) => {
                state
                    .password_resets
                    .reset(
                        &submitted.token,
                        &submitted.email,
                        password,
                        &client.0.claimant(),
                    )
                    .await
            }
            Err(message) => Err(ServiceError::invalid("password", message)),
        };
    match outcome {
        Ok(()) => page(
            StatusCode::OK,
            locale,
            "pages/password_reset.html",
            context! {},
        ),
        Err(ServiceError::Validation(errors)) => form(
            StatusCode::UNPROCESSABLE_ENTITY,
            locale,
            &submitted.token,
            &submitted.email,
            &errors,
        ),
        Err(err) => page(
            ApiError::from(err).status(),
            locale,
            "pages/went_wrong.html",
            context! { submitted => true },
        ),
    }
}

/// The form, with the same messages as the API's 422 for what was wrong.
fn form(
    status: StatusCode,
    locale: Locale,
    token: &str,
    email: &str,
    errors: &FieldErrors,
) -> Response {
    let messages: Vec<String> = errors
        .iter()
        .flat_map(|(_, messages)| messages)
        .map(|message| i18n::text(locale, message))
        .collect();
    page(
        status,
        locale,
        "pages/reset_form.html",
        context! {
            token,
            email,
            errors => messages,
            password_invalid => errors.iter().any(|(field, _)| field == "password"),
            min_chars => MIN_PASSWORD_CHARS,
        },
    )
}

/// The confirmation link of a mail: a button that confirms, since a mail scanner that
/// fetches the link must not spend it; or at once, for a spent link, what to do instead.
#[handler]
pub async fn verify_form(
    state: Data<&AppState>,
    locale: Data<&Locale>,
    Query(link): Query<MailedLink>,
) -> Response {
    let locale = *locale.0;
    match state
        .email_verifications
        .link_works(&link.token, &link.email)
        .await
    {
        Ok(true) => page(
            StatusCode::OK,
            locale,
            "pages/verify_email.html",
            context! { token => link.token, email => link.email },
        ),
        Ok(false) => verify_gone(StatusCode::GONE, locale, Vec::new()),
        Err(err) => page(
            ApiError::from(err).status(),
            locale,
            "pages/verify_went_wrong.html",
            context! {},
        ),
    }
}

/// The button of [`verify_form`]: confirms the address, as `POST /api/email/verify` does.
#[handler]
pub async fn verify_submit(
    state: Data<&AppState>,
    locale: Data<&Locale>,
    Form(submitted): Form<MailedLink>,
) -> Response {
    let locale = *locale.0;
    match state
        .email_verifications
        .verify(&submitted.token, &submitted.email)
        .await
    {
        Ok(verified) => page(
            StatusCode::OK,
            locale,
            "pages/email_verified.html",
            context! { changed => verified == Verified::NewAddress },
        ),
        Err(ServiceError::Validation(errors)) => {
            // A bad token says it in the page's own words; a taken address is worth saying.
            let messages = errors
                .iter()
                .filter(|(field, _)| *field != "token")
                .flat_map(|(_, messages)| messages)
                .map(|message| i18n::text(locale, message))
                .collect();
            verify_gone(StatusCode::UNPROCESSABLE_ENTITY, locale, messages)
        }
        Err(err) => page(
            ApiError::from(err).status(),
            locale,
            "pages/verify_went_wrong.html",
            context! {},
        ),
    }
}

/// The link no longer works, and why if it is not the usual reason.
fn verify_gone(status: StatusCode, locale: Locale, errors: Vec<String>) -> Response {
    page(
        status,
        locale,
        "pages/verify_link_gone.html",
        context! { errors },
    )
}

/// A strict Content-Security-Policy for `html`: nothing may load or run but the page's own
/// inline scripts and styles, named by their SHA-256, and requests to this origin.
pub fn content_security_policy(html: &str) -> String {
    let (scripts, styles) = inline_blocks(html);
    let sources = |blocks: Vec<&str>| -> String {
        if blocks.is_empty() {
            return "'none'".to_owned();
        }
        let hashes: Vec<String> = blocks
            .iter()
            .map(|block| {
                format!(
                    "'sha256-{}'",
                    BASE64.encode(Sha256::digest(block.as_bytes()))
                )
            })
            .collect();
        hashes.join(" ")
    };
    format!(
        "default-src 'none'; script-src {}; style-src {}; img-src 'self' data:; font-src 'self' data:; \
         connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        sources(scripts),
        sources(styles),
    )
}

/// The bodies of the inline `<script>` and `<style>` elements, in document order. Both hold raw
/// text: a body ends at its first closing tag, and anything inside it (a `<style` in a script,
/// say) is not a tag.
fn inline_blocks(html: &str) -> (Vec<&str>, Vec<&str>) {
    let (mut scripts, mut styles) = (Vec::new(), Vec::new());
    let mut rest = html;
    loop {
        let next = ["script", "style"]
            .into_iter()
            .filter_map(|tag| rest.find(&format!("<{tag}")).map(|at| (at, tag)))
            .min();
        let Some((start, tag)) = next else {
            break;
        };
        let close = format!("</{tag}>");
        let Some(body_start) = rest[start..].find('>').map(|end| start + end + 1) else {
            break;
        };
        let Some(body_end) = rest[body_start..].find(&close).map(|end| body_start + end) else {
            break;
        };
        let body = &rest[body_start..body_end];
        if tag == "script" {
            scripts.push(body);
        } else {
            styles.push(body);
        }
        rest = &rest[body_end + close.len()..];
    }
    (scripts, styles)
}

/// The page `template` in `locale`, with the headers a page owes: its Content-Security-Policy,
/// and no caching or Referer for a URL that holds a token.
fn page(status: StatusCode, locale: Locale, template: &str, context: Value) -> Response {
    let html = match templates::render(template, locale, context) {
        Ok(html) => html,
        Err(err) => {
            // The pages test renders every page in every language: this is not expected.
            tracing::error!(template, error = %err, "a page failed to render");
            return ApiError::internal().into_response();
        }
    };
    let csp = content_security_policy(&html);
    let mut response = Html(html).with_status(status).into_response();
    let headers = response.headers_mut();
    // The token is in this page's URL and form: keep it out of caches and Referer headers.
    headers.insert(
        poem::http::header::CACHE_CONTROL,
        poem::http::HeaderValue::from_static("no-store"),
    );
    headers.insert(
        poem::http::header::REFERRER_POLICY,
        poem::http::HeaderValue::from_static("no-referrer"),
    );
    if let Ok(csp) = poem::http::HeaderValue::from_str(&csp) {
        headers.insert(poem::http::header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every page, with the context its handler gives it.
    fn pages() -> Vec<(&'static str, Value)> {
        let errors = vec!["<b>bad</b>".to_owned()];
        vec![
            (
                "pages/reset_form.html",
                context! { token => "t", email => "a@b.c", errors, password_invalid => true, min_chars => MIN_PASSWORD_CHARS },
            ),
            (
                "pages/link_gone.html",
                context! { email => "a@b.c", errors => Vec::<String>::new() },
            ),
            ("pages/check_mail.html", context! {}),
            ("pages/password_reset.html", context! {}),
            ("pages/too_many_requests.html", context! { seconds => 30 }),
            ("pages/went_wrong.html", context! { submitted => true }),
            ("pages/went_wrong.html", context! { submitted => false }),
            (
                "pages/verify_email.html",
                context! { token => "t", email => "<b>a@b.c</b>" },
            ),
            ("pages/email_verified.html", context! { changed => true }),
            ("pages/email_verified.html", context! { changed => false }),
            (
                "pages/verify_link_gone.html",
                context! { errors => vec!["<b>taken</b>".to_owned()] },
            ),
            (
                "pages/verify_link_gone.html",
                context! { errors => Vec::<String>::new() },
            ),
            ("pages/verify_went_wrong.html", context! {}),
        ]
    }

    #[test]
    fn every_page_renders_in_every_language_with_all_its_sentences() {
        for locale in Locale::all() {
            for (template, context) in pages() {
                let html = templates::render(template, locale, context)
                    .unwrap_or_else(|err| panic!("{template} in {locale}: {err:#}"));
                assert!(
                    html.contains(&format!(r#"<html lang="{locale}">"#)),
                    "{html}"
                );
                // A message missing from the files would show as its id.
                assert!(!html.contains("page-"), "{template} in {locale}: {html}");
                assert!(!html.contains("<b>"), "{template}: escaped");
                let (scripts, styles) = inline_blocks(&html);
                assert!(scripts.is_empty() && styles.len() == 1, "{template}");
            }
        }
    }
}
