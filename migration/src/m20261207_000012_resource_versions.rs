//! A version on users, orders and products that every write increments: the resource's strong
//! `ETag`, and the value a conditional write (`If-Match`) compares in its own `UPDATE … WHERE`,
//! so that two writers holding one tag cannot both win. Existing rows start at 1.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [Versioned::Users, Versioned::Orders, Versioned::Products] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(big_integer(Versioned::Version).default(1))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [Versioned::Users, Versioned::Orders, Versioned::Products] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .drop_column(Versioned::Version)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Versioned {
    Users,
    Orders,
    Products,
    Version,
}
