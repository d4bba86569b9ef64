//! `examples/http_hello.rs` against real HTTP clients (Python's
//! `http.client`, curl when installed) in every mode, and against raw
//! requests for the keep-alive rules, pipelining and bad input.

mod common;

use std::process::Command;

use common::have;
use common::process::{Process, run_to_exit};
use tcpmodes::{Framing, Mode};

/// One keep-alive connection: 3 GETs, a HEAD, a POST (405, body skipped
/// correctly), then a GET with `Connection: close`.
const PYTHON_CLIENT: &str = r#"
import http.client, sys
c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=20)
for i in range(3):
    c.request("GET", "/path%d?q=%d" % (i, i))
    r = c.getresponse()
    body = r.read()
    assert r.status == 200 and r.reason == "OK", (r.status, r.reason)
    assert body == b"Hello, world!\n", body
    assert r.getheader("Connection") == "keep-alive", r.getheader("Connection")
    assert r.getheader("Content-Type") == "text/plain; charset=utf-8"
    assert r.getheader("Date").endswith(" GMT")
    assert not r.will_close
c.request("HEAD", "/")
r = c.getresponse()
assert r.status == 200 and r.read() == b"" and r.getheader("Content-Length") == "14"
c.request("POST", "/form", body=b"GET / HTTP/1.1\r\n\r\n" * 50)
r = c.getresponse()
assert r.status == 405 and r.getheader("Allow") == "GET, HEAD", r.status
r.read()
c.request("GET", "/", headers={"Connection": "close"})
r = c.getresponse()
assert r.status == 200 and r.read() == b"Hello, world!\n" and r.will_close
print("python ok")
"#;

#[test]
fn python_http_client_keeps_one_connection_alive_in_every_mode() {
    if !have(common::PYTHON) {
        return;
    }
    for mode in Mode::ALL {
        let server = Process::example("http_hello", &["--mode", mode.name(), "--workers", "2"]);
        assert!(server.banner.contains("framing http"), "{}", server.banner);
        let mut python = Command::new(common::PYTHON);
        python
            .args(["-c", PYTHON_CLIENT, "127.0.0.1"])
            .arg(server.addr.port().to_string());
        let out = run_to_exit(python);
        assert_eq!(out.code, Some(0), "{mode}: {}", out.stderr);
        assert_eq!(out.stdout, "python ok\n");
        let Some(stopped) = server.stop_checked() else {
            continue;
        };
        // Six requests over one connection: keep-alive worked.
        assert!(
            stopped.stdout.contains("Served 1 connection, 6 messages"),
            "{mode}: {}",
            stopped.stdout
        );
    }
}

#[test]
fn curl_fetches_twice_over_one_connection() {
    if !have("curl") {
        return;
    }
    let server = Process::example("http_hello", &["--mode", Mode::Threads.name()]);
    let url = format!("http://{}/", server.addr);
    let mut curl = Command::new("curl");
    curl.args(["-sS", "--max-time", "20", &url, &url]);
    let out = run_to_exit(curl);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "Hello, world!\nHello, world!\n");
    let Some(stopped) = server.stop_checked() else {
        return;
    };
    assert!(
        stopped.stdout.contains("Served 1 connection, 2 messages"),
        "{}",
        stopped.stdout
    );
}

/// Request smuggling: a body length two servers could read two ways. Each
/// case carries a second request in what a proxy may take for its body;
/// it must get one refusal and never a second answer, in every mode
/// (RFC 9112 §6.3). Each was once read as "no body", and the smuggled
/// request answered.
#[test]
fn an_ambiguous_body_length_gets_one_refusal_and_no_second_answer_in_every_mode() {
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let cases = [
        (
            "Content-Length: 18446744073709551615",
            "413 Content Too Large",
        ),
        (
            "Content-Length: 18446744073709551616",
            "413 Content Too Large",
        ),
        ("Content-Length: -1", "400 Bad Request"),
        ("Content-Length: 26, 0", "400 Bad Request"),
        ("Content-Length: 0\r\nContent-Length: 37", "400 Bad Request"),
        (
            "Content-Length: 37\r\nTransfer-Encoding: chunked",
            "400 Bad Request",
        ),
        ("Transfer-Encoding: chunked", "501 Not Implemented"),
    ];
    for mode in Mode::ALL {
        let server = Process::example("http_hello", &["--mode", mode.name()]);
        for (fields, status) in cases {
            let request = format!("POST / HTTP/1.1\r\nHost: x\r\n{fields}\r\n\r\n{smuggled}");
            let r = exchange(&server, request.as_bytes());
            assert_eq!(
                statuses(&r),
                [format!("HTTP/1.1 {status}")],
                "{mode}, {fields:?}: {r}"
            );
        }
        let Some(stopped) = server.stop_checked() else {
            continue;
        };
        assert!(
            stopped.stderr.contains("Content-Length is not a number"),
            "{mode}: the refusal is logged: {}",
            stopped.stderr
        );
    }
}

/// Sends `request` on a new connection and reads until the server closes.
fn exchange(server: &Process, request: &[u8]) -> String {
    let mut c = server.connect(Framing::Http);
    c.send_raw(request);
    c.recv_to_end()
}

fn statuses(responses: &str) -> Vec<&str> {
    // Split on \n alone: a body ends in a bare \n, before the next status.
    responses
        .split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| l.starts_with("HTTP/1.1 "))
        .collect()
}

#[test]
fn keep_alive_rules_pipelining_and_bad_requests() {
    let server = Process::example(
        "http_hello",
        &[
            "--mode",
            Mode::Threads.name(),
            "--max-message-bytes",
            "4096",
        ],
    );

    // HTTP/1.0 closes by default...
    let r = exchange(&server, b"GET / HTTP/1.0\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    assert!(r.contains("\r\nConnection: close\r\n"), "{r}");
    assert!(r.ends_with("\r\n\r\nHello, world!\n"), "{r}");
    // ...and keeps the connection when asked (ab -k); bare \n heads work.
    let r = exchange(
        &server,
        b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET / HTTP/1.0\n\n",
    );
    assert_eq!(statuses(&r), ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK"], "{r}");
    assert!(r.contains("Connection: keep-alive") && r.ends_with("Hello, world!\n"));

    // Pipelined HTTP/1.1 requests in one write, answered in order; a body
    // that looks like a request is a body, not a request.
    let r = exchange(
        &server,
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n\
          POST / HTTP/1.1\r\nContent-Length: 18\r\n\r\nGET / HTTP/1.1\r\n\r\n\
          GET /c HTTP/1.1\r\nConnection: close\r\n\r\n\
          GET /never HTTP/1.1\r\n\r\n",
    );
    assert_eq!(
        statuses(&r),
        [
            "HTTP/1.1 200 OK",
            "HTTP/1.1 405 Method Not Allowed",
            "HTTP/1.1 200 OK"
        ],
        "{r}"
    );

    // Bad input: one clear status, then the connection closes.
    let r = exchange(&server, b"hello there\r\n\r\n");
    assert_eq!(statuses(&r), ["HTTP/1.1 400 Bad Request"], "{r}");
    let r = exchange(
        &server,
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    assert_eq!(statuses(&r), ["HTTP/1.1 501 Not Implemented"], "{r}");
    let r = exchange(&server, b"POST / HTTP/1.1\r\nContent-Length: ten\r\n\r\n");
    assert_eq!(statuses(&r), ["HTTP/1.1 400 Bad Request"], "{r}");
    // A body over --max-message-bytes: refused without reading it.
    let r = exchange(&server, b"POST / HTTP/1.1\r\nContent-Length: 99999\r\n\r\n");
    assert_eq!(statuses(&r), ["HTTP/1.1 413 Content Too Large"], "{r}");

    // The server is still fine.
    let r = exchange(&server, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!(statuses(&r), ["HTTP/1.1 200 OK"]);
    let Some(stopped) = server.stop_checked() else {
        return;
    };
    assert!(
        stopped.stderr.contains("over max_message_bytes"),
        "{}",
        stopped.stderr
    );
}
