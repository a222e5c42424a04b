//! Orders and their line items, with the indexes the list queries need at a million orders.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_create_users_and_sessions::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Orders::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Orders::Id))
                    .col(big_integer(Orders::UserId))
                    .col(string_len(Orders::Status, 16))
                    .col(string_len(Orders::Currency, 3))
                    .col(big_integer(Orders::TotalCents))
                    .col(text_null(Orders::Notes))
                    .col(timestamp_with_time_zone(Orders::CreatedAt))
                    .col(timestamp_with_time_zone(Orders::UpdatedAt))
                    // A user with orders cannot be deleted: the API answers 409 first.
                    .foreign_key(
                        ForeignKey::create()
                            .name("orders_user_id_fkey")
                            .from(Orders::Table, Orders::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        // Listing one owner's orders, newest first, and filtering them by status.
        index(
            manager,
            "orders_user_id_created_at_id_idx",
            &[Orders::UserId, Orders::CreatedAt, Orders::Id],
        )
        .await?;
        index(
            manager,
            "orders_user_id_status_created_at_idx",
            &[
                Orders::UserId,
                Orders::Status,
                Orders::CreatedAt,
                Orders::Id,
            ],
        )
        .await?;
        // The admin's lists: all orders, or all of one status.
        index(
            manager,
            "orders_status_created_at_id_idx",
            &[Orders::Status, Orders::CreatedAt, Orders::Id],
        )
        .await?;
        index(
            manager,
            "orders_created_at_id_idx",
            &[Orders::CreatedAt, Orders::Id],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(OrderItems::Table)
                    .if_not_exists()
                    .col(big_pk_auto(OrderItems::Id))
                    .col(big_integer(OrderItems::OrderId))
                    .col(integer(OrderItems::Position))
                    .col(string_len(OrderItems::Product, 200))
                    .col(integer(OrderItems::Quantity))
                    .col(big_integer(OrderItems::UnitPriceCents))
                    .col(big_integer(OrderItems::LineTotalCents))
                    .foreign_key(
                        ForeignKey::create()
                            .name("order_items_order_id_fkey")
                            .from(OrderItems::Table, OrderItems::OrderId)
                            .to(Orders::Table, Orders::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("order_items_order_id_position_key")
                    .table(OrderItems::Table)
                    .col(OrderItems::OrderId)
                    .col(OrderItems::Position)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OrderItems::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Orders::Table).to_owned())
            .await
    }
}

async fn index(manager: &SchemaManager<'_>, name: &str, columns: &[Orders]) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(Orders::Table).if_not_exists();
    for column in columns {
        index.col(*column);
    }
    manager.create_index(index).await
}

#[derive(DeriveIden, Clone, Copy)]
enum Orders {
    Table,
    Id,
    UserId,
    Status,
    Currency,
    TotalCents,
    Notes,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrderItems {
    Table,
    Id,
    OrderId,
    Position,
    Product,
    Quantity,
    UnitPriceCents,
    LineTotalCents,
}
