//! The `auth` tag: register, log in and out, and the current user.

use poem_openapi::{ApiResponse, Object, OpenApi, param::Header, payload::Json, types::Example};

use super::{
    ApiTags, AppState,
    body::JsonBody,
    error::{ApiError, Failure, status::*},
    layers::ClientAddress,
    security::{BearerAuth, SessionAuth},
    types::{EmailAddress, MessageResponse, UserResource},
    users::UserViewResponse,
};
use crate::{
    domain::{DeviceName, Email, FieldErrors, Message, Password},
    i18n::{self, Locale},
    service::{accounts::NewAccount, sessions::TokenPair},
};
use poem::{Request, web::Data};

pub struct AuthApi;

/// A new account. `locale`, the language of its mails, is the one negotiated for this request
/// (`Accept-Language`, else the server's default) unless given.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct RegisterRequest {
    #[oai(validator(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*$"
    ))]
    pub name: String,
    /// Any case or Unicode form; stored trimmed, lower-cased, NFKC-normalised, with the
    /// domain in IDNA's ASCII form (`xn--…`).
    #[oai(validator(max_length = 254))]
    pub email: EmailAddress,
    /// 8 characters or more, at most 72 bytes (bcrypt reads no more; longer ones are refused).
    #[oai(validator(min_length = 8, max_length = 72))]
    pub password: String,
    /// When given, must equal `password`.
    pub password_confirmation: Option<String>,
    pub locale: Option<Locale>,
    /// What the session is called in `GET /api/sessions`; by default the `User-Agent`.
    #[oai(validator(min_length = 1, max_length = 255))]
    pub device_name: Option<String>,
}

impl Example for RegisterRequest {
    fn example() -> Self {
        Self {
            name: "Ada Lovelace".into(),
            email: "ada@example.com".into(),
            password: "correct horse battery".into(),
            password_confirmation: Some("correct horse battery".into()),
            locale: Some(Locale::english()),
            device_name: Some("Ada's laptop".into()),
        }
    }
}

#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct LoginRequest {
    #[oai(validator(max_length = 254))]
    pub email: EmailAddress,
    #[oai(validator(min_length = 1, max_length = 1024))]
    pub password: String,
    /// What the session is called in `GET /api/sessions`; by default the `User-Agent`.
    #[oai(validator(min_length = 1, max_length = 255))]
    pub device_name: Option<String>,
}

impl Example for LoginRequest {
    fn example() -> Self {
        Self {
            email: "ada@example.com".into(),
            password: "correct horse battery".into(),
            device_name: Some("Ada's laptop".into()),
        }
    }
}

/// The device a new session is opened on: the name the client gave, else its `User-Agent`.
pub(super) fn device_of(request: &Request, given: Option<&str>) -> Result<DeviceName, FieldErrors> {
    match given {
        Some(name) => {
            DeviceName::parse(name).map_err(|message| FieldErrors::single("device_name", message))
        }
        None => Ok(DeviceName::from_user_agent(
            request.header(poem::http::header::USER_AGENT),
        )),
    }
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct RefreshRequest {
    /// The `refresh_token` of the last token response.
    #[oai(validator(min_length = 1, max_length = 128))]
    pub refresh_token: String,
}

impl Example for RefreshRequest {
    fn example() -> Self {
        Self {
            refresh_token: TokenResponse::example().refresh_token,
        }
    }
}

/// A new access token, the refresh token that replaces it when it expires, and the account
/// they belong to.
#[derive(Debug, Object)]
#[oai(example)]
pub struct TokenResponse {
    /// Send it back as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Exchange it at `POST /api/token/refresh` for a new pair, once: each refresh gives a new
    /// one. Keep it secret, like a password.
    pub refresh_token: String,
    /// Seconds until the refresh token expires; the session ends with it unless refreshed.
    pub refresh_expires_in: u64,
    pub user: UserResource,
}

impl TokenResponse {
    pub fn new(user: impl Into<UserResource>, tokens: &TokenPair) -> Self {
        Self {
            access_token: tokens.access_token.expose().clone(),
            token_type: "Bearer".into(),
            expires_in: tokens.expires_in.as_secs(),
            refresh_token: tokens.refresh_token.expose().clone(),
            refresh_expires_in: tokens.refresh_expires_in.as_secs(),
            user: user.into(),
        }
    }
}

impl Example for TokenResponse {
    fn example() -> Self {
        Self {
            access_token: "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl"
                .into(),
            token_type: "Bearer".into(),
            expires_in: 3600,
            refresh_token: "4f1c2e9a7b3d5f8e0a6c4b2d9e7f1a3c5b8d0e2f4a6c8e0b2d4f6a8c0e2b4d6f"
                .into(),
            refresh_expires_in: 2_592_000,
            user: UserResource::example(),
        }
    }
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct ForgotPasswordRequest {
    #[oai(validator(max_length = 254))]
    pub email: EmailAddress,
}

impl Example for ForgotPasswordRequest {
    fn example() -> Self {
        Self {
            email: "ada@example.com".into(),
        }
    }
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct ResetPasswordRequest {
    /// The `token` of the link in the mail.
    #[oai(validator(min_length = 1, max_length = 128))]
    pub token: String,
    /// The `email` of the link in the mail.
    #[oai(validator(max_length = 254))]
    pub email: EmailAddress,
    /// 8 characters or more, at most 72 bytes.
    #[oai(validator(min_length = 8, max_length = 72))]
    pub password: String,
    /// Must equal `password`.
    #[oai(validator(max_length = 72))]
    pub password_confirmation: String,
}

impl Example for ResetPasswordRequest {
    fn example() -> Self {
        Self {
            token: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            email: "ada@example.com".into(),
            password: "a new passphrase".into(),
            password_confirmation: "a new passphrase".into(),
        }
    }
}

/// How a request went (a password reset, an email confirmation), for a person.
#[derive(Debug, Object)]
#[oai(example)]
pub struct StatusResponse {
    pub status: String,
}

impl Example for StatusResponse {
    fn example() -> Self {
        Self {
            status: i18n::plain(Locale::english(), "password-reset-link-sent"),
        }
    }
}

#[derive(ApiResponse)]
pub enum StatusReply {
    /// Done; `status` says what happened.
    #[oai(status = 200)]
    Ok(Json<StatusResponse>),
}

#[derive(ApiResponse)]
pub enum RegisterResponse {
    /// The account was created; here is its first token.
    #[oai(status = 201)]
    Created(Json<TokenResponse>),
}

#[derive(ApiResponse)]
pub enum LoginResponse {
    /// The credentials matched; here is a new token.
    #[oai(status = 200)]
    Ok(Json<TokenResponse>),
}

#[derive(ApiResponse)]
pub enum RefreshResponse {
    /// A new pair for the same session; the refresh token sent is spent.
    #[oai(status = 200)]
    Ok(Json<TokenResponse>),
}

#[derive(ApiResponse)]
pub enum LogoutResponse {
    /// The session of the token used for this request is over, on every instance: its access
    /// and refresh tokens no longer work.
    #[oai(status = 200)]
    Ok(Json<MessageResponse>),
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::Auth")]
impl AuthApi {
    /// Register a new account
    ///
    /// Creates an ordinary user (role `user`) and returns an access token for it, and mails a
    /// link that confirms the address (`POST /api/email/verify`).
    /// An email already in use, in any case, is a 422 on `email`. Without `locale`, the
    /// account gets the language of this request.
    #[oai(path = "/register", method = "post", operation_id = "account_register")]
    async fn register(
        &self,
        state: Data<&AppState>,
        client: Data<&ClientAddress>,
        negotiated: Data<&Locale>,
        http: &Request,
        body: JsonBody<RegisterRequest>,
    ) -> Result<RegisterResponse, Failure<{ JSON_BODY | ALWAYS }>> {
        state
            .limits
            .register(client.0.0)
            .await
            .map_err(ApiError::too_many_requests)?;
        let request = body.0;
        let device = device_of(http, request.device_name.as_deref());
        let account = NewAccount::parse(
            &request.name,
            &request.email.0,
            request.password,
            request.password_confirmation.as_deref(),
            request.locale.unwrap_or(*negotiated.0),
        );
        let (account, device) = match (account, device) {
            (Ok(account), Ok(device)) => (account, device),
            (account, device) => {
                let mut errors = account.err().unwrap_or_default();
                errors.merge(device.err().unwrap_or_default());
                return Err(ApiError::validation(errors).into());
            }
        };
        let (user, token) = state
            .accounts
            .register(account, &device, &client.0.claimant())
            .await?;
        Ok(RegisterResponse::Created(Json(TokenResponse::new(
            user, &token,
        ))))
    }

    /// Log in
    ///
    /// Exchanges an email and password for a new session: an access token and a refresh
    /// token. Wrong credentials are a 422 on `email`, with the same answer, in about the same
    /// time, whether or not the email is known.
    #[oai(path = "/login", method = "post", operation_id = "session_create")]
    async fn login(
        &self,
        state: Data<&AppState>,
        client: Data<&ClientAddress>,
        http: &Request,
        body: JsonBody<LoginRequest>,
    ) -> Result<LoginResponse, Failure<{ JSON_BODY | ALWAYS }>> {
        let device = device_of(http, body.0.device_name.as_deref())
            .map_err(|errors| Failure::from(ApiError::validation(errors)))?;
        let email = &body.0.email.0;
        // Before any bcrypt work, so that a flood costs the server next to nothing.
        state
            .limits
            .login(email, client.0.0)
            .await
            .map_err(ApiError::too_many_requests)?;
        let (user, token) = state
            .accounts
            .login(email, &body.0.password, &device, &client.0.claimant())
            .await?;
        state.limits.login_succeeded(email, client.0.0).await;
        Ok(LoginResponse::Ok(Json(TokenResponse::new(user, &token))))
    }

    /// Refresh a session
    ///
    /// Exchanges the session's refresh token for a new access token and a new refresh token;
    /// the one sent is spent. Sent again within a few seconds (`REFRESH_REUSE_GRACE_SECS`, two
    /// tabs refreshing at once), it gets the same new pair; later, it is taken for a stolen
    /// token and the whole session ends everywhere (401 `refresh_token_reused`). Unknown or
    /// expired, or of an ended session: 401 `invalid_refresh_token`.
    #[oai(
        path = "/token/refresh",
        method = "post",
        operation_id = "token_refresh"
    )]
    async fn refresh(
        &self,
        state: Data<&AppState>,
        client: Data<&ClientAddress>,
        body: JsonBody<RefreshRequest>,
    ) -> Result<RefreshResponse, Failure<{ JSON_BODY | UNAUTHORIZED | ALWAYS }>> {
        state
            .limits
            .refresh_from(client.0.0)
            .await
            .map_err(ApiError::too_many_requests)?;
        let (user, tokens) = state
            .sessions
            .refresh(&body.0.refresh_token, &state.limits)
            .await?;
        Ok(RefreshResponse::Ok(Json(TokenResponse::new(user, &tokens))))
    }

    /// Log out
    ///
    /// Ends the session of the token used for this request (its refresh token too), at once
    /// and on every instance. The account's other sessions go on. An API token is deleted
    /// with `DELETE /api/tokens/{id}` instead.
    #[oai(path = "/logout", method = "post", operation_id = "session_delete")]
    async fn logout(
        &self,
        auth: SessionAuth,
        state: Data<&AppState>,
    ) -> Result<LogoutResponse, Failure<{ UNAUTHORIZED | SESSION_REQUIRED | ALWAYS }>> {
        let session_id = auth.0.require_session()?;
        state.sessions.revoke(auth.0.user.id, session_id).await?;
        Ok(LogoutResponse::Ok(Json(MessageResponse {
            message: i18n::say(&Message::new("auth-logged-out")),
        })))
    }

    /// The current user
    ///
    /// The account the bearer token belongs to, with the same `ETag` as
    /// `GET /api/users/{id}`: `If-None-Match` with the current tag is a 304. Any API token may
    /// read it, whatever its abilities.
    #[oai(path = "/user", method = "get", operation_id = "account_view")]
    async fn current_user(
        &self,
        auth: BearerAuth,
        /// Tags you hold (or `*`): 304 without a body while one is current.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
    ) -> Result<UserViewResponse, Failure<{ UNAUTHORIZED | ALWAYS }>> {
        Ok(UserViewResponse::new(auth.0.user, &if_none_match))
    }

    /// Ask for a password reset link
    ///
    /// Mails a single-use link to reset the password, if the address has an account. The
    /// answer is the same, and as fast, either way; at most one mail per address per minute.
    #[oai(
        path = "/forgot-password",
        method = "post",
        operation_id = "password_forgot"
    )]
    async fn forgot_password(
        &self,
        state: Data<&AppState>,
        client: Data<&ClientAddress>,
        body: JsonBody<ForgotPasswordRequest>,
    ) -> Result<StatusReply, Failure<{ JSON_BODY | INTERNAL | TOO_MANY_REQUESTS }>> {
        state
            .limits
            .forgot_password(client.0.0)
            .await
            .map_err(ApiError::too_many_requests)?;
        let email = Email::parse(&body.0.email.0).map_err(|message| {
            Failure::from(ApiError::validation(FieldErrors::single("email", message)))
        })?;
        state.password_resets.request_link(email);
        Ok(StatusReply::Ok(Json(StatusResponse {
            status: i18n::say(&Message::new("password-reset-link-sent")),
        })))
    }

    /// Reset a password
    ///
    /// Sets a new password with the token from the mailed link. The token works once and
    /// expires; every session of the account ends. An invalid, used or expired token is a 422
    /// on `token`. Log in afterwards: no token is returned.
    #[oai(
        path = "/reset-password",
        method = "post",
        operation_id = "password_reset"
    )]
    async fn reset_password(
        &self,
        state: Data<&AppState>,
        client: Data<&ClientAddress>,
        body: JsonBody<ResetPasswordRequest>,
    ) -> Result<StatusReply, Failure<{ JSON_BODY | ALWAYS }>> {
        let request = body.0;
        let password =
            Password::parse_confirmed(request.password, Some(&request.password_confirmation))
                .map_err(|message| {
                    Failure::from(ApiError::validation(FieldErrors::single(
                        "password", message,
                    )))
                })?;
        state
            .password_resets
            .reset(
                &request.token,
                &request.email.0,
                password,
                &client.0.claimant(),
            )
            .await?;
        Ok(StatusReply::Ok(Json(StatusResponse {
            status: i18n::say(&Message::new("password-reset-done")),
        })))
    }
}
