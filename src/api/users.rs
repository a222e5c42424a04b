//! The `users` tag: the user directory. Admins manage every account; a user reads and changes
//! only their own, and anyone else's id answers 404.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
    types::Example,
};

use super::{
    ApiTags, AppState,
    body::JsonBody,
    conditional::{if_match, not_modified},
    error::{ApiError, Failure, status::*},
    layers::ClientAddress,
    security::BearerAuth,
    types::{EmailAddress, PageMetaResource, Paging, RoleName, UserResource, default_per_page},
};
use crate::{
    domain::{Email, FieldErrors, Name, Password, Role, User, ability::Ability, listing::Sort},
    i18n::Locale,
    service::users::{NewUser, UserChanges, UserFilter, UserSortKey},
};

pub struct UsersApi;

/// A sort key; a leading `-` sorts descending. Ties are broken by `id`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Enum)]
pub enum UserSort {
    #[default]
    #[oai(rename = "id")]
    Id,
    #[oai(rename = "-id")]
    IdDesc,
    #[oai(rename = "created_at")]
    CreatedAt,
    #[oai(rename = "-created_at")]
    CreatedAtDesc,
    #[oai(rename = "name")]
    Name,
    #[oai(rename = "-name")]
    NameDesc,
    #[oai(rename = "email")]
    Email,
    #[oai(rename = "-email")]
    EmailDesc,
}

impl From<UserSort> for Sort<UserSortKey> {
    fn from(sort: UserSort) -> Self {
        let (key, descending) = match sort {
            UserSort::Id => (UserSortKey::Id, false),
            UserSort::IdDesc => (UserSortKey::Id, true),
            UserSort::CreatedAt => (UserSortKey::CreatedAt, false),
            UserSort::CreatedAtDesc => (UserSortKey::CreatedAt, true),
            UserSort::Name => (UserSortKey::Name, false),
            UserSort::NameDesc => (UserSortKey::Name, true),
            UserSort::Email => (UserSortKey::Email, false),
            UserSort::EmailDesc => (UserSortKey::Email, true),
        };
        Self { key, descending }
    }
}

/// One page of users.
#[derive(Debug, Object)]
pub struct UserPage {
    pub data: Vec<UserResource>,
    pub meta: PageMetaResource,
}

/// A new account. `role` is `user` unless given; `locale` is the language of this request
/// unless given.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct CreateUserRequest {
    #[oai(validator(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*$"
    ))]
    pub name: String,
    #[oai(validator(max_length = 254))]
    pub email: EmailAddress,
    /// 8 characters or more, at most 72 bytes.
    #[oai(validator(min_length = 8, max_length = 72))]
    pub password: String,
    pub role: Option<RoleName>,
    pub locale: Option<Locale>,
}

impl Example for CreateUserRequest {
    fn example() -> Self {
        Self {
            name: "Grace Hopper".into(),
            email: "grace@example.com".into(),
            password: "correct horse battery".into(),
            role: Some(RoleName::Admin),
            locale: Some(Locale::english()),
        }
    }
}

/// The whole editable account. `name` and `email` are required; the rest is optional.
/// `role` is for admins only: a body from anyone else that carries it is refused (422).
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct ReplaceUserRequest {
    #[oai(validator(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*$"
    ))]
    pub name: String,
    #[oai(validator(max_length = 254))]
    pub email: EmailAddress,
    /// A new password; revokes the user's other sessions.
    #[oai(validator(min_length = 8, max_length = 72))]
    pub password: Option<String>,
    pub role: Option<RoleName>,
    pub locale: Option<Locale>,
    /// Required to change your own email or password.
    #[oai(validator(max_length = 1024))]
    pub current_password: Option<String>,
}

impl Example for ReplaceUserRequest {
    fn example() -> Self {
        Self {
            name: "Ada King".into(),
            email: "ada.king@example.com".into(),
            password: None,
            role: None,
            locale: None,
            current_password: Some("correct horse battery".into()),
        }
    }
}

/// The fields to change; absent fields stay as they are. `role` is for admins only: a body
/// from anyone else that carries it is refused (422).
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct UpdateUserRequest {
    #[oai(validator(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*$"
    ))]
    pub name: Option<String>,
    #[oai(validator(max_length = 254))]
    pub email: Option<EmailAddress>,
    /// A new password; revokes the user's other sessions.
    #[oai(validator(min_length = 8, max_length = 72))]
    pub password: Option<String>,
    pub role: Option<RoleName>,
    pub locale: Option<Locale>,
    /// Required to change your own email or password.
    #[oai(validator(max_length = 1024))]
    pub current_password: Option<String>,
}

impl Example for UpdateUserRequest {
    fn example() -> Self {
        Self {
            name: Some("Ada King".into()),
            email: None,
            password: None,
            role: None,
            locale: None,
            current_password: None,
        }
    }
}

#[derive(ApiResponse)]
pub enum UserListResponse {
    /// One page of users.
    #[oai(status = 200)]
    Ok(Json<UserPage>),
}

#[derive(ApiResponse)]
pub enum UserCreatedResponse {
    /// The account was created.
    #[oai(status = 201)]
    Created(
        Json<UserResource>,
        /// Where the new user lives: `/api/users/{id}`.
        #[oai(header = "Location")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum UserViewResponse {
    /// The user.
    #[oai(status = 200)]
    Ok(
        Json<UserResource>,
        /// The account's strong entity tag, for `If-None-Match` and `If-Match`.
        #[oai(header = "ETag")]
        String,
    ),
    /// `If-None-Match` named the current tag: what you hold is current. No body.
    #[oai(status = 304)]
    NotModified(
        /// The account's current entity tag.
        #[oai(header = "ETag")]
        String,
    ),
}

impl UserViewResponse {
    /// The account, or a 304 when `If-None-Match` names its current tag.
    pub fn new(user: User, if_none_match: &Header<Option<String>>) -> Self {
        let tag = user.entity_tag();
        if not_modified(if_none_match, tag) {
            Self::NotModified(tag.header_value())
        } else {
            Self::Ok(Json(user.into()), tag.header_value())
        }
    }
}

#[derive(ApiResponse)]
pub enum UserResponse {
    /// The user as it now is.
    #[oai(status = 200)]
    Ok(
        Json<UserResource>,
        /// The account's new strong entity tag.
        #[oai(header = "ETag")]
        String,
    ),
}

impl UserResponse {
    fn new(user: User) -> Self {
        let tag = user.entity_tag().header_value();
        Self::Ok(Json(user.into()), tag)
    }
}

#[derive(ApiResponse)]
pub enum UserDeletedResponse {
    /// The user, their sessions and their reset tokens are gone; their tokens no longer work.
    #[oai(status = 204)]
    Deleted,
}

fn parse_name(errors: &mut FieldErrors, raw: Option<&str>) -> Option<Name> {
    raw.and_then(|raw| errors.check("name", Name::parse(raw)))
}

fn parse_email(errors: &mut FieldErrors, raw: Option<&str>) -> Option<Email> {
    raw.and_then(|raw| errors.check("email", Email::parse(raw)))
}

fn parse_password(errors: &mut FieldErrors, raw: Option<String>) -> Option<Password> {
    raw.and_then(|raw| errors.check("password", Password::parse(raw)))
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::Users")]
impl UsersApi {
    /// List users
    ///
    /// Admins only. Filter with `q` (part of the name or email, any case) and `role`. API
    /// tokens need `users:read`.
    #[oai(path = "/users", method = "get", operation_id = "user_list")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// Page number, from 1 (1 unless given). Not with `cursor`.
        #[oai(validator(minimum(value = "1"), maximum(value = "1000000")))]
        page: Query<Option<u64>>,
        /// Reads the list by cursor instead of by page number: `start` for the first page,
        /// then the previous page's `meta.next_cursor`, with the same filters and sort. Not
        /// with `page`.
        #[oai(validator(max_length = 1000))]
        cursor: Query<Option<String>>,
        /// Rows per page, 1 to 100.
        #[oai(
            default = "default_per_page",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        per_page: Query<u64>,
        /// Sort key, `id` unless given; a leading `-` sorts descending; ties are broken by `id`.
        sort: Query<Option<UserSort>>,
        /// Part of the name or email, any case.
        #[oai(validator(max_length = 100, pattern = r"^[^\x00]*$"))]
        q: Query<Option<String>>,
        role: Query<Option<RoleName>>,
    ) -> Result<
        UserListResponse,
        Failure<{ UNAUTHORIZED | FORBIDDEN | MISSING_ABILITY | LIST | ALWAYS }>,
    > {
        auth.0.require(Ability::UsersRead)?;
        let filter = UserFilter {
            q: q.0,
            role: role.0.map(Role::from),
        };
        let sort = sort.0.unwrap_or_default().into();
        let (data, meta) = match Paging::from_query(page.0, cursor.0, per_page.0)? {
            Paging::Number(page) => {
                let page = state.users.list(&auth.0.user, filter, sort, page).await?;
                (page.data, page.meta.into())
            }
            Paging::Cursor { cursor, per_page } => {
                let page = state
                    .users
                    .list_by_cursor(&auth.0.user, filter, sort, &cursor, per_page)
                    .await?;
                let meta = PageMetaResource::of_cursor_page(page.per_page, page.next_cursor);
                (page.data, meta)
            }
        };
        Ok(UserListResponse::Ok(Json(UserPage {
            data: data.into_iter().map(UserResource::from).collect(),
            meta,
        })))
    }

    /// Create a user
    ///
    /// Admins only. The role is `user` unless given; the locale is the language of this
    /// request unless given. API tokens need `users:write`.
    #[oai(path = "/users", method = "post", operation_id = "user_create")]
    async fn create(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        client: Data<&ClientAddress>,
        negotiated: Data<&Locale>,
        body: JsonBody<CreateUserRequest>,
    ) -> Result<
        UserCreatedResponse,
        Failure<{ UNAUTHORIZED | FORBIDDEN | MISSING_ABILITY | JSON_BODY | ALWAYS }>,
    > {
        auth.0.require(Ability::UsersWrite)?;
        if !auth.0.user.is_admin() {
            return Err(ApiError::forbidden().into());
        }
        let request = body.0;
        let mut errors = FieldErrors::new();
        let name = parse_name(&mut errors, Some(&request.name));
        let email = parse_email(&mut errors, Some(&request.email.0));
        let password = parse_password(&mut errors, Some(request.password));
        let (Some(name), Some(email), Some(password)) = (name, email, password) else {
            return Err(ApiError::validation(errors).into());
        };
        let new_user = NewUser {
            name,
            email,
            password,
            role: request.role.map_or(Role::User, Role::from),
            locale: request.locale.unwrap_or(*negotiated.0),
        };
        let user = state
            .users
            .create(&auth.0.user, new_user, &client.0.claimant())
            .await?;
        let location = format!("/api/users/{}", user.id);
        Ok(UserCreatedResponse::Created(Json(user.into()), location))
    }

    /// Show a user
    ///
    /// Yourself, or anyone for an admin. The `ETag` changes with every change to the account
    /// (a new password and a verified address included); send it back in `If-None-Match` to
    /// get a 304 while it is current, or in `If-Match` to change only the version you read.
    /// API tokens need `users:read`.
    #[oai(path = "/users/:id", method = "get", operation_id = "user_view")]
    async fn view(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        id: Path<i64>,
        /// Tags you hold (or `*`): 304 without a body while one is current.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
    ) -> Result<UserViewResponse, Failure<{ PER_ID | MISSING_ABILITY }>> {
        auth.0.require(Ability::UsersRead)?;
        let user = state.users.get(&auth.0.user, id.0).await?;
        Ok(UserViewResponse::new(user, &if_none_match))
    }

    /// Replace a user
    ///
    /// Sets the name and email (both required) and optionally the password, the locale and,
    /// for admins, the role. Changing your own email or password needs `current_password`.
    /// API tokens need `users:write`, and cannot change an email or a password
    /// (`session_required`).
    #[oai(path = "/users/:id", method = "put", operation_id = "user_replace")]
    async fn replace(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        id: Path<i64>,
        client: Data<&ClientAddress>,
        /// Change only the version with this tag (a list of tags, or `*` for any): 412
        /// `precondition_failed` otherwise, and nothing changes.
        #[oai(name = "If-Match")]
        if_match_header: Header<Option<String>>,
        body: JsonBody<ReplaceUserRequest>,
    ) -> Result<
        UserResponse,
        Failure<{ PER_ID | JSON_BODY | PRECONDITION_FAILED | MISSING_ABILITY | SESSION_REQUIRED }>,
    > {
        auth.0.require(Ability::UsersWrite)?;
        let request = body.0;
        let mut errors = FieldErrors::new();
        let changes = UserChanges {
            name: parse_name(&mut errors, Some(&request.name)),
            email: parse_email(&mut errors, Some(&request.email.0)),
            password: parse_password(&mut errors, request.password),
            role: request.role.map(Role::from),
            locale: request.locale,
            current_password: request.current_password,
        };
        if !errors.is_empty() {
            return Err(ApiError::validation(errors).into());
        }
        let user = state
            .users
            .update(
                &auth.0,
                id.0,
                changes,
                &client.0.claimant(),
                if_match(&if_match_header).as_ref(),
            )
            .await?;
        Ok(UserResponse::new(user))
    }

    /// Update a user
    ///
    /// Changes only the fields sent; an empty body changes nothing. Same rules as replace. A
    /// request that changes nothing keeps the version and the `ETag`. API tokens need
    /// `users:write`, and cannot change an email or a password (`session_required`).
    #[oai(path = "/users/:id", method = "patch", operation_id = "user_update")]
    async fn update(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        id: Path<i64>,
        client: Data<&ClientAddress>,
        /// Change only the version with this tag (a list of tags, or `*` for any): 412
        /// `precondition_failed` otherwise, and nothing changes.
        #[oai(name = "If-Match")]
        if_match_header: Header<Option<String>>,
        body: JsonBody<UpdateUserRequest>,
    ) -> Result<
        UserResponse,
        Failure<{ PER_ID | JSON_BODY | PRECONDITION_FAILED | MISSING_ABILITY | SESSION_REQUIRED }>,
    > {
        auth.0.require(Ability::UsersWrite)?;
        let request = body.0;
        let mut errors = FieldErrors::new();
        let changes = UserChanges {
            name: parse_name(&mut errors, request.name.as_deref()),
            email: parse_email(
                &mut errors,
                request.email.as_ref().map(|email| email.0.as_str()),
            ),
            password: parse_password(&mut errors, request.password),
            role: request.role.map(Role::from),
            locale: request.locale,
            current_password: request.current_password,
        };
        if !errors.is_empty() {
            return Err(ApiError::validation(errors).into());
        }
        let user = state
            .users
            .update(
                &auth.0,
                id.0,
                changes,
                &client.0.claimant(),
                if_match(&if_match_header).as_ref(),
            )
            .await?;
        Ok(UserResponse::new(user))
    }

    /// Delete a user
    ///
    /// Yourself, or anyone for an admin. A user who still has orders cannot be deleted (409).
    /// API tokens need `users:write`.
    #[oai(path = "/users/:id", method = "delete", operation_id = "user_delete")]
    async fn delete(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        id: Path<i64>,
        /// Delete only the version with this tag (a list of tags, or `*` for any): 412
        /// `precondition_failed` otherwise, and nothing is deleted.
        #[oai(name = "If-Match")]
        if_match_header: Header<Option<String>>,
    ) -> Result<
        UserDeletedResponse,
        Failure<{ PER_ID | CONFLICT | PRECONDITION_FAILED | MISSING_ABILITY }>,
    > {
        auth.0.require(Ability::UsersWrite)?;
        state
            .users
            .delete(&auth.0.user, id.0, if_match(&if_match_header).as_ref())
            .await?;
        Ok(UserDeletedResponse::Deleted)
    }
}
