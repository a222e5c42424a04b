# Le point de terminaison OAuth2 (POST /api/oauth/token) : le champ `error` de la RFC 6749 accompagne ces messages.

oauth-content-type-missing = L’en-tête Content-Type est obligatoire : envoyez application/x-www-form-urlencoded.
oauth-content-type-unsupported = Le Content-Type « { $content_type } » n’est pas pris en charge ici : envoyez application/x-www-form-urlencoded.
oauth-parameter-missing = Le paramètre { $name } est obligatoire.
oauth-parameter-repeated = Le paramètre { $name } ne peut être envoyé qu’une fois.
oauth-parameter-too-long = Le paramètre { $name } ne peut pas dépasser { $max } caractères.
oauth-grant-type-unsupported = Le type d’autorisation « { $grant_type } » n’est pas pris en charge.
oauth-client-secret-refused = Aucun client de cette API n’a de secret : envoyez l’identifiant du client seul, ou rien.
oauth-client-credentials-unreadable = Les identifiants Basic de l’en-tête Authorization n’ont pas pu être lus.
