//! The built-in codecs, driven as the framework drives them: through a
//! [`FrameReader`], read by read.

use super::*;

fn reader(framing: Framing, max: usize) -> FrameReader {
    FrameReader::new(framing.codec().for_decoding(), max)
}

fn all(framing: Framing, max: usize, chunks: &[&[u8]]) -> Result<Vec<Vec<u8>>, FrameError> {
    let mut d = reader(framing, max);
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
    // The limit, plus room for the `\r\n` still to come, is waited for.
    assert_eq!(all(Framing::Line, 8, &[b"0123456", b"789"]), Ok(vec![]));
    let err = all(Framing::Line, 8, &[b"0123456", b"78901"]).unwrap_err();
    assert_eq!(err, FrameError::TooLarge { limit: 8, len: 12 });
}

#[test]
fn length_waits_for_the_whole_body_and_refuses_huge_prefixes() {
    let mut stream = Vec::new();
    Framing::Length.encode(b"abc", &mut stream).unwrap();
    Framing::Length.encode(b"", &mut stream).unwrap();
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
        let mut d = reader(framing, 100);
        d.push(chunks[0]);
        assert!(!d.has_message() && !d.has_message(), "{framing}");
        d.push(chunks[1]);
        assert!(d.has_message() && d.has_message(), "{framing}");
        assert!(d.next_message().unwrap().is_some(), "{framing}");
        assert!(!d.has_message(), "{framing}: only a partial one is left");
    }
    let mut d = reader(Framing::Length, 10);
    d.push(&u32::MAX.to_be_bytes());
    assert!(d.has_message(), "the error is there to be taken");
    assert!(d.next_message().is_err());
}

#[test]
fn encode_marks_messages() {
    let mut out = Vec::new();
    Framing::Line.encode(b"hi", &mut out).unwrap();
    Framing::Length.encode(b"hi", &mut out).unwrap();
    Framing::Raw.encode(b"hi", &mut out).unwrap();
    Framing::Http.encode(b"ok", &mut out).unwrap();
    assert_eq!(out, b"hi\n\0\0\0\x02hihiok");
}

/// RFC 9112 §6.3: a body length that two servers could read two ways is
/// refused, never guessed (each of these was once read as "no body", and
/// the body then framed as a second request).
#[test]
fn http_refuses_every_ambiguous_body_length() {
    let head = |fields: &str| format!("POST / HTTP/1.1\r\nHost: a\r\n{fields}\r\n");
    let body = "GET /smuggled HTTP/1.1\r\n\r\n";
    for (fields, want) in [
        ("Content-Length: 18446744073709551615\r\n", "too large"),
        ("Content-Length: 18446744073709551616\r\n", "too large"),
        ("Content-Length: 99999999999999999999999\r\n", "too large"),
        ("Content-Length: -1\r\n", "invalid"),
        ("Content-Length: +26\r\n", "invalid"),
        ("Content-Length: ten\r\n", "invalid"),
        ("Content-Length: 26, 0\r\n", "invalid"),
        ("Content-Length: 26, 26\r\n", "invalid"),
        ("Content-Length:\r\n", "invalid"),
        ("Content-Length: 0\r\nContent-Length: 26\r\n", "invalid"),
        (
            "Transfer-Encoding: chunked\r\nContent-Length: 26\r\n",
            "invalid",
        ),
        ("Content-Length : 26\r\n", "invalid"),
        ("Transfer-Encoding: chunked\r\n", "unsupported"),
        ("Transfer-Encoding: gzip, chunked\r\n", "unsupported"),
    ] {
        let stream = head(fields) + body;
        let got = all(Framing::Http, 64 * 1024, &[stream.as_bytes()]);
        let kind = match &got {
            Err(FrameError::TooLarge { .. }) => "too large",
            Err(FrameError::Invalid(_)) => "invalid",
            Err(FrameError::Unsupported(_)) => "unsupported",
            _ => "accepted",
        };
        assert_eq!(kind, want, "{fields:?}: {got:?}");
    }
    // The same value twice is one reading (RFC 9112 §6.3 allows it).
    let twice = head("Content-Length: 2\r\ncontent-length: 2\r\n") + "hi";
    assert_eq!(
        all(Framing::Http, 1024, &[twice.as_bytes()]).unwrap(),
        vec![twice.as_bytes().to_vec()]
    );
    let spaced = head("Content-Length:  2 \r\n") + "hi";
    assert_eq!(
        all(Framing::Http, 1024, &[spaced.as_bytes()])
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn line_delimiters_may_be_any_bytes_even_split_across_reads() {
    let stream = b"PING\r\nSET k v\r\n\r\n".as_slice();
    for cut in 0..stream.len() {
        let (a, b) = stream.split_at(cut);
        let mut d = FrameReader::new(
            SharedCodec::new(LineCodec::with_delimiter(b"\r\n")).for_decoding(),
            100,
        );
        let mut got = Vec::new();
        for chunk in [a, b] {
            d.push(chunk);
            while let Some(m) = d.next_message().unwrap() {
                got.push(m.to_vec());
            }
        }
        assert_eq!(
            got,
            vec![b"PING".to_vec(), b"SET k v".to_vec(), Vec::new()],
            "cut {cut}"
        );
    }
    let mut out = Vec::new();
    LineCodec::with_delimiter(*b"\0")
        .encode(b"hi", &mut out)
        .unwrap();
    assert_eq!(out, b"hi\0");
}

#[test]
fn length_fields_of_every_width_and_order_round_trip() {
    for width in [1, 2, 4, 8] {
        for little in [false, true] {
            let mut codec = LengthCodec::new().width(width);
            if little {
                codec = codec.little_endian();
            }
            let mut wire = Vec::new();
            codec.encode(b"hello", &mut wire).unwrap();
            codec.encode(b"", &mut wire).unwrap();
            assert_eq!(wire.len(), 2 * width + 5);
            let field = &wire[..width];
            let first = if little { field[0] } else { field[width - 1] };
            assert_eq!(first, 5, "width {width}, little {little}");
            let mut d = FrameReader::new(SharedCodec::new(codec).for_decoding(), 100);
            d.push(&wire);
            assert_eq!(d.next_message().unwrap(), Some(&b"hello"[..]));
            assert_eq!(d.next_message().unwrap(), Some(&b""[..]));
            assert_eq!(d.next_message().unwrap(), None);
        }
    }
    let mut out = Vec::new();
    assert!(
        LengthCodec::new()
            .width(1)
            .encode(&[0; 256], &mut out)
            .is_err()
    );
    assert!(out.is_empty(), "a refused message sends nothing");
}

/// A user's codec is held to the limit and to its own answers: a frame
/// longer than `max_message_bytes`, or outside the bytes, closes the
/// connection with a reason; it never panics the server.
#[test]
fn a_codec_that_breaks_the_contract_is_refused_not_trusted() {
    #[derive(Clone)]
    struct Liar(Frame);
    impl Codec for Liar {
        fn decode(&mut self, _: &[u8], _: usize) -> Result<Option<Frame>, FrameError> {
            Ok(Some(self.0.clone()))
        }
        fn encode(&self, _: &[u8], _: &mut Vec<u8>) -> Result<(), FrameError> {
            Ok(())
        }
    }
    #[derive(Clone)]
    struct Never;
    impl Codec for Never {
        fn decode(&mut self, _: &[u8], _: usize) -> Result<Option<Frame>, FrameError> {
            Ok(None)
        }
        fn encode(&self, _: &[u8], _: &mut Vec<u8>) -> Result<(), FrameError> {
            Ok(())
        }
    }
    for (frame, bug) in [
        (Frame::whole(0), true),
        (Frame::whole(11), true),
        (Frame::new(2..5, 4), true),
        (Frame::whole(10), false),
    ] {
        let mut d = FrameReader::new(SharedCodec::new(Liar(frame.clone())).for_decoding(), 8);
        d.push(b"0123456789");
        match d.next_message() {
            Err(FrameError::Invalid(why)) if bug => assert!(why.contains("bug"), "{why}"),
            Err(FrameError::TooLarge { limit: 8, len: 10 }) if !bug => {}
            other => panic!("{frame:?}: {other:?}"),
        }
    }
    let mut d = FrameReader::new(SharedCodec::new(Never).for_decoding(), 8);
    d.push(b"01234567");
    assert_eq!(d.next_message(), Ok(None));
    d.push(b"8");
    assert_eq!(
        d.next_message(),
        Err(FrameError::TooLarge { limit: 8, len: 9 })
    );
}
