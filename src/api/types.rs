//! Types shared by several tags: timestamps, languages, users and plain messages.

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, Utc};
use poem_openapi::{
    Enum, Object,
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::{Example, MaybeUndefined, ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::Value;

use crate::{
    domain::{
        Message, Role, User,
        listing::{DEFAULT_PER_PAGE, PageMeta, PageRequest},
    },
    i18n::{self, Locale},
    service::ServiceError,
};

/// An instant in UTC, written as RFC 3339 with a `Z`: `2026-11-22T10:00:00Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub DateTime<Utc>);

impl Type for Timestamp {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_date-time".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "date-time")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ToJSON for Timestamp {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(
            self.0.to_rfc3339_opts(SecondsFormat::Secs, true),
        ))
    }
}

impl ParseFromJSON for Timestamp {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(text)) => DateTime::parse_from_rfc3339(&text)
                .map(|time| Self(time.with_timezone(&Utc)))
                .map_err(|err| ParseError::custom(err.to_string())),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(time: DateTime<Utc>) -> Self {
        Self(time)
    }
}

/// A language, as the `Locale` schema: a string enum of the folders of `locales/`, so that
/// generated clients get an enum and adding a language adds its value. A value outside it is
/// a 422 naming the allowed ones (the body check reads this schema's `enum`).
impl Type for Locale {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "Locale".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(Self::name().into_owned())
    }

    fn register(registry: &mut Registry) {
        registry.create_schema::<Self, _>(Self::name().into_owned(), |_| MetaSchema {
            description: Some("A language Comptoir writes in, by its tag."),
            enum_items: Self::all()
                .map(|locale| Value::String(locale.as_str().to_owned()))
                .collect(),
            ..MetaSchema::new("string")
        });
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ToJSON for Locale {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.as_str().to_owned()))
    }
}

impl ParseFromJSON for Locale {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(tag)) => {
                Self::parse(&tag).ok_or_else(|| ParseError::custom("not a known language"))
            }
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum RoleName {
    User,
    Admin,
}

impl From<Role> for RoleName {
    fn from(role: Role) -> Self {
        match role {
            Role::User => Self::User,
            Role::Admin => Self::Admin,
        }
    }
}

impl From<RoleName> for Role {
    fn from(role: RoleName) -> Self {
        match role {
            RoleName::User => Self::User,
            RoleName::Admin => Self::Admin,
        }
    }
}

/// An account. Never carries a password or its hash. `locale` is the language of every mail
/// to the user.
#[derive(Debug, Clone, Object)]
#[oai(rename = "User", example)]
pub struct UserResource {
    pub id: i64,
    pub name: String,
    /// Trimmed, lower-cased, NFKC-normalised, the domain in IDNA's ASCII form; unique.
    pub email: String,
    pub role: RoleName,
    #[oai(nullable)]
    pub email_verified_at: Option<Timestamp>,
    /// A new address asked for by the user and not confirmed yet: `email` stays as it is until
    /// the link mailed to this address is followed. `null` when no change waits.
    #[oai(nullable)]
    pub pending_email: Option<String>,
    pub locale: Locale,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<User> for UserResource {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            name: user.name,
            email: user.email,
            role: user.role.into(),
            email_verified_at: user.email_verified_at.map(Timestamp),
            pending_email: user.pending_email,
            locale: user.locale,
            created_at: user.created_at.into(),
            updated_at: user.updated_at.into(),
        }
    }
}

pub fn example_time() -> Timestamp {
    Timestamp(DateTime::from_timestamp(1_795_860_000, 0).unwrap_or_default())
}

impl Example for UserResource {
    fn example() -> Self {
        Self {
            id: 42,
            name: "Ada Lovelace".into(),
            email: "ada@example.com".into(),
            role: RoleName::User,
            email_verified_at: None,
            pending_email: None,
            locale: Locale::english(),
            created_at: example_time(),
            updated_at: example_time(),
        }
    }
}

/// A confirmation for a person to read.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct MessageResponse {
    pub message: String,
}

impl Example for MessageResponse {
    fn example() -> Self {
        Self {
            message: i18n::plain(Locale::english(), "auth-logged-out"),
        }
    }
}

/// Where a page sits in the list. A page asked for by number (`page`, the default) has
/// `current_page`, `total` and `last_page`; a page asked for by `cursor` has `next_cursor`
/// instead, and costs no count.
#[derive(Debug, Clone, Object)]
#[oai(rename = "PageMeta")]
pub struct PageMetaResource {
    pub per_page: u64,
    /// Pages by number only.
    #[oai(skip_serializing_if_is_none)]
    pub current_page: Option<u64>,
    /// Pages by number only: rows across all pages.
    #[oai(skip_serializing_if_is_none)]
    pub total: Option<u64>,
    /// Pages by number only: at least 1, even for an empty list.
    #[oai(skip_serializing_if_is_none)]
    pub last_page: Option<u64>,
    /// Pages by cursor only: the `cursor` of the next page, `null` on the last page.
    #[oai(nullable)]
    pub next_cursor: MaybeUndefined<String>,
}

impl From<PageMeta> for PageMetaResource {
    fn from(meta: PageMeta) -> Self {
        Self {
            per_page: meta.per_page,
            current_page: Some(meta.current_page),
            total: Some(meta.total),
            last_page: Some(meta.last_page),
            next_cursor: MaybeUndefined::Undefined,
        }
    }
}

impl PageMetaResource {
    pub fn of_cursor_page(per_page: u64, next_cursor: Option<String>) -> Self {
        Self {
            per_page,
            current_page: None,
            total: None,
            last_page: None,
            next_cursor: next_cursor.map_or(MaybeUndefined::Null, MaybeUndefined::Value),
        }
    }
}

/// How a list is read: by page number, or by cursor (`cursors::FIRST_PAGE` for the first).
#[derive(Debug)]
pub enum Paging {
    Number(PageRequest),
    Cursor { cursor: String, per_page: u64 },
}

impl Paging {
    /// The paging a list's query asks for: `page` (1 unless given) or `cursor`, not both.
    pub fn from_query(
        page: Option<u64>,
        cursor: Option<String>,
        per_page: u64,
    ) -> Result<Self, ServiceError> {
        match (page, cursor) {
            (Some(_), Some(_)) => Err(ServiceError::invalid(
                "cursor",
                Message::new("list-cursor-with-page"),
            )),
            (None, Some(cursor)) => Ok(Self::Cursor { cursor, per_page }),
            (page, None) => Ok(Self::Number(PageRequest {
                page: page.unwrap_or(1),
                per_page,
            })),
        }
    }
}

pub fn default_per_page() -> u64 {
    DEFAULT_PER_PAGE
}

/// An email address in a request: `format: email` in the spec. It is checked against the
/// domain's rules with the rest of the body, so that a bad one is a 422 on its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(pub String);

impl Type for EmailAddress {
    const IS_REQUIRED: bool = true;
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        "string_email".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "email")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ToJSON for EmailAddress {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

impl ParseFromJSON for EmailAddress {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(text)) => Ok(Self(text)),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl From<&str> for EmailAddress {
    fn from(text: &str) -> Self {
        Self(text.to_owned())
    }
}
