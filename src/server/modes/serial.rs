//! `serial`: the lesson's first server.
//!
//! The accepting thread serves each connection itself, to the end, before it
//! accepts the next. A second client is already connected (the kernel
//! accepted it into the backlog) but gets no `Welcome!` until the first one
//! leaves: the wait the lesson asks its class to notice.

use std::sync::Arc;

use super::Driver;
use crate::server::connection::serve;
use crate::server::live::{Accepted, ServerState};

pub(crate) struct Serial {
    server: Arc<ServerState>,
}

impl Serial {
    pub fn new(server: &Arc<ServerState>) -> Serial {
        Serial {
            server: server.clone(),
        }
    }
}

impl Driver for Serial {
    fn dispatch(&mut self, conn: Accepted) {
        serve(&self.server, conn);
    }
}
