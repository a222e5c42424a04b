# The pages a reset mail links to (`templates/pages/`), opened in a browser.

page-title = Reset your password · Comptoir
page-reset-heading = Choose a new password
page-reset-account = Account:
page-reset-rules = At least { $min ->
    [one] one character
   *[other] { $min } characters
}; every session of this account will be signed out.
page-password-label = New password
page-password-confirmation-label = Confirm the new password
page-reset-button = Reset my password
page-gone-heading = This link no longer works
page-gone-reason = It was used already, it expired, or a newer one replaced it.
page-email-label = Your email address
page-new-link-button = Send me a new link
page-check-mail-heading = Check your mail
page-done-heading = Password reset
page-too-many-heading = Too many requests
page-error-heading = Something went wrong
page-error-link-retry = Please try this link again in a moment.
page-error-not-changed = Your password was not changed. Please try again in a moment.

# The page a confirmation mail links to.
page-verify-title = Confirm your email address · Comptoir
page-verify-heading = Confirm your email address
page-verify-address = Address:
page-verify-button = Confirm this address
page-verified-heading = Address confirmed
page-verify-ask-again = Log in to Comptoir and ask for a new confirmation link.
