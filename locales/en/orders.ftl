# Orders. `$status`, `$from` and `$to` are status codes: pending, paid, shipped, delivered, cancelled.

order-owner-admin-only = Only an admin can create an order for another user.
order-owner-unknown = No user has this id.
order-items-frozen = Items and currency can only change while the order is pending; it is { $status }.
order-notes-frozen = Notes can only change while the order is pending; it is { $status }.
order-status-transition = The status cannot change from { $from } to { $to }.
order-changed-meanwhile = The order changed while this request ran; its status is now { $status }. Reload it and try again.
order-delete-admin-only = Only an admin can delete an order that is { $status }; cancel it instead.
order-line-both = A line names either a product_id or a product with its unit_price_cents, not both.
order-line-neither = A line needs a product_id, or a product with its unit_price_cents.
order-free-line-admin-only = Only an admin can order a line with its own name and price; order a product_id from the catalogue.
order-product-unknown = No product on sale has this id.
order-product-currency = This product is priced in { $product_currency }, and the order is in { $currency }.
order-currency-products = The currency cannot change while lines come from the catalogue, whose prices are in { $currency }.
order-out-of-stock = Not enough stock for { $lines }: nothing was ordered.
idempotency-key-invalid = The header “{ $header }” must be 1 to { $max } visible ASCII characters, without spaces.
idempotency-key-repeated = Send the header “{ $header }” once.
idempotency-key-reused = This “{ $header }” was already used for a request with another body: use a new key for a new request.
idempotency-key-in-use = A request with this “{ $header }” is still being processed: try again in a moment.
