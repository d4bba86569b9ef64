//! `event`: event loops that run their handler calls themselves.
//!
//! `loops` threads (`event/event_loop.rs`) each own a share of the connections
//! on non-blocking sockets and serve all of them, one step at a time: an
//! idle client costs no thread and a few hundred bytes, so ten thousand of
//! them fit in a few megabytes. The price is the lesson this mode teaches:
//! a handler call runs on its loop's thread, so while it blocks (echo's
//! `delay_ms` sleeps in it), every other client of that loop waits, for
//! its greeting, its reply, everything. With one loop and a slow handler
//! this is the serial server again. Never block the event loop; when the
//! handler must block, pick `event-workers`.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use super::Driver;
use crate::server::event::{Done, Job, Loops, Runner};
use crate::server::live::{Accepted, ServerState};

/// A handler call longer than this is told in the `-v` log: it held up
/// the loop's other clients for that long.
const STALL: Duration = Duration::from_millis(100);

pub(crate) struct Event {
    loops: Loops,
}

impl Event {
    pub fn new(server: &Arc<ServerState>) -> std::io::Result<Event> {
        Ok(Event {
            loops: Loops::start(server, Arc::new(OnTheLoop))?,
        })
    }
}

impl Driver for Event {
    fn dispatch(&mut self, conn: Accepted) {
        self.loops.dispatch(conn);
    }
}

/// Runs each handler call at once, on the loop's own thread.
struct OnTheLoop;

impl Runner for OnTheLoop {
    fn run(&self, job: Job) -> Option<Done> {
        // Timing every call costs two clock reads a message; only the `-v`
        // log uses it.
        if !log::log_enabled!(log::Level::Debug) {
            return Some(job.handle());
        }
        let (info, home) = (job.session.info(), job.home.clone());
        let started = Instant::now();
        let done = job.handle();
        let took = started.elapsed();
        // Counted after the call: clients that arrived during it waited too.
        let others = home.load.load(Relaxed).saturating_sub(1);
        if took >= STALL && others > 0 {
            log::debug!(
                "Client #{} ({}): its handler call held {} for {:.3} s; {} of the loop waited.",
                info.id,
                info.peer,
                std::thread::current().name().unwrap_or("its loop"),
                took.as_secs_f64(),
                if others == 1 {
                    "the 1 other client".to_string()
                } else {
                    format!("the {others} other clients")
                }
            );
        }
        Some(done)
    }
}

/// How this mode describes itself in the start-up line: its name and the
/// settings that shape it.
pub(super) fn describe(config: &crate::config::Config) -> String {
    format!("mode event, loops {}", config.loops)
}
