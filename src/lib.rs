//! tcpmodes: one protocol handler, several ways to serve many clients.
//!
//! A classroom lesson writes a TCP server that greets each client, answers
//! every message and closes on `exit`, serving one client at a time, and
//! then moves to a thread per client. This crate is that lesson as a
//! framework:
//!
//! - a [`Handler`] holds the protocol logic and never sees a socket;
//! - a [`Mode`] decides how connections are served: `serial` (one at a time),
//!   `threads` (a thread each), `pool` (a fixed rayon pool), `event` (event
//!   loops that run the handler themselves) or `event-workers` (event loops
//!   for the sockets, a pool for the handler calls), on the same handler;
//! - [`Config`] holds every setting, read from TOML and overridden by flags,
//!   or built in code (`Config::default().with_framing(Framing::Line)`);
//! - [`Shutdown`] stops a server gracefully: nothing received goes unanswered;
//! - [`Group`] lets a handler reach other clients (a chat room);
//! - a [`Codec`] says where a message ends: the built-ins ([`Framing`])
//!   or a protocol's own ([`Config::with_codec`]);
//! - [`Program`] turns a handler into a whole program, with `bench` and
//!   `compare` subcommands ([`mod@bench`] measures the modes).
//!
//! # Starting a program
//!
//! Two ways, for two needs: [`run_cli`]`(factory)` is one line of `main`
//! with the lesson's defaults; [`Program`] names the program in its
//! `--help` and sets its defaults (its framing or codec). A server inside
//! your own program is [`Server::bind`], with no command line at all.
//! ([`run_builtin`] is the `tcpmodes` program itself.)
//!
//! # Layout
//!
//! Each source file holds one concept; lower files never import higher ones.
//!
//! | file | what it holds |
//! |---|---|
//! | `handler.rs` | [`Handler`], [`Context`], [`Action`], [`ConnInfo`], [`DisconnectReason`] |
//! | `codec/` | [`Codec`]: where one message ends and the next begins; the built-ins [`RawCodec`], [`LineCodec`], [`LengthCodec`], [`HttpCodec`], named by [`Framing`]; the framework's reader that holds any codec to `max_message_bytes` |
//! | `sender.rs`, `group.rs` | [`Sender`], [`Group`]: reaching a connection from elsewhere |
//! | `session.rs` | [`Session`]: one connection's protocol without I/O (tests feed it bytes) |
//! | `echo.rs` | [`EchoHandler`]: the lesson's protocol |
//! | `mode.rs`, `proxy_protocol.rs`, `config.rs`, `settings.rs` | [`Mode`], [`ProxyProtocol`], [`Config`]: every setting of a server, declared once |
//! | `program/` | what a program adds to a server's settings: `processes` (the runner's), `handler` and `delay_ms` (the `tcpmodes` program's echo) |
//! | `error.rs`, `shutdown.rs` | [`Error`], [`ConfigError`], [`Shutdown`] |
//! | `server/` | [`Server`]: listener, accept loop, live connections, the PROXY protocol header read before a handler exists, stats, and each connection's outgoing side (`outgoing/`: the queue, back-pressure on whoever sends, the cut of a client that stops reading) |
//! | `server/blocking/`, `server/event/` | the two ways of serving a connection: a thread blocked in its reads (with the flusher thread), or event loops on non-blocking sockets |
//! | `server/modes/` | serial, threads, pool, event, event-workers: when to accept, and who serves |
//! | `cli/` | [`run_cli`]: flags over the file over the defaults (feature `cli`); `supervisor.rs` and `child.rs`: the processes of `processes = N` |
//! | `bench/` | the load generator, reports and `compare` (feature `bench`) |
//!
//! # Features
//!
//! `cli` and `bench` are on by default. Without default features the crate
//! is a server library only: no clap, no plotting, no terminal crates.
//! `signals` adds [`Shutdown::trigger_on_signals`] (Ctrl+C, SIGTERM).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "bench")]
pub mod bench;
mod call_log;
#[cfg(feature = "cli")]
mod cli;
mod codec;
mod config;
mod echo;
mod error;
mod group;
mod handler;
mod mode;
mod names;
mod program;
mod proxy_protocol;
mod sender;
mod server;
mod session;
mod settings;
mod shutdown;

#[cfg(feature = "cli")]
#[allow(deprecated)]
pub use cli::run_cli_with;
#[cfg(feature = "cli")]
pub use cli::{Program, run_builtin, run_cli};
pub use codec::{Codec, Frame, FrameError, Framing, HttpCodec, LengthCodec, LineCodec, RawCodec};
pub use config::Config;
pub use echo::EchoHandler;
pub use error::{ConfigError, Error};
pub use group::Group;
pub use handler::{Action, ConnInfo, Context, DisconnectReason, Handler};
pub use mode::Mode;
pub use proxy_protocol::ProxyProtocol;
pub use sender::{SendError, Sender};
pub use server::{RunningServer, Server, Summary};
pub use session::{Session, Step};
pub use shutdown::Shutdown;

/// The README's Rust snippets, compiled as doc tests so one that stops
/// compiling fails `cargo test`.
#[cfg(all(doctest, feature = "cli"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The same for the Chinese README.
#[cfg(all(doctest, feature = "cli"))]
#[doc = include_str!("../README.zh-CN.md")]
pub struct ReadmeZhDoctests;
