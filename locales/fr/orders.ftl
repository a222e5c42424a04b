# Commandes. `$status`, `$from` et `$to` sont des codes de statut : pending, paid, shipped, delivered, cancelled.

order-owner-admin-only = Seul un administrateur peut créer une commande pour un autre utilisateur.
order-owner-unknown = Aucun utilisateur n’a cet identifiant.
order-items-frozen = Les articles et la devise ne peuvent changer que tant que la commande est « pending » ; elle est « { $status } ».
order-notes-frozen = Les notes ne peuvent changer que tant que la commande est « pending » ; elle est « { $status } ».
order-status-transition = Le statut ne peut pas passer de « { $from } » à « { $to } ».
order-changed-meanwhile = La commande a changé pendant cette requête ; son statut est maintenant « { $status } ». Rechargez-la et réessayez.
order-delete-admin-only = Seul un administrateur peut supprimer une commande au statut « { $status } » ; annulez-la plutôt.
order-line-both = Une ligne indique soit un product_id, soit un product avec son unit_price_cents, pas les deux.
order-line-neither = Une ligne doit indiquer un product_id, ou un product avec son unit_price_cents.
order-free-line-admin-only = Seul un administrateur peut commander une ligne avec son propre nom et son propre prix ; commandez un product_id du catalogue.
order-product-unknown = Aucun produit en vente n’a cet identifiant.
order-product-currency = Ce produit est vendu en { $product_currency } et la commande est en { $currency }.
order-currency-products = La devise ne peut pas changer tant que des lignes viennent du catalogue, dont les prix sont en { $currency }.
order-out-of-stock = Stock insuffisant pour { $lines } : rien n’a été commandé.
idempotency-key-invalid = L’en-tête « { $header } » doit compter de 1 à { $max } caractères ASCII visibles, sans espace.
idempotency-key-repeated = Envoyez l’en-tête « { $header } » une seule fois.
idempotency-key-reused = La clé « { $header } » a déjà servi pour une requête au contenu différent : prenez une nouvelle clé pour une nouvelle requête.
idempotency-key-in-use = Une requête avec la clé « { $header } » est encore en cours : réessayez dans un instant.
