//! The smallest custom handler: every line comes back in upper case.
//!
//! ```text
//! cargo run --release --example uppercase -- --mode threads --addr 127.0.0.1:7000
//! nc 127.0.0.1 7000        # type lines, read them back in capitals
//! ```
//!
//! Everything a server needs besides the protocol (accepting, threads or a
//! pool, framing, timeouts, `--config`, Ctrl+C) comes from the library; this
//! file is only the protocol. Copy it to start your own.

use std::process::ExitCode;

use tcpmodes::{Action, Config, Context, Framing, Handler, Program};

/// One value per connection: the factory below makes a new one for each
/// client, so a field here would be per-connection state.
#[derive(Default)]
struct Uppercase;

impl Handler for Uppercase {
    /// Called once per complete line (without its `\n`); what is passed to
    /// `reply` is sent back with a `\n` added by the line framing.
    fn on_message(&mut self, line: &[u8], ctx: &mut Context<'_>) -> Action {
        // ASCII only: bytes that are not ASCII letters (UTF-8 included) come
        // back unchanged, so no input can make this handler fail.
        ctx.reply(line.to_ascii_uppercase());
        Action::Continue
    }
}

fn main() -> ExitCode {
    // A line protocol: make line framing the default, so `nc` works without
    // `--framing line`. The config file and flags can still change it.
    Program::new("uppercase")
        .about("Answers every line in upper case")
        .defaults(Config::default().with_framing(Framing::Line))
        .run(Uppercase::default)
}
