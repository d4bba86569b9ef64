//! Serving one connection on a blocking socket: read, hand the bytes to the
//! [`Session`], write what it produced, until the connection ends.
//!
//! Every mode in this crate serves connections with this one loop; modes
//! differ only in which thread runs it and when. The loop also carries out
//! the per-connection half of shutdown: after shutdown it answers only what
//! has already arrived, then closes.

use std::io::{self, Read};
use std::sync::atomic::{Ordering::Relaxed, Ordering::SeqCst};
use std::time::{Duration, Instant};

use super::lifecycle::{self, TimedOut, io_reason};
use super::live::{Accepted, ConnSocket, ServerState};
use super::stats::{Stats, Tally};
use crate::handler::DisconnectReason;
use crate::sender::Outbox;
use crate::session::{Session, Step};

/// Serves `conn` to the end on the calling thread.
pub(crate) fn serve(server: &ServerState, conn: Accepted) {
    let Accepted {
        info,
        socket,
        accepted_at,
    } = conn;
    socket.started.store(true, SeqCst);
    let Some(handler) = lifecycle::open(server, info, accepted_at) else {
        return;
    };
    let config = &server.config;
    let write_timeout = Duration::from_millis(config.write_timeout_ms);
    let _ = socket.stream.set_write_timeout(Some(write_timeout));
    let mut session = Session::new(
        handler,
        info,
        config.framing,
        config.max_message_bytes,
        socket.clone(),
    );
    let (reason, timed_out) = drive(server, &socket, &mut session);
    session.end(&reason);
    lifecycle::close(
        server,
        info,
        &reason,
        timed_out,
        accepted_at,
        session.messages(),
    );
}

/// The read-handle-write loop; returns why the connection ended (and, for
/// a timeout, which one).
fn drive(
    server: &ServerState,
    socket: &ConnSocket,
    session: &mut Session,
) -> (DisconnectReason, TimedOut) {
    let reading = |reason| (reason, TimedOut::Reading);
    let mut counts = Counts::new(&server.stats);
    let config = &server.config;
    let read_timeout = Duration::from_millis(config.read_timeout_ms);
    let mut buf = vec![0u8; config.framing.read_size(config.max_message_bytes)];
    let stream = &socket.stream;
    // The idle clock restarts at each complete message, so a client sending
    // one byte a second (slowloris) still runs out of time.
    let mut last_message = Instant::now();
    let mut timeout_set = None;
    let mut step = session.start();
    loop {
        if !session.output().is_empty() {
            if let Err(e) = socket.write_framed(session.output()) {
                return (io_reason(&e), TimedOut::Writing);
            }
            counts.bytes_out += session.output().len() as u64;
            session.clear_output();
        }
        if let Step::Close(reason) = step {
            return reading(reason);
        }
        let draining = server.shutdown.is_triggered();
        if draining {
            // Shutdown: take only what has already arrived, without waiting.
            let _ = stream.set_nonblocking(true);
        } else if !read_timeout.is_zero() {
            let left = read_timeout.saturating_sub(last_message.elapsed());
            if left.is_zero() {
                return reading(DisconnectReason::Timeout);
            }
            // Between messages the deadline is a whole `read_timeout` away, so
            // the common case costs no setsockopt; a partial message gets
            // only what is left of its time.
            let want = if session.pending() == 0 {
                read_timeout
            } else {
                left
            };
            if timeout_set != Some(want) {
                let _ = stream.set_read_timeout(Some(want));
                timeout_set = Some(want);
            }
        }
        let n = match (&*stream).read(&mut buf) {
            Ok(0) if draining || server.shutdown.is_triggered() => {
                return reading(DisconnectReason::Shutdown);
            }
            Ok(0) => return reading(DisconnectReason::ClientClosed),
            Ok(n) => n,
            Err(e) if draining && e.kind() == io::ErrorKind::WouldBlock => {
                return reading(DisconnectReason::Shutdown);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return reading(io_reason(&e)),
        };
        if draining {
            let _ = stream.set_nonblocking(false);
        }
        counts.bytes_in += n as u64;
        let before = session.messages();
        step = session.receive(&buf[..n]);
        let decoded = session.messages() - before;
        if decoded > 0 {
            counts.add_messages(decoded);
            last_message = Instant::now();
        }
        log::trace!(
            "Client #{}: read {n} bytes, {decoded} complete messages.",
            session.info().id
        );
    }
}

/// The connection's [`Tally`], added to the server's counters however
/// [`drive`] returns.
struct Counts<'a> {
    stats: &'a Stats,
    tally: Tally,
}

impl<'a> Counts<'a> {
    fn new(stats: &'a Stats) -> Counts<'a> {
        Counts {
            stats,
            tally: Tally::default(),
        }
    }

    fn add_messages(&mut self, n: u64) {
        self.tally.add_messages(n, self.stats);
    }
}

impl std::ops::Deref for Counts<'_> {
    type Target = Tally;
    fn deref(&self) -> &Tally {
        &self.tally
    }
}

impl std::ops::DerefMut for Counts<'_> {
    fn deref_mut(&mut self) -> &mut Tally {
        &mut self.tally
    }
}

impl Drop for Counts<'_> {
    fn drop(&mut self) {
        self.tally.flush(self.stats);
    }
}

/// Tells a client the server cannot take it now, and closes: pool mode's
/// answer when `queue_limit` connections already wait.
pub(crate) fn refuse_busy(server: &ServerState, conn: Accepted, why: &str) {
    let Accepted { info, socket, .. } = conn;
    socket.started.store(true, SeqCst);
    let _ = socket
        .stream
        .set_write_timeout(Some(Duration::from_millis(server.config.write_timeout_ms)));
    let mut framed = Vec::new();
    server.config.framing.encode(
        format!("Server busy: {why}; try again later.").as_bytes(),
        &mut framed,
    );
    let _ = socket.write_framed(&framed);
    server.stats.busy.fetch_add(1, Relaxed);
    log::warn!("Refused connection from {}: busy ({why}).", info.peer);
    server.conns.finish(info.id);
}
