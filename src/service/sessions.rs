//! Access tokens: HS256 JWTs whose `jti` is a row in `sessions`, so that one can be revoked
//! before it expires, at once and on every instance that shares the database.

use std::time::Duration;

use anyhow::Context;
use chrono::DateTime;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use sha2::{Digest, Sha256};

use super::{
    ServiceError, TokenProblem, expiry, now, random_hex,
    session_cache::{Lookup, SessionCache},
    to_hex,
};
use crate::{
    config::{Secret, TokenSettings},
    db::{
        ConnectionTrait, DatabaseConnection,
        sessions::{self, NewSession},
    },
    domain::User,
};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    jti: String,
    iat: i64,
    exp: i64,
}

/// A freshly signed access token.
#[derive(Debug)]
pub struct IssuedToken {
    pub token: Secret<String>,
    pub expires_in: Duration,
}

/// Who a valid token belongs to, and which session it is.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: User,
    pub session_id: String,
}

/// A signing secret, known to tokens by its `kid`.
#[derive(Clone)]
struct Key {
    id: String,
    decoding: DecodingKey,
}

impl Key {
    fn new(secret: &[u8]) -> Self {
        Self {
            id: key_id(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }
}

/// Names a secret without revealing it: the start of its SHA-256.
fn key_id(secret: &[u8]) -> String {
    to_hex(&Sha256::digest(secret))[..16].to_owned()
}

#[derive(Clone)]
pub struct Sessions {
    db: DatabaseConnection,
    encoding: EncodingKey,
    /// New tokens are signed with the first; tokens signed with the second (`JWT_SECRET_PREVIOUS`)
    /// are still accepted, so that the secret can be rotated without logging everyone out.
    keys: Vec<Key>,
    validation: Validation,
    ttl: Duration,
    cache: SessionCache,
}

impl Sessions {
    pub fn new(db: DatabaseConnection, settings: &TokenSettings, cache: SessionCache) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // `exp` is checked to the second: a token is dead when the server says so.
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            db,
            encoding: EncodingKey::from_secret(settings.secret.expose()),
            keys: std::iter::once(&settings.secret)
                .chain(settings.previous_secret.as_ref())
                .map(|secret| Key::new(secret.expose()))
                .collect(),
            validation,
            ttl: settings.ttl,
            cache,
        }
    }

    /// Records a session for `user_id` on `conn` (the pool, or a transaction of the caller's)
    /// and signs its token.
    pub async fn issue(
        &self,
        conn: &impl ConnectionTrait,
        user_id: i64,
    ) -> Result<IssuedToken, ServiceError> {
        let issued_at = now();
        let expires_at = expiry(self.ttl)?;
        let jti = random_hex(16);
        let session = NewSession {
            jti: &jti,
            user_id,
            issued_at,
            expires_at,
        };
        sessions::insert(conn, session).await?;
        let claims = Claims {
            sub: user_id.to_string(),
            jti,
            iat: issued_at.timestamp(),
            exp: expires_at.timestamp(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = self.keys.first().map(|key| key.id.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding)
            .context("signing an access token")?;
        Ok(IssuedToken {
            token: Secret::new(token),
            expires_in: self.ttl,
        })
    }

    /// Accepts a token only when its signature, algorithm and expiry hold and its session row
    /// is live; one query fetches the session and its user together, unless the session cache
    /// remembers the answer.
    pub async fn authenticate(&self, token: &str) -> Result<Authenticated, ServiceError> {
        let kid = jsonwebtoken::decode_header(token)
            .map_err(|_| ServiceError::Unauthenticated(TokenProblem::Malformed))?
            .kid
            .ok_or(ServiceError::Unauthenticated(
                TokenProblem::ForeignSignature,
            ))?;
        let key =
            self.keys
                .iter()
                .find(|key| key.id == kid)
                .ok_or(ServiceError::Unauthenticated(
                    TokenProblem::ForeignSignature,
                ))?;
        let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &self.validation)
            .map_err(|err| {
                ServiceError::Unauthenticated(match err.kind() {
                    ErrorKind::ExpiredSignature => TokenProblem::Expired,
                    ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => {
                        TokenProblem::ForeignSignature
                    }
                    _ => TokenProblem::Malformed,
                })
            })?
            .claims;
        let user_id: i64 = claims
            .sub
            .parse()
            .map_err(|_| ServiceError::Unauthenticated(TokenProblem::Malformed))?;
        let ticket = match self.cache.lookup(&claims.jti, user_id) {
            Lookup::Hit(user) => {
                return Ok(Authenticated {
                    user,
                    session_id: claims.jti,
                });
            }
            Lookup::Miss(ticket) => ticket,
        };
        let user = sessions::live_user(&self.db, &claims.jti, user_id, now())
            .await?
            .ok_or_else(|| {
                // The row also lapses at `exp`: a token refused in the second it expires is
                // an expired one, not a revoked one.
                ServiceError::Unauthenticated(if claims.exp <= now().timestamp() {
                    TokenProblem::Expired
                } else {
                    TokenProblem::Revoked
                })
            })?;
        // The row's `expires_at` is the token's `exp`: both come from one whole-second `expiry`.
        if let (Some(ticket), Some(expires_at)) = (ticket, DateTime::from_timestamp(claims.exp, 0))
        {
            self.cache.store(ticket, &claims.jti, &user, expires_at);
        }
        Ok(Authenticated {
            user,
            session_id: claims.jti,
        })
    }

    /// Kills one session of `user_id`.
    pub async fn revoke(&self, user_id: i64, session_id: &str) -> Result<(), ServiceError> {
        sessions::revoke(&self.db, session_id, now()).await?;
        self.changed(user_id).await;
        Ok(())
    }

    /// Tells every instance's session cache that a user, or one of their sessions, changed.
    /// Call it after the change is committed.
    pub async fn changed(&self, user_id: i64) {
        self.cache.changed(user_id).await;
    }
}
