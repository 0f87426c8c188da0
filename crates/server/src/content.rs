//! The content store (SPEC §13, issue 7): a collectible's artwork or a certificate's document,
//! addressed by its SHA-256. Only images (PNG, JPEG, WebP, GIF) and PDFs are taken, declared by
//! `Content-Type` and checked against the file's own first bytes. The bytes live in the store.

use axum::http::{header, HeaderMap, StatusCode};

use crate::error::{ApiError, ApiResult};

/// The types accepted, each with the first bytes every such file starts with.
const TYPES: [(&str, &[u8]); 5] = [
    ("image/png", b"\x89PNG\r\n\x1a\n"),
    ("image/jpeg", b"\xff\xd8\xff"),
    ("image/gif", b"GIF8"),
    ("image/webp", b"RIFF"),
    ("application/pdf", b"%PDF-"),
];

fn unsupported(why: String) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        why,
    )
}

/// The declared type, if it is one of [`TYPES`] and the bytes are such a file.
pub fn checked_type(headers: &HeaderMap, bytes: &[u8]) -> ApiResult<&'static str> {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let accepted = || TYPES.iter().map(|(t, _)| *t).collect::<Vec<_>>().join(", ");
    let (kind, magic) = TYPES.iter().find(|(t, _)| *t == declared).ok_or_else(|| {
        unsupported(format!(
            "content of type {declared:?} is not accepted; send one of {}",
            accepted()
        ))
    })?;
    let webp_ok = *kind != "image/webp" || bytes.get(8..12) == Some(b"WEBP");
    if !bytes.starts_with(magic) || !webp_ok {
        return Err(unsupported(format!(
            "the body is not a {kind} file (its first bytes say otherwise)"
        )));
    }
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(kind: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, kind.parse().unwrap());
        h
    }

    #[test]
    fn the_declared_type_must_match_the_first_bytes() {
        assert_eq!(
            checked_type(&typed("image/png"), b"\x89PNG\r\n\x1a\nrest").unwrap(),
            "image/png"
        );
        assert_eq!(
            checked_type(&typed("Application/PDF"), b"%PDF-1.7").unwrap(),
            "application/pdf"
        );
        assert_eq!(
            checked_type(&typed("image/webp"), b"RIFF0000WEBPVP8 ").unwrap(),
            "image/webp"
        );
        for (kind, bytes) in [
            ("image/png", &b"%PDF-1.7"[..]),
            ("image/webp", b"RIFF0000WAVEfmt "),
            ("text/html", b"<html>"),
        ] {
            let e = checked_type(&typed(kind), bytes).unwrap_err();
            assert_eq!(
                (e.status.as_u16(), e.code),
                (415, "unsupported_media_type"),
                "{kind}"
            );
        }
    }
}
