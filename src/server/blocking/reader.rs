//! [`Reader`]: how a connection's thread waits for its client's bytes in
//! the blocking modes, with a deadline, and is woken at shutdown and when
//! the connection is cut.
//!
//! The lesson's model is a blocking read, and on Unix it is one: the
//! socket stays blocking, the deadline is `SO_RCVTIMEO`, and the other
//! threads stop a read with `shutdown(2)`, which wakes it at once
//! (shutting the read side makes it return 0; a cut shuts both). Every
//! send elsewhere is non-blocking by a per-call flag (`socket.rs`).
//!
//! Windows has neither half of that. Whether a send may block is a mode of
//! the socket (`FIONBIO`), not a flag of the call, and the socket's
//! handles share it (it is set on each here all the same); and
//! `shutdown()` does not wake a thread blocked in `recv` (under wine it
//! never returns; on Windows the read side's shutdown is not promised to
//! end it either). So there the socket is non-blocking from the moment its
//! thread starts serving it (before anyone may send on it: senders exist
//! once its handler does; pool's "busy" line before that is a blocking
//! write with a timeout), every send is a plain write that never waits,
//! and the thread "blocks" in a mio `Poll` of its own: the socket
//! registered for READABLE, and a `Waker` that shutdown and a cut ring
//! ([`ReadWakes`]). The deadline is the poll's timeout. No loop that looks
//! every few milliseconds: the thread sleeps until its client sends, the
//! deadline passes, or it is told to stop.
//!
//! Either way the serving loop (`serve.rs`) sees the same thing: bytes,
//! `Ok(0)` once the client closed or reading was stopped (after what had
//! already arrived), a timeout as an error of kind `WouldBlock` or
//! `TimedOut`, or the socket's own error.

use std::io;
use std::net::TcpStream;
use std::time::Duration;

/// How long one [`Reader::read`] may wait for bytes to arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Take only what has already arrived (shutdown's drain): an error of
    /// kind `WouldBlock` if nothing has.
    Now,
    /// At most this long (not zero): then an error of kind `WouldBlock`
    /// or `TimedOut`.
    For(Duration),
    /// Until something arrives, the client closes, or reading is stopped.
    Forever,
}

#[cfg(unix)]
pub(crate) use unix::{ReadWakes, Reader};
#[cfg(windows)]
pub(crate) use windows::{ReadWakes, Reader};

#[cfg(unix)]
mod unix {
    use super::*;
    use std::io::Read;
    use std::net::Shutdown as Both;

    /// How other threads stop the connection's reads: `shutdown(2)` on the
    /// socket itself, so nothing to keep.
    pub(crate) struct ReadWakes;

    impl ReadWakes {
        pub fn new() -> ReadWakes {
            ReadWakes
        }

        /// Shutdown: the blocked read returns 0 at once.
        pub fn stop(&self, stream: &TcpStream) {
            let _ = stream.shutdown(Both::Read);
        }

        /// A cut: the read returns, and the client sees the end.
        pub fn cut(&self, stream: &TcpStream) {
            let _ = stream.shutdown(Both::Both);
        }
    }

    /// The connection's thread's reads: blocking, `SO_RCVTIMEO` as the
    /// deadline; the socket's mode and timeout are changed only when a read
    /// asks for another than the last one did (a setsockopt each).
    pub(crate) struct Reader<'a> {
        stream: &'a TcpStream,
        nonblocking: bool,
        /// What `SO_RCVTIMEO` is now (none on an accepted socket).
        timeout: Option<Duration>,
    }

    impl<'a> Reader<'a> {
        /// The reader of `stream`, the connection's socket (blocking, as
        /// the listener hands it over).
        pub fn new(stream: &'a TcpStream, _wakes: &'a ReadWakes) -> io::Result<Reader<'a>> {
            Ok(Reader {
                stream,
                nonblocking: false,
                timeout: None,
            })
        }

        /// Reads what has arrived, waiting as `wait` says if nothing has.
        pub fn read(&mut self, buf: &mut [u8], wait: Wait) -> io::Result<usize> {
            let nonblocking = wait == Wait::Now;
            if nonblocking != self.nonblocking {
                self.stream.set_nonblocking(nonblocking)?;
                self.nonblocking = nonblocking;
            }
            let timeout = match wait {
                Wait::For(d) => Some(d),
                Wait::Now | Wait::Forever => None,
            };
            // `Now` keeps whatever timeout was set: a non-blocking read
            // does not wait for it.
            if !nonblocking && timeout != self.timeout {
                self.stream.set_read_timeout(timeout)?;
                self.timeout = timeout;
            }
            (&*self.stream).read(buf)
        }
    }
}

#[cfg(windows)]
mod windows {
    use super::*;
    use std::io::Read;
    use std::net::Shutdown as Both;
    use std::sync::{Arc, Mutex, MutexGuard};
    use std::time::Instant;

    use mio::{Events, Interest, Poll, Token, Waker};

    const SOCKET: Token = Token(0);
    const WAKE: Token = Token(1);

    /// How other threads stop the connection's reads: a flag, and the
    /// waker of the poll its thread waits in (while one does).
    #[derive(Default)]
    pub(crate) struct ReadWakes {
        state: Mutex<WakeState>,
    }

    #[derive(Default)]
    struct WakeState {
        /// Reading was stopped (shutdown) or the connection cut: once what
        /// has arrived is read, reads return 0.
        stopped: bool,
        /// The reading thread's waker, while it reads.
        waker: Option<Arc<Waker>>,
    }

    impl ReadWakes {
        pub fn new() -> ReadWakes {
            ReadWakes::default()
        }

        fn state(&self) -> MutexGuard<'_, WakeState> {
            self.state.lock().unwrap_or_else(|e| e.into_inner())
        }

        /// Shutdown: the reader takes what has arrived, then gets 0. The
        /// socket is left open both ways: replies still go out.
        pub fn stop(&self, _stream: &TcpStream) {
            self.stop_and_wake();
        }

        /// A cut: the client sees the end, and the reader is woken.
        pub fn cut(&self, stream: &TcpStream) {
            let _ = stream.shutdown(Both::Both);
            self.stop_and_wake();
        }

        fn stop_and_wake(&self) {
            // Under the lock: a reader that set its waker before this sees
            // the wake; one that sets it after sees the flag first.
            let mut st = self.state();
            st.stopped = true;
            if let Some(waker) = &st.waker
                && let Err(e) = waker.wake()
            {
                log::error!("cannot wake a connection's thread: {e}");
            }
        }

        fn stopped(&self) -> bool {
            self.state().stopped
        }
    }

    /// The connection's thread's reads: a non-blocking socket, and a poll
    /// of its own to wait in (see the module docs).
    pub(crate) struct Reader<'a> {
        wakes: &'a ReadWakes,
        poll: Poll,
        events: Events,
        /// A second handle of the socket, registered with `poll`: reads go
        /// through it, so mio arms the poll again each time one would
        /// block (it reports readiness once per arming).
        watched: mio::net::TcpStream,
    }

    impl<'a> Reader<'a> {
        /// The reader of `stream`, the connection's socket: makes it
        /// non-blocking (for every handle of it, so every send too).
        pub fn new(stream: &'a TcpStream, wakes: &'a ReadWakes) -> io::Result<Reader<'a>> {
            stream.set_nonblocking(true)?;
            let clone = stream.try_clone()?;
            clone.set_nonblocking(true)?;
            let mut watched = mio::net::TcpStream::from_std(clone);
            let poll = Poll::new()?;
            poll.registry()
                .register(&mut watched, SOCKET, Interest::READABLE)?;
            let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
            wakes.state().waker = Some(waker);
            Ok(Reader {
                wakes,
                poll,
                events: Events::with_capacity(4),
                watched,
            })
        }

        /// Reads what has arrived, waiting as `wait` says if nothing has.
        pub fn read(&mut self, buf: &mut [u8], wait: Wait) -> io::Result<usize> {
            let deadline = match wait {
                Wait::For(d) => Some(Instant::now() + d),
                Wait::Now | Wait::Forever => None,
            };
            loop {
                match (&self.watched).read(buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    done => return done,
                }
                if wait == Wait::Now {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                // Checked after the read: what arrived before the stop is
                // still read, as after `shutdown(SHUT_RD)` on Linux.
                if self.wakes.stopped() {
                    return Ok(0);
                }
                let timeout = match deadline {
                    Some(at) => {
                        let left = at.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return Err(io::ErrorKind::TimedOut.into());
                        }
                        Some(left)
                    }
                    None => None,
                };
                match self.poll.poll(&mut self.events, timeout) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }

    impl Drop for Reader<'_> {
        fn drop(&mut self) {
            self.wakes.state().waker = None;
        }
    }
}
