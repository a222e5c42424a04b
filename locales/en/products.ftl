# The catalogue.

sku-taken = Another product already has this sku.
