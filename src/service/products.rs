//! The catalogue: anyone reads the active products, admins read and change them all.

use super::{ServiceError, now};
pub use crate::db::products::{Changes as ProductChanges, NewProduct, ProductFilter};
pub use crate::domain::product::ProductSortKey;
use crate::{
    db::{
        DatabaseConnection,
        products::{self, Deletion},
    },
    domain::{
        Message, User,
        listing::{Page, PageMeta, PageRequest, Sort},
        product::Product,
    },
};

#[derive(Clone)]
pub struct Products {
    db: DatabaseConnection,
}

impl Products {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Customers and visitors see only active products: asking them for inactive ones gives an
    /// empty page, as the filter would give an admin with none.
    #[tracing::instrument(skip_all)]
    pub async fn list(
        &self,
        actor: Option<&User>,
        mut filter: ProductFilter,
        sort: Sort<ProductSortKey>,
        page: PageRequest,
    ) -> Result<Page<Product>, ServiceError> {
        if !actor.is_some_and(User::is_admin) {
            if filter.active == Some(false) {
                return Ok(Page {
                    data: Vec::new(),
                    meta: PageMeta::new(page, 0),
                });
            }
            filter.active = Some(true);
        }
        Ok(products::list(&self.db, filter, sort, page).await?)
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

    #[tracing::instrument(skip_all, fields(product_id = id))]
    pub async fn update(
        &self,
        actor: &User,
        id: i64,
        changes: ProductChanges,
    ) -> Result<Product, ServiceError> {
        admin(actor)?;
        Ok(products::update(&self.db, id, changes, now()).await?)
    }

    #[tracing::instrument(skip_all, fields(product_id = id))]
    pub async fn delete(&self, actor: &User, id: i64) -> Result<(), ServiceError> {
        admin(actor)?;
        match products::delete(&self.db, id).await? {
            Deletion::Deleted => {
                tracing::info!(product_id = id, "product deleted");
                Ok(())
            }
            Deletion::NotFound => Err(ServiceError::NotFound),
            Deletion::InOrders => Err(ServiceError::Conflict {
                code: "product_in_orders",
                message: Message::new("product-in-orders"),
            }),
        }
    }
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
