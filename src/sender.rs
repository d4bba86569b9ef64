//! [`Sender`]: reach a connection from outside its own handler call.
//!
//! A reply is the answer to a message; but a chat room must push a line to
//! Bob when Alice speaks, from Alice's handler call. A `Sender` is a cloneable
//! handle to one connection's outgoing side that any thread may use. It frames
//! what it sends like a reply, and its writes and the connection's own replies
//! take turns whole, so messages never interleave mid-way.
//!
//! # When the client reads slower than you send
//!
//! What the socket does not take at once waits in the connection's queue.
//! Past `max_pending_bytes` waiting, [`send`](Sender::send) slows the
//! *producer*, as TCP slows a writer, and never drops a byte: on a thread
//! that may wait (blocking modes, your own threads) the call waits until
//! the client has taken half the queue; in a handler call on an event loop
//! or an event-workers worker it returns at once and the calling
//! connection is not read again until that queue has drained. A client
//! that takes no byte at all for `stall_timeout_ms` while its queue is
//! full is cut as [too slow](crate::DisconnectReason::SlowConsumer), and
//! whoever waited on it goes on. So a chat line reaches every member who
//! reads, however fast the speaker talks.
//!
//! Data that is fine to lose (a game's positions, a price that the next
//! one replaces) should not slow its producer: [`try_send`](Sender::try_send)
//! refuses with [`SendError::Full`] instead, and
//! [`pending_bytes`](Sender::pending_bytes) tells how far behind a client
//! is. [`Group`](crate::Group) offers both kinds of broadcast.
//!
//! Where the bytes go is behind the crate's `Outbox` trait: the
//! connection's queue (`server/outgoing/`) in every mode, a buffer in a
//! [`Session`](crate::Session) under test. Handlers only ever see the
//! `Sender`, so a new way of writing changes no handler.

use std::fmt;
use std::sync::Arc;

use crate::codec::{FrameError, SharedCodec};
use crate::handler::DisconnectReason;

/// Where a connection's outgoing bytes go: its queue (`server/outgoing/`)
/// in every mode, a buffer in a [`Session::in_memory`](crate::Session::in_memory).
pub(crate) trait Outbox: Send + Sync {
    /// Takes already-framed bytes whole, behind what waits, or fails;
    /// called from any thread. Past the limit, `wait` slows the producer
    /// (see the module docs); without it the send is refused as full.
    fn send(&self, bytes: &[u8], wait: bool) -> Result<(), SendError>;
    /// Bytes waiting to be taken by the client.
    fn pending(&self) -> usize;
    /// Ends the connection: the client sees it closed, and the connection's
    /// handler gets [`DisconnectReason::Closed`].
    fn close(&self);
}

/// Why a message was not sent.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The connection has ended, for this reason (the client left, was cut
    /// as too slow, was closed by [`Sender::close`]...). Drop the sender;
    /// the connection's handler gets
    /// [`on_disconnect`](crate::Handler::on_disconnect).
    Closed(DisconnectReason),
    /// Nothing was sent because the client's queue is full:
    /// [`Sender::try_send`] with more than `max_pending_bytes` waiting, or a
    /// handler call on an event loop that would take the queue past twice
    /// the limit. The client is still there: try again later, or skip it.
    Full,
    /// [`Group::send_to`](crate::Group::send_to): no member has that id.
    NotAMember(u64),
    /// The connection's codec cannot frame this message (too long for a
    /// length field); nothing was sent.
    Encode(FrameError),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed(reason) => write!(f, "connection closed: {reason}"),
            SendError::Full => f.write_str(
                "the client's queue is full: more than max_pending_bytes wait to be sent to it",
            ),
            SendError::NotAMember(id) => write!(f, "connection {id} is not a member"),
            SendError::Encode(e) => write!(f, "cannot frame the message: {e}"),
        }
    }
}

impl std::error::Error for SendError {}

/// A cloneable handle that sends messages to one connection from any thread.
#[derive(Clone)]
pub struct Sender {
    id: u64,
    codec: SharedCodec,
    outbox: Arc<dyn Outbox>,
}

impl Sender {
    /// A sender writing to `outbox`, framing messages with `codec`; `id` is
    /// the connection's id, so a room can tell its members apart.
    pub(crate) fn new(id: u64, codec: SharedCodec, outbox: Arc<dyn Outbox>) -> Sender {
        Sender { id, codec, outbox }
    }

    /// Frames and sends one message, behind whatever already waits for this
    /// connection; nothing sent is ever dropped for a client who reads.
    /// Past `max_pending_bytes` waiting, the producer is slowed (see the
    /// module docs): this call waits on a thread that may wait, or pauses
    /// the calling connection in an event mode's handler call. Fails once
    /// the connection has ended, e.g. cut after taking nothing for
    /// `stall_timeout_ms`.
    pub fn send(&self, message: impl AsRef<[u8]>) -> Result<(), SendError> {
        self.outbox.send(&self.frame(message.as_ref())?, true)
    }

    /// [`send`](Sender::send) that never slows anyone: with more than
    /// `max_pending_bytes` waiting for the client it sends nothing and
    /// returns [`SendError::Full`]. For data that is fine to lose.
    pub fn try_send(&self, message: impl AsRef<[u8]>) -> Result<(), SendError> {
        self.outbox.send(&self.frame(message.as_ref())?, false)
    }

    /// Bytes sent to this connection (replies included) that its client
    /// has not taken yet: how far behind it is.
    pub fn pending_bytes(&self) -> usize {
        self.outbox.pending()
    }

    fn frame(&self, message: &[u8]) -> Result<Vec<u8>, SendError> {
        let mut framed = Vec::with_capacity(message.len() + 4);
        self.encode(message, &mut framed)
            .map_err(SendError::Encode)?;
        Ok(framed)
    }

    /// Frames `message` onto `out` with the connection's codec, as replies
    /// are framed.
    pub(crate) fn encode(&self, message: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        self.codec.encode(message, out)
    }

    /// Closes the connection, e.g. to kick a client from a room.
    pub fn close(&self) {
        self.outbox.close();
    }

    /// The connection's id (see [`ConnInfo::id`](crate::ConnInfo::id)).
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("id", &self.id)
            .field("codec", &self.codec)
            .finish()
    }
}
