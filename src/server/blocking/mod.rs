//! The blocking way of serving, shared by the `serial`, `threads` and
//! `pool` modes: a thread serves one connection to its end, blocked in its
//! reads (`serve.rs`, waiting as `reader.rs` says for each system); anyone
//! may write its socket without waiting (`socket.rs`), and the flusher
//! thread drains what a socket did not take at once (`flusher.rs`). The modes differ only in which thread runs
//! [`serve`] and when (`modes/`).

mod flusher;
mod reader;
mod serve;
mod socket;

use std::io;
use std::sync::Arc;
use std::time::Instant;

use super::live::{Accepted, ServerState};
use super::outgoing::{Limits, Outgoing};
use crate::handler::ConnInfo;
use flusher::Flusher;
pub(crate) use serve::{refuse_busy, serve};
use socket::{ConnSocket, Socket};

/// What a blocking mode holds: the flusher its connections share.
pub(crate) struct Blocking {
    server: Arc<ServerState>,
    /// Stopped when the mode is dropped, once every connection has
    /// finished or been cut.
    flusher: Flusher,
    limits: Limits,
}

/// A connection taken on by a blocking mode, waiting for (or being served
/// by) its thread.
pub(crate) struct Conn {
    pub info: ConnInfo,
    pub out: Arc<Socket>,
    /// When it was taken from the backlog.
    pub accepted_at: Instant,
}

impl Blocking {
    /// Starts the flusher for `server`'s connections.
    pub fn start(server: &Arc<ServerState>) -> io::Result<Blocking> {
        Ok(Blocking {
            server: server.clone(),
            flusher: Flusher::start()?,
            limits: Limits::of(&server.config),
        })
    }

    /// Takes on an accepted connection: its socket gets its outgoing side,
    /// and shutdown can reach it from now on.
    pub fn adopt(&self, conn: Accepted) -> Conn {
        let Accepted {
            info,
            stream,
            accepted_at,
        } = conn;
        let socket = ConnSocket::new(stream, self.flusher.queue().clone());
        let out = Outgoing::new(info.id, self.limits, socket);
        self.server.conns.add(info.id, out.clone());
        Conn {
            info,
            out,
            accepted_at,
        }
    }
}
