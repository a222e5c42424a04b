# Webhooks.

webhook-events-empty = Choose at least one event.
webhook-url-invalid = The URL must be an absolute URL with a host, and without a user name or password.
webhook-url-not-https = The URL must start with https://.
webhook-url-private = The URL must point to a public address, not a private or loopback one.
webhook-url-unresolved = The URL’s host name could not be resolved.
