//! On PostgreSQL, every change to a user or a session announces the user's id on the
//! `comptoir_sessions` channel, at commit. Each instance listens there and drops what it has
//! cached about that user's sessions. A trigger rather than application code, so that nothing
//! can change a user behind the caches' back: not `create-admin`, not an operator's `psql`.
//!
//! SQLite has no notifications; there the service signals changes itself (see
//! `service::session_cache`), and this migration does nothing.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r"
CREATE FUNCTION comptoir_notify_session_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        PERFORM pg_notify('comptoir_sessions', OLD.id::text);
    ELSE
        PERFORM pg_notify('comptoir_sessions', OLD.user_id::text);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER users_notify_session_change AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION comptoir_notify_session_change();
CREATE TRIGGER sessions_notify_session_change AFTER UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION comptoir_notify_session_change();
";

const DOWN: &str = r"
DROP TRIGGER IF EXISTS sessions_notify_session_change ON sessions;
DROP TRIGGER IF EXISTS users_notify_session_change ON users;
DROP FUNCTION IF EXISTS comptoir_notify_session_change();
";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on_postgres(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on_postgres(manager, DOWN).await
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
