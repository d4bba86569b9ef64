//! The small Redis's protocol: the commands, on a store every connection
//! shares. Its framing is `codec.rs`; `main.rs` makes it a program.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::codec::{bulk, error, integer, null, parse, simple};
use tcpmodes::{Action, Context, FrameError, Handler};

/// Most keys the store holds, so clients cannot fill the server's memory
/// without bound (each value is bounded by `max_message_bytes`).
const MAX_KEYS: usize = 1_000_000;

/// The data every connection shares, held for one map operation at a time.
pub type Store = Arc<Mutex<HashMap<Vec<u8>, Vec<u8>>>>;

/// One connection's handler: a handle to the shared store.
pub struct Resp {
    pub store: Store,
}

impl Handler for Resp {
    fn on_message(&mut self, frame: &[u8], ctx: &mut Context<'_>) -> Action {
        let args = parse(frame);
        let Some(name) = args.first() else {
            return Action::Continue;
        };
        let name = name.to_ascii_uppercase();
        if name == b"QUIT" {
            ctx.reply(simple("OK"));
            return Action::Close;
        }
        ctx.reply(self.execute(&name, &args[1..]));
        Action::Continue
    }

    /// Bytes that are not RESP: say why, as Redis does
    /// (`-ERR Protocol error: expected '$', got '+'`), before the
    /// framework closes the connection.
    fn on_frame_error(&mut self, why: &FrameError, ctx: &mut Context<'_>) {
        ctx.reply(error(&format!("ERR Protocol error: {why}")));
    }
}

impl Resp {
    fn execute(&self, name: &[u8], args: &[&[u8]]) -> Vec<u8> {
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        match (name, args) {
            (b"PING", []) => simple("PONG"),
            (b"PING", [message]) | (b"ECHO", [message]) => bulk(message),
            (b"GET", [key]) => store.get(*key).map_or_else(null, |v| bulk(v)),
            (b"SET", [key, value]) => {
                if store.len() >= MAX_KEYS && !store.contains_key(*key) {
                    return error("ERR the store is full");
                }
                store.insert(key.to_vec(), value.to_vec());
                simple("OK")
            }
            (b"DEL", keys) if !keys.is_empty() => {
                integer(keys.iter().filter(|k| store.remove(**k).is_some()).count() as i64)
            }
            (b"INCR", [key]) => {
                let now = match store.get(*key) {
                    None => Some(0),
                    Some(v) => std::str::from_utf8(v)
                        .ok()
                        .and_then(|v| v.parse::<i64>().ok()),
                };
                match now.and_then(|n| n.checked_add(1)) {
                    Some(n) => {
                        store.insert(key.to_vec(), n.to_string().into_bytes());
                        integer(n)
                    }
                    None => error("ERR value is not an integer or out of range"),
                }
            }
            (b"CONFIG", [get, names @ ..]) if get.eq_ignore_ascii_case(b"GET") => {
                if names.is_empty() {
                    return error("ERR wrong number of arguments for 'config|get' command");
                }
                config_get(names)
            }
            (b"PING" | b"ECHO" | b"GET" | b"SET" | b"DEL" | b"INCR", _) => error(&format!(
                "ERR wrong number of arguments for '{}' command",
                String::from_utf8_lossy(name).to_lowercase()
            )),
            _ => error(&format!(
                "ERR unknown command '{}'",
                String::from_utf8_lossy(name)
            )),
        }
    }
}

/// The settings `CONFIG GET` knows, with the values of a Redis that
/// keeps nothing on disk (`redis-server --save '' --appendonly no`),
/// which is what this store is.
const SETTINGS: [(&str, &str); 2] = [("save", ""), ("appendonly", "no")];

/// `CONFIG GET name...`: a flat array of name, value pairs for the names
/// it knows (exact names, no glob patterns); unknown names are left out,
/// as Redis leaves them out. redis-benchmark asks for `save` and
/// `appendonly` before it starts and wants each pair: an empty array makes
/// it print `WARNING: Could not fetch server CONFIG`.
fn config_get(names: &[&[u8]]) -> Vec<u8> {
    let found: Vec<_> = SETTINGS
        .iter()
        .filter(|(setting, _)| {
            names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(setting.as_bytes()))
        })
        .collect();
    let mut out = format!("*{}\r\n", found.len() * 2).into_bytes();
    for (setting, value) in found {
        out.extend(bulk(setting.as_bytes()));
        out.extend(bulk(value.as_bytes()));
    }
    out
}
