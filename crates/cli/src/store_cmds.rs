//! Commands on the durable store: economies, import, export, verify.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use jifen_core::Rules;
use jifen_journal::{
    create_economy, export, open_store, verify_economy, Journal, JournalConfig, Store, Submitted,
    BATCH_COMMANDS_MAX, DEFAULT_TIMEZONE,
};

use jifen_journal::datadir::WriterLock;

use crate::{read_rules, usage};

/// Where the journal lives: SQLite under `--data`, or PostgreSQL with `--database`.
#[derive(clap::Args, Clone, Debug)]
pub struct StoreArgs {
    /// Data directory of the embedded SQLite store.
    #[arg(long, global = true, env = "JIFEN_DATA", default_value = "jifen-data")]
    pub data: PathBuf,
    /// A postgres:// URL: use PostgreSQL instead of the embedded SQLite store.
    #[arg(long, global = true, env = "JIFEN_DATABASE_URL")]
    pub database: Option<String>,
}

impl StoreArgs {
    pub fn open(&self) -> anyhow::Result<Box<dyn Store>> {
        open_store(&self.data, self.database.as_deref())
            .map_err(|e| usage(format!("cannot open the store: {e}")))
    }

    /// Takes the store for writing, for as long as the answer is kept: refused, naming the
    /// holder, while a server or another writer uses it.
    pub fn lock_for_writing(&self, holder: &str) -> anyhow::Result<WriterLock> {
        WriterLock::acquire(&self.data, self.database.as_deref(), holder, false)
            .map_err(|e| usage(format!("cannot write to the store: {e}")))
    }
}

pub fn progress_bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

#[derive(clap::Subcommand)]
pub enum EconomyCmd {
    /// Create an economy (tenant) with its rules and time zone.
    Create(CreateArgs),
    /// List the economies in the store.
    List,
}

#[derive(clap::Args)]
pub struct CreateArgs {
    #[arg(long)]
    pub id: String,
    /// Display name.
    #[arg(long)]
    pub name: Option<String>,
    /// Rules file (TOML, SPEC §3); the defaults when absent.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    #[arg(long, default_value = DEFAULT_TIMEZONE)]
    pub timezone: String,
}

pub fn economy(store: &StoreArgs, cmd: EconomyCmd) -> anyhow::Result<()> {
    match cmd {
        EconomyCmd::Create(args) => {
            let _lock = store.lock_for_writing("jifen economy create")?;
            create(store.open()?.as_mut(), &args)
        }
        EconomyCmd::List => {
            let mut s = store.open()?;
            for m in s.economies()? {
                let head = s.head(&m.id)?.map_or(0, |e| e.seq);
                println!(
                    "{}\t{}\t{}\t{} entries\tcreated {}",
                    m.id, m.name, m.timezone, head, m.created_at
                );
            }
            Ok(())
        }
    }
}

fn create(store: &mut dyn Store, args: &CreateArgs) -> anyhow::Result<()> {
    let rules = match &args.rules {
        Some(p) => read_rules(p)?,
        None => Rules::default(),
    };
    let name = args.name.clone().unwrap_or_else(|| args.id.clone());
    let now = jifen_journal::time::now_ms();
    create_economy(store, &args.id, &name, &rules, &args.timezone, now)
        .map_err(|e| usage(format!("cannot create economy {}: {e}", args.id)))?;
    eprintln!(
        "created economy {} ({name}), time zone {}",
        args.id, args.timezone
    );
    Ok(())
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// The economy to load into. It must exist, unless --create is given.
    #[arg(long)]
    economy: String,
    /// Create the economy first when it does not exist (a typo in --economy would otherwise
    /// make a new tenant with default rules).
    #[arg(long)]
    create: bool,
    /// Rules for a new economy (with --create).
    #[arg(long)]
    rules: Option<PathBuf>,
    #[arg(long, default_value = DEFAULT_TIMEZONE)]
    timezone: String,
    /// Commands per journal transaction.
    #[arg(long, default_value_t = 1024)]
    batch: usize,
    /// Take a snapshot after this many new entries (and one at the end).
    #[arg(long, default_value_t = 1_000_000)]
    snapshot_every: u64,
    /// The command file (JSONL, SPEC §5).
    file: PathBuf,
}

/// Batches kept in flight, so the writer always has the next one queued.
const IMPORT_BATCHES_IN_FLIGHT: usize = 4;

pub fn import(store: &StoreArgs, args: ImportArgs) -> anyhow::Result<()> {
    if args.batch == 0 || args.batch > BATCH_COMMANDS_MAX {
        return Err(usage(format!("--batch must be 1..={BATCH_COMMANDS_MAX}")));
    }
    let file = std::fs::File::open(&args.file)
        .map_err(|e| usage(format!("cannot read {}: {e}", args.file.display())))?;
    let size = file.metadata()?.len();
    let _lock = store.lock_for_writing("jifen import")?;
    let mut s = store.open()?;
    ensure_economy(s.as_mut(), &args)?;
    let config = JournalConfig {
        snapshot_every_entries: args.snapshot_every.max(1),
        ..JournalConfig::default()
    };
    let journal = open_journal(s, &args.economy, config)?;
    let bar = progress_bar(size, "importing");
    let (lines, rejected) = feed(&journal, file, args.batch, &bar)?;
    bar.finish_and_clear();
    let head = journal.read(|v| v.head_seq)?;
    journal.shutdown()?;
    eprintln!(
        "imported {lines} commands into {} ({rejected} rejected); journal head is seq {head}",
        args.economy
    );
    Ok(())
}

/// The import's economy: it must exist, or be made with `--create`; an existing one's rules
/// change only through `set_rules`.
fn ensure_economy(s: &mut dyn Store, args: &ImportArgs) -> anyhow::Result<()> {
    if s.economy(&args.economy)?.is_some() {
        if args.rules.is_some() {
            return Err(usage(format!(
                "economy {} exists; its rules change only through set_rules commands",
                args.economy
            )));
        }
        return Ok(());
    }
    if !args.create {
        return Err(usage(format!(
            "economy {} does not exist: check the name, or pass --create to make it (with --rules and --timezone)",
            args.economy
        )));
    }
    create(
        s,
        &CreateArgs {
            id: args.economy.clone(),
            name: None,
            rules: args.rules.clone(),
            timezone: args.timezone.clone(),
        },
    )
}

/// Submits the file's lines in batches of `batch`, a few in flight so the writer always has
/// the next one queued. Returns the lines read and the commands rejected.
fn feed(
    journal: &Journal,
    file: std::fs::File,
    batch_len: usize,
    bar: &ProgressBar,
) -> anyhow::Result<(u64, u64)> {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let mut in_flight = 0usize;
    let (mut lines, mut rejected) = (0u64, 0u64);
    let mut batch = Vec::with_capacity(batch_len);
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut buf = String::new();
    let wait_one = |in_flight: &mut usize, rejected: &mut u64| -> anyhow::Result<()> {
        let acks: Result<Vec<jifen_journal::Acked>, _> = done_rx.recv()?;
        *rejected += acks?
            .iter()
            .filter(|a| a.outcome.result.is_err() && !a.outcome.retry)
            .count() as u64;
        *in_flight -= 1;
        Ok(())
    };
    loop {
        buf.clear();
        let read = reader.read_line(&mut buf)?;
        if read > 0 && !buf.trim().is_empty() {
            batch.push(Submitted::Line(
                buf.trim_end_matches(['\n', '\r']).to_string(),
            ));
            lines += 1;
        }
        bar.inc(read as u64);
        if batch.len() == batch_len || (read == 0 && !batch.is_empty()) {
            if in_flight == IMPORT_BATCHES_IN_FLIGHT {
                wait_one(&mut in_flight, &mut rejected)?;
            }
            let tx = done_tx.clone();
            journal.submit(
                std::mem::take(&mut batch),
                Box::new(move |r| {
                    let _ = tx.send(r);
                }),
            );
            in_flight += 1;
        }
        if read == 0 {
            break;
        }
    }
    while in_flight > 0 {
        wait_one(&mut in_flight, &mut rejected)?;
    }
    Ok((lines, rejected))
}

/// Opens an economy's journal, reporting what start-up found.
pub fn open_journal(
    store: Box<dyn Store>,
    economy: &str,
    config: JournalConfig,
) -> anyhow::Result<Journal> {
    let (journal, info) = Journal::open(store, economy, config)?;
    for skipped in &info.skipped_snapshots {
        eprintln!("jifen: economy {economy}: WARNING: {skipped}; started from an older state and replayed the journal");
    }
    Ok(journal)
}

#[derive(clap::Args)]
pub struct ExportArgs {
    #[arg(long)]
    economy: String,
    /// Write the commands here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also write the economy's initial rules (TOML) here, for `jifen replay --rules`.
    #[arg(long)]
    rules_out: Option<PathBuf>,
}

pub fn export_cmd(store: &StoreArgs, args: ExportArgs) -> anyhow::Result<()> {
    let mut s = store.open()?;
    let meta = s
        .economy(&args.economy)?
        .ok_or_else(|| usage(format!("economy {} does not exist", args.economy)))?;
    if let Some(p) = &args.rules_out {
        std::fs::write(p, &meta.rules_toml)?;
    }
    let total = s.head(&args.economy)?.map_or(0, |e| e.seq);
    let bar = progress_bar(total, "exporting");
    let mut out: Box<dyn Write> = match &args.out {
        Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let n = export(s.as_mut(), &args.economy, &mut out, &mut |done, _| {
        bar.set_position(done)
    })?;
    out.flush()?;
    bar.finish_and_clear();
    eprintln!("exported {n} commands of {}", args.economy);
    Ok(())
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Only this economy (all of them by default).
    #[arg(long)]
    economy: Option<String>,
    /// Once it verifies, write the economy's state as the journal re-derives it (SPEC §11, as
    /// `jifen replay` prints it) to this file; needs `--economy`.
    #[arg(long, requires = "economy")]
    state_out: Option<PathBuf>,
}

pub fn verify(store: &StoreArgs, args: VerifyArgs) -> anyhow::Result<()> {
    let mut s = store.open()?;
    let ids: Vec<String> = match args.economy {
        Some(id) => vec![id],
        None => s.economies()?.into_iter().map(|m| m.id).collect(),
    };
    let mut failed = 0;
    // The store's own check first: damage to its pages or indexes is not in any one economy.
    let integrity = s
        .integrity_check(true)
        .map_err(|e| usage(format!("cannot check the store: {e}")))?;
    if !integrity.checked {
        println!("note    store: {}", integrity.method);
    } else if integrity.ok() {
        println!("ok      store: {} found no damage", integrity.method);
    } else {
        failed += 1;
        println!("FAILED  store: {} found damage:", integrity.method);
        for p in &integrity.problems {
            println!("        {p}");
        }
    }
    for id in &ids {
        let total = s.head(id)?.map_or(0, |e| e.seq);
        let bar = progress_bar(total, &format!("verifying {id}"));
        let report = verify_economy(s.as_mut(), id, &mut |done, _| bar.set_position(done))
            .map_err(|e| usage(format!("cannot verify {id}: {e}")))?;
        bar.finish_and_clear();
        if report.ok() {
            println!(
                "ok      {id}: {} entries ({} applied, {} rejected), hash chain intact, every outcome recomputed, invariants hold, {} snapshot(s) match, {} signed tree head(s) match; head {}",
                report.entries,
                report.applied,
                report.rejected,
                report.snapshots_checked,
                report.tree_heads_checked,
                report.head_hash.map(hex::encode).unwrap_or_default()
            );
        } else {
            failed += 1;
            println!("FAILED  {id}:");
            for p in &report.problems {
                println!("        {p}");
            }
        }
    }
    if failed > 0 {
        anyhow::bail!(
            "{failed} of {} checks failed (the store's own, and one per economy)",
            ids.len() + 1
        );
    }
    if let (Some(path), [id]) = (&args.state_out, &ids[..]) {
        let head = s.head(id)?.map_or(0, |e| e.seq);
        let ledger = jifen_journal::ledger_at(s.as_mut(), id, head, &|| true)?;
        let state = jifen_wire::state_json(&ledger, jifen_wire::StateVersion::V2);
        std::fs::write(path, state)
            .map_err(|e| usage(format!("cannot write {}: {e}", path.display())))?;
        println!("state   {id}: at seq {head}, written to {}", path.display());
    }
    Ok(())
}
