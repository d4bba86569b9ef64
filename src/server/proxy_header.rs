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
//! The header itself is parsed by the `ppp` crate. What no crate does is
//! the streaming around it, written here: which version the first byte
//! announces (so the `proxy_protocol` setting can be enforced with a clear
//! reason), how many bytes are worth waiting for, and taking only the
//! header's bytes of a read that carries data after it.

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
/// a longer line itself.
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
        let header = v2(1, 0x11, &[0; 12], &vec![0; MAX_V2_BYTES - 28]);
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
        let mut read = v2(1, 0x11, &[0; 12], &[0; 480]);
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
}
