//! tcpmodes: one protocol handler, several ways to serve many clients.
//!
//! A classroom lesson writes a TCP server that greets each client, answers
//! every message and closes on `exit`, serving one client at a time, and
//! then moves to a thread per client. This crate is that lesson as a
//! framework:
//!
//! - a [`Handler`] holds the protocol logic and never sees a socket;
//! - a [`Mode`] decides how connections are served: `serial` (one at a time),
//!   `threads` (a thread each) or `pool` (a fixed rayon pool), on the same
//!   handler;
//! - [`Config`] holds every setting, read from TOML and overridden by flags;
//! - [`Shutdown`] stops a server gracefully: nothing received goes unanswered;
//! - [`Group`] lets a handler reach other clients (a chat room);
//! - [`mod@bench`] measures the modes against each other (`bench` and
//!   `compare`).
//!
//! Source files are laid out one concept each; the module list below is the
//! architecture.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "bench")]
pub mod bench;
pub mod cli;
pub mod config;
mod connection;
pub mod echo;
pub mod error;
pub mod framing;
pub mod group;
pub mod handler;
mod listener;
pub mod modes;
mod names;
pub mod sender;
pub mod server;
pub mod session;
pub mod shutdown;
pub mod stats;

pub use cli::{run_builtin, run_cli, run_cli_with};
pub use config::{Config, ConfigError};
pub use echo::EchoHandler;
pub use error::Error;
pub use framing::{Decoder, FrameError, Framing};
pub use group::Group;
pub use handler::{Action, ConnInfo, Context, DisconnectReason, Handler};
pub use modes::Mode;
pub use sender::{Outbox, SendError, Sender};
pub use server::{RunningServer, Server, ServerBuilder};
pub use session::{MemoryOutbox, Session, Step};
pub use shutdown::Shutdown;
pub use stats::Summary;
