//! When a kind of mail last went to someone, so that "at most one a minute" holds however
//! many requests race: a request sends only if it wins the row (see `db::mail_throttle`).
//!
//! The key names the mail and its recipient (`password-reset:<user id>`), without a foreign
//! key: one table serves every kind of mail, and a deleted user's row is harmless, since ids
//! are never reused and a row only ever holds back a mail for one window.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MailThrottle::Table)
                    .if_not_exists()
                    .col(string_len(MailThrottle::Key, 200).primary_key())
                    .col(timestamp_with_time_zone(MailThrottle::SentAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MailThrottle::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum MailThrottle {
    Table,
    Key,
    SentAt,
}
