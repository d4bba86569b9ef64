//! A small Redis: `PING`, `ECHO`, `SET`, `GET`, `DEL`, `INCR` over RESP,
//! Redis's own wire format, so the real `redis-cli` and `redis-benchmark`
//! talk to it. It is also the tutorial for writing a codec.
//!
//! ```text
//! cargo run --release --example resp -- --mode event --addr 127.0.0.1:6380
//! redis-cli -p 6380 SET greeting hello      -> OK
//! redis-cli -p 6380 GET greeting            -> "hello"
//! redis-cli -p 6380 INCR visits             -> (integer) 1
//! redis-benchmark -p 6380 -t ping_inline,ping_mbulk,set,get -n 20000 -c 50 -q
//! ```
//!
//! # Writing a codec, step by step
//!
//! A protocol's framing (where one message ends) lives in a
//! [`Codec`](tcpmodes::Codec); its meaning lives in a
//! [`Handler`](tcpmodes::Handler). The framework reads the socket, keeps
//! the bytes that are not yet a whole message, and asks the codec about
//! them after every read. `codec.rs` is the whole codec:
//!
//! 1. **Say where the next message ends, or that it has not come yet.**
//!    `decode(buf, max)` looks at the bytes received and not yet used.
//!    It answers `Ok(None)` to wait for more, `Ok(Some(Frame::whole(n)))`
//!    when the first `n` bytes are one command, or an error
//!    (`FrameError::invalid("expected '$', got '+'")`) when the bytes cannot
//!    be RESP. It never copies or keeps the bytes: the framework does.
//!    RESP is self-describing (`*2` says two parts follow, `$4` says four
//!    bytes), so `decode` walks the lengths and jumps over the data. On
//!    an error the framework calls the handler's `on_frame_error`, which
//!    may answer (this one sends Redis's own
//!    `-ERR Protocol error: expected '$', got '+'`), logs the reason and
//!    closes the connection.
//! 2. **Refuse what is too big as soon as you know.** `max` is the
//!    server's `max_message_bytes`: a `$` length over it is
//!    `FrameError::TooLarge` at once, before a byte of the body is read.
//!    The framework enforces `max` on any codec anyway, so a forgotten
//!    check costs memory up to the limit, never more.
//! 3. **Frame what you send.** `encode(message, out)` appends one
//!    outgoing message. RESP replies carry their own type and length, so
//!    the handler builds them with `bulk`, `integer`... and `encode` copies
//!    them.
//! 4. **Parse in the handler.** The handler gets the bytes of one whole
//!    command (`&[u8]`) and reads its arguments with `codec::parse`,
//!    which may skip every check the codec already made. A typed value
//!    from the codec would make every handler and mode generic; bytes
//!    keep the lesson's echo as simple as it was.
//! 5. **Test it without a socket.** `Session::in_memory_with` drives a
//!    handler through a config carrying the codec (see the tests at the
//!    bottom); `tests/example_resp.rs` drives the real program with
//!    `redis-cli` and `redis-benchmark` in every mode.
//!
//! The program chooses its codec in its defaults,
//! `Config::default().with_codec(RespCodec)`; `--framing` is then refused,
//! because it would change the protocol.
//!
//! What each mode does to it is what it does to the `kv` example: in
//! `serial`, `redis-benchmark -c 50` gets one connection served and 49
//! waiting, so run serial with `-c 1`. `pool` serves `--workers`
//! connections at once (2 by default), each until it leaves, so give it
//! a worker per client (`--mode pool --workers 50`): with 2, the 48
//! waiting clients never get their first reply and redis-benchmark never
//! finishes.

mod codec;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use codec::{RespCodec, bulk, error, integer, null, parse, simple};
use tcpmodes::{Action, Config, Context, FrameError, Handler, Program};

/// Most keys the store holds, so clients cannot fill the server's memory
/// without bound (each value is bounded by `max_message_bytes`).
const MAX_KEYS: usize = 1_000_000;

/// The data every connection shares, held for one map operation at a time.
type Store = Arc<Mutex<HashMap<Vec<u8>, Vec<u8>>>>;

/// One connection's handler: a handle to the shared store.
struct Resp {
    store: Store,
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

fn main() -> ExitCode {
    let store = Store::default();
    Program::new("resp")
        .about("A small Redis (PING, ECHO, SET, GET, DEL, INCR) over RESP, for redis-cli and redis-benchmark")
        .version(env!("CARGO_PKG_VERSION"))
        .defaults(Config::default().with_codec(RespCodec).with_address("127.0.0.1:6380"))
        .run(move || Resp {
            store: store.clone(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tcpmodes::{Session, Step};

    fn session(store: &Store) -> Session {
        let config = Config::default().with_codec(RespCodec);
        let mut s = Session::in_memory_with(
            Resp {
                store: store.clone(),
            },
            &config,
        );
        s.start();
        s
    }

    #[test]
    fn commands_in_both_forms_split_anywhere() {
        let store = Store::default();
        let input: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n41\r\nINCR k\r\n\
            *2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$3\r\na\r\n\r\n\
            *2\r\n$3\r\nDEL\r\n$1\r\nk\r\nGET k\r\n";
        let want: &[u8] = b"+OK\r\n:42\r\n$2\r\n42\r\n+PONG\r\n$3\r\na\r\n\r\n:1\r\n$-1\r\n";
        for cut in 0..input.len() {
            let mut s = session(&store);
            s.receive(&input[..cut]);
            s.receive(&input[cut..]);
            assert_eq!(s.take_output(), want, "cut at {cut}");
        }
    }

    #[test]
    fn broken_resp_is_refused_with_redis_words() {
        for (input, why) in [
            (&b"*2\r\n+PING\r\n"[..], "expected '$', got '+'"),
            (b"*x\r\n", "invalid multibulk length"),
            (b"*1\r\n$-5\r\n", "invalid bulk length"),
            (b"*1\r\n$x\r\n", "invalid bulk length"),
            (b"*1\r\n$4\r\nPINGxx", "without its"),
        ] {
            let mut s = session(&Store::default());
            match s.receive(input) {
                Step::Close(reason) => assert!(reason.to_string().contains(why), "{reason}"),
                step => panic!("{input:?}: {step:?}"),
            }
            // The client is told why, as Redis tells it, before the close.
            let told = String::from_utf8(s.take_output()).unwrap();
            assert!(told.starts_with("-ERR Protocol error: "), "{told:?}");
            assert!(told.contains(why) && told.ends_with("\r\n"), "{told:?}");
        }
    }

    #[test]
    fn config_get_answers_the_pairs_redis_benchmark_asks_for() {
        let mut s = session(&Store::default());
        s.receive(
            b"CONFIG GET save\r\nconfig get APPENDONLY\r\n\
              CONFIG GET nothing\r\nCONFIG GET save appendonly\r\nCONFIG GET\r\n",
        );
        let want: &[u8] = b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n\
            *2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n\
            *0\r\n\
            *4\r\n$4\r\nsave\r\n$0\r\n\r\n$10\r\nappendonly\r\n$2\r\nno\r\n\
            -ERR wrong number of arguments for 'config|get' command\r\n";
        assert_eq!(
            String::from_utf8_lossy(&s.take_output()),
            String::from_utf8_lossy(want)
        );
    }
}
