//! [`ConnSocket`]: a connection's socket in the blocking modes, as its
//! outgoing side ([`Outgoing`]) writes it.
//!
//! The connection's own thread reads the socket, waiting (`reader.rs`).
//! Anyone may write it: its replies, and [`Sender`](crate::Sender)s on any
//! thread (a chat line from the speaker's thread). Every write is one send
//! that never waits, so the writer is held up only by the queue's limit,
//! never by the socket; what the socket does not take at once waits in the
//! queue, and the server's flusher thread (`flusher.rs`) writes it as the
//! socket drains and cuts the client that stops taking it.
//!
//! How a send never waits depends on the system. On Unix it is a per-call
//! flag (`MSG_DONTWAIT`, through rustix: std has none, and the crate
//! forbids unsafe code), so the socket itself stays blocking for the
//! thread that reads it. Windows has no such flag; there the socket is
//! non-blocking throughout (its reader waits in a poll instead, see
//! `reader.rs`), and a send is a plain write.

use std::io;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::Instant;

use mio::{Registry, Token};

use super::flusher::{Flush, FlushQueue, Flushed};
use super::reader::ReadWakes;
use crate::handler::DisconnectReason;
use crate::server::outgoing::{Outgoing, Wire};

/// A blocking connection: its outgoing side, which owns the socket.
pub(crate) type Socket = Outgoing<ConnSocket>;

/// A connection's socket; see the module docs.
pub(crate) struct ConnSocket {
    /// Read by the connection's thread only (through a `Reader`).
    pub stream: TcpStream,
    /// Set when a thread starts serving; shutdown closes connections still
    /// waiting for a thread, and lets those being served answer.
    pub started: AtomicBool,
    /// How shutdown and a cut reach the thread reading it.
    pub wakes: ReadWakes,
    /// Where a socket with bytes waiting hands itself over.
    flusher: Arc<FlushQueue>,
    /// Windows: the handle of the socket the flusher watches (see
    /// [`Flush::register`]), made the first time it does.
    #[cfg(windows)]
    watched: std::sync::Mutex<Option<mio::net::TcpStream>>,
}

impl ConnSocket {
    /// The socket `stream`, drained by `flusher` when it falls behind.
    pub fn new(stream: TcpStream, flusher: Arc<FlushQueue>) -> ConnSocket {
        ConnSocket {
            stream,
            started: AtomicBool::new(false),
            wakes: ReadWakes::new(),
            flusher,
            #[cfg(windows)]
            watched: std::sync::Mutex::new(None),
        }
    }
}

/// The flags of every send: never wait; on Linux also no SIGPIPE for a
/// peer that is gone (what std's own socket writes ask for; Apple systems
/// have no such flag, and the listener sets `SO_NOSIGPIPE` on the socket).
#[cfg(any(target_os = "linux", target_os = "android"))]
const SEND: rustix::net::SendFlags =
    rustix::net::SendFlags::DONTWAIT.union(rustix::net::SendFlags::NOSIGNAL);
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
const SEND: rustix::net::SendFlags = rustix::net::SendFlags::DONTWAIT;

/// One send that takes what the socket has room for now, or fails with
/// `WouldBlock`.
#[cfg(unix)]
fn send_now(stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    match rustix::net::send(stream, bytes, SEND) {
        Ok(0) if !bytes.is_empty() => Err(io::ErrorKind::WriteZero.into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.into()),
    }
}

/// One send that takes what the socket has room for now, or fails with
/// `WouldBlock`: the socket is non-blocking from the moment its thread
/// starts serving it, and nobody writes it before.
#[cfg(windows)]
fn send_now(stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    use std::io::Write;
    match (&*stream).write(bytes) {
        Ok(0) if !bytes.is_empty() => Err(io::ErrorKind::WriteZero.into()),
        other => other,
    }
}

impl Wire for ConnSocket {
    fn send_now(&self, bytes: &[u8]) -> Option<io::Result<usize>> {
        Some(send_now(&self.stream, bytes))
    }

    /// Hands the connection to the flusher: it drains the queue as the
    /// socket empties, and watches the deadlines.
    fn wake(&self, out: &Arc<Socket>) {
        self.flusher.watch(out.id(), out.clone());
    }

    /// A connection being served stops reading new input (its waiting read
    /// returns at once, what already arrived is still read and answered);
    /// one still waiting for a thread is closed.
    fn stop_reading(&self, out: &Socket) {
        if self.started.load(SeqCst) {
            self.wakes.stop(&self.stream);
        } else {
            out.cut(DisconnectReason::Shutdown);
        }
    }

    /// Shuts the socket both ways, so the connection's thread's read
    /// returns at once and the client sees the end.
    fn cut(&self) {
        self.wakes.cut(&self.stream);
    }
}

impl Flush for Socket {
    /// On Unix the flusher watches the socket's own descriptor (mio's
    /// `SourceFd`), without taking it over.
    #[cfg(unix)]
    fn register(&self, registry: &Registry, token: Token) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let fd = self.wire().stream.as_raw_fd();
        registry.register(
            &mut mio::unix::SourceFd(&fd),
            token,
            mio::Interest::WRITABLE,
        )
    }

    /// On Windows mio watches only a socket it owns: a second handle of
    /// it, made once and kept while the connection lives.
    #[cfg(windows)]
    fn register(&self, registry: &Registry, token: Token) -> io::Result<()> {
        let mut watched = self
            .wire()
            .watched
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if watched.is_none() {
            let clone = self.wire().stream.try_clone()?;
            *watched = Some(mio::net::TcpStream::from_std(clone));
        }
        let source = watched.as_mut().expect("made above");
        registry.register(source, token, mio::Interest::WRITABLE)
    }

    /// Unix: epoll reports each time the socket becomes writable again.
    #[cfg(unix)]
    fn rearm(&self, _registry: &Registry, _token: Token) -> io::Result<()> {
        Ok(())
    }

    /// Windows: mio reports WRITABLE once, then again only once an I/O
    /// call through its own handle would block; the flusher writes through
    /// the connection's, so it arms the watch again by hand.
    #[cfg(windows)]
    fn rearm(&self, registry: &Registry, token: Token) -> io::Result<()> {
        let mut watched = self
            .wire()
            .watched
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match watched.as_mut() {
            Some(source) => registry.reregister(source, token, mio::Interest::WRITABLE),
            None => Ok(()),
        }
    }

    #[cfg(unix)]
    fn deregister(&self, registry: &Registry) {
        use std::os::fd::AsRawFd;
        // The descriptor is still open (`self` holds the socket), so this
        // cannot hit another file; an error leaves nothing to undo.
        let fd = self.wire().stream.as_raw_fd();
        let _ = registry.deregister(&mut mio::unix::SourceFd(&fd));
    }

    #[cfg(windows)]
    fn deregister(&self, registry: &Registry) {
        let mut watched = self
            .wire()
            .watched
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(source) = watched.as_mut() {
            let _ = registry.deregister(source);
        }
    }

    fn flush(&self) -> Flushed {
        if self.cut_reason().is_some() {
            return Flushed::Gone;
        }
        match self.write_to(|b| send_now(&self.wire().stream, b)) {
            Ok(_) if self.pending() == 0 => Flushed::Empty,
            Ok(_) => Flushed::More,
            Err(_) => Flushed::Gone,
        }
    }

    fn next_look(&self) -> Option<Instant> {
        Outgoing::next_look(self)
    }

    fn cut_if_overdue(&self) -> bool {
        Outgoing::cut_if_overdue(self).is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::TcpListener;
    use std::thread;
    use std::time::Duration;

    use socket2::SockRef;

    use super::super::flusher::Flusher;
    use super::*;
    use crate::SendError;
    use crate::server::outgoing::Limits;

    /// Every wait in these tests gives up after this: far longer than a
    /// passing test waits.
    const PATIENCE: Duration = Duration::from_secs(20);

    /// A connection over loopback: the server's outgoing side and the
    /// client's end (read timeout [`PATIENCE`]), with a flusher of its own.
    fn connection(
        limit: usize,
        write: Duration,
        stall: Duration,
    ) -> (Arc<Socket>, TcpStream, Flusher) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        // A fixed send buffer: how much the kernel holds before a send is
        // refused does not depend on autotuning. Not a tiny one: on
        // loopback that drains one step per delayed ACK (40 ms).
        SockRef::from(&server)
            .set_send_buffer_size(128 * 1024)
            .unwrap();
        server.set_nodelay(true).unwrap(); // as the listener sets it
        // As its reader makes it on Windows, where sends have no per-call
        // non-blocking flag (no reader here: the tests only write).
        #[cfg(windows)]
        server.set_nonblocking(true).unwrap();
        client.set_read_timeout(Some(PATIENCE)).unwrap();
        let flusher = Flusher::start().unwrap();
        let limits = Limits {
            max_pending: limit,
            write_timeout: write,
            stall_timeout: stall,
        };
        let socket = ConnSocket::new(server, flusher.queue().clone());
        socket.started.store(true, SeqCst);
        (Outgoing::new(1, limits, socket), client, flusher)
    }

    /// Sends `message` until the socket is full and some of it waits in
    /// the queue; returns the bytes sent.
    fn fill(socket: &Socket, message: &[u8]) -> usize {
        for n in 1..=100_000 {
            socket.send(message, true).unwrap();
            if socket.pending() > 0 {
                return n * message.len();
            }
        }
        panic!("100,000 messages and the socket took them all");
    }

    /// Reads `n` bytes from the client's end.
    fn read_n(client: &mut TcpStream, n: usize) -> Vec<u8> {
        let mut got = vec![0; n];
        client.read_exact(&mut got).unwrap();
        got
    }

    #[test]
    fn a_sender_to_a_client_that_never_reads_is_held_then_freed_by_the_stall_cut() {
        let limit = 64 * 1024;
        let stall = Duration::from_millis(300);
        let (socket, _client, _flusher) = connection(limit, PATIENCE, stall);
        let message = [b'p'; 1000];
        let started = Instant::now();
        let mut sent = 0;
        let error = loop {
            match socket.send(&message, true) {
                Ok(()) => sent += 1,
                Err(e) => break e,
            }
            assert!(sent < 100_000, "never cut");
        };
        // Held while the queue was full, then cut for stalling: never
        // beyond a few stall timeouts, never a write timeout.
        let held = started.elapsed();
        assert!(held >= stall && held < PATIENCE, "{held:?}");
        assert_eq!(error, SendError::Closed(DisconnectReason::SlowConsumer));
        assert_eq!(socket.cut_reason(), Some(DisconnectReason::SlowConsumer));
        assert!(socket.pending() == 0, "the queue is dropped");
        assert_eq!(
            socket.send(b"again", true),
            Err(SendError::Closed(DisconnectReason::SlowConsumer))
        );
        assert!(socket.reply(b"reply").is_err(), "a reply is refused too");
    }

    #[test]
    fn a_reader_slower_than_the_sender_loses_nothing_and_memory_stays_bounded() {
        let limit = 64 * 1024;
        let (socket, mut client, _flusher) = connection(limit, PATIENCE, PATIENCE);
        let (messages, size) = (4000, 1000);
        let reader = thread::spawn(move || {
            // Reads in small sips with pauses: slower than the sender.
            let mut got = Vec::with_capacity(messages * size);
            let mut buf = [0u8; 4096];
            while got.len() < messages * size {
                let n = client.read(&mut buf).unwrap();
                assert!(n > 0, "closed after {} bytes", got.len());
                got.extend_from_slice(&buf[..n]);
                if got.len() % (256 * 1024) < 4096 {
                    thread::sleep(Duration::from_millis(5));
                }
            }
            got
        });
        let mut most = 0;
        for i in 0..messages {
            let mut m = format!("{i:06}:").into_bytes();
            m.resize(size, b'.');
            socket.send(&m, true).unwrap();
            most = most.max(socket.pending());
        }
        let got = reader.join().unwrap();
        for (i, m) in got.chunks(size).enumerate() {
            assert_eq!(&m[..7], format!("{i:06}:").as_bytes(), "message {i}");
        }
        assert!(most <= limit + size, "{most} bytes waited");
        assert!(socket.cut_reason().is_none());
    }

    #[test]
    fn messages_from_many_threads_arrive_whole_and_in_each_ones_order() {
        let (socket, mut client, _flusher) = connection(64 << 20, PATIENCE, PATIENCE);
        let (threads, each, size) = (4, 1000, 2000);
        // 8 MB sent before the client reads a byte: far more than its
        // socket holds, so most of it is queued and drained by the flusher.
        thread::scope(|s| {
            for t in 0..threads {
                let socket = &socket;
                s.spawn(move || {
                    for i in 0..each {
                        let mut m = format!("{t}:{i:04}:").into_bytes();
                        m.resize(size - 1, b'a' + t as u8);
                        m.push(b'\n');
                        socket.send(&m, true).unwrap();
                    }
                });
            }
        });
        assert!(socket.pending() > 0, "nothing was queued");
        let all = read_n(&mut client, threads * each * size);
        let mut next = vec![0; threads];
        for line in all.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let text = std::str::from_utf8(line).unwrap();
            let mut parts = text.splitn(3, ':');
            let t: usize = parts.next().unwrap().parse().unwrap();
            let i: usize = parts.next().unwrap().parse().unwrap();
            let fill = parts.next().unwrap();
            assert_eq!(i, next[t], "thread {t}'s messages out of order");
            next[t] += 1;
            assert_eq!(line.len(), size - 1, "a message split or mixed");
            assert!(fill.bytes().all(|b| b == b'a' + t as u8), "mixed: {text}");
        }
        assert_eq!(next, vec![each; threads]);
    }

    #[test]
    fn a_reply_goes_behind_the_messages_already_waiting() {
        let (socket, mut client, _flusher) = connection(1 << 20, PATIENCE, PATIENCE);
        let sent = fill(&socket, &[b'p'; 1000]);
        let mark = socket.reply(b"REPLY").unwrap();
        socket.send(b"after", true).unwrap();
        let got = read_n(&mut client, sent + 10);
        assert!(got[..sent].iter().all(|&b| b == b'p'));
        assert_eq!(&got[sent..], b"REPLYafter");
        socket.wait_sent(mark).unwrap();
        assert!(socket.cut_reason().is_none());
    }

    #[test]
    fn try_send_refuses_past_the_limit_without_cutting() {
        let (socket, mut client, _flusher) = connection(64 * 1024, PATIENCE, PATIENCE);
        let sent = fill(&socket, &[b'q'; 1000]);
        let mut queued = 0;
        while socket.send(&[b'r'; 1000], false).is_ok() {
            queued += 1000;
            assert!(queued <= 65 * 1024, "try_send went past the limit");
        }
        assert!(
            socket.cut_reason().is_none(),
            "a refused try_send cuts nobody"
        );
        let got = read_n(&mut client, sent + queued);
        assert!(got.ends_with(&[b'r'; 1000]));
    }

    #[test]
    fn a_reply_the_client_takes_nothing_of_is_cut_at_the_write_timeout() {
        let timeout = Duration::from_millis(200);
        let (socket, _client, _flusher) = connection(1 << 20, timeout, PATIENCE);
        fill(&socket, &[b'p'; 1000]);
        let started = Instant::now();
        let mark = socket.reply(&vec![b'r'; 1 << 20]).unwrap();
        assert_eq!(socket.wait_sent(mark), Err(DisconnectReason::Timeout));
        assert!(started.elapsed() >= timeout);
        assert_eq!(socket.cut_reason(), Some(DisconnectReason::Timeout));
    }

    #[test]
    fn closing_releases_a_thread_waiting_on_its_reply() {
        let (socket, _client, _flusher) = connection(1 << 20, PATIENCE, PATIENCE);
        fill(&socket, &[b'p'; 1000]);
        let mark = socket.reply(b"never read").unwrap();
        let waiting = {
            let socket = socket.clone();
            thread::spawn(move || socket.wait_sent(mark))
        };
        thread::sleep(Duration::from_millis(50));
        socket.cut(DisconnectReason::Closed);
        assert_eq!(waiting.join().unwrap(), Err(DisconnectReason::Closed));
        assert!(socket.send(b"x", true).is_err());
    }
}
