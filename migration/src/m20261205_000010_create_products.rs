//! The catalogue: products with their price and, when tracked, their stock. A sku is unique
//! whatever its case, enforced by the database itself on both engines (like users' emails).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Products::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Products::Id))
                    .col(string_len(Products::Sku, 64))
                    .col(string_len(Products::Name, 200))
                    .col(text_null(Products::Description))
                    .col(big_integer(Products::PriceCents))
                    .col(string_len(Products::Currency, 3))
                    // Null: not tracked, never short.
                    .col(big_integer_null(Products::Stock))
                    .col(boolean(Products::Active))
                    .col(timestamp_with_time_zone(Products::CreatedAt))
                    .col(timestamp_with_time_zone(Products::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX IF NOT EXISTS products_sku_lower_key ON products (lower(sku))",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("products_created_at_id_idx")
                    .table(Products::Table)
                    .col(Products::CreatedAt)
                    .col(Products::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Products::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Products {
    Table,
    Id,
    Sku,
    Name,
    Description,
    PriceCents,
    Currency,
    Stock,
    Active,
    CreatedAt,
    UpdatedAt,
}
