//! The yardstick: the echo protocol served the plainest way, one thread per
//! connection, std only, no tcpmodes code. Whatever the framework's modes
//! cost on top of this is their overhead.
//!
//! ```text
//! cargo run --release --example baseline -- [--addr 127.0.0.1:0] [--framing raw|line|length]
//! ```
//!
//! First stdout line: `Listening on IP:PORT`. Runs until killed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, PartialEq)]
enum Framing {
    Raw,
    Line,
    Length,
}

/// Largest `length`-framed message accepted, so a bogus prefix cannot make
/// a thread allocate gigabytes.
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

fn main() {
    let mut addr = "127.0.0.1:0".to_string();
    let mut framing = Framing::Raw;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        match (arg.as_str(), value.as_deref()) {
            ("--addr", Some(v)) => addr = v.to_string(),
            ("--framing", Some("raw")) => framing = Framing::Raw,
            ("--framing", Some("line")) => framing = Framing::Line,
            ("--framing", Some("length")) => framing = Framing::Length,
            _ => {
                eprintln!("usage: baseline [--addr HOST:PORT] [--framing raw|line|length]");
                std::process::exit(2);
            }
        }
    }
    let listener = TcpListener::bind(&addr).unwrap_or_else(|e| {
        eprintln!("baseline: cannot listen on {addr}: {e}");
        std::process::exit(2);
    });
    println!("Listening on {}", listener.local_addr().expect("bound"));
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                std::thread::spawn(move || {
                    // A client that vanishes is its own business.
                    let _ = serve(stream, framing);
                });
            }
            // Out of files or a connection reset before accept: go on.
            Err(e) => eprintln!("baseline: accept: {e}"),
        }
    }
}

/// Writes `message` framed, in one write: the protocol is request/reply,
/// so one segment per reply and no Nagle delay.
fn send(mut stream: &TcpStream, framing: Framing, message: &[u8]) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(message.len() + 5);
    if framing == Framing::Length {
        out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    }
    out.extend_from_slice(message);
    if framing == Framing::Line {
        out.push(b'\n');
    }
    stream.write_all(&out)
}

fn serve(stream: TcpStream, framing: Framing) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    send(&stream, framing, b"Welcome!")?;
    // Reads and writes both go through `&TcpStream`: a `try_clone` for the
    // reader would cost a second descriptor per client, and at 10,000 idle
    // clients the descriptor limit (often 20,000) cut connections.
    let mut reader = BufReader::new(&stream);
    let mut buf = vec![0u8; 1024];
    loop {
        // One message, as the framing cuts it; `None` at end of stream.
        let message: Option<&[u8]> = match framing {
            Framing::Raw => match reader.get_mut().read(&mut buf)? {
                0 => None,
                n => Some(&buf[..n]),
            },
            Framing::Line => {
                buf.clear();
                match reader.read_until(b'\n', &mut buf)? {
                    0 => None,
                    _ => {
                        let mut m = buf.strip_suffix(b"\n").unwrap_or(&buf);
                        m = m.strip_suffix(b"\r").unwrap_or(m);
                        Some(m)
                    }
                }
            }
            Framing::Length => {
                let mut prefix = [0u8; 4];
                if reader.read_exact(&mut prefix).is_err() {
                    None
                } else {
                    let len = u32::from_be_bytes(prefix) as usize;
                    if len > MAX_MESSAGE {
                        return Ok(());
                    }
                    buf.resize(len, 0);
                    reader.read_exact(&mut buf)?;
                    Some(&buf[..])
                }
            }
        };
        let Some(message) = message else {
            return Ok(());
        };
        // `exit`, alone or with the line ending `nc` adds in raw framing.
        if matches!(message, b"exit" | b"exit\n" | b"exit\r\n") {
            return Ok(());
        }
        let mut reply = Vec::with_capacity(message.len() + 10);
        reply.extend_from_slice(b"Received ");
        reply.extend_from_slice(message);
        reply.push(b';');
        send(&stream, framing, &reply)?;
    }
}
