//! [`CallLog`]: when each message's handler call began, per connection, so
//! `compare` can tell a request waiting for a worker or a loop from one
//! being served.
//!
//! A client sees only that its request is outstanding. Whether it sits in
//! a queue (event-workers' calls waiting for a worker, a message behind a
//! stalled event loop) or is being handled, only the server knows. An
//! in-process server of `compare` keeps this log; the bench, in the same
//! process and on the same clock, matches each connection by its client's
//! address and each request to the message of the same rank. A server
//! without a log (every server but compare's) pays nothing for it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Most handler calls logged in all; later ones are not, so a long run
/// cannot fill the memory. The bench says how many requests it matched.
const MAX_CALLS: usize = 1_000_000;

/// One connection's handler calls, in order.
// Read by `compare` only (feature `bench`): without it nothing reads a log.
#[cfg_attr(not(feature = "bench"), allow(dead_code))]
#[derive(Debug, Clone)]
pub(crate) struct LoggedConn {
    /// The client's address, as the server knows it.
    pub peer: SocketAddr,
    /// When its session began: right after accept, or once a thread took it.
    pub opened: Instant,
    /// When each message's handler call began, in message order.
    pub calls: Vec<Instant>,
}

/// The calls of every connection of one server; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct CallLog {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// In the order they opened.
    conns: Vec<LoggedConn>,
    /// Where each connection id's entry is in `conns`.
    index: HashMap<u64, usize>,
    calls: usize,
}

impl CallLog {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connection `id` from `peer` began its session now.
    pub(crate) fn opened(&self, id: u64, peer: SocketAddr) {
        let conn = LoggedConn {
            peer,
            opened: Instant::now(),
            calls: Vec::new(),
        };
        let mut inner = self.inner();
        let at = inner.conns.len();
        inner.conns.push(conn);
        inner.index.insert(id, at);
    }

    /// Connection `id`'s next message is handed to its handler now.
    pub(crate) fn call(&self, id: u64) {
        let now = Instant::now();
        let mut inner = self.inner();
        if inner.calls >= MAX_CALLS {
            return;
        }
        inner.calls += 1;
        if let Some(&at) = inner.index.get(&id) {
            inner.conns[at].calls.push(now);
        }
    }

    /// Every connection logged, in the order they opened.
    #[cfg_attr(not(feature = "bench"), allow(dead_code))]
    pub(crate) fn take(&self) -> Vec<LoggedConn> {
        let mut inner = self.inner();
        inner.index.clear();
        std::mem::take(&mut inner.conns)
    }
}
