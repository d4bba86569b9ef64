//! Reply checking, shared by both clients so they agree on what a right
//! reply is.
//!
//! Echo replies are known in advance ([`Plan`](super::plan::Plan) holds
//! their exact bytes), so every read is compared with what must come next
//! ([`match_expected`]): nothing is parsed or buffered. With `--expect any`
//! only the end of the reply is looked for ([`AnyMessage`]), which the
//! framing marks; [`ReplyCheck`] is either kind, for both clients.
//!
//! With `--protocol daytime` (RFC 867) there is no request and the reply is
//! not known in advance (it is the server's clock), so each attempt is
//! connect → read until the server closes, and the bytes are checked as they
//! come against the *shape* of the answer ([`LineCheck`]): one non-empty
//! line of printable ASCII ending in `\n` (or `\r\n`), at most
//! [`MAX_DAYTIME_LINE`] bytes. Every attempt is a new connection, so
//! daytime always runs as `--churn`.

use super::failure::Failure;
use crate::Framing;
use crate::codec::FrameReader;

/// Longest reply `--expect any` accepts: the largest request the generator
/// sends, plus room for an answer around it. A reply that never ends (a
/// line without `\n`) fails here instead of at the timeout.
pub(super) const MAX_ANY_REPLY: usize = super::flags::MAX_PAYLOAD + 1024;

/// Longest daytime answer accepted, line end included. RFC 867 sets no
/// limit, but a date is a few dozen bytes; a server that sends more is not
/// sending a date, and the bound keeps a runaway stream from being read
/// until the timeout.
pub(super) const MAX_DAYTIME_LINE: usize = 512;

/// Result of reading towards an expected byte string.
pub(super) enum ReadOutcome {
    Complete,
    Pending,
    Failed(Failure),
}

/// Takes the bytes `got` just read towards `expected`, of which `*pos`
/// bytes have already arrived: any difference, or a byte past the end, is a
/// wrong reply. Both client paths check replies with it, so they agree on
/// what a right reply is.
pub(super) fn match_expected(expected: &[u8], pos: &mut usize, got: &[u8]) -> ReadOutcome {
    let want = &expected[*pos..];
    if got.len() > want.len() || *got != want[..got.len()] {
        return ReadOutcome::Failed(Failure::WrongReply);
    }
    *pos += got.len();
    if *pos == expected.len() {
        ReadOutcome::Complete
    } else {
        ReadOutcome::Pending
    }
}

/// Where one reading stands: towards exact bytes, or towards the end of
/// any one framed message.
#[derive(Debug)]
pub(super) enum ReplyCheck {
    /// `pos` bytes of the expected ones have arrived.
    Exact { pos: usize },
    /// Any complete message will do.
    Any(AnyMessage),
}

impl ReplyCheck {
    /// A fresh check: of `expected`'s bytes when `Some`, else of any one
    /// message in `framing`.
    pub(super) fn new(expected: Option<&[u8]>, framing: Framing) -> ReplyCheck {
        match expected {
            Some(_) => ReplyCheck::Exact { pos: 0 },
            None => ReplyCheck::Any(AnyMessage::new(framing)),
        }
    }

    /// Takes the bytes `got` just read; `expected` is what
    /// [`new`](Self::new) was given.
    pub(super) fn push(&mut self, expected: Option<&[u8]>, got: &[u8]) -> ReadOutcome {
        match (self, expected) {
            (ReplyCheck::Exact { pos }, Some(expected)) => match_expected(expected, pos, got),
            (ReplyCheck::Any(any), _) => any.push(got),
            (ReplyCheck::Exact { .. }, None) => ReadOutcome::Failed(Failure::Other),
        }
    }
}

/// The end of one framed message, of any content, found by the server's
/// own codec for the framing (a `\n` for line, the announced length for
/// length), so the bench and the server never disagree on the grammar.
/// Bytes past that end are a wrong reply, as they are for exact replies:
/// the server answered one request with more than one message.
#[derive(Debug)]
pub(super) struct AnyMessage {
    framing: Framing,
    reader: FrameReader,
}

impl AnyMessage {
    fn new(framing: Framing) -> AnyMessage {
        AnyMessage {
            framing,
            reader: FrameReader::new(framing.codec().for_decoding(), MAX_ANY_REPLY),
        }
    }

    fn push(&mut self, got: &[u8]) -> ReadOutcome {
        // Raw and http do not mark where a reply ends; flags refuse
        // `--expect any` with them.
        if matches!(self.framing, Framing::Raw | Framing::Http) {
            return ReadOutcome::Failed(Failure::Other);
        }
        self.reader.push(got);
        let found = self.reader.next_message().map(|m| m.is_some());
        match found {
            Ok(true) if self.reader.pending() == 0 => ReadOutcome::Complete,
            Ok(true) | Err(_) => ReadOutcome::Failed(Failure::WrongReply),
            Ok(false) => ReadOutcome::Pending,
        }
    }
}

/// Incremental check of a daytime answer: one non-empty line of printable
/// ASCII (tabs allowed), ended by `\n` or `\r\n`, then the close. The
/// bytes are never kept, only where the line is, so a client needs no
/// buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct LineCheck {
    /// Bytes received, line end included.
    len: usize,
    /// Printable bytes before the line end.
    text: usize,
    /// The last byte was a `\r`, which only a `\n` may follow.
    cr: bool,
    /// The `\n` arrived: nothing more may come but the close.
    ended: bool,
}

impl LineCheck {
    /// Takes the next bytes of the answer; `Err` at the first one that
    /// cannot belong to a right answer.
    pub(super) fn push(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        for &b in bytes {
            self.len += 1;
            if self.ended || self.len > MAX_DAYTIME_LINE {
                return Err(Failure::WrongReply);
            }
            match b {
                b'\n' if self.text > 0 => self.ended = true,
                _ if self.cr => return Err(Failure::WrongReply),
                b'\r' if self.text > 0 => self.cr = true,
                b' '..=b'~' | b'\t' => self.text += 1,
                _ => return Err(Failure::WrongReply),
            }
        }
        Ok(())
    }

    /// The server closed: `Ok` when a whole line came, `ClosedEarly` when
    /// nothing did, `WrongReply` for a line cut short.
    pub(super) fn finish(&self) -> Result<(), Failure> {
        if self.ended {
            Ok(())
        } else if self.len == 0 {
            Err(Failure::ClosedEarly)
        } else {
            Err(Failure::WrongReply)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_matched_piece_by_piece() {
        let mut pos = 0;
        assert!(matches!(
            match_expected(b"Received x;", &mut pos, b"Rece"),
            ReadOutcome::Pending
        ));
        assert!(matches!(
            match_expected(b"Received x;", &mut pos, b"ived x;"),
            ReadOutcome::Complete
        ));
        let mut pos = 0;
        assert!(matches!(
            match_expected(b"Received x;", &mut pos, b"Recieved x;"),
            ReadOutcome::Failed(Failure::WrongReply)
        ));
        let mut pos = 0;
        assert!(matches!(
            match_expected(b"ab", &mut pos, b"abc"),
            ReadOutcome::Failed(Failure::WrongReply)
        ));
    }

    fn any(framing: Framing, chunks: &[&[u8]]) -> Vec<&'static str> {
        let mut c = ReplyCheck::new(None, framing);
        chunks
            .iter()
            .map(|chunk| match c.push(None, chunk) {
                ReadOutcome::Complete => "complete",
                ReadOutcome::Pending => "pending",
                ReadOutcome::Failed(Failure::WrongReply) => "wrong",
                ReadOutcome::Failed(_) => "other",
            })
            .collect()
    }

    #[test]
    fn any_message_ends_where_its_framing_says() {
        assert_eq!(any(Framing::Line, &[b"OK", b"\n"]), ["pending", "complete"]);
        assert_eq!(any(Framing::Line, &[b"\n"]), ["complete"]);
        assert_eq!(any(Framing::Line, &[b"OK\nmore"]), ["wrong"]);
        assert_eq!(
            any(Framing::Length, &[b"\0\0", b"\0\x02O", b"K"]),
            ["pending", "pending", "complete"]
        );
        assert_eq!(any(Framing::Length, &[b"\0\0\0\0"]), ["complete"]);
        assert_eq!(any(Framing::Length, &[b"\0\0\0\x01ab"]), ["wrong"]);
        assert_eq!(any(Framing::Length, &[b"\xff\xff\xff\xff"]), ["wrong"]);
        assert_eq!(any(Framing::Raw, &[b"x"]), ["other"]);
        let mut c = ReplyCheck::new(Some(b"ab"), Framing::Line);
        assert!(matches!(c.push(Some(b"ab"), b"a"), ReadOutcome::Pending));
        assert!(matches!(c.push(Some(b"ab"), b"b"), ReadOutcome::Complete));
    }

    fn line(chunks: &[&[u8]]) -> Result<(), Failure> {
        let mut c = LineCheck::default();
        for chunk in chunks {
            c.push(chunk)?;
        }
        c.finish()
    }

    #[test]
    fn daytime_lines_are_checked_as_they_come() {
        let ok: &[&[&[u8]]] = &[
            &[b"Tue, 25 Nov 2025 18:14:03 GMT\r\n"],
            &[b"Tuesday\n"],
            &[b"Tue, 25 Nov", b" 2025\r", b"\n"],
            &[b"a\tb\n"],
        ];
        for chunks in ok {
            assert_eq!(line(chunks), Ok(()), "{chunks:?}");
        }
        let longest = [vec![b'x'; MAX_DAYTIME_LINE - 2], b"\r\n".to_vec()].concat();
        assert_eq!(line(&[&longest]), Ok(()));
        let too_long = [vec![b'x'; MAX_DAYTIME_LINE - 1], b"\r\n".to_vec()].concat();
        assert_eq!(line(&[&too_long]), Err(Failure::WrongReply));

        let wrong: &[&[&[u8]]] = &[
            &[b"no line end"],
            &[b"\n"],
            &[b"\r\n"],
            &[b"two\nlines\n"],
            &[b"cr\ralone\n"],
            &[b"cr\r\r\n"],
            &[b"nul\0\n"],
            &[b"caf\xc3\xa9\n"],
            &[b"line\n", b"more"],
        ];
        for chunks in wrong {
            assert_eq!(line(chunks), Err(Failure::WrongReply), "{chunks:?}");
        }
        assert_eq!(line(&[]), Err(Failure::ClosedEarly));
        assert_eq!(
            MAX_DAYTIME_LINE, 512,
            "ErrorCounts::wrong_reply's docs say 512"
        );
    }
}
