//! The ids of the commands a deployment issues itself: the writer's `advance_clock`, the
//! scheduler's `settle_dividends` and `confirm_order`, and whatever comes later.
//!
//! They live in a namespace of their own, `jifen:`, which no client may write: a client that
//! took `jifen:settle:2026-12-01` first would otherwise keep that day from ever settling (an id
//! is used once, SPEC §5). The prefixes earlier versions issued under (`auto-settle:`,
//! `auto-confirm:`, `clock:`) stay reserved too, since journals hold them. The server refuses a
//! client's command in the namespace before it is journaled; `jifen import` and `jifen replay`,
//! which restore and check journals, take them as written.

use sha2::{Digest, Sha256};

/// The namespace of server-issued ids.
pub const NAMESPACE: &str = "jifen:";
/// Prefixes of server-issued ids in journals written before the namespace.
pub const LEGACY_PREFIXES: [&str; 3] = ["auto-settle:", "auto-confirm:", "clock:"];

/// Whether `id` is one only the server may issue.
pub fn is_reserved(id: &str) -> bool {
    id.starts_with(NAMESPACE) || LEGACY_PREFIXES.iter().any(|p| id.starts_with(p))
}

/// `jifen:<kind>:<rest>`, or, when that is longer than an id may be, `jifen:<kind>:` and a
/// digest of `rest` (still fixed by what the command does, so a repeat is a retry).
fn server_id(kind: &str, rest: &str) -> String {
    let id = format!("{NAMESPACE}{kind}:{rest}");
    if id.len() <= jifen_core::NAME_BYTES_MAX {
        return id;
    }
    let digest = hex::encode(Sha256::digest(rest.as_bytes()));
    let room = jifen_core::NAME_BYTES_MAX - NAMESPACE.len() - kind.len() - 1;
    format!("{NAMESPACE}{kind}:{}", &digest[..room.min(digest.len())])
}

/// The writer's `advance_clock` to `at` (`YYYY-MM-DDTHH:MM:SSZ`).
pub fn clock(at: &str) -> String {
    server_id("clock", at)
}

/// The scheduler's `settle_dividends` of `day` (`YYYY-MM-DD`).
pub fn settle(day: &str) -> String {
    server_id("settle", day)
}

/// The scheduler's `confirm_order` of `order`.
pub fn confirm(order: &str) -> String {
    server_id("confirm", order)
}

/// A shop connector's command for `what` (`paid`, `completed`, `refund:<id>`) of a platform
/// order: fixed by the three, so a platform's re-sends are retries, never double points.
pub fn shop(connector: &str, order: &str, what: &str) -> String {
    server_id("shop", &format!("{connector}:{order}:{what}"))
}

/// A new economy's `set_risk_rules` (SPEC §17), its first command.
pub fn initial_risk() -> String {
    server_id("risk", "initial")
}

/// A reviewer's `review_order` of `order`, its `n`-th decision (SPEC §17): a repeat of the
/// same decision is a retry, and a different one at the same moment is `id_conflict`.
pub fn review(order: &str, n: usize) -> String {
    server_id("review", &format!("{order}:{n}"))
}

/// The `register_consumer` a connector issues for an account on first sight (shared by every
/// connector, so the same buyer through two shops is one registration).
pub fn account(account: &str) -> String {
    server_id("account", account)
}

/// The `record_payout` of a payout whose transfer reference is `reference`: fixed by it, so
/// recording the same payout twice is a retry, and another payout under the same reference an
/// `id_conflict`.
pub fn payout(reference: &str) -> String {
    server_id("payout", reference)
}

/// The jifen order name of a connector's platform order: `<connector>:<order>` when that is a
/// valid name, otherwise `<connector>:` and a digest of the platform's id.
pub fn shop_order(connector: &str, order: &str) -> String {
    let name = format!("{connector}:{order}");
    if jifen_core::is_valid_name(&name) {
        return name;
    }
    let digest = hex::encode(Sha256::digest(order.as_bytes()));
    let room = jifen_core::NAME_BYTES_MAX.saturating_sub(connector.len() + 1);
    format!("{connector}:{}", &digest[..room.min(digest.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_ids_are_valid_reserved_and_fixed_by_what_they_do() {
        let long = "o".repeat(64);
        for id in [
            clock("2026-12-04T16:00:00Z"),
            settle("2026-12-03"),
            confirm("o1"),
            confirm(&long),
            shop("shopify-1", &long, "refund:929361462"),
            account("c-0123"),
        ] {
            assert!(jifen_core::is_valid_name(&id), "{id}");
            assert!(is_reserved(&id), "{id}");
        }
        assert_eq!(settle("2026-12-03"), "jifen:settle:2026-12-03");
        assert_eq!(shop("yz", "E1", "paid"), "jifen:shop:yz:E1:paid");
        assert_eq!(shop_order("yz", "E1"), "yz:E1");
        let odd = shop_order("yz", "订单 1");
        assert!(
            jifen_core::is_valid_name(&odd) && odd.starts_with("yz:"),
            "{odd}"
        );
        assert_ne!(odd, shop_order("yz", "订单 2"));
        assert_eq!(confirm(&long), confirm(&long));
        assert_ne!(confirm(&long), confirm(&"p".repeat(64)));
        for id in [
            "auto-settle:2026-01-01",
            "auto-confirm:o",
            "clock:x",
            "jifen:",
        ] {
            assert!(is_reserved(id), "{id}");
        }
        for id in ["order-1", "jifen", "my-jifen:x", "autosettle", "Jifen:x"] {
            assert!(!is_reserved(id), "{id}");
        }
    }
}
