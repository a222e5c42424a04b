# Une entrée de `errors` d’une 422. `$field` est le nom du champ tel que `fields.ftl` le dit.

validation-required = { $field } est obligatoire.
validation-not-null = { $field } ne peut pas être null.
validation-string = { $field } doit être une chaîne de caractères.
validation-integer = { $field } doit être un nombre entier.
validation-number = { $field } doit être un nombre.
validation-boolean = { $field } doit valoir true ou false.
validation-object = { $field } doit être un objet JSON.
validation-array = { $field } doit être une liste.
validation-unknown-field = Le champ « { $name } » n’est pas accepté ici.
validation-one-of = { $field } doit prendre l’une de ces valeurs : { $allowed }.
validation-min-chars = { $field } doit comporter au moins { $min } caractères.
validation-max-chars = { $field } ne doit pas dépasser { $max } caractères.
validation-max-bytes = { $field } ne doit pas dépasser { $max } octets (une lettre accentuée en compte au moins deux).
validation-format = { $field } n’a pas le format attendu.
validation-email = { $field } n’est pas valide.
validation-control-chars = { $field } ne doit pas contenir de caractères de contrôle ni de caractères qui changent le sens d’écriture.
validation-min = { $field } doit valoir au moins { $min }.
validation-max = { $field } doit valoir au plus { $max }.
validation-between = { $field } doit se situer entre { $min } et { $max }.
validation-min-entries = { $field } doit contenir au moins { $min ->
    [one] une entrée
   *[other] { $min } entrées
}.
validation-max-entries = { $field } ne doit pas contenir plus de { $max } entrées.
validation-body-invalid = Le corps de la requête ne correspond pas au schéma de cette opération.
validation-password-confirmation = La confirmation du mot de passe ne correspond pas.
validation-currency = { $field } doit comporter trois lettres majuscules (ISO 4217), par exemple EUR.
validation-sku = { $field } ne doit comporter que des lettres, des chiffres, « - », « _ » ou « . », et commencer par une lettre ou un chiffre.

# Paramètres de requête, nommés tels que le client les a écrits.
query-unknown = « { $name } » n’est pas un paramètre de cette opération. Paramètres acceptés : { $known }.
query-unknown-none = « { $name } » n’est pas un paramètre de cette opération, qui n’en accepte aucun.
query-repeated = Le paramètre « { $name } » ne doit être donné qu’une fois.
query-invalid = Le paramètre « { $name } » n’est pas valide.
query-integer-range = Le paramètre « { $name } » doit être un nombre entier de { $min } à { $max }.
query-integer-min = Le paramètre « { $name } » doit être un nombre entier d’au moins { $min }.
query-one-of = Le paramètre « { $name } » doit prendre l’une de ces valeurs : { $allowed }.
query-boolean = Le paramètre « { $name } » doit valoir true ou false.
query-max-chars = Le paramètre « { $name } » ne doit pas dépasser { $max } caractères.
query-pattern = Le paramètre « { $name } » contient des caractères qu’il n’accepte pas (caractères de contrôle ou qui changent le sens d’écriture).
list-cursor-invalid = Ce n’est pas un curseur de cette liste, avec ces filtres et ce tri : redemandez la première page avec « cursor=start ».
list-cursor-with-page = Envoyez soit « page », soit « cursor », pas les deux.
