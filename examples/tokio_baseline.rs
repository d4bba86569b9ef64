//! A yardstick for async Rust: the echo protocol (raw framing) on tokio's
//! multi-threaded runtime (a worker thread per CPU), one task per
//! connection, no tcpmodes code. It is what most Rust servers are written
//! on today: a task costs a few hundred bytes where a thread costs a stack,
//! so it is the mark an event mode of the framework is held to, for speed
//! and for memory per idle client.
//!
//! ```text
//! cargo run --release --example tokio_baseline -- [--addr 127.0.0.1:0]
//! ```
//!
//! First stdout line: `Listening on IP:PORT`. Runs until killed.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Bytes read as one message, as the framework's raw framing reads them.
const READ_SIZE: usize = 1024;

#[tokio::main]
async fn main() {
    let addr = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [] => "127.0.0.1:0".to_string(),
        [flag, value] if flag == "--addr" => value.clone(),
        _ => {
            eprintln!("usage: tokio_baseline [--addr HOST:PORT]");
            std::process::exit(2);
        }
    };
    let listener = TcpListener::bind(&addr).await.unwrap_or_else(|e| {
        eprintln!("tokio_baseline: cannot listen on {addr}: {e}");
        std::process::exit(2);
    });
    println!("Listening on {}", listener.local_addr().expect("bound"));
    loop {
        match listener.accept().await {
            // A client that vanishes is its own business.
            Ok((stream, _)) => {
                tokio::spawn(serve(stream));
            }
            // Out of files, or reset before accept: go on.
            Err(e) => eprintln!("tokio_baseline: accept: {e}"),
        }
    }
}

/// One client, to the end: the greeting, then an answer per read, each in
/// one write (so one segment per reply: no Nagle delay either).
async fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    stream.write_all(b"Welcome!").await?;
    let mut buf = [0u8; READ_SIZE];
    let mut reply = Vec::with_capacity(READ_SIZE + 10);
    loop {
        let message = match stream.read(&mut buf).await? {
            0 => return Ok(()),
            n => &buf[..n],
        };
        if matches!(message, b"exit" | b"exit\n" | b"exit\r\n") {
            return Ok(());
        }
        reply.clear();
        reply.extend_from_slice(b"Received ");
        reply.extend_from_slice(message);
        reply.push(b';');
        stream.write_all(&reply).await?;
    }
}
