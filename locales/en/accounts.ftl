# Accounts: login, logout, password resets and the user directory.

auth-failed = These credentials do not match our records.
auth-logged-out = Logged out.
email-taken = The email has already been taken.
role-admin-only = Only an admin can set a role.
current-password-required = The current password is required to change your email address or password.
current-password-incorrect = The current password is incorrect.
user-has-orders = This user still has orders; delete them first.
password-reset-link-sent = If that address has an account, a link to reset its password is on its way.
password-reset-done = Your password has been reset. Log in with your new password.
password-reset-token-invalid = This password reset link is invalid: it was used already, it expired, or a newer one replaced it.
email-verification-token-invalid = This confirmation link is invalid: it was used already, it expired, or a newer one replaced it.
email-verified = Your email address is confirmed.
email-change-confirmed = Your new email address is confirmed; use it to log in from now on.
email-verification-sent = A new confirmation link is on its way.
email-already-verified = Your email address is already confirmed; no mail was sent.
