//! The `tokens` tag: API tokens with abilities, for the shop's other systems (a warehouse
//! reading new orders, a back office setting prices). Made, listed and deleted from a signed-in
//! session only; another user's token answers 404, as an unknown one does.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::Path,
    payload::Json,
    types::{Example, ToJSON},
};

use super::{
    ApiTags, AppState,
    body::JsonBody,
    error::{Failure, status::*},
    security::SessionAuth,
    types::{Timestamp, example_time},
};
use crate::{
    db::api_tokens::ApiToken, domain::ability::Ability, service::api_tokens::TokenRequest,
};

pub struct TokensApi;

/// An ability a token may be given; `*` is every ability its owner may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum AbilityName {
    #[oai(rename = "orders:read")]
    OrdersRead,
    #[oai(rename = "orders:write")]
    OrdersWrite,
    #[oai(rename = "orders:price")]
    OrdersPrice,
    #[oai(rename = "products:write")]
    ProductsWrite,
    #[oai(rename = "users:read")]
    UsersRead,
    #[oai(rename = "users:write")]
    UsersWrite,
    #[oai(rename = "webhooks:manage")]
    WebhooksManage,
    #[oai(rename = "*")]
    Every,
}

impl AbilityName {
    fn word(self) -> String {
        self.to_json_string().trim_matches('"').to_owned()
    }
}

/// What a token is for and what it may do.
#[derive(Debug, Object)]
#[oai(example)]
pub struct CreateTokenRequest {
    /// What the token is for, as its owner will recognise it in the list.
    #[oai(validator(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*$"
    ))]
    pub name: String,
    /// At least one. `orders:price`, `products:write` and `webhooks:manage` are for admins
    /// (`orders:price` for anyone with `ORDER_FREE_LINES=anyone`); a token never has more
    /// rights than its owner.
    #[oai(validator(min_items = 1, max_items = 8))]
    pub abilities: Vec<AbilityName>,
    /// Seconds until the token expires, from 60 to 158112000 (five years); without it the
    /// token lives until deleted.
    #[oai(validator(minimum(value = "60"), maximum(value = "158112000")))]
    pub expires_in: Option<u64>,
}

impl Example for CreateTokenRequest {
    fn example() -> Self {
        Self {
            name: "Warehouse".into(),
            abilities: vec![AbilityName::OrdersRead, AbilityName::OrdersWrite],
            expires_in: Some(31_536_000),
        }
    }
}

/// An API token, without the token itself.
#[derive(Debug, Clone, Object)]
#[oai(rename = "ApiToken", example)]
pub struct TokenResource {
    pub id: i64,
    pub name: String,
    /// As granted, `*` first.
    pub abilities: Vec<String>,
    pub created_at: Timestamp,
    /// Recorded at most once a minute: it may lag by up to a minute. `null` until first used.
    #[oai(nullable)]
    pub last_used_at: Option<Timestamp>,
    /// `null`: until deleted.
    #[oai(nullable)]
    pub expires_at: Option<Timestamp>,
}

impl TokenResource {
    fn new(token: ApiToken) -> Self {
        Self {
            id: token.id,
            name: token.name,
            abilities: token
                .abilities
                .words()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            created_at: token.created_at.into(),
            last_used_at: token.last_used_at.map(Timestamp),
            expires_at: token.expires_at.map(Timestamp),
        }
    }
}

impl Example for TokenResource {
    fn example() -> Self {
        Self {
            id: 7,
            name: "Warehouse".into(),
            abilities: vec![
                Ability::OrdersRead.as_str().into(),
                Ability::OrdersWrite.as_str().into(),
            ],
            created_at: example_time(),
            last_used_at: None,
            expires_at: Some(example_time()),
        }
    }
}

/// A new API token, with the token itself: shown this once, and stored only as its SHA-256.
#[derive(Debug, Object)]
#[oai(rename = "NewApiToken", example)]
pub struct NewTokenResource {
    pub id: i64,
    pub name: String,
    pub abilities: Vec<String>,
    /// Send it as `Authorization: Bearer <token>`. Keep it secret: it is not shown again.
    pub token: String,
    pub created_at: Timestamp,
    #[oai(nullable)]
    pub last_used_at: Option<Timestamp>,
    #[oai(nullable)]
    pub expires_at: Option<Timestamp>,
}

impl Example for NewTokenResource {
    fn example() -> Self {
        let token = TokenResource::example();
        Self {
            id: token.id,
            name: token.name,
            abilities: token.abilities,
            token: "cmpt_9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            created_at: token.created_at,
            last_used_at: None,
            expires_at: token.expires_at,
        }
    }
}

/// Your live API tokens, newest first.
#[derive(Debug, Object)]
#[oai(rename = "ApiTokenList")]
pub struct TokenList {
    pub data: Vec<TokenResource>,
}

#[derive(ApiResponse)]
pub enum TokenCreatedResponse {
    /// The token, shown this once.
    #[oai(status = 201)]
    Created(Json<NewTokenResource>),
}

#[derive(ApiResponse)]
pub enum TokenListResponse {
    /// Your live tokens, newest first.
    #[oai(status = 200)]
    Ok(Json<TokenList>),
}

#[derive(ApiResponse)]
pub enum TokenDeletedResponse {
    /// The token no longer works, on any instance.
    #[oai(status = 204)]
    NoContent,
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::Tokens")]
impl TokensApi {
    /// Create an API token
    ///
    /// A token for another system, with only the abilities it needs. The `token` is in this
    /// answer only: store it now. From a signed-in session only: an API token cannot make
    /// another.
    #[oai(path = "/tokens", method = "post", operation_id = "token_create")]
    async fn create(
        &self,
        auth: SessionAuth,
        state: Data<&AppState>,
        body: JsonBody<CreateTokenRequest>,
    ) -> Result<
        TokenCreatedResponse,
        Failure<{ UNAUTHORIZED | SESSION_REQUIRED | JSON_BODY | ALWAYS }>,
    > {
        let body = body.0;
        let request = TokenRequest {
            name: body.name,
            abilities: body.abilities.into_iter().map(AbilityName::word).collect(),
            expires_in: body.expires_in,
        };
        let (token, secret) = state.api_tokens.create(&auth.0, request).await?;
        let shown = TokenResource::new(token);
        Ok(TokenCreatedResponse::Created(Json(NewTokenResource {
            id: shown.id,
            name: shown.name,
            abilities: shown.abilities,
            token: secret.expose().clone(),
            created_at: shown.created_at,
            last_used_at: shown.last_used_at,
            expires_at: shown.expires_at,
        })))
    }

    /// List your API tokens
    ///
    /// Your live tokens, newest first, without the tokens themselves.
    #[oai(path = "/tokens", method = "get", operation_id = "token_list")]
    async fn list(
        &self,
        auth: SessionAuth,
        state: Data<&AppState>,
    ) -> Result<TokenListResponse, Failure<{ UNAUTHORIZED | SESSION_REQUIRED | ALWAYS }>> {
        let tokens = state.api_tokens.list(&auth.0).await?;
        Ok(TokenListResponse::Ok(Json(TokenList {
            data: tokens.into_iter().map(TokenResource::new).collect(),
        })))
    }

    /// Delete an API token
    ///
    /// The token stops working at once, on every instance.
    #[oai(path = "/tokens/:id", method = "delete", operation_id = "token_delete")]
    async fn delete(
        &self,
        auth: SessionAuth,
        state: Data<&AppState>,
        /// The token's `id`.
        id: Path<i64>,
    ) -> Result<TokenDeletedResponse, Failure<{ PER_ID | SESSION_REQUIRED }>> {
        state.api_tokens.delete(&auth.0, id.0).await?;
        Ok(TokenDeletedResponse::NoContent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ability::EVERY_ABILITY;

    #[test]
    fn every_ability_has_its_name_in_the_spec() {
        let spec = crate::api::spec::document();
        let named: Vec<&str> = spec["components"]["schemas"]["AbilityName"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|name| name.as_str().unwrap())
            .collect();
        let mut known: Vec<&str> = Ability::ALL
            .iter()
            .map(|ability| ability.as_str())
            .collect();
        known.push(EVERY_ABILITY);
        assert_eq!(named, known);
    }
}
