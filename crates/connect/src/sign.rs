//! The platforms' signatures: each as its public documentation gives it, compared in constant
//! time. (`generic` is [`crate::standard_webhooks`].)

use base64::Engine;
use hmac::{KeyInit, Mac};
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Equal bytes, in time that does not depend on where they differ.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Shopify: `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of the raw body under the app's
/// secret (<https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-2-validate-the-origin-of-your-webhook-to-ensure-its-coming-from-shopify>).
/// WooCommerce signs the same way in `X-WC-Webhook-Signature`
/// (<https://woocommerce.github.io/woocommerce-rest-api-docs/#webhooks>, "Delivery/payload").
pub fn base64_hmac_sha256(secret: &str, body: &[u8], given: Option<&str>) -> Result<(), String> {
    let given = given.ok_or("the signature header is missing")?;
    let given = base64::engine::general_purpose::STANDARD
        .decode(given.trim())
        .map_err(|_| "the signature is not base64".to_string())?;
    if same(&given, &hmac_sha256(secret.as_bytes(), body)) {
        Ok(())
    } else {
        Err("the signature does not match the body under the connector's secret".into())
    }
}

/// Youzan: `Event-Sign` is the lower-case hex MD5 of `client_id + body + client_secret`, and
/// `Client-Id` names the app (<https://doc.youzanyun.com/detail/MSG/6>, 消息推送 › 签名校验).
pub fn youzan(
    client_id: &str,
    client_secret: &str,
    body: &[u8],
    sign: Option<&str>,
    client: Option<&str>,
) -> Result<(), String> {
    if client.is_some_and(|c| c != client_id) {
        return Err("Client-Id is not this connector's client_id".into());
    }
    let sign = sign.ok_or("the Event-Sign header is missing")?;
    let mut md5 = Md5::new();
    md5.update(client_id.as_bytes());
    md5.update(body);
    md5.update(client_secret.as_bytes());
    hex_md5_matches(md5, sign, "Event-Sign")
}

/// Weimob: the message's `sign` is the MD5 of `clientId + id + msgBody + clientSecret`, all
/// four as the message carries them (<https://doc.weimobcloud.com/>, 消息订阅 › 消息签名).
pub fn weimob(
    client_id: &str,
    client_secret: &str,
    id: &str,
    msg_body: &str,
    sign: &str,
) -> Result<(), String> {
    let mut md5 = Md5::new();
    md5.update(client_id.as_bytes());
    md5.update(id.as_bytes());
    md5.update(msg_body.as_bytes());
    md5.update(client_secret.as_bytes());
    hex_md5_matches(md5, sign, "sign")
}

fn hex_md5_matches(md5: Md5, given: &str, what: &str) -> Result<(), String> {
    let expected = hex::encode(md5.finalize());
    // Lower-case hex as documented; an upper-case copy is the same digest.
    if same(
        given.trim().to_ascii_lowercase().as_bytes(),
        expected.as_bytes(),
    ) {
        Ok(())
    } else {
        Err(format!(
            "{what} does not match the body under the connector's secret"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2, and the well-known MD5 of the empty string.
    #[test]
    fn primitives_match_published_vectors() {
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(Md5::digest(b"")),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
    }

    #[test]
    fn youzan_signs_client_id_body_secret() {
        let body = br#"{"msg":"x"}"#;
        let sign = hex::encode(Md5::digest(b"cid{\"msg\":\"x\"}csecret"));
        youzan("cid", "csecret", body, Some(&sign), Some("cid")).unwrap();
        youzan("cid", "csecret", body, Some(&sign.to_uppercase()), None).unwrap();
        assert!(youzan("cid", "other", body, Some(&sign), None).is_err());
        assert!(youzan("cid", "csecret", body, Some(&sign), Some("cid2")).is_err());
        assert!(youzan("cid", "csecret", body, None, None).is_err());
    }

    #[test]
    fn weimob_signs_client_id_id_body_secret() {
        let sign = hex::encode(Md5::digest(b"cidm1{\"a\":1}cs"));
        weimob("cid", "cs", "m1", "{\"a\":1}", &sign).unwrap();
        assert!(weimob("cid", "cs", "m2", "{\"a\":1}", &sign).is_err());
    }
}
