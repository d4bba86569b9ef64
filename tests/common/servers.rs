//! Servers in the test's own process, on a free port of 127.0.0.1.

use std::time::Duration;

use tcpmodes::{Config, EchoHandler, Handler, Mode, RunningServer, Server};

/// The default config in `mode`, on a free port of 127.0.0.1.
pub fn local_config(mode: Mode) -> Config {
    let mut config = Config::default();
    config.address = "127.0.0.1:0".into();
    config.mode = mode;
    config
}

/// Binds `config` and serves it on a thread of this process.
pub fn serve<H, F>(config: Config, factory: F) -> RunningServer
where
    H: Handler,
    F: Fn() -> H + Send + Sync + 'static,
{
    Server::bind(config, factory).expect("bind").spawn()
}

/// The lesson's echo server in `mode`, its config changed by `edit` first
/// (its `delay_ms` slows every reply).
pub fn echo_server(mode: Mode, edit: impl FnOnce(&mut EchoSetup)) -> RunningServer {
    let mut setup = EchoSetup {
        config: local_config(mode),
        delay_ms: 0,
    };
    edit(&mut setup);
    let delay = Duration::from_millis(setup.delay_ms);
    serve(setup.config, move || EchoHandler::new(delay))
}

/// An echo server's settings: the server's [`Config`] (reached through
/// it) and the handler's pause before each reply, which is the echo's
/// own, not the server's.
pub struct EchoSetup {
    config: Config,
    pub delay_ms: u64,
}

impl std::ops::Deref for EchoSetup {
    type Target = Config;
    fn deref(&self) -> &Config {
        &self.config
    }
}

impl std::ops::DerefMut for EchoSetup {
    fn deref_mut(&mut self) -> &mut Config {
        &mut self.config
    }
}

/// A gate a test opens once: handler calls wait at it, so a test can hold
/// a handler call as long as it likes and know it is still held, where a
/// `delay_ms` would race the clock.
#[derive(Clone, Default)]
pub struct Gate(std::sync::Arc<(std::sync::Mutex<GateState>, std::sync::Condvar)>);

#[derive(Default)]
struct GateState {
    open: bool,
    /// Calls waiting at the gate now.
    held: usize,
}

impl Gate {
    fn state(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.0.0.lock().unwrap()
    }

    /// Lets every call waiting at the gate, and every later one, through.
    pub fn open(&self) {
        self.state().open = true;
        self.0.1.notify_all();
    }

    /// Waits (bounded by [`PATIENCE`](super::PATIENCE)) until `n` calls
    /// wait at the gate.
    pub fn wait_held(&self, n: usize) {
        let (state, timeout) = self
            .0
            .1
            .wait_timeout_while(self.state(), super::PATIENCE, |s| s.held < n)
            .unwrap();
        assert!(
            !timeout.timed_out(),
            "{} calls at the gate, not {n}",
            state.held
        );
    }

    /// Waits until the gate is open (at most [`PATIENCE`](super::PATIENCE),
    /// so a test that forgets to open it fails instead of hanging).
    fn pass(&self) {
        let mut state = self.state();
        state.held += 1;
        self.0.1.notify_all();
        let mut state = self
            .0
            .1
            .wait_timeout_while(state, super::PATIENCE, |s| !s.open)
            .unwrap()
            .0;
        state.held -= 1;
    }
}

/// The lesson's echo protocol, except that the message `block` waits at
/// the gate before it is answered: a handler call that blocks, for as long
/// as the test wants.
pub struct GatedEcho(pub Gate);

impl Handler for GatedEcho {
    fn on_connect(&mut self, ctx: &mut tcpmodes::Context<'_>) -> tcpmodes::Action {
        EchoHandler::default().on_connect(ctx)
    }

    fn on_message(&mut self, message: &[u8], ctx: &mut tcpmodes::Context<'_>) -> tcpmodes::Action {
        if message == b"block" {
            self.0.pass();
        }
        EchoHandler::default().on_message(message, ctx)
    }
}

/// A [`GatedEcho`] server in `mode`, its config changed by `edit`; returns
/// the gate too.
pub fn gated_server(mode: Mode, edit: impl FnOnce(&mut Config)) -> (RunningServer, Gate) {
    let mut config = local_config(mode);
    edit(&mut config);
    let gate = Gate::default();
    let g = gate.clone();
    (serve(config, move || GatedEcho(g.clone())), gate)
}
