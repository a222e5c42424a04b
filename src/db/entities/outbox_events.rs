//! The `outbox_events` table: each event, written with the change it reports.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// What receivers know the event by (`Comptoir-Event-Id`), to dedupe on.
    #[sea_orm(unique)]
    pub public_id: String,
    #[sea_orm(column_name = "type")]
    pub event_type: String,
    /// The delivery's body, as sent: `{id, type, created_at, data}`.
    pub payload: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
