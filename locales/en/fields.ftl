# What each field is called inside a sentence ("{ $field } is required."): `field-<name>` for
# a field of a request body, `field-<list>-entry` for one entry of a list.

field-body = the request body
field-name = the name
field-email = the email address
field-password = the password
field-password_confirmation = the password confirmation
field-current_password = the current password
field-role = the role
field-token = the reset token
field-refresh_token = the refresh token
field-device_name = the device name
field-items = the list of items
field-items-entry = item { $position }
field-product_id = the product id
field-product = the product
field-quantity = the quantity
field-unit_price_cents = the unit price (in cents)
field-currency = the currency
field-notes = the notes
field-status = the status
field-user_id = the user id
field-locale = the language
field-sku = the sku
field-description = the description
field-price_cents = the price (in cents)
field-stock = the stock
field-active = the active flag
field-abilities = the abilities
field-expires_in = the lifetime
field-url = the URL
field-events = the events

# A field inside an entry of a list: "the quantity of item 2".
field-in-entry = { $field } of { $entry }
# An entry of a list without a name of its own.
field-entry = entry { $position } of { $list }
# A field this file does not name.
field-unknown = the field “{ $name }”
