//! SPEC §5: the same id with a different command is `id_conflict`, the same command again is a
//! retry. Numbers are compared by their exact digits, so two commands whose amounts differ only
//! beyond what an `f64` holds (10^30 and 10^30 + 1) are different commands (issue 18).

use jifen_core::{Code, Ledger, Rules};
use jifen_wire::{parse_command_canonical_into, parse_command_line};
use proptest::prelude::*;

/// The outcome of `second` after `first`, both under id `x`, on a fresh ledger.
fn second_outcome(first: &str, second: &str) -> (Result<(), Code>, bool) {
    let mut ledger = Ledger::new(Rules::default());
    for (i, line) in [first, second].into_iter().enumerate() {
        // Journaled as its canonical text and replayed from it: the same fingerprint.
        let mut canonical = String::new();
        let live = parse_command_canonical_into(line, &mut canonical).expect("JSON");
        assert_eq!(parse_command_line(&canonical).fingerprint, live.fingerprint);
        assert_eq!(parse_command_line(line).fingerprint, live.fingerprint);
        let o = ledger.submit(
            live.id.as_deref(),
            live.fingerprint,
            live.command.as_ref().map_err(|c| *c),
        );
        if i == 1 {
            return (o.result, o.retry);
        }
    }
    unreachable!()
}

fn pay(cash: &str) -> String {
    format!(
        r#"{{"type":"pay_order","id":"x","order":"o","consumer":"c","merchant":"m","cash_fen":{cash},"stable_fen":0}}"#
    )
}

/// A decimal integer of `len` digits with no leading zero.
fn digits(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    (len, any::<u64>()).prop_flat_map(|(n, _)| {
        ("[1-9]", proptest::collection::vec("[0-9]", n - 1))
            .prop_map(|(head, tail)| format!("{head}{}", tail.concat()))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn near_equal_big_numbers_are_different_commands(a in digits(17..60), at in 0usize..60, bump in 1u8..10) {
        // b differs from a in one digit.
        let at = at % a.len();
        let mut b: Vec<u8> = a.clone().into_bytes();
        let d = b[at] - b'0';
        let new = if at == 0 { 1 + (d + bump - 1) % 9 } else { (d + bump) % 10 };
        prop_assume!(new != d);
        b[at] = b'0' + new;
        let b = String::from_utf8(b).unwrap();
        prop_assert_eq!(second_outcome(&pay(&a), &pay(&b)), (Err(Code::IdConflict), false));
        // The same command again, written with other spacing, is a retry of the first outcome.
        let spaced = pay(&a).replace(",", " , ");
        let (first, retry) = second_outcome(&pay(&a), &spaced);
        prop_assert!(retry);
        prop_assert_eq!(first, Err(Code::UnknownAccount));
    }

    #[test]
    fn numbers_one_apart_beyond_u64_are_different_commands(n in any::<u64>(), extra in 1u32..40) {
        // n followed by `extra` zeros, and that plus one.
        let a = format!("{n}{}", "0".repeat(extra as usize));
        let b = format!("{n}{}1", "0".repeat(extra as usize - 1));
        prop_assert_eq!(second_outcome(&pay(&a), &pay(&b)), (Err(Code::IdConflict), false));
    }
}

#[test]
fn the_issue_s_example() {
    let a = pay("1000000000000000000000000000000");
    let b = pay("1000000000000000000000000000001");
    assert_eq!(second_outcome(&a, &b), (Err(Code::IdConflict), false));
    assert!(second_outcome(&a, &a).1);
}
