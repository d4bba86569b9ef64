//! [`Session`]: one connection's protocol, without the I/O.
//!
//! Bytes in, handler calls, bytes out. The session decodes messages, calls
//! the handler, frames its replies, and catches its panics; it never touches
//! a socket. Every mode drives connections through it (the blocking loop in
//! `server/blocking/serve.rs` reads and writes around it; an event loop feeds it reads
//! and hands it to a worker one message at a time), and a test drives it with
//! plain byte slices, which is how a handler is unit-tested:
//!
//! ```
//! use tcpmodes::{EchoHandler, Framing, Session, Step};
//!
//! let mut s = Session::in_memory(EchoHandler::default(), Framing::Line);
//! s.start();
//! assert_eq!(s.take_output(), b"Welcome!\n");
//! s.receive(b"hi\n");
//! assert_eq!(s.take_output(), b"Received hi;\n");
//! assert!(matches!(s.receive(b"exit\n"), Step::Close(_)));
//! ```

use std::any::Any;
use std::cell::Cell;
use std::net::{Ipv4Addr, SocketAddr};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, Once};

use crate::call_log::CallLog;
use crate::codec::{FrameError, FrameReader, Framing};
use crate::config::Config;
use crate::handler::{Action, ConnInfo, Context, DisconnectReason, Handler};
use crate::sender::{Outbox, SendError, Sender};

/// What the driver of a session should do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Write the output, then read more.
    Continue,
    /// Write the output, then close for this reason (and call
    /// [`Session::end`] with it).
    Close(DisconnectReason),
}

/// One connection's handler, decoder and pending output.
pub struct Session {
    handler: Box<dyn Handler>,
    decoder: FrameReader,
    sender: Sender,
    info: ConnInfo,
    out: Vec<u8>,
    /// Messages decoded so far.
    messages: u64,
    /// Set once the session has decided to close (the handler said
    /// [`Action::Close`], panicked, or the framing broke): later input is
    /// ignored, but the driver still writes what was replied before.
    closing: bool,
    /// Set once `on_disconnect` has run, so it runs exactly once whichever
    /// path of the driver ends the connection.
    ended: bool,
    /// Where [`Sender`]s write in an [`in_memory`](Session::in_memory) session.
    memory: Option<Arc<MemoryOutbox>>,
    /// When each handler call begins, for `compare`'s timeline; `None`
    /// for every other server.
    calls: Option<Arc<CallLog>>,
}

impl Session {
    /// A session for connection `info`, framed as `config` says, whose
    /// out-of-band messages (from [`Sender`]s) go to `outbox`.
    pub(crate) fn new(
        handler: Box<dyn Handler>,
        info: ConnInfo,
        config: &Config,
        outbox: Arc<dyn Outbox>,
        calls: Option<Arc<CallLog>>,
    ) -> Session {
        install_panic_hook();
        if let Some(log) = &calls {
            log.opened(info.id, info.peer);
        }
        let codec = config.codec();
        Session {
            handler,
            decoder: FrameReader::new(codec.for_decoding(), config.max_message_bytes),
            sender: Sender::new(info.id, codec, outbox),
            info,
            out: Vec::new(),
            messages: 0,
            closing: false,
            ended: false,
            memory: None,
            calls,
        }
    }

    /// A session with no socket behind it, for tests: the peer is
    /// `127.0.0.1:0`, the message limit the default 64 KiB, and what
    /// [`Sender`]s send is kept in memory (see [`sent`](Session::sent)).
    pub fn in_memory(handler: impl Handler, framing: Framing) -> Session {
        Session::in_memory_with(handler, &Config::default().with_framing(framing))
    }

    /// [`in_memory`](Session::in_memory) with the codec (a program's own,
    /// or `framing`'s) and `max_message_bytes` of `config`, to test a
    /// handler under the codec and limits it will really run with.
    pub fn in_memory_with(handler: impl Handler, config: &Config) -> Session {
        let info = ConnInfo::new(0, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        let memory = Arc::new(MemoryOutbox::default());
        let mut session = Session::new(Box::new(handler), info, config, memory.clone(), None);
        session.memory = Some(memory);
        session
    }

    /// Runs the handler's `on_connect` (the greeting goes to the output).
    pub fn start(&mut self) -> Step {
        self.call(|handler, ctx| handler.on_connect(ctx))
    }

    /// Runs one handler call with this connection's context, catching its
    /// panic; a reply the codec could not frame closes the connection.
    fn call(&mut self, f: impl FnOnce(&mut dyn Handler, &mut Context<'_>) -> Action) -> Step {
        let Session {
            handler,
            sender,
            info,
            out,
            ..
        } = self;
        let mut unframed = None;
        let mut ctx = Context {
            info: *info,
            out,
            sender,
            unframed: &mut unframed,
        };
        let step = guarded(info, || f(handler.as_mut(), &mut ctx));
        let step = unless_unframed(step, unframed, info);
        self.note(step)
    }

    /// Feeds the bytes of one read: every complete message is handed to the
    /// handler in order, until one asks to close or the framing breaks.
    pub fn receive(&mut self, data: &[u8]) -> Step {
        if self.closing {
            return Step::Close(DisconnectReason::Exit);
        }
        self.decoder.push(data);
        loop {
            match self.handle_next() {
                None => return Step::Continue,
                Some(Step::Continue) => {}
                Some(close) => return close,
            }
        }
    }

    /// Takes the bytes of one read without handling them: the event loops
    /// frame on their own thread and hand the handler calls out one
    /// message at a time ([`handle_next`](Session::handle_next)). Each read
    /// is pushed alone, as `raw` framing needs (a read is its message).
    pub(crate) fn push(&mut self, data: &[u8]) {
        if !self.closing {
            self.decoder.push(data);
        }
    }

    /// Whether [`handle_next`](Session::handle_next) has work: a complete
    /// message, or a broken framing to report. Never once closing.
    pub(crate) fn has_input(&mut self) -> bool {
        !self.closing && self.decoder.has_message()
    }

    /// Hands the next complete message to the handler; `None` when no
    /// message is complete. A broken framing closes, as in `receive`,
    /// after the handler's [`on_frame_error`](Handler::on_frame_error).
    pub(crate) fn handle_next(&mut self) -> Option<Step> {
        if self.closing {
            return Some(Step::Close(DisconnectReason::Exit));
        }
        let Session {
            handler,
            decoder,
            sender,
            info,
            out,
            messages,
            ..
        } = self;
        let message = match decoder.next_message() {
            Ok(Some(m)) => m,
            Ok(None) => return None,
            Err(e) => return Some(self.refuse(e)),
        };
        *messages += 1;
        if let Some(log) = &self.calls {
            log.call(info.id);
        }
        let mut unframed = None;
        let mut ctx = Context {
            info: *info,
            out,
            sender,
            unframed: &mut unframed,
        };
        let step = guarded(info, || handler.on_message(message, &mut ctx));
        let step = unless_unframed(step, unframed, info);
        Some(self.note(step))
    }

    /// The client broke the framing: the handler may answer (an HTTP 400),
    /// then the connection closes with the error as its reason.
    fn refuse(&mut self, error: FrameError) -> Step {
        self.call(|handler, ctx| {
            handler.on_frame_error(&error, ctx);
            Action::Close
        });
        self.closing = true;
        Step::Close(DisconnectReason::Protocol(error.to_string()))
    }

    fn note(&mut self, step: Step) -> Step {
        if matches!(step, Step::Close(_)) {
            self.closing = true;
        }
        step
    }

    /// Calls the handler's `on_disconnect` once; later calls do nothing, so
    /// every driver can call it on every path out.
    pub fn end(&mut self, reason: &DisconnectReason) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        let (handler, info) = (&mut self.handler, self.info);
        // A panic here has nobody left to tell but the log.
        if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| {
            in_handler(|| handler.on_disconnect(info, reason))
        })) {
            log::error!(
                "Handler for {} panicked in on_disconnect: {}",
                info.peer,
                panic_text(p.as_ref())
            );
        }
    }

    /// The framed bytes waiting to be written.
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    /// Takes the framed bytes waiting to be written.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Forgets the output once the driver has written it, keeping the buffer.
    pub fn clear_output(&mut self) {
        self.out.clear();
    }

    /// Messages decoded so far.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// Bytes of an unfinished message held by the decoder.
    pub fn pending(&self) -> usize {
        self.decoder.pending()
    }

    /// The connection this session serves.
    pub fn info(&self) -> ConnInfo {
        self.info
    }

    /// This connection's sender (the one handlers get from
    /// [`Context::sender`]).
    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    /// For an [`in_memory`](Session::in_memory) session: what was sent
    /// through [`Sender`]s, framed. Empty for a session on a socket.
    pub fn sent(&self) -> Vec<u8> {
        self.memory
            .as_deref()
            .map(MemoryOutbox::take)
            .unwrap_or_default()
    }
}

/// An [`Outbox`] that keeps what is sent in memory, for tests.
#[derive(Default)]
pub(crate) struct MemoryOutbox {
    buf: Mutex<Vec<u8>>,
    closed: std::sync::atomic::AtomicBool,
}

impl MemoryOutbox {
    /// Takes what was sent so far.
    pub(crate) fn take(&self) -> Vec<u8> {
        std::mem::take(&mut self.buf.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Whether a sender closed the connection.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Never full: a test takes what was sent when it likes.
impl Outbox for MemoryOutbox {
    fn send(&self, bytes: &[u8], _wait: bool) -> Result<(), SendError> {
        if self.is_closed() {
            return Err(SendError::Closed(DisconnectReason::Closed));
        }
        self.buf
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(())
    }
    fn pending(&self) -> usize {
        self.buf.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
    fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A call that replied something its codec could not frame closes the
/// connection: a reply cannot be half sent.
fn unless_unframed(step: Step, unframed: Option<FrameError>, info: &ConnInfo) -> Step {
    match (step, unframed) {
        (Step::Continue, Some(e)) => {
            log::warn!("A reply to {} cannot be framed: {e}", info.peer);
            Step::Close(DisconnectReason::Protocol(format!(
                "reply cannot be framed: {e}"
            )))
        }
        (step, _) => step,
    }
}

/// Runs one handler call, turning a panic into a close with its text.
fn guarded(info: &ConnInfo, call: impl FnOnce() -> Action) -> Step {
    match panic::catch_unwind(AssertUnwindSafe(|| in_handler(call))) {
        Ok(Action::Continue) => Step::Continue,
        Ok(Action::Close) => Step::Close(DisconnectReason::Exit),
        Err(p) => {
            let text = panic_text(p.as_ref());
            log::error!("Handler for {} panicked: {text}", info.peer);
            Step::Close(DisconnectReason::Panic(text))
        }
    }
}

/// Runs handler code that has no [`Session`] yet (the factory that makes
/// the handler) as a session runs handler calls: a panic comes back as its
/// text, reported by the caller in one line, not by the default hook.
pub(crate) fn catch_handler_panic<T>(call: impl FnOnce() -> T) -> Result<T, String> {
    install_panic_hook();
    panic::catch_unwind(AssertUnwindSafe(|| in_handler(call))).map_err(|p| panic_text(p.as_ref()))
}

/// A panic's message, for the one log line that reports it.
pub(crate) fn panic_text(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-text panic".to_string()
    }
}

thread_local! {
    // Already `const`: on windows-gnu std keeps thread locals through the
    // OS's TLS keys, whose expansion clippy misreads as not const.
    #[cfg_attr(windows, allow(clippy::missing_const_for_thread_local))]
    static IN_HANDLER: Cell<bool> = const { Cell::new(false) };
}

fn in_handler<T>(call: impl FnOnce() -> T) -> T {
    IN_HANDLER.with(|f| f.set(true));
    let _reset = ResetFlag;
    call()
}

struct ResetFlag;
impl Drop for ResetFlag {
    fn drop(&mut self) {
        IN_HANDLER.with(|f| f.set(false));
    }
}

/// A panic inside a handler call is caught and logged by the session as one
/// line naming the client; this hook keeps the default hook from also
/// printing a panic message and backtrace for it. Panics anywhere else are
/// reported as usual.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_HANDLER.with(|f| f.get()) {
                previous(info);
            }
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes every message to its own connection through a `Sender`, as a
    /// chat room pushes to others.
    struct Pusher;

    impl Handler for Pusher {
        fn on_message(&mut self, msg: &[u8], ctx: &mut Context<'_>) -> Action {
            let _ = ctx.sender().send(msg);
            Action::Continue
        }
    }

    /// The event loops' way through a session: bytes pushed, messages
    /// handled one at a time, the same replies as `receive` gives.
    #[test]
    fn push_and_handle_next_answer_as_receive_does() {
        let mut s = Session::in_memory(crate::EchoHandler::default(), Framing::Line);
        s.start();
        s.push(b"one\ntw");
        assert!(s.has_input());
        assert_eq!(s.handle_next(), Some(Step::Continue));
        assert_eq!(s.take_output(), b"Welcome!\nReceived one;\n");
        assert!(!s.has_input(), "half a line is not a message");
        assert_eq!(s.handle_next(), None);
        s.push(b"o\nexit\nlost\n");
        assert_eq!(s.handle_next(), Some(Step::Continue));
        assert_eq!(s.handle_next(), Some(Step::Close(DisconnectReason::Exit)));
        assert!(!s.has_input(), "nothing is handled once closing");
        assert_eq!(s.take_output(), b"Received two;\n");
        assert_eq!(s.messages(), 3);
    }

    /// A reply its codec cannot frame is never half sent: nothing of it
    /// goes out, and the connection closes naming why; what was replied
    /// before it still goes out.
    #[test]
    fn a_reply_the_codec_cannot_frame_closes_the_connection() {
        struct Big;
        impl Handler for Big {
            fn on_message(&mut self, msg: &[u8], ctx: &mut Context<'_>) -> Action {
                ctx.reply(msg);
                ctx.reply(vec![b'x'; 300]);
                Action::Continue
            }
        }
        let config = Config::default().with_codec(crate::LengthCodec::new().width(1));
        let mut s = Session::in_memory_with(Big, &config);
        s.start();
        match s.receive(b"\x02hi") {
            Step::Close(DisconnectReason::Protocol(why)) => {
                assert!(why.contains("does not fit a 1-byte length field"), "{why}")
            }
            step => panic!("{step:?}"),
        }
        assert_eq!(s.take_output(), b"\x02hi");
    }

    #[test]
    fn in_memory_sessions_keep_what_senders_send() {
        let mut s = Session::in_memory(Pusher, Framing::Line);
        s.start();
        s.receive(b"hi\n");
        assert!(s.take_output().is_empty(), "nothing was replied");
        assert_eq!(s.sent(), b"hi\n");
        assert!(s.sent().is_empty(), "sent() takes what was sent");
    }
}
