//! Sessions people can see and keep: each session gains an opaque public id (what
//! `GET /api/sessions` shows; never the token's `jti`), the name of its device and when it was
//! last used, and `refresh_tokens` holds the SHA-256 of each refresh token, spent or live.
//!
//! On PostgreSQL the change trigger now fires only for what can end a session (its
//! revocation, its deletion): recording a use or a refresh changes nothing a cache holds, and
//! would otherwise empty the user's cached sessions on every instance once a minute.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const NARROW_TRIGGER: &str = r"
DROP TRIGGER IF EXISTS sessions_notify_session_change ON sessions;
CREATE TRIGGER sessions_notify_session_change AFTER UPDATE OF revoked_at, user_id, jti OR DELETE
    ON sessions FOR EACH ROW EXECUTE FUNCTION comptoir_notify_session_change();
";

const WIDE_TRIGGER: &str = r"
DROP TRIGGER IF EXISTS sessions_notify_session_change ON sessions;
CREATE TRIGGER sessions_notify_session_change AFTER UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION comptoir_notify_session_change();
";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        for column in [
            string_len(Sessions::PublicId, 32).default("").to_owned(),
            string_len(Sessions::DeviceName, 255)
                .default("unknown")
                .to_owned(),
            timestamp_with_time_zone_null(Sessions::LastUsedAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        // Sessions from before get a random public id, and count as used when issued.
        let random_id = match manager.get_database_backend() {
            DbBackend::Postgres => "md5(random()::text || id::text)",
            _ => "lower(hex(randomblob(16)))",
        };
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "UPDATE sessions SET public_id = {random_id}, last_used_at = issued_at"
            ))
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sessions_public_id_key")
                    .table(Sessions::Table)
                    .col(Sessions::PublicId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sessions_expires_at_idx")
                    .table(Sessions::Table)
                    .col(Sessions::ExpiresAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .if_not_exists()
                    .col(big_pk_auto(RefreshTokens::Id))
                    .col(big_integer(RefreshTokens::SessionId))
                    .col(string_len(RefreshTokens::TokenHash, 64))
                    .col(timestamp_with_time_zone(RefreshTokens::IssuedAt))
                    .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::SpentAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("refresh_tokens_session_id_fkey")
                            .from(RefreshTokens::Table, RefreshTokens::SessionId)
                            .to(Sessions::Table, Sessions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("refresh_tokens_token_hash_key")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::TokenHash)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("refresh_tokens_session_id_idx", RefreshTokens::SessionId),
            ("refresh_tokens_expires_at_idx", RefreshTokens::ExpiresAt),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(RefreshTokens::Table)
                        .col(column)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        run_on_postgres(manager, NARROW_TRIGGER).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on_postgres(manager, WIDE_TRIGGER).await?;
        manager
            .drop_table(Table::drop().table(RefreshTokens::Table).to_owned())
            .await?;
        for name in ["sessions_public_id_key", "sessions_expires_at_idx"] {
            manager
                .drop_index(Index::drop().name(name).table(Sessions::Table).to_owned())
                .await?;
        }
        for column in [
            Sessions::PublicId,
            Sessions::DeviceName,
            Sessions::LastUsedAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

async fn run_on_postgres(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    manager
        .get_connection()
        .execute_unprepared(sql)
        .await
        .map(|_| ())
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    PublicId,
    DeviceName,
    LastUsedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    SessionId,
    TokenHash,
    IssuedAt,
    ExpiresAt,
    SpentAt,
}
