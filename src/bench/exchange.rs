//! What the clients say and what they expect back: the greeting, the
//! request and the reply, from `--greeting`, `--request` and `--expect`
//! (by default the echo protocol's, from `crate::echo`, its one
//! definition), parsed and checked once before the run.
//!
//! Texts may hold escapes (`\n`, `\r`, `\t`, `\\`, `\0`, `\xHH`, `\{`), and
//! the request and the expected reply two placeholders, `{n}` (the
//! client's message number, from 0) and `{client}` (the client's number,
//! from 0), so a key-value server can be loaded with `SET k{n} v`. Every
//! text is framed with `--framing`. When no placeholder is used the framed
//! bytes are made once and shared by every client, so the default echo
//! load costs nothing per message.

use std::io::Write as _;

use super::error::BenchError;
use super::flags::{ANY, LoadArgs, MAX_PAYLOAD, MAX_RAW_PAYLOAD, NONE, Protocol};
use crate::Framing;
use crate::codec::SharedCodec;
use crate::echo::{GREETING, answer};

/// Longest decimal number a placeholder can become (`u64::MAX`).
const MAX_NUMBER_DIGITS: usize = 20;

/// One piece of a [`Template`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(Vec<u8>),
    /// `{n}`: the client's message number.
    N,
    /// `{client}`: the client's number.
    Client,
}

/// A text from the command line, escapes resolved and placeholders found,
/// ready to be rendered for any client and message.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `text`, the value of `flag`; `placeholders` says whether
    /// `{n}` and `{client}` are placeholders or plain text.
    fn parse(text: &str, flag: &str, placeholders: bool) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut lit = Vec::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let rest = &bytes[i..];
            if placeholders && (rest.starts_with(b"{n}") || rest.starts_with(b"{client}")) {
                if !lit.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut lit)));
                }
                let (part, len) = if rest.starts_with(b"{n}") {
                    (Part::N, 3)
                } else {
                    (Part::Client, 8)
                };
                parts.push(part);
                i += len;
                continue;
            }
            if bytes[i] != b'\\' {
                lit.push(bytes[i]);
                i += 1;
                continue;
            }
            let (byte, len) = match rest.get(1) {
                Some(b'n') => (b'\n', 2),
                Some(b'r') => (b'\r', 2),
                Some(b't') => (b'\t', 2),
                Some(b'0') => (0, 2),
                Some(b'\\') => (b'\\', 2),
                Some(b'{') => (b'{', 2),
                Some(b'x') => {
                    let hex = rest.get(2..4).and_then(|h| std::str::from_utf8(h).ok());
                    match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        Some(b) => (b, 4),
                        None => {
                            return Err(format!("{flag}: \\x needs two hex digits, as in \\x0a"));
                        }
                    }
                }
                _ => {
                    return Err(format!(
                        "{flag}: unknown escape at byte {i}; use \\n \\r \\t \\\\ \\0 \\xHH \\{{"
                    ));
                }
            };
            lit.push(byte);
            i += len;
        }
        if !lit.is_empty() || parts.is_empty() {
            parts.push(Part::Text(lit));
        }
        Ok(Template { parts })
    }

    /// The text itself, when it has no placeholder.
    fn fixed(&self) -> Option<&[u8]> {
        match self.parts.as_slice() {
            [Part::Text(t)] => Some(t),
            _ => None,
        }
    }

    /// Appends the text for `client`'s message `n` to `out`.
    fn render(&self, client: usize, n: u64, out: &mut Vec<u8>) {
        for part in &self.parts {
            // Writing into a Vec cannot fail.
            let _ = match part {
                Part::Text(t) => out.write_all(t),
                Part::N => write!(out, "{n}"),
                Part::Client => write!(out, "{client}"),
            };
        }
    }

    /// The longest text this can become with fewer than `clients` clients.
    fn max_len(&self, clients: usize) -> usize {
        let client_digits = clients.saturating_sub(1).max(1).ilog10() as usize + 1;
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.len(),
                Part::N => MAX_NUMBER_DIGITS,
                Part::Client => client_digits,
            })
            .sum()
    }

    /// Whether some literal part holds `byte` (a placeholder never does).
    fn contains(&self, byte: u8) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Text(t) if t.contains(&byte)))
    }
}

/// What counts as the right reply to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    /// The echo protocol's answer to the request (`crate::echo::answer`).
    EchoAnswer,
    /// Exactly this text, framed.
    Text(Template),
    /// Any one complete framed message.
    Any,
}

/// A client's own copy of its current request and expected reply, used
/// only when they depend on the client or the message number.
#[derive(Debug, Default)]
pub(super) struct MessageBuf {
    /// The request before framing (the echo answer is made from it).
    text: Vec<u8>,
    /// The expected reply before framing.
    reply_text: Vec<u8>,
    request: Vec<u8>,
    reply: Vec<u8>,
}

/// The exchange of a run, checked: the greeting to expect, then for each
/// message the request to send and the reply to expect, all framed.
#[derive(Debug)]
pub(super) struct Exchange {
    framing: Framing,
    /// `framing`'s codec: the server's own, so both frame alike.
    codec: SharedCodec,
    greeting: Option<Vec<u8>>,
    request: Template,
    expect: Expect,
    /// The framed request and reply when they are the same for every
    /// client and message (the reply is `None` too with `--expect any`).
    fixed_request: Option<Vec<u8>>,
    fixed_reply: Option<Vec<u8>>,
}

impl Exchange {
    /// The exchange the flags ask for, or the one-line reason it cannot be.
    pub(super) fn new(load: &LoadArgs, protocol: Protocol) -> Result<Exchange, BenchError> {
        Exchange::parse(load, protocol).map_err(BenchError::InvalidArgs)
    }

    fn parse(load: &LoadArgs, protocol: Protocol) -> Result<Exchange, String> {
        let framing = load.framing;
        let greeting = match load.greeting.as_deref() {
            _ if protocol == Protocol::Daytime => None,
            None => Some(GREETING.to_vec()),
            Some(NONE) => None,
            Some(text) => {
                let t = Template::parse(text, "--greeting", false)?;
                check_text(&t, framing, "--greeting")?;
                Some(t.fixed().unwrap_or_default().to_vec())
            }
        };
        let request = match load.request.as_deref() {
            None => Template {
                parts: vec![Part::Text(payload(load.size))],
            },
            Some(text) => Template::parse(text, "--request", true)?,
        };
        check_text(&request, framing, "--request")?;
        let longest = request.max_len(load.clients);
        if framing == Framing::Raw && longest > MAX_RAW_PAYLOAD {
            return Err(format!(
                "--request can be {longest} bytes, over the {MAX_RAW_PAYLOAD} bytes one raw \
                 message can hold (the server reads 1024 bytes as one message); use \
                 --framing line or length"
            ));
        }
        if longest > MAX_PAYLOAD {
            return Err(format!("--request must be at most {MAX_PAYLOAD} bytes"));
        }
        if framing == Framing::Raw && request.max_len(1) == 0 {
            return Err("--request is empty: with raw framing that sends nothing".into());
        }
        let expect = match load.expect.as_deref() {
            None => Expect::EchoAnswer,
            Some(ANY) => Expect::Any,
            Some(text) => {
                let t = Template::parse(text, "--expect", true)?;
                check_text(&t, framing, "--expect")?;
                Expect::Text(t)
            }
        };
        let codec = framing.codec();
        let framed = |message: &[u8]| frame(&codec, message);
        let mut exchange = Exchange {
            framing,
            codec: codec.clone(),
            greeting: greeting.map(|g| framed(&g)),
            request,
            expect,
            fixed_request: None,
            fixed_reply: None,
        };
        if let Some(text) = exchange.request.fixed() {
            exchange.fixed_request = Some(framed(text));
        }
        exchange.fixed_reply = match &exchange.expect {
            Expect::EchoAnswer => exchange.request.fixed().map(|text| {
                let mut a = Vec::new();
                answer(text, &mut a);
                framed(&a)
            }),
            Expect::Text(t) => t.fixed().map(framed),
            Expect::Any => None,
        };
        Ok(exchange)
    }

    /// The framed greeting, or `None` when the server sends none first.
    pub(super) fn greeting(&self) -> Option<&[u8]> {
        self.greeting.as_deref()
    }

    /// The framing every text is sent and read with.
    pub(super) fn framing(&self) -> Framing {
        self.framing
    }

    /// Makes `client`'s message `n` in `buf`, unless it is the same for
    /// every message; then [`request`](Self::request) and
    /// [`reply`](Self::reply) give it.
    pub(super) fn prepare(&self, client: usize, n: u64, buf: &mut MessageBuf) {
        if self.fixed_request.is_none() {
            buf.text.clear();
            self.request.render(client, n, &mut buf.text);
            buf.request.clear();
            encode(&self.codec, &buf.text, &mut buf.request);
        }
        if self.fixed_reply.is_none() {
            buf.reply_text.clear();
            match &self.expect {
                Expect::EchoAnswer => answer(&buf.text, &mut buf.reply_text),
                Expect::Text(t) => t.render(client, n, &mut buf.reply_text),
                Expect::Any => return,
            }
            buf.reply.clear();
            encode(&self.codec, &buf.reply_text, &mut buf.reply);
        }
    }

    /// The framed request [`prepare`](Self::prepare) made (or the fixed one).
    pub(super) fn request<'a>(&'a self, buf: &'a MessageBuf) -> &'a [u8] {
        self.fixed_request.as_deref().unwrap_or(&buf.request)
    }

    /// The framed reply to expect, or `None` when any message will do.
    pub(super) fn reply<'a>(&'a self, buf: &'a MessageBuf) -> Option<&'a [u8]> {
        match (&self.expect, &self.fixed_reply) {
            (Expect::Any, _) => None,
            (_, Some(fixed)) => Some(fixed),
            (_, None) => Some(&buf.reply),
        }
    }

    /// Bytes of the first client's first request, before framing: the
    /// report's `size`.
    pub(super) fn size(&self) -> usize {
        let mut text = Vec::new();
        self.request.render(0, 0, &mut text);
        text.len()
    }
}

/// Refuses a text that its framing would cut in two: a line break inside
/// a line-framed message ends it early.
fn check_text(t: &Template, framing: Framing, flag: &str) -> Result<(), String> {
    if framing == Framing::Line && t.contains(b'\n') {
        return Err(format!(
            "{flag} holds a line break, which --framing line reads as the end of the message"
        ));
    }
    Ok(())
}

/// The default payload: `abcd…z` repeated, `size` bytes. It starts with
/// `a`, so it is never `exit`, and contains no `\n` or `\r`.
fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| b'a' + (i % 26) as u8).collect()
}

/// Frames `message` onto `out`. Every built-in codec frames anything up
/// to `MAX_PAYLOAD` (the flags refuse longer), so it cannot fail here.
fn encode(codec: &SharedCodec, message: &[u8], out: &mut Vec<u8>) {
    let framed = codec.encode(message, out);
    debug_assert!(framed.is_ok(), "bench messages fit every framing");
}

fn frame(codec: &SharedCodec, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 4);
    encode(codec, message, &mut out);
    out
}

#[cfg(test)]
fn framed(framing: Framing, message: &[u8]) -> Vec<u8> {
    frame(&framing.codec(), message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::flags::DEFAULT_SIZE;
    use crate::echo::EXIT;

    fn load(edit: impl FnOnce(&mut LoadArgs)) -> LoadArgs {
        let mut l = LoadArgs::default();
        edit(&mut l);
        l
    }

    #[test]
    fn payload_is_printable_and_never_exit() {
        for size in [1, 4, 26, 100, 1024] {
            let p = payload(size);
            assert_eq!(p.len(), size);
            assert!(p.iter().all(|b| b.is_ascii_lowercase()));
            assert_ne!(p, EXIT);
        }
    }

    #[test]
    fn the_default_is_the_echo_protocol_made_once() {
        let x = Exchange::new(&load(|l| l.framing = Framing::Line), Protocol::Echo).unwrap();
        assert_eq!(x.greeting(), Some(&b"Welcome!\n"[..]));
        let buf = MessageBuf::default();
        let p = payload(DEFAULT_SIZE);
        assert_eq!(x.request(&buf), [&p[..], b"\n"].concat());
        let want = [b"Received ", &p[..], b";\n"].concat();
        assert_eq!(x.reply(&buf), Some(&want[..]));
        assert!(x.fixed_request.is_some() && x.fixed_reply.is_some());
        assert_eq!(x.size(), DEFAULT_SIZE);
    }

    #[test]
    fn placeholders_escapes_and_any() {
        let l = load(|l| {
            l.framing = Framing::Length;
            l.greeting = Some(NONE.into());
            l.request = Some("SET k{n} v{client}\\t\\x41\\{n}".into());
            l.expect = Some("OK {n}".into());
        });
        let x = Exchange::new(&l, Protocol::Echo).unwrap();
        assert_eq!(x.greeting(), None);
        let mut buf = MessageBuf::default();
        x.prepare(3, 17, &mut buf);
        assert_eq!(
            x.request(&buf),
            framed(Framing::Length, b"SET k17 v3\tA{n}")
        );
        assert_eq!(x.reply(&buf), Some(&framed(Framing::Length, b"OK 17")[..]));

        // The echo answer of a templated request follows it.
        let l = load(|l| {
            l.framing = Framing::Line;
            l.request = Some("m{n}".into());
        });
        let x = Exchange::new(&l, Protocol::Echo).unwrap();
        x.prepare(0, 5, &mut buf);
        assert_eq!(x.request(&buf), b"m5\n");
        assert_eq!(x.reply(&buf), Some(&b"Received m5;\n"[..]));

        let l = load(|l| {
            l.framing = Framing::Line;
            l.expect = Some(ANY.into());
        });
        let x = Exchange::new(&l, Protocol::Echo).unwrap();
        assert_eq!(x.expect, Expect::Any);
        assert_eq!(x.reply(&buf), None);
    }

    #[test]
    fn texts_that_cannot_work_are_refused() {
        let err = |edit: fn(&mut LoadArgs)| {
            Exchange::new(&load(edit), Protocol::Echo)
                .unwrap_err()
                .to_string()
        };
        assert!(err(|l| l.request = Some("a\\q".into())).contains("unknown escape"));
        assert!(err(|l| l.request = Some("a\\x4".into())).contains("hex"));
        let e = err(|l| {
            l.framing = Framing::Line;
            l.request = Some("two\\nlines".into());
        });
        assert!(e.contains("line break"), "{e}");
        let e = err(|l| l.request = Some("x".repeat(1010) + "{n}"));
        assert!(e.contains("raw"), "{e}");
        let e = err(|l| l.request = Some(String::new()));
        assert!(e.contains("empty"), "{e}");
        // The literal text `none` or `any` can still be written.
        let l = load(|l| {
            l.framing = Framing::Line;
            l.greeting = Some("\\x6eone".into());
            l.expect = Some("\\x61ny".into());
        });
        let x = Exchange::new(&l, Protocol::Echo).unwrap();
        assert_eq!(x.greeting(), Some(&b"none\n"[..]));
        assert_eq!(x.reply(&MessageBuf::default()), Some(&b"any\n"[..]));
    }

    #[test]
    fn longest_render_counts_placeholders() {
        let t = Template::parse("k{n}-{client}", "--request", true).unwrap();
        assert_eq!(t.max_len(1), 2 + MAX_NUMBER_DIGITS + 1);
        assert_eq!(t.max_len(100), 2 + MAX_NUMBER_DIGITS + 2);
        assert_eq!(t.max_len(101), 2 + MAX_NUMBER_DIGITS + 3);
        let g = Template::parse("{n}", "--greeting", false).unwrap();
        assert_eq!(g.fixed(), Some(&b"{n}"[..]));
    }
}
