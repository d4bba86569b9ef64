//! Framing: where one message ends and the next begins.
//!
//! TCP carries a stream of bytes, not messages: one `send` may arrive as two
//! reads, two sends as one read. A protocol has to say where messages end.
//! The lesson's server does not (each read is taken as one message, which
//! works only because its client waits for each reply), so `raw` keeps that
//! behaviour, and `line` and `length` show the two usual real answers.
//!
//! Every decoder enforces a maximum message size, so a client that never
//! ends its message cannot make the server buffer without bound.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How a byte stream is cut into messages, and how replies are marked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Framing {
    /// Each read (up to 1024 bytes, as the lesson's `recv(1024)`) is one
    /// message; replies are sent as they are. Simple, and wrong as soon as a
    /// client sends two messages without waiting: they may arrive as one.
    Raw,
    /// Messages end with `\n`; a trailing `\r` is dropped, so `nc` and
    /// `telnet` users can type; every reply gets a `\n`.
    Line,
    /// Each message is preceded by its length as a 4-byte big-endian number,
    /// as binary protocols do; replies get the same prefix.
    Length,
    /// HTTP/1.x requests: a message is one whole request, its head up to the
    /// first empty line (`\r\n\r\n`, or a bare `\n\n`) plus the body its
    /// `Content-Length` announces, so keep-alive connections stay in step
    /// after a POST. Empty lines before a request are skipped, as RFC 9112
    /// asks. Replies are sent as they are: the handler writes the status
    /// line and headers. Chunked request bodies are not decoded: a handler
    /// seeing `Transfer-Encoding` must answer and close (see
    /// `examples/http_hello.rs`), as it must for a `Content-Length` that is
    /// not a number, which this framing reads as no body.
    Http,
}

impl Framing {
    /// All framings, in the order the docs list them.
    pub const ALL: [Framing; 4] = [Framing::Raw, Framing::Line, Framing::Length, Framing::Http];

    /// The setting's name, as written in TOML and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Framing::Raw => "raw",
            Framing::Line => "line",
            Framing::Length => "length",
            Framing::Http => "http",
        }
    }

    /// Appends `message` to `out`, marked the way this framing marks
    /// messages, so the peer's decoder finds its end.
    pub fn encode(self, message: &[u8], out: &mut Vec<u8>) {
        match self {
            Framing::Raw | Framing::Http => out.extend_from_slice(message),
            Framing::Line => {
                out.extend_from_slice(message);
                out.push(b'\n');
            }
            Framing::Length => {
                // A reply longer than 4 GiB cannot be framed; cutting it
                // silently would corrupt the stream, so this is a bug.
                let len = u32::try_from(message.len()).expect("message over 4 GiB");
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(message);
            }
        }
    }

    /// How many bytes one read asks for. `raw` reads 1024 at most, because
    /// with raw framing the read size *is* the message limit (the lesson's
    /// `recv(1024)`); the others read larger chunks to make fewer calls.
    pub fn read_size(self, max_message_bytes: usize) -> usize {
        match self {
            Framing::Raw => max_message_bytes.min(1024),
            Framing::Line | Framing::Length | Framing::Http => 16 * 1024,
        }
    }

    /// A decoder for one connection's incoming bytes.
    pub(crate) fn decoder(self, max_message_bytes: usize) -> Decoder {
        Decoder {
            framing: self,
            max: max_message_bytes,
            buf: Vec::new(),
            start: 0,
            scanned: 0,
        }
    }
}

impl crate::names::Named for Framing {
    const ALL: &'static [Framing] = &Framing::ALL;
    fn name(self) -> &'static str {
        Framing::name(self)
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A message broke the framing; the connection is closed with this reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// A message is longer than `max_message_bytes` (or, for `length`, its
    /// prefix announces one). `len` is what was seen so far.
    TooLarge {
        /// The configured maximum.
        limit: usize,
        /// The announced length, or the bytes buffered without an end.
        len: u64,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge { limit, len } => {
                write!(
                    f,
                    "message of {len} bytes or more is over max_message_bytes = {limit}"
                )
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// Cuts one connection's byte stream into messages.
///
/// Feed it each read with [`push`](Decoder::push), then take messages with
/// [`next_message`](Decoder::next_message) until it returns `None`. It holds
/// at most one unfinished message plus one read, so memory stays bounded by
/// `max_message_bytes`.
#[derive(Debug)]
pub(crate) struct Decoder {
    framing: Framing,
    max: usize,
    buf: Vec<u8>,
    /// Where the unconsumed bytes start in `buf`.
    start: usize,
    /// For `line` and `http`: how far past `start` we already looked for the
    /// end, so a slow client's long line is not scanned again on every byte.
    scanned: usize,
}

impl Decoder {
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
        let Some((msg_start, msg_end, next)) = self.locate()? else {
            return Ok(None);
        };
        self.start = next;
        self.scanned = 0;
        Ok(Some(&self.buf[msg_start..msg_end]))
    }

    /// Whether [`next_message`](Decoder::next_message) has something to
    /// give: a complete message, or the error that ends the stream. The
    /// event-workers mode asks on its loop before it sends the connection
    /// to a worker, so a half-received message costs no worker a trip.
    /// Nothing is consumed; what was scanned is remembered.
    pub(crate) fn has_message(&mut self) -> bool {
        !matches!(self.locate(), Ok(None))
    }

    /// Where the next complete message lies, without taking it: its start,
    /// its end, and where the one after it starts.
    fn locate(&mut self) -> Result<Option<(usize, usize, usize)>, FrameError> {
        let pending = &self.buf[self.start..];
        if pending.is_empty() {
            return Ok(None);
        }
        let too_large = |len: usize| FrameError::TooLarge {
            limit: self.max,
            len: len as u64,
        };
        let found = match self.framing {
            Framing::Raw => {
                // The connection reads at most `read_size` bytes, and each
                // push is one read; so all that is buffered is one message.
                if pending.len() > self.max {
                    return Err(too_large(pending.len()));
                }
                (self.start, self.buf.len(), self.buf.len())
            }
            Framing::Line => {
                let from = self.scanned.min(pending.len());
                match pending[from..].iter().position(|&b| b == b'\n') {
                    None => {
                        // A final `\r` may be the start of the line end, not
                        // part of the message: a line of exactly `max` bytes
                        // whose `\r\n` is split across reads must pass.
                        let cr = usize::from(pending.last() == Some(&b'\r'));
                        if pending.len() > self.max + cr {
                            return Err(too_large(pending.len()));
                        }
                        self.scanned = pending.len();
                        return Ok(None);
                    }
                    Some(i) => {
                        let nl = from + i;
                        let mut end = nl;
                        if end > 0 && pending[end - 1] == b'\r' {
                            end -= 1;
                        }
                        if end > self.max {
                            return Err(too_large(end));
                        }
                        (self.start, self.start + end, self.start + nl + 1)
                    }
                }
            }
            Framing::Length => {
                let Some(prefix) = pending.first_chunk::<4>() else {
                    return Ok(None);
                };
                let len = u32::from_be_bytes(*prefix) as usize;
                if len > self.max {
                    // Refuse on the prefix alone: never wait for 4 GB.
                    return Err(FrameError::TooLarge {
                        limit: self.max,
                        len: len as u64,
                    });
                }
                if pending.len() < 4 + len {
                    return Ok(None);
                }
                (self.start + 4, self.start + 4 + len, self.start + 4 + len)
            }
            Framing::Http => {
                let skip = pending
                    .iter()
                    .position(|&b| b != b'\r' && b != b'\n')
                    .unwrap_or(pending.len());
                if skip > 0 {
                    // Blank lines between requests; dropped, not messages.
                    self.start += skip;
                    self.scanned = 0;
                    return self.locate();
                }
                // A terminator may straddle two reads: look a little back.
                let from = self.scanned.saturating_sub(2).min(pending.len());
                let Some(head) = head_end(pending, from) else {
                    if pending.len() > self.max {
                        return Err(too_large(pending.len()));
                    }
                    self.scanned = pending.len();
                    return Ok(None);
                };
                let total = content_length(&pending[..head])
                    .and_then(|body| body.checked_add(head as u64))
                    .unwrap_or(head as u64);
                if total > self.max as u64 {
                    return Err(FrameError::TooLarge {
                        limit: self.max,
                        len: total,
                    });
                }
                let total = total as usize;
                if pending.len() < total {
                    return Ok(None);
                }
                (self.start, self.start + total, self.start + total)
            }
        };
        Ok(Some(found))
    }

    /// Bytes of an unfinished message held back; zero between messages.
    /// The connection uses it to tell an idle client from a slow one.
    pub(crate) fn pending(&self) -> usize {
        self.buf.len() - self.start
    }
}

/// Where an HTTP head ends: just past its first empty line, found by looking
/// for a `\n` followed by `\n` or `\r\n` from `from` on.
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

/// The body length an HTTP head announces with `Content-Length`; `None`
/// when it has none or it is not a number (the handler decides what to do).
fn content_length(head: &[u8]) -> Option<u64> {
    head.split(|&b| b == b'\n').skip(1).find_map(|line| {
        let colon = line.iter().position(|&b| b == b':')?;
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if !name.eq_ignore_ascii_case(b"content-length") {
            return None;
        }
        std::str::from_utf8(value).ok()?.trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(framing: Framing, max: usize, chunks: &[&[u8]]) -> Result<Vec<Vec<u8>>, FrameError> {
        let mut d = framing.decoder(max);
        let mut out = Vec::new();
        for c in chunks {
            d.push(c);
            while let Some(m) = d.next_message()? {
                out.push(m.to_vec());
            }
        }
        Ok(out)
    }

    #[test]
    fn raw_takes_each_read_as_a_message() {
        let got = all(Framing::Raw, 1024, &[b"message1", b"message2"]).unwrap();
        assert_eq!(got, vec![b"message1".to_vec(), b"message2".to_vec()]);
    }

    #[test]
    fn line_splits_on_newline_across_reads_and_strips_cr() {
        let got = all(Framing::Line, 100, &[b"he", b"llo\r\nwor", b"ld\n\n"]).unwrap();
        assert_eq!(
            got,
            vec![b"hello".to_vec(), b"world".to_vec(), b"".to_vec()]
        );
    }

    #[test]
    fn line_without_newline_over_the_limit_is_refused() {
        let err = all(Framing::Line, 8, &[b"0123456", b"789"]).unwrap_err();
        assert_eq!(err, FrameError::TooLarge { limit: 8, len: 10 });
    }

    #[test]
    fn length_waits_for_the_whole_body_and_refuses_huge_prefixes() {
        let mut stream = Vec::new();
        Framing::Length.encode(b"abc", &mut stream);
        Framing::Length.encode(b"", &mut stream);
        let (a, b) = stream.split_at(5);
        let got = all(Framing::Length, 10, &[a, b]).unwrap();
        assert_eq!(got, vec![b"abc".to_vec(), b"".to_vec()]);
        let err = all(Framing::Length, 10, &[&[0xff, 0xff, 0xff, 0xff]]).unwrap_err();
        assert_eq!(
            err,
            FrameError::TooLarge {
                limit: 10,
                len: u32::MAX as u64
            }
        );
    }

    #[test]
    fn http_cuts_whole_requests_with_their_bodies_across_reads() {
        let get = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".as_slice();
        let post = b"POST /x HTTP/1.1\r\ncontent-length: 5\r\n\r\nhello".as_slice();
        let bare = b"GET /b HTTP/1.0\n\n".as_slice();
        let mut stream = [get, post, b"\r\n", bare].concat();
        stream.extend_from_slice(get);
        // Every split point, including inside each terminator and body.
        for cut in 0..stream.len() {
            let (a, b) = stream.split_at(cut);
            let got = all(Framing::Http, 1024, &[a, b]).unwrap();
            assert_eq!(
                got,
                vec![get.to_vec(), post.to_vec(), bare.to_vec(), get.to_vec()],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn http_refuses_endless_heads_and_huge_bodies() {
        let err = all(Framing::Http, 16, &[b"GET / HTTP/1.1\r\nX: y"]).unwrap_err();
        assert_eq!(err, FrameError::TooLarge { limit: 16, len: 20 });
        let head = b"POST / HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n";
        let err = all(Framing::Http, 100, &[head]).unwrap_err();
        assert_eq!(
            err,
            FrameError::TooLarge {
                limit: 100,
                len: 1_000_000 + head.len() as u64
            }
        );
        // Not a number: no body; the handler sees the header and refuses.
        let odd = b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n";
        assert_eq!(all(Framing::Http, 100, &[odd]).unwrap(), vec![odd.to_vec()]);
    }

    /// The event loops ask before they take: asking never consumes,
    /// answers what taking would find, and counts a broken framing as
    /// something to take (its error closes the connection).
    #[test]
    fn has_message_peeks_without_taking() {
        for (framing, chunks) in [
            (Framing::Line, [&b"par"[..], b"tial\nnext"]),
            (Framing::Length, [b"\0\0\0\x07par", b"tial\0\0"]),
            (Framing::Http, [b"\r\nGET / HTTP/1.1\r\n", b"\r\nGET"]),
        ] {
            let mut d = framing.decoder(100);
            d.push(chunks[0]);
            assert!(!d.has_message() && !d.has_message(), "{framing}");
            d.push(chunks[1]);
            assert!(d.has_message() && d.has_message(), "{framing}");
            assert!(d.next_message().unwrap().is_some(), "{framing}");
            assert!(!d.has_message(), "{framing}: only a partial one is left");
        }
        let mut d = Framing::Length.decoder(10);
        d.push(&u32::MAX.to_be_bytes());
        assert!(d.has_message(), "the error is there to be taken");
        assert!(d.next_message().is_err());
    }

    #[test]
    fn encode_marks_messages() {
        let mut out = Vec::new();
        Framing::Line.encode(b"hi", &mut out);
        Framing::Length.encode(b"hi", &mut out);
        Framing::Raw.encode(b"hi", &mut out);
        Framing::Http.encode(b"ok", &mut out);
        assert_eq!(out, b"hi\n\0\0\0\x02hihiok");
    }
}
