//! API tokens: named bearer tokens a user gives the shop's other systems (a warehouse, the
//! accounting), each limited to some abilities, as Laravel Sanctum's personal access tokens
//! are. A token is `cmpt_` and 32 random bytes in hex: told from a session's JWT at a glance,
//! and easy for a secret scanner to find. Only its SHA-256 is stored. Its answers go through
//! the session cache, so that deleting a token, or its user, kills it at once on every
//! instance, as a logout does.

use chrono::TimeDelta;

use super::{
    ServiceError, TokenProblem, hash_token, now, random_hex,
    session_cache::{Grant, Lookup, SessionCache},
    sessions::{Authenticated, Credential},
};
use crate::{
    config::Secret,
    db::{
        DatabaseConnection,
        api_tokens::{self, ApiToken, NewApiToken},
    },
    domain::{
        FieldErrors, Message,
        ability::{Abilities, MAX_TOKEN_LIFETIME_SECS, MIN_TOKEN_LIFETIME_SECS},
        account::MAX_NAME_CHARS,
        text,
    },
};

/// What every API token starts with.
pub const PREFIX: &str = "cmpt_";

/// A token's use is recorded at most this often, as a session's is.
const TOUCH_INTERVAL: TimeDelta = TimeDelta::minutes(1);

/// What a client asks for.
#[derive(Debug)]
pub struct TokenRequest {
    pub name: String,
    pub abilities: Vec<String>,
    /// Seconds; `None`: the token does not expire.
    pub expires_in: Option<u64>,
}

#[derive(Clone)]
pub struct ApiTokens {
    db: DatabaseConnection,
    cache: SessionCache,
    /// `ORDER_FREE_LINES=anyone`: anyone may hold `orders:price`.
    free_lines_for_anyone: bool,
}

impl ApiTokens {
    pub fn new(db: DatabaseConnection, cache: SessionCache, free_lines_for_anyone: bool) -> Self {
        Self {
            db,
            cache,
            free_lines_for_anyone,
        }
    }

    /// Creates a token for the actor's own account, from a signed-in session only: a token
    /// cannot beget tokens. The token itself is returned this once.
    pub async fn create(
        &self,
        actor: &Authenticated,
        request: TokenRequest,
    ) -> Result<(ApiToken, Secret<String>), ServiceError> {
        actor.require_session()?;
        let mut errors = FieldErrors::new();
        let name = text::one_line(&request.name, "name", MAX_NAME_CHARS)
            .map_err(|message| errors.add("name", message))
            .ok();
        let abilities =
            Abilities::requested(&request.abilities, &actor.user, self.free_lines_for_anyone)
                .map_err(|message| errors.add("abilities", message))
                .ok();
        let expires_in = request.expires_in.filter(|seconds| {
            let valid = (MIN_TOKEN_LIFETIME_SECS..=MAX_TOKEN_LIFETIME_SECS).contains(seconds);
            if !valid {
                errors.add(
                    "expires_in",
                    Message::new("validation-between")
                        .field("expires_in")
                        .with("min", MIN_TOKEN_LIFETIME_SECS)
                        .with("max", MAX_TOKEN_LIFETIME_SECS),
                );
            }
            valid
        });
        let (Some(name), Some(abilities), true) = (name, abilities, errors.is_empty()) else {
            return Err(errors.into());
        };
        let created_at = now();
        let expires_at = expires_in
            .and_then(|seconds| i64::try_from(seconds).ok())
            .map(|seconds| created_at + TimeDelta::seconds(seconds));
        let token = format!("{PREFIX}{}", random_hex(32));
        let stored = api_tokens::insert(
            &self.db,
            NewApiToken {
                user_id: actor.user.id,
                name: &name,
                abilities,
                token_hash: hash_token(&token),
                created_at,
                expires_at,
            },
        )
        .await?;
        tracing::info!(api_token_id = stored.id, "API token created");
        Ok((stored, Secret::new(token)))
    }

    /// The actor's live tokens, newest first; for a signed-in session only.
    pub async fn list(&self, actor: &Authenticated) -> Result<Vec<ApiToken>, ServiceError> {
        actor.require_session()?;
        Ok(api_tokens::live_of_user(&self.db, actor.user.id, now()).await?)
    }

    /// Deletes one of the actor's tokens, at once on every instance; another user's is not
    /// found. For a signed-in session only.
    pub async fn delete(&self, actor: &Authenticated, id: i64) -> Result<(), ServiceError> {
        actor.require_session()?;
        if !api_tokens::delete(&self.db, actor.user.id, id).await? {
            return Err(ServiceError::NotFound);
        }
        self.cache.changed(actor.user.id).await;
        tracing::info!(api_token_id = id, "API token deleted");
        Ok(())
    }

    /// Accepts a live token of a live account; one query, unless the session cache remembers
    /// the answer. A use is recorded at most once a minute, after the answer.
    pub async fn authenticate(&self, token: &str) -> Result<Authenticated, ServiceError> {
        if !is_well_formed(token) {
            return Err(ServiceError::Unauthenticated(TokenProblem::Malformed));
        }
        let token_hash = hash_token(token);
        let ticket = match self.cache.lookup(&token_hash, None, TOUCH_INTERVAL) {
            Lookup::Hit(grant, touch) => {
                if touch {
                    self.touch_later(token_hash);
                }
                return Ok(authenticated(grant));
            }
            Lookup::Miss(ticket) => ticket,
        };
        let at = now();
        let (token, user) = api_tokens::find_with_user(&self.db, &token_hash)
            .await?
            .ok_or(ServiceError::Unauthenticated(TokenProblem::UnknownApiToken))?;
        if token.expires_at.is_some_and(|expires_at| expires_at <= at) {
            return Err(ServiceError::Unauthenticated(TokenProblem::ExpiredApiToken));
        }
        let mut last_used_at = token.last_used_at.unwrap_or(token.created_at);
        if token.last_used_at.is_none() || at - last_used_at >= TOUCH_INTERVAL {
            self.touch_later(token_hash.clone());
            last_used_at = at;
        }
        let grant = Grant {
            user,
            abilities: Some(token.abilities),
            expires_at: token
                .expires_at
                .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC),
            last_used_at,
        };
        if let Some(ticket) = ticket {
            self.cache.store(ticket, &token_hash, grant.clone());
        }
        Ok(authenticated(grant))
    }

    /// Records a use without holding up the request: `last_used_at` may lag by a minute.
    fn touch_later(&self, token_hash: String) {
        let db = self.db.clone();
        tokio::spawn(async move {
            if let Err(err) = api_tokens::touch(&db, &token_hash, now(), TOUCH_INTERVAL).await {
                tracing::warn!(error = %err, "could not record an API token's use");
            }
        });
    }
}

/// Whether `token` could be one of ours: the prefix and 64 lower-case hex digits.
pub fn is_well_formed(token: &str) -> bool {
    token.strip_prefix(PREFIX).is_some_and(|rest| {
        rest.len() == 64
            && rest
                .bytes()
                .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
    })
}

fn authenticated(grant: Grant) -> Authenticated {
    Authenticated {
        user: grant.user,
        credential: Credential::ApiToken(grant.abilities.unwrap_or_default()),
    }
}
