//! The language a user is written to in (`User.locale`, a folder of `locales/`).
//!
//! The accounts that exist when it runs are then given the service's `DEFAULT_LOCALE` by the
//! service itself (`db::migrate`): a migration cannot know a setting. The column's `en` default
//! serves only the rows an older instance writes during a rolling upgrade; the service writes
//! the column on every insert.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(string_len(Users::Locale, 35).default("en"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::Locale)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Locale,
}
