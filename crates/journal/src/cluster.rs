//! Several nodes on one PostgreSQL (issue 9, the first part): the node table, leases with
//! epochs, the balanced assignment of economies to live nodes, and the fencing that appends
//! check (`PgStore::set_fence`).
//!
//! Each economy has exactly one writer: the node holding its lease. A lease row holds the
//! owner, an expiry and an epoch. The owner renews it; once it lapses, another node takes it
//! with a compare-and-set that increments the epoch. Every append of a fenced store checks, in
//! its own transaction and holding the row `FOR SHARE`, that its node still holds the lease at
//! its epoch. So a paused or partitioned former owner cannot commit once the lease has moved:
//! its append fails with `StoreError::Fenced` and its callers get an error, never an
//! acknowledgement. A takeover waits for an append in flight to finish, and the new owner then
//! loads the journal as after a restart, that append included.
//!
//! Times are milliseconds on the callers' clocks; the lease length must cover their skew.

use postgres::{Client, NoTls};
use sha2::{Digest, Sha256};

use crate::error::StoreResult;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub node_id: String,
    pub url: String,
    pub heartbeat_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub economy: String,
    pub owner: String,
    pub epoch: i64,
    pub expires_ms: i64,
}

/// A node's connection for membership and leases (separate from its journal connections).
pub struct Cluster {
    client: Client,
}

impl Cluster {
    pub fn connect(url: &str) -> StoreResult<Cluster> {
        let mut client = Client::connect(url, NoTls)?;
        crate::postgres::ensure_schema(&mut client, url)?;
        // A takeover waits for an append in flight, but not for long (see `PgStore::set_fence`).
        client.batch_execute("SET lock_timeout = 250")?;
        Ok(Cluster { client })
    }

    /// Records that `node` is alive at `url`.
    pub fn heartbeat(&mut self, node: &str, url: &str, now_ms: i64) -> StoreResult<()> {
        self.client.execute(
            "INSERT INTO nodes (node_id, url, heartbeat_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (node_id) DO UPDATE SET url = EXCLUDED.url, heartbeat_ms = EXCLUDED.heartbeat_ms",
            &[&node, &url, &now_ms],
        )?;
        Ok(())
    }

    /// Every node, with its last heartbeat.
    pub fn nodes(&mut self) -> StoreResult<Vec<Node>> {
        let rows = self.client.query(
            "SELECT node_id, url, heartbeat_ms FROM nodes ORDER BY node_id",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| Node {
                node_id: r.get(0),
                url: r.get(1),
                heartbeat_ms: r.get(2),
            })
            .collect())
    }

    /// Nodes heard from within `ttl_ms` of `now_ms`.
    pub fn live_nodes(&mut self, now_ms: i64, ttl_ms: i64) -> StoreResult<Vec<Node>> {
        Ok(self
            .nodes()?
            .into_iter()
            .filter(|n| n.heartbeat_ms + ttl_ms >= now_ms)
            .collect())
    }

    pub fn leases(&mut self) -> StoreResult<Vec<Lease>> {
        let rows = self.client.query(
            "SELECT economy, owner, epoch, expires_ms FROM leases ORDER BY economy",
            &[],
        )?;
        Ok(rows.iter().map(lease_from_row).collect())
    }

    /// Takes the economy's lease for `node` if nobody holds it or it has lapsed (the epoch goes
    /// up by one), or renews it if `node` holds it already (same epoch). `None`: another node
    /// holds it.
    pub fn acquire(
        &mut self,
        economy: &str,
        node: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> StoreResult<Option<Lease>> {
        let expires = now_ms + lease_ms;
        let row = self.client.query_opt(
            "INSERT INTO leases (economy, owner, epoch, expires_ms) VALUES ($1, $2, 1, $3) \
             ON CONFLICT (economy) DO UPDATE SET \
                 owner = EXCLUDED.owner, \
                 epoch = CASE WHEN leases.owner = EXCLUDED.owner THEN leases.epoch ELSE leases.epoch + 1 END, \
                 expires_ms = EXCLUDED.expires_ms \
             WHERE leases.owner = EXCLUDED.owner OR leases.expires_ms < $4 \
             RETURNING economy, owner, epoch, expires_ms",
            &[&economy, &node, &expires, &now_ms],
        )?;
        Ok(row.as_ref().map(lease_from_row))
    }

    /// Extends a lease held at `epoch`; `false` when it has moved on (the holder must stop).
    pub fn renew(
        &mut self,
        economy: &str,
        node: &str,
        epoch: i64,
        now_ms: i64,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        let n = self.client.execute(
            "UPDATE leases SET expires_ms = $4 WHERE economy = $1 AND owner = $2 AND epoch = $3",
            &[&economy, &node, &epoch, &(now_ms + lease_ms)],
        )?;
        Ok(n == 1)
    }

    /// Gives a lease up (a clean shutdown, or handing an economy to its new home): it lapses at
    /// once, so another node can take it without waiting.
    pub fn release(&mut self, economy: &str, node: &str, epoch: i64) -> StoreResult<()> {
        self.client.execute(
            "UPDATE leases SET expires_ms = 0 WHERE economy = $1 AND owner = $2 AND epoch = $3",
            &[&economy, &node, &epoch],
        )?;
        Ok(())
    }
}

fn lease_from_row(r: &postgres::Row) -> Lease {
    Lease {
        economy: r.get(0),
        owner: r.get(1),
        epoch: r.get(2),
        expires_ms: r.get(3),
    }
}

/// How much `node` wants `economy` (rendezvous hashing): the highest score wins.
fn score(node: &str, economy: &str) -> [u8; 32] {
    Sha256::new()
        .chain_update(node.as_bytes())
        .chain_update([0])
        .chain_update(economy.as_bytes())
        .finalize()
        .into()
}

/// Assigns each economy to one of `nodes`, every node within one of an even share: economies
/// take their best-scoring node that still has room (rendezvous hashing with bounded load), so
/// a node joining or leaving moves few economies. The same inputs give the same answer on every
/// node. Returns (economy, node) pairs in economy order.
pub fn assign(economies: &[String], nodes: &[String]) -> Vec<(String, String)> {
    let mut nodes: Vec<&String> = nodes.iter().collect();
    nodes.sort();
    nodes.dedup();
    if nodes.is_empty() {
        return Vec::new();
    }
    let mut economies: Vec<&String> = economies.iter().collect();
    economies.sort();
    // Every node takes `floor` economies, and `extra` of them one more: shares within one.
    let floor = economies.len() / nodes.len();
    let mut extra = economies.len() % nodes.len();
    let mut load = vec![0usize; nodes.len()];
    // Economies in the order of how strongly they prefer their first choice, so the bound
    // displaces the weakest preferences; ties by name, so the result is deterministic.
    let mut prefs: Vec<(usize, Vec<usize>)> = economies
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut order: Vec<usize> = (0..nodes.len()).collect();
            order.sort_by(|&a, &b| score(nodes[b], e).cmp(&score(nodes[a], e)).then(a.cmp(&b)));
            (i, order)
        })
        .collect();
    prefs.sort_by(|(a, pa), (b, pb)| {
        score(nodes[pb[0]], economies[*b])
            .cmp(&score(nodes[pa[0]], economies[*a]))
            .then(a.cmp(b))
    });
    let mut out = vec![String::new(); economies.len()];
    for (i, order) in prefs {
        let pick = order
            .into_iter()
            .find(|&n| load[n] < floor || (load[n] == floor && extra > 0))
            .expect("the shares cover every economy");
        if load[pick] == floor {
            extra -= 1;
        }
        load[pick] += 1;
        out[i] = nodes[pick].clone();
    }
    economies.into_iter().cloned().zip(out).collect()
}

#[cfg(test)]
mod tests {
    use super::assign;

    fn names(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    }

    #[test]
    fn assignment_is_balanced_stable_and_deterministic() {
        let economies = names("brand-", 20);
        for n in 1..=7 {
            let nodes = names("node-", n);
            let a = assign(&economies, &nodes);
            assert_eq!(a, assign(&economies, &nodes), "deterministic");
            let counts: Vec<usize> = nodes
                .iter()
                .map(|node| a.iter().filter(|(_, o)| o == node).count())
                .collect();
            let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
            assert!(max - min <= 1, "{n} nodes: {counts:?}");
        }
        // A node joining moves only part of the economies.
        let before = assign(&economies, &names("node-", 3));
        let after = assign(&economies, &names("node-", 4));
        let moved = before
            .iter()
            .zip(&after)
            .filter(|(a, b)| a.1 != b.1)
            .count();
        assert!(moved <= 10, "{moved} of 20 moved when a fourth node joined");
    }
}
