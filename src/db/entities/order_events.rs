//! The `order_events` table: an order's history, one row per change, never edited.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: i64,
    /// `created`, `updated` or `status_changed`.
    pub kind: String,
    pub actor_id: Option<i64>,
    pub actor_role: Option<String>,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    /// The changed fields, comma-separated.
    pub changes: Option<String>,
    pub request_id: Option<String>,
    pub created_at: DateTimeUtc,
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

impl ActiveModelBehavior for ActiveModel {}
