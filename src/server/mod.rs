//! [`Server`]: bind, accept, hand connections to the mode, shut down.
//!
//! This is the part every mode shares, written once: the listener
//! (`listener.rs`), the accept loop and the shutdown sequence (here), the
//! state threads share and the table of live connections (`live.rs`), how
//! a connection's story is opened, counted and logged (`lifecycle.rs`),
//! the PROXY protocol header read before a handler exists
//! (`proxy_header/`), the counters (`stats.rs`), and a connection's
//! outgoing side: the bytes waiting for its client, who is slowed while
//! they pile up, and when the client is cut (`outgoing/`: the side itself
//! in `mod.rs`, the bytes in `byte_queue.rs`, the limits in `limits.rs`,
//! who is sending in `producer.rs`).
//!
//! Below that, the two ways of serving a connection: `blocking/` (a
//! thread blocked in its reads; serial, threads, pool) and `event/`
//! (event loops on non-blocking sockets; event, event-workers). A mode
//! (`modes/`) only says when to accept and who serves.

mod blocking;
mod event;
mod lifecycle;
mod listener;
mod live;
mod modes;
mod outgoing;
mod proxy_header;
mod stats;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::error::{ConfigError, Error};
use crate::handler::{ConnInfo, Handler, HandlerFactory};
use crate::mode::Mode;
use crate::shutdown::Shutdown;
use listener::{BindError, Listener};
use live::{Accepted, LiveConnections, ServerState};
use modes::Driver;
use stats::Stats;
pub use stats::Summary;

/// A bound server, ready to [`run`](Server::run).
///
/// Binding is separate from running so a caller learns the real address
/// (bind port 0 for a free one) and takes a [`Shutdown`] handle before the
/// server blocks its thread:
///
/// ```no_run
/// use tcpmodes::{Config, EchoHandler, Mode, Server};
///
/// let config = Config::default()
///     .with_address("127.0.0.1:0")
///     .with_mode(Mode::Threads);
/// let server = Server::bind(config, EchoHandler::default)?;
/// println!("Listening on {}", server.local_addr());
/// let stop = server.shutdown_handle();
/// // ... later, from any thread: stop.trigger();
/// let summary = server.run();
/// println!("{summary}");
/// # Ok::<(), tcpmodes::Error>(())
/// ```
pub struct Server {
    shared: Arc<ServerState>,
    listener: Listener,
    driver: Box<dyn Driver>,
}

impl Server {
    /// Validates `config`, binds its address and prepares its mode. The
    /// factory makes one handler per connection.
    pub fn bind<H, F>(config: Config, factory: F) -> Result<Server, Error>
    where
        H: Handler,
        F: Fn() -> H + Send + Sync + 'static,
    {
        Server::bind_boxed(config, Box::new(move || Box::new(factory())))
    }

    /// [`bind`](Server::bind) for a factory that already boxes its handlers,
    /// e.g. one that picks a handler by name.
    pub(crate) fn bind_boxed(
        config: Config,
        factory: Box<HandlerFactory>,
    ) -> Result<Server, Error> {
        Server::bind_logging(config, factory, None)
    }

    /// [`bind_boxed`](Server::bind_boxed), logging when each handler call
    /// begins into `calls` (`compare` does, for its timeline).
    pub(crate) fn bind_logging(
        config: Config,
        factory: Box<HandlerFactory>,
        calls: Option<Arc<crate::call_log::CallLog>>,
    ) -> Result<Server, Error> {
        config.validate()?;
        let listener = Listener::bind(&config.address, config.backlog, config.reuse_port).map_err(
            |e| match e {
                BindError::Resolve(m) => Error::Config(ConfigError::new(
                    config.origin("address").map(str::to_string),
                    format!("address: cannot resolve `{}`: {m}", config.address),
                )),
                BindError::Io(source) => Error::Bind {
                    address: config.address.clone(),
                    origin: config.origin("address").map(str::to_string),
                    source,
                },
            },
        )?;
        let conns = LiveConnections::default();
        let mut config = config;
        config.pin_codec();
        let shared = Arc::new(ServerState {
            config,
            factory,
            shutdown: Shutdown::new(),
            stats: Stats::new(),
            conns,
            calls,
        });
        let waker = listener.waker();
        shared.shutdown.on_trigger(move || {
            if let Err(e) = waker.wake() {
                log::error!("cannot wake the accept loop: {e}");
            }
        });
        let weak = Arc::downgrade(&shared);
        shared.shutdown.on_trigger(move || {
            if let Some(shared) = weak.upgrade() {
                shared.conns.stop_reading();
            }
        });
        let driver = modes::driver(shared.config.mode, &shared)
            .map_err(|e| Error::Start(format!("cannot start {} mode: {e}", shared.config.mode)))?;
        Ok(Server {
            shared,
            listener,
            driver,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr()
    }

    /// A handle that stops this server gracefully from any thread.
    pub fn shutdown_handle(&self) -> Shutdown {
        self.shared.shutdown.clone()
    }

    /// The settings the server runs with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// How the server serves, in its mode's own words, e.g.
    /// `mode pool, workers 4`: the start-up line's middle.
    pub fn describe(&self) -> String {
        modes::describe(&self.shared.config)
    }

    /// Serves until shutdown is triggered, then shuts down gracefully and
    /// returns what the run did. Shutdown goes in this order:
    ///
    /// 1. The listener closes, so new clients are refused at once, and those
    ///    waiting in the kernel's backlog are reset.
    /// 2. Connections being served stop reading: a blocked read returns at
    ///    once (an event loop is woken); what already arrived is still
    ///    answered; then they close. Connections accepted but still waiting
    ///    for a thread (pool mode) are closed without being served.
    ///    (event-workers mode answers even a message still waiting for a
    ///    worker: it was read, so it is owed a reply.)
    /// 3. The server waits up to `shutdown_timeout_ms` for connections to
    ///    finish (a handler may be mid-way through a slow reply), then cuts
    ///    the rest, counting them in [`Summary::cut`].
    pub fn run(self) -> Summary {
        let Server {
            shared,
            mut listener,
            mut driver,
        } = self;
        let next_id = AtomicU64::new(1);
        if shared.config.mode == Mode::Serial {
            log::info!("Waiting for connection...");
        }
        while driver.ready() {
            let Some((stream, peer)) = listener.accept(&shared.shutdown) else {
                break;
            };
            shared.stats.accepted.fetch_add(1, Relaxed);
            let info = ConnInfo::new(next_id.fetch_add(1, Relaxed), peer);
            log::debug!("Client #{} ({peer}) taken from the backlog.", info.id);
            driver.dispatch(Accepted {
                info,
                stream,
                accepted_at: Instant::now(),
            });
        }
        drop(listener);
        let cut = shared
            .conns
            .drain(Duration::from_millis(shared.config.shutdown_timeout_ms));
        if cut > 0 {
            log::warn!(
                "Cut {cut} connections still running after shutdown_timeout_ms = {}.",
                shared.config.shutdown_timeout_ms
            );
        }
        shared.stats.cut.fetch_add(cut, Relaxed);
        drop(driver);
        shared.stats.summary()
    }

    /// Runs the server on a new thread; for tests and programs that embed a
    /// server next to other work.
    pub fn spawn(self) -> RunningServer {
        let addr = self.local_addr();
        let shutdown = self.shutdown_handle();
        let thread = thread::Builder::new()
            .name("tcpmodes-server".into())
            .spawn(move || self.run())
            .expect("cannot start the server thread");
        RunningServer {
            addr,
            shutdown,
            thread,
        }
    }
}

/// A server running on its own thread (see [`Server::spawn`]).
pub struct RunningServer {
    addr: SocketAddr,
    shutdown: Shutdown,
    thread: JoinHandle<Summary>,
}

impl RunningServer {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle that stops the server from any thread.
    pub fn shutdown_handle(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Shuts the server down gracefully and waits for its summary.
    pub fn stop(self) -> Summary {
        self.shutdown.trigger();
        self.join()
    }

    /// Waits for the server to stop (someone else triggers the shutdown).
    pub fn join(self) -> Summary {
        match self.thread.join() {
            Ok(summary) => summary,
            Err(p) => std::panic::resume_unwind(p),
        }
    }
}
