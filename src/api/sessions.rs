//! The `sessions` tag: where an account is signed in, and signing a device out from another.
//! A session is shown by an opaque id that authenticates nothing; another user's id answers
//! 404, as an unknown one does.

use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json, types::Example};

use super::{
    ApiTags, AppState,
    error::{ApiError, Failure, status::*},
    security::{BearerAuth, SessionAuth},
    types::{Timestamp, example_time},
};
use crate::{db::sessions::Session, domain::ability::Ability};

pub struct SessionsApi;

/// A signed-in device.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Session", example)]
pub struct SessionResource {
    /// Opaque: names the session in `DELETE /api/sessions/{id}`, and authenticates nothing.
    pub id: String,
    /// As given at login or registration, else the client's `User-Agent`.
    pub device_name: String,
    pub created_at: Timestamp,
    /// Recorded at most once a minute: it may lag by up to a minute.
    pub last_used_at: Timestamp,
    /// When the session ends unless refreshed before.
    pub expires_at: Timestamp,
    /// Whether this is the session of the token used for this request.
    pub current: bool,
}

impl SessionResource {
    fn new(session: Session, current: bool) -> Self {
        Self {
            id: session.public_id,
            device_name: session.device_name,
            created_at: session.issued_at.into(),
            last_used_at: session.last_used_at.into(),
            expires_at: session.expires_at.into(),
            current,
        }
    }
}

impl Example for SessionResource {
    fn example() -> Self {
        Self {
            id: "5d41402abc4b2a76b9719d911017c592".into(),
            device_name: "Mozilla/5.0 (X11; Linux x86_64) Firefox/145.0".into(),
            created_at: example_time(),
            last_used_at: example_time(),
            expires_at: example_time(),
            current: true,
        }
    }
}

/// Live sessions, newest first.
#[derive(Debug, Object)]
#[oai(rename = "SessionList")]
pub struct SessionList {
    pub data: Vec<SessionResource>,
}

impl SessionList {
    fn new(sessions: Vec<(Session, bool)>) -> Self {
        Self {
            data: sessions
                .into_iter()
                .map(|(session, current)| SessionResource::new(session, current))
                .collect(),
        }
    }
}

/// How many sessions were ended.
#[derive(Debug, Object)]
#[oai(example)]
pub struct RevokedCount {
    pub revoked: u64,
}

impl Example for RevokedCount {
    fn example() -> Self {
        Self { revoked: 2 }
    }
}

#[derive(ApiResponse)]
pub enum SessionListResponse {
    /// The live sessions, newest first.
    #[oai(status = 200)]
    Ok(Json<SessionList>),
}

#[derive(ApiResponse)]
pub enum SessionRevokedResponse {
    /// The session is over on every instance: its access and refresh tokens no longer work.
    #[oai(status = 204)]
    NoContent,
}

#[derive(ApiResponse)]
pub enum SessionsRevokedResponse {
    /// Those sessions are over on every instance.
    #[oai(status = 200)]
    Ok(Json<RevokedCount>),
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::Sessions")]
impl SessionsApi {
    /// List your sessions
    ///
    /// Every device where your account is signed in, newest first; `current` marks the one
    /// of this request.
    #[oai(path = "/sessions", method = "get", operation_id = "session_list")]
    async fn list(
        &self,
        auth: SessionAuth,
        state: Data<&AppState>,
    ) -> Result<SessionListResponse, Failure<{ UNAUTHORIZED | SESSION_REQUIRED | ALWAYS }>> {
        let sessions = state
            .sessions
            .list(auth.0.user.id, auth.0.session_id())
            .await?;
        Ok(SessionListResponse::Ok(Json(SessionList::new(sessions))))
    }

    /// Sign out a session
    ///
    /// Ends one of your sessions (this one too, if you name it), at once and on every
    /// instance. Another user's session id is a 404, as an unknown or ended one is.
    #[oai(
        path = "/sessions/:id",
        method = "delete",
        operation_id = "session_revoke"
    )]
    async fn revoke(
        &self,
        auth: SessionAuth,
        state: Data<&AppState>,
        /// The session's `id` from `GET /api/sessions`.
        id: Path<String>,
    ) -> Result<
        SessionRevokedResponse,
        Failure<{ UNAUTHORIZED | NOT_FOUND | SESSION_REQUIRED | ALWAYS }>,
    > {
        state.sessions.revoke_public(auth.0.user.id, &id.0).await?;
        Ok(SessionRevokedResponse::NoContent)
    }

    /// Sign out every other session
    ///
    /// Ends every session of yours but the one of this request; answers how many ended.
    #[oai(
        path = "/sessions",
        method = "delete",
        operation_id = "session_revoke_others"
    )]
    async fn revoke_others(
        &self,
        auth: SessionAuth,
        state: Data<&AppState>,
    ) -> Result<SessionsRevokedResponse, Failure<{ UNAUTHORIZED | SESSION_REQUIRED | ALWAYS }>>
    {
        let revoked = state
            .sessions
            .revoke_all_but(auth.0.user.id, auth.0.session_id())
            .await?;
        Ok(SessionsRevokedResponse::Ok(Json(RevokedCount { revoked })))
    }

    /// List a user's sessions
    ///
    /// Admins only: every device where that account is signed in, newest first. API tokens
    /// need `users:read`.
    #[oai(
        path = "/users/:id/sessions",
        method = "get",
        operation_id = "user_session_list"
    )]
    async fn list_of_user(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        id: Path<i64>,
    ) -> Result<SessionListResponse, Failure<{ PER_ID | FORBIDDEN | MISSING_ABILITY }>> {
        auth.0.require(Ability::UsersRead)?;
        if !auth.0.user.is_admin() {
            return Err(ApiError::forbidden().into());
        }
        let user = state.users.get(&auth.0.user, id.0).await?;
        let sessions = state.sessions.list(user.id, auth.0.session_id()).await?;
        Ok(SessionListResponse::Ok(Json(SessionList::new(sessions))))
    }

    /// Sign out a user everywhere
    ///
    /// Admins only: ends every session of that account (the admin's own too, when it is
    /// theirs); answers how many ended. API tokens need `users:write`; the account's API
    /// tokens are not sessions and go on.
    #[oai(
        path = "/users/:id/sessions",
        method = "delete",
        operation_id = "user_session_revoke_all"
    )]
    async fn revoke_all_of_user(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        id: Path<i64>,
    ) -> Result<SessionsRevokedResponse, Failure<{ PER_ID | FORBIDDEN | MISSING_ABILITY }>> {
        auth.0.require(Ability::UsersWrite)?;
        if !auth.0.user.is_admin() {
            return Err(ApiError::forbidden().into());
        }
        let user = state.users.get(&auth.0.user, id.0).await?;
        let revoked = state.sessions.revoke_all_but(user.id, None).await?;
        Ok(SessionsRevokedResponse::Ok(Json(RevokedCount { revoked })))
    }
}
