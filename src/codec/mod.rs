//! Codecs: where one message ends and the next begins, and how a reply is
//! marked so the peer finds its end.
//!
//! TCP carries a stream of bytes, not messages: one `send` may arrive as two
//! reads, two sends as one read. A protocol has to say where messages end,
//! and that rule is its [`Codec`]. The framework owns the bytes: it reads,
//! keeps what is not yet a whole message, asks the codec where the next one
//! ends, hands that message to the [`Handler`](crate::Handler) and drops it;
//! it frames every reply with the same codec. A codec never sees a socket,
//! so it is tested by feeding it bytes (a [`Session`](crate::Session), or
//! [`Codec::decode`] itself).
//!
//! The four built-ins are chosen by name with the `framing` setting
//! ([`Framing`]); a program with its own protocol writes a [`Codec`] (its
//! docs show how, and why a handler still gets bytes).
//!
//! # Limits
//!
//! `max_message_bytes` bounds every codec, a user's too: the framework
//! refuses a frame whose message is longer, and an unfinished one once more
//! than `max_message_bytes` plus the codec's [`overhead`](Codec::overhead)
//! is buffered, so a client that never ends its message cannot make the
//! server buffer without bound. A codec that can tell earlier (a length
//! prefix announcing 4 GB) refuses as soon as it knows, with the `max` it is
//! given.

use std::fmt;
use std::ops::Range;

mod framing;
mod http;
mod length;
mod line;
mod raw;
mod reader;
mod shared;

pub use framing::Framing;
pub use http::HttpCodec;
pub use length::LengthCodec;
pub use line::LineCodec;
pub use raw::RawCodec;
pub(crate) use reader::FrameReader;
pub(crate) use shared::SharedCodec;

/// A protocol's framing: finds whole messages in the bytes received, and
/// marks outgoing ones.
///
/// The four built-ins are chosen by name with the `framing` setting
/// ([`Framing`]): [`RawCodec`] (the lesson's: a read is a message),
/// [`LineCodec`], [`LengthCodec`] and [`HttpCodec`]. A program with its own
/// protocol sets its codec in its defaults:
///
/// ```
/// use tcpmodes::{Codec, Config, Frame, FrameError};
///
/// /// Messages end with a NUL byte, as STOMP's frames do.
/// #[derive(Clone, Debug)]
/// struct NulCodec;
///
/// impl Codec for NulCodec {
///     fn decode(&mut self, buf: &[u8], _max: usize) -> Result<Option<Frame>, FrameError> {
///         Ok(buf.iter().position(|&b| b == 0).map(|end| Frame::new(0..end, end + 1)))
///     }
///     fn encode(&self, message: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
///         out.extend_from_slice(message);
///         out.push(0);
///         Ok(())
///     }
/// }
///
/// let config = Config::default().with_codec(NulCodec);
/// # let _ = config;
/// ```
///
/// # Why the handler receives bytes, not a typed value
///
/// tokio-util's `Decoder` returns a typed `Item`; here a codec only says
/// where a message lies, and the handler gets its bytes (`&[u8]`), as
/// mini-redis splits `Frame::check` (where does it end?) from
/// `Frame::parse` (what does it say?). A typed item would make
/// [`Handler`](crate::Handler), [`Session`](crate::Session) and every mode
/// generic over the codec's type, and the lesson's echo, which only echoes
/// bytes, would have to name one. A protocol that wants values parses the
/// frame in its handler, where the codec already proved it whole
/// (`examples/resp/` does).
///
/// # Per connection, and shared
///
/// One value is cloned for each connection to decode its bytes, so a codec
/// may keep per-connection state in `self` (how far it already scanned, as
/// [`LineCodec`] does). Encoding takes `&self` on a value shared by every
/// thread, because a [`Sender`](crate::Sender) frames from any thread.
///
/// The framework's contract, which lets a codec remember what it scanned:
/// after `decode` answers `Ok(None)`, its next call gets the same bytes
/// with more appended; after `Ok(Some(frame))`, the `frame.consumed()`
/// first bytes are dropped and the next call starts after them.
pub trait Codec: Clone + Send + Sync + 'static {
    /// Looks for the next whole message at the start of `buf`: `Ok(None)`
    /// to wait for more bytes, `Ok(Some(frame))` where it is, or an error
    /// when the bytes break the protocol (the connection is then closed,
    /// after [`Handler::on_frame_error`](crate::Handler::on_frame_error)
    /// may answer). `max` is `max_message_bytes`: refuse a message you
    /// already know will be longer with [`FrameError::TooLarge`].
    fn decode(&mut self, buf: &[u8], max: usize) -> Result<Option<Frame>, FrameError>;

    /// Appends `message` to `out`, marked so the peer's decoder finds its
    /// end. An error (a message too long for a length prefix) sends
    /// nothing.
    fn encode(&self, message: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError>;

    /// The name shown in the start-up line and in logs.
    fn name(&self) -> &str {
        "custom"
    }

    /// Bytes a frame may hold beyond its message (a line end, a length
    /// prefix), so an unfinished message of exactly `max_message_bytes`
    /// is still waited for. The framework caps it at 64 KiB.
    fn overhead(&self) -> usize {
        0
    }

    /// How many bytes one read asks for. [`RawCodec`] reads 1024 at most,
    /// because a read *is* its message; others read larger chunks to make
    /// fewer calls.
    fn read_size(&self, max: usize) -> usize {
        let _ = max;
        16 * 1024
    }
}

/// Where a whole message lies in the bytes [`Codec::decode`] was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    message: Range<usize>,
    consumed: usize,
    skip: bool,
}

impl Frame {
    /// The message is `buf[message]`, and the frame (its delimiter or
    /// prefix included) takes the first `consumed` bytes. A frame whose
    /// message lies past `consumed`, or that takes no byte, is a codec bug;
    /// the framework closes the connection with a protocol error naming it.
    pub fn new(message: Range<usize>, consumed: usize) -> Frame {
        Frame {
            message,
            consumed,
            skip: false,
        }
    }

    /// The first `len` bytes carry no message and are dropped (blank
    /// lines between HTTP requests, a keep-alive byte), so they never
    /// count towards the next message's limit.
    pub fn skip(len: usize) -> Frame {
        Frame {
            message: 0..0,
            consumed: len,
            skip: true,
        }
    }

    /// The first `len` bytes are the message, with nothing around it.
    pub fn whole(len: usize) -> Frame {
        Frame::new(0..len, len)
    }

    /// Whether the frame only drops bytes ([`skip`](Frame::skip)).
    pub fn is_skip(&self) -> bool {
        self.skip
    }

    /// Where the message lies (empty for a skip).
    pub fn message(&self) -> Range<usize> {
        self.message.clone()
    }

    /// How many bytes the frame takes.
    pub fn consumed(&self) -> usize {
        self.consumed
    }
}

/// The bytes broke the protocol: the connection cannot go on.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// A message is longer than `max_message_bytes`, or announces that it
    /// will be (a length prefix, a `Content-Length`).
    TooLarge {
        /// The configured maximum.
        limit: usize,
        /// The announced length, or the bytes buffered without an end.
        len: u64,
    },
    /// The bytes cannot be read as this protocol; the text says why, for
    /// the log line and the handler.
    Invalid(String),
    /// The bytes are valid in the protocol but use a part this codec does
    /// not handle (an HTTP chunked body); an HTTP server answers 501.
    Unsupported(String),
}

impl FrameError {
    /// An [`Invalid`](FrameError::Invalid) error saying why.
    pub fn invalid(why: impl Into<String>) -> FrameError {
        FrameError::Invalid(why.into())
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge { limit, len } => write!(
                f,
                "message of {len} bytes or more is over max_message_bytes = {limit}"
            ),
            FrameError::Invalid(why) => f.write_str(why),
            FrameError::Unsupported(what) => write!(f, "not supported: {what}"),
        }
    }
}

impl std::error::Error for FrameError {}

#[cfg(test)]
mod tests;
