//! How every mode opens and closes a connection: the counting, the log
//! lines a learner reads, and the handler factory's panics.
//!
//! The blocking connection loop (`blocking/serve.rs`) and the event loops
//! (`event/loops.rs`) serve a connection very differently, but its story
//! is told the same way in every mode: `Accept new connection from ...`,
//! with `-v` which thread serves it and after how long a wait, then how it
//! ended. Written once here so the modes cannot drift apart, and a test
//! reading the log of one mode reads them all. Behind a load balancer a
//! connection may also end before it is opened, for want of a good PROXY
//! protocol header ([`close_unopened`]).

use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use super::live::ServerState;
use crate::handler::{ConnInfo, DisconnectReason, Handler};
use crate::session::catch_handler_panic;

/// Which deadline a [`DisconnectReason::Timeout`] missed, for the log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimedOut {
    Reading,
    Writing,
}

/// Starts serving connection `info`, taken from the backlog at
/// `accepted_at`: counts it, logs it, and makes its handler. `None` when it
/// must not be served: shutdown came while it waited (counted as unstarted)
/// or the factory panicked (counted as a panic); either way it is already
/// finished.
pub(crate) fn open(
    server: &ServerState,
    info: ConnInfo,
    accepted_at: Instant,
) -> Option<Box<dyn Handler>> {
    if server.shutdown.is_triggered() {
        // Accepted, then left waiting for a thread until shutdown came.
        server.stats.unstarted.fetch_add(1, Relaxed);
        server.conns.finish(info.id);
        return None;
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
    // The factory is handler code too: its panic must cost this connection
    // only (uncaught it would abort a pool, leak a threads slot, end a
    // serial server or stop an event loop with all its clients).
    match catch_handler_panic(|| (server.factory)()) {
        Ok(h) => Some(h),
        Err(text) => {
            log::error!(
                "Handler factory panicked for {}: {text}; connection closed.",
                info.peer
            );
            server.stats.ended(&DisconnectReason::Panic(text));
            server.conns.finish(info.id);
            None
        }
    }
}

/// Ends connection `info` before it was opened: it never sent the PROXY
/// protocol header it owed (`proxy_protocol` on), so no handler was made
/// and no `Accept new connection` line logged. `info.peer` is still the
/// socket's address (the balancer's, or whoever connected past it), which
/// is who the one log line must name. Counted by `reason`:
///
/// - [`DisconnectReason::Protocol`]: a missing, bad or refused header, a
///   warning and one more [`Summary::bad_proxy_headers`](super::Summary);
/// - [`DisconnectReason::Timeout`]: half a header, then silence (as any
///   slowloris, a timeout);
/// - [`DisconnectReason::ClientClosed`] with nothing sent: a plain TCP
///   health check, told at `info` and not counted as a fault;
/// - [`DisconnectReason::Shutdown`]: still waiting for its header when
///   shutdown came, counted as closed unserved;
/// - a reset or socket error, counted as an error.
pub(crate) fn close_unopened(
    server: &ServerState,
    info: ConnInfo,
    reason: &DisconnectReason,
    accepted_at: Instant,
) {
    let config = &server.config;
    log::debug!(
        "Client #{} ({}) done before its PROXY header: {} after {:.3} s.",
        info.id,
        info.peer,
        reason,
        accepted_at.elapsed().as_secs_f64()
    );
    match reason {
        DisconnectReason::Protocol(why) => {
            server.stats.bad_proxy_headers.fetch_add(1, Relaxed);
            log::warn!("Refused connection from {}: {why}.", info.peer);
        }
        DisconnectReason::Timeout => {
            server.stats.ended(reason);
            log::warn!(
                "Connection from {} closed: timeout: no complete PROXY protocol header in {} ms (read_timeout_ms).",
                info.peer,
                config.read_timeout_ms
            );
        }
        DisconnectReason::Shutdown => {
            server.stats.unstarted.fetch_add(1, Relaxed);
        }
        DisconnectReason::ClientClosed | DisconnectReason::Exit => log::info!(
            "Connection from {} closed before sending its PROXY protocol header.",
            info.peer
        ),
        DisconnectReason::Reset => {
            server.stats.ended(reason);
            log::info!(
                "Connection from {} closed before its PROXY protocol header: reset by the client.",
                info.peer
            );
        }
        other => {
            server.stats.ended(other);
            log::warn!(
                "Connection from {} closed before its PROXY protocol header: {other}.",
                info.peer
            );
        }
    }
    server.conns.finish(info.id);
}

/// Ends connection `info` (its handler's `on_disconnect` has run, its
/// traffic is counted): counts and logs why, then takes it out of the
/// table of live connections, which closes it.
pub(crate) fn close(
    server: &ServerState,
    info: ConnInfo,
    reason: &DisconnectReason,
    timed_out: TimedOut,
    accepted_at: Instant,
    messages: u64,
) {
    let config = &server.config;
    log::debug!(
        "Client #{} ({}) done: {} after {:.3} s, {} messages.",
        info.id,
        info.peer,
        reason,
        accepted_at.elapsed().as_secs_f64(),
        messages
    );
    server.stats.ended(reason);
    match reason {
        DisconnectReason::ClientClosed | DisconnectReason::Exit => {
            log::info!("Connection from {} closed.", info.peer)
        }
        DisconnectReason::Closed => {
            log::info!("Connection from {} closed by the server.", info.peer)
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
                "Connection from {} closed: timeout: client took no bytes sent to it in {} ms (write_timeout_ms).",
                info.peer,
                config.write_timeout_ms
            ),
        },
        DisconnectReason::SlowConsumer => log::warn!(
            "Connection from {} closed: too slow: its queue was full ({} bytes, max_pending_bytes) and it took next to nothing of it for {} ms (stall_timeout_ms).",
            info.peer,
            config.max_pending_bytes,
            config.stall_timeout_ms
        ),
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
