# Le nom de chaque champ dans une phrase (« { $field } est obligatoire. ») : `field-<nom>` pour
# un champ du corps d’une requête, `field-<liste>-entry` pour une entrée d’une liste.

field-body = le corps de la requête
field-name = le nom
field-email = l’adresse email
field-password = le mot de passe
field-password_confirmation = la confirmation du mot de passe
field-current_password = le mot de passe actuel
field-role = le rôle
field-token = le jeton de réinitialisation
field-refresh_token = le jeton de rafraîchissement
field-device_name = le nom de l’appareil
field-items = la liste des articles
field-items-entry = l’article { $position }
field-product_id = l’identifiant du produit
field-product = le produit
field-quantity = la quantité
field-unit_price_cents = le prix unitaire (en centimes)
field-currency = la devise
field-notes = le texte des notes
field-status = le statut
field-user_id = l’identifiant de l’utilisateur
field-locale = la langue
field-sku = la référence
field-description = la description
field-price_cents = le prix (en centimes)
field-stock = le stock
field-active = l’indicateur « actif »
field-abilities = les capacités
field-expires_in = la durée de vie
field-url = l’URL
field-events = les événements

# Un champ d’une entrée de liste : « la quantité de l’article 2 ».
field-in-entry = { $field } de { $entry }
# Une entrée de liste sans nom propre.
field-entry = l’entrée { $position } de { $list }
# Un champ que ce fichier ne nomme pas.
field-unknown = le champ « { $name } »
