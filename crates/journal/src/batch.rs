//! What callers hand the writer: commands as JSON values or lines ([`Submitted`]), or batches
//! parsed and canonicalised on the caller's thread ([`PreparedBatch`]); and what comes back.

use jifen_core::{Ledger, Outcome};
use jifen_wire::{canonical_json, parse_command_value, Parsed};
use serde_json::Value;

use crate::error::JournalError;
use crate::limits::REJECTED_LINE_EXCERPT_BYTES_MAX;
use crate::store::KvWrite;

/// A command as it arrived: a parsed JSON value, or a line of text that may not be JSON.
/// (Callers that parse on their own threads send a [`PreparedBatch`] instead.)
#[derive(Clone, Debug)]
pub enum Submitted {
    Value(Value),
    Line(String),
}

impl Submitted {
    /// The parsed command and the canonical text the journal stores.
    pub(crate) fn prepare(self) -> (Parsed, String) {
        match self {
            Submitted::Value(value) => {
                let canonical = canonical_json(&value);
                (parse_command_value(value), canonical)
            }
            // Text keeps its numbers' exact digits (see `jifen_wire::parse_command_general`).
            Submitted::Line(line) => {
                let mut canonical = String::new();
                match jifen_wire::parse_command_canonical_into(&line, &mut canonical) {
                    Some(parsed) => (parsed, canonical),
                    None => rejected_line(&line),
                }
            }
        }
    }
}

/// A line that is not a JSON command (or is too long) is journaled as a JSON string holding
/// an excerpt of it: that replays as the same `invalid_command`, and the journal stays bounded.
fn rejected_line(line: &str) -> (Parsed, String) {
    let mut end = line.len().min(REJECTED_LINE_EXCERPT_BYTES_MAX);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    let excerpt = Value::String(format!(
        "not a command ({} bytes): {}",
        line.len(),
        &line[..end]
    ));
    (parse_command_value(Value::Null), canonical_json(&excerpt))
}

/// One command's answer: its `id` as given, and its outcome (with its journal seq).
#[derive(Clone, Debug, PartialEq)]
pub struct Acked {
    pub id_echo: Value,
    pub outcome: Outcome,
}

pub type Reply = Box<dyn FnOnce(Result<Vec<Acked>, JournalError>) + Send>;

/// Commands parsed and canonicalised by the caller, their canonical texts in one buffer, so
/// the writer only applies, hashes and commits them, and nothing in the batch is allocated or
/// freed on the writer's thread (the batch goes back to the caller with the outcomes).
#[derive(Default)]
pub struct PreparedBatch {
    pub(crate) parsed: Vec<Parsed>,
    text: String,
    ends: Vec<usize>,
    pub(crate) guard: Option<Guard>,
    pub(crate) kv: Vec<KvWrite>,
}

/// A check of a whole batch against the state it would apply to, run on the writer just before
/// the batch is applied: `Err` refuses the batch (nothing of it is journaled, and the caller
/// gets [`JournalError::Refused`] with the reason). For rights that depend on state, such as
/// an exchange key's right to return only what is exported to its venue.
pub type Guard = Box<dyn FnOnce(&Ledger, &[Parsed]) -> Result<(), String> + Send>;

impl PreparedBatch {
    pub fn with_capacity(commands: usize, text_bytes: usize) -> PreparedBatch {
        PreparedBatch {
            parsed: Vec::with_capacity(commands),
            text: String::with_capacity(text_bytes),
            ends: Vec::with_capacity(commands),
            guard: None,
            kv: Vec::new(),
        }
    }

    /// Settings to write in the same transaction as the batch's commands (only if the batch
    /// is applied and committed; a batch of these alone is committed too).
    pub fn write_kv(&mut self, writes: impl IntoIterator<Item = KvWrite>) {
        self.kv.extend(writes);
    }

    /// Sets the check the writer runs on the batch before applying it (see [`Guard`]).
    pub fn guard(&mut self, guard: Guard) {
        self.guard = Some(guard);
    }

    /// Adds one command given as JSON text. A text that is not JSON, or is too long, is
    /// journaled as a bounded excerpt and replays as the same `invalid_command`. Answers
    /// whether the text was JSON.
    pub fn push_text(&mut self, text: &str) -> bool {
        let (parsed, json) = match jifen_wire::parse_command_canonical_into(text, &mut self.text) {
            Some(parsed) => (parsed, true),
            None => {
                let (parsed, canonical) = rejected_line(text);
                self.text.push_str(&canonical);
                let json = text.len() > jifen_wire::LINE_BYTES_MAX
                    && serde_json::from_str::<&serde_json::value::RawValue>(text).is_ok();
                (parsed, json)
            }
        };
        self.parsed.push(parsed);
        self.ends.push(self.text.len());
        json
    }

    pub fn len(&self) -> usize {
        self.parsed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parsed.is_empty()
    }

    pub fn parsed(&self) -> &[Parsed] {
        &self.parsed
    }

    pub fn canonical(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }
}

/// The answer to a [`PreparedBatch`]: the batch back, and one outcome per command.
pub type BatchReply = Box<dyn FnOnce(PreparedBatch, Result<Vec<Outcome>, JournalError>) + Send>;
