//! `jifen demo` tells the brief's worked example with the brief's numbers.

mod common;

use common::{jifen, run};

#[test]
fn demo_shows_the_briefs_numbers() {
    let (out, described) = run(jifen().arg("demo"));
    assert!(out.status.success(), "{described}");
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "1.4286",
        "1.6807",
        "1.8674",
        "2.0188",
        "5.1731",
        "14.7",
        "12.495",
        "108.63 yuan",
        "not a promise",
    ] {
        assert!(text.contains(want), "missing {want:?}:\n{described}");
    }
    for banned in ["share", "stock", "equity"] {
        assert!(
            !text.to_lowercase().contains(banned),
            "the demo says {banned:?}:\n{text}"
        );
    }
}
