//! The `mail_throttle` table: when a kind of mail last went to someone.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mail_throttle")]
pub struct Model {
    /// The kind of mail and its recipient, as `password-reset:<user id>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub sent_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
