//! Back-pressure, in every mode, with the default settings: a client who
//! keeps reading, however much slower than its handler sends, gets every
//! message, in order, and is never cut; a handler that prefers to drop
//! ([`Sender::try_send`]) is told the queue is full instead, and nobody is
//! slowed or cut. (The chat room's version, with a member who never reads,
//! is `example_chat.rs`.)

mod common;

use std::io::{Read, Write};
use std::thread;
use std::time::Duration;

use common::PATIENCE;
use common::client::Client;
use common::servers::{local_config, serve};
use tcpmodes::{Action, Context, Framing, Handler, Mode, SendError};

/// Bytes of each line the handler sends, with its `\n`.
const LINE: usize = 1000;

/// `chunk I` sends 64 numbered lines through the connection's own
/// [`Sender`](tcpmodes::Sender); `burst N` tries N lines with `try_send`
/// and replies how many went, how many were refused, and the most
/// `pending_bytes` it saw.
struct Flood;

fn line(tag: &str) -> String {
    format!("{tag} {}", "x".repeat(LINE - 2 - tag.len()))
}

impl Handler for Flood {
    fn on_message(&mut self, message: &[u8], ctx: &mut Context<'_>) -> Action {
        let text = String::from_utf8_lossy(message);
        let sender = ctx.sender();
        if let Some(i) = text.strip_prefix("chunk ") {
            for j in 0..64 {
                if sender.send(line(&format!("{i}:{j:02}"))).is_err() {
                    return Action::Close;
                }
            }
        } else if let Some(n) = text.strip_prefix("burst ") {
            let n: usize = n.parse().unwrap();
            let (mut sent, mut full, mut most) = (0, 0, 0);
            for k in 0..n {
                match sender.try_send(line(&format!("{k:06}"))) {
                    Ok(()) => sent += 1,
                    Err(SendError::Full) => full += 1,
                    Err(_) => return Action::Close,
                }
                most = most.max(sender.pending_bytes());
            }
            ctx.reply(format!("sent {sent} full {full} most {most}"));
        }
        Action::Continue
    }
}

fn server(mode: Mode) -> tcpmodes::RunningServer {
    let mut config = local_config(mode);
    config.framing = Framing::Line;
    serve(config, || Flood)
}

/// 300 requests, each answered by 64 KB through the connection's sender:
/// 19 MB, far past `max_pending_bytes` (1 MiB) and the socket buffers,
/// read by a client that pauses every 512 KB. The handler is slowed (its
/// send waits, or its connection is paused on an event loop) and nothing
/// is lost.
#[test]
fn a_slow_reader_gets_every_message_in_every_mode() {
    for mode in Mode::ALL {
        let server = server(mode);
        let mut client = Client::connect(server.local_addr(), Framing::Line);
        let requests: usize = 300;
        let mut out = client.stream.try_clone().unwrap();
        let asking = thread::spawn(move || {
            let all: String = (0..requests).map(|i| format!("chunk {i}\n")).collect();
            // Blocks while the server stops reading us: that is the point.
            out.write_all(all.as_bytes()).unwrap();
        });
        let total = requests * 64 * LINE;
        let mut got = Vec::with_capacity(total);
        let mut buf = vec![0u8; 64 * 1024];
        client.stream.set_read_timeout(Some(PATIENCE)).unwrap();
        while got.len() < total {
            let n = client
                .stream
                .read(&mut buf)
                .unwrap_or_else(|e| panic!("{mode}: {e} after {} of {total} bytes", got.len()));
            assert!(n > 0, "{mode}: closed after {} of {total} bytes", got.len());
            got.extend_from_slice(&buf[..n]);
            if got.len() % (512 * 1024) < n {
                thread::sleep(Duration::from_millis(10));
            }
        }
        asking.join().unwrap();
        assert_eq!(got.len(), total, "{mode}");
        for (k, l) in got.split(|&b| b == b'\n').take(requests * 64).enumerate() {
            let tag = format!("{}:{:02}", k / 64, k % 64);
            assert_eq!(l, line(&tag).as_bytes(), "{mode}: line {k}");
        }
        let s = server.stop();
        assert_eq!(s.slow_consumers + s.timeouts + s.errors, 0, "{mode}: {s}");
    }
}

/// `try_send` to a client that reads only later: the lines its queue has
/// room for are queued, the rest refused as `Full`, the queue never goes
/// past `max_pending_bytes`, and the client, still connected, gets exactly
/// the lines that went, in order, then the handler's reply.
#[test]
fn try_send_refuses_what_does_not_fit_and_cuts_nobody() {
    for mode in Mode::ALL {
        let server = server(mode);
        let mut client = Client::connect(server.local_addr(), Framing::Line);
        let tries = 10_000;
        client.send(format!("burst {tries}"));
        let mut sent = Vec::new();
        let reply = loop {
            let l = client.recv_line();
            if l.starts_with("sent ") {
                break l;
            }
            let (tag, _) = l.split_once(' ').unwrap();
            sent.push(tag.parse::<usize>().unwrap());
        };
        let words: Vec<usize> = reply.split(' ').filter_map(|w| w.parse().ok()).collect();
        let [went, full, most] = words[..] else {
            panic!("{mode}: {reply}")
        };
        assert_eq!(went + full, tries, "{mode}: {reply}");
        assert!(full > 0, "{mode}: 10 MB all fit: {reply}");
        assert!(most <= 1024 * 1024, "{mode}: {reply}");
        assert_eq!(sent.len(), went, "{mode}: the lines that went arrive");
        assert!(sent.windows(2).all(|w| w[0] < w[1]), "{mode}: in order");
        assert_eq!(
            client.ask("burst 1"),
            "000000 ".to_string() + &"x".repeat(LINE - 8)
        );
        assert!(client.recv_line().starts_with("sent 1 full 0 most "));
        let s = server.stop();
        assert_eq!(s.slow_consumers + s.timeouts + s.errors, 0, "{mode}: {s}");
    }
}
