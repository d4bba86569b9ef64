//! The listening socket and the accept call every mode shares.
//!
//! Binding goes through socket2 because std's `TcpListener::bind` fixes the
//! backlog (the lesson's `s.listen(5)`) at 128 and gives no way to set it.
//! Accepting goes through a mio poller so that shutdown can wake a blocked
//! accept at once (a `Waker`), instead of the accept loop waking up every
//! so often to look at a flag.

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};
use socket2::{Domain, Protocol, Socket, Type};

use crate::shutdown::Shutdown;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);

/// First wait after an accept error that is not the client's fault (out of
/// file descriptors, out of memory); doubled on each further failure up to
/// [`MAX_BACKOFF`], as Go's net/http does, so the server neither dies nor
/// spins a core while the machine is short of descriptors.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// A bound, listening socket and its poller.
pub(crate) struct Listener {
    listener: mio::net::TcpListener,
    poll: Poll,
    events: Events,
    waker: Arc<Waker>,
    local: SocketAddr,
}

/// Why the listening socket could not be made; the caller adds which
/// setting the address came from.
#[derive(Debug)]
pub(crate) enum BindError {
    Resolve(String),
    Io(io::Error),
}

impl Listener {
    /// Resolves `address`, binds it and listens with `backlog`.
    pub fn bind(address: &str, backlog: u32, reuse_port: bool) -> Result<Listener, BindError> {
        let addr = address
            .to_socket_addrs()
            .map_err(|e| BindError::Resolve(crate::error::io_text(&e)))?
            .next()
            .ok_or_else(|| BindError::Resolve("resolves to no address".into()))?;
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
            .map_err(BindError::Io)?;
        // Lets a restarted server bind while old connections sit in
        // TIME_WAIT; it does not let two servers share a port on Linux.
        // Not on Windows: there SO_REUSEADDR lets another program take
        // the port from a listening server, and a restart binds anyway.
        #[cfg(unix)]
        socket.set_reuse_address(true).map_err(BindError::Io)?;
        #[cfg(unix)]
        if reuse_port {
            socket.set_reuse_port(true).map_err(BindError::Io)?;
        }
        // Windows has no SO_REUSEPORT; `Config::validate` refuses it there.
        #[cfg(not(unix))]
        let _ = reuse_port;
        socket.bind(&addr.into()).map_err(BindError::Io)?;
        let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
        socket.listen(backlog).map_err(BindError::Io)?;
        socket.set_nonblocking(true).map_err(BindError::Io)?;
        let std_listener: std::net::TcpListener = socket.into();
        let local = std_listener.local_addr().map_err(BindError::Io)?;
        let mut listener = mio::net::TcpListener::from_std(std_listener);
        let poll = Poll::new().map_err(BindError::Io)?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .map_err(BindError::Io)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER).map_err(BindError::Io)?);
        Ok(Listener {
            listener,
            poll,
            events: Events::with_capacity(8),
            waker,
            local,
        })
    }

    /// The address actually bound (with the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Wakes a blocked [`accept`](Listener::accept); the shutdown hook.
    pub fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    /// Waits for the next connection and returns it as a blocking socket,
    /// or `None` once `shutdown` is triggered.
    pub fn accept(&mut self, shutdown: &Shutdown) -> Option<(TcpStream, SocketAddr)> {
        let mut backoff = FIRST_BACKOFF;
        let mut failures = 0u32;
        loop {
            if shutdown.is_triggered() {
                return None;
            }
            // mio is edge-triggered: accept until the queue is empty before
            // waiting again, or a waiting client could be missed.
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    if failures > 0 {
                        log::info!("accept works again after {failures} failed attempts.");
                    }
                    let stream = TcpStream::from(stream);
                    // Connections are served with blocking reads and writes
                    // (the lesson's model); some systems pass the listener's
                    // non-blocking flag on to accepted sockets.
                    if let Err(e) = stream.set_nonblocking(false) {
                        log::warn!("Dropping connection from {peer}: {e}");
                        continue;
                    }
                    // Request/reply traffic: send each reply at once.
                    let _ = stream.set_nodelay(true);
                    // Apple systems have no MSG_NOSIGNAL: a write to a
                    // client that is gone would raise SIGPIPE, which kills
                    // a host program that does not ignore it (Rust's own
                    // `main` does). The socket option stops it for good.
                    #[cfg(target_vendor = "apple")]
                    if let Err(e) = socket2::SockRef::from(&stream).set_nosigpipe(true) {
                        log::warn!("Dropping connection from {peer}: {e}");
                        continue;
                    }
                    return Some((stream, peer));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if client_gone(&e) || e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // One line per outage: at the 1 s cap a long shortage
                    // of descriptors would otherwise log every second.
                    failures += 1;
                    let text = crate::error::io_text(&e);
                    if failures == 1 {
                        log::warn!(
                            "accept failed: {text}; new clients wait in the backlog; \
                             retrying after {} ms, doubling up to {} ms",
                            backoff.as_millis(),
                            MAX_BACKOFF.as_millis()
                        );
                    } else {
                        log::debug!("accept failed again: {text}");
                    }
                    let wait = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    if !self.pause(wait) {
                        return None;
                    }
                    continue;
                }
            }
            if let Err(e) = self.poll.poll(&mut self.events, None)
                && e.kind() != io::ErrorKind::Interrupted
            {
                log::error!("listener poll failed: {e}");
                return None;
            }
        }
    }

    /// Sleeps `wait` unless shutdown wakes it; `false` if the poller broke.
    ///
    /// New clients arriving do not end the pause: with an edge-triggered
    /// poller each one would wake it, and under a flood of clients the
    /// backoff would turn into a busy retry loop. None is missed: the
    /// accept after the pause takes every client queued meanwhile.
    fn pause(&mut self, wait: Duration) -> bool {
        let until = Instant::now() + wait;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            match self.poll.poll(&mut self.events, Some(left)) {
                Ok(()) if self.events.iter().any(|e| e.token() == WAKER) => return true,
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::error!("listener poll failed: {e}");
                    return false;
                }
            }
        }
    }
}

/// Errors about one client that left before we accepted it; the next
/// accept is unaffected.
fn client_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}
