//! A minimal HTTP/1.1 server: every GET answers `200 OK` with
//! `Hello, world!`, on keep-alive connections, so real HTTP tools load it.
//!
//! ```text
//! cargo run --release --example http_hello -- --mode threads --addr 127.0.0.1:8080
//! curl -v http://127.0.0.1:8080/
//! wrk -t2 -c50 -d5s http://127.0.0.1:8080/
//! ab -k -n 10000 -c 10 http://127.0.0.1:8080/
//! ```
//!
//! The `http` framing (the default here, `HttpCodec`) hands the handler one
//! whole request at a time: its head up to the empty line, plus the body
//! its `Content-Length` announces. A request whose length cannot be
//! trusted (`Content-Length: -1`, two that differ, a chunked body) never
//! reaches `on_message`: the codec refuses it, and `on_frame_error` answers
//! 400, 413 or 501 before the connection closes, as RFC 9112 asks. The
//! handler parses the request with `httparse` (the parser under hyper) and
//! answers. Keep-alive follows the rules of RFC 9112:
//! HTTP/1.1 keeps the connection unless the client sends `Connection: close`;
//! HTTP/1.0 closes it unless the client sends `Connection: keep-alive` (as
//! `ab -k` does). Closing is just returning [`Action::Close`] after the
//! reply. Requests pipelined in one read are answered in order.
//!
//! What the modes do to it: a browser, `wrk` or `ab -k` keeps each connection
//! open between requests, so a connection holds whatever serves it. In
//! `serial` mode the first keep-alive client has the server to itself and
//! the others wait, connected but unanswered, until it leaves; in `pool` mode
//! `--workers` clients are served and the others wait; `threads` serves all.
//! Beware of load tools' headlines here: `wrk -c50` against serial mode
//! reports a high requests/s and no errors, yet all of it came from one of
//! its 50 connections (wrk counts answered requests; a connection never
//! answered is not an error to it). Without keep-alive (`ab` without `-k`)
//! every request is a new connection and all modes answer everyone.

use std::process::ExitCode;
use std::time::SystemTime;

use tcpmodes::{Action, Config, Context, FrameError, Framing, Handler, Program};

const BODY: &str = "Hello, world!\n";

/// Most headers a request may have; more is answered `431`.
const MAX_HEADERS: usize = 64;

/// Holds nothing between requests: HTTP is stateless.
#[derive(Default)]
struct Hello;

impl Handler for Hello {
    fn on_message(&mut self, request: &[u8], ctx: &mut Context<'_>) -> Action {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        let parsed = req.parse(request);
        let (status, keep_alive) = match parsed {
            Ok(httparse::Status::Complete(_)) => {
                let header = |name: &str| {
                    req.headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase())
                };
                let connection = header("connection").unwrap_or_default();
                let has = |token: &str| connection.split(',').any(|t| t.trim() == token);
                let keep_alive = match req.version {
                    Some(1) => !has("close"),
                    _ => has("keep-alive"),
                };
                if matches!(req.method, Some("GET" | "HEAD")) {
                    ("200 OK", keep_alive)
                } else {
                    ("405 Method Not Allowed", keep_alive)
                }
            }
            Err(httparse::Error::TooManyHeaders) => ("431 Request Header Fields Too Large", false),
            // The framing gives whole heads, so `Partial` means a malformed one.
            Ok(httparse::Status::Partial) | Err(_) => ("400 Bad Request", false),
        };
        respond(ctx, status, keep_alive, req.method == Some("HEAD"));
        if keep_alive {
            Action::Continue
        } else {
            Action::Close
        }
    }

    /// The codec refused the request: the connection closes after this.
    fn on_frame_error(&mut self, error: &FrameError, ctx: &mut Context<'_>) {
        let status = match error {
            FrameError::TooLarge { .. } => "413 Content Too Large",
            FrameError::Unsupported(_) => "501 Not Implemented",
            _ => "400 Bad Request",
        };
        respond(ctx, status, false, false);
    }
}

/// Replies `status`, with the greeting as body when it is `200 OK`.
fn respond(ctx: &mut Context<'_>, status: &str, keep_alive: bool, head_only: bool) {
    let body = if status.starts_with("200") {
        BODY
    } else {
        &format!("{status}\n")
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nDate: {}\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: {}\r\n",
        httpdate::fmt_http_date(SystemTime::now()),
        body.len(),
        if keep_alive { "keep-alive" } else { "close" },
    );
    if status.starts_with("405") {
        response.push_str("Allow: GET, HEAD\r\n");
    }
    response.push_str("\r\n");
    if !head_only {
        response.push_str(body);
    }
    ctx.reply(response);
}

fn main() -> ExitCode {
    Program::new("http_hello")
        .about("A minimal HTTP/1.1 server: every GET answers Hello, world!")
        .version(env!("CARGO_PKG_VERSION"))
        .defaults(Config::default().with_framing(Framing::Http))
        .run(Hello::default)
}
