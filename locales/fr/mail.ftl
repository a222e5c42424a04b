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

mail-verify-subject = Confirmez votre adresse email Comptoir
mail-verify-asked = Merci de confirmer que cette adresse est bien celle de votre compte Comptoir.
mail-verify-open-within = Ouvrez ce lien, valable { $validity }, puis appuyez sur le bouton de la page :
mail-verify-button = Confirmer mon adresse
mail-verify-not-you = Si vous n’avez pas ouvert de compte Comptoir, ignorez ce message.

mail-change-subject = Confirmez votre nouvelle adresse email Comptoir
mail-change-asked = Vous avez demandé à utiliser cette adresse, { $email }, pour votre compte Comptoir.
mail-change-open-within = Pour la confirmer, ouvrez ce lien, valable { $validity }, puis appuyez sur le bouton de la page :
mail-change-button = Confirmer ma nouvelle adresse
mail-change-until = D’ici là, votre compte garde son ancienne adresse. Si vous n’êtes pas à l’origine de cette demande, ignorez ce message.

mail-change-notice-subject = L’adresse email de votre compte Comptoir va changer
mail-change-notice = Quelqu’un a demandé à remplacer l’adresse de votre compte Comptoir par { $email }. Le changement n’aura lieu qu’une fois cette adresse confirmée.
mail-change-notice-not-you = Si vous n’êtes pas à l’origine de cette demande, changez votre mot de passe sans attendre et prévenez-nous.
