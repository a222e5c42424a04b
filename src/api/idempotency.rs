//! The `Idempotency-Key` request header, as an operation argument that puts itself in the spec.
//!
//! poem-openapi's `Header<Option<String>>` skips a value that is not text, so that a key with a
//! byte outside ASCII would be taken for no key at all and the request would run unprotected:
//! the raw bytes are read here, and anything but a valid key is a 422 naming the header.

use poem::{Request, RequestBody};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    registry::{MetaParamIn, MetaSchema, MetaSchemaRef},
};

use super::error::ApiError;
use crate::domain::{
    FieldErrors, Message,
    idempotency::{HEADER, IdempotencyKey, MAX_KEY_CHARS},
};

/// The request's `Idempotency-Key`, if it sent one.
pub struct IdempotencyKeyHeader(pub Option<IdempotencyKey>);

impl<'a> ApiExtractor<'a> for IdempotencyKeyHeader {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::Parameter];
    const PARAM_IS_REQUIRED: bool = false;

    type ParamType = ();
    type ParamRawType = ();

    fn param_in() -> Option<MetaParamIn> {
        Some(MetaParamIn::Header)
    }

    fn param_schema_ref() -> Option<MetaSchemaRef> {
        Some(MetaSchemaRef::Inline(Box::new(MetaSchema {
            min_length: Some(1),
            max_length: Some(MAX_KEY_CHARS),
            pattern: Some("^[!-~]+$".to_owned()),
            ..MetaSchema::new("string")
        })))
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        _options: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        let mut values = request.headers().get_all(HEADER).iter();
        let Some(value) = values.next() else {
            return Ok(Self(None));
        };
        let refused = |message: Message| -> poem::Error {
            ApiError::validation(FieldErrors::single(HEADER, message)).into()
        };
        if values.next().is_some() {
            return Err(refused(
                Message::new("idempotency-key-repeated").with("header", HEADER),
            ));
        }
        IdempotencyKey::parse(value.as_bytes())
            .map(|key| Self(Some(key)))
            .map_err(refused)
    }
}
