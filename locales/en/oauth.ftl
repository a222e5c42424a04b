# The OAuth2 token endpoint (POST /api/oauth/token): RFC 6749's `error` goes beside these.

oauth-content-type-missing = A Content-Type header is required: send application/x-www-form-urlencoded.
oauth-content-type-unsupported = Content-Type “{ $content_type }” is not supported here: send application/x-www-form-urlencoded.
oauth-parameter-missing = The { $name } parameter is required.
oauth-parameter-repeated = The { $name } parameter may be sent only once.
oauth-parameter-too-long = The { $name } parameter may not be longer than { $max } characters.
oauth-grant-type-unsupported = The grant type “{ $grant_type }” is not supported.
oauth-client-secret-refused = No client of this API has a secret: send the client id alone, or nothing.
oauth-client-credentials-unreadable = The Basic credentials of the Authorization header could not be read.
