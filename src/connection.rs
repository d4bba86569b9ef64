//! Serving one connection on a blocking socket: read, hand the bytes to the
//! [`Session`], write what it produced, until the connection ends.
//!
//! Every mode in this crate serves connections with this one loop; modes
//! differ only in which thread runs it and when. The loop also carries out
//! the per-connection half of shutdown: after shutdown it answers only what
//! has already arrived, then closes.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown as Both, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::config::io_text;
use crate::handler::{ConnInfo, DisconnectReason};
use crate::sender::Outbox;
use crate::server::Shared;
use crate::session::{Session, Step, catch_handler_panic};
use crate::stats::Stats;

/// A connection's socket, shared by its serving thread, its [`Sender`]s
/// and the shutdown hook.
///
/// [`Sender`]: crate::Sender
pub(crate) struct Socket {
    stream: TcpStream,
    /// Whole messages take turns: a reply and a pushed chat line never mix.
    write_lock: Mutex<()>,
    closed: AtomicBool,
    /// Set when a thread starts serving; shutdown treats connections still
    /// waiting for a thread differently from those being served.
    started: AtomicBool,
}

impl Socket {
    fn new(stream: TcpStream) -> Socket {
        Socket {
            stream,
            write_lock: Mutex::new(()),
            closed: AtomicBool::new(false),
            started: AtomicBool::new(false),
        }
    }
}

impl Outbox for Socket {
    fn write_framed(&self, bytes: &[u8]) -> io::Result<()> {
        let _turn = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        if self.closed.load(SeqCst) {
            return Err(io::ErrorKind::NotConnected.into());
        }
        (&self.stream).write_all(bytes)
    }

    fn close(&self) {
        self.closed.store(true, SeqCst);
        let _ = self.stream.shutdown(Both::Both);
    }
}

/// A connection accepted from the listener, not yet served.
pub(crate) struct Accepted {
    pub info: ConnInfo,
    socket: Arc<Socket>,
}

/// Every connection accepted and not yet finished, so shutdown can reach
/// them and the server can wait for them to finish.
#[derive(Default)]
pub(crate) struct ConnTable {
    live: Mutex<HashMap<u64, Arc<Socket>>>,
    emptied: Condvar,
}

impl ConnTable {
    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Socket>>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a new connection; its id is `info.id`.
    pub fn add(&self, info: ConnInfo, stream: TcpStream) -> Accepted {
        let socket = Arc::new(Socket::new(stream));
        self.live().insert(info.id, socket.clone());
        Accepted { info, socket }
    }

    /// Closes a connection and forgets it: every way a connection ends
    /// (served, refused, never started, no thread for it) ends here, so
    /// its client sees the close and shutdown stops waiting for it.
    pub fn finish(&self, id: u64) {
        let mut live = self.live();
        if let Some(socket) = live.remove(&id) {
            socket.close();
        }
        if live.is_empty() {
            self.emptied.notify_all();
        }
    }

    /// The shutdown hook: a connection being served stops reading new input
    /// (its blocked read returns at once, what already arrived is still
    /// read and answered); one still waiting for a thread is closed.
    pub fn stop_reading(&self) {
        for socket in self.live().values() {
            if socket.started.load(SeqCst) {
                let _ = socket.stream.shutdown(Both::Read);
            } else {
                socket.close();
            }
        }
    }

    /// Waits until every connection has finished or `timeout` passes, then
    /// cuts the ones left. Returns how many were cut.
    pub fn drain(&self, timeout: Duration) -> u64 {
        let live = self.live();
        let (live, _) = self
            .emptied
            .wait_timeout_while(live, timeout, |l| !l.is_empty())
            .unwrap_or_else(|e| e.into_inner());
        for (_, socket) in live.iter() {
            socket.close();
        }
        live.len() as u64
    }
}

/// Serves `conn` to the end on the calling thread.
pub(crate) fn serve(server: &Shared, conn: Accepted) {
    let Accepted { info, socket } = conn;
    socket.started.store(true, SeqCst);
    if server.shutdown.is_triggered() {
        // Accepted, then left waiting for a thread until shutdown came.
        server.stats.unstarted.fetch_add(1, Relaxed);
        server.conns.finish(info.id);
        return;
    }
    log::info!("Accept new connection from {}...", info.peer);
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
fn drive(server: &Shared, socket: &Socket, session: &mut Session) -> (DisconnectReason, TimedOut) {
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
pub(crate) fn refuse_busy(server: &Shared, conn: Accepted, why: &str) {
    let Accepted { info, socket } = conn;
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
