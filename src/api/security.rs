//! Bearer authentication: the security scheme in the spec and the check behind it.

use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};

use super::{AppState, error::ApiError};
use crate::service::sessions::Authenticated;

/// An access token from `POST /api/register` or `POST /api/login`, sent as
/// `Authorization: Bearer <token>`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "authenticate")]
pub struct BearerAuth(pub Authenticated);

async fn authenticate(request: &Request, bearer: Bearer) -> poem::Result<Authenticated> {
    let state = request
        .data::<AppState>()
        .ok_or_else(|| poem::Error::from(ApiError::internal()))?;
    let authenticated = state
        .sessions
        .authenticate(&bearer.token)
        .await
        .map_err(ApiError::from)?;
    tracing::Span::current().record("user_id", authenticated.user.id);
    Ok(authenticated)
}
