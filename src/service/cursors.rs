//! The cursors of the lists: a row's place (its sort key's value and its id) that a client hands
//! back to get the rows after it. A cursor is signed together with the list it belongs to (who
//! reads it, the filters, the sort), so a client can neither forge a place nor carry a cursor
//! to another list, another sort or another reader: anything but the cursor this server gave
//! for this very list is refused. The filters are applied again on every page anyway, so even
//! a valid cursor never shows a row its reader may not see.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL};
use chrono::DateTime;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::ServiceError;
use crate::{
    config::Secret,
    domain::{
        Message,
        listing::{CursorPage, Position, Slice, SortValue},
    },
};

/// The `cursor` that asks for the first page of a list read by cursor.
pub const FIRST_PAGE: &str = "start";

/// Signs and checks cursors, with a key derived from the tokens' signing secret (so a cursor
/// dies when `JWT_SECRET` changes, and never signs anything a token would accept).
#[derive(Clone)]
pub struct Cursors {
    key: Secret<Vec<u8>>,
}

/// A sort key's value as a cursor writes it; a time as nanoseconds since 1970, exactly.
#[derive(Serialize, Deserialize)]
enum StoredValue {
    #[serde(rename = "n")]
    Integer(i64),
    #[serde(rename = "s")]
    Text(String),
    #[serde(rename = "t")]
    Time(i64),
}

impl Cursors {
    pub fn new(token_secret: &Secret<Vec<u8>>) -> Self {
        let mut mac = hmac(token_secret.expose());
        mac.update(b"comptoir list cursors");
        Self {
            key: Secret::new(mac.finalize().into_bytes().to_vec()),
        }
    }

    /// Where the page asked for by `cursor` starts in the list `scope` names: `None` for the
    /// first page, or a 422 on `cursor` for anything this server did not give for `scope`.
    pub fn open(&self, scope: &str, cursor: &str) -> Result<Option<Position>, ServiceError> {
        if cursor == FIRST_PAGE {
            return Ok(None);
        }
        let invalid = || ServiceError::invalid("cursor", Message::new("list-cursor-invalid"));
        let (payload, signature) = cursor.split_once('.').ok_or_else(invalid)?;
        let signature = BASE64URL.decode(signature).map_err(|_| invalid())?;
        self.signature(scope, payload)
            .verify_slice(&signature)
            .map_err(|_| invalid())?;
        let payload = BASE64URL.decode(payload).map_err(|_| invalid())?;
        let (key, id): (StoredValue, i64) =
            serde_json::from_slice(&payload).map_err(|_| invalid())?;
        let key = match key {
            StoredValue::Integer(value) => SortValue::Integer(value),
            StoredValue::Text(value) => SortValue::Text(value),
            StoredValue::Time(nanos) => SortValue::Time(DateTime::from_timestamp_nanos(nanos)),
        };
        Ok(Some(Position { key, id }))
    }

    /// The cursor page of `slice` in the list `scope` names.
    pub fn page<T>(&self, scope: &str, slice: Slice<T>, per_page: u64) -> CursorPage<T> {
        CursorPage {
            data: slice.data,
            per_page,
            next_cursor: slice.next.map(|next| self.seal(scope, next)),
        }
    }

    fn seal(&self, scope: &str, position: Position) -> String {
        let key = match position.key {
            SortValue::Integer(value) => StoredValue::Integer(value),
            SortValue::Text(value) => StoredValue::Text(value),
            // Stored times are whole seconds, far inside the nanoseconds' range (1677–2262).
            SortValue::Time(time) => {
                StoredValue::Time(time.timestamp_nanos_opt().unwrap_or_default())
            }
        };
        let payload = BASE64URL.encode(serde_json::to_vec(&(key, position.id)).unwrap_or_default());
        let signature = BASE64URL.encode(self.signature(scope, &payload).finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    /// The MAC of `payload` bound to `scope`; the scope's length comes first, so that no two
    /// (scope, payload) pairs sign the same bytes.
    fn signature(&self, scope: &str, payload: &str) -> Hmac<Sha256> {
        let mut mac = hmac(self.key.expose());
        mac.update(&(scope.len() as u64).to_be_bytes());
        mac.update(scope.as_bytes());
        mac.update(payload.as_bytes());
        mac
    }
}

fn hmac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn cursors(secret: &str) -> Cursors {
        Cursors::new(&Secret::new(secret.as_bytes().to_vec()))
    }

    fn sealed(cursors: &Cursors, scope: &str, key: SortValue) -> String {
        let slice = Slice {
            data: vec![()],
            next: Some(Position { key, id: 7 }),
        };
        cursors.page(scope, slice, 1).next_cursor.unwrap()
    }

    #[test]
    fn a_cursor_opens_only_in_its_own_list_under_its_own_key() {
        let time = Utc::now();
        for key in [
            SortValue::Integer(-3),
            SortValue::Text("Zoë \"quoted\"".into()),
            SortValue::Time(time),
        ] {
            let cursor = sealed(&cursors("one"), "orders|1", key.clone());
            let opened = cursors("one").open("orders|1", &cursor).unwrap();
            assert_eq!(opened, Some(Position { key, id: 7 }));
            assert!(cursors("one").open("orders|2", &cursor).is_err());
            assert!(cursors("two").open("orders|1", &cursor).is_err());
        }
        assert_eq!(cursors("one").open("orders|1", FIRST_PAGE).unwrap(), None);
        for garbage in ["", ".", "abc", "a.b", "start.", "..."] {
            assert!(
                cursors("one").open("orders|1", garbage).is_err(),
                "{garbage}"
            );
        }
    }
}
