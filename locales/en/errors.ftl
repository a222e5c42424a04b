# Errors that can answer any request: their `code` says the same in every language.

error-validation = The given data was invalid.
error-forbidden = This action is unauthorized.
error-email-not-verified = Confirm your email address before creating or changing an order: follow the link we mailed you, or ask for a new one.
error-not-found = No such resource.
error-precondition-failed = The resource has changed since the version named in If-Match: read it again before changing it.
error-route-not-found = No route matches { $method } { $path }.
error-method-not-allowed = This method is not supported for this route.
error-payload-too-large = The request body is larger than 1 MiB.
error-uri-too-long = The request URI is longer than 8 KiB.
error-headers-too-large = The request headers are larger than 32 KiB.
error-content-type-unsupported = Content-Type “{ $content_type }” is not supported: send application/json.
error-content-type-missing = A Content-Type header is required: send application/json.
error-body-unreadable = The request body could not be read.
error-json-malformed = The request body is not valid JSON (line { $line }, column { $column }).
error-path-id-not-integer = The id in the path must be an integer.
error-too-many-requests = Too many attempts. Try again in { $seconds ->
    [one] one second
   *[other] { $seconds } seconds
}.
error-timed-out = The request took too long and was abandoned. Try again.
error-cors-refused = This origin may not call the API.
error-internal = Something went wrong on our side. Quote the X-Request-Id header if you report it.
error-unavailable = The service is temporarily unavailable. Try again shortly.
error-busy = The server is busy. Try again in { $seconds ->
    [one] one second
   *[other] { $seconds } seconds
}.
error-storage-unavailable = The database’s files failed: this instance cannot serve this request until it is repaired and restarted.
error-other = The request could not be handled (HTTP { $status }).

# 401s: the body says which, and so does `WWW-Authenticate` (RFC 6750), in English.
error-authorization-missing = This route needs an access token: send the header “Authorization: Bearer <access_token>”.
error-authorization-not-bearer = The Authorization header must use the Bearer scheme: “Authorization: Bearer <access_token>”.
error-authorization-empty = The Authorization header holds no token after “Bearer”: send “Authorization: Bearer <access_token>”.
error-token-malformed = The bearer token is not an access token of this API. Send the access_token alone after “Bearer ”.
error-token-foreign-signature = The access token was not signed by this service.
error-token-expired = The access token has expired. Refresh it with the refresh token, or log in again.
error-token-revoked = The access token is no longer valid: it was logged out, or the account’s password changed or the account was deleted. Log in again.
error-refresh-token-invalid = The refresh token is unknown or expired, or its session has ended. Log in again.
error-refresh-token-reused = This refresh token was already exchanged: its session has been ended on every device, in case the token was stolen. Log in again.
