//! Each order's history: one row per change, written in the change's own transaction and never
//! edited. The rows go only with their order (`ON DELETE CASCADE`). The actor is copied (id and
//! role at the time) without a foreign key, so that the history outlives an admin's account.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrderEvents::Table)
                    .if_not_exists()
                    .col(big_pk_auto(OrderEvents::Id))
                    .col(big_integer(OrderEvents::OrderId))
                    .col(string_len(OrderEvents::Kind, 32))
                    .col(big_integer_null(OrderEvents::ActorId))
                    .col(string_len_null(OrderEvents::ActorRole, 16))
                    .col(string_len_null(OrderEvents::FromStatus, 16))
                    .col(string_len_null(OrderEvents::ToStatus, 16))
                    // The changed fields' names, comma-separated (`updated` only).
                    .col(string_len_null(OrderEvents::Changes, 64))
                    .col(string_len_null(OrderEvents::RequestId, 128))
                    .col(timestamp_with_time_zone(OrderEvents::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("order_events_order_id_fkey")
                            .from(OrderEvents::Table, OrderEvents::OrderId)
                            .to(Orders::Table, Orders::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("order_events_order_id_id_idx")
                    .table(OrderEvents::Table)
                    .col(OrderEvents::OrderId)
                    .col(OrderEvents::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OrderEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OrderEvents {
    Table,
    Id,
    OrderId,
    Kind,
    ActorId,
    ActorRole,
    FromStatus,
    ToStatus,
    Changes,
    RequestId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
}
