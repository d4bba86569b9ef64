//! A yardstick for event loops: the echo protocol (raw framing) on mio,
//! hand-written for this one job, no tcpmodes code. Each loop is a thread
//! with its own `Poll`; all loops watch the one listening socket and take
//! turns accepting, and a connection stays on the loop that accepted it.
//! Whatever an event mode of the framework costs on top of this is its
//! overhead; what threads cost on top of it (memory, threads per idle
//! client) is the reason event loops exist.
//!
//! ```text
//! cargo run --release --example mio_baseline -- [--addr 127.0.0.1:0] [--loops N]
//! ```
//!
//! First stdout line: `Listening on IP:PORT`. Runs until killed.

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

/// The listener's token in every loop; connections count up from 1.
const LISTENER: Token = Token(0);

/// Bytes read as one message, as the framework's raw framing reads them.
const READ_SIZE: usize = 1024;

/// One client: its socket and the reply bytes it has not taken yet.
struct Conn {
    stream: TcpStream,
    out: Vec<u8>,
}

fn main() {
    let mut addr = "127.0.0.1:0".to_string();
    let mut loops = 1usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        match (arg.as_str(), value.as_deref()) {
            ("--addr", Some(v)) => addr = v.to_string(),
            ("--loops", Some(v)) if v.parse::<usize>().is_ok_and(|n| n > 0) => {
                loops = v.parse().expect("checked");
            }
            _ => {
                eprintln!("usage: mio_baseline [--addr HOST:PORT] [--loops N]");
                std::process::exit(2);
            }
        }
    }
    let listener = std::net::TcpListener::bind(&addr).unwrap_or_else(|e| {
        eprintln!("mio_baseline: cannot listen on {addr}: {e}");
        std::process::exit(2);
    });
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let threads: Vec<_> = (0..loops)
        .map(|_| {
            let listener = TcpListener::from_std(listener.try_clone().expect("clone listener"));
            std::thread::spawn(move || run_loop(listener))
        })
        .collect();
    // Once the loops exist, so the process is whole when a script sees it.
    println!("Listening on {}", listener.local_addr().expect("bound"));
    for t in threads {
        if let Err(e) = t.join().expect("loop panicked") {
            eprintln!("mio_baseline: event loop failed: {e}");
            std::process::exit(1);
        }
    }
}

/// One event loop, forever. Registrations are edge-triggered (mio's only
/// kind), so every ready socket is read or accepted until `WouldBlock`.
fn run_loop(mut listener: TcpListener) -> io::Result<()> {
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut events = Events::with_capacity(1024);
    let mut conns: HashMap<Token, Conn> = HashMap::new();
    let mut next = 1;
    let mut buf = [0u8; READ_SIZE];
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in &events {
            if event.token() == LISTENER {
                // Every loop is woken; the ones that find nothing left go on.
                loop {
                    let mut stream = match listener.accept() {
                        Ok((stream, _)) => stream,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        // Out of files, or reset before accept: try again at
                        // the next connection.
                        Err(e) => {
                            eprintln!("mio_baseline: accept: {e}");
                            break;
                        }
                    };
                    let token = Token(next);
                    next += 1;
                    // Readable and writable from the start: edge-triggered,
                    // so writable only fires after a write found the socket
                    // full, and no re-registration is ever needed.
                    let registered = stream.set_nodelay(true).and_then(|()| {
                        poll.registry().register(
                            &mut stream,
                            token,
                            Interest::READABLE | Interest::WRITABLE,
                        )
                    });
                    if registered.is_ok() {
                        let out = b"Welcome!".to_vec();
                        conns.insert(token, Conn { stream, out });
                        serve(&mut conns, token, &mut buf);
                    }
                }
            } else {
                serve(&mut conns, event.token(), &mut buf);
            }
        }
    }
}

/// Runs `token`'s connection as far as it can go without blocking, and
/// drops it (closing the socket) if it ended.
fn serve(conns: &mut HashMap<Token, Conn>, token: Token, buf: &mut [u8]) {
    let Some(conn) = conns.get_mut(&token) else {
        return; // Closed earlier in this batch of events.
    };
    // An error is the client's business: its connection just ends.
    if !matches!(advance(conn, buf), Ok(true)) {
        conns.remove(&token);
    }
}

/// Writes what is pending, then reads and answers messages, until the
/// socket would block (`Ok(true)`: wait for the next event) or the
/// connection ends (`Ok(false)`). Nothing is read while a reply is
/// unsent, so a client that does not read cannot make the server buffer
/// without bound.
fn advance(conn: &mut Conn, buf: &mut [u8]) -> io::Result<bool> {
    loop {
        while !conn.out.is_empty() {
            match conn.stream.write(&conn.out) {
                Ok(0) => return Ok(false),
                Ok(n) => drop(conn.out.drain(..n)),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let message = match conn.stream.read(buf) {
            Ok(0) => return Ok(false),
            Ok(n) => &buf[..n],
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if is_exit(message) {
            return Ok(false);
        }
        conn.out.extend_from_slice(b"Received ");
        conn.out.extend_from_slice(message);
        conn.out.push(b';');
    }
}

/// `exit`, alone or with the line ending `nc` adds.
fn is_exit(message: &[u8]) -> bool {
    matches!(message, b"exit" | b"exit\n" | b"exit\r\n")
}
