//! Idempotency keys: what a valid `Idempotency-Key` is, and the fingerprint that tells a repeat
//! of a request from another request sent under the same key.

use std::fmt::Write;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Message;

/// The header that carries a key, as errors name it.
pub const HEADER: &str = "Idempotency-Key";
pub const MAX_KEY_CHARS: usize = 255;

/// 1 to 255 visible ASCII characters (`!` to `~`): no spaces, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Parses the header's raw bytes: a header may carry bytes that are not text at all.
    pub fn parse(raw: &[u8]) -> Result<Self, Message> {
        let visible = raw.iter().all(|byte| (b'!'..=b'~').contains(byte));
        if raw.is_empty() || raw.len() > MAX_KEY_CHARS || !visible {
            return Err(Message::new("idempotency-key-invalid")
                .with("header", HEADER)
                .with("max", MAX_KEY_CHARS));
        }
        Ok(Self(raw.iter().map(|byte| char::from(*byte)).collect()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The SHA-256 (hex) of a request's method, path and JSON body in a canonical form: object keys
/// sorted, no whitespace. Two requests that differ only in layout or key order share it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn of(method: &str, path: &str, body: &Value) -> Self {
        let mut canonical = format!("{method} {path}\n");
        write_canonical(body, &mut canonical);
        let digest = Sha256::digest(canonical.as_bytes());
        Self(
            digest
                .iter()
                .fold(String::with_capacity(64), |mut hex, byte| {
                    let _ = write!(hex, "{byte:02x}");
                    hex
                }),
        )
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(object) => {
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort();
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&object[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_are_visible_ascii_from_1_to_255_characters() {
        assert!(IdempotencyKey::parse(b"a").is_ok());
        assert!(IdempotencyKey::parse(b"order-2026-12-01_#42!~").is_ok());
        assert!(IdempotencyKey::parse("k".repeat(255).as_bytes()).is_ok());
        for refused in [
            &b""[..],
            "k".repeat(256).as_bytes(),
            b"with space",
            b"tab\there",
            "clé".as_bytes(),
            b"\x7f",
        ] {
            assert!(IdempotencyKey::parse(refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn the_fingerprint_ignores_layout_and_key_order_only() {
        let one = json!({"items": [{"product_id": 1, "quantity": 2}], "notes": "x"});
        let same: Value = serde_json::from_str(
            r#"{ "notes" : "x",
                 "items" : [ { "quantity": 2, "product_id": 1 } ] }"#,
        )
        .unwrap();
        let fingerprint = |body: &Value| Fingerprint::of("POST", "/api/orders", body);
        assert_eq!(fingerprint(&one), fingerprint(&same));
        assert_ne!(
            fingerprint(&one),
            fingerprint(&json!({"items": [{"product_id": 1, "quantity": 3}], "notes": "x"}))
        );
        assert_ne!(
            fingerprint(&one),
            Fingerprint::of("POST", "/api/other", &one),
            "the path is part of it"
        );
    }
}
