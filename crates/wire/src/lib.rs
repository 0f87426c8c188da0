//! `jifen-wire`: the JSON command format of SPEC §5, the TOML rules of SPEC §3 and the replay
//! output of SPEC §11. This is the edge that turns text into `jifen-core` values and back.

mod command;
mod exact;
mod fast;
mod json;
mod risk;
mod rules;
mod shape;
mod spec;
mod state;
mod write;

pub use command::{
    parse_command_canonical_into, parse_command_general, parse_command_line, parse_command_value,
    LINE_BYTES_MAX,
};
pub use json::{canonical_json, python_json, split_array};
pub use risk::{
    risk_from_json, risk_to_json, signal_hash_from_str, signals_from_json, signals_to_json,
    RISK_KEYS,
};
pub use rules::{
    prizes_from_json, rules_from_json, rules_from_toml, rules_to_json, rules_to_toml,
    tiers_from_json, tiers_to_json,
};
pub use shape::Parsed;
pub use spec::{command_spec, diagnose, CommandSpec, FieldKind, FieldSpec, COMMANDS};
pub use state::{effects_json, outcome_line, state_json, StateVersion};
pub use write::command_json;
