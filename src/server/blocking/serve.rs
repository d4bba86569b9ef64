//! Serving one connection on a blocking socket: read, hand the bytes to the
//! [`Session`], write what it produced, until the connection ends.
//!
//! Every blocking mode serves connections with this one loop; they differ
//! only in which thread runs it and when. The loop also carries out
//! the per-connection half of shutdown: after shutdown it answers only what
//! has already arrived, then closes.
//!
//! Replies go out through the connection's queue (`outgoing/`), behind
//! what others sent to it, and the loop reads on only once they have left:
//! a client that does not read its replies is not read either, and is cut
//! after `write_timeout_ms`, as with a blocking write. Before a connection
//! closes, what was queued for it is flushed (within `write_timeout_ms`,
//! and at shutdown within `shutdown_timeout_ms`).

use std::io::{self, Write};
use std::sync::atomic::{Ordering::Relaxed, Ordering::SeqCst};
use std::time::{Duration, Instant};

use super::Conn;
use super::reader::{Reader, Wait};
use super::socket::Socket;
use crate::handler::{ConnInfo, DisconnectReason};
use crate::server::lifecycle::{self, TimedOut};
use crate::server::live::ServerState;
use crate::server::proxy_header::{ProxyHeader, Verdict};
use crate::server::stats::{Stats, Tally};
use crate::session::{Session, Step};

/// Serves `conn` to the end on the calling thread.
pub(crate) fn serve(server: &ServerState, conn: Conn) {
    let Conn {
        mut info,
        out: socket,
        accepted_at,
    } = conn;
    socket.wire().started.store(true, SeqCst);
    let wire = socket.wire();
    let mut reader = match Reader::new(&wire.stream, &wire.wakes) {
        Ok(r) => r,
        Err(e) => {
            // Windows only (Unix readers need nothing): no poll to wait in.
            log::error!(
                "Cannot wait for data from {}: {e}; connection closed.",
                info.peer
            );
            server.stats.errors.fetch_add(1, Relaxed);
            server.conns.finish(info.id);
            return;
        }
    };
    // Behind a balancer the header comes first: it names the client the
    // handler and every log line must see.
    let mut early = Vec::new();
    if let Some(header) = ProxyHeader::expected(server.config.proxy_protocol) {
        match read_proxy_header(server, &mut reader, &mut info, header) {
            Ok(rest) => early = rest,
            Err(reason) => {
                lifecycle::close_unopened(server, info, &reason, accepted_at);
                return;
            }
        }
    }
    let Some(handler) = lifecycle::open(server, info, accepted_at) else {
        return;
    };
    let config = &server.config;
    let mut session = Session::new(handler, info, config, socket.clone(), server.calls.clone());
    let (reason, timed_out) = drive(server, &socket, &mut reader, &mut session, &early);
    let (reason, timed_out) = flush_before_close(&socket, reason, timed_out);
    // Replies and what senders sent, whichever thread wrote them.
    server.stats.bytes_out.fetch_add(socket.taken(), Relaxed);
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

/// Reads connection `info`'s PROXY protocol header (`proxy_protocol` on),
/// blocking, within `read_timeout_ms` counted from here: the I/O around
/// the sans-IO reader (`proxy_header/`) the event loops share. On
/// success `info` names the header's client and the bytes read after the
/// header (the client's first data) are returned; otherwise why the
/// connection must close unopened (see [`lifecycle::close_unopened`]).
fn read_proxy_header(
    server: &ServerState,
    reader: &mut Reader,
    info: &mut ConnInfo,
    mut header: ProxyHeader,
) -> Result<Vec<u8>, DisconnectReason> {
    let config = &server.config;
    let read_timeout = Duration::from_millis(config.read_timeout_ms);
    let started = Instant::now();
    // The session's read size: data after the header in the same read is
    // the first read the session gets, as it would without a header.
    let mut buf = vec![0u8; config.read_size()];
    loop {
        let wait = if read_timeout.is_zero() {
            Wait::Forever
        } else {
            let left = read_timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(DisconnectReason::Timeout);
            }
            Wait::For(left)
        };
        let n = match reader.read(&mut buf, wait) {
            // Shutdown stops the read (`stop_reading`): never served.
            Ok(0) if server.shutdown.is_triggered() => return Err(DisconnectReason::Shutdown),
            Ok(0) => {
                return Err(header
                    .cut_short()
                    .map_or(DisconnectReason::ClientClosed, DisconnectReason::Protocol));
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DisconnectReason::from_io(&e)),
        };
        match header.feed(&buf[..n]) {
            Verdict::NeedMore => {}
            Verdict::Invalid(why) => return Err(DisconnectReason::Protocol(why)),
            Verdict::Done(found) => {
                found.apply(info);
                buf.copy_within(found.used..n, 0);
                buf.truncate(n - found.used);
                return Ok(buf);
            }
        }
    }
}

/// The read-handle-write loop; returns why the connection ended (and, for
/// a timeout, which one). `early` is the client's data read with its PROXY
/// header, handled first.
fn drive(
    server: &ServerState,
    socket: &Socket,
    reader: &mut Reader,
    session: &mut Session,
    early: &[u8],
) -> (DisconnectReason, TimedOut) {
    let reading = |reason| (reason, TimedOut::Reading);
    let mut counts = Counts::new(&server.stats);
    let config = &server.config;
    let read_timeout = Duration::from_millis(config.read_timeout_ms);
    let mut buf = vec![0u8; config.read_size()];
    // The idle clock restarts at each complete message, so a client sending
    // one byte a second (slowloris) still runs out of time.
    let mut last_message = Instant::now();
    let mut step = session.start();
    if !early.is_empty() && step == Step::Continue {
        counts.bytes_in += early.len() as u64;
        step = session.receive(early);
        if session.messages() > 0 {
            counts.add_messages(session.messages());
            last_message = Instant::now();
        }
    }
    loop {
        if !session.output().is_empty() {
            let sent = socket
                .reply(session.output())
                .and_then(|mark| socket.wait_sent(mark));
            if let Err(cut) = sent {
                return closed(server, cut);
            }
            session.clear_output();
        }
        if let Step::Close(reason) = step {
            return reading(reason);
        }
        let draining = server.shutdown.is_triggered();
        let wait = if draining {
            // Shutdown: take only what has already arrived, without waiting.
            Wait::Now
        } else if read_timeout.is_zero() {
            Wait::Forever
        } else {
            let left = read_timeout.saturating_sub(last_message.elapsed());
            if left.is_zero() {
                return reading(DisconnectReason::Timeout);
            }
            // Between messages the deadline is a whole `read_timeout` away, so
            // the common case costs no setsockopt (the reader changes the
            // socket's timeout only when asked for another); a partial
            // message gets only what is left of its time.
            Wait::For(if session.pending() == 0 {
                read_timeout
            } else {
                left
            })
        };
        let read = reader.read(&mut buf, wait);
        if matches!(read, Ok(0) | Err(_))
            && let Some(cut) = socket.cut_reason()
        {
            // The outgoing side cut the connection (too slow, its queue
            // stalled, closed by a sender): that, not the read's end, is
            // why it ended.
            return closed(server, cut);
        }
        let n = match read {
            Ok(0) if draining || server.shutdown.is_triggered() => {
                return reading(DisconnectReason::Shutdown);
            }
            Ok(0) => return reading(DisconnectReason::ClientClosed),
            Ok(n) => n,
            Err(e) if draining && e.kind() == io::ErrorKind::WouldBlock => {
                return reading(DisconnectReason::Shutdown);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return reading(DisconnectReason::from_io(&e)),
        };
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

/// Why the connection ended when its socket was cut under a reply: the
/// outgoing side's reason (too slow, a timeout, closed by a sender, or
/// shutdown's deadline).
fn closed(server: &ServerState, cut: DisconnectReason) -> (DisconnectReason, TimedOut) {
    match cut {
        DisconnectReason::Shutdown if !server.shutdown.is_triggered() => {
            (DisconnectReason::ClientClosed, TimedOut::Reading)
        }
        DisconnectReason::Shutdown => (DisconnectReason::Shutdown, TimedOut::Reading),
        reason => (reason, TimedOut::Writing),
    }
}

/// A connection that ends cleanly first gets what was queued for it
/// (pushes its socket had no room for), as a blocking write would have
/// delivered them; a client that takes none of it for `write_timeout_ms`
/// is cut instead. Pushes that arrive meanwhile are not waited for.
fn flush_before_close(
    socket: &Socket,
    reason: DisconnectReason,
    timed_out: TimedOut,
) -> (DisconnectReason, TimedOut) {
    let clean = matches!(
        reason,
        DisconnectReason::ClientClosed | DisconnectReason::Exit | DisconnectReason::Shutdown
    );
    if !clean {
        return (reason, timed_out);
    }
    match socket.wait_sent(socket.end_mark()) {
        // Closed at shutdown's deadline: nothing more to say.
        Ok(()) | Err(DisconnectReason::Shutdown) => (reason, timed_out),
        Err(cut) => (cut, TimedOut::Writing),
    }
}

/// Tells a client the server cannot take it now, and closes: pool mode's
/// answer when `queue_limit` connections already wait.
pub(crate) fn refuse_busy(server: &ServerState, conn: Conn, why: &str) {
    let Conn {
        info, out: socket, ..
    } = conn;
    socket.wire().started.store(true, SeqCst);
    let stream = &socket.wire().stream;
    let _ = stream.set_write_timeout(Some(Duration::from_millis(server.config.write_timeout_ms)));
    let mut framed = Vec::new();
    // A codec that cannot frame this line sends nothing but the close.
    let _ = server.config.codec().encode(
        format!("Server busy: {why}; try again later.").as_bytes(),
        &mut framed,
    );
    // Written directly and blocking (bounded by write_timeout_ms): the
    // connection closes right after, so a queue would be dropped unsent.
    // A fresh socket's buffer takes one short line at once anyway.
    let _ = (&*stream).write_all(&framed);
    server.stats.busy.fetch_add(1, Relaxed);
    log::warn!("Refused connection from {}: busy ({why}).", info.peer);
    server.conns.finish(info.id);
}
