# Le catalogue.

sku-taken = Un autre produit a déjà cette référence.
