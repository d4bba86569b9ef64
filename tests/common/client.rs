//! One blocking test client for every protocol: it frames what it sends
//! and expects with its [`Framing`], sends and expects raw bytes as they
//! are, and reads lines for line protocols. It never waits without a
//! deadline.
//!
//! Line reads take one byte at a time, so no bytes are ever held back in a
//! buffer: a test may mix them with reads of its own on `stream`.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use tcpmodes::Framing;

use super::{GLANCE, PATIENCE};

/// A blocking client speaking one framing, with a deadline on every call.
pub struct Client {
    pub stream: TcpStream,
    pub framing: Framing,
}

impl Client {
    /// Connects to `addr`; every connect, read and write is bounded by
    /// [`PATIENCE`].
    ///
    pub fn connect(addr: SocketAddr, framing: Framing) -> Client {
        let stream = TcpStream::connect_timeout(&addr, PATIENCE)
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        Client::from_stream(stream, framing)
    }

    /// [`connect`](Client::connect) from a port bound first, so no other
    /// live socket of this machine has it (a port picked at connect time
    /// may be shared by connections to other servers): a test that finds
    /// its client's address in the shared log finds its own connection.
    /// A port freed by a closed connection may come back at once, so such
    /// a test looks only at lines logged since it began
    /// ([`logs::mark`](super::logs::mark)).
    pub fn connect_alone(addr: SocketAddr, framing: Framing) -> Client {
        let stream = exclusive_connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        Client::from_stream(stream, framing)
    }

    /// A client on a connection made elsewhere; reads and writes bounded by
    /// [`PATIENCE`].
    pub fn from_stream(stream: TcpStream, framing: Framing) -> Client {
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_write_timeout(Some(PATIENCE)).unwrap();
        Client { stream, framing }
    }

    /// Connects and reads the echo protocol's greeting.
    pub fn greeted(addr: SocketAddr, framing: Framing) -> Client {
        let mut c = Client::connect(addr, framing);
        c.expect(b"Welcome!");
        c
    }

    /// This client's own address, as the server sees and logs it.
    pub fn local(&self) -> String {
        self.stream.local_addr().unwrap().to_string()
    }

    /// Sends one message, framed (a line protocol's line gets its `\n`).
    pub fn send(&mut self, message: impl AsRef<[u8]>) {
        let mut framed = Vec::new();
        self.framing.encode(message.as_ref(), &mut framed).unwrap();
        self.send_raw(&framed);
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Reads one expected message, framed as the server frames it.
    pub fn expect(&mut self, message: &[u8]) {
        let mut framed = Vec::new();
        self.framing.encode(message, &mut framed).unwrap();
        self.expect_raw(&framed);
    }

    /// Reads exactly `bytes.len()` bytes and checks they are `bytes`.
    pub fn expect_raw(&mut self, bytes: &[u8]) {
        let mut got = vec![0; bytes.len()];
        self.stream.read_exact(&mut got).unwrap_or_else(|e| {
            panic!(
                "{}: waiting for {:?}: {e}",
                self.local(),
                String::from_utf8_lossy(bytes)
            )
        });
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(bytes),
            "{}",
            self.local()
        );
    }

    /// One echo request, and its `Received ...;` reply.
    pub fn echo(&mut self, message: &[u8]) {
        self.send(message);
        let mut want = b"Received ".to_vec();
        want.extend_from_slice(message);
        want.push(b';');
        self.expect(&want);
    }

    /// Reads once (bounded by [`PATIENCE`]): true when the server closed,
    /// that is end of stream or a reset; false when bytes arrive or
    /// nothing does.
    pub fn closed(&mut self) -> bool {
        let mut buf = [0u8; 64];
        match self.stream.read(&mut buf) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() == ErrorKind::ConnectionReset,
        }
    }

    /// Waits (bounded by `within`) for the server to close: end of stream
    /// or an error. Returns what was read before, or `None` if still open.
    pub fn closed_within(&mut self, within: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + within;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let closed = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break None;
            }
            self.stream.set_read_timeout(Some(left)).unwrap();
            match self.stream.read(&mut buf) {
                Ok(0) => break Some(got),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if is_timeout(&e) => break None,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => break Some(got),
            }
        };
        self.stream.set_read_timeout(Some(PATIENCE)).unwrap();
        closed
    }

    /// Asserts the server closes this connection (within [`PATIENCE`]);
    /// returns what it sent before.
    pub fn expect_closed(&mut self) -> Vec<u8> {
        let who = self.local();
        self.closed_within(PATIENCE)
            .unwrap_or_else(|| panic!("{who}: server did not close"))
    }

    /// True if no byte arrives within [`GLANCE`] and the server does not
    /// close: the client is left waiting.
    pub fn waits(&mut self) -> bool {
        self.stream.set_read_timeout(Some(GLANCE)).unwrap();
        let mut b = [0u8; 1];
        let r = self.stream.read(&mut b);
        self.stream.set_read_timeout(Some(PATIENCE)).unwrap();
        matches!(r, Err(e) if is_timeout(&e))
    }

    // ------------------------------------------------- line protocols

    /// The next line, without its `\n`; fails the test after [`PATIENCE`].
    pub fn recv_line(&mut self) -> String {
        self.try_recv_line(PATIENCE)
            .unwrap_or_else(|| panic!("{}: no line within {PATIENCE:?}", self.local()))
    }

    /// Sends a line and returns the reply line.
    pub fn ask(&mut self, line: &str) -> String {
        self.send(line);
        self.recv_line()
    }

    /// The next line (without its `\n`) if one starts within `wait`;
    /// `None` on silence. Panics when the server closes instead, or stops
    /// in the middle of a line.
    pub fn try_recv_line(&mut self, wait: Duration) -> Option<String> {
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        let got = loop {
            match self.stream.read(&mut byte) {
                Ok(0) => break Ok(false),
                Ok(_) if byte[0] == b'\n' => break Ok(true),
                Ok(_) => line.push(byte[0]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        self.stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let text = String::from_utf8_lossy(&line).into_owned();
        match got {
            Ok(true) => Some(String::from_utf8(line).expect("a line of UTF-8")),
            Ok(false) if line.is_empty() => panic!("server closed the connection"),
            Ok(false) => panic!("half a line: {text:?}"),
            Err(e) if is_timeout(&e) => {
                assert!(line.is_empty(), "half a line then silence: {text:?}");
                None
            }
            Err(e) => panic!("read failed: {e}"),
        }
    }

    /// Asserts no line arrives for [`GLANCE`].
    pub fn assert_silent(&mut self, why: &str) {
        if let Some(line) = self.try_recv_line(GLANCE) {
            panic!("expected silence ({why}), got {line:?}");
        }
    }

    /// Reads until the server closes; returns what came before.
    pub fn recv_to_end(&mut self) -> String {
        let mut rest = String::new();
        self.stream.read_to_string(&mut rest).expect("read to end");
        rest
    }

    /// Closes both directions, as a client leaving does.
    pub fn close(self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Writes `bytes` again and again (at most `limit` bytes in all) until the
/// server closes the connection; returns how many bytes went out and
/// whether it closed. Each write is bounded by a short timeout so a server
/// that stops reading is noticed; the loop is bounded by [`PATIENCE`]. A
/// write cut short by its timeout is resumed where it stopped, so the
/// stream stays whole copies of `bytes` (a line keeps its end).
pub fn write_until_closed(stream: &mut TcpStream, bytes: &[u8], limit: usize) -> (usize, bool) {
    stream
        .set_write_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    let (mut sent, mut at) = (0, 0);
    while sent < limit && Instant::now() < deadline {
        match stream.write(&bytes[at..]) {
            Ok(0) => return (sent, true),
            Ok(n) => {
                sent += n;
                at = (at + n) % bytes.len();
            }
            Err(e) if is_timeout(&e) || e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return (sent, true),
        }
    }
    (sent, false)
}

/// Reads everything the server sends on `stream` on another thread (so a
/// flooding client never blocks on its own full receive window); the
/// thread returns the byte count once the server closes.
pub fn drain_in_background(stream: &TcpStream) -> thread::JoinHandle<usize> {
    let mut reader = stream.try_clone().unwrap();
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0usize;
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n;
        }
        total
    })
}

/// A connection to `addr` from a port bound first (see [`Client::connect_alone`]).
fn exclusive_connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    let local: SocketAddr = match addr {
        SocketAddr::V4(_) => (std::net::Ipv4Addr::LOCALHOST, 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::LOCALHOST, 0).into(),
    };
    socket.bind(&local.into())?;
    socket.connect_timeout(&addr.into(), PATIENCE)?;
    Ok(socket.into())
}
