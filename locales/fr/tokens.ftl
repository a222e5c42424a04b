# Jetons d’API et leurs capacités.

error-missing-ability = Ce jeton d’API n’a pas la capacité « { $ability } » dont cette opération a besoin.
error-session-required = Un jeton d’API ne peut pas faire cela : connectez-vous (POST /api/login) et utilisez le jeton d’accès de cette session.
error-api-token-unknown = Le jeton d’API est inconnu : il a été supprimé, ou son compte l’a été.
error-api-token-expired = Le jeton d’API a expiré : créez-en un nouveau.
abilities-empty = Indiquez au moins une capacité.
ability-unknown = « { $ability } » n’est pas une capacité. Capacités : orders:read, orders:write, orders:price, products:write, users:read, users:write, webhooks:manage, ou * pour toutes les vôtres.
ability-not-yours = Votre compte ne peut pas accorder « { $ability } » : un jeton n’a jamais plus de droits que son propriétaire.
