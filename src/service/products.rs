//! The catalogue: anyone reads the active products, admins read and change them all.

use super::{ServiceError, cursors::Cursors, expected_version, now};
pub use crate::db::products::{Changes as ProductChanges, NewProduct, ProductFilter};
pub use crate::domain::product::ProductSortKey;
use crate::{
    db::{
        DatabaseConnection,
        products::{self, Deletion},
    },
    domain::{
        Message, User,
        listing::{CursorPage, Page, PageMeta, PageRequest, Sort},
        precondition::Condition,
        product::Product,
    },
};

#[derive(Clone)]
pub struct Products {
    db: DatabaseConnection,
    cursors: Cursors,
}

impl Products {
    pub fn new(db: DatabaseConnection, cursors: Cursors) -> Self {
        Self { db, cursors }
    }

    /// Customers and visitors see only active products: asking them for inactive ones gives an
    /// empty page, as the filter would give an admin with none.
    #[tracing::instrument(skip_all)]
    pub async fn list(
        &self,
        actor: Option<&User>,
        filter: ProductFilter,
        sort: Sort<ProductSortKey>,
        page: PageRequest,
    ) -> Result<Page<Product>, ServiceError> {
        let Some(filter) = visible(actor, filter) else {
            return Ok(Page {
                data: Vec::new(),
                meta: PageMeta::new(page, 0),
            });
        };
        Ok(products::list(&self.db, filter, sort, page).await?)
    }

    /// The page of the products `list` would give that `cursor` points at
    /// (`cursors::FIRST_PAGE` for the first), and the cursor of the next one.
    #[tracing::instrument(skip_all)]
    pub async fn list_by_cursor(
        &self,
        actor: Option<&User>,
        filter: ProductFilter,
        sort: Sort<ProductSortKey>,
        cursor: &str,
        per_page: u64,
    ) -> Result<CursorPage<Product>, ServiceError> {
        // The filter as asked for: a cursor opens only with the filter it was given for.
        let scope = format!(
            "products|{:?}|{filter:?}|{sort:?}",
            actor.map(|actor| actor.id)
        );
        let after = self.cursors.open(&scope, cursor)?;
        let Some(filter) = visible(actor, filter) else {
            return Ok(CursorPage {
                data: Vec::new(),
                per_page,
                next_cursor: None,
            });
        };
        let slice = products::list_after(&self.db, filter, sort, after, per_page).await?;
        Ok(self.cursors.page(&scope, slice, per_page))
    }

    /// A product; an inactive one only for an admin, else it is unknown.
    pub async fn get(&self, actor: Option<&User>, id: i64) -> Result<Product, ServiceError> {
        products::find_by_id(&self.db, id)
            .await?
            .filter(|product| product.active || actor.is_some_and(User::is_admin))
            .ok_or(ServiceError::NotFound)
    }

    #[tracing::instrument(skip_all)]
    pub async fn create(&self, actor: &User, product: NewProduct) -> Result<Product, ServiceError> {
        admin(actor)?;
        let product = products::insert(&self.db, product, now()).await?;
        tracing::info!(product_id = product.id, "product created");
        Ok(product)
    }

    /// With `if_match`, a 412 unless it names the product's current tag, checked again by the
    /// write itself.
    #[tracing::instrument(skip_all, fields(product_id = id))]
    pub async fn update(
        &self,
        actor: &User,
        id: i64,
        changes: ProductChanges,
        if_match: Option<&Condition>,
    ) -> Result<Product, ServiceError> {
        admin(actor)?;
        let current = products::find_by_id(&self.db, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let expected = expected_version(if_match, current.entity_tag())?;
        // A write that changes nothing keeps the product's tag: its version is what a client's
        // cached copy is checked against.
        let changes = changed(changes, &current);
        if changes.is_empty() {
            return Ok(current);
        }
        match products::update(&self.db, id, changes, now(), expected).await {
            Err(products::WriteError::NotFound) if expected.is_some() => {
                Err(self.lost_race(id).await)
            }
            updated => Ok(updated?),
        }
    }

    #[tracing::instrument(skip_all, fields(product_id = id))]
    pub async fn delete(
        &self,
        actor: &User,
        id: i64,
        if_match: Option<&Condition>,
    ) -> Result<(), ServiceError> {
        admin(actor)?;
        let expected = self.expected_version(id, if_match).await?;
        match products::delete(&self.db, id, expected).await? {
            Deletion::Deleted => {
                tracing::info!(product_id = id, "product deleted");
                Ok(())
            }
            Deletion::NotFound if expected.is_some() => Err(self.lost_race(id).await),
            Deletion::NotFound => Err(ServiceError::NotFound),
            Deletion::InOrders => Err(ServiceError::Conflict {
                code: "product_in_orders",
                message: Message::new("product-in-orders"),
            }),
        }
    }
}

impl Products {
    /// The version a write conditional on `if_match` must find (see
    /// [`super::expected_version`]); the product is read only when there is a condition.
    async fn expected_version(
        &self,
        id: i64,
        if_match: Option<&Condition>,
    ) -> Result<Option<i64>, ServiceError> {
        let Some(if_match) = if_match else {
            return Ok(None);
        };
        let current = products::find_by_id(&self.db, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        expected_version(Some(if_match), current.entity_tag())
    }

    /// What a conditional write that changed nothing answers: 412 if the product is still
    /// there (another write moved its version first), else 404.
    async fn lost_race(&self, id: i64) -> ServiceError {
        match products::find_by_id(&self.db, id).await {
            Ok(Some(_)) => ServiceError::PreconditionFailed,
            Ok(None) => ServiceError::NotFound,
            Err(err) => err.into(),
        }
    }
}

/// The filter a list applies for `actor`: customers and visitors see only active products, so
/// their asking for inactive ones finds nothing (`None`).
fn visible(actor: Option<&User>, mut filter: ProductFilter) -> Option<ProductFilter> {
    if !actor.is_some_and(User::is_admin) {
        if filter.active == Some(false) {
            return None;
        }
        filter.active = Some(true);
    }
    Some(filter)
}

fn admin(actor: &User) -> Result<(), ServiceError> {
    if actor.is_admin() {
        Ok(())
    } else {
        Err(ServiceError::Forbidden)
    }
}

impl From<products::WriteError> for ServiceError {
    fn from(err: products::WriteError) -> Self {
        match err {
            products::WriteError::SkuTaken => Self::invalid("sku", Message::new("sku-taken")),
            products::WriteError::NotFound => Self::NotFound,
            products::WriteError::Database(err) => err.into(),
        }
    }
}

/// Of `changes`, those that differ from `current`.
fn changed(changes: ProductChanges, current: &Product) -> ProductChanges {
    ProductChanges {
        sku: changes.sku.filter(|sku| sku.as_str() != current.sku),
        name: changes.name.filter(|name| *name != current.name),
        description: changes
            .description
            .filter(|description| *description != current.description),
        price_cents: changes
            .price_cents
            .filter(|price| *price != current.price_cents),
        currency: changes
            .currency
            .filter(|currency| *currency != current.currency),
        stock: changes.stock.filter(|stock| *stock != current.stock),
        active: changes.active.filter(|active| *active != current.active),
    }
}
