//! `jifen replay`: SPEC §11, with the stage-2 state of SPEC §13 (and on request the stage-3
//! state of SPEC §14).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use jifen_core::{Ledger, Rules};
use jifen_wire::{effects_json, outcome_line, parse_command_line, state_json, StateVersion};

use crate::{read_rules, usage};

#[derive(clap::Args)]
pub struct Args {
    /// Rules file (TOML, the keys of SPEC §3; missing keys take the defaults).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Write one outcome line per command line here.
    #[arg(long)]
    outcomes: Option<PathBuf>,
    /// Write one line per applied command here: points granted, price before and after, exits.
    #[arg(long)]
    events: Option<PathBuf>,
    /// Check every invariant of SPEC §10 after every command (slow: recounts every account).
    #[arg(long)]
    check: bool,
    /// Print the stage-1 state of SPEC §11 (without the clock, collectibles and locked atoms
    /// that SPEC §13 adds).
    #[arg(long, conflicts_with = "state_v3")]
    state_v1: bool,
    /// Print the stage-3 state of SPEC §14: the v2 state plus `settled_fen` and each account's
    /// `owed_fen`.
    #[arg(long)]
    state_v3: bool,
    /// The command file (JSONL).
    commands: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let rules = match &args.rules {
        Some(path) => read_rules(path)?,
        None => Rules::default(),
    };
    let input = File::open(&args.commands)
        .map_err(|e| usage(format!("cannot read {}: {e}", args.commands.display())))?;
    let mut outcomes = create(args.outcomes.as_ref())?;
    let mut events = create(args.events.as_ref())?;
    let size = input.metadata().map_or(0, |m| m.len());
    let ledger = replay(
        rules,
        size,
        BufReader::with_capacity(1 << 20, input),
        |ledger, n, parsed, outcome| {
            if let Some(out) = outcomes.as_mut() {
                writeln!(out, "{}", outcome_line(&parsed.id_echo(), &outcome))?;
            }
            if let (Some(out), Ok(()), false) = (events.as_mut(), outcome.result, outcome.retry) {
                let id = parsed.id.as_deref().unwrap_or("");
                let kind = parsed.command.as_ref().map(|c| c.type_name()).unwrap_or("");
                writeln!(out, "{}", effects_json(n, id, kind, ledger.economy()))?;
            }
            if args.check {
                ledger
                    .economy()
                    .check_full()
                    .map_err(|e| anyhow::anyhow!("line {n}: invariant broken: {e}"))?;
            }
            Ok(())
        },
    )
    .with_context(|| format!("replaying {}", args.commands.display()))?;
    for out in [outcomes, events].into_iter().flatten() {
        out.into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()
            .ok();
    }
    let mut stdout = std::io::stdout().lock();
    let version = match (args.state_v1, args.state_v3) {
        (true, _) => StateVersion::V1,
        (_, true) => StateVersion::V3,
        _ => StateVersion::V2,
    };
    stdout.write_all(state_json(&ledger, version).as_bytes())?;
    stdout.flush()?;
    Ok(())
}

fn create(path: Option<&PathBuf>) -> anyhow::Result<Option<BufWriter<File>>> {
    path.map(|p| {
        File::create(p)
            .map(|f| BufWriter::with_capacity(1 << 20, f))
            .map_err(|e| usage(format!("cannot write {}: {e}", p.display())))
    })
    .transpose()
}

/// Applies every non-blank line of `input` to a fresh ledger, calling `each` after each line
/// with its 1-based line number.
pub fn replay<R: BufRead>(
    rules: Rules,
    size_hint_bytes: u64,
    mut input: R,
    mut each: impl FnMut(&Ledger, u64, &jifen_wire::Parsed, jifen_core::Outcome) -> anyhow::Result<()>,
) -> anyhow::Result<Ledger> {
    let mut ledger = Ledger::new(rules);
    // About one id per 100 bytes of commands: room up front saves rehashing a large table.
    ledger.reserve_ids((size_hint_bytes / 100) as usize);
    let mut buf = Vec::with_capacity(4096);
    let mut line_no = 0u64;
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        // Invalid UTF-8 becomes U+FFFD, which no valid line contains: an `invalid_command`.
        let text = match std::str::from_utf8(&buf) {
            Ok(s) => std::borrow::Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(&buf),
        };
        let text = text.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue;
        }
        let parsed = parse_command_line(text);
        let outcome = ledger.submit(
            parsed.id.as_deref(),
            parsed.fingerprint,
            parsed.command.as_ref().map_err(|c| *c),
        );
        each(&ledger, line_no, &parsed, outcome)?;
    }
    Ok(ledger)
}
