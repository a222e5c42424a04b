//! Whether an order line's units came out of its product's stock. A line written while its
//! product's stock was untracked took nothing, so cancelling its order once tracking has
//! started must give nothing back. Lines already written took their units if their product
//! tracks its stock now: the best the data can tell.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OrderItems::Table)
                    .add_column(
                        ColumnDef::new(OrderItems::StockTaken)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE order_items SET stock_taken = TRUE WHERE product_id IN \
                 (SELECT id FROM products WHERE stock IS NOT NULL)",
            )
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OrderItems::Table)
                    .drop_column(OrderItems::StockTaken)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum OrderItems {
    Table,
    StockTaken,
}
