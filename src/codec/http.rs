//! [`HttpCodec`]: HTTP/1.x requests, framed as RFC 9112 §6 says.

use super::{Codec, Frame, FrameError};

/// Most header fields a request may have; more is refused as invalid
/// (httparse needs the room up front).
const MAX_HEADERS: usize = 100;

/// HTTP/1.x requests: a message is one whole request, its head up to the
/// first empty line plus the body its `Content-Length` announces, so
/// keep-alive connections stay in step after a POST. Empty lines before a
/// request are skipped, as RFC 9112 §2.2 asks. Replies are sent as they
/// are: the handler writes the status line and headers. The `http` framing.
///
/// The head is parsed by `httparse` (a request line, then header fields,
/// with no whitespace before a colon and no line folding). The body's
/// length is read as RFC 9112 §6.3 requires, and anything that could be
/// read two ways by two servers (the root of request smuggling) is a
/// [`FrameError`], never a guess:
///
/// - a `Content-Length` that is not a plain decimal number (`-1`, `ten`,
///   a list like `26, 0`), or several that differ: `Invalid`, answered with
///   400 Bad Request by a handler's `on_frame_error`;
/// - one too large for `max_message_bytes`, even one that overflows 64
///   bits: `TooLarge` (413);
/// - any `Transfer-Encoding`: `Unsupported` (501 Not Implemented), for a
///   chunked body is not framed here; with a `Content-Length` beside it,
///   `Invalid` (400), as RFC 9112 §6.1 allows.
///
/// Either way the connection is closed after the handler's answer: the
/// bytes after a head whose length is unknown cannot be read as anything.
#[derive(Clone, Debug, Default)]
pub struct HttpCodec {
    /// How far the bytes were searched for the head's end.
    scanned: usize,
    /// Once the head is read: how long the request is, body included.
    request: Option<usize>,
}

impl HttpCodec {
    /// The `http` framing.
    pub fn new() -> HttpCodec {
        HttpCodec::default()
    }
}

impl Codec for HttpCodec {
    fn decode(&mut self, buf: &[u8], max: usize) -> Result<Option<Frame>, FrameError> {
        let len = match self.request {
            Some(len) => len,
            None => {
                let blank = buf
                    .iter()
                    .take_while(|&&b| b == b'\r' || b == b'\n')
                    .count();
                if blank > 0 {
                    // Blank lines before a request: dropped, never a message.
                    self.scanned = 0;
                    return Ok(Some(Frame::skip(blank)));
                }
                // A terminator may straddle two reads: look a little back.
                let from = self.scanned.saturating_sub(2).min(buf.len());
                let Some(head) = head_end(buf, from) else {
                    self.scanned = buf.len();
                    return Ok(None);
                };
                let body = body_length(&buf[..head])?;
                let len = body
                    .checked_add(head as u64)
                    .filter(|&len| len <= max as u64)
                    .ok_or(FrameError::TooLarge {
                        limit: max,
                        len: body.saturating_add(head as u64),
                    })?;
                self.request = Some(len as usize);
                len as usize
            }
        };
        if buf.len() < len {
            return Ok(None);
        }
        *self = HttpCodec::default();
        Ok(Some(Frame::whole(len)))
    }

    fn encode(&self, message: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        out.extend_from_slice(message);
        Ok(())
    }

    fn name(&self) -> &str {
        "http"
    }
}

/// Where an HTTP head ends: just past its first empty line, found by
/// looking for a `\n` followed by `\n` or `\r\n` from `from` on.
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(off) = buf[i..].iter().position(|&b| b == b'\n') {
        let nl = i + off;
        match buf.get(nl + 1..) {
            Some([b'\n', ..]) => return Some(nl + 2),
            Some([b'\r', b'\n', ..]) => return Some(nl + 3),
            _ => i = nl + 1,
        }
    }
    None
}

/// The body length a whole request head announces (RFC 9112 §6.3), or
/// why it announces none that can be trusted.
fn body_length(head: &[u8]) -> Result<u64, FrameError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(FrameError::invalid("bad request head: it ends too early"));
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(FrameError::invalid(format!(
                "bad request head: more than {MAX_HEADERS} header fields"
            )));
        }
        Err(e) => return Err(FrameError::invalid(format!("bad request head: {e}"))),
    }
    let mut length: Option<u64> = None;
    let mut chunked = false;
    for h in request.headers.iter() {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = true;
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let value = content_length(h.value)?;
            if length.is_some_and(|seen| seen != value) {
                return Err(FrameError::invalid(
                    "two Content-Length header fields that differ",
                ));
            }
            length = Some(value);
        }
    }
    match (chunked, length) {
        (true, Some(_)) => Err(FrameError::invalid(
            "both Transfer-Encoding and Content-Length (RFC 9112 §6.1: a smuggling attempt)",
        )),
        (true, None) => Err(FrameError::Unsupported(
            "a Transfer-Encoding request body (chunked bodies are not framed)".into(),
        )),
        (false, length) => Ok(length.unwrap_or(0)),
    }
}

/// One `Content-Length` value: `1*DIGIT` between optional spaces, and
/// nothing else (RFC 9112 §6.3: no sign, no list). A number past 64 bits is
/// as good as infinite: it reads as `u64::MAX`, over any limit.
fn content_length(value: &[u8]) -> Result<u64, FrameError> {
    let digits = value.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(FrameError::invalid(format!(
            "Content-Length is not a number: \"{}\"",
            String::from_utf8_lossy(&value[..value.len().min(40)])
        )));
    }
    Ok(digits
        .iter()
        .try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .unwrap_or(u64::MAX))
}
