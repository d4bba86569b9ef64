//! [`Sender`]: reach a connection from outside its own handler call.
//!
//! A reply is the answer to a message; but a chat room must push a line to
//! Bob when Alice speaks, from Alice's handler call. A `Sender` is a cloneable
//! handle to one connection's outgoing side that any thread may use. It frames
//! what it sends like a reply, and its writes and the connection's own replies
//! take turns whole, so messages never interleave mid-way.
//!
//! A send never waits for the client to read: one slow reader must not
//! stall the thread that sends to it (in a chat room, the speaker's, and
//! through it the room). What the socket does not take at once waits in a
//! queue bounded by `max_pending_bytes`; a client past that is cut as
//! [too slow](crate::DisconnectReason::SlowConsumer) and its senders get a
//! [`SendError`] from then on.
//!
//! Where the bytes go is behind the crate's `Outbox` trait: a socket and
//! its queue for the blocking modes (`server/outbox.rs`), the connection's
//! outgoing queue in the event modes (its event loop writes it), a buffer
//! in a [`Session`](crate::Session) under test. Handlers only ever see the
//! `Sender`, so a new way of writing changes no handler.

use std::fmt;
use std::io;
use std::sync::Arc;

use crate::framing::Framing;

/// Where a connection's outgoing bytes go: a socket in the blocking
/// modes, an event loop's queue in the event modes (`server/mailbox.rs`),
/// a buffer in a [`Session::in_memory`](crate::Session::in_memory).
pub(crate) trait Outbox: Send + Sync {
    /// Takes already-framed bytes whole (sent or queued behind what
    /// waits), or fails; called from any thread, and must not wait for the
    /// client to read.
    fn write_framed(&self, bytes: &[u8]) -> io::Result<()>;
    /// Ends the connection: the client sees it closed, and the connection's
    /// own thread stops at its next read.
    fn close(&self);
}

/// Why [`Sender::send`] failed: the connection is gone, or its client
/// stopped reading and was cut (more than `max_pending_bytes` waiting, or
/// nothing taken for `write_timeout_ms`). Either way, drop the sender; the
/// connection's handler gets [`on_disconnect`](crate::Handler::on_disconnect).
#[derive(Debug)]
pub struct SendError(pub io::Error);

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot send to connection: {}", self.0)
    }
}

impl std::error::Error for SendError {}

/// A cloneable handle that sends messages to one connection from any thread.
#[derive(Clone)]
pub struct Sender {
    id: u64,
    framing: Framing,
    outbox: Arc<dyn Outbox>,
}

impl Sender {
    /// A sender writing to `outbox`, framing messages with `framing`; `id` is
    /// the connection's id, so a room can tell its members apart.
    pub(crate) fn new(id: u64, framing: Framing, outbox: Arc<dyn Outbox>) -> Sender {
        Sender {
            id,
            framing,
            outbox,
        }
    }

    /// Frames and sends one message, behind whatever already waits for this
    /// connection. It never waits for the client to read: what its socket
    /// does not take now is queued; if that takes the queue past
    /// `max_pending_bytes`, the client is cut as too slow and this returns
    /// an error (as does every send after).
    pub fn send(&self, message: impl AsRef<[u8]>) -> Result<(), SendError> {
        let mut framed = Vec::with_capacity(message.as_ref().len() + 4);
        self.framing.encode(message.as_ref(), &mut framed);
        self.outbox.write_framed(&framed).map_err(SendError)
    }

    /// Closes the connection, e.g. to kick a client from a room.
    pub fn close(&self) {
        self.outbox.close();
    }

    /// The connection's id (see [`ConnInfo::id`](crate::ConnInfo::id)).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The framing messages are sent with.
    pub fn framing(&self) -> Framing {
        self.framing
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("id", &self.id)
            .field("framing", &self.framing)
            .finish()
    }
}
