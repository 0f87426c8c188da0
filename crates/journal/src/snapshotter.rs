//! The thread that encodes and stores an economy's periodic snapshots, off the writer's path,
//! with its own store connection.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::Sender;
use jifen_core::LedgerToEncode;

use crate::entry::Hash;
use crate::frame::frame_into;
use crate::store::{SnapshotPace, Store};

/// How long the snapshot thread keeps its encoding buffer after a snapshot: an economy that
/// takes its next one sooner (one under load) reuses it, an idle one gives the memory back.
const BUFFER_KEPT_IDLE: std::time::Duration = std::time::Duration::from_secs(60);

/// The next snapshot to take, or none once the writer is gone; the buffer is freed when none
/// comes for [`BUFFER_KEPT_IDLE`].
fn next_job(
    rx: &crossbeam_channel::Receiver<SnapshotJob>,
    data: &mut Vec<u8>,
) -> Option<SnapshotJob> {
    match rx.recv_timeout(BUFFER_KEPT_IDLE) {
        Ok(job) => Some(job),
        Err(crossbeam_channel::RecvTimeoutError::Disconnected) => None,
        Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
            *data = Vec::new();
            rx.recv().ok()
        }
    }
}

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
        store.pace_snapshots(SnapshotPace {
            bytes_per_s,
            hurry: hurry.clone(),
        });
        let done = Arc::new(AtomicU64::new(0));
        let (b, d, eco) = (busy.clone(), done.clone(), economy.to_string());
        let thread = std::thread::Builder::new()
            .name(format!("snapshot-{economy}"))
            .spawn(move || {
                // The encoding buffer, kept while snapshots keep coming (see `frame_into`).
                let mut data = Vec::new();
                while let Some(job) = next_job(&rx, &mut data) {
                    frame_into(
                        &mut data,
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
