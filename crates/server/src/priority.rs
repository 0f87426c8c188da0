//! The scheduling priority of background threads. A scheduled backup runs in `SCHED_IDLE`
//! throughout (`backups.rs`). A webhook delivery thread near the head runs like any other
//! thread, so fresh events go out at once; while it works off a backlog (a subscription that was down,
//! a redelivery, a server saturated by commands) it drops to Linux's `SCHED_IDLE` class and
//! takes only the CPU that answering requests and committing leave, so notifications never
//! slow the commands they report. Measured in BENCHMARKS.md (issue 21).

/// Entries behind the committed head from which a thread counts as working off a backlog,
/// and below which it is back near the head (apart, so it does not flap).
const BACKLOG_FROM: u64 = 10_000;
const NEAR_HEAD_BELOW: u64 = 1_000;

/// The calling thread's priority class, changed only when it must be.
pub struct Priority {
    background: bool,
    /// Whether the thread may leave `SCHED_IDLE` again. Linux lets a thread back to the normal
    /// class only with `CAP_SYS_NICE` or an `RLIMIT_NICE` of at least 20 (systemd:
    /// `LimitNICE=20`; Docker: `--cap-add SYS_NICE`); without either, a thread that dropped
    /// would stay down, so it never drops.
    may_return: bool,
}

impl Default for Priority {
    fn default() -> Priority {
        Priority {
            background: false,
            may_return: may_return(),
        }
    }
}

impl Priority {
    /// Sets the class for a thread `behind` entries behind the head.
    pub fn update(&mut self, behind: u64) {
        if !self.may_return {
            return;
        }
        let background = if self.background {
            behind >= NEAR_HEAD_BELOW
        } else {
            behind >= BACKLOG_FROM
        };
        if background != self.background && set_background(background) {
            self.background = background;
        }
    }
}

/// Whether a thread of this process may go back from `SCHED_IDLE` to `SCHED_OTHER` at nice 0.
fn may_return() -> bool {
    #[cfg(target_os = "linux")]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes only `limit`.
        let by_limit =
            unsafe { libc::getrlimit(libc::RLIMIT_NICE, &mut limit) } == 0 && limit.rlim_cur >= 20;
        by_limit || has_sys_nice()
    }
    #[cfg(not(target_os = "linux"))]
    false
}

/// Whether the process holds `CAP_SYS_NICE` (bit 23 of `CapEff` in `/proc/self/status`). Being
/// root is not enough: a container's root usually runs without it.
#[cfg(target_os = "linux")]
fn has_sys_nice() -> bool {
    const CAP_SYS_NICE: u32 = 23;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
            u64::from_str_radix(line["CapEff:".len()..].trim(), 16).ok()
        })
        .is_some_and(|caps| caps & (1 << CAP_SYS_NICE) != 0)
}

/// Puts the calling thread in `SCHED_IDLE` or back in `SCHED_OTHER`; whether it could.
pub fn set_background(background: bool) -> bool {
    #[cfg(target_os = "linux")]
    {
        let policy = if background {
            libc::SCHED_IDLE
        } else {
            libc::SCHED_OTHER
        };
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 is the calling thread; the call only reads `param`.
        let done = unsafe { libc::sched_setscheduler(0, policy, &param) } == 0;
        if !done {
            tracing::debug!("webhooks: could not change a delivery thread's priority");
        }
        done
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = background;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> libc::c_int {
        // SAFETY: pid 0 is the calling thread.
        unsafe { libc::sched_getscheduler(0) }
    }

    #[test]
    fn a_backlog_lowers_the_thread_and_the_head_restores_it() {
        std::thread::spawn(|| {
            let mut p = Priority::default();
            if !p.may_return {
                p.update(BACKLOG_FROM);
                assert_eq!(policy(), libc::SCHED_OTHER, "it must not drop for good");
                return;
            }
            p.update(BACKLOG_FROM - 1);
            assert_eq!(policy(), libc::SCHED_OTHER);
            p.update(BACKLOG_FROM);
            assert_eq!(policy(), libc::SCHED_IDLE);
            p.update(NEAR_HEAD_BELOW); // between the two: stays
            assert_eq!(policy(), libc::SCHED_IDLE);
            p.update(NEAR_HEAD_BELOW - 1);
            assert_eq!(policy(), libc::SCHED_OTHER);
        })
        .join()
        .unwrap();
    }
}
