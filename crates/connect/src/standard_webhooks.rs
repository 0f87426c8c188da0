//! The Standard Webhooks scheme (<https://www.standardwebhooks.com>), which jifen signs its own
//! requests with and checks the `generic` connector's deliveries by:
//!
//! - `webhook-id`: the event's id, the same on every attempt (the receiver's key to drop a
//!   repeat);
//! - `webhook-timestamp`: seconds since the epoch when this attempt was signed;
//! - `webhook-signature`: `v1,<base64 of HMAC-SHA256 over "<id>.<timestamp>.<body>">`, and a
//!   receiver accepts any of several space-separated signatures (while a secret rotates).
//!
//! The HMAC key is the secret's bytes; a secret written `whsec_<base64>`, the scheme's own form,
//! is the bytes that base64 holds.

use base64::Engine;

use crate::sign::{hmac_sha256, same};

/// How far a delivery's timestamp may be from now, either way, in seconds.
pub const TOLERANCE_S: i64 = 5 * 60;

/// The three headers of one signed attempt, names first: one signature per secret, space
/// separated (while a secret rotates, the new one and the old one both sign).
pub fn headers(
    secrets: &[&str],
    id: &str,
    timestamp_s: i64,
    body: &[u8],
) -> [(&'static str, String); 3] {
    let signatures: Vec<String> = secrets
        .iter()
        .map(|s| signature(s, id, timestamp_s, body))
        .collect();
    [
        ("webhook-id", id.to_string()),
        ("webhook-timestamp", timestamp_s.to_string()),
        ("webhook-signature", signatures.join(" ")),
    ]
}

/// `v1,<base64 HMAC-SHA256 of id.timestamp.body>` under the secret's key.
pub fn signature(secret: &str, id: &str, timestamp_s: i64, body: &[u8]) -> String {
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac(secret, id, timestamp_s, body))
    )
}

fn mac(secret: &str, id: &str, timestamp_s: i64, body: &[u8]) -> [u8; 32] {
    let mut signed = Vec::with_capacity(id.len() + 24 + body.len());
    signed.extend_from_slice(id.as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(timestamp_s.to_string().as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    hmac_sha256(&key_of(secret), &signed)
}

/// Checks a delivery's three headers against the secret at `now_s`: the timestamp within
/// [`TOLERANCE_S`], and one of the `v1` signatures right (compared in constant time).
pub fn verify(
    secret: &str,
    id: Option<&str>,
    timestamp: Option<&str>,
    signatures: Option<&str>,
    body: &[u8],
    now_s: i64,
) -> Result<(), String> {
    let (Some(id), Some(timestamp), Some(signatures)) = (id, timestamp, signatures) else {
        return Err("webhook-id, webhook-timestamp and webhook-signature are required".into());
    };
    let ts: i64 = timestamp
        .parse()
        .map_err(|_| format!("webhook-timestamp {timestamp:?} is not seconds since the epoch"))?;
    if (now_s - ts).abs() > TOLERANCE_S {
        return Err(format!(
            "webhook-timestamp {ts} is more than {TOLERANCE_S} s from now ({now_s})"
        ));
    }
    let expected = mac(secret, id, ts, body);
    let found = signatures.split(' ').any(|s| {
        s.strip_prefix("v1,")
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
            .is_some_and(|given| same(&given, &expected))
    });
    if found {
        Ok(())
    } else {
        Err("webhook-signature does not match the body under the connector's secret".into())
    }
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
        let sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert_eq!(signature(secret, id, 1614265330, body), sig);
        let h = headers(&[secret], id, 1614265330, body);
        assert_eq!(h[2].1, sig);
        assert_eq!(h[0], ("webhook-id", id.to_string()));
        assert_eq!(h[1], ("webhook-timestamp", "1614265330".to_string()));
        let check = |ts: &str, sigs: &str, body: &[u8], now: i64| {
            verify(secret, Some(id), Some(ts), Some(sigs), body, now)
        };
        check("1614265330", sig, body, 1614265330).unwrap();
        let two = headers(&["whsec_AAAA", secret], id, 1614265330, body);
        check("1614265330", &two[2].1, body, 1614265330).unwrap();
        check("1614265330", &format!("v1,AAAA {sig}"), body, 1614265400).unwrap();
        assert!(check("1614265330", sig, b"{\"test\": 2432232315}", 1614265330).is_err());
        assert!(check("1614265330", sig, body, 1614265330 + 301)
            .unwrap_err()
            .contains("more than 300 s"));
        assert!(check("1614265330", "v2,abc", body, 1614265330).is_err());
        assert!(verify(secret, None, Some("1"), Some(sig), body, 1).is_err());
    }

    #[test]
    fn a_plain_secret_is_its_own_bytes() {
        let plain = signature("venue-secret-0123456789", "e1", 1, b"{}");
        let b64 = base64::engine::general_purpose::STANDARD.encode("venue-secret-0123456789");
        assert_eq!(plain, signature(&format!("whsec_{b64}"), "e1", 1, b"{}"));
    }
}
