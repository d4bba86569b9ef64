//! [`EchoSettings`]: the `tcpmodes` program's own settings, for the
//! handler it serves: which one (`handler`), and the echo's pause
//! (`delay_ms`, the lesson's `time.sleep(1)`).
//!
//! Only the `tcpmodes` program has these flags. A program serving its own
//! handler has none of them; in a config file (the shared presets in
//! `modes/` set `delay_ms`) it warns that they are ignored.

use std::time::Duration;

use crate::echo::EchoHandler;
use crate::error::ConfigError;
use crate::handler::HandlerFactory;
use crate::settings::{range, settings};

/// The handlers the `tcpmodes` program can serve by name.
const BUILTIN_HANDLERS: [&str; 1] = ["echo"];

settings! {
    /// The `tcpmodes` program's settings for its built-in handler.
    pub(crate) struct EchoSettings {
        /// Built-in handler to serve (the `tcpmodes` program knows `echo`).
        handler: String {
            default: "echo".to_string(),
            flag: "handler", value: "NAME",
            help: "Built-in handler (the tcpmodes program has `echo`)",
            check: |h| if h.is_empty() { Err("must name a handler".to_string()) } else { Ok(()) },
        }
        /// Echo handler: pause before each reply, like the lesson's
        /// `time.sleep(1)`.
        delay_ms: u64 {
            default: 0,
            flag: "delay-ms", value: "MS",
            help: "Echo: pause before each reply, like the lesson's time.sleep(1)",
            check: range::<0, 600_000, _>,
        }
    }
}

impl EchoSettings {
    /// The handler these settings name, as a factory.
    pub(crate) fn factory(&self) -> Result<Box<HandlerFactory>, ConfigError> {
        self.check_all()?;
        match self.handler.as_str() {
            "echo" => {
                let delay = Duration::from_millis(self.delay_ms);
                Ok(Box::new(move || Box::new(EchoHandler::new(delay))))
            }
            other => Err(ConfigError::new(
                self.origin("handler").map(str::to_string),
                format!(
                    "handler: unknown handler `{other}`; built in: {}",
                    BUILTIN_HANDLERS.join(", ")
                ),
            )),
        }
    }
}
