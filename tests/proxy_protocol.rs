//! The PROXY protocol (`proxy_protocol`, issue 11) in every mode: a load
//! balancer's header is read before the handler sees anything, names the
//! real client to the handler and the logs, and a connection without a
//! good one is closed unserved with one log line and a count.
//!
//! Most tests run a server in this process per mode, the modes in
//! parallel threads; the log lines a user reads are checked through the
//! real binary. Headers are built by hand from the spec here, not with
//! the parser the server uses.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::client::Client;
use common::logs::{lines_with, logged, record_logs};
use common::process::Process;
use common::servers::{local_config, serve};
use tcpmodes::{
    Action, ConnInfo, Context, DisconnectReason, EchoHandler, Framing, Handler, Mode,
    ProxyProtocol, RunningServer,
};

// ------------------------------------------------------------- headers

/// The version 2 signature.
const SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

/// A version 1 header for `client`, to port 9999 of a server of the same
/// family.
fn v1(client: SocketAddr) -> Vec<u8> {
    let (family, server) = match client.ip() {
        IpAddr::V4(_) => ("TCP4", IpAddr::from(Ipv4Addr::new(10, 0, 0, 1))),
        IpAddr::V6(_) => ("TCP6", IpAddr::from(Ipv6Addr::LOCALHOST)),
    };
    format!(
        "PROXY {family} {} {server} {} 9999\r\n",
        client.ip(),
        client.port()
    )
    .into_bytes()
}

/// A version 2 `PROXY` header for `client`; `None` makes a `LOCAL` one (a
/// balancer's health check), with no addresses.
fn v2(client: Option<SocketAddr>) -> Vec<u8> {
    let mut h = SIGNATURE.to_vec();
    let mut body = Vec::new();
    match client {
        None => h.extend_from_slice(&[0x20, 0x00]),
        Some(SocketAddr::V4(a)) => {
            h.extend_from_slice(&[0x21, 0x11]);
            body.extend_from_slice(&a.ip().octets());
            body.extend_from_slice(&[10, 0, 0, 1]);
            body.extend_from_slice(&a.port().to_be_bytes());
            body.extend_from_slice(&9999u16.to_be_bytes());
        }
        Some(SocketAddr::V6(a)) => {
            h.extend_from_slice(&[0x21, 0x21]);
            body.extend_from_slice(&a.ip().octets());
            body.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
            body.extend_from_slice(&a.port().to_be_bytes());
            body.extend_from_slice(&9999u16.to_be_bytes());
        }
    }
    h.extend_from_slice(&(body.len() as u16).to_be_bytes());
    h.extend_from_slice(&body);
    h
}

/// [`v2`] for `client` with `tlvs` after its addresses, counted in its
/// length field as the spec says.
fn v2_with_tlvs(client: SocketAddr, tlvs: &[u8]) -> Vec<u8> {
    let mut h = v2(Some(client));
    h.extend_from_slice(tlvs);
    let length = (h.len() - 16) as u16;
    h[14..16].copy_from_slice(&length.to_be_bytes());
    h
}

/// A PP2_TYPE_NOOP TLV taking `total` bytes (3 or more): type, length
/// (2 bytes, big endian), value.
fn noop(total: usize) -> Vec<u8> {
    let mut t = vec![0x04];
    t.extend_from_slice(&((total - 3) as u16).to_be_bytes());
    t.resize(total, 0);
    t
}

/// A socket address written as text, for short tables of cases.
fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

// ------------------------------------------------------------- servers

/// Greets with who it believes it talks to (`Welcome PEER via BALANCER`,
/// `-` for none), echoes as the lesson's server, and records the info
/// `on_disconnect` is given.
struct WhoAmI {
    ended: Arc<Mutex<Vec<ConnInfo>>>,
}

impl Handler for WhoAmI {
    fn on_connect(&mut self, ctx: &mut Context<'_>) -> Action {
        let info = ctx.info();
        let via = info.balancer.map_or("-".to_string(), |b| b.to_string());
        ctx.reply(format!("Welcome {} via {via}", ctx.peer()));
        Action::Continue
    }

    fn on_message(&mut self, message: &[u8], ctx: &mut Context<'_>) -> Action {
        EchoHandler::default().on_message(message, ctx)
    }

    fn on_disconnect(&mut self, info: ConnInfo, _: &DisconnectReason) {
        self.ended.lock().unwrap().push(info);
    }
}

/// A [`WhoAmI`] server in `mode` expecting `accept` headers, with the
/// recording logger on; returns what its handlers' `on_disconnect` saw.
fn start(
    mode: Mode,
    accept: ProxyProtocol,
    read_timeout_ms: u64,
) -> (RunningServer, Arc<Mutex<Vec<ConnInfo>>>) {
    record_logs();
    let mut config = local_config(mode);
    config.proxy_protocol = accept;
    config.framing = Framing::Line;
    config.workers = 2;
    config.read_timeout_ms = read_timeout_ms;
    config.shutdown_timeout_ms = 2_000;
    let ended = Arc::new(Mutex::new(Vec::new()));
    let e = ended.clone();
    let server = serve(config, move || WhoAmI { ended: e.clone() });
    (server, ended)
}

/// Runs `test` for every mode at once, a thread each: the modes share
/// nothing, and the suite waits for the slowest, not for the sum. Each
/// looks only at the log lines logged since it started.
fn each_mode(test: impl Fn(Mode) + Sync) {
    thread::scope(|scope| {
        for mode in Mode::ALL {
            let test = &test;
            thread::Builder::new()
                .name(mode.name().into())
                .spawn_scoped(scope, move || {
                    common::logs::mark();
                    test(mode)
                })
                .unwrap();
        }
    });
}

/// The greeting a [`WhoAmI`] gives `client` when the header named `real`.
fn welcome(real: SocketAddr, client: &Client) -> String {
    format!("Welcome {real} via {}", client.local())
}

/// Whether `text` names `addr` itself, not an address it is the start of
/// (`127.0.0.1:4000` is not named by `127.0.0.1:40001`): the tests share
/// one logger, and other tests' clients have other ports.
fn names(text: &str, addr: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || ".:[]".contains(c)))
        .any(|word| word.trim_end_matches(['.', ':']) == addr)
}

/// Every line logged so far that names `addr`.
fn lines_naming(addr: &str) -> Vec<String> {
    lines_with(&[addr])
        .into_iter()
        .filter(|l| names(l, addr))
        .collect()
}

/// Asserts the server closes `client` without a byte: no greeting, so no
/// handler ran.
fn refused(client: &mut Client, what: &str, mode: Mode) {
    let got = client.expect_closed();
    assert!(
        got.is_empty(),
        "{mode}, {what}: the handler answered: {:?}",
        String::from_utf8_lossy(&got)
    );
}

// --------------------------------------------------------------- tests

/// A balancer reaching the server over IPv6 ([::1]), announcing an IPv4
/// client: the families of the socket and of the header are independent.
/// Skipped where [::1] cannot be bound.
#[test]
fn a_balancer_on_ipv6_in_every_mode() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: cannot bind [::1]");
        return;
    }
    each_mode(|mode| {
        record_logs();
        let mut config = local_config(mode).with_address("[::1]:0");
        config.proxy_protocol = ProxyProtocol::Any;
        config.framing = Framing::Line;
        config.workers = 2;
        let ended = Arc::new(Mutex::new(Vec::new()));
        let server = serve(config, move || WhoAmI {
            ended: ended.clone(),
        });
        let real = addr("203.0.113.70:7070");
        for header in [v1(real), v2(Some(real))] {
            let mut c = Client::connect_alone(server.local_addr(), Framing::Line);
            assert!(c.local().starts_with("[::1]:"), "{}", c.local());
            c.send_raw(&header);
            assert_eq!(c.recv_line(), welcome(real, &c), "{mode}");
            c.close();
        }
        let summary = server.stop();
        assert_eq!(summary.connections, 2, "{mode}: {summary}");
    });
}

/// Headers of both versions, for IPv4 and IPv6 clients, written together
/// with the first message: the handler sees the header's client as its
/// peer and the socket's address as the balancer, then gets the message
/// as data; `on_disconnect` gets the same info.
#[test]
fn headers_name_the_real_client_in_every_mode() {
    each_mode(|mode| {
        let (server, ended) = start(mode, ProxyProtocol::Any, 60_000);
        let cases = [
            ("v1 TCP4", v1(addr("203.0.113.7:51234"))),
            ("v1 TCP6", v1(addr("[2001:db8::7]:40000"))),
            ("v2 IPv4", v2(Some(addr("198.51.100.9:1111")))),
            ("v2 IPv6", v2(Some(addr("[2001:db8::9]:2222")))),
        ];
        let reals = [
            "203.0.113.7:51234",
            "[2001:db8::7]:40000",
            "198.51.100.9:1111",
            "[2001:db8::9]:2222",
        ];
        let mut balancers = Vec::new();
        for ((what, header), real) in cases.iter().zip(reals) {
            let mut c = Client::connect_alone(server.local_addr(), Framing::Line);
            let mut write = header.clone();
            write.extend_from_slice(b"hello\n");
            c.send_raw(&write);
            let want = welcome(addr(real), &c);
            assert_eq!(c.recv_line(), want, "{mode}, {what}");
            assert_eq!(c.recv_line(), "Received hello;", "{mode}, {what}");
            c.echo(b"again");
            c.send("exit");
            c.expect_closed();
            balancers.push(c.local());
        }
        let summary = server.stop();
        assert_eq!(summary.connections, 4, "{mode}: {summary}");
        assert_eq!(summary.bad_proxy_headers, 0, "{mode}: {summary}");
        let mut seen: Vec<(String, String)> = ended
            .lock()
            .unwrap()
            .iter()
            .map(|i| (i.peer.to_string(), i.balancer.unwrap().to_string()))
            .collect();
        seen.sort();
        let mut want: Vec<(String, String)> = reals
            .iter()
            .map(|r| addr(r).to_string())
            .zip(balancers)
            .collect();
        want.sort();
        assert_eq!(seen, want, "{mode}: on_disconnect's info");
    });
}

/// A header written one byte at a time, with pauses: nothing is handed
/// to the handler (no greeting) until its last byte, then the client is
/// served as if it had come at once.
#[test]
fn a_header_split_across_many_reads_in_every_mode() {
    each_mode(|mode| {
        let (server, _) = start(mode, ProxyProtocol::Any, 60_000);
        let real = addr("192.0.2.44:4444");
        for (what, header) in [("v1", v1(real)), ("v2", v2(Some(real)))] {
            let mut c = Client::connect_alone(server.local_addr(), Framing::Line);
            let (last, head) = header.split_last().unwrap();
            for (i, b) in head.iter().enumerate() {
                c.send_raw(&[*b]);
                if i % 4 == 0 {
                    thread::sleep(Duration::from_millis(2));
                }
            }
            assert!(c.waits(), "{mode}, {what}: greeted before the header's end");
            c.send_raw(&[*last]);
            assert_eq!(c.recv_line(), welcome(real, &c), "{mode}, {what}");
            c.echo(b"split");
            c.close();
        }
        let summary = server.stop();
        assert_eq!(summary.connections, 2, "{mode}: {summary}");
    });
}

/// Connections without a header the setting accepts are closed before any
/// handler runs, each with one warning naming the socket's address and
/// the problem, and counted; a good client is served after them.
#[test]
fn connections_without_a_good_header_are_refused_in_every_mode() {
    each_mode(|mode| {
        // read_timeout_ms far beyond PATIENCE: every close here is the
        // header's refusal, never a timeout.
        let (server, _) = start(mode, ProxyProtocol::V2, 600_000);
        let mut huge = SIGNATURE.to_vec();
        huge.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        let cases: [(&str, Vec<u8>, &str); 4] = [
            (
                "a plain message",
                b"hello\n".to_vec(),
                "no PROXY protocol header (proxy_protocol = v2); it starts with \"hello\\n\"",
            ),
            ("garbage", vec![0xff; 64], "no PROXY protocol header"),
            (
                "a v1 header to a v2 server",
                v1(addr("203.0.113.7:1")),
                "version 1 (text) header, but proxy_protocol = v2",
            ),
            // Only the 16 bytes up to the length are sent: the refusal
            // cannot wait for the 65,535 announced.
            (
                "a huge v2 length",
                huge,
                "announces 65551 bytes, over the 536 accepted",
            ),
        ];
        for (what, bytes, problem) in &cases {
            // The server closes a refused connection first, so the next
            // client may be given the same port: each case looks only at
            // what was logged since it began.
            common::logs::mark();
            let mut c = Client::connect_alone(server.local_addr(), Framing::Line);
            c.send_raw(bytes);
            refused(&mut c, what, mode);
            let from = format!("Refused connection from {}: ", c.local());
            let line = logged(&[&from, problem]);
            assert!(line.starts_with("WARN"), "{mode}, {what}: {line}");
            assert_eq!(
                lines_naming(&c.local()),
                vec![line],
                "{mode}, {what}: one line"
            );
        }
        let real = addr("203.0.113.8:8");
        let mut good = Client::connect_alone(server.local_addr(), Framing::Line);
        good.send_raw(&v2(Some(real)));
        assert_eq!(good.recv_line(), welcome(real, &good), "{mode}");
        good.close();
        let summary = server.stop();
        assert_eq!(summary.bad_proxy_headers, 4, "{mode}: {summary}");
        assert_eq!(summary.connections, 1, "{mode}: {summary}");
        assert_eq!(summary.errors, 0, "{mode}: {summary}");
        assert!(
            summary.to_string().contains("4 bad PROXY headers"),
            "{mode}: {summary}"
        );

        // And the other way round.
        let (server, _) = start(mode, ProxyProtocol::V1, 600_000);
        let mut c = Client::connect_alone(server.local_addr(), Framing::Line);
        c.send_raw(&v2(Some(real)));
        refused(&mut c, "a v2 header to a v1 server", mode);
        logged(&[
            &format!("Refused connection from {}: ", c.local()),
            "version 2 (binary) header, but proxy_protocol = v1",
        ]);
        let summary = server.stop();
        assert_eq!(summary.bad_proxy_headers, 1, "{mode}: {summary}");
        assert_eq!(summary.connections, 0, "{mode}: {summary}");
    });
}

/// A version 2 header whose TLVs do not fit it (one announcing more bytes
/// than the header has left, or 2 bytes left over where a TLV's type and
/// length take 3), written with a message after it, is refused as HAProxy
/// refuses it: closed with no greeting, so no handler ran, one warning
/// naming the problem, counted. A good client is served after them.
#[test]
fn v2_headers_with_tlvs_that_do_not_fit_are_refused_in_every_mode() {
    each_mode(|mode| {
        let (server, ended) = start(mode, ProxyProtocol::Any, 600_000);
        // The modes run at once and share the logger, and two clients of
        // different servers may share a local port: each mode's headers
        // carry numbers of their own, which the warnings repeat.
        let nth = Mode::ALL.iter().position(|m| *m == mode).unwrap();
        let real = addr("198.51.100.77:7777");
        // Past the end: ALPN announcing 40,00N bytes, with 2 present.
        let announced = 40_000 + nth;
        let mut alpn = vec![0x01];
        alpn.extend_from_slice(&(announced as u16).to_be_bytes());
        alpn.extend_from_slice(b"h2");
        let overrun = v2_with_tlvs(real, &alpn);
        // Too few for a TLV: a NOOP of 10 + N bytes, then 2 bytes; the
        // 2 start after the 16-byte head, 12 bytes of IPv4 addresses and it.
        let pad = 10 + nth;
        let left_at = 16 + 12 + pad;
        let truncated = v2_with_tlvs(real, &[noop(pad), vec![0x04, 0x00]].concat());
        let cases = [
            (
                "a TLV past the header's end",
                overrun.clone(),
                format!(
                    "bad version 2 header: its TLV at byte 28 (type 0x01) announces \
                     {announced} bytes, past the header's end at byte {}.",
                    overrun.len()
                ),
            ),
            (
                "too few bytes left for a TLV",
                truncated,
                format!(
                    "bad version 2 header: its last 2 bytes, from byte {left_at}, are too few \
                     for a TLV (a type and a length take 3)."
                ),
            ),
        ];
        for (what, header, reason) in &cases {
            let mut c = Client::connect_alone(server.local_addr(), Framing::Line);
            let mut write = header.clone();
            write.extend_from_slice(b"hello\n");
            c.send_raw(&write);
            refused(&mut c, what, mode);
            let line = format!("WARN: Refused connection from {}: {reason}", c.local());
            assert_eq!(logged(&[&line]), line, "{mode}, {what}");
            assert_eq!(lines_with(&[&line]).len(), 1, "{mode}, {what}: one line");
        }
        let mut good = Client::connect_alone(server.local_addr(), Framing::Line);
        good.send_raw(&v2_with_tlvs(real, &noop(3)));
        assert_eq!(good.recv_line(), welcome(real, &good), "{mode}");
        good.echo(b"after");
        let good_addr = good.local();
        good.close();
        let summary = server.stop();
        assert_eq!(summary.bad_proxy_headers, 2, "{mode}: {summary}");
        assert_eq!(summary.connections, 1, "{mode}: {summary}");
        assert_eq!(summary.errors, 0, "{mode}: {summary}");
        // Only the good client reached a handler.
        let ended = ended.lock().unwrap();
        let balancers: Vec<String> = ended
            .iter()
            .map(|i| i.balancer.map_or("-".into(), |b| b.to_string()))
            .collect();
        assert_eq!(balancers, vec![good_addr], "{mode}");
    });
}

/// A version 1 `UNKNOWN` line with anything after the word up to its
/// `\r\n` (the spec says to ignore it), up to the spec's worst case of
/// 107 bytes, is served as the socket's own: greeted as itself with no
/// balancer, its data echoed, nothing counted as a bad header.
#[test]
fn long_unknown_lines_are_served_as_the_socket_in_every_mode() {
    let worst = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff \
                 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    assert_eq!(worst.len(), 107);
    let lines = [
        "PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2 3\r\n",
        "PROXY UNKNOWN unix:/run/lb.sock 1 2 3 4 5 6\r\n",
        worst,
    ];
    each_mode(|mode| {
        let (server, ended) = start(mode, ProxyProtocol::V1, 60_000);
        let mut clients = Vec::new();
        for line in lines {
            let mut c = Client::connect_alone(server.local_addr(), Framing::Line);
            // With the first message in the same write, as a balancer
            // forwarding a client at once.
            c.send_raw(format!("{line}hi\n").as_bytes());
            let want = format!("Welcome {} via -", c.local());
            assert_eq!(c.recv_line(), want, "{mode}, {line:?}");
            assert_eq!(c.recv_line(), "Received hi;", "{mode}, {line:?}");
            c.echo(b"again");
            clients.push(c.local());
            c.close();
        }
        let summary = server.stop();
        assert_eq!(summary.connections, lines.len() as u64, "{mode}: {summary}");
        assert_eq!(summary.bad_proxy_headers, 0, "{mode}: {summary}");
        let ended = ended.lock().unwrap();
        let mut seen: Vec<(String, Option<SocketAddr>)> = ended
            .iter()
            .map(|i| (i.peer.to_string(), i.balancer))
            .collect();
        seen.sort();
        clients.sort();
        let want: Vec<(String, Option<SocketAddr>)> =
            clients.into_iter().map(|c| (c, None)).collect();
        assert_eq!(seen, want, "{mode}: on_disconnect's info");
    });
}

/// Half a header, then silence: cut at `read_timeout_ms` like any
/// slowloris, counted as a timeout (not a bad header), never greeted.
#[test]
fn half_a_header_then_silence_is_cut_at_the_read_timeout_in_every_mode() {
    each_mode(|mode| {
        let (server, _) = start(mode, ProxyProtocol::Any, 400);
        let mut c = Client::connect_alone(server.local_addr(), Framing::Line);
        let started = Instant::now();
        c.send_raw(b"PROXY TCP4 203.0.");
        refused(&mut c, "half a header", mode);
        let took = started.elapsed();
        // Generous: only that it waited at all, and ended within PATIENCE.
        assert!(
            took >= Duration::from_millis(200),
            "{mode}: cut after {took:?}"
        );
        logged(&[&format!(
            "Connection from {} closed: timeout: no complete PROXY protocol header in 400 ms",
            c.local()
        )]);
        let summary = server.stop();
        assert_eq!(summary.timeouts, 1, "{mode}: {summary}");
        assert_eq!(summary.bad_proxy_headers, 0, "{mode}: {summary}");
        assert_eq!(summary.connections, 0, "{mode}: {summary}");
    });
}

/// HAProxy's health checks: `send-proxy-v2` with `check-send-proxy` sends a
/// v2 `LOCAL` header and closes at once; a plain TCP check connects and
/// closes. The first is served as the socket's own (balancer `None`), the
/// second closes quietly; neither logs a warning or is a bad header. A v1
/// `UNKNOWN` is served as the socket's own too.
#[test]
fn health_checks_are_served_quietly_in_every_mode() {
    each_mode(|mode| {
        let (server, ended) = start(mode, ProxyProtocol::Any, 60_000);
        let mut local = Client::connect_alone(server.local_addr(), Framing::Line);
        local.send_raw(&v2(None));
        assert_eq!(
            local.recv_line(),
            format!("Welcome {} via -", local.local()),
            "{mode}"
        );
        let local_addr = local.local();
        local.close();
        // As HAProxy checks: the header, then the close, reading nothing.
        let mut check = Client::connect_alone(server.local_addr(), Framing::Line);
        check.send_raw(&v2(None));
        let check_addr = check.local();
        check.close();
        logged(&[&format!("Connection from {check_addr} closed")]);
        let mut unknown = Client::connect_alone(server.local_addr(), Framing::Line);
        unknown.send_raw(b"PROXY UNKNOWN\r\nhi\n");
        assert_eq!(
            unknown.recv_line(),
            format!("Welcome {} via -", unknown.local()),
            "{mode}"
        );
        assert_eq!(unknown.recv_line(), "Received hi;", "{mode}");
        unknown.close();
        let plain = Client::connect_alone(server.local_addr(), Framing::Line);
        let plain_addr = plain.local();
        plain.close();
        logged(&[&format!(
            "Connection from {plain_addr} closed before sending its PROXY protocol header."
        )]);
        let summary = server.stop();
        assert_eq!(summary.connections, 3, "{mode}: {summary}");
        assert_eq!(summary.bad_proxy_headers, 0, "{mode}: {summary}");
        for who in [&local_addr, &check_addr, &plain_addr] {
            let loud: Vec<String> = lines_naming(who)
                .into_iter()
                .filter(|l| !l.starts_with("INFO"))
                .collect();
            assert!(loud.is_empty(), "{mode}: {loud:?}");
        }
        let ended = ended.lock().unwrap();
        assert!(
            ended
                .iter()
                .any(|i| i.peer.to_string() == local_addr && i.balancer.is_none()),
            "{mode}: {ended:?}"
        );
    });
}

/// Through the real binary: the log names the header's client, never the
/// balancer's port, from `Accept new connection` to the close; a client
/// without a header gets one warning naming its address, and the summary
/// counts it.
#[test]
fn the_binary_logs_the_real_client_in_every_mode() {
    each_mode(|mode| {
        let server = Process::bin(&[
            "--addr",
            "127.0.0.1:0",
            "--mode",
            mode.name(),
            "--workers",
            "2",
            "--framing",
            "line",
            "--proxy-protocol",
            "v1",
        ]);
        let mut c = server.connect(Framing::Line);
        let balancer = c.local();
        let mut write = v1(addr("203.0.113.7:51234"));
        write.extend_from_slice(b"hello\n");
        c.send_raw(&write);
        c.expect(b"Welcome!");
        c.expect(b"Received hello;");
        c.send("exit");
        c.expect_closed();
        assert!(
            server.stderr_shows("Connection from 203.0.113.7:51234 closed."),
            "{mode}"
        );
        let mut direct = server.connect(Framing::Line);
        direct.send("hello");
        refused(&mut direct, "no header", mode);
        let warning = format!(
            "Refused connection from {}: no PROXY protocol header (proxy_protocol = v1)",
            direct.local()
        );
        assert!(server.stderr_shows(&warning), "{mode}");
        let Some(exit) = server.stop_checked() else {
            return;
        };
        assert!(
            exit.stderr
                .contains("Accept new connection from 203.0.113.7:51234..."),
            "{mode}: {}",
            exit.stderr
        );
        assert!(
            !names(&exit.stderr, &balancer),
            "{mode}: the balancer's address {balancer} was logged: {}",
            exit.stderr
        );
        let direct_lines = exit
            .stderr
            .lines()
            .filter(|l| names(l, &direct.local()))
            .count();
        assert_eq!(direct_lines, 1, "{mode}: {}", exit.stderr);
        assert!(
            exit.stdout.contains("Served 1 connection,")
                && exit.stdout.contains(", 1 bad PROXY headers"),
            "{mode}: {}",
            exit.stdout
        );
    });
}

/// Off (the default), a header is no header: it reaches the handler as
/// data, as any client's bytes would, and the summary says nothing of it.
#[test]
fn off_hands_a_header_to_the_handler_as_data() {
    record_logs();
    let config = local_config(Mode::Threads).with_framing(Framing::Line);
    let server = serve(config, EchoHandler::default);
    let mut c = Client::greeted(server.local_addr(), Framing::Line);
    c.send_raw(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
    c.expect(b"Received PROXY TCP4 1.2.3.4 5.6.7.8 1 2;");
    c.close();
    let summary = server.stop();
    assert_eq!(summary.bad_proxy_headers, 0);
    assert!(!summary.to_string().contains("PROXY"), "{summary}");
}
