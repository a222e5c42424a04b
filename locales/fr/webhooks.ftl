# Webhooks.

webhook-events-empty = Choisissez au moins un événement.
webhook-url-invalid = L’URL doit être absolue, avec un hôte, et sans nom d’utilisateur ni mot de passe.
webhook-url-not-https = L’URL doit commencer par https://.
webhook-url-private = L’URL doit désigner une adresse publique, ni privée ni locale.
webhook-url-unresolved = Le nom d’hôte de l’URL est introuvable.
