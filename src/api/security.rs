//! Bearer authentication: the security schemes in the spec and the check behind them.
//!
//! Two kinds of bearer token:
//! - a session's access token, which the spec offers two ways: `BearerAuth`, a token pasted by
//!   hand, and `OAuth2Password`, whose password flow lets Swagger UI's Authorize dialog (or
//!   any OAuth2 client) fetch one from `POST /api/oauth/token` with an email and a password;
//! - an API token (`ApiToken`), made with `POST /api/tokens` for another system, which may
//!   only do what its abilities allow.
//!
//! An operation lists the schemes it accepts as alternatives: [`BearerAuth`] all three,
//! [`SessionAuth`] the session's two. Either way the request carries
//! `Authorization: Bearer <token>`, checked once.

use poem::{Request, RequestBody};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    auth::{Bearer, BearerAuthorization},
    registry::{MetaOAuthFlow, MetaOAuthFlows, MetaSecurityScheme, Registry},
};

use super::{AppState, error::ApiError};
use crate::service::{api_tokens, sessions::Authenticated};

/// The account behind the request's bearer token, a session's or an API token; the operation
/// checks the ability it needs with [`Authenticated::require`].
pub struct BearerAuth(pub Authenticated);

/// The account behind the request's session token. An API token gets 403
/// `session_required`: it cannot make tokens, change credentials or manage sessions.
pub struct SessionAuth(pub Authenticated);

const PASTED_TOKEN: &str = "BearerAuth";
const PASSWORD_FLOW: &str = "OAuth2Password";
const API_TOKEN: &str = "ApiToken";

fn register_session_schemes(registry: &mut Registry) {
    registry.create_security_scheme(
        PASTED_TOKEN,
        MetaSecurityScheme {
            ty: "http",
            description: Some(
                "An access token from `POST /api/register`, `POST /api/login` or \
                     `POST /api/oauth/token`, sent as `Authorization: Bearer <token>`.",
            ),
            name: None,
            key_in: None,
            scheme: Some("bearer"),
            bearer_format: Some("JWT"),
            flows: None,
            openid_connect_url: None,
        },
    );
    registry.create_security_scheme(
        PASSWORD_FLOW,
        MetaSecurityScheme {
            ty: "oauth2",
            description: Some(
                "Sign in with an account's email (as `username`) and password: the token \
                     endpoint (RFC 6749's password grant) returns an access token, then sent as \
                     `Authorization: Bearer <token>`. No client id or secret is needed.",
            ),
            name: None,
            key_in: None,
            scheme: None,
            bearer_format: None,
            flows: Some(MetaOAuthFlows {
                implicit: None,
                password: Some(MetaOAuthFlow {
                    authorization_url: None,
                    token_url: Some("/api/oauth/token"),
                    refresh_url: Some("/api/oauth/token"),
                    scopes: Vec::new(),
                }),
                client_credentials: None,
                authorization_code: None,
            }),
            openid_connect_url: None,
        },
    );
}

/// Written by hand rather than derived: a derived scheme has one name, and a derived enum of
/// several would check a bad token several times. Here the operations list every scheme and
/// the token is read and checked once.
impl<'a> ApiExtractor<'a> for BearerAuth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        register_session_schemes(registry);
        registry.create_security_scheme(
            API_TOKEN,
            MetaSecurityScheme {
                ty: "http",
                description: Some(
                    "An API token from `POST /api/tokens` (`cmpt_…`), sent as \
                     `Authorization: Bearer <token>`. It may do only what its abilities allow: \
                     each operation's description names the ability it needs, and a token \
                     without it gets 403 `missing_ability`.",
                ),
                name: None,
                key_in: None,
                scheme: Some("bearer"),
                bearer_format: Some("opaque"),
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec![PASTED_TOKEN, PASSWORD_FLOW, API_TOKEN]
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let bearer = Bearer::from_request(request)?;
        authenticate(request, bearer).await.map(Self)
    }
}

impl<'a> ApiExtractor<'a> for SessionAuth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        BearerAuth::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        vec![PASTED_TOKEN, PASSWORD_FLOW]
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let bearer = Bearer::from_request(request)?;
        let authenticated = authenticate(request, bearer).await?;
        if authenticated.is_api_token() {
            return Err(ApiError::session_required().into());
        }
        Ok(Self(authenticated))
    }
}

/// The account behind the bearer token when the request carries one, for operations anyone may
/// call and whose answer an account widens (an admin sees inactive products). A token that is
/// sent but bad is still a 401: a client should learn that its token failed, not get a
/// visitor's answer in silence. The spec lists the schemes and `{}`, "or none".
pub struct OptionalBearerAuth(pub Option<Authenticated>);

impl<'a> ApiExtractor<'a> for OptionalBearerAuth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        BearerAuth::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        BearerAuth::security_schemes()
    }

    fn has_security_fallback() -> bool {
        true
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        if !request
            .headers()
            .contains_key(poem::http::header::AUTHORIZATION)
        {
            return Ok(Self(None));
        }
        let bearer = Bearer::from_request(request)?;
        authenticate(request, bearer)
            .await
            .map(|found| Self(Some(found)))
    }
}

async fn authenticate(request: &Request, bearer: Bearer) -> poem::Result<Authenticated> {
    let state = request
        .data::<AppState>()
        .ok_or_else(|| poem::Error::from(ApiError::internal()))?;
    let authenticated = if bearer.token.starts_with(api_tokens::PREFIX) {
        state.api_tokens.authenticate(&bearer.token).await
    } else {
        state.sessions.authenticate(&bearer.token).await
    }
    .map_err(ApiError::from)?;
    tracing::Span::current().record("user_id", authenticated.user.id);
    Ok(authenticated)
}
