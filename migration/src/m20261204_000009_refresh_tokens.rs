//! Sessions people can see and keep: each session gains an opaque public id (what
//! `GET /api/sessions` shows; never the token's `jti`), the name of its device and when it was
//! last used, and `refresh_tokens` holds the SHA-256 of each refresh token, spent or live.
//!
//! During a rolling upgrade, instances of the previous version still open sessions without a
//! public id: a trigger gives each one its own, where the column's default (the same `''` for
//! all) would break the unique index at their second sign-in.
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

// Sessions from before get a random public id, and count as used when issued; those an older
// instance opens later get theirs from a trigger.
const PUBLIC_IDS_POSTGRES: &str = r"
UPDATE sessions SET public_id = md5(random()::text || id::text), last_used_at = issued_at;
CREATE OR REPLACE FUNCTION comptoir_session_public_id() RETURNS trigger AS $$
BEGIN
    NEW.public_id := md5(random()::text || NEW.id::text);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS sessions_public_id_default ON sessions;
CREATE TRIGGER sessions_public_id_default BEFORE INSERT ON sessions
    FOR EACH ROW WHEN (NEW.public_id = '') EXECUTE FUNCTION comptoir_session_public_id();
";

const PUBLIC_IDS_SQLITE: &str = r"
UPDATE sessions SET public_id = lower(hex(randomblob(16))), last_used_at = issued_at;
CREATE TRIGGER IF NOT EXISTS sessions_public_id_default AFTER INSERT ON sessions
    FOR EACH ROW WHEN NEW.public_id = ''
BEGIN
    UPDATE sessions SET public_id = lower(hex(randomblob(16))) WHERE id = NEW.id;
END;
";

const DROP_PUBLIC_ID_TRIGGER_POSTGRES: &str = r"
DROP TRIGGER IF EXISTS sessions_public_id_default ON sessions;
DROP FUNCTION IF EXISTS comptoir_session_public_id();
";

const DROP_PUBLIC_ID_TRIGGER_SQLITE: &str = "DROP TRIGGER IF EXISTS sessions_public_id_default;";

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
        run_per_engine(manager, PUBLIC_IDS_POSTGRES, PUBLIC_IDS_SQLITE).await?;
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
        run_per_engine(
            manager,
            DROP_PUBLIC_ID_TRIGGER_POSTGRES,
            DROP_PUBLIC_ID_TRIGGER_SQLITE,
        )
        .await?;
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

/// Runs `postgres` or `sqlite`, whichever is written for this database.
async fn run_per_engine(
    manager: &SchemaManager<'_>,
    postgres: &str,
    sqlite: &str,
) -> Result<(), DbErr> {
    let sql = match manager.get_database_backend() {
        DbBackend::Postgres => postgres,
        _ => sqlite,
    };
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
