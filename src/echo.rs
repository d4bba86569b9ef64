//! The built-in `echo` handler: the lesson's protocol, exactly.
//!
//! The lesson's `server.py` greets with `Welcome!`, sleeps a second before
//! each answer (so a class can watch a second client wait), answers
//! `Received <message>;`, and closes on `exit`. This handler does the same,
//! with the sleep made a setting (`delay_ms`, 0 by default) and two fixes:
//! bytes that are not UTF-8 are echoed as they are, where the Python server
//! dies on `decode('utf-8')`; and `exit` followed by a line ending (what
//! `nc` sends when you type `exit` and press Enter) closes too, where the
//! lesson's server compares the whole read with `exit` and so never closes
//! for `nc`.

use std::thread;
use std::time::Duration;

use crate::handler::{Action, Context, Handler};

/// The greeting sent to every client, as in the lesson. The load generator
/// checks replies against these same bytes, so the two cannot drift apart.
pub(crate) const GREETING: &[u8] = b"Welcome!";

/// The message that closes the connection.
pub(crate) const EXIT: &[u8] = b"exit";

/// Whether `message` asks to close: `exit` exactly, as the lesson's client
/// sends it, or followed by one line ending, as `nc` and `telnet` send it
/// in the raw framing (which keeps line endings); otherwise a learner
/// typing `exit` would wait for the read timeout.
fn is_exit(message: &[u8]) -> bool {
    let line = message
        .strip_suffix(b"\n")
        .map(|m| m.strip_suffix(b"\r").unwrap_or(m))
        .unwrap_or(message);
    line == EXIT
}

/// Appends the answer to `message` (`Received <message>;`) to `out`.
pub(crate) fn answer(message: &[u8], out: &mut Vec<u8>) {
    out.reserve(message.len() + 10);
    out.extend_from_slice(b"Received ");
    out.extend_from_slice(message);
    out.push(b';');
}

/// The lesson's protocol; the handler `cargo run` serves.
#[derive(Clone, Debug, Default)]
pub struct EchoHandler {
    delay: Duration,
    /// The reply being built, kept between messages so a busy connection
    /// does not allocate one per message.
    reply: Vec<u8>,
}

impl EchoHandler {
    /// An echo handler that waits `delay` before each reply, like the
    /// lesson's `time.sleep(1)`.
    pub fn new(delay: Duration) -> EchoHandler {
        EchoHandler {
            delay,
            reply: Vec::new(),
        }
    }
}

impl Handler for EchoHandler {
    fn on_connect(&mut self, ctx: &mut Context<'_>) -> Action {
        ctx.reply(GREETING);
        Action::Continue
    }

    fn on_message(&mut self, message: &[u8], ctx: &mut Context<'_>) -> Action {
        if !self.delay.is_zero() {
            thread::sleep(self.delay);
        }
        if is_exit(message) {
            return Action::Close;
        }
        self.reply.clear();
        answer(message, &mut self.reply);
        ctx.reply(&self.reply);
        Action::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Framing, Session, Step};

    #[test]
    fn replays_the_lesson_transcript_without_a_socket() {
        let mut s = Session::in_memory(EchoHandler::default(), Framing::Raw);
        assert_eq!(s.start(), Step::Continue);
        assert_eq!(s.take_output(), b"Welcome!");
        for i in 1..=5 {
            let msg = format!("message{i}");
            assert_eq!(s.receive(msg.as_bytes()), Step::Continue);
            assert_eq!(s.take_output(), format!("Received {msg};").as_bytes());
        }
        assert!(matches!(s.receive(b"exit"), Step::Close(_)));
        assert!(s.take_output().is_empty());
        assert_eq!(s.messages(), 6);
    }

    #[test]
    fn echoes_bytes_that_are_not_utf8() {
        let mut s = Session::in_memory(EchoHandler::default(), Framing::Length);
        s.start();
        s.take_output();
        let mut input = Vec::new();
        Framing::Length.encode(&[0xff, 0xfe], &mut input).unwrap();
        s.receive(&input);
        let mut want = Vec::new();
        Framing::Length
            .encode(b"Received \xff\xfe;", &mut want)
            .unwrap();
        assert_eq!(s.take_output(), want);
    }

    #[test]
    fn exit_typed_in_nc_closes_in_raw_framing() {
        for typed in [&b"exit\n"[..], b"exit\r\n", b"exit"] {
            let mut s = Session::in_memory(EchoHandler::default(), Framing::Raw);
            s.start();
            s.take_output();
            assert_eq!(
                s.receive(typed),
                Step::Close(crate::DisconnectReason::Exit),
                "{typed:?}"
            );
            assert!(s.take_output().is_empty());
        }
        let mut s = Session::in_memory(EchoHandler::default(), Framing::Raw);
        s.start();
        s.take_output();
        for not_exit in [&b"exit\n\n"[..], b"exit now\n", b" exit\n", b"exit\r"] {
            assert_eq!(s.receive(not_exit), Step::Continue, "{not_exit:?}");
        }
    }

    #[test]
    fn exit_with_crlf_closes_in_line_framing() {
        let mut s = Session::in_memory(EchoHandler::default(), Framing::Line);
        s.start();
        assert_eq!(
            s.receive(b"a\nexit\r\nnever\n"),
            Step::Close(crate::DisconnectReason::Exit)
        );
        assert_eq!(s.take_output(), b"Welcome!\nReceived a;\n");
    }
}
