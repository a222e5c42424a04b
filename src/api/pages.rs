//! The page a reset mail links to: a small form that works without JavaScript and applies
//! the same rules and messages as `POST /api/reset-password`. It is not part of the API, so
//! it is not in the spec.

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use poem::{
    IntoResponse, Response, handler,
    http::StatusCode,
    web::{Data, Form, Html, Query},
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{AppState, layers::ClientAddress};
use crate::{
    domain::{Email, FieldErrors, Message, Password},
    i18n,
    mail::templates::escape_html,
    service::ServiceError,
};

#[derive(Debug, Deserialize)]
pub struct ResetLink {
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
pub async fn reset_form(state: Data<&AppState>, Query(link): Query<ResetLink>) -> Response {
    match state
        .password_resets
        .link_works(&link.token, &link.email)
        .await
    {
        Ok(true) => page(
            StatusCode::OK,
            &form(&link.token, &link.email, &FieldErrors::new()),
        ),
        Ok(false) => page(StatusCode::GONE, &ask_again(&link.email)),
        Err(err) => {
            let status = super::error::ApiError::from(err).status();
            page(
                status,
                "<h1>Something went wrong</h1>\n<p role=\"alert\">Please try this link again in a moment.</p>",
            )
        }
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
    Form(submitted): Form<NewLinkForm>,
) -> Response {
    if let Err(decision) = state.limits.forgot_password(client.0.0).await {
        return page(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "<h1>Too many requests</h1>\n<p role=\"alert\">Please try again in {} seconds.</p>",
                decision.reset_secs()
            ),
        );
    }
    match Email::parse(&submitted.email) {
        Ok(email) => {
            state.password_resets.request_link(email);
            page(
                StatusCode::OK,
                &format!(
                    "<h1>Check your mail</h1>\n<p role=\"status\">{}</p>",
                    escape_html(&i18n::say(&Message::new("password-reset-link-sent")))
                ),
            )
        }
        Err(message) => page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!(
                "<ul class=\"errors\" role=\"alert\"><li>{}</li></ul>\n{}",
                escape_html(&i18n::say(&message)),
                ask_again_form(&submitted.email)
            ),
        ),
    }
}

fn ask_again(email: &str) -> String {
    format!(
        "<h1>This link no longer works</h1>\n<p role=\"alert\">It was used already, it expired, \
         or a newer one replaced it.</p>\n{}",
        ask_again_form(email)
    )
}

fn ask_again_form(email: &str) -> String {
    format!(
        r#"<form method="post" action="/reset-password/new-link">
<p><label for="email">Your email address</label><br>
<input id="email" name="email" type="email" autocomplete="username" value="{email}" required></p>
<p><button type="submit">Send me a new link</button></p>
</form>"#,
        email = escape_html(email),
    )
}

#[handler]
pub async fn reset_submit(
    state: Data<&AppState>,
    client: Data<&ClientAddress>,
    Form(submitted): Form<ResetForm>,
) -> Response {
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
            &format!(
                "<h1>Password reset</h1>\n<p role=\"status\">{}</p>",
                escape_html(&i18n::say(&Message::new("password-reset-done")))
            ),
        ),
        Err(ServiceError::Validation(errors)) => page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &form(&submitted.token, &submitted.email, &errors),
        ),
        Err(err) => {
            let status = super::error::ApiError::from(err).status();
            page(
                status,
                "<h1>Something went wrong</h1>\n<p role=\"alert\">Your password was not changed. Please try again in a moment.</p>",
            )
        }
    }
}

fn form(token: &str, email: &str, errors: &FieldErrors) -> String {
    let messages: Vec<String> = errors
        .iter()
        .flat_map(|(_, messages)| messages)
        .map(|message| format!("<li>{}</li>", escape_html(&i18n::say(message))))
        .collect();
    let summary = if messages.is_empty() {
        String::new()
    } else {
        format!(
            "<ul class=\"errors\" role=\"alert\" id=\"errors\">{}</ul>\n",
            messages.join("")
        )
    };
    let invalid = |field: &str| {
        if errors.iter().any(|(bad, _)| bad == field) {
            " aria-invalid=\"true\" aria-describedby=\"errors\""
        } else {
            ""
        }
    };
    format!(
        r#"<h1>Choose a new password</h1>
{summary}<form method="post" action="/reset-password">
<input type="hidden" name="token" value="{token}">
<input type="hidden" name="email" value="{email}" autocomplete="username">
<p>For <strong>{email}</strong>. At least 8 characters; every session of this account will be signed out.</p>
<p><label for="password">New password</label><br>
<input id="password" name="password" type="password" autocomplete="new-password" minlength="8" required{password_invalid}></p>
<p><label for="password_confirmation">Confirm the new password</label><br>
<input id="password_confirmation" name="password_confirmation" type="password" autocomplete="new-password" minlength="8" required></p>
<p><button type="submit">Reset my password</button></p>
</form>"#,
        token = escape_html(token),
        email = escape_html(email),
        password_invalid = invalid("password"),
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

fn page(status: StatusCode, body: &str) -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Reset your password · Comptoir</title>
<style>body{{font-family:sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}.errors{{color:#a00}}input{{font-size:1rem;padding:.3rem;width:100%;box-sizing:border-box}}</style>
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"#
    );
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
