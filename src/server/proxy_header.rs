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
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

    /// A version 2 header by hand (not with `ppp`'s builder, so the
    /// parser is checked against the spec, not against itself).
    fn v2(command: u8, family: u8, addresses: &[u8], tlvs: &[u8]) -> Vec<u8> {
        let mut h = SIGNATURE.to_vec();
        h.push(0x20 | command);
        h.push(family);
        h.extend_from_slice(&((addresses.len() + tlvs.len()) as u16).to_be_bytes());
        h.extend_from_slice(addresses);
        h.extend_from_slice(tlvs);
        h
    }

    /// A version 2 `PROXY` header for an IPv4 client.
    fn v2_tcp4(client: [u8; 4], port: u16) -> Vec<u8> {
        let mut a = client.to_vec();
        a.extend_from_slice(&[10, 0, 0, 1]);
        a.extend_from_slice(&port.to_be_bytes());
        a.extend_from_slice(&443u16.to_be_bytes());
        v2(1, 0x11, &a, &[])
    }

    /// A version 2 `PROXY` header for an IPv6 client, with `tlvs`.
    fn v2_tcp6(tlvs: &[u8]) -> Vec<u8> {
        let mut a = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7)
            .octets()
            .to_vec();
        a.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        a.extend_from_slice(&[0x9c, 0x40, 0, 80]);
        v2(1, 0x21, &a, tlvs)
    }

    /// One TLV: `kind`, its value's length (2 bytes, big endian), `value`.
    fn tlv(kind: u8, value: &[u8]) -> Vec<u8> {
        let mut t = vec![kind];
        t.extend_from_slice(&(value.len() as u16).to_be_bytes());
        t.extend_from_slice(value);
        t
    }

    /// A PP2_TYPE_NOOP TLV taking `total` bytes (3 or more), as padding.
    fn noop(total: usize) -> Vec<u8> {
        tlv(0x04, &vec![0; total - 3])
    }

    /// A reader for `accept`, which is not `off`.
    fn reader(accept: ProxyProtocol) -> ProxyHeader {
        ProxyHeader::expected(accept).expect("not off")
    }

    /// The header found, or the test fails.
    fn done(verdict: Verdict) -> Found {
        match verdict {
            Verdict::Done(found) => found,
            other => panic!("expected a complete header, got {other:?}"),
        }
    }

    /// The refusal's reason, or the test fails.
    fn invalid(verdict: Verdict) -> String {
        match verdict {
            Verdict::Invalid(why) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn off_expects_nothing() {
        assert!(ProxyHeader::expected(ProxyProtocol::Off).is_none());
    }

    #[test]
    fn v1_tcp4_and_tcp6_name_the_client() {
        let found =
            done(reader(ProxyProtocol::V1).feed(b"PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n"));
        assert_eq!(found.client, Some("1.2.3.4:1111".parse().unwrap()));
        assert_eq!(found.used, 38);
        let found =
            done(reader(ProxyProtocol::Any).feed(b"PROXY TCP6 2001:db8::1 ::1 40000 80\r\n"));
        assert_eq!(found.client, Some("[2001:db8::1]:40000".parse().unwrap()));
    }

    #[test]
    fn v2_ipv4_and_ipv6_name_the_client() {
        let header = v2_tcp4([1, 2, 3, 4], 1111);
        let found = done(reader(ProxyProtocol::V2).feed(&header));
        assert_eq!(found.client, Some("1.2.3.4:1111".parse().unwrap()));
        assert_eq!(found.used, header.len());

        let mut a = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7)
            .octets()
            .to_vec();
        a.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        a.extend_from_slice(&[0x9c, 0x40, 0, 80]);
        // A TLV (PP2_TYPE_AUTHORITY) after the addresses is skipped.
        let header = v2(1, 0x21, &a, &[0x02, 0, 3, b'a', b'.', b'b']);
        let found = done(reader(ProxyProtocol::Any).feed(&header));
        assert_eq!(found.client, Some("[2001:db8::7]:40000".parse().unwrap()));
        assert_eq!(found.used, header.len());
    }

    #[test]
    fn local_and_unknown_keep_the_socket_address() {
        let mut info = ConnInfo::new(1, "10.0.0.1:5000".parse().unwrap());
        let found = done(reader(ProxyProtocol::V2).feed(&v2(0, 0x00, &[], &[])));
        assert_eq!(found.client, None);
        found.apply(&mut info);
        assert_eq!(info.peer, "10.0.0.1:5000".parse().unwrap());
        assert_eq!(info.balancer, None);
        let found = done(reader(ProxyProtocol::V1).feed(b"PROXY UNKNOWN\r\n"));
        assert_eq!((found.client, found.used), (None, 15));
    }

    #[test]
    fn apply_moves_the_socket_address_to_balancer() {
        let mut info = ConnInfo::new(1, "10.0.0.1:5000".parse().unwrap());
        let found = Found {
            client: Some((Ipv4Addr::new(1, 2, 3, 4), 9).into()),
            used: 0,
        };
        found.apply(&mut info);
        assert_eq!(info.peer, "1.2.3.4:9".parse().unwrap());
        assert_eq!(info.balancer, Some("10.0.0.1:5000".parse().unwrap()));
    }

    #[test]
    fn a_header_one_byte_at_a_time() {
        for header in [
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n".to_vec(),
            v2_tcp4([1, 2, 3, 4], 1111),
        ] {
            let mut r = reader(ProxyProtocol::Any);
            let (last, head) = header.split_last().unwrap();
            for b in head {
                assert_eq!(r.feed(&[*b]), Verdict::NeedMore, "after {b:#x}");
            }
            let found = done(r.feed(&[*last]));
            assert_eq!(found.client, Some("1.2.3.4:1111".parse().unwrap()));
            assert_eq!(found.used, 1);
        }
    }

    #[test]
    fn data_after_the_header_is_left_to_the_caller() {
        for header in [
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n".to_vec(),
            v2_tcp4([1, 2, 3, 4], 1111),
        ] {
            // Split inside the header; the second read ends with data.
            let mut r = reader(ProxyProtocol::Any);
            assert_eq!(r.feed(&header[..5]), Verdict::NeedMore);
            let mut read = header[5..].to_vec();
            read.extend_from_slice(b"hello\n");
            let found = done(r.feed(&read));
            assert_eq!(&read[found.used..], b"hello\n");
            // Data far longer than any header, in the same read.
            let mut read = header.clone();
            read.extend(std::iter::repeat_n(b'x', 10_000));
            let found = done(reader(ProxyProtocol::Any).feed(&read));
            assert_eq!(found.used, header.len());
        }
    }

    #[test]
    fn the_setting_picks_the_version() {
        let why = invalid(reader(ProxyProtocol::V1).feed(&v2_tcp4([1, 2, 3, 4], 1)));
        assert!(why.contains("proxy_protocol = v1"), "{why}");
        let why = invalid(reader(ProxyProtocol::V2).feed(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"));
        assert!(why.contains("proxy_protocol = v2"), "{why}");
        // Refused from the first byte: no need to wait for more.
        invalid(reader(ProxyProtocol::V1).feed(b"\r"));
        invalid(reader(ProxyProtocol::V2).feed(b"P"));
    }

    #[test]
    fn a_plain_message_is_no_header() {
        for accept in [ProxyProtocol::V1, ProxyProtocol::V2, ProxyProtocol::Any] {
            let why = invalid(reader(accept).feed(b"hello\n"));
            assert!(why.starts_with("no PROXY protocol header"), "{why}");
            assert!(why.contains("hello\\n"), "{why}");
        }
        // A plain message that happens to start with `P`.
        let why = invalid(reader(ProxyProtocol::Any).feed(b"PING\n"));
        assert!(why.starts_with("no PROXY protocol header"), "{why}");
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        for line in [
            &b"PROXY TCP4 1.2.3.999 5.6.7.8 1 2\r\n"[..],
            b"PROXY TCP4 1.2.3.4\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
        ] {
            let why = invalid(reader(ProxyProtocol::Any).feed(line));
            assert!(why.starts_with("bad version 1 header"), "{why}");
        }
        let mut bad_version = v2_tcp4([1, 2, 3, 4], 1);
        bad_version[12] = 0x31;
        let why = invalid(reader(ProxyProtocol::Any).feed(&bad_version));
        assert!(why.starts_with("bad version 2 header"), "{why}");
        let why = invalid(reader(ProxyProtocol::Any).feed(&[0xff; 40]));
        assert!(why.contains("\\xff"), "{why}");
    }

    #[test]
    fn an_oversized_header_is_refused_when_its_length_is_known() {
        // A v2 header announcing 65,535 bytes: refused at byte 16.
        let mut head = SIGNATURE.to_vec();
        head.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        let mut r = reader(ProxyProtocol::V2);
        assert_eq!(r.feed(&head[..15]), Verdict::NeedMore);
        let why = invalid(r.feed(&head[15..]));
        assert!(why.contains("65551 bytes"), "{why}");
        // The largest accepted still is.
        let header = v2(1, 0x11, &[0; 12], &noop(MAX_V2_BYTES - 28));
        assert_eq!(header.len(), MAX_V2_BYTES);
        assert!(matches!(
            reader(ProxyProtocol::Any).feed(&header),
            Verdict::Done(_)
        ));
        // A v1 line with no end in sight.
        let mut line = b"PROXY TCP4 ".to_vec();
        line.extend(std::iter::repeat_n(b'1', 200));
        invalid(reader(ProxyProtocol::V1).feed(&line));
    }

    #[test]
    fn never_keeps_more_than_a_header() {
        // One read of a 64 KiB burst: the header's bytes are kept, not it.
        let mut read = v2(1, 0x11, &[0; 12], &noop(480));
        let header_len = read.len();
        read.extend(std::iter::repeat_n(b'x', 64 * 1024));
        let mut r = reader(ProxyProtocol::Any);
        assert_eq!(done(r.feed(&read)).used, header_len);
        assert!(r.kept.len() <= MAX_KEPT);
    }

    #[test]
    fn closing_early_is_a_fault_only_after_a_byte() {
        let mut r = reader(ProxyProtocol::Any);
        assert_eq!(r.cut_short(), None);
        assert_eq!(r.feed(b"PROXY TCP4 1.2"), Verdict::NeedMore);
        let why = r.cut_short().expect("a fault");
        assert!(why.contains("14 bytes"), "{why}");
    }

    #[test]
    fn v2_valid_tlvs_pass() {
        let alpn = tlv(0x01, b"h2");
        let empty_noop = tlv(0x04, b"");
        // ALPN, an empty NOOP, a padding NOOP, and an unassigned type
        // (ignored, as the spec says).
        let tlvs = [alpn.clone(), empty_noop, noop(9), tlv(0xe0, b"x")].concat();
        for header in [
            {
                let mut a = vec![1, 2, 3, 4, 10, 0, 0, 1];
                a.extend_from_slice(&[0x04, 0x57, 0x01, 0xbb]);
                v2(1, 0x11, &a, &tlvs)
            },
            v2_tcp6(&tlvs),
            v2_tcp6(&alpn),
        ] {
            let mut read = header.clone();
            read.extend_from_slice(b"hello\n");
            let found = done(reader(ProxyProtocol::V2).feed(&read));
            assert!(found.client.is_some());
            assert_eq!(found.used, header.len());
        }
        // Unix addresses (216 bytes) then TLVs: served as the socket's own.
        let found = done(reader(ProxyProtocol::V2).feed(&v2(1, 0x31, &[0; 216], &alpn)));
        assert_eq!(found.client, None);
    }

    #[test]
    fn v2_a_tlv_running_past_the_header_is_refused() {
        // ALPN announcing 16 bytes of value where 2 are left: the TLV
        // starts after the 16-byte head and the 12 bytes of IPv4 addresses.
        let mut a = vec![1, 2, 3, 4, 10, 0, 0, 1];
        a.extend_from_slice(&[0x04, 0x57, 0x01, 0xbb]);
        let header = v2(1, 0x11, &a, &[0x01, 0x00, 0x10, b'h', b'2']);
        let why = invalid(reader(ProxyProtocol::Any).feed(&header));
        assert_eq!(
            why,
            "bad version 2 header: its TLV at byte 28 (type 0x01) announces 16 bytes, \
             past the header's end at byte 33"
        );
        // After a good TLV, with IPv6 addresses (36 bytes): 16 + 36 + 5.
        let tlvs = [tlv(0x01, b"h2"), vec![0x02, 0xff, 0xff, b'a']].concat();
        let why = invalid(reader(ProxyProtocol::V2).feed(&v2_tcp6(&tlvs)));
        assert!(
            why.contains("its TLV at byte 57 (type 0x02) announces 65535 bytes"),
            "{why}"
        );
        // Unix addresses take 216 bytes; a NOOP one byte too long.
        let mut long = noop(10);
        long[2] += 1;
        let why = invalid(reader(ProxyProtocol::V2).feed(&v2(1, 0x31, &[0; 216], &long)));
        assert!(why.contains("its TLV at byte 232 (type 0x04)"), "{why}");
    }

    #[test]
    fn v2_too_few_bytes_for_a_tlv_are_refused() {
        for left in [1, 2] {
            // Only the leftover.
            let header = v2_tcp6(&vec![0x04; left]);
            let why = invalid(reader(ProxyProtocol::Any).feed(&header));
            assert_eq!(
                why,
                format!(
                    "bad version 2 header: its last {left} bytes, from byte 52, are too few \
                     for a TLV (a type and a length take 3)"
                )
            );
            // After good TLVs: 16 + 36 + 5 + 7.
            let tlvs = [tlv(0x01, b"h2"), noop(7), vec![0x04; left]].concat();
            let why = invalid(reader(ProxyProtocol::V2).feed(&v2_tcp6(&tlvs)));
            assert!(
                why.contains(&format!("its last {left} bytes, from byte 64,")),
                "{why}"
            );
        }
    }

    #[test]
    fn v2_bad_tlvs_are_refused_only_once_the_header_is_whole() {
        // Byte by byte: waits for the whole header, then refuses it.
        let header = v2_tcp6(&[0x01, 0x00, 0x10, b'h', b'2']);
        let mut r = reader(ProxyProtocol::Any);
        let (last, head) = header.split_last().unwrap();
        for b in head {
            assert_eq!(r.feed(&[*b]), Verdict::NeedMore);
        }
        let why = invalid(r.feed(&[*last]));
        assert!(why.contains("past the header's end"), "{why}");
        // Data after the header is not taken for TLV bytes.
        let mut read = v2_tcp6(&[0x01, 0x00, 0x02, b'h']);
        read.extend_from_slice(b"2hello\n");
        invalid(reader(ProxyProtocol::Any).feed(&read));
    }

    #[test]
    fn v2_local_and_unspec_blocks_are_not_walked() {
        // LOCAL with IPv4 addresses and a TLV running past the end: the
        // spec says to discard the block, family included.
        let bad_tlv = [0x01, 0x00, 0x10, b'h'];
        let found = done(reader(ProxyProtocol::V2).feed(&v2(0, 0x11, &[0; 12], &bad_tlv)));
        assert_eq!(found.client, None);
        // LOCAL with UNSPEC and bytes that are no TLV.
        let found = done(reader(ProxyProtocol::V2).feed(&v2(0, 0x00, &[], &[7, 7])));
        assert_eq!((found.client, found.used), (None, 18));
        // PROXY with UNSPEC: address information of no given length may be
        // present, so no TLV boundary is known.
        let found = done(reader(ProxyProtocol::V2).feed(&v2(1, 0x00, &[9; 12], &[7])));
        assert_eq!((found.client, found.used), (None, 29));
    }

    #[test]
    fn v1_unknown_ignores_everything_up_to_its_crlf() {
        let worst = b"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff \
                      ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
        assert_eq!(worst.len(), MAX_V1_BYTES);
        for line in [
            &b"PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n"[..],
            b"PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2 3\r\n",
            b"PROXY UNKNOWN a b c d e f g h i j\r\n",
            b"PROXY UNKNOWN unix:/run/lb.sock \xff\r\n",
            b"PROXY UNKNOWN  double  spaces\r\n",
            worst,
        ] {
            let what = line.escape_ascii().to_string();
            // Whole, with data after it.
            let mut read = line.to_vec();
            read.extend_from_slice(b"hello\n");
            let found = done(reader(ProxyProtocol::Any).feed(&read));
            assert_eq!((found.client, found.used), (None, line.len()), "{what}");
            // One byte at a time.
            let mut r = reader(ProxyProtocol::V1);
            let (last, head) = line.split_last().unwrap();
            for b in head {
                assert_eq!(r.feed(&[*b]), Verdict::NeedMore, "{what}");
            }
            assert_eq!(done(r.feed(&[*last])).used, 1, "{what}");
        }
    }

    #[test]
    fn v1_unknown_still_needs_its_crlf_within_the_limit() {
        // One byte over the worst case.
        let mut line = b"PROXY UNKNOWN ".to_vec();
        line.extend(std::iter::repeat_n(b'f', MAX_V1_BYTES - line.len() - 1));
        line.extend_from_slice(b"\r\n");
        assert_eq!(line.len(), MAX_V1_BYTES + 1);
        let why = invalid(reader(ProxyProtocol::Any).feed(&line));
        assert_eq!(
            why,
            "bad version 1 header: no \\r\\n in its first 107 bytes"
        );
        // Or arriving a byte at a time: refused at byte 107, not waited on.
        let mut r = reader(ProxyProtocol::V1);
        for b in &line[..MAX_V1_BYTES - 1] {
            assert_eq!(r.feed(&[*b]), Verdict::NeedMore);
        }
        invalid(r.feed(&line[MAX_V1_BYTES - 1..MAX_V1_BYTES]));
        // A bare `\n`.
        let why = invalid(reader(ProxyProtocol::Any).feed(b"PROXY UNKNOWN 1 2 3 4 5\n"));
        assert!(why.contains("bare \\n at byte 23"), "{why}");
        // `UNKNOWN` must be the whole word.
        let why = invalid(reader(ProxyProtocol::Any).feed(b"PROXY UNKNOWNS 1 2 3 4 5\r\n"));
        assert!(why.starts_with("bad version 1 header"), "{why}");
    }
}
