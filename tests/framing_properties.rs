//! Property tests of every codec: the built-in framings, configured
//! built-ins (other delimiters, length widths and byte orders) and the
//! RESP example's own codec.
//!
//! Each property runs over [`codecs`], which takes every variant of
//! `Framing::ALL`, so a framing added later is fuzzed without touching
//! this file. Each property runs
//! 1,000 cases by default (well under a second, so CI stays fast); set
//! `PROPTEST_CASES=20000` for a longer local run.
//!
//! The properties drive a connection's [`Session`] (bytes in, handler
//! calls out), with a handler recording each message it is given; a
//! framing error is the session closing with
//! `DisconnectReason::Protocol`. `Session::in_memory_with` gives each
//! session the limit the property picks.
//!
//! Properties:
//! - decoding never panics, whatever the bytes, split and limit;
//! - reading a stream in any split yields the same messages (and fails or
//!   not in the same way) as reading it whole, for every framing that
//!   marks message ends; `raw` takes each read as one message by design,
//!   so for it the property is that no byte is lost, added or reordered;
//! - no message over `max_message_bytes` is ever delivered, and the bytes
//!   an unfinished message holds stay bounded by the limit;
//! - `line` and `length` decode what they encode.

use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use tcpmodes::{
    Action, Codec, Config, Context, DisconnectReason, Framing, Handler, LengthCodec, LineCodec,
    RawCodec, Session, Step,
};

#[path = "../examples/resp/codec.rs"]
#[allow(dead_code)]
mod resp_codec;

/// One codec under test: its name in messages, and a config using it.
#[derive(Clone)]
struct Case {
    name: &'static str,
    config: Config,
}

impl std::fmt::Display for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// Every codec the properties hold for.
fn codecs() -> Vec<Case> {
    let mut all: Vec<Case> = Framing::ALL
        .into_iter()
        .map(|f| Case {
            name: f.name(),
            config: Config::default().with_framing(f),
        })
        .collect();
    for (name, config) in [
        (
            "line \\r\\n",
            Config::default().with_codec(LineCodec::with_delimiter(b"\r\n")),
        ),
        (
            "line \\0",
            Config::default().with_codec(LineCodec::with_delimiter(b"\0")),
        ),
        (
            "length 2 le",
            Config::default().with_codec(LengthCodec::new().width(2).little_endian()),
        ),
        (
            "length 1",
            Config::default().with_codec(LengthCodec::new().width(1)),
        ),
        (
            "length 8",
            Config::default().with_codec(LengthCodec::new().width(8)),
        ),
        ("resp", Config::default().with_codec(resp_codec::RespCodec)),
    ] {
        all.push(Case { name, config });
    }
    all
}

/// Slack allowed above `max_message_bytes` for what a decoder holds of an
/// unfinished message: headers, a length prefix, a `\r` waiting for its
/// `\n`. Generous on purpose (a framing with text headers needs some); what
/// matters is that it does not grow with the input.
const HOLD_SLACK: usize = 64 * 1024;

/// The limit of a [`Session::in_memory`].
const SESSION_LIMIT: usize = 64 * 1024;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// Every message it is given, in order; it never replies or closes.
struct Recorder(Arc<Mutex<Vec<Vec<u8>>>>);

impl Handler for Recorder {
    fn on_message(&mut self, message: &[u8], _ctx: &mut Context<'_>) -> Action {
        self.0.lock().unwrap().push(message.to_vec());
        Action::Continue
    }
}

/// One connection's reading side: a session with a [`Recorder`], what a
/// connection runs; the bytes of each read in, messages out.
struct Reader(Session, Arc<Mutex<Vec<Vec<u8>>>>);

impl Reader {
    fn new(case: &Case, max: usize) -> Reader {
        let messages = Arc::new(Mutex::new(Vec::new()));
        let config = case.config.clone().with_max_message_bytes(max);
        let session = Session::in_memory_with(Recorder(messages.clone()), &config);
        Reader(session, messages)
    }

    /// Feeds one read; returns the messages it completed, and whether the
    /// framing broke (the connection would close).
    fn read(&mut self, data: &[u8]) -> (Vec<Vec<u8>>, bool) {
        let step = self.0.receive(data);
        let got = std::mem::take(&mut *self.1.lock().unwrap());
        match step {
            Step::Continue => (got, false),
            Step::Close(DisconnectReason::Protocol(_)) => (got, true),
            Step::Close(other) => panic!("closed for {other:?}, not a framing error"),
        }
    }

    /// Bytes of an unfinished message held.
    fn pending(&self) -> usize {
        self.0.pending()
    }
}

/// Everything a connection decoded from a stream: the messages, and
/// whether it stopped on a framing error (and after how many messages).
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    messages: Vec<Vec<u8>>,
    failed: bool,
}

/// Feeds `chunks` one read at a time, as the connection loop does; stops
/// at the first framing error. Checks the size of every message and the
/// memory bound after each read.
fn decode(framing: &Case, max: usize, chunks: &[&[u8]]) -> Outcome {
    let mut reader = Reader::new(framing, max);
    let mut messages = Vec::new();
    for chunk in chunks {
        let (got, failed) = reader.read(chunk);
        for m in &got {
            assert!(
                m.len() <= max,
                "{framing}: delivered {} bytes over max {max}",
                m.len()
            );
        }
        messages.extend(got);
        if failed {
            return Outcome {
                messages,
                failed: true,
            };
        }
        assert!(
            reader.pending() <= max + HOLD_SLACK,
            "{framing}: holds {} bytes of an unfinished message, max {max}",
            reader.pending()
        );
    }
    Outcome {
        messages,
        failed: false,
    }
}

/// Cuts `data` at the given points (taken modulo its length).
fn split<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    if data.is_empty() {
        return vec![data];
    }
    let mut at: Vec<usize> = cuts.iter().map(|c| c % data.len()).collect();
    at.sort_unstable();
    at.dedup();
    let mut out = Vec::new();
    let mut from = 0;
    for c in at {
        out.push(&data[from..c]);
        from = c;
    }
    out.push(&data[from..]);
    out
}

/// Cuts `data` into reads of at most `size` bytes, as a socket read loop
/// with that buffer would.
fn reads(data: &[u8], size: usize) -> Vec<&[u8]> {
    data.chunks(size.max(1)).collect()
}

/// Pieces that make streams interesting to some framing: line ends, a
/// bare `\r`, length prefixes (small, at limits, huge), HTTP-ish heads.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..40),
        2 => Just(b"\n".to_vec()),
        2 => Just(b"\r\n".to_vec()),
        1 => Just(b"\r".to_vec()),
        1 => Just(b"exit\r\n".to_vec()),
        2 => (0u32..80).prop_map(|n| n.to_be_bytes().to_vec()),
        1 => Just(u32::MAX.to_be_bytes().to_vec()),
        1 => Just(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        1 => Just(b"POST /m HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc".to_vec()),
        1 => Just(b"Content-Length: 99999999999\r\n".to_vec()),
        1 => (1usize..300).prop_map(|n| vec![b'a'; n]),
        1 => Just(b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n".to_vec()),
        1 => Just(b"$-1\r\n".to_vec()),
        1 => Just(b"*99999999999\r\n".to_vec()),
    ]
}

/// A stream: either random bytes, a mix of interesting pieces, or a run of
/// messages encoded by some framing (valid for that framing).
fn stream() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..600),
        proptest::collection::vec(piece(), 0..30).prop_map(|p| p.concat()),
        (
            0..Framing::ALL.len(),
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..70), 0..12)
        )
            .prop_map(|(f, msgs)| {
                let mut out = Vec::new();
                for m in msgs {
                    Framing::ALL[f].encode(&m, &mut out).unwrap();
                }
                out
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Any split of a stream into reads gives what reading it whole gives.
    #[test]
    fn any_split_yields_the_same_messages(
        data in stream(),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
        max in prop_oneof![1usize..8, 8usize..100, Just(SESSION_LIMIT)],
    ) {
        for framing in &codecs() {
            let split_reads = split(&data, &cuts);
            if framing.name == "raw" {
                // Raw: each read is a message, so the split decides the
                // messages; but reads are never larger than read_size, and
                // nothing may be lost, added or reordered.
                let size = RawCodec.read_size(max);
                let chunks: Vec<&[u8]> =
                    split_reads.iter().flat_map(|r| reads(r, size)).collect();
                let got = decode(framing, max, &chunks);
                prop_assert!(!got.failed, "raw refused reads within read_size");
                prop_assert_eq!(got.messages.concat(), data.clone());
                continue;
            }
            let whole = decode(framing, max, &[&data]);
            let pieces = decode(framing, max, &split_reads);
            prop_assert_eq!(&pieces, &whole, "{} split {:?}", framing, split_reads);
            let bytewise: Vec<&[u8]> = reads(&data, 1);
            let one_by_one = decode(framing, max, &bytewise);
            prop_assert_eq!(&one_by_one, &whole, "{} byte by byte", framing);
        }
    }

    /// Line and length framing give back exactly the messages they encoded,
    /// however the stream is cut, as long as each fits the limit.
    #[test]
    fn line_and_length_decode_what_they_encode(
        msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..50), 0..15),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
        max in 0usize..60,
    ) {
        for framing in [Framing::Line, Framing::Length] {
            let case = &codecs()[framing as usize];
            let max = max.max(1);
            // Line messages cannot hold `\n`, and a trailing `\r` is taken
            // as part of the line end.
            let valid: Vec<Vec<u8>> = msgs
                .iter()
                .map(|m| match framing {
                    Framing::Line => {
                        let mut m: Vec<u8> = m.iter().copied().filter(|&b| b != b'\n').collect();
                        while m.last() == Some(&b'\r') {
                            m.pop();
                        }
                        m
                    }
                    _ => m.clone(),
                })
                .collect();
            let mut data = Vec::new();
            for m in &valid {
                framing.encode(m, &mut data).unwrap();
            }
            let got = decode(case, max, &split(&data, &cuts));
            let fitting: Vec<Vec<u8>> =
                valid.iter().take_while(|m| m.len() <= max).cloned().collect();
            prop_assert_eq!(&got.messages, &fitting);
            prop_assert_eq!(got.failed, fitting.len() < valid.len());
        }
    }

    /// A message of exactly the limit is accepted, also when its `\r\n`
    /// or its body arrives in a later read; one byte more is refused.
    #[test]
    fn the_limit_is_exact_at_any_split(max in 1usize..40, cut in any::<usize>()) {
        for framing in [Framing::Line, Framing::Length] {
            let case = &codecs()[framing as usize];
            let mut ok = Vec::new();
            framing.encode(&vec![b'x'; max], &mut ok).unwrap();
            if framing == Framing::Line {
                ok.insert(ok.len() - 1, b'\r');
            }
            let got = decode(case, max, &split(&ok, &[cut]));
            prop_assert_eq!(got.messages, vec![vec![b'x'; max]], "{}", framing);
            prop_assert!(!got.failed);
            let mut over = Vec::new();
            framing.encode(&vec![b'x'; max + 1], &mut over).unwrap();
            let got = decode(case, max, &split(&over, &[cut]));
            prop_assert!(got.failed && got.messages.is_empty(), "{}", framing);
        }
    }
}

/// A line without end, or a huge length prefix, is refused while the
/// connection holds only about the limit, whatever arrives after.
#[test]
fn endless_input_is_refused_with_bounded_memory() {
    let max = SESSION_LIMIT;
    for framing in &codecs() {
        let mut reader = Reader::new(framing, max);
        let size = if framing.name == "raw" {
            RawCodec.read_size(max)
        } else {
            16 * 1024
        };
        let chunk = vec![if framing.name == "resp" { b'*' } else { b'a' }; size];
        let mut pushed = 0usize;
        let mut refused = false;
        // Up to 100 MB, the issue's "line with no newline".
        while pushed < 100 << 20 {
            let (_, failed) = reader.read(&chunk);
            pushed += chunk.len();
            if failed {
                refused = true;
                break;
            }
            assert!(reader.pending() <= max + HOLD_SLACK, "{framing}");
        }
        // Raw takes every read as a message; a 1- or 2-byte length reads
        // `aa` as a length it can wait for, so its stream is valid.
        if !matches!(framing.name, "raw" | "length 2 le" | "length 1") {
            assert!(refused, "{framing}: 100 MB without an end was accepted");
            assert!(pushed <= max + 2 * chunk.len(), "{framing}: refused late");
        }
    }
    let (_, failed) =
        Reader::new(&codecs()[Framing::Length as usize], max).read(&u32::MAX.to_be_bytes());
    assert!(failed, "4 GB prefix accepted");
}
