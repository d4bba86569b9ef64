//! A key-value store over a line protocol, shared by every connection.
//!
//! ```text
//! cargo run --release --example kv -- --mode pool --addr 127.0.0.1:7000
//! nc 127.0.0.1 7000
//! SET greeting hello world   -> OK
//! GET greeting               -> VALUE hello world
//! KEYS                       -> KEYS greeting
//! DEL greeting               -> DELETED
//! GET greeting               -> NOT_FOUND
//! QUIT                       -> BYE (and the server closes)
//! ```
//!
//! Commands are case-insensitive, keys are one word (case-sensitive), a value
//! is the rest of the line. Anything else gets one `ERR ...` line saying what
//! is wrong, and the connection stays open.
//!
//! What each mode does to it (same code, same store):
//!
//! - `serial`: one client at a time. The store's lock is never contended,
//!   but a client that stays connected (an idle `nc`) holds the whole server:
//!   the next client is connected, yet gets no answer until the first leaves.
//!   A SET is seen by the clients that come after.
//! - `threads`: every client is served at once, each by its own thread; a
//!   SET from one is seen by the next GET from any other. The lock makes each
//!   command atomic, and it is held only for one map operation, never while
//!   a socket is read or written, so clients do not wait on each other's I/O.
//! - `pool`: as threads, for up to `--workers` clients at once; the next
//!   client waits, connected but unanswered, until one of them leaves. A
//!   store used by many long-lived clients needs `--workers` sized to them.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use tcpmodes::{Action, Config, Context, Framing, Handler, Program};

/// Most keys the store holds, so clients cannot fill the server's memory
/// without bound (each value is also bounded, by `max_message_bytes`).
const MAX_KEYS: usize = 100_000;

/// The data every connection shares. A `Mutex`, not an `RwLock`: each
/// command holds it for one map operation, far shorter than the socket I/O
/// around it, so readers would gain nothing from sharing it.
type Store = Arc<Mutex<BTreeMap<String, String>>>;

/// One connection's handler; all it holds is a handle to the shared store.
struct Kv {
    store: Store,
}

impl Handler for Kv {
    fn on_message(&mut self, line: &[u8], ctx: &mut Context<'_>) -> Action {
        let Ok(line) = std::str::from_utf8(line) else {
            ctx.reply("ERR commands must be UTF-8 text");
            return Action::Continue;
        };
        let (reply, action) = self.execute(line);
        ctx.reply(reply);
        action
    }
}

impl Kv {
    /// Runs one command line and says what to answer; kept apart from the
    /// socket-facing `on_message` so the protocol reads top to bottom.
    fn execute(&self, line: &str) -> (String, Action) {
        let mut parts = line.splitn(3, ' ');
        let command = parts.next().unwrap_or_default().to_ascii_uppercase();
        let key = parts.next().filter(|k| !k.is_empty());
        let value = parts.next();
        // A poisoned lock only means another connection's handler panicked
        // mid-command; every command leaves the map consistent, so go on.
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let reply = match (command.as_str(), key, value) {
            ("SET", Some(k), Some(v)) => {
                if store.len() >= MAX_KEYS && !store.contains_key(k) {
                    format!("ERR store full ({MAX_KEYS} keys); DEL some first")
                } else {
                    store.insert(k.to_string(), v.to_string());
                    "OK".to_string()
                }
            }
            ("SET", _, _) => "ERR usage: SET key value".to_string(),
            ("GET", Some(k), None) => match store.get(k) {
                Some(v) => format!("VALUE {v}"),
                None => "NOT_FOUND".to_string(),
            },
            ("GET", _, _) => "ERR usage: GET key".to_string(),
            ("DEL", Some(k), None) => match store.remove(k) {
                Some(_) => "DELETED".to_string(),
                None => "NOT_FOUND".to_string(),
            },
            ("DEL", _, _) => "ERR usage: DEL key".to_string(),
            ("KEYS", None, None) => {
                let mut reply = "KEYS".to_string();
                for k in store.keys() {
                    reply.push(' ');
                    reply.push_str(k);
                }
                reply
            }
            ("KEYS", _, _) => "ERR usage: KEYS (no arguments)".to_string(),
            ("QUIT", None, None) => return ("BYE".to_string(), Action::Close),
            ("", _, _) => "ERR empty command; try SET, GET, DEL, KEYS or QUIT".to_string(),
            _ => format!(
                "ERR unknown command `{}`; try SET, GET, DEL, KEYS or QUIT",
                line.split(' ').next().unwrap_or_default()
            ),
        };
        (reply, Action::Continue)
    }
}

fn main() -> ExitCode {
    let store = Store::default();
    // The factory runs once per connection; each handler gets a clone of the
    // same `Arc`, which is how connections share the store.
    Program::new("kv")
        .about(
            "A key-value store over a line protocol (SET, GET, DEL, QUIT), shared by every client",
        )
        .version(env!("CARGO_PKG_VERSION"))
        .defaults(Config::default().with_framing(Framing::Line))
        .run(move || Kv {
            store: store.clone(),
        })
}
