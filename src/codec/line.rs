//! [`LineCodec`]: messages end with a delimiter, `\n` unless told otherwise.

use super::{Codec, Frame, FrameError};

/// Messages end with a delimiter (`\n` by default; any non-empty byte
/// string, e.g. `\r\n` or `\0`), which is not part of the message; every
/// reply gets one. With the default `\n`, a `\r` before it is dropped too,
/// so `nc` and `telnet` users can type. The `line` framing.
///
/// ```
/// use tcpmodes::{Codec, LineCodec};
///
/// let mut codec = LineCodec::with_delimiter(b"\r\n");
/// let frame = codec.decode(b"PING\r\nPI", 1024).unwrap().unwrap();
/// assert_eq!((frame.message(), frame.consumed()), (0..4, 6));
/// ```
#[derive(Clone, Debug)]
pub struct LineCodec {
    delimiter: Vec<u8>,
    /// How far the bytes were already searched without finding the end,
    /// so a slow client's long line is not searched again on every read.
    scanned: usize,
}

impl Default for LineCodec {
    fn default() -> LineCodec {
        LineCodec::new()
    }
}

impl LineCodec {
    /// Lines ended by `\n` (a `\r` before it dropped).
    pub fn new() -> LineCodec {
        LineCodec::with_delimiter(b"\n")
    }

    /// Messages ended by `delimiter`.
    ///
    /// # Panics
    ///
    /// If `delimiter` is empty: no message could ever end.
    pub fn with_delimiter(delimiter: impl Into<Vec<u8>>) -> LineCodec {
        let delimiter = delimiter.into();
        assert!(!delimiter.is_empty(), "a line delimiter cannot be empty");
        LineCodec {
            delimiter,
            scanned: 0,
        }
    }

    /// The default `\n` also ends a line typed with `\r\n`.
    fn drops_cr(&self) -> bool {
        self.delimiter == b"\n"
    }
}

impl Codec for LineCodec {
    fn decode(&mut self, buf: &[u8], _max: usize) -> Result<Option<Frame>, FrameError> {
        let d = &self.delimiter;
        // A delimiter may straddle two reads: look a little back.
        let from = self.scanned.saturating_sub(d.len() - 1).min(buf.len());
        let found = if d.len() == 1 {
            buf[from..].iter().position(|&b| b == d[0])
        } else {
            buf[from..].windows(d.len()).position(|w| w == d.as_slice())
        };
        let Some(i) = found else {
            self.scanned = buf.len();
            return Ok(None);
        };
        self.scanned = 0;
        let at = from + i;
        let mut end = at;
        if self.drops_cr() && end > 0 && buf[end - 1] == b'\r' {
            end -= 1;
        }
        Ok(Some(Frame::new(0..end, at + d.len())))
    }

    fn encode(&self, message: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        out.extend_from_slice(message);
        out.extend_from_slice(&self.delimiter);
        Ok(())
    }

    fn name(&self) -> &str {
        "line"
    }

    /// A message of exactly the limit still has its line end to come
    /// (`\r\n` with the default).
    fn overhead(&self) -> usize {
        self.delimiter.len() + usize::from(self.drops_cr())
    }
}
