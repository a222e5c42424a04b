# Le catalogue.

sku-taken = Un autre produit a déjà cette référence.

product-in-orders = Des commandes contiennent ce produit : il ne peut pas être supprimé. Désactivez-le plutôt.
