# The catalogue.

sku-taken = Another product already has this sku.

product-in-orders = Orders name this product, so it cannot be deleted; deactivate it instead.
