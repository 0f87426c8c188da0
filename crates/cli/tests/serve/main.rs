//! `jifen serve` end to end: the real binary on port 0, over real HTTP, against SQLite and the
//! PostgreSQL cluster `scripts/test` starts. One module per area.

#[path = "../common/mod.rs"]
mod common;
#[path = "../../../journal/tests/support/mod.rs"]
mod support;
#[path = "../web/mod.rs"]
mod web;

/// Runs a test body on each backend: `on_both_backends! { name => body; }` makes the tests
/// `name::sqlite` and `name::postgres`, each calling `body(&backend)`.
macro_rules! on_both_backends {
    ($($name:ident => $body:path;)+) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    $body(&crate::support::Backend::sqlite());
                }

                #[test]
                fn postgres() {
                    $body(&crate::support::Backend::postgres());
                }
            }
        )+
    };
}

mod bad_input;
mod console;
mod first_start;
mod golden;
mod load;
mod messages;
mod openapi;
mod reads;
mod roles;
mod scheduler;
mod session;
mod transparency;
mod wallet;
