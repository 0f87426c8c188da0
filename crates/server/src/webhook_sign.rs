//! Signatures of the requests jifen sends (to exchange venues now, to webhooks next), by the
//! Standard Webhooks scheme (<https://www.standardwebhooks.com>), so a receiver can check them
//! with any of its libraries:
//!
//! - `webhook-id`: the event's id, the same on every attempt (the receiver's key to drop a
//!   repeat);
//! - `webhook-timestamp`: seconds since the epoch when this attempt was signed;
//! - `webhook-signature`: `v1,<base64 of HMAC-SHA256 over "<id>.<timestamp>.<body>">`.
//!
//! The HMAC key is the secret's bytes; a secret written `whsec_<base64>`, the scheme's own form,
//! is the bytes that base64 holds.

use base64::Engine;

use crate::keys::hmac;

/// The three headers of one signed attempt, names first.
pub fn headers(
    secret: &str,
    id: &str,
    timestamp_s: i64,
    body: &[u8],
) -> [(&'static str, String); 3] {
    [
        ("webhook-id", id.to_string()),
        ("webhook-timestamp", timestamp_s.to_string()),
        (
            "webhook-signature",
            signature(secret, id, timestamp_s, body),
        ),
    ]
}

/// `v1,<base64 HMAC-SHA256 of id.timestamp.body>` under the secret's key.
pub fn signature(secret: &str, id: &str, timestamp_s: i64, body: &[u8]) -> String {
    let mut signed = Vec::with_capacity(id.len() + 24 + body.len());
    signed.extend_from_slice(id.as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(timestamp_s.to_string().as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    let mac = hmac(&key_of(secret), &signed);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac)
    )
}

/// The HMAC key of a secret: `whsec_<base64>` is the bytes it encodes, anything else its bytes.
fn key_of(secret: &str) -> Vec<u8> {
    secret
        .strip_prefix("whsec_")
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn matches_the_standard_webhooks_reference_example() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(secret, id, 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let h = headers(secret, id, 1614265330, body);
        assert_eq!(h[0], ("webhook-id", id.to_string()));
        assert_eq!(h[1], ("webhook-timestamp", "1614265330".to_string()));
    }

    #[test]
    fn a_plain_secret_is_its_own_bytes() {
        let plain = signature("venue-secret-0123456789", "e1", 1, b"{}");
        let b64 = base64::engine::general_purpose::STANDARD.encode("venue-secret-0123456789");
        assert_eq!(plain, signature(&format!("whsec_{b64}"), "e1", 1, b"{}"));
    }
}
