//! The [`Handler`] trait: one connection's protocol logic, and nothing else.
//!
//! A handler never sees a socket. The framework reads bytes, cuts them into
//! messages with the configured [framing](crate::Framing), calls the handler
//! once per message, frames whatever it replied and writes it back. Keeping
//! the socket out of the handler is what lets every mode (serial, threads,
//! pool, and the event loops) drive every handler unchanged, and what
//! lets a handler be unit-tested by feeding it bytes through a
//! [`Session`](crate::Session).

use std::fmt;
use std::net::SocketAddr;

use crate::codec::FrameError;
use crate::sender::Sender;

/// What the connection should do after a handler call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Keep the connection open and wait for the next message.
    Continue,
    /// Send what was replied so far, then close the connection. The echo
    /// protocol returns this on `exit`.
    Close,
}

/// Why a connection ended; handed to [`Handler::on_disconnect`] and logged.
///
/// Handlers that keep shared state (a chat room, a session table) use it to
/// tell a polite goodbye from a crash, or to count timeouts.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The client closed its side (read returned end of stream).
    ClientClosed,
    /// The handler returned [`Action::Close`] (the lesson's `exit`).
    Exit,
    /// No complete message arrived within `read_timeout_ms`, or the client
    /// took none of what it was sent (replies or pushes) for `write_timeout_ms`.
    Timeout,
    /// The server is shutting down; the message in flight was answered.
    Shutdown,
    /// The client broke the framing, e.g. a message over `max_message_bytes`.
    Protocol(String),
    /// The handler panicked; the message is the panic's text.
    Panic(String),
    /// The client reset the connection: it crashed, or closed while data
    /// was still on its way. Common and harmless under load generators.
    Reset,
    /// The client stopped reading: its queue was full (`max_pending_bytes`
    /// waiting, and someone slowed by it) and it took no byte for
    /// `stall_timeout_ms`. It is cut so those who send to it go on; a
    /// client who reads, however slowly, is never cut for this.
    SlowConsumer,
    /// The server closed it through [`Sender::close`], e.g. a chat room
    /// kicking a member; told apart from the client leaving so a room can
    /// say who was kicked.
    Closed,
    /// Any other socket error.
    Error(String),
}

impl DisconnectReason {
    /// Why a connection ended, from the socket error that ended it (every
    /// mode's read and write paths share this reading).
    pub(crate) fn from_io(e: &std::io::Error) -> DisconnectReason {
        use std::io::ErrorKind;
        match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => DisconnectReason::Timeout,
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => DisconnectReason::Reset,
            _ => DisconnectReason::Error(crate::error::io_text(e)),
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::ClientClosed => f.write_str("client closed"),
            DisconnectReason::Exit => f.write_str("exit"),
            DisconnectReason::Timeout => f.write_str("timeout"),
            DisconnectReason::Shutdown => f.write_str("server shutdown"),
            DisconnectReason::Protocol(m) => write!(f, "protocol error: {m}"),
            DisconnectReason::Panic(m) => write!(f, "handler panicked: {m}"),
            DisconnectReason::Reset => f.write_str("reset by the client"),
            DisconnectReason::SlowConsumer => {
                f.write_str("too slow: stopped reading while its queue was full")
            }
            DisconnectReason::Closed => f.write_str("closed by the server (Sender::close)"),
            DisconnectReason::Error(m) => write!(f, "error: {m}"),
        }
    }
}

/// Facts about a connection that do not change while it lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnInfo {
    /// A number unique within one server run, in accept order; handy as a
    /// key in shared maps because addresses can be reused.
    pub id: u64,
    /// The client's address, as the lesson prints it. Behind a load
    /// balancer that sends the PROXY protocol (`proxy_protocol`), the real
    /// client's address from the header, not the balancer's.
    pub peer: SocketAddr,
    /// The address the connection really came from when `peer` was taken
    /// from a PROXY protocol header (the balancer's); `None` when the
    /// client connected directly.
    pub balancer: Option<SocketAddr>,
}

impl ConnInfo {
    pub(crate) fn new(id: u64, peer: SocketAddr) -> ConnInfo {
        ConnInfo {
            id,
            peer,
            balancer: None,
        }
    }
}

/// What a handler call may do to its connection: reply, learn who it talks
/// to, or take a [`Sender`] to reach this connection later from elsewhere.
///
/// Replies are buffered and written after the call returns, framed by the
/// connection's framing, so a handler writes plain messages and never worries
/// about partial writes.
pub struct Context<'a> {
    pub(crate) info: ConnInfo,
    pub(crate) out: &'a mut Vec<u8>,
    pub(crate) sender: &'a Sender,
    /// A reply the codec could not frame: the connection closes after
    /// the call, with this as its reason.
    pub(crate) unframed: &'a mut Option<FrameError>,
}

impl Context<'_> {
    /// Queues one message to this client. It is framed by the codec (a
    /// `\n` added for `line`, a length prefix for `length`) and sent after
    /// the call returns. A message the codec cannot frame (too long for
    /// its length field) is not sent, and the connection closes after the
    /// call with a protocol error naming it: a reply cannot be half sent.
    pub fn reply(&mut self, message: impl AsRef<[u8]>) {
        if self.unframed.is_none()
            && let Err(e) = self.sender.encode(message.as_ref(), self.out)
        {
            *self.unframed = Some(e);
        }
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.info.peer
    }

    /// This connection's id, unique within the server run.
    pub fn id(&self) -> u64 {
        self.info.id
    }

    /// Both of the above.
    pub fn info(&self) -> ConnInfo {
        self.info
    }

    /// A cloneable handle that sends to this connection from anywhere (other
    /// connections' handlers, timers), e.g. to build a chat room. Messages
    /// sent through it are framed like replies and never interleave with them.
    pub fn sender(&self) -> Sender {
        self.sender.clone()
    }
}

/// A connection's protocol logic.
///
/// The framework makes one handler value per connection with the factory
/// closure you give it, so per-connection state lives in `self`; state shared
/// between connections goes in an `Arc` the factory captures. Only
/// [`on_message`](Handler::on_message) is required:
///
/// ```
/// use tcpmodes::{Action, Context, Handler};
///
/// /// Replies every message in upper case.
/// struct Upper;
///
/// impl Handler for Upper {
///     fn on_message(&mut self, msg: &[u8], ctx: &mut Context<'_>) -> Action {
///         ctx.reply(msg.to_ascii_uppercase());
///         Action::Continue
///     }
/// }
/// ```
///
/// Handlers must be `Send` because threads and pool modes move them to the
/// thread that serves the connection (and event-workers mode to a worker
/// for each message). A call blocks that thread (the echo handler's
/// `delay_ms` sleeps in it), which is exactly what the modes make visible:
/// serial makes everyone wait, threads do not, and in event mode a call
/// that blocks stalls every client of its event loop. In the event modes
/// `on_connect` and `on_disconnect` run on the loop: keep them quick.
pub trait Handler: Send + 'static {
    /// Called once when the connection is served, before any message; may
    /// greet (the lesson sends `Welcome!`) or refuse by returning
    /// [`Action::Close`].
    fn on_connect(&mut self, ctx: &mut Context<'_>) -> Action {
        let _ = ctx;
        Action::Continue
    }

    /// Called for each complete message, in order. The slice is only valid
    /// during the call; copy what you keep.
    fn on_message(&mut self, message: &[u8], ctx: &mut Context<'_>) -> Action;

    /// Called when the client's bytes break the protocol (the codec's
    /// [`FrameError`]: a message over `max_message_bytes`, an HTTP
    /// `Content-Length` that cannot be trusted); the connection is then
    /// closed with [`DisconnectReason::Protocol`], after what this call
    /// replied is sent. Nothing is replied by default; an HTTP server
    /// answers `400 Bad Request` here, as RFC 9112 requires.
    fn on_frame_error(&mut self, error: &FrameError, ctx: &mut Context<'_>) {
        let _ = (error, ctx);
    }

    /// Called exactly once when a connection that was served ends, whatever
    /// the reason; nothing can be sent any more. Use it to leave shared state
    /// tidy (remove yourself from a room).
    fn on_disconnect(&mut self, info: ConnInfo, reason: &DisconnectReason) {
        let _ = (info, reason);
    }
}

impl<H: Handler + ?Sized> Handler for Box<H> {
    fn on_connect(&mut self, ctx: &mut Context<'_>) -> Action {
        (**self).on_connect(ctx)
    }
    fn on_message(&mut self, message: &[u8], ctx: &mut Context<'_>) -> Action {
        (**self).on_message(message, ctx)
    }
    fn on_frame_error(&mut self, error: &FrameError, ctx: &mut Context<'_>) {
        (**self).on_frame_error(error, ctx)
    }
    fn on_disconnect(&mut self, info: ConnInfo, reason: &DisconnectReason) {
        (**self).on_disconnect(info, reason)
    }
}

/// Makes one handler per connection; shared by every thread of the server.
pub(crate) type HandlerFactory = dyn Fn() -> Box<dyn Handler> + Send + Sync;
