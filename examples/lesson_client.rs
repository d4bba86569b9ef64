//! The lesson's client, in Rust: connect, print the greeting, send
//! `message1`..`messageN` printing each reply, then send `exit`.
//!
//! ```text
//! cargo run --example lesson_client -- [--addr 127.0.0.1:9999] [--count 5]
//! ```
//!
//! It speaks the lesson's protocol exactly as the Python client does, so it
//! works against the built-in echo server (`cargo run`, raw framing) and
//! against the lesson's own `server.py`. Like the Python client it reads
//! each reply with one `recv(1024)`: that is only right because it waits for
//! each reply before sending the next message (see `framing.rs` on why raw
//! framing is fragile). Start two at once against `cargo run -- --mode
//! serial` to watch the second one wait for its `Welcome!`.
//!
//! This is a client, so unlike the server examples it does not go through
//! `tcpmodes::run_cli`: it has just the two flags it needs.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// The lesson's client: greeting, N messages, `exit`.
#[derive(Parser)]
#[command(name = "lesson_client")]
struct Args {
    /// Server to talk to
    #[arg(long, default_value = "127.0.0.1:9999", value_name = "HOST:PORT")]
    addr: String,
    /// Messages to send before `exit`
    #[arg(long, default_value_t = 5)]
    count: u32,
    /// Give up when a reply takes longer than this (a serial server may make
    /// us wait for another client, so it is generous)
    #[arg(long, default_value_t = 60_000, value_name = "MS")]
    timeout_ms: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match talk(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}: {e}", args.addr);
            ExitCode::FAILURE
        }
    }
}

fn talk(args: &Args) -> io::Result<()> {
    let addr = args
        .addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::other("resolves to no address"))?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    s.set_read_timeout(Some(Duration::from_millis(args.timeout_ms.max(1))))?;
    println!("{}", recv(&mut s)?);
    for i in 1..=args.count {
        s.write_all(format!("message{i}").as_bytes())?;
        println!("{}", recv(&mut s)?);
    }
    s.write_all(b"exit")?;
    Ok(())
}

/// One `recv(1024)`, as text; the server closing first is an error here,
/// since the protocol always answers.
fn recv(s: &mut TcpStream) -> io::Result<String> {
    let mut buf = [0u8; 1024];
    let n = match s.read(&mut buf) {
        Ok(0) => return Err(io::Error::other("server closed the connection")),
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut => {
            return Err(io::Error::other("no reply in time"));
        }
        Err(e) => return Err(e),
    };
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}
