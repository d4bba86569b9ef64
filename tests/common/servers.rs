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
pub fn echo_server(mode: Mode, edit: impl FnOnce(&mut Config)) -> RunningServer {
    let mut config = local_config(mode);
    edit(&mut config);
    let delay = Duration::from_millis(config.delay_ms);
    serve(config, move || EchoHandler::new(delay))
}
