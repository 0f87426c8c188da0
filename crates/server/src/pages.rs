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
/// What every page shares: the words for each error code, and numbers and times for people.
pub const COMMON_JS: &str = include_str!("../assets/common.js");
/// The rules in people's words, for the console.
const RULES_JS: &str = include_str!("../assets/rules.js");

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
                    .replace("/*UPLOT_JS*/", UPLOT_JS)
                    .replace("/*COMMON_JS*/", COMMON_JS)
                    .replace("/*RULES_JS*/", RULES_JS);
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

    /// Every code a page can be answered: the engine's, and each literal the HTTP edge gives
    /// `ApiError::new` (after its status) or `bad_request` in its source.
    fn every_code() -> Vec<String> {
        let mut codes: Vec<String> = jifen_core::Code::ALL
            .iter()
            .map(|c| c.as_str().to_string())
            .collect();
        let mut dirs = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    codes.extend(codes_in(&std::fs::read_to_string(path).unwrap()));
                }
            }
        }
        codes.extend(crate::member_import::PROBLEM_CODES.map(String::from));
        codes.push("invalid_import".into());
        codes.sort();
        codes.dedup();
        codes
    }

    /// The string literal that opens the arguments of each such call.
    fn codes_in(source: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (open, skip_status) in [("ApiError::new(", true), ("bad_request(", false)] {
            for (at, _) in source.match_indices(open) {
                let mut rest = &source[at + open.len()..];
                if skip_status {
                    let Some(comma) = rest.find(',') else {
                        continue;
                    };
                    rest = &rest[comma + 1..];
                }
                let rest = rest.trim_start();
                let Some(literal) = rest.strip_prefix('"') else {
                    continue;
                };
                let code: String = literal.chars().take_while(|c| *c != '"').collect();
                if !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                    out.push(code);
                }
            }
        }
        out
    }

    #[test]
    fn every_code_has_words_in_both_languages() {
        let codes = every_code();
        assert!(codes.len() > 55, "{codes:?}");
        for code in &codes {
            let entry = format!("\n      {code}: \"");
            assert_eq!(
                COMMON_JS.matches(&entry).count(),
                2,
                "common.js needs one Chinese and one English message for {code}"
            );
        }
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
