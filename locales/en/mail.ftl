# Mails: subjects and sentences of templates/mail/, in the recipient's language.

mail-greeting = Hello { $name },
mail-signature = — Comptoir

mail-reset-subject = Reset your Comptoir password
mail-reset-asked = Someone asked to reset the password of the Comptoir account for this address.
mail-reset-open-within = To choose a new password, open this link within { $validity }:
mail-reset-button = Choose a new password
mail-reset-once = The link works once. If you did not ask for this, ignore this mail: your password stays as it is.

mail-password-changed-subject = Your Comptoir password was changed
mail-password-changed = The password of your Comptoir account was just changed, and every session was signed out.
mail-password-changed-not-you = If this was not you, reset your password at once and tell us.

# How long a link works: "1 hour", "90 minutes", "45 seconds".
mail-validity-hours = { $count ->
    [one] { $count } hour
   *[other] { $count } hours
}
mail-validity-minutes = { $count ->
    [one] { $count } minute
   *[other] { $count } minutes
}
mail-validity-seconds = { $count ->
    [one] { $count } second
   *[other] { $count } seconds
}
