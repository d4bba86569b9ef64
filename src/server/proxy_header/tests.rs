//! The PROXY header reader fed bytes: both versions, split reads, refusals,
//! TLVs, the bounds on what it keeps.

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
    let found = done(reader(ProxyProtocol::V1).feed(b"PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n"));
    assert_eq!(found.client, Some("1.2.3.4:1111".parse().unwrap()));
    assert_eq!(found.used, 38);
    let found = done(reader(ProxyProtocol::Any).feed(b"PROXY TCP6 2001:db8::1 ::1 40000 80\r\n"));
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
