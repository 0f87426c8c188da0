//! `jifen serve` end to end: the real binary on port 0, over real HTTP, against SQLite and the
//! PostgreSQL cluster `scripts/test` starts. One module per area.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;
#[path = "../../../journal/tests/support/mod.rs"]
mod support;
#[path = "../web/mod.rs"]
mod web;

mod backup;
mod bad_input;
mod connections_page;
mod connectors;
mod console;
mod consumer_journey;
mod finance;
mod finance_page;
mod first_start;
mod golden;
mod load;
mod member_import;
mod members;
mod messages;
mod move_backends;
mod openapi;
mod operator_journey;
mod point_in_time;
mod reads;
mod risk;
mod roles;
mod scheduler;
mod session;
mod statements;
mod terms;
mod transparency;
mod wallet;
mod webhooks;
mod webhooks_docs;
mod webhooks_page;
mod wechat;
