//! [`FrameReader`]: one connection's received bytes, cut into messages by
//! its codec, within `max_message_bytes`.
//!
//! What every codec would otherwise write again is here, once: keeping the
//! unfinished bytes, dropping consumed ones without copying on every
//! message, enforcing the message limit on any codec, and telling a
//! codec's bug (a frame outside the bytes) from a client's fault.

use super::shared::Dyn;
use super::{Frame, FrameError};

/// The most [`Codec::overhead`](super::Codec::overhead) a codec may claim:
/// no frame needs more around its message, and a larger claim would
/// loosen the memory bound.
const MAX_OVERHEAD: usize = 64 * 1024;

/// Cuts one connection's byte stream into messages.
///
/// Feed it each read with [`push`](FrameReader::push), then take messages
/// with [`next_message`](FrameReader::next_message) until it returns
/// `None`. It holds at most one unfinished message plus one read, so memory
/// stays bounded by `max_message_bytes`.
pub(crate) struct FrameReader {
    codec: Box<dyn Dyn>,
    max: usize,
    buf: Vec<u8>,
    /// Where the unconsumed bytes start in `buf`.
    start: usize,
    /// What the codec last answered for the bytes from `start`, kept so
    /// asking ([`has_message`](FrameReader::has_message)) and taking ask
    /// the codec once.
    found: Option<Result<Frame, FrameError>>,
}

impl FrameReader {
    pub(crate) fn new(codec: Box<dyn Dyn>, max: usize) -> FrameReader {
        FrameReader {
            codec,
            max,
            buf: Vec::new(),
            start: 0,
            found: None,
        }
    }

    /// Adds the bytes of one read.
    pub(crate) fn push(&mut self, data: &[u8]) {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// The next complete message, if one is buffered. An error means the
    /// stream cannot go on and the connection must close.
    pub(crate) fn next_message(&mut self) -> Result<Option<&[u8]>, FrameError> {
        let frame = match self.found.take() {
            Some(found) => found?,
            None => match self.locate()? {
                Some(frame) => frame,
                None => return Ok(None),
            },
        };
        let at = self.start;
        self.start += frame.consumed;
        Ok(Some(
            &self.buf[at + frame.message.start..at + frame.message.end],
        ))
    }

    /// Whether [`next_message`](FrameReader::next_message) has something
    /// to give: a complete message, or the error that ends the stream. The
    /// event-workers mode asks on its loop before it sends the connection
    /// to a worker, so a half-received message costs no worker a trip.
    /// Nothing is consumed.
    pub(crate) fn has_message(&mut self) -> bool {
        if self.found.is_none() {
            match self.locate() {
                Ok(None) => return false,
                Ok(Some(frame)) => self.found = Some(Ok(frame)),
                Err(e) => self.found = Some(Err(e)),
            }
        }
        true
    }

    /// Asks the codec about the bytes from `start`, and holds its answer
    /// to the limit and to the bytes it was given.
    fn locate(&mut self) -> Result<Option<Frame>, FrameError> {
        // Bounded: each skip drops at least one byte.
        loop {
            match self.locate_one()? {
                Some(frame) if frame.skip => self.start += frame.consumed,
                found => return Ok(found),
            }
        }
    }

    fn locate_one(&mut self) -> Result<Option<Frame>, FrameError> {
        let pending = &self.buf[self.start..];
        if pending.is_empty() {
            return Ok(None);
        }
        let too_large = |len: usize| FrameError::TooLarge {
            limit: self.max,
            len: len as u64,
        };
        match self.codec.decode(pending, self.max)? {
            None => {
                let slack = self.codec.overhead().min(MAX_OVERHEAD);
                if pending.len() > self.max.saturating_add(slack) {
                    return Err(too_large(pending.len()));
                }
                Ok(None)
            }
            Some(frame) => {
                let Frame {
                    message, consumed, ..
                } = &frame;
                if *consumed == 0
                    || *consumed > pending.len()
                    || message.start > message.end
                    || message.end > *consumed
                {
                    return Err(FrameError::invalid(format!(
                        "the {} codec found a frame outside the bytes it was given \
                         (message {message:?}, consumed {consumed} of {}): a bug in the codec",
                        self.codec.name(),
                        pending.len()
                    )));
                }
                if message.len() > self.max {
                    return Err(too_large(message.len()));
                }
                Ok(Some(frame))
            }
        }
    }

    /// Bytes of an unfinished message held back; zero between messages.
    /// The connection uses it to tell an idle client from a slow one.
    pub(crate) fn pending(&self) -> usize {
        self.buf.len() - self.start
    }
}

impl std::fmt::Debug for FrameReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameReader")
            .field("codec", &self.codec.name())
            .field("pending", &self.pending())
            .finish()
    }
}
