//! [`Loops`]: the event loops of the `event` and `event-workers` modes, as
//! the server holds them: started together, handed connections, stopped.
//! One loop's own work is `event_loop.rs`.
//!
//! The accept loop in `server/mod.rs` stays the one every mode shares (its
//! backoff when descriptors run out, its counting, its instant stop at
//! shutdown) and hands each connection to the loop with the fewest
//! ([`Loops::dispatch`]), through that loop's mailbox. Loops that accepted
//! for themselves would each need that machinery again, and the kernel,
//! not the server, would choose which loop a client lands on; handing
//! over costs one wake-up per connection, nothing next to the accept.
//!
//! Where handler calls run is the only difference between the two modes,
//! and the one thing their files (`modes/event.rs`, `modes/event_workers.rs`)
//! say: a [`Runner`]. In `event` mode a loop is one thread, and its calls
//! run inside [`Conn::advance`]. In `event-workers` the runner
//! [lends](Runner::lends): a loop stops its turn at each call
//! ([`EventLoop::turn`]) and lends its thread to it or queues it for a
//! worker, and a loop held by a slow call goes on on a new thread
//! (`lend.rs`).
//!

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::thread;

use mio::Poll;

use super::event_loop::EventLoop;
use super::lend::{LoopCell, Watch};
use super::mailbox::{Arrival, Mailbox};
use super::runner::Runner;
use super::wire::LoopWire;
use crate::server::live::{Accepted, ServerState};
use crate::server::outgoing::{Limits, Outgoing, never_wait_on_this_thread};

/// The running loops of one server, as its mode's driver holds them.
pub(crate) struct Loops {
    server: Arc<ServerState>,
    homes: Vec<Arc<Mailbox>>,
    /// What each connection's outgoing side is given, read once.
    limits: Limits,
    /// The watch over loops that lend their threads (`lend.rs`), stopped
    /// with them.
    watch: Option<Arc<Watch>>,
}

impl Loops {
    /// Starts `loops` loop threads (named `loop-0`, ...) whose handler
    /// calls go to `runner`; if it [lends](Runner::lends), each loop in a
    /// [`LoopCell`] that any thread may drive, and a watch over them
    /// (`loop-watch`).
    pub fn start(server: &Arc<ServerState>, runner: Arc<dyn Runner>) -> io::Result<Loops> {
        let config = &server.config;
        let stack = config.thread_stack_kb * 1024;
        let mut loops = Loops {
            server: server.clone(),
            homes: Vec::with_capacity(config.loops),
            limits: Limits::of(config),
            watch: None,
        };
        let watch = runner.lends().then(Watch::new);
        let mut cells = Vec::new();
        for i in 0..config.loops {
            let poll = Poll::new()?;
            let home = Arc::new(Mailbox::new(poll.registry())?);
            let event_loop = EventLoop::new(server.clone(), home.clone(), runner.clone(), poll);
            if let Some(watch) = &watch {
                let cell = LoopCell::new(
                    i,
                    event_loop,
                    runner.clone(),
                    home.clone(),
                    watch.clone(),
                    stack,
                );
                cell.start()?;
                cells.push(cell);
            } else {
                thread::Builder::new()
                    .name(format!("loop-{i}"))
                    .stack_size(stack)
                    .spawn(move || {
                        never_wait_on_this_thread();
                        event_loop.run()
                    })?;
            }
            // Pushed only once running, so a failure above stops (on drop)
            // exactly the loops that started.
            loops.homes.push(home);
        }
        if let Some(watch) = watch {
            watch.start(cells, stack)?;
            loops.watch = Some(watch);
        }
        Ok(loops)
    }

    /// Hands an accepted connection to the loop with the fewest (the first
    /// of those, so two clients in a row go to two loops).
    pub fn dispatch(&self, conn: Accepted) {
        let (i, home) = self
            .homes
            .iter()
            .enumerate()
            .min_by_key(|(_, h)| h.load.load(Relaxed))
            .expect("at least one loop");
        let Accepted {
            info,
            stream,
            accepted_at,
        } = conn;
        let server = &self.server;
        let out = Outgoing::new(info.id, self.limits, LoopWire::new(home.clone()));
        server.conns.add(info.id, out.clone());
        if let Err(e) = stream.set_nonblocking(true) {
            log::warn!("Dropping connection from {}: {e}", info.peer);
            server.stats.errors.fetch_add(1, Relaxed);
            server.conns.finish(info.id);
            return;
        }
        let waiting = home.load.fetch_add(1, Relaxed);
        log::trace!(
            "Client #{} handed to loop-{i}, which has {waiting} others.",
            info.id
        );
        let arrival = Arrival {
            info,
            stream: mio::net::TcpStream::from_std(stream),
            out,
            accepted_at,
        };
        if home.arrive(arrival).is_err() {
            // Only if the loop died of a bug: say so, and go on.
            log::error!(
                "loop-{i} has stopped; connection from {} closed.",
                info.peer
            );
            home.load.fetch_sub(1, Relaxed);
            server.stats.errors.fetch_add(1, Relaxed);
            server.conns.finish(info.id);
        }
    }
}

impl Drop for Loops {
    /// The server is done (its shutdown drained or cut every connection):
    /// each loop closes what is left and stops. Not joined: a loop inside
    /// a slow handler call (event mode) must not hold up the summary, as a
    /// connection thread in the middle of one does not.
    fn drop(&mut self) {
        for home in &self.homes {
            home.quit();
        }
        if let Some(watch) = &self.watch {
            watch.stop();
        }
    }
}
