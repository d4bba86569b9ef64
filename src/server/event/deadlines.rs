//! The deadlines an event loop keeps for its connections: when an idle
//! client has sent nothing for `read_timeout_ms`, when a client has taken
//! no bytes for `write_timeout_ms`.
//!
//! A blocking connection gets its timeouts from the socket; an event loop
//! serving thousands of connections from one thread must keep them itself,
//! and cheaply: a connection's deadline moves with every message, and
//! rescanning every connection on every turn would cost the loop its
//! whole point. So each connection has at most one live entry in a heap,
//! for the earliest of its deadlines (`Conn::armed`); an entry that comes
//! due is checked against the connection's real deadline, which may have
//! moved later (a message arrived), and then put back for that time.
//! Entries left behind by ended connections or moved deadlines are
//! skipped when they come up, and swept out when they outnumber the
//! connections, so memory stays bounded under churn.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// A heap of (when, slot, connection id), earliest first.
#[derive(Default)]
pub(crate) struct Deadlines {
    heap: BinaryHeap<Reverse<(Instant, usize, u64)>>,
}

impl Deadlines {
    /// Adds a deadline for connection `id` in `slot`.
    pub fn arm(&mut self, at: Instant, slot: usize, id: u64) {
        self.heap.push(Reverse((at, slot, id)));
    }

    /// The earliest deadline, live or not: the loop's poll waits at most
    /// until then.
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Takes the earliest entry if it is due by `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, usize, u64)> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    /// Drops dead entries once they outnumber `live` (the connections) by
    /// far; `is_live` says whether an entry is still some connection's.
    pub fn sweep(&mut self, live: usize, is_live: impl Fn(Instant, usize, u64) -> bool) {
        if self.heap.len() > 2 * live + 64 {
            self.heap
                .retain(|Reverse((at, slot, id))| is_live(*at, *slot, *id));
        }
    }

    /// Entries held, live or not.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn entries_come_due_in_order_and_dead_ones_are_swept() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut d = Deadlines::default();
        d.arm(ms(30), 1, 11);
        d.arm(ms(10), 2, 12);
        d.arm(ms(20), 3, 13);
        assert_eq!(d.next(), Some(ms(10)));
        assert_eq!(d.pop_due(ms(5)), None);
        assert_eq!(d.pop_due(ms(25)), Some((ms(10), 2, 12)));
        assert_eq!(d.pop_due(ms(25)), Some((ms(20), 3, 13)));
        assert_eq!(d.pop_due(ms(25)), None);
        for i in 0..200 {
            d.arm(ms(100 + i), 9, 99);
        }
        d.sweep(1, |_, slot, _| slot == 1);
        assert_eq!(d.len(), 1);
        assert_eq!(d.next(), Some(ms(30)));
    }
}
