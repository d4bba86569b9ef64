//! Settings: built-in defaults, overridden by a TOML file, overridden by flags.
//!
//! Every setting is listed, with its default and meaning, in `config.toml` at
//! the repository root; `modes/*.toml` are ready presets. A setting that is
//! wrong is reported as one line naming where it came from (`file:line` or
//! the flag), the key and the problem, because a learner editing a file needs
//! to know which line to fix, not a parser's backtrace.

use std::collections::HashMap;
use std::fmt;
use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::framing::Framing;
use crate::modes::Mode;

/// The file read when no `--config` is given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "config.toml";

/// Every setting of a server. `Config::default()` is the lesson's server:
/// serial, echo, raw framing, on 127.0.0.1:9999.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Address to listen on, `IP:PORT` or `HOST:PORT`; port 0 picks a free one.
    pub address: String,
    /// Length of the kernel's queue of connections not yet accepted (the
    /// argument of listen(2), the lesson's `s.listen(5)`). Linux caps it at
    /// `net.core.somaxconn`.
    pub backlog: u32,
    /// How connections are served: one at a time, a thread each, or a pool.
    pub mode: Mode,
    /// Pool mode: worker threads, so connections served at once.
    pub workers: usize,
    /// Threads mode: connections served at once; more wait in the backlog.
    pub max_connections: usize,
    /// Pool mode: connections accepted and waiting for a worker; past this a
    /// client is told the server is busy and closed. 0 means no limit.
    pub queue_limit: usize,
    /// Stack size of each connection thread (threads and pool modes), in KiB.
    pub thread_stack_kb: usize,
    /// Close a connection that sends no complete message in this long. 0 = never.
    pub read_timeout_ms: u64,
    /// Close a connection whose client does not take our replies in this long.
    pub write_timeout_ms: u64,
    /// At shutdown, how long connections get to finish before they are cut.
    pub shutdown_timeout_ms: u64,
    /// Built-in handler to serve (the `tcpmodes` binary knows `echo`).
    pub handler: String,
    /// How the byte stream is cut into messages.
    pub framing: Framing,
    /// Longest message accepted; a longer one closes its connection.
    pub max_message_bytes: usize,
    /// Echo handler: pause before each reply, like the lesson's `time.sleep(1)`.
    pub delay_ms: u64,
    /// Where each setting came from (`file:line` or `--flag`), for messages.
    origins: Origins,
}

/// Where each setting came from. Not part of a configuration's value: two
/// configs with the same settings are equal wherever they were read from.
#[derive(Clone, Debug, Default)]
struct Origins(HashMap<&'static str, String>);

impl PartialEq for Origins {
    fn eq(&self, _: &Origins) -> bool {
        true
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            address: "127.0.0.1:9999".to_string(),
            backlog: 128,
            mode: Mode::Serial,
            workers: default_workers(),
            max_connections: 1024,
            queue_limit: 0,
            thread_stack_kb: 256,
            read_timeout_ms: 300_000,
            write_timeout_ms: 30_000,
            shutdown_timeout_ms: 5_000,
            handler: "echo".to_string(),
            framing: Framing::Raw,
            max_message_bytes: 64 * 1024,
            delay_ms: 0,
            origins: Origins::default(),
        }
    }
}

/// The number of CPUs, the default pool size.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A setting or configuration file that cannot be used, with where it came
/// from. Its `Display` is the one line the user sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// `file:line`, `--flag`, or the file alone when it cannot be read.
    pub origin: String,
    /// What is wrong, naming the key.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The TOML file's shape. Every key is optional (a file sets only what it
/// changes) and spanned, so problems found after parsing still name a line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    address: Option<Spanned<String>>,
    backlog: Option<Spanned<u64>>,
    mode: Option<Spanned<Mode>>,
    workers: Option<Spanned<u64>>,
    max_connections: Option<Spanned<u64>>,
    queue_limit: Option<Spanned<u64>>,
    thread_stack_kb: Option<Spanned<u64>>,
    read_timeout_ms: Option<Spanned<u64>>,
    write_timeout_ms: Option<Spanned<u64>>,
    shutdown_timeout_ms: Option<Spanned<u64>>,
    handler: Option<Spanned<String>>,
    framing: Option<Spanned<Framing>>,
    max_message_bytes: Option<Spanned<u64>>,
    delay_ms: Option<Spanned<u64>>,
}

impl Config {
    /// Reads `path` over the defaults. The result is validated.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        config.merge_file(path)?;
        config.validate()?;
        Ok(config)
    }

    /// Parses TOML `text` over the defaults; `name` is used in messages.
    pub fn from_toml(text: &str, name: &str) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        config.merge_toml(text, name)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads the file the command line asks for over `base`: `explicit` if
    /// given (it must exist), else `./config.toml` if `implicit` and present,
    /// else nothing. Returns the file used, for the start-up line. Not
    /// validated yet: flags come next.
    pub(crate) fn load(
        base: Config,
        explicit: Option<&Path>,
        implicit: bool,
    ) -> Result<(Config, Option<PathBuf>), ConfigError> {
        let mut config = base;
        let path = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None if implicit => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.is_file()),
            None => None,
        };
        if let Some(p) = &path {
            config.merge_file(p)?;
        }
        Ok((config, path))
    }

    fn merge_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: name.clone(),
            message: format!("cannot read config file: {}", io_text(&e)),
        })?;
        self.merge_toml(&text, &name)
    }

    fn merge_toml(&mut self, text: &str, name: &str) -> Result<(), ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|e| {
            let message = e.message().trim().to_string();
            match e.span() {
                Some(span) => {
                    let line = line_of(text, span.start);
                    // serde names the wrong value but not its key; the
                    // learner needs both, so take the key from the line.
                    let key = text
                        .lines()
                        .nth(line - 1)
                        .and_then(|l| l.split_once('='))
                        .map(|(k, _)| k.trim())
                        .filter(|k| !k.is_empty() && !message.contains(&format!("`{k}`")));
                    ConfigError {
                        origin: format!("{name}:{line}"),
                        message: match key {
                            Some(k) => format!("{k}: {message}"),
                            None => message,
                        },
                    }
                }
                None => ConfigError {
                    origin: name.to_string(),
                    message,
                },
            }
        })?;
        let at = |span: std::ops::Range<usize>| format!("{name}:{}", line_of(text, span.start));

        macro_rules! take {
            ($key:ident, $conv:expr) => {
                if let Some(v) = file.$key {
                    let origin = at(v.span());
                    let conv = $conv;
                    self.$key = conv(v.into_inner()).map_err(|message| ConfigError {
                        origin: origin.clone(),
                        message,
                    })?;
                    self.origins.0.insert(stringify!($key), origin);
                }
            };
        }
        take!(address, same);
        take!(mode, same);
        take!(framing, same);
        take!(handler, same);
        take!(backlog, |v| int::<u32>("backlog", v));
        take!(workers, |v| int::<usize>("workers", v));
        take!(max_connections, |v| int::<usize>("max_connections", v));
        take!(queue_limit, |v| int::<usize>("queue_limit", v));
        take!(thread_stack_kb, |v| int::<usize>("thread_stack_kb", v));
        take!(read_timeout_ms, same);
        take!(write_timeout_ms, same);
        take!(shutdown_timeout_ms, same);
        take!(max_message_bytes, |v| int::<usize>("max_message_bytes", v));
        take!(delay_ms, same);
        Ok(())
    }

    /// Records that `key` was set by `flag`, so a bad value names the flag.
    pub(crate) fn set_by(&mut self, key: &'static str, flag: &str) {
        self.origins.0.insert(key, flag.to_string());
    }

    /// Where `key` got its value: `file:line`, `--flag`, or `default`.
    pub fn origin(&self, key: &str) -> String {
        self.origins
            .0
            .get(key)
            .cloned()
            .unwrap_or_else(|| "default".to_string())
    }

    /// Checks every value's range and that the address resolves. Called
    /// after all sources are merged, so the message names the winning source.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |key: &'static str, message: String| ConfigError {
            origin: self.origin(key),
            message: format!("{key}: {message}"),
        };
        let range = |key: &'static str, v: u64, min: u64, max: u64| {
            if v < min || v > max {
                Err(fail(key, format!("must be from {min} to {max}, got {v}")))
            } else {
                Ok(())
            }
        };
        range("backlog", self.backlog.into(), 1, 65_535)?;
        range("workers", self.workers as u64, 1, 4_096)?;
        range("max_connections", self.max_connections as u64, 1, 1_000_000)?;
        range("queue_limit", self.queue_limit as u64, 0, 1_000_000)?;
        range(
            "thread_stack_kb",
            self.thread_stack_kb as u64,
            64,
            1_048_576,
        )?;
        range("read_timeout_ms", self.read_timeout_ms, 0, 86_400_000)?;
        range("write_timeout_ms", self.write_timeout_ms, 1, 86_400_000)?;
        range(
            "shutdown_timeout_ms",
            self.shutdown_timeout_ms,
            0,
            3_600_000,
        )?;
        range(
            "max_message_bytes",
            self.max_message_bytes as u64,
            1,
            1 << 30,
        )?;
        range("delay_ms", self.delay_ms, 0, 600_000)?;
        if self.handler.is_empty() {
            return Err(fail("handler", "must name a handler".to_string()));
        }
        check_address(&self.address).map_err(|m| fail("address", m))?;
        Ok(())
    }
}

/// Checks that an address has the `HOST:PORT` form and resolves, so a typo
/// is caught before the server says it is starting.
pub(crate) fn check_address(address: &str) -> Result<(), String> {
    match address.to_socket_addrs() {
        Ok(addrs) if addrs.len() > 0 => Ok(()),
        Ok(_) => Err(format!("`{address}` resolves to no address")),
        Err(e) => Err(format!(
            "`{address}` is not an address like 127.0.0.1:9999 ({})",
            io_text(&e)
        )),
    }
}

fn same<T>(v: T) -> Result<T, String> {
    Ok(v)
}

fn int<T: TryFrom<u64>>(key: &str, v: u64) -> Result<T, String> {
    T::try_from(v).map_err(|_| format!("{key}: {v} is too large"))
}

/// The 1-based line holding byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// An I/O error's text without the "(os error N)" suffix users need not see.
pub(crate) fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_override_defaults_and_keep_their_line() {
        let c = Config::from_toml("mode = \"pool\"\n\nworkers = 3\n", "t.toml").unwrap();
        assert_eq!(c.mode, Mode::Pool);
        assert_eq!(c.workers, 3);
        assert_eq!(c.backlog, Config::default().backlog);
        assert_eq!(c.origin("workers"), "t.toml:3");
        assert_eq!(c.origin("backlog"), "default");
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = Config::from_toml("backlog = 5\nworkers = 0\n", "t.toml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.toml:2: workers: must be from 1 to 4096, got 0"
        );
        let e = Config::from_toml("\nbakclog = 5\n", "t.toml").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.toml:2: unknown field `bakclog`"),
            "{e}"
        );
        let e = Config::from_toml("mode = \"fork\"\n", "t.toml").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.toml:1: mode: unknown variant `fork`"),
            "{e}"
        );
        let e = Config::from_toml("backlog = \"big\"\n", "t.toml").unwrap_err();
        assert!(
            e.to_string().starts_with("t.toml:1: backlog: invalid type"),
            "{e}"
        );
        let e = Config::from_toml("address = \"nowhere\"\n", "t.toml").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.toml:1: address: `nowhere` is not"),
            "{e}"
        );
    }
}
