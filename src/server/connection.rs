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

use super::live::{Accepted, ConnSocket, ServerState};
use super::stats::Stats;
use crate::error::io_text;
use crate::handler::DisconnectReason;
use crate::sender::Outbox;
use crate::session::{Session, Step, catch_handler_panic};

/// Serves `conn` to the end on the calling thread.
pub(crate) fn serve(server: &ServerState, conn: Accepted) {
    let Accepted {
        info,
        socket,
        accepted_at,
    } = conn;
    socket.started.store(true, SeqCst);
    if server.shutdown.is_triggered() {
        // Accepted, then left waiting for a thread until shutdown came.
        server.stats.unstarted.fetch_add(1, Relaxed);
        server.conns.finish(info.id);
        return;
    }
    log::info!("Accept new connection from {}...", info.peer);
    log::debug!(
        "Client #{} ({}) served by thread {}, {:.3} s after it was taken from the backlog.",
        info.id,
        info.peer,
        std::thread::current().name().unwrap_or("?"),
        accepted_at.elapsed().as_secs_f64()
    );
    server.stats.served.fetch_add(1, Relaxed);

    let config = &server.config;
    let write_timeout = Duration::from_millis(config.write_timeout_ms);
    let _ = socket.stream.set_write_timeout(Some(write_timeout));
    // The factory is handler code too: its panic must cost this connection
    // only (uncaught it would abort a pool, leak a threads slot, or end a
    // serial server).
    let handler = match catch_handler_panic(|| (server.factory)()) {
        Ok(h) => h,
        Err(text) => {
            log::error!(
                "Handler factory panicked for {}: {text}; connection closed.",
                info.peer
            );
            server.stats.ended(&DisconnectReason::Panic(text));
            server.conns.finish(info.id);
            return;
        }
    };
    let mut session = Session::new(
        handler,
        info,
        config.framing,
        config.max_message_bytes,
        socket.clone(),
    );
    let (reason, timed_out) = drive(server, &socket, &mut session);
    session.end(&reason);
    log::debug!(
        "Client #{} ({}) done: {} after {:.3} s, {} messages.",
        info.id,
        info.peer,
        reason,
        accepted_at.elapsed().as_secs_f64(),
        session.messages()
    );
    server.stats.ended(&reason);
    match &reason {
        DisconnectReason::ClientClosed | DisconnectReason::Exit => {
            log::info!("Connection from {} closed.", info.peer)
        }
        DisconnectReason::Shutdown => {
            log::info!(
                "Connection from {} closed (server shutting down).",
                info.peer
            )
        }
        DisconnectReason::Timeout => match timed_out {
            TimedOut::Reading => log::warn!(
                "Connection from {} closed: timeout: no complete message in {} ms (read_timeout_ms).",
                info.peer,
                config.read_timeout_ms
            ),
            TimedOut::Writing => log::warn!(
                "Connection from {} closed: timeout: client took no reply bytes in {} ms (write_timeout_ms).",
                info.peer,
                config.write_timeout_ms
            ),
        },
        // The client's doing, not a fault of the server: not a warning.
        DisconnectReason::Reset => {
            log::info!("Connection from {} closed: reset by the client.", info.peer)
        }
        other => log::warn!("Connection from {} closed: {other}.", info.peer),
    }
    // Last: the server's summary is taken once the table is empty, so
    // everything this connection counts must be counted before.
    server.conns.finish(info.id);
}

/// Which deadline a [`DisconnectReason::Timeout`] missed, for the log line.
enum TimedOut {
    Reading,
    Writing,
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

/// One connection's traffic, added to the server's [`Stats`] in batches
/// and when the connection ends. An atomic add per message on counters that
/// every connection shares would bounce their cache line between cores on
/// every message; batching keeps the summary exact for every connection
/// that ends (a connection cut at shutdown may miss its last batch).
struct Counts<'a> {
    stats: &'a Stats,
    messages: u64,
    bytes_in: u64,
    bytes_out: u64,
    unflushed: u64,
}

impl<'a> Counts<'a> {
    const BATCH: u64 = 64;

    fn new(stats: &'a Stats) -> Counts<'a> {
        Counts {
            stats,
            messages: 0,
            bytes_in: 0,
            bytes_out: 0,
            unflushed: 0,
        }
    }

    fn add_messages(&mut self, n: u64) {
        self.messages += n;
        self.unflushed += n;
        if self.unflushed >= Self::BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let s = self.stats;
        s.messages
            .fetch_add(std::mem::take(&mut self.messages), Relaxed);
        s.bytes_in
            .fetch_add(std::mem::take(&mut self.bytes_in), Relaxed);
        s.bytes_out
            .fetch_add(std::mem::take(&mut self.bytes_out), Relaxed);
        self.unflushed = 0;
    }
}

impl Drop for Counts<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

fn io_reason(e: &io::Error) -> DisconnectReason {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => DisconnectReason::Timeout,
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => DisconnectReason::Reset,
        _ => DisconnectReason::Error(io_text(e)),
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
