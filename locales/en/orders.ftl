# Orders. `$status`, `$from` and `$to` are status codes: pending, paid, shipped, delivered, cancelled.

order-owner-admin-only = Only an admin can create an order for another user.
order-owner-unknown = No user has this id.
order-items-frozen = Items and currency can only change while the order is pending; it is { $status }.
order-notes-frozen = Notes can only change while the order is pending; it is { $status }.
order-status-transition = The status cannot change from { $from } to { $to }.
order-changed-meanwhile = The order changed while this request ran; its status is now { $status }. Reload it and try again.
order-delete-admin-only = Only an admin can delete an order that is { $status }; cancel it instead.
