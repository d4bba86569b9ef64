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
//!    handler through a config carrying the codec: `tests/example_resp.rs`
//!    feeds `handler.rs` and `codec.rs` bytes split at every point, and
//!    drives the real program with `redis-cli` and `redis-benchmark` in
//!    every mode.
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
mod handler;

use std::process::ExitCode;

use codec::RespCodec;
use handler::{Resp, Store};
use tcpmodes::{Config, Program};

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
