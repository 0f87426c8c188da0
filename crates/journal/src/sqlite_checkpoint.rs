//! The background checkpointer of a SQLite store: it copies the WAL into the database beside
//! the committer, so the committer never does it inside a commit.

use std::path::Path;

use rusqlite::Connection;

/// How often the background checkpointer looks at a WAL that did not grow since its last look.
const CHECKPOINT_IDLE: std::time::Duration = std::time::Duration::from_millis(500);
/// How soon it checkpoints again while the WAL grows.
const CHECKPOINT_BUSY: std::time::Duration = std::time::Duration::from_millis(5);

/// Starts the background checkpointer of a database file, once per file per process. It runs
/// `PRAGMA wal_checkpoint(PASSIVE)`, which never waits for readers or writers, and stops when
/// the file goes away. Durability does not depend on it: a commit is durable in the WAL.
///
/// While commits keep coming it checkpoints every few milliseconds, not every half second. A
/// passive checkpoint copies only the frames there when it starts, and SQLite starts the WAL
/// again from its top only once every frame is copied. Half a second apart, under a steady
/// load it never caught up: the WAL grew to `WAL_AUTOCHECKPOINT_PAGES` and the committing
/// connection then checkpointed by itself, inside a commit (100 to 170 ms of `fsync` every 2
/// to 3 s), and the checkpoint's big `fsync` of the database held back the WAL's own. Kept
/// close behind, each checkpoint copies little and the WAL starts again from the top
/// (BENCHMARKS.md, issue 25, "the batch scenario's tail").
pub(crate) fn start_checkpointer(path: &Path) {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static RUNNING: OnceLock<Mutex<HashSet<std::path::PathBuf>>> = OnceLock::new();
    let Ok(path) = path.canonicalize() else {
        return;
    };
    let running = RUNNING.get_or_init(|| Mutex::new(HashSet::new()));
    let Ok(mut set) = running.lock() else { return };
    if !set.insert(path.clone()) {
        return;
    }
    drop(set);
    let registered = path.clone();
    let spawned = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            if let Ok(conn) = Connection::open(&path) {
                let _ = conn.busy_timeout(std::time::Duration::from_millis(100));
                checkpoint_while_exists(&conn, &path);
            }
            if let Ok(mut set) = running.lock() {
                set.remove(&path);
            }
        });
    // No thread: forget the file, so the next store opened on it tries again.
    if spawned.is_err() {
        if let Ok(mut set) = running.lock() {
            set.remove(&registered);
        }
    }
}

/// The checkpointer's loop: soon again after a checkpoint that found the WAL grown, else after
/// `CHECKPOINT_IDLE`.
fn checkpoint_while_exists(conn: &Connection, path: &Path) {
    let mut last_pages = 0i64;
    let mut wait = CHECKPOINT_IDLE;
    while path.exists() {
        std::thread::sleep(wait);
        // The WAL's size in frames, or -1 when the checkpoint could not run.
        let pages = conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1))
            .unwrap_or(-1);
        let grew = pages > 0 && pages != last_pages;
        wait = if grew {
            CHECKPOINT_BUSY
        } else {
            CHECKPOINT_IDLE
        };
        last_pages = pages;
    }
}
