//! Several nodes on one PostgreSQL (issue 9): which economies this node writes, and where the
//! others are.
//!
//! With `--node-id`, a node opens no economy at start. Its manager thread heartbeats, computes
//! the balanced assignment of every economy over the live nodes, takes the leases of the
//! economies assigned to it (loading each exactly as after a restart, with its store fenced at
//! the lease's epoch), renews them, and closes an economy as soon as its lease is lost or the
//! assignment hands it to another node (releasing the lease so the new owner need not wait).
//! A request for an economy this node does not write goes to its owner (see `forward`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jifen_journal::cluster::{assign, Cluster};
use jifen_journal::{EconomyMeta, JournalError};

use crate::config::{Clock, ClusterConfig};
use crate::economies::Economies;
use crate::store::StoreHandle;

/// Economy → (owner's node id, owner's URL).
type OwnerMap = HashMap<String, (String, String)>;

const OWNERS_TTL: Duration = Duration::from_millis(200);

/// What a node of a cluster is: its configuration, the database, and the time.
#[derive(Clone)]
pub struct Node {
    pub config: ClusterConfig,
    pub database: String,
    pub clock: Clock,
}

/// Where each economy's owner is, as last read (refreshed at most every `OWNERS_TTL`).
pub struct Owners {
    node: Node,
    cache: Mutex<Option<(Instant, OwnerMap)>>,
    /// The connection the reads go through, kept between them (reopened after an error).
    conn: Mutex<Option<Cluster>>,
}

impl Owners {
    pub fn new(node: Node) -> Owners {
        Owners {
            node,
            cache: Mutex::new(None),
            conn: Mutex::new(None),
        }
    }

    pub fn node_id(&self) -> &str {
        &self.node.config.node_id
    }

    /// The node id and URL of the live owner of `economy`, if any (blocking).
    pub fn of(&self, economy: &str) -> Option<(String, String)> {
        let mut cache = self.cache.lock().ok()?;
        let fresh = cache
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < OWNERS_TTL);
        if !fresh {
            let mut conn = self.conn.lock().ok()?;
            let map = self.read(&mut conn).unwrap_or_else(|_| {
                *conn = None;
                HashMap::new()
            });
            *cache = Some((Instant::now(), map));
        }
        cache.as_ref()?.1.get(economy).cloned()
    }

    /// Whether `ip` is the address of a node that owns an economy now (as last read).
    pub fn is_node_address(&self, ip: IpAddr) -> bool {
        let Ok(cache) = self.cache.lock() else {
            return false;
        };
        cache.as_ref().is_some_and(|(_, map)| {
            map.values()
                .any(|(_, url)| host_of(url).and_then(|h| h.parse::<IpAddr>().ok()) == Some(ip))
        })
    }

    fn read(&self, conn: &mut Option<Cluster>) -> Result<OwnerMap, JournalError> {
        if conn.is_none() {
            *conn = Some(Cluster::connect(&self.node.database)?);
        }
        let Some(c) = conn.as_mut() else {
            return Ok(HashMap::new());
        };
        let now = (self.node.clock)();
        let nodes: HashMap<String, String> = c
            .live_nodes(now, self.node.config.lease_ms)?
            .into_iter()
            .map(|n| (n.node_id, n.url))
            .collect();
        Ok(c.leases()?
            .into_iter()
            .filter(|l| l.expires_ms >= now)
            .filter_map(|l| {
                let url = nodes.get(&l.owner)?.clone();
                Some((l.economy, (l.owner, url)))
            })
            .collect())
    }
}

/// The host of a URL, without brackets or port.
fn host_of(url: &str) -> Option<&str> {
    url.split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .map(|authority| authority.rsplit_once(':').map_or(authority, |(h, _)| h))
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
}

/// The manager: what it needs to take, keep and hand over economies.
pub struct Manager {
    pub node: Node,
    pub economies: Arc<Economies>,
    pub store: Arc<StoreHandle>,
}

impl Manager {
    /// Runs until `stop` receives or closes, then releases every lease it holds.
    pub fn run(&self, stop: Receiver<()>) {
        let tick = Duration::from_millis((self.node.config.lease_ms / 4).max(50) as u64);
        let mut held: HashMap<String, i64> = HashMap::new();
        let mut cluster = None;
        loop {
            if cluster.is_none() {
                cluster = Cluster::connect(&self.node.database).ok();
            }
            if let Some(c) = cluster.as_mut() {
                if let Err(e) = self.manage(c, &mut held) {
                    tracing::warn!("cluster: {e}");
                    cluster = None;
                }
            }
            match stop.recv_timeout(tick) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => break,
            }
        }
        if let Some(c) = cluster.as_mut() {
            for (economy, epoch) in held {
                self.economies.close(&economy);
                let _ = c.release(&economy, &self.node.config.node_id, epoch);
            }
        }
    }

    fn manage(&self, c: &mut Cluster, held: &mut HashMap<String, i64>) -> Result<(), JournalError> {
        let cfg = &self.node.config;
        let now = (self.node.clock)();
        c.heartbeat(&cfg.node_id, &cfg.advertise, now)?;
        let live: Vec<String> = c
            .live_nodes(now, cfg.lease_ms)?
            .into_iter()
            .map(|n| n.node_id)
            .collect();
        let metas = self.store.with(|s| s.economies())?;
        let ids: Vec<String> = metas.iter().map(|m| m.id.clone()).collect();
        let mine: Vec<String> = assign(&ids, &live)
            .into_iter()
            .filter(|(_, node)| *node == cfg.node_id)
            .map(|(e, _)| e)
            .collect();
        self.keep_or_hand_over(c, held, &mine, now)?;
        let mut taken = Vec::new();
        for meta in metas {
            if held.contains_key(&meta.id) || !mine.contains(&meta.id) {
                continue;
            }
            // None: its old owner has not let go yet. An error (a lock held by an append in
            // flight): try again next tick.
            match c.acquire(&meta.id, &cfg.node_id, now, cfg.lease_ms) {
                Ok(Some(lease)) => taken.push((meta, lease.epoch)),
                Ok(None) => {}
                Err(e) => tracing::info!(economy = %meta.id, "cluster: lease busy: {e}"),
            }
        }
        self.open_taken(c, held, taken)
    }

    /// Keeps what is still ours; hands over what is assigned elsewhere; stops at once on a
    /// lost lease.
    fn keep_or_hand_over(
        &self,
        c: &mut Cluster,
        held: &mut HashMap<String, i64>,
        mine: &[String],
        now: i64,
    ) -> Result<(), JournalError> {
        let cfg = &self.node.config;
        for (economy, epoch) in held.clone() {
            if !mine.contains(&economy) {
                self.economies.close(&economy);
                c.release(&economy, &cfg.node_id, epoch)?;
                held.remove(&economy);
                tracing::info!(economy, "cluster: handed over");
                continue;
            }
            match c.renew(&economy, &cfg.node_id, epoch, now, cfg.lease_ms) {
                Ok(true) => {}
                Ok(false) => {
                    self.economies.close(&economy);
                    held.remove(&economy);
                    tracing::warn!(economy, epoch, "cluster: lease lost; writer closed");
                }
                // Busy for a moment: the next tick tries again (the fence guards meanwhile).
                Err(e) => tracing::info!(economy, "cluster: renewal delayed: {e}"),
            }
        }
        Ok(())
    }

    /// Loads the economies taken over side by side: a failed node's share moves at once.
    fn open_taken(
        &self,
        c: &mut Cluster,
        held: &mut HashMap<String, i64>,
        taken: Vec<(EconomyMeta, i64)>,
    ) -> Result<(), JournalError> {
        let node = self.node.config.node_id.as_str();
        let opened: Vec<(String, i64, Result<(), JournalError>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = taken
                .into_iter()
                .map(|(meta, epoch)| {
                    scope.spawn(move || {
                        let id = meta.id.clone();
                        let r = self.economies.open_fenced(meta, node, epoch).map(|_| ());
                        (id, epoch, r)
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        for (id, epoch, result) in opened {
            match result {
                Ok(()) => {
                    held.insert(id.clone(), epoch);
                    tracing::info!(economy = id, epoch, "cluster: took the lease");
                }
                Err(e) => {
                    tracing::error!(economy = id, "cluster: cannot open: {e}");
                    c.release(&id, node, epoch)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hosts_of_urls() {
        assert_eq!(super::host_of("http://10.0.0.2:8080/x"), Some("10.0.0.2"));
        assert_eq!(super::host_of("http://[::1]:80"), Some("::1"));
        assert_eq!(super::host_of("node-b"), None);
    }
}
