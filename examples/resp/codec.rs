//! RESP, Redis's wire format: a codec written against
//! [`tcpmodes::Codec`], the way any protocol's framing is.
//!
//! A client sends each command as an array of bulk strings,
//! `*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n`, or as one plain line (`PING\r\n`, the
//! "inline" form `redis-benchmark -t ping_inline` and telnet users send).
//! The codec only finds where a command ends (mini-redis's
//! `Frame::check`); [`parse`] then reads its arguments out of the frame
//! the codec proved whole (mini-redis's `Frame::parse`). Replies are
//! already RESP, made by [`simple`], [`error`], [`integer`], [`bulk`] and
//! [`null`], so encoding passes them through.
//!
//! Malformed input is refused with the texts Redis itself uses
//! (`invalid multibulk length`, `expected '$', got 'x'`), never guessed;
//! the handler puts Redis's `ERR Protocol error: ` before them in its
//! reply, and the server's log line says `protocol error: ` itself.

use tcpmodes::{Codec, Frame, FrameError};

/// Most elements one command may have; Redis's own limit.
const MAX_ELEMENTS: u64 = 1024 * 1024;

/// Longest `*<n>` or `$<len>` line, `\r\n` included; a longer one is not
/// a number Redis would send.
const MAX_NUMBER_LINE: usize = 32;

/// One connection's RESP decoder.
#[derive(Clone, Debug, Default)]
pub struct RespCodec;

impl Codec for RespCodec {
    fn decode(&mut self, buf: &[u8], max: usize) -> Result<Option<Frame>, FrameError> {
        match buf.first() {
            None => Ok(None),
            Some(b'*') => check_array(buf, max),
            Some(_) => Ok(check_inline(buf)),
        }
    }

    /// Replies are made RESP by the helpers below.
    fn encode(&self, message: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        out.extend_from_slice(message);
        Ok(())
    }

    fn name(&self) -> &str {
        "resp"
    }

    /// An inline command's `\r\n`.
    fn overhead(&self) -> usize {
        2
    }
}

/// An inline command: one line, ended by `\n` (a `\r` before it dropped).
/// A blank line is skipped, as Redis does.
fn check_inline(buf: &[u8]) -> Option<Frame> {
    let nl = buf.iter().position(|&b| b == b'\n')?;
    let end = if nl > 0 && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    if buf[..end].iter().all(u8::is_ascii_whitespace) {
        return Some(Frame::skip(nl + 1));
    }
    Some(Frame::new(0..end, nl + 1))
}

/// A whole array of bulk strings, or `None` while part of it is still to
/// come. Each call looks again from the start: a command is small, and
/// its parts' lengths let the walk jump over their bytes.
fn check_array(buf: &[u8], max: usize) -> Result<Option<Frame>, FrameError> {
    let Some((count, mut pos)) = number_line(buf, 0)? else {
        return Ok(None);
    };
    if !(-1..=MAX_ELEMENTS as i64).contains(&count) {
        return Err(FrameError::invalid("invalid multibulk length"));
    }
    for _ in 0..count.max(0) {
        match buf.get(pos) {
            None => return Ok(None),
            Some(b'$') => {}
            Some(&other) => {
                return Err(FrameError::invalid(format!(
                    "expected '$', got '{}'",
                    other as char
                )));
            }
        }
        let Some((len, data)) = number_line(buf, pos)? else {
            return Ok(None);
        };
        if len < 0 {
            return Err(FrameError::invalid("invalid bulk length"));
        }
        if len as u64 > max as u64 {
            return Err(FrameError::TooLarge {
                limit: max,
                len: len as u64,
            });
        }
        let end = data + len as usize;
        match buf.get(end..end + 2) {
            None => return Ok(None),
            Some(b"\r\n") => pos = end + 2,
            Some(_) => {
                return Err(FrameError::invalid("bulk string without its \\r\\n"));
            }
        }
    }
    if count <= 0 {
        // `*0` and `*-1` are empty commands: Redis ignores them.
        return Ok(Some(Frame::skip(pos)));
    }
    Ok(Some(Frame::whole(pos)))
}

/// The number after the type byte at `at` (`*3\r\n`, `$5\r\n`) and where
/// the line after it starts; `None` until its `\r\n` has come.
fn number_line(buf: &[u8], at: usize) -> Result<Option<(i64, usize)>, FrameError> {
    let rest = &buf[at + 1..];
    let Some(nl) = rest.iter().take(MAX_NUMBER_LINE).position(|&b| b == b'\n') else {
        if rest.len() >= MAX_NUMBER_LINE {
            return Err(FrameError::invalid("a length line without its end"));
        }
        return Ok(None);
    };
    let digits = match rest[..nl].strip_suffix(b"\r") {
        Some(d) => d,
        None => {
            return Err(FrameError::invalid("a length line not ended by \\r\\n"));
        }
    };
    std::str::from_utf8(digits)
        .ok()
        .filter(|d| !d.is_empty() && !d.starts_with('+'))
        .and_then(|d| d.parse::<i64>().ok())
        .map(|n| Some((n, at + 1 + nl + 1)))
        .ok_or_else(|| {
            FrameError::invalid(if buf[at] == b'$' {
                "invalid bulk length"
            } else {
                "invalid multibulk length"
            })
        })
}

/// A command's arguments, from a frame the codec found whole.
pub fn parse(frame: &[u8]) -> Vec<&[u8]> {
    if frame.first() != Some(&b'*') {
        return frame
            .split(|b| b.is_ascii_whitespace())
            .filter(|a| !a.is_empty())
            .collect();
    }
    let mut args = Vec::new();
    // Safe to walk without checks: the codec proved every length.
    let Ok(Some((count, mut pos))) = number_line(frame, 0) else {
        return args;
    };
    for _ in 0..count.max(0) {
        let Ok(Some((len, data))) = number_line(frame, pos) else {
            break;
        };
        let end = data + len as usize;
        args.push(&frame[data..end]);
        pos = end + 2;
    }
    args
}

/// `+text\r\n`: a short status such as `OK` or `PONG`.
pub fn simple(text: &str) -> Vec<u8> {
    format!("+{text}\r\n").into_bytes()
}

/// `-text\r\n`: an error; Redis's start with `ERR`.
pub fn error(text: &str) -> Vec<u8> {
    format!("-{text}\r\n").into_bytes()
}

/// `:n\r\n`: an integer.
pub fn integer(n: i64) -> Vec<u8> {
    format!(":{n}\r\n").into_bytes()
}

/// `$len\r\nbytes\r\n`: a binary-safe string.
pub fn bulk(bytes: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", bytes.len()).into_bytes();
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
    out
}

/// `$-1\r\n`: no value (a `GET` of a missing key).
pub fn null() -> Vec<u8> {
    b"$-1\r\n".to_vec()
}
