//! The `idempotency_keys` table: per user, the SHA-256 of each `Idempotency-Key`, the
//! fingerprint of the request that used it, and the response once that request finished.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub key_hash: String,
    pub fingerprint: String,
    /// The claim an earlier version's running request compared-and-swapped on; random in the
    /// rows this version writes, which it stores with their response.
    pub holder: String,
    /// Until when an earlier version's running request held the key; after that, another
    /// request may take it.
    pub locked_until: DateTimeUtc,
    /// Null only while an earlier version's first request ran.
    pub response_status: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub response_body: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
