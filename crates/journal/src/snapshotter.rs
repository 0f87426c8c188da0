//! The thread that encodes and stores an economy's periodic snapshots, off the writer's path,
//! with its own store connection.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::Sender;
use jifen_core::LedgerToEncode;

use crate::entry::Hash;
use crate::frame::frame_with;
use crate::store::{SnapshotPace, Store};

pub(crate) struct SnapshotJob {
    pub ledger: Box<LedgerToEncode>,
    pub seq: u64,
    pub hash: Hash,
    /// The Merkle group roots the snapshot's entries complete.
    pub groups: Vec<Hash>,
}

/// The thread that encodes and stores periodic snapshots, with its own store connection.
pub(crate) struct Snapshotter {
    pub tx: Sender<SnapshotJob>,
    pub busy: Arc<AtomicBool>,
    /// Set when the writer waits for the snapshot: its writes stop pacing themselves.
    hurry: Arc<AtomicBool>,
    /// The seq of the newest snapshot it stored.
    done: Arc<AtomicU64>,
    thread: JoinHandle<()>,
}

impl Snapshotter {
    /// Starts the thread; it writes snapshots at no more than `bytes_per_s` (0: no limit).
    pub fn start(
        mut store: Box<dyn Store>,
        economy: &str,
        keep: usize,
        bytes_per_s: u64,
    ) -> Option<Snapshotter> {
        let (tx, rx) = crossbeam_channel::bounded::<SnapshotJob>(1);
        let busy = Arc::new(AtomicBool::new(false));
        let hurry = Arc::new(AtomicBool::new(false));
        if bytes_per_s > 0 {
            store.pace_snapshots(SnapshotPace {
                bytes_per_s,
                hurry: hurry.clone(),
            });
        }
        let done = Arc::new(AtomicU64::new(0));
        let (b, d, eco) = (busy.clone(), done.clone(), economy.to_string());
        let thread = std::thread::Builder::new()
            .name(format!("snapshot-{economy}"))
            .spawn(move || {
                for job in rx {
                    let data = frame_with(
                        &eco,
                        job.seq,
                        &job.hash,
                        job.ledger.encoded_len_hint(),
                        &job.groups,
                        |out| job.ledger.encode_into(out),
                    );
                    drop(job.ledger);
                    match store.put_snapshot(&eco, job.seq, &data, keep) {
                        Ok(()) => d.store(job.seq, Ordering::Release),
                        Err(e) => {
                            eprintln!("jifen: economy {eco}: snapshot at {} failed: {e}", job.seq)
                        }
                    }
                    b.store(false, Ordering::Release);
                }
            })
            .ok()?;
        Some(Snapshotter {
            tx,
            busy,
            hurry,
            done,
            thread,
        })
    }

    /// Waits for the snapshot in progress; returns the seq of the newest one stored.
    pub fn finish(self) -> u64 {
        self.hurry.store(true, Ordering::Release);
        drop(self.tx);
        let _ = self.thread.join();
        self.done.load(Ordering::Acquire)
    }
}
