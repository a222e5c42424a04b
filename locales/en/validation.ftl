# One entry of a 422's `errors`. `$field` is the field's name as `fields.ftl` says it.

validation-required = { $field } is required.
validation-not-null = { $field } cannot be null.
validation-string = { $field } must be a string.
validation-integer = { $field } must be a whole number.
validation-number = { $field } must be a number.
validation-boolean = { $field } must be true or false.
validation-object = { $field } must be a JSON object.
validation-array = { $field } must be a list.
validation-unknown-field = The field “{ $name }” is not accepted here.
validation-one-of = { $field } must be one of: { $allowed }.
validation-min-chars = { $field } must be at least { $min } characters long.
validation-max-chars = { $field } must not be longer than { $max } characters.
validation-max-bytes = { $field } must not be longer than { $max } bytes (accented letters count for two or more).
validation-format = { $field } is not in the expected format.
validation-email = { $field } is not valid.
validation-control-chars = { $field } must not contain control or direction-changing characters.
validation-min = { $field } must be at least { $min }.
validation-max = { $field } must be at most { $max }.
validation-between = { $field } must be between { $min } and { $max }.
validation-min-entries = { $field } must have at least { $min ->
    [one] one entry
   *[other] { $min } entries
}.
validation-max-entries = { $field } must not have more than { $max } entries.
validation-body-invalid = The request body does not match this operation’s schema.
validation-password-confirmation = The password confirmation does not match the password.
validation-currency = { $field } must be three upper-case letters (ISO 4217), such as EUR.
validation-sku = { $field } must be letters, digits, “-”, “_” or “.”, starting with a letter or a digit.

# Query parameters, named as the client wrote them.
query-unknown = “{ $name }” is not a parameter of this operation. Known parameters: { $known }.
query-unknown-none = “{ $name }” is not a parameter of this operation, which takes none.
query-repeated = The parameter “{ $name }” must be given only once.
query-invalid = The parameter “{ $name }” is invalid.
query-integer-range = The parameter “{ $name }” must be a whole number from { $min } to { $max }.
query-integer-min = The parameter “{ $name }” must be a whole number of at least { $min }.
query-one-of = The parameter “{ $name }” must be one of: { $allowed }.
query-boolean = The parameter “{ $name }” must be true or false.
query-max-chars = The parameter “{ $name }” must not be longer than { $max } characters.
query-pattern = The parameter “{ $name }” holds characters it does not accept (control or direction-changing characters).
list-cursor-invalid = This is not a cursor of this list, with these filters and this sort: ask for the first page again with “cursor=start”.
list-cursor-with-page = Send either “page” or “cursor”, not both.
