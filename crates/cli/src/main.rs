//! `jifen`: the command-line entry point. Glue only: argument parsing and wiring.

mod admin_key;
mod backup;
mod bench;
mod bench_deliveries;
mod bench_finance;
mod bench_http;
mod bench_journal;
mod bench_webhooks;
mod cluster;
mod demo;
mod load;
mod proof;
mod replay;
mod serve;
mod simulate;
mod store_cmds;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc rather than the system allocator: the server allocates and frees small buffers on
/// every request from several threads, where glibc's malloc measured at 12 % of its CPU time.
/// Built without transparent huge pages (the `no_thp` feature): with them, each 2 MiB region
/// the engine's state touches at all is resident whole, and a million holders took 259 to 269
/// bytes each against 231 to 238 without (BENCHMARKS.md, "Memory per account").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "jifen",
    version,
    about = "A consumption-appreciation points engine with exact, auditable books"
)]
struct Cli {
    #[command(flatten)]
    store: store_cmds::StoreArgs,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the HTTP API (the main job): 127.0.0.1:8080, SQLite in ./jifen-data by default.
    Serve(Box<serve::Args>),
    /// Apply a command file to a fresh in-memory economy and print its state (SPEC §11).
    Replay(replay::Args),
    /// Show the brief's worked example: 100 buyers of a 100-yuan bottle of wine.
    Demo(demo::Args),
    /// Measure the engine.
    Bench {
        #[command(subcommand)]
        what: bench::What,
    },
    /// Create or list economies in the durable store.
    Economy {
        #[command(subcommand)]
        cmd: store_cmds::EconomyCmd,
    },
    /// Load a JSONL command file into an economy through the durable writer.
    Import(store_cmds::ImportArgs),
    /// Write an economy's journal as a replay-format command file.
    Export(store_cmds::ExportArgs),
    /// Run a synthetic economy through the engine and write an honest report.
    Simulate(simulate::Args),
    /// Re-derive every economy from its journal and check everything.
    Verify(store_cmds::VerifyArgs),
    /// A consistent, verified copy of the SQLite store, while a server runs or not
    Backup(backup::BackupArgs),
    /// Restore a backup into an empty data directory
    Restore(backup::RestoreArgs),
    /// Check signed tree heads and Merkle proofs offline.
    Proof {
        #[command(subcommand)]
        cmd: proof::ProofCmd,
    },
    /// Several nodes on PostgreSQL: nodes, leases and epochs.
    Cluster {
        #[command(subcommand)]
        cmd: cluster::ClusterCmd,
    },
    /// Admin keys: revoke every one and make a new one.
    AdminKey {
        #[command(subcommand)]
        cmd: admin_key::AdminKeyCmd,
    },
    /// (Testing) concurrent writers printing each acknowledged command.
    #[command(hide = true)]
    Load(load::Args),
}

/// Errors the user can fix (a missing file, invalid rules) exit with status 2.
pub(crate) struct UsageError(pub String);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Serve(args) => serve::run(&cli.store, *args),
        Cmd::Replay(args) => replay::run(args),
        Cmd::Demo(args) => demo::run(args),
        Cmd::Bench { what } => bench::run(&cli.store, what),
        Cmd::Economy { cmd } => store_cmds::economy(&cli.store, cmd),
        Cmd::Import(args) => store_cmds::import(&cli.store, args),
        Cmd::Export(args) => store_cmds::export_cmd(&cli.store, args),
        Cmd::Verify(args) => store_cmds::verify(&cli.store, args),
        Cmd::Backup(args) => backup::backup(&cli.store, args),
        Cmd::Restore(args) => backup::restore(&cli.store, args),
        Cmd::Proof { cmd } => proof::run(cmd),
        Cmd::Simulate(args) => simulate::run(args),
        Cmd::Load(args) => load::run(&cli.store, args),
        Cmd::AdminKey { cmd } => admin_key::run(&cli.store, cmd),
        Cmd::Cluster { cmd } => cluster::run(&cli.store, cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(UsageError(msg)) = e.downcast_ref::<UsageError>() {
                eprintln!("jifen: {msg}");
                return ExitCode::from(2);
            }
            eprintln!("jifen: {e:#}");
            ExitCode::FAILURE
        }
    }
}

impl std::fmt::Debug for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

pub(crate) fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

pub(crate) fn read_rules(path: &PathBuf) -> anyhow::Result<jifen_core::Rules> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read rules file {}: {e}", path.display())))?;
    jifen_wire::rules_from_toml(&text)
        .map_err(|e| usage(format!("invalid rules in {}: {e}", path.display())))
}
