//! The `order_items` table: the lines of an order, in their order (`position`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_items")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: i64,
    pub position: i32,
    pub product: String,
    /// The catalogue's product, if the line was ordered by one.
    pub product_id: Option<i64>,
    /// The product's sku when it was ordered.
    pub sku: Option<String>,
    pub quantity: i32,
    pub unit_price_cents: i64,
    pub line_total_cents: i64,
    /// Whether the line's units came out of its product's stock (and go back to it).
    pub stock_taken: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::orders::Entity",
        from = "Column::OrderId",
        to = "super::orders::Column::Id",
        on_delete = "Cascade"
    )]
    Order,
}

impl Related<super::orders::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Order.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
