//! A bounded queue between threads that never spins: a mutex, two condition variables, and a
//! count of live senders. Channels that spin and `sched_yield` before sleeping (as crossbeam's
//! do) cost more than they save on a small, busy machine where the writer, the committer and
//! the HTTP threads share two cores.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

struct Inner<T> {
    items: VecDeque<T>,
    senders: usize,
    receiver_alive: bool,
}

struct Shared<T> {
    inner: Mutex<Inner<T>>,
    not_empty: Condvar,
    not_full: Condvar,
    capacity: usize,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // A panic while holding this lock leaves only a queue of plain values behind.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct Sender<T>(Arc<Shared<T>>);
pub struct Receiver<T>(Arc<Shared<T>>);

/// The value that could not be sent: the receiver is gone.
pub struct SendError<T>(pub T);

pub fn bounded<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        inner: Mutex::new(Inner {
            items: VecDeque::new(),
            senders: 1,
            receiver_alive: true,
        }),
        not_empty: Condvar::new(),
        not_full: Condvar::new(),
        capacity: capacity.max(1),
    });
    (Sender(shared.clone()), Receiver(shared))
}

impl<T> Sender<T> {
    /// Waits for room, then queues `value`.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        let mut inner = self.0.lock();
        while inner.receiver_alive && inner.items.len() >= self.0.capacity {
            inner = self
                .0
                .not_full
                .wait(inner)
                .unwrap_or_else(|e| e.into_inner());
        }
        if !inner.receiver_alive {
            return Err(SendError(value));
        }
        inner.items.push_back(value);
        drop(inner);
        self.0.not_empty.notify_one();
        Ok(())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.0.lock().senders += 1;
        Sender(self.0.clone())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut inner = self.0.lock();
        inner.senders -= 1;
        if inner.senders == 0 {
            drop(inner);
            self.0.not_empty.notify_all();
        }
    }
}

impl<T> Receiver<T> {
    /// The next value; `None` once it is empty and every sender is gone.
    pub fn recv(&self) -> Option<T> {
        let mut inner = self.0.lock();
        loop {
            if let Some(v) = inner.items.pop_front() {
                drop(inner);
                self.0.not_full.notify_one();
                return Some(v);
            }
            if inner.senders == 0 {
                return None;
            }
            inner = self
                .0
                .not_empty
                .wait(inner)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The next value, waiting at most `timeout`; `Err(())` on time-out, `Ok(None)` once it
    /// is empty and every sender is gone.
    pub fn recv_timeout(&self, timeout: std::time::Duration) -> Result<Option<T>, ()> {
        let deadline = std::time::Instant::now() + timeout;
        let mut inner = self.0.lock();
        loop {
            if let Some(v) = inner.items.pop_front() {
                drop(inner);
                self.0.not_full.notify_one();
                return Ok(Some(v));
            }
            if inner.senders == 0 {
                return Ok(None);
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return Err(());
            }
            inner = self
                .0
                .not_empty
                .wait_timeout(inner, deadline - now)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// The next value if one is waiting.
    pub fn try_recv(&self) -> Option<T> {
        let v = self.0.lock().items.pop_front();
        if v.is_some() {
            self.0.not_full.notify_one();
        }
        v
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut inner = self.0.lock();
        inner.receiver_alive = false;
        inner.items.clear();
        drop(inner);
        self.0.not_full.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_arrive_in_order_and_the_end_is_seen() {
        let (tx, rx) = bounded(2);
        let t = std::thread::spawn(move || {
            for i in 0..1000 {
                tx.send(i).ok().unwrap();
            }
        });
        let got: Vec<i32> = std::iter::from_fn(|| rx.recv()).collect();
        t.join().unwrap();
        assert_eq!(got, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn sending_to_a_dropped_receiver_fails() {
        let (tx, rx) = bounded(1);
        drop(rx);
        assert!(tx.send(1).is_err());
    }
}
