//! The plainest load client: one OS thread per connection, blocking
//! sockets, strict request/reply, raw framing. It is the bar the event-loop
//! generator (`tcpmodes bench`) must reach: if the generator were slower
//! than this, benchmarks would measure the generator, not the server.
//!
//! ```text
//! cargo run --release --example blocking_client -- --addr 127.0.0.1:PORT \
//!     [--clients 1] [--duration 5] [--size 64]
//! ```
//!
//! Prints one line: `blocking-client clients=N secs=S replies=R errors=E msgs_per_sec=X`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let mut addr = String::new();
    let (mut clients, mut duration, mut size) = (1usize, 5.0f64, 64usize);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_default();
        let ok = match arg.as_str() {
            "--addr" => {
                addr = value;
                true
            }
            "--clients" => value.parse().map(|v| clients = v).is_ok(),
            "--duration" => value.parse().map(|v| duration = v).is_ok(),
            "--size" => value.parse().map(|v| size = v).is_ok(),
            _ => false,
        };
        if !ok {
            eprintln!(
                "usage: blocking_client --addr HOST:PORT [--clients N] [--duration SECS] [--size BYTES]"
            );
            std::process::exit(2);
        }
    }
    if addr.is_empty()
        || clients == 0
        || !(1..=1024).contains(&size)
        || duration.is_nan()
        || duration <= 0.0
    {
        eprintln!("blocking_client: need --addr, clients ≥ 1, 1 ≤ size ≤ 1024, duration > 0");
        std::process::exit(2);
    }
    let payload: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
    let mut expected = b"Received ".to_vec();
    expected.extend_from_slice(&payload);
    expected.push(b';');
    let (payload, expected) = (Arc::new(payload), Arc::new(expected));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(duration);
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (addr, payload, expected) = (addr.clone(), payload.clone(), expected.clone());
            std::thread::spawn(move || client(&addr, &payload, &expected, deadline))
        })
        .collect();
    let (mut replies, mut errors) = (0u64, 0u64);
    for t in threads {
        let (r, e) = t.join().unwrap_or((0, 1));
        replies += r;
        errors += e;
    }
    let secs = duration;
    println!(
        "blocking-client clients={clients} secs={secs:.2} replies={replies} errors={errors} msgs_per_sec={:.0}",
        replies as f64 / secs
    );
}

/// One connection: greeting, then request/reply until the deadline.
/// Returns (verified replies, errors); an error ends this client.
fn client(addr: &str, payload: &[u8], expected: &[u8], deadline: Instant) -> (u64, u64) {
    let mut replies = 0;
    let mut run = || -> std::io::Result<()> {
        let mut s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut greeting = [0u8; 8];
        s.read_exact(&mut greeting)?;
        let mut buf = vec![0u8; expected.len()];
        while Instant::now() < deadline {
            s.write_all(payload)?;
            s.read_exact(&mut buf)?;
            if buf != expected {
                return Err(std::io::Error::other("wrong reply"));
            }
            replies += 1;
        }
        Ok(())
    };
    match run() {
        Ok(()) => (replies, 0),
        Err(e) => {
            eprintln!("blocking_client: {e}");
            (replies, 1)
        }
    }
}
