//! The pages: the operator console at `/`, the consumer wallet at `/wallet` and the public
//! certificate page at `/c/{economy}/{collectible}`. Each is one self-contained document (no
//! CDN) with uPlot inlined, served under a strict content security policy.

use axum::http::{HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Response};

pub const CONSOLE: &str = include_str!("../assets/console.html");
pub const WALLET: &str = include_str!("../assets/wallet.html");
pub const CERTIFICATE: &str = include_str!("../assets/certificate.html");

/// uPlot (MIT, vendored beside the simulator's report), inlined so the page needs no network.
const UPLOT_JS: &str = include_str!("../../sim/assets/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../../sim/assets/uplot/uPlot.min.css");

/// A page with uPlot inlined (pasted once per page, on first use), served with a strict
/// content security policy: nothing from other origins, no referrer, and only the page's own
/// inline scripts, named by their SHA-256, may run (no `'unsafe-inline'`: a script injected
/// into the page would not match).
pub fn self_contained(page: &'static str) -> Response {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static PAGES: OnceLock<Mutex<HashMap<usize, (&'static str, HeaderValue)>>> = OnceLock::new();
    let (html, policy) = {
        let mut pages = PAGES
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        pages
            .entry(page.as_ptr() as usize)
            .or_insert_with(|| {
                let full = page
                    .replace("/*UPLOT_CSS*/", UPLOT_CSS)
                    .replace("/*UPLOT_JS*/", UPLOT_JS);
                let policy = content_security_policy(&full);
                (Box::leak(full.into_boxed_str()), policy)
            })
            .clone()
    };
    let mut headers = HeaderMap::new();
    headers.insert(axum::http::header::CONTENT_SECURITY_POLICY, policy);
    headers.insert(
        axum::http::header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        axum::http::header::X_FRAME_OPTIONS,
        HeaderValue::from_static("DENY"),
    );
    (headers, Html(html)).into_response()
}

/// The policy for one page: its inline scripts by hash.
fn content_security_policy(html: &str) -> HeaderValue {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let mut hashes = String::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script>") {
        let body = &rest[start + "<script>".len()..];
        let Some(end) = body.find("</script>") else {
            break;
        };
        let digest = Sha256::digest(&body.as_bytes()[..end]);
        hashes.push_str(" 'sha256-");
        hashes.push_str(&base64::engine::general_purpose::STANDARD.encode(digest));
        hashes.push('\'');
        rest = &body[end..];
    }
    let policy = format!(
        "default-src 'none'; script-src{hashes}; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_each_inline_script_by_its_hash() {
        use base64::Engine;
        use sha2::{Digest, Sha256};
        let page = "<p><script>a()</script><script>b()</script>";
        let policy = content_security_policy(page);
        let policy = policy.to_str().unwrap();
        for script in ["a()", "b()"] {
            let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script));
            assert!(policy.contains(&format!("'sha256-{hash}'")), "{policy}");
        }
        let scripts = policy
            .split(';')
            .find(|d| d.trim().starts_with("script-src"))
            .unwrap();
        assert!(!scripts.contains("unsafe-inline"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"));
    }

    #[test]
    fn every_page_is_self_contained() {
        for page in [CONSOLE, WALLET, CERTIFICATE] {
            let r = self_contained(page);
            let csp = r.headers()[axum::http::header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap();
            assert!(csp.starts_with("default-src 'none'"), "{csp}");
            assert_eq!(r.headers()[axum::http::header::X_FRAME_OPTIONS], "DENY");
        }
    }
}
