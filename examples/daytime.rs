//! RFC 867, the Daytime protocol: on connect, send the current time as one
//! human-readable line and close. The client sends nothing.
//!
//! ```text
//! cargo run --release --example daytime -- --mode threads --addr 127.0.0.1:7013
//! nc 127.0.0.1 7013         # prints e.g. "Tue, 25 Nov 2025 18:14:03 GMT", then closes
//! ```
//!
//! A connection that ends itself: the whole protocol is `on_connect`
//! returning [`Action::Close`]. That makes it the simplest connection-churn
//! workload: every request is a connect, an accept, one write and a close,
//! so what it measures is how fast a mode accepts and sets up connections,
//! not how it handles messages. All three modes serve it correctly; `serial`
//! is not even slow here, since no client ever holds the server for long,
//! while `threads` pays a thread creation per connection and `pool` does not.
//!
//! RFC 867 leaves the format free; this uses the fixed HTTP date format
//! (RFC 9110's IMF-fixdate, always UTC) through the `httpdate` crate, the
//! same as `http_hello`'s `Date` header.

use std::process::ExitCode;
use std::time::SystemTime;

use tcpmodes::{Action, Context, Handler, Program};

/// Holds nothing: the time is read when a client connects.
#[derive(Default)]
struct Daytime;

impl Handler for Daytime {
    fn on_connect(&mut self, ctx: &mut Context<'_>) -> Action {
        // The default `raw` framing sends the reply as it is, so the line end
        // is ours to add; RFC 867 suggests ASCII with CR LF.
        ctx.reply(format!(
            "{}\r\n",
            httpdate::fmt_http_date(SystemTime::now())
        ));
        Action::Close
    }

    /// RFC 867: "Any data received is thrown away". The connection closes
    /// right after the greeting, so this is rarely even called.
    fn on_message(&mut self, _: &[u8], _: &mut Context<'_>) -> Action {
        Action::Close
    }
}

fn main() -> ExitCode {
    Program::new("daytime")
        .about("RFC 867 Daytime: send the time as one line, then close")
        .version(env!("CARGO_PKG_VERSION"))
        .run(Daytime::default)
}
