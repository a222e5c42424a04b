# API tokens and their abilities.

error-missing-ability = This API token lacks the “{ $ability }” ability that this operation needs.
error-session-required = An API token cannot do this: log in (POST /api/login) and use that session’s access token.
error-api-token-unknown = The API token is unknown: it was deleted, or its account was.
error-api-token-expired = The API token has expired: create a new one.
abilities-empty = Name at least one ability.
ability-unknown = “{ $ability }” is not an ability. Abilities: orders:read, orders:write, orders:price, products:write, users:read, users:write, webhooks:manage, or * for all of yours.
ability-not-yours = Your account cannot grant “{ $ability }”: a token never has more rights than its owner.
