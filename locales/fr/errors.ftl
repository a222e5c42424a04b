# Erreurs possibles sur toute requête : leur `code` est le même dans toutes les langues.

error-validation = Les données fournies ne sont pas valides.
error-forbidden = Cette action n’est pas autorisée.
error-email-not-verified = Confirmez votre adresse email avant de créer ou de modifier une commande : suivez le lien que nous vous avons envoyé, ou demandez-en un nouveau.
error-not-found = Cette ressource n’existe pas.
error-precondition-failed = La ressource a changé depuis la version indiquée dans If-Match : relisez-la avant de la modifier.
error-route-not-found = Aucune route ne correspond à { $method } { $path }.
error-method-not-allowed = Cette méthode n’est pas prise en charge par cette route.
error-payload-too-large = Le corps de la requête dépasse 1 Mio.
error-uri-too-long = L’URI de la requête dépasse 8 Kio.
error-headers-too-large = Les en-têtes de la requête dépassent 32 Kio.
error-content-type-unsupported = Le Content-Type « { $content_type } » n’est pas pris en charge : envoyez application/json.
error-content-type-missing = L’en-tête Content-Type est obligatoire : envoyez application/json.
error-body-unreadable = Le corps de la requête n’a pas pu être lu.
error-json-malformed = Le corps de la requête n’est pas du JSON valide (ligne { $line }, colonne { $column }).
error-path-id-not-integer = L’identifiant dans le chemin doit être un nombre entier.
error-too-many-requests = Trop de tentatives. Veuillez réessayer dans { $seconds ->
    [one] une seconde
   *[other] { $seconds } secondes
}.
error-timed-out = La requête a pris trop de temps et a été abandonnée. Veuillez réessayer.
error-cors-refused = Cette origine n’est pas autorisée à appeler l’API.
error-internal = Une erreur est survenue de notre côté. Indiquez l’en-tête X-Request-Id si vous la signalez.
error-unavailable = Le service est momentanément indisponible. Veuillez réessayer dans un instant.
error-busy = Le serveur est occupé. Veuillez réessayer dans { $seconds ->
    [one] une seconde
   *[other] { $seconds } secondes
}.
error-storage-unavailable = Les fichiers de la base de données sont défaillants : cette instance ne peut pas traiter cette requête avant d’être réparée et redémarrée.
error-other = La requête n’a pas pu être traitée (HTTP { $status }).

# Les 401 disent pourquoi ; `WWW-Authenticate` (RFC 6750) le dit en anglais.
error-authorization-missing = Cette route exige un jeton d’accès : envoyez l’en-tête « Authorization: Bearer <access_token> ».
error-authorization-not-bearer = L’en-tête Authorization doit utiliser le schéma Bearer : « Authorization: Bearer <access_token> ».
error-authorization-empty = L’en-tête Authorization ne contient aucun jeton après « Bearer » : envoyez « Authorization: Bearer <access_token> ».
error-token-malformed = Le jeton fourni n’est pas un jeton d’accès de cette API. Envoyez l’access_token seul après « Bearer ».
error-token-foreign-signature = Le jeton d’accès n’a pas été signé par ce service.
error-token-expired = Le jeton d’accès a expiré. Renouvelez-le avec le jeton de rafraîchissement, ou reconnectez-vous.
error-token-revoked = Le jeton d’accès n’est plus valable : la session a été fermée, le mot de passe a changé ou le compte a été supprimé. Veuillez vous reconnecter.
error-refresh-token-invalid = Le jeton de rafraîchissement est inconnu ou expiré, ou sa session est terminée. Veuillez vous reconnecter.
error-refresh-token-reused = Ce jeton de rafraîchissement a déjà été échangé : par précaution, au cas où il aurait été volé, sa session a été fermée sur tous les appareils. Veuillez vous reconnecter.
