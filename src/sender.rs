//! [`Sender`]: reach a connection from outside its own handler call.
//!
//! A reply is the answer to a message; but a chat room must push a line to
//! Bob when Alice speaks, from Alice's handler call. A `Sender` is a cloneable
//! handle to one connection's outgoing side that any thread may use. It frames
//! what it sends like a reply, and its writes and the connection's own replies
//! take turns whole, so messages never interleave mid-way.
//!
//! Where the bytes go is behind the crate's `Outbox` trait: a socket for
//! the blocking modes, the connection's outgoing queue in the event modes
//! (its event loop writes it; a send never blocks), a buffer in a
//! [`Session`](crate::Session) under test.
//! Handlers only ever see the `Sender`, so a new way of writing changes no
//! handler.

use std::fmt;
use std::io;
use std::sync::Arc;

use crate::framing::Framing;

/// Where a connection's outgoing bytes go: a socket in the blocking
/// modes, an event loop's queue in the event modes (`server/mailbox.rs`),
/// a buffer in a [`Session::in_memory`](crate::Session::in_memory).
pub(crate) trait Outbox: Send + Sync {
    /// Writes already-framed bytes whole, or fails; called from any thread.
    fn write_framed(&self, bytes: &[u8]) -> io::Result<()>;
    /// Ends the connection: the client sees it closed, and the connection's
    /// own thread stops at its next read.
    fn close(&self);
}

/// Why [`Sender::send`] failed: the connection is gone or its client stopped
/// reading. Either way, drop the sender; the connection's handler gets
/// [`on_disconnect`](crate::Handler::on_disconnect).
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

    /// Frames and writes one message. In the blocking modes it blocks at
    /// most `write_timeout_ms` when the client does not read, so one
    /// stalled client cannot hold up the sender's own connection for ever.
    /// In the event modes it never blocks: the message is queued for the
    /// client's event loop to write, and fails (the client is cut as too
    /// slow) once more than `max_pending_bytes` wait for that client.
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
