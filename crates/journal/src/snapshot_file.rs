//! How SQLite's snapshot files are written: durably, and in the background at a bounded pace.
//!
//! A snapshot of hundreds of MB written at full speed filled the disk's queue: each sync of the
//! WAL, which every commit waits for, then waited behind it. Synced once at the end, the whole
//! file's flush held commits back by up to half a second; synced every 8 MiB, the commits' p99
//! was still 200 to 300 ms in the batch scenario, against 120 to 140 ms with no snapshots. A
//! background snapshot is therefore written in pieces of 1 MiB, each synced, at no more than
//! its pace (BENCHMARKS.md, issue 25 point 4). A writer that waits for it (a shutdown) sets
//! `hurry`, and the rest goes at full speed.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::store::SnapshotPace;

/// How much of an unpaced snapshot is written between syncs.
const SYNC_EVERY_BYTES: usize = 8 << 20;
/// How much of a paced snapshot is written between syncs.
const PACED_PIECE_BYTES: usize = 1 << 20;
/// The longest a paced write sleeps before it looks again whether it must hurry.
const PACE_NAP: Duration = Duration::from_millis(20);

/// Writes `data` to `path` durably, readable by its owner only: a temporary file, synced piece
/// by piece (at `pace`, if given and not 0), renamed, and the folder synced.
pub(crate) fn write_durably(
    path: &Path,
    data: &[u8],
    pace: Option<&SnapshotPace>,
) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(&tmp)?;
    // A pace of 0 is no pace: unpaced pieces, written at full speed.
    let pace = pace.filter(|p| p.bytes_per_s > 0);
    let piece = if pace.is_some() {
        PACED_PIECE_BYTES
    } else {
        SYNC_EVERY_BYTES
    };
    let started = Instant::now();
    let mut written = 0usize;
    let mut pieces = data.chunks(piece).peekable();
    while let Some(piece) = pieces.next() {
        f.write_all(piece)?;
        written += piece.len();
        if pieces.peek().is_some() {
            f.sync_data()?;
            forget_cached(&f, written - piece.len(), piece.len());
            // In short naps, so that a hurry is heard within one.
            while let Some(wait) = pace.and_then(|p| p.wait(written, started.elapsed())) {
                std::thread::sleep(wait.min(PACE_NAP));
            }
        }
    }
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Tells the kernel that `len` bytes of `f` from `offset`, written and synced, will not be read
/// again soon, so their page cache is freed at once. A snapshot is read back only at start-up;
/// kept cached, the hundreds of MB each one writes fill memory with pages that are reused only
/// once the kernel reclaims them, and new pages cost more to fault in than reused ones (on the
/// test machine, several times more: BENCHMARKS.md, issue 25 point 4). Advice only: an error
/// changes nothing.
fn forget_cached(f: &std::fs::File, offset: usize, len: usize) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        let (Ok(offset), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len))
        else {
            return;
        };
        // SAFETY: `posix_fadvise` only reads its arguments; the descriptor is `f`'s, open for
        // the whole call.
        unsafe { libc::posix_fadvise(f.as_raw_fd(), offset, len, libc::POSIX_FADV_DONTNEED) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (f, offset, len);
}

impl SnapshotPace {
    /// How long to wait, `elapsed` after starting, once `written` bytes are written: until
    /// they are due at the pace, unless told to hurry.
    fn wait(&self, written: usize, elapsed: Duration) -> Option<Duration> {
        if self.bytes_per_s == 0 || self.hurry.load(Ordering::Acquire) {
            return None;
        }
        let due = written as u128 * 1_000_000_000 / u128::from(self.bytes_per_s);
        let due = Duration::from_nanos(u64::try_from(due).unwrap_or(u64::MAX));
        due.checked_sub(elapsed).filter(|wait| !wait.is_zero())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    use super::*;

    fn pace(bytes_per_s: u64) -> SnapshotPace {
        SnapshotPace {
            bytes_per_s,
            hurry: Arc::new(AtomicBool::new(false)),
        }
    }

    #[test]
    fn a_paced_write_waits_until_its_bytes_are_due() {
        let p = pace(100 << 20);
        let ms = Duration::from_millis;
        // 10 MiB at 100 MiB/s are due after 100 ms.
        assert_eq!(p.wait(10 << 20, ms(40)), Some(ms(60)));
        assert_eq!(p.wait(10 << 20, ms(100)), None);
        assert_eq!(p.wait(10 << 20, ms(150)), None);
        p.hurry.store(true, Ordering::Release);
        assert_eq!(p.wait(10 << 20, ms(40)), None);
        assert_eq!(pace(0).wait(10 << 20, ms(0)), None);
    }

    #[test]
    fn paced_and_unpaced_files_hold_the_same_bytes() {
        let dir = std::env::temp_dir().join(format!("jifen-snapfile-{}", std::process::id()));
        let data: Vec<u8> = (0..(3 << 20) + 17).map(|i| (i * 7 % 251) as u8).collect();
        for (name, p) in [("paced", Some(pace(1 << 30))), ("unpaced", None)] {
            let path = dir.join(name).join("1.snap");
            write_durably(&path, &data, p.as_ref()).unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), data, "{name}");
            assert!(!path.with_extension("tmp").exists());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
