//! [`RawCodec`]: the lesson's framing, where each read is one message.

use super::{Codec, Frame, FrameError};

/// Each read (up to 1024 bytes, as the lesson's `recv(1024)`) is one
/// message; replies are sent as they are. Simple, and wrong as soon as a
/// client sends two messages without waiting: they may arrive as one read,
/// and so as one message. The `raw` framing.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    /// The framework pushes one read at a time and takes its messages
    /// before the next, so all that is buffered is one read.
    fn decode(&mut self, buf: &[u8], _max: usize) -> Result<Option<Frame>, FrameError> {
        Ok(Some(Frame::whole(buf.len())))
    }

    fn encode(&self, message: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        out.extend_from_slice(message);
        Ok(())
    }

    fn name(&self) -> &str {
        "raw"
    }

    /// With raw framing the read size *is* the message limit.
    fn read_size(&self, max: usize) -> usize {
        max.min(1024)
    }
}
