//! A chat room: every line a client sends goes to every other client,
//! prefixed with the sender's name.
//!
//! ```text
//! cargo run --release --example chat -- --mode threads --addr 127.0.0.1:7000
//! nc 127.0.0.1 7000          # in two or three terminals
//! NICK alice                 -> everyone else sees "* 127.0.0.1:51234 is now alice"
//! hello                      -> everyone else sees "alice: hello"
//! ```
//!
//! A client is named by its address until it sends `NICK name` (one word,
//! letters, digits, `-` or `_`, up to 24). Joins, renames and leaves are
//! announced as lines starting with `* `. A line nobody else hears gets the
//! answer `(nobody else is here)`.
//!
//! Every member who reads gets every line, however fast someone talks: a
//! line waits in the member's queue, and when a queue is full
//! (`max_pending_bytes`) the *speaker* is slowed to that member's pace,
//! as TCP slows a writer, rather than a line being dropped. A member who
//! stops reading altogether cannot hold the room for long: once its queue
//! is full and it has taken nothing for `stall_timeout_ms` (2 s), it is
//! cut, and the room hears `* name left (too slow to read)`.
//!
//! A handler can only answer its own client; a chat has to write to the
//! others. It does that through a [`Group`] (`src/group.rs`): each connection
//! joins with its [`Sender`](tcpmodes::Sender), a cloneable handle that writes
//! to that connection from any thread, and a line is sent to every member.
//!
//! # What the modes do to a chat room
//!
//! - `threads`: the room works. Every client has a thread blocked reading
//!   its socket, so all are in the room at once, and a line written by one
//!   thread to the others' sockets reaches them at once.
//! - `pool`: the room works for up to `--workers` clients. The next one is
//!   connected but not served: it is in no room, sees nothing, gets no
//!   welcome, until a member leaves and frees a worker. Chat connections last
//!   long, so each holds its worker the whole time.
//! - `serial`: the lesson in one picture. Only the client being served is in
//!   the room, so it is always alone: everything it says gets `(nobody else
//!   is here)`. A second client is connected (the kernel accepted it) but
//!   hears nothing at all, not even its welcome, until the first one leaves;
//!   then it is alone in turn, and what the first said is lost. Serving one
//!   client at a time is not a slower chat: it is no chat.

use std::process::ExitCode;

use tcpmodes::{
    Action, Config, ConnInfo, Context, DisconnectReason, Framing, Group, Handler, Program,
};

/// Longest name accepted by `NICK`.
const MAX_NAME: usize = 24;

/// One client in the room.
struct Chat {
    /// The room, shared by every connection's handler.
    room: Group,
    /// How the others see this client: its address until `NICK`.
    name: String,
    /// Whether it joined the room, so its leaving is announced.
    joined: bool,
}

impl Handler for Chat {
    fn on_connect(&mut self, ctx: &mut Context<'_>) -> Action {
        self.name = ctx.peer().to_string();
        let others = self.room.len();
        // `ctx.reply` is written after this call returns, but once we have
        // joined, other clients may already push lines to us. Sending the
        // welcome through our own sender writes it now, before we join, so it
        // is always the first line a client reads.
        let welcome = format!(
            "Welcome to the chat, {}! {others} other(s) here. Send NICK <name> to pick a name.",
            self.name
        );
        if ctx.sender().send(welcome).is_err() {
            return Action::Close;
        }
        self.room.join(ctx.sender());
        self.joined = true;
        self.room
            .broadcast_except(ctx.id(), format!("* {} joined", self.name));
        Action::Continue
    }

    fn on_message(&mut self, line: &[u8], ctx: &mut Context<'_>) -> Action {
        // Not UTF-8: pass it on readable rather than refuse a whole line.
        let line = String::from_utf8_lossy(line);
        if line.is_empty() {
            return Action::Continue;
        }
        let nick = line
            .strip_prefix("NICK")
            .filter(|rest| rest.is_empty() || rest.starts_with(' '));
        if let Some(arg) = nick {
            match valid_name(arg.trim()) {
                Some(new) => {
                    let old = std::mem::replace(&mut self.name, new.to_string());
                    ctx.reply(format!("* you are now {new}"));
                    self.room
                        .broadcast_except(ctx.id(), format!("* {old} is now {new}"));
                }
                None => ctx.reply(format!(
                    "* NICK takes one word of letters, digits, - or _, up to {MAX_NAME}"
                )),
            }
            return Action::Continue;
        }
        let heard = self
            .room
            .broadcast_except(ctx.id(), format!("{}: {line}", self.name));
        if heard == 0 {
            ctx.reply("(nobody else is here)");
        }
        Action::Continue
    }

    fn on_disconnect(&mut self, info: ConnInfo, reason: &DisconnectReason) {
        // Every way out passes here, a crash or timeout included, so the
        // room never keeps a member that is gone. The room may have dropped
        // it already (a send to it failed), so `joined` says whether to
        // announce it, not `leave`.
        self.room.leave(info.id);
        if self.joined {
            let why = match reason {
                DisconnectReason::SlowConsumer => " (too slow to read)",
                _ => "",
            };
            self.room.broadcast(format!("* {} left{why}", self.name));
        }
    }
}

/// The name in `NICK name`, if it is one acceptable word.
fn valid_name(name: &str) -> Option<&str> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then_some(name)
}

fn main() -> ExitCode {
    let room = Group::new();
    Program::new("chat")
        .about("A chat room: every line goes to every other client")
        .version(env!("CARGO_PKG_VERSION"))
        .defaults(Config::default().with_framing(Framing::Line))
        .run(move || Chat {
            room: room.clone(),
            name: String::new(),
            joined: false,
        })
}
