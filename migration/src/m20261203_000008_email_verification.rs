//! Verified addresses: `users.pending_email`, the new address a user asked for and has not
//! confirmed yet, and `email_verification_tokens`, the SHA-256 of each mailed link's token
//! with the address that link verifies (the account's own, or its pending one).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_create_users_and_sessions::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(string_len_null(UserColumns::PendingEmail, 254))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EmailVerificationTokens::Table)
                    .if_not_exists()
                    .col(big_pk_auto(EmailVerificationTokens::Id))
                    .col(big_integer(EmailVerificationTokens::UserId))
                    .col(string_len(EmailVerificationTokens::TokenHash, 64))
                    .col(string_len(EmailVerificationTokens::Email, 254))
                    .col(timestamp_with_time_zone(EmailVerificationTokens::CreatedAt))
                    .col(timestamp_with_time_zone(EmailVerificationTokens::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("email_verification_tokens_user_id_fkey")
                            .from(
                                EmailVerificationTokens::Table,
                                EmailVerificationTokens::UserId,
                            )
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("email_verification_tokens_token_hash_key")
                    .table(EmailVerificationTokens::Table)
                    .col(EmailVerificationTokens::TokenHash)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("email_verification_tokens_user_id_idx")
                    .table(EmailVerificationTokens::Table)
                    .col(EmailVerificationTokens::UserId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(EmailVerificationTokens::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(UserColumns::PendingEmail)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum UserColumns {
    PendingEmail,
}

#[derive(DeriveIden)]
enum EmailVerificationTokens {
    Table,
    Id,
    UserId,
    TokenHash,
    Email,
    CreatedAt,
    ExpiresAt,
}
