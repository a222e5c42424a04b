//! The language of the response: negotiated from `Accept-Language` before anything runs, kept
//! in the request for the handlers that store it (a new account's `locale`), and announced on
//! the way out with `Content-Language` and `Vary: Accept-Language`.

use poem::{
    Request, Response,
    http::{HeaderValue, header},
};

use crate::i18n::{self, Locale};

/// The request's language; also put in its extensions for `Data<&Locale>`.
pub fn negotiate(request: &mut Request, default: Locale) -> Locale {
    let header = request
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok());
    let locale = i18n::negotiate(header, default);
    request.extensions_mut().insert(locale);
    locale
}

/// A response that names its own language (the OpenAPI document, Swagger UI: English only)
/// keeps it; every other one says which language it was written in, and that another
/// `Accept-Language` may get another.
pub fn add_headers(response: &mut Response, locale: Locale) {
    let headers = response.headers_mut();
    if headers.contains_key(header::CONTENT_LANGUAGE) {
        return;
    }
    headers.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(locale.as_str()),
    );
    headers.append(header::VARY, HeaderValue::from_static("Accept-Language"));
}
