//! The `products` tag: the catalogue. Anyone reads the active products; admins read the
//! inactive ones too and are the only ones to change any.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
    types::{Example, MaybeUndefined},
};

use super::{
    ApiTags, AppState,
    body::JsonBody,
    conditional::{if_match, not_modified},
    error::{ApiError, Failure, status::*},
    security::{BearerAuth, OptionalBearerAuth},
    types::{PageMetaResource, Paging, Timestamp, default_per_page, example_time},
};
use crate::{
    domain::{
        FieldErrors, User,
        ability::Ability,
        listing::Sort,
        order::Currency,
        product::{Product, Sku, parse_description, parse_price, parse_product_name, parse_stock},
    },
    service::products::{NewProduct, ProductChanges, ProductFilter, ProductSortKey},
};

pub struct ProductsApi;

/// A sort key; a leading `-` sorts descending. Ties are broken by `id`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Enum)]
pub enum ProductSort {
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
    #[oai(rename = "price_cents")]
    PriceCents,
    #[oai(rename = "-price_cents")]
    PriceCentsDesc,
}

impl From<ProductSort> for Sort<ProductSortKey> {
    fn from(sort: ProductSort) -> Self {
        let (key, descending) = match sort {
            ProductSort::Id => (ProductSortKey::Id, false),
            ProductSort::IdDesc => (ProductSortKey::Id, true),
            ProductSort::CreatedAt => (ProductSortKey::CreatedAt, false),
            ProductSort::CreatedAtDesc => (ProductSortKey::CreatedAt, true),
            ProductSort::Name => (ProductSortKey::Name, false),
            ProductSort::NameDesc => (ProductSortKey::Name, true),
            ProductSort::PriceCents => (ProductSortKey::PriceCents, false),
            ProductSort::PriceCentsDesc => (ProductSortKey::PriceCents, true),
        };
        Self { key, descending }
    }
}

/// A product of the catalogue. Money is in integer minor units of `currency`.
#[derive(Debug, Object)]
#[oai(rename = "Product", example)]
pub struct ProductResource {
    pub id: i64,
    /// Unique whatever its case.
    pub sku: String,
    pub name: String,
    #[oai(nullable)]
    pub description: Option<String>,
    pub price_cents: i64,
    /// ISO 4217.
    pub currency: String,
    /// Units left; null when the stock is not tracked.
    #[oai(nullable)]
    pub stock: Option<i64>,
    /// An inactive product cannot be ordered, and only admins see it.
    pub active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<Product> for ProductResource {
    fn from(product: Product) -> Self {
        Self {
            id: product.id,
            sku: product.sku,
            name: product.name,
            description: product.description,
            price_cents: product.price_cents,
            currency: product.currency.as_str().to_owned(),
            stock: product.stock,
            active: product.active,
            created_at: product.created_at.into(),
            updated_at: product.updated_at.into(),
        }
    }
}

impl Example for ProductResource {
    fn example() -> Self {
        Self {
            id: 3,
            sku: "COF-1KG".into(),
            name: "Café en grains, 1 kg".into(),
            description: Some("Arabica d’Éthiopie, torréfaction moyenne.".into()),
            price_cents: 1_890,
            currency: "EUR".into(),
            stock: Some(40),
            active: true,
            created_at: example_time(),
            updated_at: example_time(),
        }
    }
}

/// One page of products.
#[derive(Debug, Object)]
pub struct ProductPage {
    pub data: Vec<ProductResource>,
    pub meta: PageMetaResource,
}

/// A whole product, to create or to replace: `sku`, `name` and `price_cents` are required; an
/// absent `currency` is `EUR`, an absent `description` or `stock` is null (a null stock is not
/// tracked) and an absent `active` is true.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct ProductRequest {
    /// Letters, digits, `-`, `_` and `.`, starting with a letter or a digit.
    #[oai(validator(max_length = 64, pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"))]
    pub sku: String,
    #[oai(validator(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*$"
    ))]
    pub name: String,
    #[oai(nullable, validator(max_length = 2000, pattern = r"^[^\x00]*$"))]
    pub description: Option<String>,
    #[oai(validator(minimum(value = "0"), maximum(value = "100000000")))]
    pub price_cents: i64,
    #[oai(validator(pattern = "^[A-Z]{3}$"))]
    pub currency: Option<String>,
    #[oai(
        nullable,
        validator(minimum(value = "0"), maximum(value = "1000000000"))
    )]
    pub stock: Option<i64>,
    pub active: Option<bool>,
}

impl Example for ProductRequest {
    fn example() -> Self {
        Self {
            sku: "COF-1KG".into(),
            name: "Café en grains, 1 kg".into(),
            description: Some("Arabica d’Éthiopie, torréfaction moyenne.".into()),
            price_cents: 1_890,
            currency: Some("EUR".into()),
            stock: Some(40),
            active: None,
        }
    }
}

/// The fields to change; absent fields stay as they are, a null `description` clears it and a
/// null `stock` stops tracking it.
#[derive(Debug, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct UpdateProductRequest {
    #[oai(validator(max_length = 64, pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"))]
    pub sku: Option<String>,
    #[oai(validator(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u2028-\u202E\u2066-\u2069]*$"
    ))]
    pub name: Option<String>,
    #[oai(nullable, validator(max_length = 2000, pattern = r"^[^\x00]*$"))]
    pub description: MaybeUndefined<String>,
    #[oai(validator(minimum(value = "0"), maximum(value = "100000000")))]
    pub price_cents: Option<i64>,
    #[oai(validator(pattern = "^[A-Z]{3}$"))]
    pub currency: Option<String>,
    #[oai(
        nullable,
        validator(minimum(value = "0"), maximum(value = "1000000000"))
    )]
    pub stock: MaybeUndefined<i64>,
    pub active: Option<bool>,
}

impl Example for UpdateProductRequest {
    fn example() -> Self {
        Self {
            sku: None,
            name: None,
            description: MaybeUndefined::Undefined,
            price_cents: Some(1_990),
            currency: None,
            stock: MaybeUndefined::Value(100),
            active: None,
        }
    }
}

#[derive(ApiResponse)]
pub enum ProductListResponse {
    /// One page of products.
    #[oai(status = 200)]
    Ok(Json<ProductPage>),
}

#[derive(ApiResponse)]
pub enum ProductCreatedResponse {
    /// The product was created.
    #[oai(status = 201)]
    Created(
        Json<ProductResource>,
        /// Where the new product lives: `/api/products/{id}`.
        #[oai(header = "Location")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum ProductViewResponse {
    /// The product.
    #[oai(status = 200)]
    Ok(
        Json<ProductResource>,
        /// The product's strong entity tag, for `If-None-Match` and `If-Match`.
        #[oai(header = "ETag")]
        String,
    ),
    /// `If-None-Match` named the current tag: what you hold is current. No body.
    #[oai(status = 304)]
    NotModified(
        /// The product's current entity tag.
        #[oai(header = "ETag")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum ProductResponse {
    /// The product as it now is.
    #[oai(status = 200)]
    Ok(
        Json<ProductResource>,
        /// The product's new strong entity tag.
        #[oai(header = "ETag")]
        String,
    ),
}

impl ProductResponse {
    fn new(product: Product) -> Self {
        let tag = product.entity_tag().header_value();
        Self::Ok(Json(product.into()), tag)
    }
}

#[derive(ApiResponse)]
pub enum ProductDeletedResponse {
    /// The product is gone.
    #[oai(status = 204)]
    Deleted,
}

/// Every field of a whole product, parsed; the errors name each bad one.
fn parse_whole(request: ProductRequest) -> Result<NewProduct, FieldErrors> {
    let mut errors = FieldErrors::new();
    let sku = errors.check("sku", Sku::parse(&request.sku));
    let name = errors.check("name", parse_product_name(&request.name));
    let description = request
        .description
        .and_then(|raw| errors.check("description", parse_description(raw)));
    let price_cents = errors.check("price_cents", parse_price(request.price_cents));
    let currency = match request.currency {
        Some(raw) => errors.check("currency", Currency::parse(&raw)),
        None => Some(Currency::euro()),
    };
    let stock = request
        .stock
        .map(|units| errors.check("stock", parse_stock(units)));
    match (sku, name, price_cents, currency, stock) {
        (
            Some(sku),
            Some(name),
            Some(price_cents),
            Some(currency),
            stock @ (None | Some(Some(_))),
        ) if errors.is_empty() => Ok(NewProduct {
            sku,
            name,
            description,
            price_cents,
            currency,
            stock: stock.flatten(),
            active: request.active.unwrap_or(true),
        }),
        _ => Err(errors),
    }
}

/// Whose catalogue a request reads: its account's, unless it comes with an API token that may
/// not write the catalogue, which reads as a visitor does.
fn catalogue_reader(auth: &OptionalBearerAuth) -> Option<&User> {
    auth.0
        .as_ref()
        .filter(|found| found.allows(Ability::ProductsWrite))
        .map(|found| &found.user)
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::Products")]
impl ProductsApi {
    /// List products
    ///
    /// No token needed: anyone sees the active products, and only admins the inactive ones
    /// (`active=false` gives anyone else an empty page). Filter with `q` (part of the name or
    /// sku, any case) and `active`. Any API token may read; one shows the inactive products
    /// when it has `products:write` and its owner is an admin.
    #[oai(path = "/products", method = "get", operation_id = "product_list")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        auth: OptionalBearerAuth,
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
        sort: Query<Option<ProductSort>>,
        /// Part of the name or sku, any case.
        #[oai(validator(max_length = 100, pattern = r"^[^\x00]*$"))]
        q: Query<Option<String>>,
        /// Only the active products (`true`) or only the inactive ones (`false`).
        active: Query<Option<bool>>,
    ) -> Result<ProductListResponse, Failure<{ UNAUTHORIZED | LIST | ALWAYS }>> {
        let actor = catalogue_reader(&auth);
        let filter = ProductFilter {
            q: q.0,
            active: active.0,
        };
        let sort = sort.0.unwrap_or_default().into();
        let (data, meta) = match Paging::from_query(page.0, cursor.0, per_page.0)? {
            Paging::Number(page) => {
                let page = state.products.list(actor, filter, sort, page).await?;
                (page.data, page.meta.into())
            }
            Paging::Cursor { cursor, per_page } => {
                let page = state
                    .products
                    .list_by_cursor(actor, filter, sort, &cursor, per_page)
                    .await?;
                let meta = PageMetaResource::of_cursor_page(page.per_page, page.next_cursor);
                (page.data, meta)
            }
        };
        Ok(ProductListResponse::Ok(Json(ProductPage {
            data: data.into_iter().map(ProductResource::from).collect(),
            meta,
        })))
    }

    /// Create a product
    ///
    /// Admins only. A sku already taken, in any case, is a 422. API tokens need
    /// `products:write`.
    #[oai(path = "/products", method = "post", operation_id = "product_create")]
    async fn create(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        body: JsonBody<ProductRequest>,
    ) -> Result<
        ProductCreatedResponse,
        Failure<{ UNAUTHORIZED | FORBIDDEN | MISSING_ABILITY | JSON_BODY | ALWAYS }>,
    > {
        auth.0.require(Ability::ProductsWrite)?;
        if !auth.0.user.is_admin() {
            return Err(ApiError::forbidden().into());
        }
        let product = parse_whole(body.0).map_err(ApiError::validation)?;
        let product = state.products.create(&auth.0.user, product).await?;
        let location = format!("/api/products/{}", product.id);
        Ok(ProductCreatedResponse::Created(
            Json(product.into()),
            location,
        ))
    }

    /// Show a product
    ///
    /// No token needed; an inactive product is a 404 but for admins (an API token of an admin's
    /// with `products:write`; any other token reads as a visitor). The `ETag` changes with
    /// every change to the product, its stock taken or given back by orders included; send it
    /// back in `If-None-Match` to get a 304 while it is current, or in `If-Match` to change
    /// only the version you read.
    #[oai(path = "/products/:id", method = "get", operation_id = "product_view")]
    async fn view(
        &self,
        auth: OptionalBearerAuth,
        state: Data<&AppState>,
        id: Path<i64>,
        /// Tags you hold (or `*`): 304 without a body while one is current.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
    ) -> Result<ProductViewResponse, Failure<PER_ID>> {
        let actor = catalogue_reader(&auth);
        let product = state.products.get(actor, id.0).await?;
        let tag = product.entity_tag();
        if not_modified(&if_none_match, tag) {
            return Ok(ProductViewResponse::NotModified(tag.header_value()));
        }
        Ok(ProductViewResponse::Ok(
            Json(product.into()),
            tag.header_value(),
        ))
    }

    /// Replace a product
    ///
    /// Admins only. Sets every field: absent optional ones take their defaults, as on create.
    /// One that changes nothing writes nothing: the `ETag` stays as it was. API tokens need
    /// `products:write`.
    #[oai(
        path = "/products/:id",
        method = "put",
        operation_id = "product_replace"
    )]
    async fn replace(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        id: Path<i64>,
        /// Change only the version with this tag (a list of tags, or `*` for any): 412
        /// `precondition_failed` otherwise, and nothing changes.
        #[oai(name = "If-Match")]
        if_match_header: Header<Option<String>>,
        body: JsonBody<ProductRequest>,
    ) -> Result<
        ProductResponse,
        Failure<{ PER_ID | FORBIDDEN | JSON_BODY | PRECONDITION_FAILED | MISSING_ABILITY }>,
    > {
        auth.0.require(Ability::ProductsWrite)?;
        if !auth.0.user.is_admin() {
            return Err(ApiError::forbidden().into());
        }
        let whole = parse_whole(body.0).map_err(ApiError::validation)?;
        let changes = ProductChanges {
            sku: Some(whole.sku),
            name: Some(whole.name),
            description: Some(whole.description),
            price_cents: Some(whole.price_cents),
            currency: Some(whole.currency),
            stock: Some(whole.stock),
            active: Some(whole.active),
        };
        let product = state
            .products
            .update(
                &auth.0.user,
                id.0,
                changes,
                if_match(&if_match_header).as_ref(),
            )
            .await?;
        Ok(ProductResponse::new(product))
    }

    /// Update a product
    ///
    /// Admins only. Changes only the fields sent; `active: false` withdraws a product from
    /// sale without deleting it. API tokens need `products:write`.
    #[oai(
        path = "/products/:id",
        method = "patch",
        operation_id = "product_update"
    )]
    async fn update(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        id: Path<i64>,
        /// Change only the version with this tag (a list of tags, or `*` for any): 412
        /// `precondition_failed` otherwise, and nothing changes.
        #[oai(name = "If-Match")]
        if_match_header: Header<Option<String>>,
        body: JsonBody<UpdateProductRequest>,
    ) -> Result<
        ProductResponse,
        Failure<{ PER_ID | FORBIDDEN | JSON_BODY | PRECONDITION_FAILED | MISSING_ABILITY }>,
    > {
        auth.0.require(Ability::ProductsWrite)?;
        if !auth.0.user.is_admin() {
            return Err(ApiError::forbidden().into());
        }
        let request = body.0;
        let mut errors = FieldErrors::new();
        let changes = ProductChanges {
            sku: request
                .sku
                .and_then(|raw| errors.check("sku", Sku::parse(&raw))),
            name: request
                .name
                .and_then(|raw| errors.check("name", parse_product_name(&raw))),
            description: match request.description {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(raw) => errors
                    .check("description", parse_description(raw))
                    .map(Some),
            },
            price_cents: request
                .price_cents
                .and_then(|cents| errors.check("price_cents", parse_price(cents))),
            currency: request
                .currency
                .and_then(|raw| errors.check("currency", Currency::parse(&raw))),
            stock: match request.stock {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(units) => errors.check("stock", parse_stock(units)).map(Some),
            },
            active: request.active,
        };
        if !errors.is_empty() {
            return Err(ApiError::validation(errors).into());
        }
        let product = state
            .products
            .update(
                &auth.0.user,
                id.0,
                changes,
                if_match(&if_match_header).as_ref(),
            )
            .await?;
        Ok(ProductResponse::new(product))
    }

    /// Delete a product
    ///
    /// Admins only. A product that order lines name cannot be deleted (409
    /// `product_in_orders`): deactivate it instead (`active: false`). API tokens need
    /// `products:write`.
    #[oai(
        path = "/products/:id",
        method = "delete",
        operation_id = "product_delete"
    )]
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
        ProductDeletedResponse,
        Failure<{ PER_ID | FORBIDDEN | CONFLICT | PRECONDITION_FAILED | MISSING_ABILITY }>,
    > {
        auth.0.require(Ability::ProductsWrite)?;
        state
            .products
            .delete(&auth.0.user, id.0, if_match(&if_match_header).as_ref())
            .await?;
        Ok(ProductDeletedResponse::Deleted)
    }
}
