//! `serial`: the lesson's first server.
//!
//! The accepting thread serves each connection itself, to the end, before it
//! accepts the next. A second client is already connected (the kernel
//! accepted it into the backlog) but gets no `Welcome!` until the first one
//! leaves: the wait the lesson asks its class to notice.

use std::sync::Arc;

use super::Driver;
use crate::server::blocking::{Blocking, serve};
use crate::server::live::{Accepted, ServerState};

pub(crate) struct Serial {
    server: Arc<ServerState>,
    blocking: Blocking,
}

impl Serial {
    pub fn new(server: &Arc<ServerState>) -> std::io::Result<Serial> {
        Ok(Serial {
            server: server.clone(),
            blocking: Blocking::start(server)?,
        })
    }
}

impl Driver for Serial {
    fn dispatch(&mut self, conn: Accepted) {
        serve(&self.server, self.blocking.adopt(conn));
    }
}

/// How this mode describes itself in the start-up line: its name and the
/// settings that shape it.
pub(super) fn describe(_config: &crate::config::Config) -> String {
    String::from("mode serial")
}
