//! Order lines that name a product: `product_id` (null for a free line, and for every line
//! written before the catalogue) and the sku copied at ordering time. The foreign key makes a
//! product in use impossible to delete, even by a delete racing an order.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        // Written out: sea-query cannot add a column with a foreign key on SQLite, which
        // accepts one in `ADD COLUMN` when the default is null. NO ACTION rather than
        // RESTRICT: SQLite reports RESTRICT as a trigger's failure (1811), not as the foreign
        // key's (787), and both refuse the delete alike.
        conn.execute_unprepared(
            "ALTER TABLE order_items ADD COLUMN product_id BIGINT NULL \
             REFERENCES products (id)",
        )
        .await?;
        conn.execute_unprepared("ALTER TABLE order_items ADD COLUMN sku VARCHAR(64) NULL")
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("order_items_product_id_idx")
                    .table(OrderItems::Table)
                    .col(OrderItems::ProductId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("order_items_product_id_idx")
                    .table(OrderItems::Table)
                    .to_owned(),
            )
            .await?;
        let drop_key = match manager.get_database_backend() {
            // SQLite drops a column only once nothing refers through it; its foreign keys
            // have no name to drop, so the column goes with a rebuilt table, which is more
            // than a down migration is worth: the columns stay, unused.
            DbBackend::Sqlite => return Ok(()),
            _ => "ALTER TABLE order_items DROP COLUMN product_id, DROP COLUMN sku",
        };
        manager
            .get_connection()
            .execute_unprepared(drop_key)
            .await
            .map(|_| ())
    }
}

#[derive(DeriveIden)]
enum OrderItems {
    Table,
    ProductId,
}
