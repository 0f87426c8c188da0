//! `jifen proof verify`: checks, offline, what the server's transparency endpoints returned. It
//! trusts only the public key it is given: a tree head must carry that key's signature, an
//! inclusion proof must lead from the entry's leaf to that head's root, and a consistency proof
//! must show the older head's tree is a prefix of the newer one's.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args as ClapArgs, Subcommand};
use jifen_journal::ed25519_dalek::VerifyingKey;
use jifen_journal::heads::{public_key_from_hex, TreeHead};
use jifen_journal::merkle::{
    from_hex, leaf_hash, parse_leaf, verify_consistency, verify_inclusion,
};
use serde_json::Value;

use crate::usage;

#[derive(Subcommand)]
pub enum ProofCmd {
    /// Verify a signed tree head, and an inclusion or consistency proof against it.
    Verify(VerifyArgs),
}

#[derive(ClapArgs)]
pub struct VerifyArgs {
    /// The public key: 64 hex digits, or a file holding them or `GET /v1/tree-key`'s answer.
    #[arg(long)]
    public_key: String,
    /// A signed tree head (`GET …/tree-heads/latest`).
    #[arg(long)]
    head: PathBuf,
    /// An inclusion proof (`GET …/proofs/inclusion?seq=N&tree_size=<the head's size>`).
    #[arg(long)]
    inclusion: Option<PathBuf>,
    /// A consistency proof (`GET …/proofs/consistency?from=<old size>&to=<the head's size>`).
    #[arg(long, requires = "old_head")]
    consistency: Option<PathBuf>,
    /// The older signed head that the consistency proof starts from.
    #[arg(long)]
    old_head: Option<PathBuf>,
}

pub fn run(cmd: ProofCmd) -> anyhow::Result<()> {
    match cmd {
        ProofCmd::Verify(args) => verify(args),
    }
}

fn read_json(path: &PathBuf) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| usage(format!("{} is not JSON: {e}", path.display())))
}

fn public_key(arg: &str) -> anyhow::Result<VerifyingKey> {
    let text = match std::fs::read_to_string(arg) {
        Ok(t) => t,
        Err(_) => arg.to_string(),
    };
    let hex = match serde_json::from_str::<Value>(&text) {
        Ok(v) => v["public_key"].as_str().map(str::to_string).unwrap_or(text),
        Err(_) => text,
    };
    public_key_from_hex(&hex).map_err(|e| usage(format!("--public-key: {e}")))
}

fn head(path: &PathBuf, key: &VerifyingKey) -> anyhow::Result<TreeHead> {
    let head = TreeHead::from_json(&read_json(path)?)
        .map_err(|e| usage(format!("{}: {e}", path.display())))?;
    if !head.verify(key) {
        bail!(
            "{}: the signature does not verify with this public key: the head is forged or altered",
            path.display()
        );
    }
    println!(
        "ok: tree head of {} entries of economy {} is signed by the key",
        head.tree_size, head.economy
    );
    Ok(head)
}

fn hashes(v: &Value, what: &str) -> anyhow::Result<Vec<[u8; 32]>> {
    v.as_array()
        .with_context(|| format!("{what} is not a list"))?
        .iter()
        .map(|h| {
            h.as_str()
                .and_then(from_hex)
                .with_context(|| format!("{what}: not a hash"))
        })
        .collect()
}

fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let key = public_key(&args.public_key)?;
    let new = head(&args.head, &key)?;
    if let Some(path) = &args.inclusion {
        let p = read_json(path)?;
        let leaf = p["leaf"]
            .as_str()
            .and_then(|s| hex::decode(s).ok())
            .with_context(|| format!("{}: no leaf", path.display()))?;
        let (seq, ts_ms, command, outcome) = parse_leaf(&leaf)
            .with_context(|| format!("{}: the leaf is malformed", path.display()))?;
        if p["tree_size"].as_u64() != Some(new.tree_size) {
            bail!(
                "the proof is for tree size {}, the head for {}",
                p["tree_size"],
                new.tree_size
            );
        }
        let proof = hashes(&p["proof"], "proof")?;
        if !verify_inclusion(seq - 1, new.tree_size, &leaf_hash(&leaf), &proof, &new.root) {
            bail!("entry {seq} is NOT included in the signed tree of {} entries: the proof or the entry was altered", new.tree_size);
        }
        println!(
            "ok: entry {seq} (time {ts_ms} ms, outcome {outcome}) is included in the signed tree of {} entries: {command}",
            new.tree_size
        );
    }
    if let (Some(path), Some(old_path)) = (&args.consistency, &args.old_head) {
        let old = head(old_path, &key)?;
        let p = read_json(path)?;
        if p["from"].as_u64() != Some(old.tree_size) || p["to"].as_u64() != Some(new.tree_size) {
            bail!(
                "the proof is from {} to {}, the heads are {} and {}",
                p["from"],
                p["to"],
                old.tree_size,
                new.tree_size
            );
        }
        let proof = hashes(&p["proof"], "proof")?;
        if old.economy != new.economy
            || !verify_consistency(old.tree_size, new.tree_size, &proof, &old.root, &new.root)
        {
            bail!(
                "the signed tree of {} entries is NOT a prefix of the signed tree of {}: history was rewritten",
                old.tree_size,
                new.tree_size
            );
        }
        println!(
            "ok: the signed tree of {} entries is a prefix of the signed tree of {} (nothing before was changed)",
            old.tree_size, new.tree_size
        );
    }
    Ok(())
}
