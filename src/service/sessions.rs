//! Sessions and their tokens. A session is one signed-in device: a row in `sessions` with a
//! secret `jti`, an opaque public id and a device name.
//! - Its access tokens are HS256 JWTs that carry its `jti`, so that revoking the session kills
//!   every one of them at once, on every instance (through the session cache).
//! - Its refresh token is 256 random bits, stored as its SHA-256. Each refresh spends it and
//!   gives the session a new one (rotation). The new one is derived from the old with an HMAC
//!   under the signing secret, and the new access token is signed from stored times, so that a
//!   spent token presented again within `REFRESH_REUSE_GRACE_SECS` gets back exactly the pair
//!   that replaced it, although neither token is stored (two tabs refreshing at once both stay
//!   signed in). Later, the replay is taken for a stolen token: the session is revoked.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    RefreshProblem, ServiceError, TokenProblem, hash_token, now, random_hex,
    rate_limit::RateLimits,
    session_cache::{Grant, Lookup, SessionCache},
    to_hex,
};
use crate::{
    config::{Secret, TokenSettings},
    db::{
        ConnectionTrait, DatabaseConnection, refresh_tokens,
        sessions::{self, NewSession, Session},
    },
    domain::{
        DeviceName, User,
        ability::{Abilities, Ability},
    },
};

/// A session's use is recorded at most this often (per instance, and in the database).
const TOUCH_INTERVAL: TimeDelta = TimeDelta::minutes(1);

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    jti: String,
    iat: i64,
    exp: i64,
}

/// The tokens a sign-in or a refresh gives.
#[derive(Debug)]
pub struct TokenPair {
    pub access_token: Secret<String>,
    /// Until the access token expires.
    pub expires_in: Duration,
    pub refresh_token: Secret<String>,
    /// Until the refresh token expires, and the session with it unless refreshed.
    pub refresh_expires_in: Duration,
}

/// Who a valid token belongs to, and what kind of token it is.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: User,
    pub credential: Credential,
}

/// The two kinds of bearer token.
#[derive(Debug, Clone)]
pub enum Credential {
    /// An access token of a signed-in session, whose `jti` this is.
    Session(String),
    /// An API token, which may do only what its abilities allow.
    ApiToken(Abilities),
}

impl Authenticated {
    /// The `jti` of the request's session; `None` for an API token.
    pub fn session_id(&self) -> Option<&str> {
        match &self.credential {
            Credential::Session(jti) => Some(jti),
            Credential::ApiToken(_) => None,
        }
    }

    pub fn is_api_token(&self) -> bool {
        matches!(self.credential, Credential::ApiToken(_))
    }

    /// Whether the token allows `ability`: a session always does, an API token when granted.
    /// What the user may do is checked apart, by each operation.
    pub fn allows(&self, ability: Ability) -> bool {
        match &self.credential {
            Credential::Session(_) => true,
            Credential::ApiToken(abilities) => abilities.allow(ability),
        }
    }

    /// A 403 `missing_ability` unless the token allows `ability`.
    pub fn require(&self, ability: Ability) -> Result<(), ServiceError> {
        if self.allows(ability) {
            Ok(())
        } else {
            Err(ServiceError::MissingAbility(ability))
        }
    }

    /// The session's `jti`, or a 403 `session_required` for an API token.
    pub fn require_session(&self) -> Result<&str, ServiceError> {
        self.session_id().ok_or(ServiceError::SessionRequired)
    }
}

/// A signing secret, known to tokens by its `kid`.
#[derive(Clone)]
struct Key {
    id: String,
    decoding: DecodingKey,
    secret: Secret<Vec<u8>>,
}

impl Key {
    fn new(secret: &Secret<Vec<u8>>) -> Self {
        Self {
            id: key_id(secret.expose()),
            decoding: DecodingKey::from_secret(secret.expose()),
            secret: secret.clone(),
        }
    }

    /// The refresh token that replaces `spent`: only a holder of `spent` and of this secret
    /// can compute it. The label keeps these MACs apart from the JWT signatures made with the
    /// same secret (a JWT's signing input is base64url, which has no space).
    fn successor(&self, spent: &str) -> anyhow::Result<String> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.secret.expose())
            .context("keying the refresh token MAC")?;
        mac.update(b"comptoir refresh token ");
        mac.update(spent.as_bytes());
        Ok(to_hex(&mac.finalize().into_bytes()))
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
    refresh_ttl: TimeDelta,
    reuse_grace: TimeDelta,
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
                .map(Key::new)
                .collect(),
            validation,
            ttl: settings.ttl,
            refresh_ttl: TimeDelta::from_std(settings.refresh_ttl).unwrap_or(TimeDelta::MAX),
            reuse_grace: TimeDelta::from_std(settings.refresh_reuse_grace)
                .unwrap_or(TimeDelta::zero()),
            cache,
        }
    }

    /// Opens a session for `user_id` on `device` on `conn` (the pool, or a transaction of the
    /// caller's) and gives its first tokens.
    pub async fn issue(
        &self,
        conn: &impl ConnectionTrait,
        user_id: i64,
        device: &DeviceName,
    ) -> Result<TokenPair, ServiceError> {
        let issued_at = now();
        let expires_at = issued_at + self.refresh_ttl;
        let jti = random_hex(16);
        let session = NewSession {
            jti: &jti,
            public_id: &random_hex(16),
            user_id,
            device_name: device.as_str(),
            issued_at,
            expires_at,
        };
        let row_id = sessions::insert(conn, session).await?;
        let refresh_token = random_hex(32);
        refresh_tokens::insert(
            conn,
            row_id,
            hash_token(&refresh_token),
            issued_at,
            expires_at,
        )
        .await?;
        self.pair(user_id, &jti, issued_at, expires_at, refresh_token, true)
    }

    /// Exchanges a refresh token for a new pair of the same session. See the module's comment
    /// for what a spent one gets. No password work: a refresh costs a few queries.
    #[tracing::instrument(skip_all, fields(user_id))]
    pub async fn refresh(
        &self,
        presented: &str,
        limits: &RateLimits,
    ) -> Result<(User, TokenPair), ServiceError> {
        let invalid = || ServiceError::RefreshRefused(RefreshProblem::Invalid);
        let token_hash = hash_token(presented);
        let mut limited = false;
        // Twice at most: a refresh that loses the race for a live token reads it again, spent.
        for _ in 0..2 {
            let (token, session) = refresh_tokens::find(&self.db, &token_hash)
                .await?
                .ok_or_else(invalid)?;
            let at = now();
            if !session.is_live(at) || token.expires_at <= at {
                return Err(invalid());
            }
            tracing::Span::current().record("user_id", session.user_id);
            if !limited {
                limits
                    .refresh_of(&session.public_id)
                    .await
                    .map_err(ServiceError::RateLimited)?;
                limited = true;
            }
            match token.spent_at {
                None => {
                    if let Some(pair) = self.rotate(presented, token.id, &session, at).await? {
                        return Ok((self.user_of(&session).await?, pair));
                    }
                }
                Some(spent_at) if at - spent_at <= self.reuse_grace => {
                    let pair = self.replacement(presented, &session, spent_at).await?;
                    return Ok((self.user_of(&session).await?, pair));
                }
                Some(_) => {
                    sessions::revoke(&self.db, &session.jti, at).await?;
                    self.changed(session.user_id).await;
                    tracing::warn!(
                        user_id = session.user_id,
                        "a spent refresh token was presented again: its session is revoked"
                    );
                    return Err(ServiceError::RefreshRefused(RefreshProblem::Reused));
                }
            }
        }
        Err(invalid())
    }

    /// Spends live token `token_id` and gives the session its successor, in one transaction;
    /// `None` when another refresh spent it first.
    async fn rotate(
        &self,
        presented: &str,
        token_id: i64,
        session: &Session,
        at: DateTime<Utc>,
    ) -> Result<Option<TokenPair>, ServiceError> {
        let txn = crate::db::begin(&self.db).await?;
        // The write comes first, so that on SQLite the transaction takes the write lock (and
        // waits for it) before it reads anything.
        if !refresh_tokens::spend(&txn, token_id, at).await? {
            return Ok(None);
        }
        let expires_at = at + self.refresh_ttl;
        let successor = self.current_key()?.successor(presented)?;
        refresh_tokens::insert(&txn, session.row_id, hash_token(&successor), at, expires_at)
            .await?;
        sessions::extend(&txn, session.row_id, expires_at, at).await?;
        txn.commit().await?;
        self.pair(
            session.user_id,
            &session.jti,
            at,
            expires_at,
            successor,
            true,
        )
        .map(Some)
    }

    /// The pair that replaced `presented` when it was spent at `spent_at`, made again.
    async fn replacement(
        &self,
        presented: &str,
        session: &Session,
        spent_at: DateTime<Utc>,
    ) -> Result<TokenPair, ServiceError> {
        // Normally the current secret made it; the previous one did if the secret was rotated
        // in between.
        for key in &self.keys {
            let successor = key.successor(presented)?;
            if let Some((token, _)) =
                refresh_tokens::find(&self.db, &hash_token(&successor)).await?
                && token.issued_at == spent_at
            {
                return self.pair(
                    session.user_id,
                    &session.jti,
                    token.issued_at,
                    token.expires_at,
                    successor,
                    false,
                );
            }
        }
        Err(ServiceError::RefreshRefused(RefreshProblem::Invalid))
    }

    /// The pair of session `jti` whose refresh token was issued `issued_at` and expires
    /// `refresh_expires_at`. Made only from those, so that it can be made again alike.
    fn pair(
        &self,
        user_id: i64,
        jti: &str,
        issued_at: DateTime<Utc>,
        refresh_expires_at: DateTime<Utc>,
        refresh_token: String,
        fresh: bool,
    ) -> Result<TokenPair, ServiceError> {
        let access_ttl = TimeDelta::from_std(self.ttl).context("access token lifetime")?;
        let expires_at = (issued_at + access_ttl).min(refresh_expires_at);
        let claims = Claims {
            sub: user_id.to_string(),
            jti: jti.to_owned(),
            iat: issued_at.timestamp(),
            exp: expires_at.timestamp(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current_key()?.id.clone());
        let access_token = jsonwebtoken::encode(&header, &claims, &self.encoding)
            .context("signing an access token")?;
        // A new pair is counted from its issue, not from the clock, which may have ticked
        // since: it lives exactly its lifetimes. One made again later has what is left.
        let from = if fresh { issued_at } else { now() };
        let left = |until: DateTime<Utc>| (until - from).to_std().unwrap_or_default();
        Ok(TokenPair {
            access_token: Secret::new(access_token),
            expires_in: left(expires_at),
            refresh_token: Secret::new(refresh_token),
            refresh_expires_in: left(refresh_expires_at),
        })
    }

    fn current_key(&self) -> anyhow::Result<&Key> {
        self.keys.first().context("no signing key")
    }

    /// The user of a live session, from the session cache when it remembers them.
    async fn user_of(&self, session: &Session) -> Result<User, ServiceError> {
        // A refresh is a use, recorded by the refresh itself.
        let ticket = match self
            .cache
            .lookup(&session.jti, Some(session.user_id), TimeDelta::MAX)
        {
            Lookup::Hit(grant, _) => return Ok(grant.user),
            Lookup::Miss(ticket) => ticket,
        };
        let (session, user) =
            sessions::live_with_user(&self.db, &session.jti, session.user_id, now())
                .await?
                .ok_or(ServiceError::RefreshRefused(RefreshProblem::Invalid))?;
        if let Some(ticket) = ticket {
            let grant = Grant {
                user: user.clone(),
                abilities: None,
                expires_at: session.expires_at,
                last_used_at: session.last_used_at,
            };
            self.cache.store(ticket, &session.jti, grant);
        }
        Ok(user)
    }

    /// Accepts a token only when its signature, algorithm and expiry hold and its session row
    /// is live; one query fetches the session and its user together, unless the session cache
    /// remembers the answer. A use is recorded at most once a minute, after the answer.
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
        // jsonwebtoken still accepts a token during the second of its `exp`; RFC 7519 (4.1.4)
        // does not, and neither does `expires_in`.
        if claims.exp <= now().timestamp() {
            return Err(ServiceError::Unauthenticated(TokenProblem::Expired));
        }
        let user_id: i64 = claims
            .sub
            .parse()
            .map_err(|_| ServiceError::Unauthenticated(TokenProblem::Malformed))?;
        let ticket = match self
            .cache
            .lookup(&claims.jti, Some(user_id), TOUCH_INTERVAL)
        {
            Lookup::Hit(grant, touch) => {
                if touch {
                    self.touch_later(&claims.jti);
                }
                return Ok(Authenticated {
                    user: grant.user,
                    credential: Credential::Session(claims.jti),
                });
            }
            Lookup::Miss(ticket) => ticket,
        };
        let at = now();
        let (session, user) = sessions::live_with_user(&self.db, &claims.jti, user_id, at)
            .await?
            .ok_or_else(|| {
                // A token refused in the second it expires is an expired one, not a revoked one.
                ServiceError::Unauthenticated(if claims.exp <= now().timestamp() {
                    TokenProblem::Expired
                } else {
                    TokenProblem::Revoked
                })
            })?;
        let mut last_used_at = session.last_used_at;
        if at - last_used_at >= TOUCH_INTERVAL {
            self.touch_later(&claims.jti);
            last_used_at = at;
        }
        if let Some(ticket) = ticket {
            let grant = Grant {
                user: user.clone(),
                abilities: None,
                expires_at: session.expires_at,
                last_used_at,
            };
            self.cache.store(ticket, &claims.jti, grant);
        }
        Ok(Authenticated {
            user,
            credential: Credential::Session(claims.jti),
        })
    }

    /// Records a use of session `jti` without holding up the request: `last_used_at` may lag,
    /// which the contract allows, and a failed write loses nothing but that.
    fn touch_later(&self, jti: &str) {
        let db = self.db.clone();
        let jti = jti.to_owned();
        tokio::spawn(async move {
            if let Err(err) = sessions::touch(&db, &jti, now(), TOUCH_INTERVAL).await {
                tracing::warn!(error = %err, "could not record a session's use");
            }
        });
    }

    /// The live sessions of `user_id`, newest first, each with whether it is `current` (a
    /// `jti`).
    pub async fn list(
        &self,
        user_id: i64,
        current: Option<&str>,
    ) -> Result<Vec<(Session, bool)>, ServiceError> {
        let sessions = sessions::live_of_user(&self.db, user_id, now()).await?;
        Ok(sessions
            .into_iter()
            .map(|session| {
                let is_current = current == Some(session.jti.as_str());
                (session, is_current)
            })
            .collect())
    }

    /// Kills one session of `user_id` (logout).
    pub async fn revoke(&self, user_id: i64, session_id: &str) -> Result<(), ServiceError> {
        sessions::revoke(&self.db, session_id, now()).await?;
        self.changed(user_id).await;
        Ok(())
    }

    /// Kills the live session of `user_id` that the API shows as `public_id`; another user's,
    /// an unknown or an ended one is not found.
    pub async fn revoke_public(&self, user_id: i64, public_id: &str) -> Result<(), ServiceError> {
        if !sessions::revoke_public(&self.db, user_id, public_id, now()).await? {
            return Err(ServiceError::NotFound);
        }
        self.changed(user_id).await;
        Ok(())
    }

    /// Kills every live session of `user_id` but `keep` (a `jti`); answers how many.
    pub async fn revoke_all_but(
        &self,
        user_id: i64,
        keep: Option<&str>,
    ) -> Result<u64, ServiceError> {
        let revoked = sessions::revoke_all_but(&self.db, user_id, keep, now()).await?;
        self.changed(user_id).await;
        Ok(revoked)
    }

    /// Tells every instance's session cache that a user, or one of their sessions, changed.
    /// Call it after the change is committed.
    pub async fn changed(&self, user_id: i64) {
        self.cache.changed(user_id).await;
    }
}
