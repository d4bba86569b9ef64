//! [`WorkQueue`]: work waiting for a worker, oldest first: `pool` mode's
//! connections and `event-workers`' handler calls; and the permits that
//! keep at most `workers` of them running at once (event-workers counts
//! calls on a thread a loop lent, `event/lend.rs`, as well as on workers).
//!
//! The queue is our own, not rayon's: each worker runs one long rayon job
//! that takes work from it. Spawned as one rayon task each, every item
//! woke a worker that, once done, searched the other workers' deques and
//! yielded between rounds before it slept: with 512 pool workers under
//! churn that search was most of the server's CPU, and with a call every
//! few microseconds an event-workers worker never slept, its yields and
//! context switches costing more than the calls (figures in
//! `modes/README.md`). A worker asleep on the queue's condition variable
//! costs nothing, and is woken only when an item may run. A condition
//! variable, not a channel behind a mutex: each item wakes one sleeping
//! worker directly, so a burst wakes as many workers at once. The permits
//! are here because the same lock already orders the items: a loop may
//! lend its thread only when no call waits, so calls still start in the
//! order they were made.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};

/// Work (`T`) waiting for a worker, and how many more items may run now.
pub(crate) struct WorkQueue<T> {
    state: Mutex<State<T>>,
    /// A call may run: one waits and a permit is free, or the queue closed.
    ready: Condvar,
}

struct State<T> {
    waiting: VecDeque<T>,
    /// Workers asleep on `ready`: a change wakes one only if one sleeps.
    asleep: usize,
    /// Calls that may start now: `workers` less those running, on a worker
    /// or on a thread a loop lent.
    permits: usize,
    closed: bool,
}

impl<T> WorkQueue<T> {
    /// An empty queue that lets `permits` calls run at once.
    pub fn new(permits: usize) -> WorkQueue<T> {
        WorkQueue {
            state: Mutex::new(State {
                waiting: VecDeque::new(),
                asleep: 0,
                permits,
                closed: false,
            }),
            ready: Condvar::new(),
        }
    }

    /// Queues a call for a worker. Returns how many calls wait ahead of it
    /// when it must wait for one to end (every permit taken), for the log.
    pub fn push(&self, call: T) -> Option<usize> {
        let mut state = self.lock();
        let ahead = (state.permits == 0).then_some(state.waiting.len());
        state.waiting.push_back(call);
        let wake = state.asleep > 0 && state.permits > 0;
        drop(state);
        if wake {
            self.ready.notify_one();
        }
        ahead
    }

    /// A loop asks to lend its thread to a call: yes, and the call holds a
    /// permit until [`release`](WorkQueue::release), if one is free and no
    /// call waits (it would start before those).
    pub fn try_lend(&self) -> bool {
        let mut state = self.lock();
        if state.permits > 0 && state.waiting.is_empty() {
            state.permits -= 1;
            return true;
        }
        false
    }

    /// A call that ran on a lent thread ended: its permit is free, for a
    /// waiting call if there is one.
    pub fn release(&self) {
        let mut state = self.lock();
        state.permits += 1;
        let wake = state.asleep > 0 && !state.waiting.is_empty();
        drop(state);
        if wake {
            self.ready.notify_one();
        }
    }

    /// No more calls come: workers end once the waiting ones are taken.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// A worker's side: the oldest waiting call once it may run, sleeping
    /// for it if need be; `None` once closed and empty. `ended`: the
    /// worker's last call ended, and gives its permit back.
    pub fn take(&self, ended: bool) -> Option<T> {
        let mut state = self.lock();
        if ended {
            state.permits += 1;
        }
        loop {
            if state.permits > 0
                && let Some(call) = state.waiting.pop_front()
            {
                state.permits -= 1;
                return Some(call);
            }
            if state.closed && state.waiting.is_empty() {
                return None;
            }
            state.asleep += 1;
            state = self.ready.wait(state).unwrap_or_else(|e| e.into_inner());
            state.asleep -= 1;
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Only pushes, pops and counts run under it: a panic cannot leave
        // it torn.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loop_lends_only_while_a_permit_is_free_and_no_call_waits() {
        let q = WorkQueue::new(2);
        assert!(q.try_lend());
        assert_eq!(q.push(1), None, "a permit is free: it runs at once");
        assert!(!q.try_lend(), "a call waits: it starts first");
        assert_eq!(q.take(false), Some(1));
        assert!(!q.try_lend(), "both permits taken");
        assert_eq!(q.push(2), Some(0));
        assert_eq!(q.push(3), Some(1));
        q.release();
        assert_eq!(q.take(false), Some(2), "the lent call's permit");
        q.close();
        assert_eq!(q.take(true), Some(3), "the worker's own permit");
        assert_eq!(q.take(true), None, "closed and empty");
    }
}
