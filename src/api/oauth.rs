//! The OAuth2 token endpoint (RFC 6749): the password grant signs in as `POST /api/login`
//! does, and the refresh_token grant refreshes as `POST /api/token/refresh` does, for Swagger
//! UI's Authorize dialog and for OAuth2 client libraries as they are.
//!
//! The body is read here rather than by poem-openapi's `Form`, whose refusals (a wrong content
//! type, a repeated or missing parameter) would not carry RFC 6749's `error` field.

use poem::{
    IntoResponse, Request, RequestBody, Response,
    http::{HeaderValue, StatusCode, header},
    web::Data,
};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ApiResponse, Enum, ExtractParamOptions, Object, OpenApi,
    auth::{Basic, BasicAuthorization},
    payload::Json,
    registry::{MetaHeader, MetaMediaType, MetaRequest, MetaResponse, MetaResponses, Registry},
    types::{Example, Type},
};

use super::{
    ApiTags, AppState,
    body::MAX_BODY_BYTES,
    error::{ApiError, Failure, ascii_english, status},
    layers::ClientAddress,
};
use crate::{
    domain::{
        DeviceName, Message,
        account::{MAX_CHECKED_PASSWORD_CHARS, MAX_EMAIL_BYTES},
    },
    i18n,
    service::{RefreshProblem, ServiceError, sessions::TokenPair},
};

pub struct OAuthApi;

/// The parameters of a token request (RFC 6749 §4.3.2, §6), form-encoded. A parameter sent
/// empty counts as absent, and parameters not listed here are ignored (RFC 6749 §3.2).
// Only the spec reads this type: `TokenForm` parses the body.
#[derive(Debug, Object)]
#[oai(rename = "OAuthTokenRequest")]
pub struct TokenRequest {
    pub grant_type: GrantType,
    /// For `password`: the account's email.
    #[oai(validator(max_length = 254))]
    pub username: Option<String>,
    /// For `password`: the account's password.
    #[oai(validator(max_length = 1024))]
    pub password: Option<String>,
    /// For `refresh_token`: the refresh token to exchange.
    pub refresh_token: Option<String>,
    /// Ignored: a token carries all of its account's rights.
    pub scope: Option<String>,
    /// Optional and ignored: every client is public. A client secret, here
    /// (`client_secret`) or as HTTP Basic credentials, is refused: no client has one.
    pub client_id: Option<String>,
}

/// `password`: an account's email and password; `refresh_token`: a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "OAuthGrantType", rename_all = "snake_case")]
pub enum GrantType {
    Password,
    RefreshToken,
}

/// What a token request asks for, once its body has been read. No `Debug`: it holds a
/// password or a refresh token.
pub enum Grant {
    Password { username: String, password: String },
    RefreshToken(String),
}

/// An access token, in RFC 6749 §5.1's words.
#[derive(Debug, Object)]
#[oai(rename = "OAuthToken", example)]
pub struct OAuthToken {
    /// Send it back as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// For the refresh_token grant, once: each refresh gives a new one.
    pub refresh_token: String,
}

impl OAuthToken {
    fn new(tokens: &TokenPair) -> Self {
        Self {
            access_token: tokens.access_token.expose().clone(),
            token_type: "Bearer".into(),
            expires_in: tokens.expires_in.as_secs(),
            refresh_token: tokens.refresh_token.expose().clone(),
        }
    }
}

impl Example for OAuthToken {
    fn example() -> Self {
        Self {
            access_token: "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl"
                .into(),
            token_type: "Bearer".into(),
            expires_in: 3600,
            refresh_token: "4f1c2e9a7b3d5f8e0a6c4b2d9e7f1a3c5b8d0e2f4a6c8e0b2d4f6a8c0e2b4d6f"
                .into(),
        }
    }
}

#[derive(ApiResponse)]
pub enum TokenReply {
    /// The grant was good; here is a new pair of tokens.
    #[oai(status = 200)]
    Ok(
        Json<OAuthToken>,
        /// `no-store`: a token response must not be cached (RFC 6749 §5.1).
        #[oai(header = "Cache-Control")]
        String,
        /// `no-cache`, for HTTP/1.0 caches.
        #[oai(header = "Pragma")]
        String,
    ),
}

impl TokenReply {
    fn issued(token: &TokenPair) -> Self {
        Self::Ok(
            Json(OAuthToken::new(token)),
            "no-store".into(),
            "no-cache".into(),
        )
    }
}

/// RFC 6749 §5.2's error code, for OAuth2 clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "OAuthErrorCode", rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnsupportedGrantType,
}

impl ErrorCode {
    fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnsupportedGrantType => "unsupported_grant_type",
        }
    }
}

/// A refused token request: RFC 6749's `error` and `error_description` beside the API's own
/// `message` and `code`.
#[derive(Debug, Object)]
#[oai(rename = "OAuthError", example)]
pub struct OAuthError {
    // No doc comment: poem-openapi would wrap the enum's `$ref` in an `allOf`, which
    // openapi-python-client cannot read. The enum describes itself.
    pub error: ErrorCode,
    /// What went wrong, in English, for the developer.
    pub error_description: String,
    /// What went wrong, for a person, in the language `Accept-Language` asks for.
    pub message: String,
    /// What went wrong, for a program: `error`, or `unsupported_media_type` on a 415.
    pub code: String,
}

impl Example for OAuthError {
    fn example() -> Self {
        let message = Message::new("auth-failed");
        Self {
            error: ErrorCode::InvalidGrant,
            error_description: ascii_english(&message),
            message: i18n::text(i18n::Locale::english(), &message),
            code: "invalid_grant".into(),
        }
    }
}

/// The errors this operation can return besides RFC 6749's, declared as every operation's are.
const OTHER_FAILURES: u32 = status::PAYLOAD_TOO_LARGE | status::ALWAYS;

/// How the token endpoint fails: RFC 6749's errors with [`OAuthError`], everything else (413,
/// 429, 500, 503) with the API's usual body.
#[derive(Debug)]
pub enum OAuthFailure {
    OAuth {
        status: StatusCode,
        error: ErrorCode,
        code: &'static str,
        message: Message,
    },
    /// Boxed: an `ApiError` is several times the size of the other variant.
    Api(Box<ApiError>),
}

impl OAuthFailure {
    fn new(error: ErrorCode, message: Message) -> Self {
        let status = if error == ErrorCode::InvalidClient {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        };
        Self::OAuth {
            status,
            error,
            code: error.as_str(),
            message,
        }
    }

    fn invalid_request(message: Message) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    fn unsupported_media_type(message: Message) -> Self {
        Self::OAuth {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            error: ErrorCode::InvalidRequest,
            code: "unsupported_media_type",
            message,
        }
    }

    /// A failed sign-in: wrong credentials are RFC 6749's `invalid_grant`, with the sentence
    /// `POST /api/login` gives; any other failure is answered as everywhere else.
    /// A refused refresh token is a bad grant (RFC 6749 §5.2), whatever the reason; ours
    /// says which in `code` and `message`.
    fn of_refresh(err: ServiceError) -> Self {
        match err {
            ServiceError::RefreshRefused(problem) => {
                let (code, id) = match problem {
                    RefreshProblem::Invalid => {
                        ("invalid_refresh_token", "error-refresh-token-invalid")
                    }
                    RefreshProblem::Reused => {
                        ("refresh_token_reused", "error-refresh-token-reused")
                    }
                };
                Self::OAuth {
                    status: StatusCode::BAD_REQUEST,
                    error: ErrorCode::InvalidGrant,
                    code,
                    message: Message::new(id),
                }
            }
            other => Self::Api(Box::new(other.into())),
        }
    }

    fn of_login(err: ServiceError) -> Self {
        match err {
            ServiceError::Validation(_) => {
                Self::new(ErrorCode::InvalidGrant, Message::new("auth-failed"))
            }
            other => Self::Api(Box::new(other.into())),
        }
    }
}

impl From<ApiError> for OAuthFailure {
    fn from(err: ApiError) -> Self {
        Self::Api(Box::new(err))
    }
}

impl IntoResponse for OAuthFailure {
    fn into_response(self) -> Response {
        let (status, error, code, message) = match self {
            Self::OAuth {
                status,
                error,
                code,
                message,
            } => (status, error, code, message),
            Self::Api(err) => return err.into_response(),
        };
        let body = OAuthError {
            error,
            error_description: ascii_english(&message),
            message: i18n::say(&message),
            code: code.to_owned(),
        };
        let mut response = Json(body).with_status(status).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(CLIENT_CHALLENGE),
            );
        }
        response
    }
}

/// RFC 6749 §5.2: a 401 challenges the client in the scheme clients authenticate with.
const CLIENT_CHALLENGE: &str = "Basic realm=\"Comptoir\"";

impl From<OAuthFailure> for poem::Error {
    fn from(failure: OAuthFailure) -> Self {
        poem::Error::from_response(failure.into_response())
    }
}

impl ApiResponse for OAuthFailure {
    fn meta() -> MetaResponses {
        let oauth =
            |status: u16, description: &'static str, headers: Vec<MetaHeader>| MetaResponse {
                description,
                status: Some(status),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: "application/json; charset=utf-8",
                    schema: OAuthError::schema_ref(),
                }],
                headers,
            };
        let mut responses = vec![
            oauth(
                400,
                "RFC 6749's `error`: `invalid_grant` when the email and password do not match \
                 an account (the same answer, in about the same time, whether or not the email \
                 is known), `unsupported_grant_type`, or `invalid_request` when a parameter is \
                 missing, repeated or too long.",
                vec![],
            ),
            oauth(
                401,
                "`invalid_client`: a client secret was sent, in the body or as HTTP Basic \
                 credentials (an empty Basic password is fine); no client of this API has one.",
                vec![MetaHeader {
                    name: "WWW-Authenticate".into(),
                    description: Some(format!("`{CLIENT_CHALLENGE}`.")),
                    required: true,
                    deprecated: false,
                    schema: String::schema_ref(),
                }],
            ),
            oauth(
                415,
                "The body is not `application/x-www-form-urlencoded` (`error` is \
                 `invalid_request`, `code` is `unsupported_media_type`).",
                vec![],
            ),
        ];
        responses.extend(Failure::<OTHER_FAILURES>::meta().responses);
        responses.sort_by_key(|response| response.status);
        MetaResponses { responses }
    }

    fn register(registry: &mut Registry) {
        OAuthError::register(registry);
        Failure::<OTHER_FAILURES>::register(registry);
    }
}

/// The token request's body and client authentication, read and checked.
pub struct TokenForm(pub Grant);

const FORM: &str = "application/x-www-form-urlencoded";

impl<'a> ApiExtractor<'a> for TokenForm {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        TokenRequest::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: FORM,
                schema: TokenRequest::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        read(request, body).await.map(Self).map_err(Into::into)
    }
}

async fn read(request: &Request, body: &mut RequestBody) -> Result<Grant, OAuthFailure> {
    let Some(content_type) = request.content_type() else {
        return Err(OAuthFailure::unsupported_media_type(Message::new(
            "oauth-content-type-missing",
        )));
    };
    let is_form = content_type
        .parse::<mime::Mime>()
        .is_ok_and(|mime| mime.essence_str() == FORM);
    if !is_form {
        return Err(OAuthFailure::unsupported_media_type(
            Message::new("oauth-content-type-unsupported").with("content_type", content_type),
        ));
    }
    let too_large = request
        .header(header::CONTENT_LENGTH)
        .and_then(|length| length.parse::<usize>().ok())
        .is_some_and(|length| length > MAX_BODY_BYTES);
    if too_large {
        return Err(ApiError::payload_too_large().into());
    }
    let bytes = body
        .take()
        .map_err(|_| OAuthFailure::invalid_request(Message::new("error-body-unreadable")))?
        .into_bytes_limit(MAX_BODY_BYTES)
        .await
        .map_err(|err| match err {
            poem::error::ReadBodyError::PayloadTooLarge => ApiError::payload_too_large().into(),
            _ => OAuthFailure::invalid_request(Message::new("error-body-unreadable")),
        })?;
    let parameters = Parameters::parse(&bytes)?;
    check_client(request, &parameters)?;
    parameters.grant()
}

/// The parameters of RFC 6749 this endpoint knows: none may be repeated.
const KNOWN_PARAMETERS: [&str; 7] = [
    "grant_type",
    "username",
    "password",
    "refresh_token",
    "scope",
    "client_id",
    "client_secret",
];

/// The parameters that mean something here (`scope` and `client_id` are read and ignored).
#[derive(Default)]
struct Parameters {
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
    client_secret: Option<String>,
}

impl Parameters {
    /// RFC 6749 §3.1: a parameter may not be repeated, one sent empty is absent, one it does not
    /// define is ignored.
    fn parse(body: &[u8]) -> Result<Self, OAuthFailure> {
        let mut parameters = Self::default();
        let mut ignored = None;
        let mut seen: Vec<&'static str> = Vec::new();
        for (name, value) in form_urlencoded::parse(body) {
            let Some(name) = KNOWN_PARAMETERS.into_iter().find(|known| *known == name) else {
                continue;
            };
            if seen.contains(&name) {
                return Err(OAuthFailure::invalid_request(
                    Message::new("oauth-parameter-repeated").with("name", name),
                ));
            }
            seen.push(name);
            let slot = match name {
                "grant_type" => &mut parameters.grant_type,
                "username" => &mut parameters.username,
                "password" => &mut parameters.password,
                "refresh_token" => &mut parameters.refresh_token,
                "client_secret" => &mut parameters.client_secret,
                _ => &mut ignored,
            };
            *slot = (!value.is_empty()).then(|| value.into_owned());
        }
        Ok(parameters)
    }

    fn grant(self) -> Result<Grant, OAuthFailure> {
        let grant_type = self.grant_type.ok_or_else(|| missing("grant_type"))?;
        match grant_type.as_str() {
            "password" => {
                let username = self.username.ok_or_else(|| missing("username"))?;
                let password = self.password.ok_or_else(|| missing("password"))?;
                check_length("username", &username, MAX_EMAIL_BYTES)?;
                check_length("password", &password, MAX_CHECKED_PASSWORD_CHARS)?;
                Ok(Grant::Password { username, password })
            }
            "refresh_token" => {
                let refresh_token = self.refresh_token.ok_or_else(|| missing("refresh_token"))?;
                Ok(Grant::RefreshToken(refresh_token))
            }
            _ => Err(OAuthFailure::new(
                ErrorCode::UnsupportedGrantType,
                Message::new("oauth-grant-type-unsupported").with("grant_type", grant_type),
            )),
        }
    }
}

fn missing(name: &'static str) -> OAuthFailure {
    OAuthFailure::invalid_request(Message::new("oauth-parameter-missing").with("name", name))
}

fn check_length(name: &'static str, value: &str, max: usize) -> Result<(), OAuthFailure> {
    if value.chars().count() > max {
        return Err(OAuthFailure::invalid_request(
            Message::new("oauth-parameter-too-long")
                .with("name", name)
                .with("max", max),
        ));
    }
    Ok(())
}

/// Every client is public (RFC 6749 §2.1): a client id is welcome, in the body or as the user
/// of HTTP Basic credentials with an empty password (as requests-oauthlib and Swagger UI send
/// it), but a secret means a client this API does not have. Other schemes (a bearer token
/// sent out of habit) are not client authentication, and are ignored.
fn check_client(request: &Request, parameters: &Parameters) -> Result<(), OAuthFailure> {
    let refused = |id| OAuthFailure::new(ErrorCode::InvalidClient, Message::new(id));
    if parameters.client_secret.is_some() {
        return Err(refused("oauth-client-secret-refused"));
    }
    let is_basic = request
        .header(header::AUTHORIZATION)
        .and_then(|value| value.trim_start().split_once(' '))
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"));
    if !is_basic {
        return Ok(());
    }
    match <Basic as BasicAuthorization>::from_request(request) {
        Ok(credentials) if credentials.password.is_empty() => Ok(()),
        Ok(_) => Err(refused("oauth-client-secret-refused")),
        Err(_) => Err(refused("oauth-client-credentials-unreadable")),
    }
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::Auth")]
impl OAuthApi {
    /// Get an access token (OAuth2)
    ///
    /// RFC 6749's token endpoint, form-encoded, for OAuth2 clients and Swagger UI's
    /// **Authorize** dialog. `grant_type=password&username=<email>&password=…` signs in as
    /// `POST /api/login` does, under the same rate limits (the session is named after the
    /// `User-Agent`); `grant_type=refresh_token&refresh_token=…` refreshes as
    /// `POST /api/token/refresh` does, a refused token being `invalid_grant` with our `code`
    /// (`invalid_refresh_token`, `refresh_token_reused`). Clients are public: a client id is
    /// optional, a client secret is refused. Errors carry RFC 6749's `error` and
    /// `error_description` beside `message` and `code`.
    #[oai(
        path = "/oauth/token",
        method = "post",
        operation_id = "oauth_token_create"
    )]
    async fn token(
        &self,
        state: Data<&AppState>,
        client: Data<&ClientAddress>,
        http: &Request,
        form: TokenForm,
    ) -> Result<TokenReply, OAuthFailure> {
        match form.0 {
            Grant::Password { username, password } => {
                // Before any bcrypt work, as for `POST /api/login`.
                state
                    .limits
                    .login(&username, client.0.0)
                    .await
                    .map_err(ApiError::too_many_requests)?;
                let (_, token) = state
                    .accounts
                    .login(
                        &username,
                        &password,
                        &DeviceName::from_user_agent(http.header(header::USER_AGENT)),
                        &client.0.claimant(),
                    )
                    .await
                    .map_err(OAuthFailure::of_login)?;
                state.limits.login_succeeded(&username, client.0.0).await;
                Ok(TokenReply::issued(&token))
            }
            Grant::RefreshToken(refresh_token) => {
                state
                    .limits
                    .refresh_from(client.0.0)
                    .await
                    .map_err(ApiError::too_many_requests)?;
                let (_, tokens) = state
                    .sessions
                    .refresh(&refresh_token, &state.limits)
                    .await
                    .map_err(OAuthFailure::of_refresh)?;
                Ok(TokenReply::issued(&tokens))
            }
        }
    }
}
