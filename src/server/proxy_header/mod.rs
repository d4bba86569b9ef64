//! Reading a connection's PROXY protocol header, without I/O: the part the
//! blocking connection loop (`blocking/serve.rs`) and the event loops
//! (`event/conn.rs`) share, written once.
//!
//! With `proxy_protocol` on, a load balancer writes a header naming the
//! real client before the client's first byte. The server must read it
//! before the handler exists: the `Accept new connection from ...` line,
//! [`ConnInfo::peer`] and every later log line name the client it gives.
//! A driver feeds each read to a [`ProxyHeader`] until it answers
//! [`Verdict::Done`] (the bytes after the header are the client's data and
//! go to the session as if just read) or [`Verdict::Invalid`] (the
//! connection is closed before any handler sees it).
//!
//! The header itself is parsed by the `ppp` crate: a version 2 header's
//! signature, version, command, family, protocol and length, and the
//! addresses of both versions. Written here, around it:
//!
//! - the streaming, which no crate does: which version the first byte
//!   announces (so the `proxy_protocol` setting can be enforced with a
//!   clear reason), how many bytes are worth waiting for, and taking only
//!   the header's bytes of a read that carries data after it;
//! - a version 2 header's TLVs (the type-length-value fields after the
//!   addresses). `ppp` accepts a header without looking at them; only
//!   iterating its `Header::tlvs` finds a TLV whose length runs past the
//!   header's end, or fewer than the 3 bytes of a TLV's type and length
//!   left over. HAProxy refuses such a header, and so does
//!   `tlv_fault` here, walking that iterator once (not for a `LOCAL`
//!   header, whose address block the spec says to discard unread);
//! - a version 1 `UNKNOWN` line. The spec says to ignore whatever follows
//!   `UNKNOWN` up to the `\r\n`, but `ppp` splits a line into at most
//!   seven fields and so refuses one with five or more after `UNKNOWN`
//!   (as "does not end with '\r\n'"). `parse_unknown` reads such lines
//!   instead, still within [`MAX_V1_BYTES`] and still requiring the
//!   `\r\n`.

use std::net::SocketAddr;

use ppp::PartialResult;
use ppp::{v1, v2};

use crate::handler::ConnInfo;
use crate::proxy_protocol::ProxyProtocol;

/// The longest version 2 header accepted, TLVs included: 536 bytes, the
/// smallest segment (MSS) every IPv4 path carries. The spec requires the
/// sender to write the whole header at once and says it is always smaller
/// than an MSS; the addresses take at most 216 bytes, leaving 304 for TLVs,
/// more than HAProxy, AWS, GCP or Azure send. A length field over this is
/// refused as soon as it is read (16 bytes in), so a hostile length of
/// 65,535 never makes the server buffer anything.
pub(crate) const MAX_V2_BYTES: usize = 536;

/// The longest version 1 header, `\r\n` included (the spec's worst case,
/// `PROXY UNKNOWN` with two full IPv6 addresses and ports); `ppp` refuses
/// a longer line itself, and `parse_unknown` a longer `UNKNOWN` one.
pub(crate) const MAX_V1_BYTES: usize = 107;

/// How every version 1 header starts.
const V1_START: &[u8] = b"PROXY ";

/// The most bytes a [`ProxyHeader`] ever keeps: one whole header of either
/// version.
const MAX_KEPT: usize = if MAX_V2_BYTES > MAX_V1_BYTES {
    MAX_V2_BYTES
} else {
    MAX_V1_BYTES
};

/// How many of the first bytes a refusal quotes: enough to recognise a
/// plain protocol (`GET / HTTP/1.1`, `hello`), short enough for one line.
const QUOTED: usize = 24;

/// What a [`ProxyHeader`] answers to each read it is fed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The header is not complete yet: read more (within `read_timeout_ms`).
    NeedMore,
    /// The header is complete.
    Done(Found),
    /// Not a header this server accepts; the reason names the problem for
    /// the log line.
    Invalid(String),
}

/// A complete header: who the client is, and where its data starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Found {
    /// The real client, or `None` when the header names none: a version 2
    /// `LOCAL` command (a balancer's own health check), a version 1
    /// `UNKNOWN`, or addresses that are not IP (a Unix socket, unspecified).
    /// The connection is then served as its socket's own.
    pub client: Option<SocketAddr>,
    /// How many bytes of the last read fed were header; the rest of that
    /// read is the client's first data.
    pub used: usize,
}

impl Found {
    /// `info` as the handler and the logs must see it: the header's client
    /// as the peer, the socket's address as the balancer.
    pub fn apply(&self, info: &mut ConnInfo) {
        if let Some(client) = self.client {
            info.balancer = Some(info.peer);
            info.peer = client;
        }
    }
}

/// The header's version, told by its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    /// Text: `PROXY TCP4 ...\r\n`.
    V1,
    /// Binary: the 12-byte signature, then a length.
    V2,
}

/// One connection's header being read. Keeps at most one header's bytes
/// ([`MAX_V2_BYTES`]), however much is fed.
#[derive(Debug)]
pub(crate) struct ProxyHeader {
    accept: ProxyProtocol,
    /// The header's bytes so far (a header split across reads).
    kept: Vec<u8>,
}

impl ProxyHeader {
    /// A reader for connections that must start with a header of version
    /// `accept`; `None` when `accept` is `off` (no header expected).
    pub fn expected(accept: ProxyProtocol) -> Option<ProxyHeader> {
        (accept != ProxyProtocol::Off).then(|| ProxyHeader {
            accept,
            kept: Vec::new(),
        })
    }

    /// Feeds the bytes of one read. After [`Verdict::Done`] or
    /// [`Verdict::Invalid`] the reader has no further use.
    pub fn feed(&mut self, read: &[u8]) -> Verdict {
        let before = self.kept.len();
        // Only a header's worth is kept: a header complete in this read
        // lies within its first `MAX_KEPT - before` bytes, and what follows
        // it stays in the caller's buffer.
        let take = read.len().min(MAX_KEPT - before);
        self.kept.extend_from_slice(&read[..take]);
        match self.parse() {
            Verdict::Done(found) => Verdict::Done(Found {
                used: found.used.saturating_sub(before),
                ..found
            }),
            Verdict::NeedMore if self.kept.len() >= MAX_KEPT => {
                Verdict::Invalid(format!("no complete header in its first {MAX_KEPT} bytes"))
            }
            other => other,
        }
    }

    /// Why a connection that ended here (its client closed) is refused:
    /// `None` if it sent nothing at all (a plain TCP health check, which is
    /// no fault), else the header it cut short.
    pub fn cut_short(&self) -> Option<String> {
        (!self.kept.is_empty()).then(|| {
            format!(
                "the connection closed after {} bytes of a header: \"{}\"",
                self.kept.len(),
                quote(&self.kept)
            )
        })
    }

    /// Parses everything kept so far; `Found::used` counts from the first
    /// byte kept.
    fn parse(&self) -> Verdict {
        let bytes = &self.kept[..];
        // The two versions differ from the first byte on (v2's signature
        // starts `\r\n`, v1's line `PROXY`), so one byte tells which parser
        // applies and whether the setting allows it, without waiting for a
        // whole signature.
        let version = match bytes.first() {
            None => return Verdict::NeedMore,
            Some(b'\r') => Version::V2,
            Some(b'P') => Version::V1,
            Some(_) => return self.no_header(),
        };
        match (self.accept, version) {
            (ProxyProtocol::V1, Version::V2) => {
                return Verdict::Invalid(
                    "it starts like a version 2 (binary) header, but proxy_protocol = v1".into(),
                );
            }
            (ProxyProtocol::V2, Version::V1) => {
                return Verdict::Invalid(format!(
                    "it starts like a version 1 (text) header, but proxy_protocol = v2: \"{}\"",
                    quote(bytes)
                ));
            }
            _ => {}
        }
        match version {
            Version::V1 => self.parse_v1(),
            Version::V2 => self.parse_v2(),
        }
    }

    /// A version 1 line, once `ppp` can judge it.
    fn parse_v1(&self) -> Verdict {
        let bytes = &self.kept[..];
        let start = &bytes[..bytes.len().min(V1_START.len())];
        if !V1_START.starts_with(start) {
            return self.no_header();
        }
        // `ppp` takes a line cut just after a space for a finished one with
        // an empty field (`... 1111 ` is "invalid destination port"), so a
        // line is only given to it whole: once its `\n` has come, or once
        // it is too long to be a header (which `ppp` then says).
        let ended = bytes.contains(&b'\n');
        if !ended && bytes.len() < MAX_V1_BYTES {
            return Verdict::NeedMore;
        }
        if let Some(verdict) = parse_unknown(bytes) {
            return verdict;
        }
        match v1::Header::try_from(bytes) {
            Ok(header) => {
                let client = match header.addresses {
                    v1::Addresses::Tcp4(a) => Some((a.source_address, a.source_port).into()),
                    v1::Addresses::Tcp6(a) => Some((a.source_address, a.source_port).into()),
                    v1::Addresses::Unknown => None,
                };
                Verdict::Done(Found {
                    client,
                    used: header.header.len(),
                })
            }
            // A line that has ended cannot grow into a header.
            Err(e) if e.is_incomplete() && !ended => Verdict::NeedMore,
            Err(e) => Verdict::Invalid(format!("bad version 1 header: {e}")),
        }
    }

    /// A version 2 header, refused as soon as its length is too long.
    fn parse_v2(&self) -> Verdict {
        match v2::Header::try_from(&self.kept[..]) {
            Ok(header) => {
                if let Some(fault) = tlv_fault(&header) {
                    return Verdict::Invalid(format!("bad version 2 header: {fault}"));
                }
                let client = match (header.command, header.addresses) {
                    (v2::Command::Proxy, v2::Addresses::IPv4(a)) => {
                        Some((a.source_address, a.source_port).into())
                    }
                    (v2::Command::Proxy, v2::Addresses::IPv6(a)) => {
                        Some((a.source_address, a.source_port).into())
                    }
                    // LOCAL: the balancer speaking for itself (a health
                    // check); the spec says to use the real endpoints.
                    _ => None,
                };
                Verdict::Done(Found {
                    client,
                    used: header.len(),
                })
            }
            // The length field is known from byte 16 on: refuse a header
            // too long to accept before buffering any of it.
            Err(v2::ParseError::Partial(_, length)) if 16 + length > MAX_V2_BYTES => {
                Verdict::Invalid(format!(
                    "its version 2 header announces {} bytes, over the {MAX_V2_BYTES} accepted",
                    16 + length
                ))
            }
            Err(e) if e.is_incomplete() => Verdict::NeedMore,
            Err(v2::ParseError::Prefix) => self.no_header(),
            Err(e) => Verdict::Invalid(format!("bad version 2 header: {e}")),
        }
    }

    /// The refusal of a connection that starts with no header at all: a
    /// client connecting directly, past the balancer, or a balancer not
    /// configured to send one.
    fn no_header(&self) -> Verdict {
        Verdict::Invalid(format!(
            "no PROXY protocol header (proxy_protocol = {}); it starts with \"{}\"",
            self.accept,
            quote(&self.kept)
        ))
    }
}

/// A version 1 line of the `UNKNOWN` protocol, whole (its `\n` has come,
/// or [`MAX_V1_BYTES`] have); `None` when `bytes` is not one, for `ppp`
/// to judge.
///
/// Read here, not by `ppp`: the spec says the receiver must ignore
/// whatever the sender puts between `UNKNOWN` and the `\r\n` (its worst
/// case: two full IPv6 addresses and ports, 107 bytes in all), while
/// `ppp` splits the line into at most seven fields and refuses one with
/// five or more after `UNKNOWN` as not ending in `\r\n`. What is still
/// required: `UNKNOWN` as a whole word, and a line ending in `\r\n`
/// within [`MAX_V1_BYTES`] (a bare `\n` ends a line, and refuses it, as
/// `ppp` does for the other protocols).
fn parse_unknown(bytes: &[u8]) -> Option<Verdict> {
    let after = bytes.strip_prefix(b"PROXY UNKNOWN")?;
    // `PROXY UNKNOWNX ...` is no `UNKNOWN` line: `ppp` refuses its protocol.
    if !matches!(after.first(), Some(b' ' | b'\r')) {
        return None;
    }
    let line = &bytes[..bytes.len().min(MAX_V1_BYTES)];
    Some(match line.iter().position(|&b| b == b'\n') {
        Some(end) if line[..end].ends_with(b"\r") => Verdict::Done(Found {
            client: None,
            used: end + 1,
        }),
        Some(end) => Verdict::Invalid(format!(
            "bad version 1 header: its line ends with a bare \\n at byte {end}, not \\r\\n"
        )),
        None => Verdict::Invalid(format!(
            "bad version 1 header: no \\r\\n in its first {MAX_V1_BYTES} bytes"
        )),
    })
}

/// Why a version 2 header's TLVs do not fit it, if they do not: one that
/// announces more bytes than the header has left, or 1 or 2 bytes left
/// over, too few for a TLV's type (1 byte) and length (2 bytes, big
/// endian). Byte offsets count from the header's first byte, 0.
///
/// `ppp` parses a header without looking at its TLVs: it checks them
/// lazily, each as `Header::tlvs` yields it (`InvalidTLV` for one running
/// past the end, `Leftovers` for a remainder under 3 bytes). HAProxy
/// refuses both as a bad header; so this walks the iterator once, only to find an `Err`, and names the byte it
/// is at (`ppp`'s errors do not say where, and `Leftovers` counts every
/// TLV byte, not those left over).
///
/// Which headers are walked, per the spec (section 2.2):
/// - `PROXY` with an IPv4, IPv6 or Unix family: the TLVs start after the
///   family's address block (12, 36 or 216 bytes), where `ppp` starts
///   them too;
/// - `PROXY` with the `UNSPEC` family: not walked. The spec gives this
///   family no address length and says address information may still be
///   present ("it may or may not decide to log the address information if
///   present"), so where TLVs would start is unknown; `ppp` takes the whole
///   block as addresses and yields no TLVs. The header's length still
///   bounds it, and the connection is served as its socket's own;
/// - `LOCAL`, whatever its family: not walked. The spec says the receiver
///   "must accept this connection as valid and must use the real
///   connection endpoints and discard the protocol block including the
///   family which is ignored"; with the family ignored, so is where its
///   addresses end and TLVs begin. HAProxy does not read a `LOCAL` block
///   either. A balancer's health check is served as the socket's own, as
///   before.
fn tlv_fault(header: &v2::Header<'_>) -> Option<String> {
    if header.command == v2::Command::Local {
        return None;
    }
    let end = header.len();
    let mut at = end - header.tlv_bytes().len();
    for tlv in header.tlvs() {
        match tlv {
            Ok(tlv) => at += 3 + tlv.value.len(),
            Err(v2::ParseError::InvalidTLV(kind, length)) => {
                return Some(format!(
                    "its TLV at byte {at} (type {kind:#04x}) announces {length} bytes, \
                     past the header's end at byte {end}"
                ));
            }
            Err(v2::ParseError::Leftovers(_)) => {
                return Some(format!(
                    "its last {} bytes, from byte {at}, are too few for a TLV \
                     (a type and a length take 3)",
                    end - at
                ));
            }
            Err(e) => return Some(format!("its TLV at byte {at}: {e}")),
        }
    }
    None
}

/// The first bytes of `bytes`, escaped for a log line.
fn quote(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(QUOTED)];
    let mut text = shown.escape_ascii().to_string();
    if bytes.len() > QUOTED {
        text.push_str("...");
    }
    text
}

#[cfg(test)]
mod tests;
