//! [`ConnSocket`]: a connection's socket in the blocking modes, shared by
//! the thread serving it, the [`Sender`](crate::Sender)s handed out for it,
//! the flusher and the shutdown hook; and its outgoing side, which never
//! blocks whoever writes.
//!
//! # Why writes do not block
//!
//! A chat line is written by the speaker's thread to every listener's
//! socket. A blocking write to a listener who never reads waits until
//! `write_timeout_ms`, and while it waits the speaker's thread reads
//! nothing, so the whole room froze (20,000 lines took 31.5 s to reach a
//! third member). Here every write is one non-blocking send (`MSG_DONTWAIT`
//! through rustix, a per-call flag: the socket itself stays blocking for
//! the thread that reads it); what the socket does not take at once waits
//! in a [`PendingBytes`] queue, and the server's one [`flusher`] thread
//! writes it as the socket drains. As Redis's `client-output-buffer-limit`,
//! Netty's write-buffer water marks and IRC's SendQ do, the queue is
//! bounded: a push that would take it past `max_pending_bytes` cuts the
//! client ([`DisconnectReason::SlowConsumer`]) instead of letting it hold
//! memory or anyone's thread.
//!
//! Every write takes the queue's lock and goes behind what already waits
//! (it tries the socket only when nothing does), so whole messages leave
//! in the order they were written and never mix, whoever writes them.
//!
//! # The connection's own replies
//!
//! A reply goes through the same queue, behind pushes already waiting, but
//! the limit does not refuse it, and the connection's thread then waits
//! for it to leave before it reads on ([`wait_sent`](ConnSocket::wait_sent)),
//! cutting the client as [`DisconnectReason::Timeout`] if it takes no byte
//! for `write_timeout_ms`. That keeps what a blocking write did toward the
//! client it answers: a client that stops reading its replies stops being
//! read (TCP's own back-pressure), so replies never pile up beyond what one
//! read produced, and a reply larger than `max_pending_bytes` still goes
//! out whole. Its bytes count as pending, though: a push that arrives
//! while more than the limit waits still cuts the client.

use std::io;
use std::net::{Shutdown as Both, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use rustix::net::SendFlags;

use super::flusher::{self, FlushQueue, Flushed};
use super::pending::PendingBytes;
use crate::error::io_text;
use crate::handler::DisconnectReason;
use crate::sender::Outbox;

/// What every connection's outgoing side of one server shares.
#[derive(Clone)]
pub(crate) struct OutboxSettings {
    /// `max_pending_bytes`.
    pub limit: usize,
    /// `write_timeout_ms`.
    pub write_timeout: Duration,
    /// Where a socket with bytes waiting hands itself over.
    pub flusher: Arc<FlushQueue>,
}

/// A connection's socket; see the module docs.
pub(crate) struct ConnSocket {
    /// Read, blocking, by the connection's thread only; written only here.
    pub stream: TcpStream,
    /// Set when a thread starts serving; shutdown treats connections still
    /// waiting for a thread differently from those being served.
    pub started: AtomicBool,
    id: u64,
    out: Mutex<Out>,
    /// Signalled when queued bytes leave or the connection is closed, for
    /// a thread waiting on its reply.
    progress: Condvar,
    settings: OutboxSettings,
    /// This socket, to hand to the flusher from `&self`.
    me: Weak<ConnSocket>,
}

/// The outgoing side's state, under one lock: the write lock every
/// message takes whole.
struct Out {
    pending: PendingBytes,
    /// Handed to the flusher and not yet drained by it.
    watched: bool,
    /// No more bytes go out: the connection is over (or ending).
    closed: bool,
    /// Why the outgoing side cut the connection, when it did.
    cut: Option<DisconnectReason>,
}

/// The flags of every send: never wait; on Linux also no SIGPIPE for a
/// peer that is gone (what std's own socket writes ask for).
#[cfg(any(target_os = "linux", target_os = "android"))]
const SEND: SendFlags = SendFlags::DONTWAIT.union(SendFlags::NOSIGNAL);
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const SEND: SendFlags = SendFlags::DONTWAIT;

/// One send that takes what the socket has room for now, or fails with
/// `WouldBlock`.
fn send_now(stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    match rustix::net::send(stream, bytes, SEND) {
        Ok(0) if !bytes.is_empty() => Err(io::ErrorKind::WriteZero.into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.into()),
    }
}

impl ConnSocket {
    /// The socket of connection `id`.
    pub fn new(id: u64, stream: TcpStream, settings: OutboxSettings) -> Arc<ConnSocket> {
        Arc::new_cyclic(|me| ConnSocket {
            stream,
            started: AtomicBool::new(false),
            id,
            out: Mutex::new(Out {
                pending: PendingBytes::new(),
                watched: false,
                closed: false,
                cut: None,
            }),
            progress: Condvar::new(),
            settings,
            me: me.clone(),
        })
    }

    fn out(&self) -> MutexGuard<'_, Out> {
        // Every update under this lock is whole before anything can panic.
        self.out.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues the connection's own reply behind whatever waits, sending
    /// what the socket takes now. Returns the mark to hand
    /// [`wait_sent`](Self::wait_sent); an error is what `wait_sent` would
    /// say.
    pub fn reply(&self, bytes: &[u8]) -> Result<u64, Option<DisconnectReason>> {
        self.write(bytes, false).map_err(|_| self.out().cut.clone())
    }

    /// The mark everything queued until now reaches.
    pub fn end_mark(&self) -> u64 {
        self.out().pending.end()
    }

    /// Waits until the bytes up to `mark` have left (been taken by the
    /// socket). Fails when the connection is closed first, with the reason
    /// if the outgoing side cut it (`None`: closed by someone else, e.g. a
    /// sender's `close` or shutdown's deadline); or when the client takes
    /// no byte for `write_timeout_ms`, which cuts it as
    /// [`DisconnectReason::Timeout`].
    pub fn wait_sent(&self, mark: u64) -> Result<(), Option<DisconnectReason>> {
        let timeout = self.settings.write_timeout;
        let mut out = self.out();
        let mut seen = out.pending.taken();
        let mut since = Instant::now();
        loop {
            if out.closed {
                return Err(out.cut.clone());
            }
            let taken = out.pending.taken();
            if taken >= mark {
                return Ok(());
            }
            if taken != seen {
                (seen, since) = (taken, Instant::now());
            }
            let left = timeout.saturating_sub(since.elapsed());
            if left.is_zero() {
                // The last word is the socket's, not the flusher's events
                // (see `stalled`): any byte it takes now is progress.
                match self.drain(&mut out) {
                    Ok(n) if n > 0 => continue,
                    Ok(_) => self.cut(&mut out, DisconnectReason::Timeout),
                    Err(e) => self.cut(&mut out, DisconnectReason::from_io(&e)),
                }
                return Err(out.cut.clone());
            }
            out = self
                .progress
                .wait_timeout(out, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Why the outgoing side cut the connection, if it did.
    pub fn cut_reason(&self) -> Option<DisconnectReason> {
        self.out().cut.clone()
    }

    /// Writes one whole message: straight to the socket if nothing waits,
    /// the rest (or all of it) queued behind. `limited`: a push, refused
    /// (and the client cut) if it would take the queue past the limit.
    /// Returns the message's end mark.
    fn write(&self, bytes: &[u8], limited: bool) -> io::Result<u64> {
        let mut out = self.out();
        if out.closed {
            return Err(closed_error(&out.cut));
        }
        let mut rest = bytes;
        if out.pending.is_empty() {
            while !rest.is_empty() {
                match send_now(&self.stream, rest) {
                    Ok(n) => {
                        out.pending.note_written(n);
                        rest = &rest[n..];
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        self.cut(&mut out, DisconnectReason::from_io(&e));
                        return Err(e);
                    }
                }
            }
        }
        if rest.is_empty() {
            return Ok(out.pending.end());
        }
        if limited && !out.pending.fits(rest.len(), self.settings.limit) {
            self.cut(&mut out, DisconnectReason::SlowConsumer);
            return Err(closed_error(&out.cut));
        }
        out.pending.push(rest);
        let mark = out.pending.end();
        let hand_over = !std::mem::replace(&mut out.watched, true);
        drop(out);
        if hand_over {
            self.hand_to_flusher();
        }
        Ok(mark)
    }

    /// Writes what waits until the socket would block; wakes a thread
    /// waiting on its reply if bytes left.
    fn drain(&self, out: &mut Out) -> io::Result<usize> {
        let n = out.pending.write_with(|b| send_now(&self.stream, b))?;
        if n > 0 {
            self.progress.notify_all();
        }
        Ok(n)
    }

    fn hand_to_flusher(&self) {
        if let Some(me) = self.me.upgrade() {
            self.settings.flusher.watch(self.id, me);
        }
    }

    /// Ends the connection for `reason` (the first reason stays): drops
    /// what waits, shuts the socket both ways so its thread's read returns
    /// at once, and wakes a thread waiting on its reply.
    fn cut(&self, out: &mut Out, reason: DisconnectReason) {
        self.shut(out, Some(reason));
    }

    /// [`cut`](Self::cut), or with no reason a plain close. A socket the
    /// flusher watches is handed to it once more, so it finds the socket
    /// closed and forgets it now rather than at its next event.
    fn shut(&self, out: &mut Out, reason: Option<DisconnectReason>) {
        if out.closed {
            return;
        }
        out.closed = true;
        out.cut = reason;
        out.pending.clear();
        let _ = self.stream.shutdown(Both::Both);
        self.progress.notify_all();
        if out.watched {
            // Lock order is this socket's, then the flusher's list; the
            // flusher never holds its list while it takes a socket's lock.
            self.hand_to_flusher();
        }
    }
}

/// What a write to a closed connection fails with: a sender learns why.
fn closed_error(cut: &Option<DisconnectReason>) -> io::Error {
    let text = match cut {
        Some(reason) => format!("connection closed: {reason}"),
        None => "connection closed".to_string(),
    };
    io::Error::new(io::ErrorKind::NotConnected, text)
}

impl Outbox for ConnSocket {
    /// A push from a [`Sender`](crate::Sender): never blocks; cuts the
    /// client past `max_pending_bytes`.
    fn write_framed(&self, bytes: &[u8]) -> io::Result<()> {
        self.write(bytes, true).map(|_| ())
    }

    /// [`Sender::close`](crate::Sender::close): the connection ends with
    /// [`DisconnectReason::Closed`].
    fn close(&self) {
        let mut out = self.out();
        self.shut(&mut out, Some(DisconnectReason::Closed));
    }
}

impl ConnSocket {
    /// Closes with no reason of its own: the server is done with the
    /// connection (it finished, or shutdown cut it), and whoever serves it
    /// already knows why.
    pub fn close_plainly(&self) {
        let mut out = self.out();
        self.shut(&mut out, None);
    }
}

impl flusher::Flush for ConnSocket {
    fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    fn flush(&self) -> Flushed {
        let mut out = self.out();
        if out.closed {
            out.watched = false;
            return Flushed::Gone;
        }
        match self.drain(&mut out) {
            Ok(n) => {
                if out.pending.is_empty() {
                    out.watched = false;
                    Flushed::Empty
                } else {
                    Flushed::More { progressed: n > 0 }
                }
            }
            Err(e) => {
                self.cut(&mut out, DisconnectReason::from_io(&e));
                Flushed::Gone
            }
        }
    }

    fn stalled(&self) {
        let mut out = self.out();
        if !out.pending.is_empty() {
            self.cut(&mut out, DisconnectReason::Timeout);
        }
    }

    fn unwatchable(&self, error: &io::Error) {
        log::error!("Cannot watch connection {} for writing: {error}", self.id);
        let mut out = self.out();
        self.cut(&mut out, DisconnectReason::Error(io_text(error)));
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::TcpListener;
    use std::thread;

    use socket2::SockRef;

    use super::super::flusher::Flusher;
    use super::*;

    /// Every wait in these tests gives up after this: far longer than a
    /// passing test waits.
    const PATIENCE: Duration = Duration::from_secs(20);

    /// A connection over loopback: the server's socket and the client's end
    /// (read timeout [`PATIENCE`]), with a flusher of its own.
    fn connection(limit: usize, write_timeout: Duration) -> (Arc<ConnSocket>, TcpStream, Flusher) {
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
        client.set_read_timeout(Some(PATIENCE)).unwrap();
        let flusher = Flusher::start(write_timeout).unwrap();
        let settings = OutboxSettings {
            limit,
            write_timeout,
            flusher: flusher.queue().clone(),
        };
        (ConnSocket::new(1, server, settings), client, flusher)
    }

    /// Pushes `message` until the socket is full and some of it waits in
    /// the queue; returns the bytes pushed. (The kernel still takes some
    /// tens of KB after its first refusal; tests that need bytes to stay
    /// queued send far more than that.)
    fn fill(socket: &ConnSocket, message: &[u8]) -> usize {
        for n in 1..=100_000 {
            socket.write_framed(message).unwrap();
            if !socket.out().pending.is_empty() {
                return n * message.len();
            }
        }
        panic!("100,000 messages and the socket took them all");
    }

    /// Waits (bounded) until the outgoing side has closed the connection.
    fn wait_closed(socket: &ConnSocket) {
        let out = socket.out();
        let (out, _) = socket
            .progress
            .wait_timeout_while(out, PATIENCE, |o| !o.closed)
            .unwrap();
        assert!(out.closed, "not closed within {PATIENCE:?}");
    }

    /// Reads `n` bytes from the client's end.
    fn read_n(client: &mut TcpStream, n: usize) -> Vec<u8> {
        let mut got = vec![0; n];
        client.read_exact(&mut got).unwrap();
        got
    }

    #[test]
    fn pushes_to_a_client_that_never_reads_never_block_and_past_the_limit_cut_it() {
        let limit = 64 * 1024;
        let (socket, _client, _flusher) = connection(limit, PATIENCE);
        let message = [b'p'; 1000];
        let started = Instant::now();
        let mut pushed = 0;
        let error = loop {
            match socket.write_framed(&message) {
                Ok(()) => pushed += 1,
                Err(e) => break e,
            }
            assert!(pushed < 100_000, "never cut");
        };
        // A blocking write would have waited for PATIENCE (write_timeout).
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(socket.cut_reason(), Some(DisconnectReason::SlowConsumer));
        assert!(error.to_string().contains("too slow"), "{error}");
        assert!(pushed * message.len() > limit, "the socket took some too");
        let later = socket.write_framed(b"again").unwrap_err();
        assert_eq!(later.kind(), io::ErrorKind::NotConnected);
        assert!(later.to_string().contains("too slow"), "{later}");
        assert!(socket.reply(b"reply").is_err(), "a reply is refused too");
        assert!(socket.out().pending.is_empty(), "the queue is dropped");
    }

    #[test]
    fn messages_from_many_threads_arrive_whole_and_in_each_ones_order() {
        let (socket, mut client, _flusher) = connection(64 << 20, PATIENCE);
        let (threads, each, size) = (4, 1000, 2000);
        // 8 MB pushed before the client reads a byte: far more than its
        // socket holds, so most of it is queued and drained by the flusher.
        thread::scope(|s| {
            for t in 0..threads {
                let socket = &socket;
                s.spawn(move || {
                    for i in 0..each {
                        let mut m = format!("{t}:{i:04}:").into_bytes();
                        m.resize(size - 1, b'a' + t as u8);
                        m.push(b'\n');
                        socket.write_framed(&m).unwrap();
                    }
                });
            }
        });
        assert!(!socket.out().pending.is_empty(), "nothing was queued");
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
    fn a_reply_goes_behind_the_pushes_already_waiting() {
        let (socket, mut client, _flusher) = connection(1 << 20, PATIENCE);
        let pushed = fill(&socket, &[b'p'; 1000]);
        let mark = socket.reply(b"REPLY").unwrap();
        socket.write_framed(b"after").unwrap();
        let got = read_n(&mut client, pushed + 10);
        assert!(got[..pushed].iter().all(|&b| b == b'p'));
        assert_eq!(&got[pushed..], b"REPLYafter");
        socket.wait_sent(mark).unwrap();
        assert!(socket.cut_reason().is_none());
    }

    #[test]
    fn the_flusher_delivers_the_queue_as_the_client_reads() {
        let (socket, mut client, _flusher) = connection(1 << 20, PATIENCE);
        let pushed = fill(&socket, &[b'q'; 1000]);
        socket.write_framed(&[b'r'; 50_000]).unwrap();
        let got = read_n(&mut client, pushed + 50_000);
        assert!(got.ends_with(&[b'r'; 50_000]));
        socket.wait_sent(socket.end_mark()).unwrap();
        let out = socket.out();
        assert!(out.pending.is_empty() && !out.closed);
    }

    #[test]
    fn a_reply_the_client_takes_nothing_of_is_cut_at_the_write_timeout() {
        let timeout = Duration::from_millis(200);
        let (socket, _client, _flusher) = connection(1 << 20, timeout);
        fill(&socket, &[b'p'; 1000]);
        let started = Instant::now();
        let mark = socket.reply(&vec![b'r'; 1 << 20]).unwrap();
        assert_eq!(socket.wait_sent(mark), Err(Some(DisconnectReason::Timeout)));
        assert!(started.elapsed() >= timeout);
        assert_eq!(socket.cut_reason(), Some(DisconnectReason::Timeout));
    }

    #[test]
    fn the_flusher_cuts_a_queue_nobody_takes_at_the_write_timeout() {
        let timeout = Duration::from_millis(200);
        let (socket, _client, _flusher) = connection(1 << 20, timeout);
        let started = Instant::now();
        fill(&socket, &[b'p'; 1000]);
        socket.write_framed(&vec![b'p'; 500_000]).unwrap();
        // Nobody waits on a reply here: the flusher alone notices.
        wait_closed(&socket);
        assert!(started.elapsed() >= timeout);
        assert_eq!(socket.cut_reason(), Some(DisconnectReason::Timeout));
    }

    #[test]
    fn closing_releases_a_thread_waiting_on_its_reply() {
        let (socket, _client, _flusher) = connection(1 << 20, PATIENCE);
        fill(&socket, &[b'p'; 1000]);
        let mark = socket.reply(b"never read").unwrap();
        let waiting = {
            let socket = socket.clone();
            thread::spawn(move || socket.wait_sent(mark))
        };
        socket.close_plainly();
        assert_eq!(waiting.join().unwrap(), Err(None), "closed, no cut reason");
        assert!(socket.write_framed(b"x").is_err());
    }
}
