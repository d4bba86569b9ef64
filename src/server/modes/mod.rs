//! Modes: who serves an accepted connection, and when.
//!
//! The accept loop and shutdown are the same for every mode
//! (`server/mod.rs`, `live.rs`), and so is each way of serving a
//! connection (`blocking/`, `event/`). A mode decides only
//! two things, like a concurrency mix-in of Python's `socketserver`: whether
//! the server may accept another connection now (`Driver::ready`), and
//! which thread serves the one just accepted (`Driver::dispatch`). Each
//! mode's file holds just that. The event modes hand connections to event
//! loops (`event/`, shared by both); their files say where handler calls
//! run (`work_queue.rs`: event-workers' calls waiting for a worker).

mod event;
mod event_workers;
mod pool;
mod serial;
mod threads;
mod work_queue;

use std::sync::Arc;

use super::live::{Accepted, ServerState};
use crate::mode::Mode;

/// What a mode does with connections; see the module docs.
pub(crate) trait Driver: Send {
    /// Blocks until another connection may be accepted. Returns `false`
    /// when shutdown came while waiting.
    fn ready(&mut self) -> bool {
        true
    }

    /// Hands an accepted connection to whichever thread will serve it.
    fn dispatch(&mut self, conn: Accepted);
}

/// The `workers` threads of the pool and event-workers modes. Handler
/// panics are caught per connection or per call; the panic handler is the
/// last line for a bug elsewhere, since rayon's default aborts the process.
/// `on_start` runs first on each worker thread.
pub(crate) fn worker_pool(
    config: &crate::config::Config,
    on_start: fn(),
) -> std::io::Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(config.workers)
        .start_handler(move |_| on_start())
        .stack_size(config.thread_stack_kb * 1024)
        .thread_name(|i| format!("worker-{i}"))
        .panic_handler(|p| {
            log::error!(
                "A worker's task panicked outside any handler: {}; the pool goes on.",
                crate::session::panic_text(p.as_ref())
            );
        })
        .build()
        .map_err(std::io::Error::other)
}

/// The driver for `mode`, sharing the server's state.
pub(crate) fn driver(mode: Mode, server: &Arc<ServerState>) -> std::io::Result<Box<dyn Driver>> {
    Ok(match mode {
        Mode::Serial => Box::new(serial::Serial::new(server)?),
        Mode::Threads => Box::new(threads::Threads::new(server)?),
        Mode::Pool => Box::new(pool::Pool::new(server)?),
        Mode::Event => Box::new(event::Event::new(server)?),
        Mode::EventWorkers => Box::new(event_workers::EventWorkers::new(server)?),
    })
}

/// `mode`'s own words for the start-up line, e.g. `mode pool, workers 4`.
pub(crate) fn describe(config: &crate::config::Config) -> String {
    match config.mode {
        Mode::Serial => serial::describe(config),
        Mode::Threads => threads::describe(config),
        Mode::Pool => pool::describe(config),
        Mode::Event => event::describe(config),
        Mode::EventWorkers => event_workers::describe(config),
    }
}
