# Les pages vers lesquelles mène un email de réinitialisation (`templates/pages/`), ouvertes dans un navigateur.

page-title = Réinitialisation du mot de passe · Comptoir
page-reset-heading = Choisissez un nouveau mot de passe
page-reset-account = Compte :
page-reset-rules = Au moins { $min ->
    [one] un caractère
   *[other] { $min } caractères
} ; toutes les sessions ouvertes sur ce compte seront fermées.
page-password-label = Nouveau mot de passe
page-password-confirmation-label = Confirmez le nouveau mot de passe
page-reset-button = Réinitialiser mon mot de passe
page-gone-heading = Ce lien ne fonctionne plus
page-gone-reason = Il a déjà servi, il a expiré ou un lien plus récent l’a remplacé.
page-email-label = Votre adresse email
page-new-link-button = M’envoyer un nouveau lien
page-check-mail-heading = Consultez vos emails
page-done-heading = Mot de passe réinitialisé
page-too-many-heading = Trop de demandes
page-error-heading = Une erreur est survenue
page-error-link-retry = Veuillez réessayer ce lien dans un instant.
page-error-not-changed = Votre mot de passe n’a pas été modifié. Veuillez réessayer dans un instant.

# La page vers laquelle pointe un email de confirmation.
page-verify-title = Confirmer votre adresse email · Comptoir
page-verify-heading = Confirmez votre adresse email
page-verify-address = Adresse :
page-verify-button = Confirmer cette adresse
page-verified-heading = Adresse confirmée
page-verify-ask-again = Connectez-vous à Comptoir et demandez un nouveau lien de confirmation.
