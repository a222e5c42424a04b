# Mails : objets et phrases des modèles de templates/mail/, dans la langue du destinataire.

mail-greeting = Bonjour { $name },
mail-signature = — Comptoir

mail-reset-subject = Réinitialisation de votre mot de passe Comptoir
mail-reset-asked = Quelqu’un a demandé la réinitialisation du mot de passe du compte Comptoir associé à cette adresse.
mail-reset-open-within = Pour choisir un nouveau mot de passe, ouvrez ce lien, valable { $validity } :
mail-reset-button = Choisir un nouveau mot de passe
mail-reset-once = Ce lien ne sert qu’une fois. Si vous n’êtes pas à l’origine de cette demande, ignorez ce message : votre mot de passe reste inchangé.

mail-password-changed-subject = Votre mot de passe Comptoir a été modifié
mail-password-changed = Le mot de passe de votre compte Comptoir vient d’être modifié, et toutes ses sessions ont été fermées.
mail-password-changed-not-you = Si vous n’êtes pas à l’origine de ce changement, réinitialisez votre mot de passe sans attendre et prévenez-nous.

# Durée de validité d’un lien : « 1 heure », « 90 minutes », « 45 secondes ».
mail-validity-hours = { $count ->
    [one] { $count } heure
   *[other] { $count } heures
}
mail-validity-minutes = { $count ->
    [one] { $count } minute
   *[other] { $count } minutes
}
mail-validity-seconds = { $count ->
    [one] { $count } seconde
   *[other] { $count } secondes
}
