//! [`LengthCodec`]: each message preceded by its length, as binary
//! protocols do.

use super::{Codec, Frame, FrameError};

/// Each message is preceded by its length as a number of `width` bytes
/// (1, 2, 4 or 8; big-endian unless told otherwise), as Netty's
/// `LengthFieldBasedFrameDecoder` reads it; replies get the same prefix.
/// The `length` framing is 4 bytes, big-endian. A header with more in it
/// (a type before the length) is a codec of its own: see the
/// [`Codec`](crate::Codec) docs.
///
/// ```
/// use tcpmodes::{Codec, LengthCodec};
///
/// // A 2-byte little-endian length, as many game protocols use.
/// let mut codec = LengthCodec::new().width(2).little_endian();
/// let mut wire = Vec::new();
/// codec.encode(b"hello", &mut wire).unwrap();
/// assert_eq!(wire, b"\x05\x00hello");
/// let frame = codec.decode(&wire, 1024).unwrap().unwrap();
/// assert_eq!(&wire[frame.message()], b"hello");
/// assert!(codec.encode(&[0; 70_000], &mut wire).is_err(), "over 65,535 bytes");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct LengthCodec {
    width: usize,
    little_endian: bool,
}

impl Default for LengthCodec {
    fn default() -> LengthCodec {
        LengthCodec::new()
    }
}

impl LengthCodec {
    /// A 4-byte big-endian length, nothing before it.
    pub fn new() -> LengthCodec {
        LengthCodec {
            width: 4,
            little_endian: false,
        }
    }

    /// The length field's width in bytes.
    ///
    /// # Panics
    ///
    /// Unless `width` is 1, 2, 4 or 8.
    pub fn width(mut self, width: usize) -> LengthCodec {
        assert!(
            matches!(width, 1 | 2 | 4 | 8),
            "a length field is 1, 2, 4 or 8 bytes, not {width}"
        );
        self.width = width;
        self
    }

    /// The length is written least significant byte first.
    pub fn little_endian(mut self) -> LengthCodec {
        self.little_endian = true;
        self
    }

    fn read_len(&self, field: &[u8]) -> u64 {
        let mut bytes = [0u8; 8];
        if self.little_endian {
            bytes[..self.width].copy_from_slice(field);
            u64::from_le_bytes(bytes)
        } else {
            bytes[8 - self.width..].copy_from_slice(field);
            u64::from_be_bytes(bytes)
        }
    }
}

impl Codec for LengthCodec {
    fn decode(&mut self, buf: &[u8], max: usize) -> Result<Option<Frame>, FrameError> {
        let Some(field) = buf.get(..self.width) else {
            return Ok(None);
        };
        let len = self.read_len(field);
        if len > max as u64 {
            // Refuse on the prefix alone: never wait for 4 GB.
            return Err(FrameError::TooLarge { limit: max, len });
        }
        let total = self.width + len as usize;
        if buf.len() < total {
            return Ok(None);
        }
        Ok(Some(Frame::new(self.width..total, total)))
    }

    fn encode(&self, message: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        let len = message.len() as u64;
        if self.width < 8 && len >> (8 * self.width) != 0 {
            return Err(FrameError::invalid(format!(
                "a message of {len} bytes does not fit a {}-byte length field",
                self.width
            )));
        }
        if self.little_endian {
            out.extend_from_slice(&len.to_le_bytes()[..self.width]);
        } else {
            out.extend_from_slice(&len.to_be_bytes()[8 - self.width..]);
        }
        out.extend_from_slice(message);
        Ok(())
    }

    fn name(&self) -> &str {
        "length"
    }

    fn overhead(&self) -> usize {
        self.width
    }
}
