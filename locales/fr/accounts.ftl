# Comptes : connexion, déconnexion, réinitialisation du mot de passe et annuaire des utilisateurs.

auth-failed = Les identifiants fournis sont incorrects.
auth-logged-out = Déconnexion réussie
email-taken = Cette adresse email est déjà utilisée.
role-admin-only = Seul un administrateur peut attribuer un rôle.
current-password-required = Le mot de passe actuel est obligatoire pour changer d’adresse email ou de mot de passe.
current-password-incorrect = Le mot de passe actuel est incorrect.
user-has-orders = Cet utilisateur a encore des commandes : supprimez-les d’abord.
password-reset-link-sent = Nous vous avons envoyé par email le lien de réinitialisation du mot de passe !
password-reset-done = Votre mot de passe a été réinitialisé !
password-reset-token-invalid = Ce lien de réinitialisation n’est pas valide : il a déjà servi, il a expiré ou un lien plus récent l’a remplacé.
email-verification-token-invalid = Ce lien de confirmation n’est pas valide : il a déjà servi, il a expiré ou un lien plus récent l’a remplacé.
email-verified = Votre adresse email est confirmée !
email-change-confirmed = Votre nouvelle adresse email est confirmée : utilisez-la désormais pour vous connecter.
email-verification-sent = Un nouveau lien de confirmation vous a été envoyé par email !
email-already-verified = Votre adresse email est déjà confirmée : aucun email n’a été envoyé.
