//! What a key may submit, decided on the parsed commands (never by reading their JSON again):
//!
//! - an auditor key submits nothing;
//! - a merchant key only `sell` and `redeem_stable` on its own account;
//! - an exchange key only `return_collectible`, and only of collectibles exported to its venue
//!   at the moment the batch applies: a [`Guard`] the writer runs on the state the batch
//!   applies to, refusing the whole batch (403, nothing journaled) otherwise;
//! - nobody writes an id in the server's own namespace (see `jifen_journal::ids`).

use axum::http::StatusCode;
use jifen_core::{CollectibleState, Command};
use jifen_journal::Guard;
use jifen_wire::Parsed;

use crate::error::{ApiError, ApiResult};
use crate::keys::{Principal, Role};

/// 403 unless the caller may submit every command of `parsed`; for an exchange key, the guard
/// its batch must carry.
pub fn authorize(p: &Principal, parsed: &[Parsed]) -> ApiResult<Option<Guard>> {
    let own = p.account.clone().unwrap_or_default();
    match p.role {
        Role::Admin | Role::Operator => {
            // SPEC §17: a decision on a hold is journaled with the key that made it.
            let other = parsed.iter().position(|c| {
                matches!(&c.command, Ok(Command::ReviewOrder { reviewer, .. }) if *reviewer != p.key_id)
            });
            match other {
                Some(bad) => Err(ApiError::forbidden(format!(
                    "command {bad}: a review_order's reviewer must be the key that sends it ({})",
                    p.key_id
                ))),
                None => Ok(None),
            }
        }
        Role::Auditor => Err(ApiError::forbidden("an auditor key is read-only")),
        Role::Merchant => {
            let allowed = |c: &Parsed| match &c.command {
                Ok(Command::Sell { account, .. } | Command::RedeemStable { account, .. }) => {
                    *account == own
                }
                _ => false,
            };
            match parsed.iter().position(|c| !allowed(c)) {
                Some(bad) => Err(ApiError::forbidden(format!(
                    "command {bad}: a merchant key may only sell or redeem_stable on account {own:?}"
                ))),
                None => Ok(None),
            }
        }
        Role::Exchange => {
            let returns = |c: &Parsed| matches!(c.command, Ok(Command::ReturnCollectible { .. }));
            match parsed.iter().position(|c| !returns(c)) {
                Some(bad) => Err(ApiError::forbidden(format!(
                    "command {bad}: an exchange key may only return_collectible"
                ))),
                None => Ok(Some(exported_to(own))),
            }
        }
    }
}

/// The guard of an exchange key's batch: every collectible it returns is exported to `venue`
/// in the state the batch applies to.
fn exported_to(venue: String) -> Guard {
    Box::new(move |ledger, parsed| {
        let e = ledger.economy();
        let exported_here = |name: &str| {
            e.collectibles().find(name).is_some_and(|c| {
                c.state == CollectibleState::Exported && c.venue.as_deref() == Some(venue.as_str())
            })
        };
        for (i, c) in parsed.iter().enumerate() {
            if let Ok(Command::ReturnCollectible { collectible, .. }) = &c.command {
                if !exported_here(collectible) {
                    return Err(format!(
                        "command {i}: that collectible is not exported to venue {venue:?}"
                    ));
                }
            }
        }
        Ok(())
    })
}

/// 422 `reserved_id` when a client's command takes an id of the server's own namespace:
/// nothing of the request is journaled.
pub fn refuse_reserved_ids(parsed: &[Parsed]) -> ApiResult<()> {
    let reserved = parsed.iter().enumerate().find_map(|(i, p)| {
        p.id.as_deref()
            .filter(|id| jifen_journal::ids::is_reserved(id))
            .map(|id| (i, id))
    });
    match reserved {
        Some((i, id)) => Err(reserved_id(&format!("command {i}: id {id:?}"))),
        None => Ok(()),
    }
}

pub fn reserved_id(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "reserved_id",
        format!(
            "{what} is in the namespace the server keeps for the commands it issues itself (ids beginning jifen:, or auto-settle:, auto-confirm: or clock: from earlier versions); choose another id"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, account: Option<&str>) -> Principal {
        Principal {
            key_id: "k".into(),
            role,
            economy: Some("e".into()),
            account: account.map(str::to_string),
        }
    }

    fn refused(p: &Principal, parsed: &[Parsed]) -> ApiError {
        match authorize(p, parsed) {
            Err(e) => e,
            Ok(_) => panic!("authorized"),
        }
    }

    fn parsed(lines: &[&str]) -> Vec<Parsed> {
        lines
            .iter()
            .map(|l| jifen_wire::parse_command_line(l))
            .collect()
    }

    #[test]
    fn a_merchant_sells_and_redeems_on_its_own_account_only() {
        let m = principal(Role::Merchant, Some("shop"));
        let ok = parsed(&[
            r#"{"type":"sell","id":"a","account":"shop","atoms":5}"#,
            r#"{"type":"redeem_stable","id":"b","account":"shop","fen":"not a number"}"#,
        ]);
        assert!(authorize(&m, &ok).unwrap().is_none());
        for bad in [
            r#"{"type":"sell","id":"a","account":"other","atoms":5}"#,
            r#"{"type":"pay_order","id":"a","order":"o","consumer":"c","merchant":"shop","cash_fen":1,"stable_fen":0}"#,
            r#"{"type":"sell","id":"a","atoms":5}"#,
        ] {
            let e = refused(&m, &parsed(&[bad]));
            assert_eq!((e.status.as_u16(), e.code), (403, "forbidden"), "{bad}");
        }
    }

    #[test]
    fn an_exchange_key_returns_only_and_carries_its_guard() {
        let x = principal(Role::Exchange, Some("venue-a"));
        let ret =
            parsed(&[r#"{"type":"return_collectible","id":"r","collectible":"c1","to":"alice"}"#]);
        let guard = authorize(&x, &ret).unwrap().expect("a guard");
        // No such collectible in an empty economy: refused.
        let ledger = jifen_core::Ledger::new(jifen_core::Rules::default());
        let why = guard(&ledger, &ret).unwrap_err();
        assert!(why.contains("not exported to venue \"venue-a\""), "{why}");
        let sell = parsed(&[r#"{"type":"sell","id":"a","account":"x","atoms":5}"#]);
        assert_eq!(refused(&x, &sell).status.as_u16(), 403);
        let auditor = principal(Role::Auditor, None);
        assert_eq!(
            refused(&auditor, &ret).message,
            "an auditor key is read-only"
        );
        assert!(authorize(&principal(Role::Operator, None), &sell)
            .unwrap()
            .is_none());
    }

    #[test]
    fn ids_in_the_servers_namespace_are_refused() {
        let p = parsed(&[
            r#"{"type":"settle_dividends","id":"mine","day":"2026-01-01"}"#,
            r#"{"type":"settle_dividends","id":"jifen:settle:2026-01-01","day":"2026-01-01"}"#,
        ]);
        let e = refuse_reserved_ids(&p).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (422, "reserved_id"));
        assert!(
            e.message
                .starts_with("command 1: id \"jifen:settle:2026-01-01\""),
            "{}",
            e.message
        );
        refuse_reserved_ids(&p[..1]).unwrap();
    }
}
