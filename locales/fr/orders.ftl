# Commandes. `$status`, `$from` et `$to` sont des codes de statut : pending, paid, shipped, delivered, cancelled.

order-owner-admin-only = Seul un administrateur peut créer une commande pour un autre utilisateur.
order-owner-unknown = Aucun utilisateur n’a cet identifiant.
order-items-frozen = Les articles et la devise ne peuvent changer que tant que la commande est « pending » ; elle est « { $status } ».
order-notes-frozen = Les notes ne peuvent changer que tant que la commande est « pending » ; elle est « { $status } ».
order-status-transition = Le statut ne peut pas passer de « { $from } » à « { $to } ».
order-changed-meanwhile = La commande a changé pendant cette requête ; son statut est maintenant « { $status } ». Rechargez-la et réessayez.
order-delete-admin-only = Seul un administrateur peut supprimer une commande au statut « { $status } » ; annulez-la plutôt.
