//! `jifen cluster status`: the nodes sharing a PostgreSQL store, and who holds each economy's
//! lease (issue 9).

use crate::store_cmds::StoreArgs;
use crate::usage;

#[derive(clap::Subcommand)]
pub enum ClusterCmd {
    /// Nodes with their last heartbeat, and each economy's lease: owner, epoch, expiry.
    Status {
        /// A node is live when heard from within this many ms.
        #[arg(long, default_value_t = 10_000)]
        node_ttl_ms: i64,
    },
}

pub fn run(store: &StoreArgs, cmd: ClusterCmd) -> anyhow::Result<()> {
    let ClusterCmd::Status { node_ttl_ms } = cmd;
    let url = store
        .database
        .as_deref()
        .ok_or_else(|| usage("several nodes need PostgreSQL: pass --database postgres://…"))?;
    let mut c = jifen_journal::cluster::Cluster::connect(url)
        .map_err(|e| usage(format!("cannot reach {url}: {e}")))?;
    let now = jifen_journal::time::now_ms();
    let nodes = c.nodes()?;
    println!("{} node(s)", nodes.len());
    for n in &nodes {
        let age = now - n.heartbeat_ms;
        let live = if age <= node_ttl_ms { "live" } else { "gone" };
        println!(
            "  {:<16} {live:<4}  heartbeat {age} ms ago  {}",
            n.node_id, n.url
        );
    }
    let leases = c.leases()?;
    println!("{} lease(s)", leases.len());
    for l in &leases {
        let left = l.expires_ms - now;
        let state = if left >= 0 {
            format!("expires in {left} ms")
        } else {
            format!("LAPSED {} ms ago", -left)
        };
        println!(
            "  {:<24} owner {:<16} epoch {:<6} {state}",
            l.economy, l.owner, l.epoch
        );
    }
    Ok(())
}
