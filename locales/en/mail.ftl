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

mail-verify-subject = Confirm your Comptoir email address
mail-verify-asked = Please confirm that this address belongs to your Comptoir account.
mail-verify-open-within = Open this link within { $validity } and press the button on the page:
mail-verify-button = Confirm my address
mail-verify-not-you = If you did not open a Comptoir account, ignore this mail.

mail-change-subject = Confirm your new Comptoir email address
mail-change-asked = You asked to use this address, { $email }, for your Comptoir account.
mail-change-open-within = To confirm it, open this link within { $validity } and press the button on the page:
mail-change-button = Confirm my new address
mail-change-until = Until then, your account keeps its old address. If you did not ask for this, ignore this mail.

mail-change-notice-subject = Your Comptoir email address is about to change
mail-change-notice = Someone asked to change the address of your Comptoir account to { $email }. It changes only once that address confirms it.
mail-change-notice-not-you = If this was not you, change your password at once and tell us.
