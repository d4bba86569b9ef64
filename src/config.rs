//! Settings: built-in defaults, overridden by a TOML file, overridden by flags.
//!
//! Every setting is declared once, in the `settings!` list below (see
//! `settings.rs` for what follows from an entry), and listed with its
//! default and meaning in `config.toml` at the repository root;
//! `modes/*.toml` are ready presets. A setting that is wrong is reported as
//! one line naming where it came from (`file:line` or the flag), the key
//! and the problem, because a learner editing a file needs to know which
//! line to fix, not a parser's backtrace.

use std::collections::HashMap;
use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};

use crate::codec::{Codec, Framing, SharedCodec};
use crate::error::{ConfigError, io_text};
use crate::mode::Mode;
use crate::proxy_protocol::ProxyProtocol;
use crate::settings::settings;

/// The file the `tcpmodes` program reads when no `--config` is given.
pub(crate) const DEFAULT_CONFIG_FILE: &str = "config.toml";

settings! {
    /// Address to listen on, `IP:PORT` or `HOST:PORT` (`[::1]:PORT` for
    /// IPv6); port 0 picks a free one.
    address: String = "127.0.0.1:9999".to_string(), with_address(impl Into<String>),
        flag "addr" "IP:PORT", "Address to listen on; port 0 picks a free port",
        check_address;
    /// Set SO_REUSEPORT on the listening socket, so several processes (or
    /// an old and a new server during a restart) can listen on one port
    /// and the kernel spreads new connections over them.
    reuse_port: bool = false, with_reuse_port(bool),
        flag "reuse-port" "BOOL" [num_args = 0..=1, default_missing_value = "true"],
        "Share the port with other processes (SO_REUSEPORT)",
        |_| Ok(());
    /// Processes serving the port: the program starts this many minus one
    /// copies of itself, each with its own listener on the same address
    /// (implies `reuse_port`), as nginx runs its workers; it restarts a
    /// copy that dies, stops them all at shutdown and adds up their
    /// summaries. Only the program (`run_cli`) reads it: a [`Server`]
    /// built in code is one process (it only sets SO_REUSEPORT).
    ///
    /// [`Server`]: crate::Server
    processes: usize = 1, with_processes(usize),
        flag "processes" "N", "Processes sharing the port (more than 1 implies --reuse-port)",
        range::<1, 256, _>;
    /// Expect a PROXY protocol header (HAProxy's `send-proxy`) before the
    /// first message, so the server learns the real client's address
    /// behind a load balancer: `off`, `v1` (text), `v2` (binary) or `any`.
    proxy_protocol: ProxyProtocol = ProxyProtocol::Off, with_proxy_protocol(ProxyProtocol),
        flag "proxy-protocol" "VERSION" [value_parser = crate::names::value_parser::<ProxyProtocol>()],
        "Expect a PROXY protocol header from a load balancer",
        |_| Ok(());
    /// Length of the kernel's queue of connections not yet accepted (the
    /// argument of listen(2), the lesson's `s.listen(5)`). Linux caps it at
    /// `net.core.somaxconn`.
    backlog: u32 = 128, with_backlog(u32),
        flag "backlog" "N", "Kernel queue of connections not yet accepted (listen backlog)",
        range::<1, 65_535, _>;
    /// How connections are served: one at a time, a thread each, a pool,
    /// or event loops (handler calls on the loops, or on worker threads).
    mode: Mode = Mode::Serial, with_mode(Mode),
        flag "mode" "MODE" [value_parser = crate::names::value_parser::<Mode>()], "How clients are served",
        |_| Ok(());
    /// Pool mode: worker threads, so connections served at once;
    /// event-workers mode: threads running handler calls, so messages
    /// handled at once. Defaults to the number of CPUs.
    workers: usize = default_workers(), with_workers(usize),
        flag "workers" "N", "Pool and event-workers modes: worker threads",
        range::<1, 4_096, _>;
    /// Event modes: event loops, each a thread owning its share of the
    /// connections. More loops than CPUs only adds switching, so the
    /// default is the number of CPUs.
    loops: usize = default_workers(), with_loops(usize),
        flag "loops" "N", "Event modes: event loop threads",
        range::<1, 1_024, _>;
    /// Threads mode: connections served at once; more wait in the backlog.
    max_connections: usize = 1024, with_max_connections(usize),
        flag "max-connections" "N", "Threads mode: connections served at once",
        range::<1, 1_000_000, _>;
    /// Pool mode: connections accepted and waiting for a worker; past this a
    /// client is told the server is busy and closed. 0 means no limit.
    queue_limit: usize = 0, with_queue_limit(usize),
        flag "queue-limit" "N", "Pool mode: clients allowed to wait for a worker (0 = no limit)",
        range::<0, 1_000_000, _>;
    /// Stack size of each thread that runs handler calls (a connection
    /// thread, a pool or event-workers worker, an event loop), in KiB.
    thread_stack_kb: usize = 256, with_thread_stack_kb(usize),
        flag "thread-stack-kb" "KIB", "Stack of each thread that runs handler calls, in KiB",
        range::<64, 1_048_576, _>;
    /// Close a connection that sends no complete message in this long
    /// (counted from its last complete message, so a client trickling one
    /// byte at a time is cut too). 0 = never.
    read_timeout_ms: u64 = 300_000, with_read_timeout_ms(u64),
        flag "read-timeout-ms" "MS", "Close a client that sends no complete message for this long (0 = never)",
        range::<0, 86_400_000, _>;
    /// Close a connection whose client takes none of what it is sent
    /// (replies, or pushes waiting in its queue) for this long.
    write_timeout_ms: u64 = 30_000, with_write_timeout_ms(u64),
        flag "write-timeout-ms" "MS", "Close a client that takes none of what it is sent for this long",
        range::<1, 86_400_000, _>;
    /// At shutdown, how long connections get to finish before they are cut.
    shutdown_timeout_ms: u64 = 5_000, with_shutdown_timeout_ms(u64),
        flag "shutdown-timeout-ms" "MS", "At shutdown, time given to connections before they are cut",
        range::<0, 3_600_000, _>;
    /// Built-in handler to serve (the `tcpmodes` program knows `echo`);
    /// programs built with `run_cli` serve their own and ignore it.
    handler: String = "echo".to_string(), with_handler(impl Into<String>),
        flag "handler" "NAME", "Built-in handler (the tcpmodes binary has `echo`)",
        |h| if h.is_empty() { Err("must name a handler".to_string()) } else { Ok(()) };
    /// How the byte stream is cut into messages: a built-in codec by name.
    /// A program that speaks its own protocol sets its codec instead
    /// ([`Config::with_codec`]), which this setting then cannot change.
    framing: Framing = Framing::Raw, with_framing(Framing),
        flag "framing" "FRAMING" [value_parser = crate::names::value_parser::<Framing>()], "How messages are delimited",
        |_| Ok(());
    /// Bytes that may wait to be sent to one client beyond what its socket
    /// takes. Past this, whoever sends to it is slowed (the sending thread
    /// waits, or an event loop stops reading the sending connection) until
    /// the client has taken half of it: nothing is dropped for a client
    /// who reads, and each connection's memory stays bounded.
    max_pending_bytes: usize = 1024 * 1024, with_max_pending_bytes(usize),
        flag "max-pending-bytes" "BYTES", "Bytes waiting for one client before whoever sends to it is slowed",
        range::<1_024, { 1 << 30 }, _>;
    /// Cut a client whose queue is full (`max_pending_bytes`) and that
    /// takes next to nothing of it (less than 64 KiB, or a sixteenth of
    /// the limit if less) for this long, as too slow: a client that
    /// stopped reading cannot slow those who send to it for longer.
    stall_timeout_ms: u64 = 2_000, with_stall_timeout_ms(u64),
        flag "stall-timeout-ms" "MS", "Cut a client with a full queue that takes nothing for this long",
        range::<1, 86_400_000, _>;
    /// Longest message accepted; a longer one closes its connection.
    max_message_bytes: usize = 64 * 1024, with_max_message_bytes(usize),
        flag "max-message-bytes" "BYTES", "Longest message accepted",
        range::<1, { 1 << 30 }, _>;
    /// Echo handler: pause before each reply, like the lesson's `time.sleep(1)`.
    delay_ms: u64 = 0, with_delay_ms(u64),
        flag "delay-ms" "MS", "Echo: pause before each reply, like the lesson's time.sleep(1)",
        range::<0, 600_000, _>;
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

/// The number of CPUs, the default pool size and number of event loops.
pub(crate) fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
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

    /// Reads the file the command line asks for over `self`: `explicit` if
    /// given (it must exist), else `./config.toml` if `implicit` and present,
    /// else nothing. Returns the file used, for the start-up line. Not
    /// validated yet: flags come next.
    #[cfg_attr(not(feature = "cli"), allow(dead_code))]
    pub(crate) fn load(
        mut self,
        explicit: Option<&Path>,
        implicit: bool,
    ) -> Result<(Config, Option<PathBuf>), ConfigError> {
        let path = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None if implicit => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.is_file()),
            None => None,
        };
        if let Some(p) = &path {
            self.merge_file(p)?;
        }
        Ok((self, path))
    }

    fn merge_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(
                Some(name.clone()),
                format!("cannot read config file: {}", io_text(&e)),
            )
        })?;
        self.merge_toml(&text, &name)
    }

    fn merge_toml(&mut self, text: &str, name: &str) -> Result<(), ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|e| {
            let message = e.message().trim().to_string();
            let Some(span) = e.span() else {
                return ConfigError::new(Some(name.to_string()), message);
            };
            let line = line_of(text, span.start);
            // serde names the wrong value but not its key; the learner
            // needs both, so take the key from the line.
            let key = text
                .lines()
                .nth(line - 1)
                .and_then(|l| l.split_once('='))
                .map(|(k, _)| k.trim())
                .filter(|k| !k.is_empty() && !message.contains(&format!("`{k}`")));
            let message = match key {
                Some(k) => format!("{k}: {message}"),
                None => message,
            };
            ConfigError::new(Some(format!("{name}:{line}")), message)
        })?;
        self.merge_from(file, |span| format!("{name}:{}", line_of(text, span.start)));
        Ok(())
    }

    /// Where `key` got its value: `file:line` or `--flag`; `None` when it
    /// is the default or was set in code.
    pub fn origin(&self, key: &str) -> Option<&str> {
        self.origins.0.get(key).map(String::as_str)
    }

    /// Checks every value's range and that the address resolves. Called
    /// after all sources are merged, so the message names the winning source.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check_all()?;
        if let (Some(codec), Some(origin)) = (&self.codec, self.origin("framing")) {
            return Err(ConfigError::new(
                Some(origin.to_string()),
                format!(
                    "framing: this program frames its messages with its own codec ({}); \
                     remove the framing setting",
                    codec.name()
                ),
            ));
        }
        Ok(())
    }

    /// Frames messages with `codec`, a protocol's own (see
    /// [`Codec`](crate::Codec)), in place of the built-in one `framing`
    /// names. Set by a program in its defaults: a `framing` from a file
    /// or a flag is then refused, since it would change the protocol.
    pub fn with_codec(mut self, codec: impl Codec) -> Config {
        self.codec = Some(SharedCodec::new(codec));
        self
    }

    /// The codec in effect: the program's own, or `framing`'s.
    pub(crate) fn codec(&self) -> SharedCodec {
        self.codec.clone().unwrap_or_else(|| self.framing.codec())
    }

    /// Makes `framing`'s built-in codec this config's own, once, so a
    /// running server asks one codec value (no allocation per read).
    pub(crate) fn pin_codec(&mut self) {
        if self.codec.is_none() {
            self.codec = Some(self.framing.codec());
        }
    }

    /// How many bytes one read asks for, as the codec in effect says.
    pub(crate) fn read_size(&self) -> usize {
        match &self.codec {
            Some(codec) => codec.read_size(self.max_message_bytes),
            None => self.framing.codec().read_size(self.max_message_bytes),
        }
    }

    /// The name of the codec in effect, for start-up lines and logs.
    pub fn codec_name(&self) -> String {
        match &self.codec {
            Some(codec) => codec.name().to_string(),
            None => self.framing.name().to_string(),
        }
    }
}

/// A check that a number lies in `MIN..=MAX`.
fn range<const MIN: u64, const MAX: u64, T: Copy + TryInto<u64>>(v: &T) -> Result<(), String> {
    let v: u64 = (*v).try_into().unwrap_or(u64::MAX);
    if (MIN..=MAX).contains(&v) {
        Ok(())
    } else {
        Err(format!("must be from {MIN} to {MAX}, got {v}"))
    }
}

/// Checks that an address has the `HOST:PORT` form and resolves, so a typo
/// is caught before the server says it is starting.
fn check_address(address: &String) -> Result<(), String> {
    match address.to_socket_addrs() {
        Ok(addrs) if addrs.len() > 0 => Ok(()),
        Ok(_) => Err(format!("`{address}` resolves to no address")),
        Err(e) => Err(format!(
            "`{address}` is not an address like 127.0.0.1:9999 ({})",
            io_text(&e)
        )),
    }
}

/// The 1-based line holding byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
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
        assert_eq!(c.origin("workers"), Some("t.toml:3"));
        assert_eq!(c.origin("backlog"), None);
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

    #[test]
    fn values_set_in_code_are_blamed_on_nobody() {
        let e = Config::default().with_workers(0).validate().unwrap_err();
        assert_eq!(e.to_string(), "workers: must be from 1 to 4096, got 0");
        assert_eq!(e.origin, None);
    }

    /// `config.toml` is the learner's list of every setting: each key must
    /// be in it, set to its real default (the CPU-dependent `workers` and
    /// `loops` aside, which the file shows commented out).
    #[test]
    fn config_toml_lists_every_setting_with_its_default() {
        let text = include_str!("../config.toml");
        let file = Config::from_toml(text, "config.toml").unwrap();
        let defaults = Config::default();
        assert_eq!(
            file.clone()
                .with_workers(defaults.workers)
                .with_loops(defaults.loops),
            defaults
        );
        for key in Config::KEYS {
            let set = text.lines().any(|l| {
                l.trim_start_matches('#')
                    .trim_start()
                    .split('=')
                    .next()
                    .map(str::trim)
                    == Some(key)
            });
            assert!(set, "config.toml does not mention `{key}`");
        }
    }

    /// Every preset in `modes/` is a valid configuration of its mode.
    #[test]
    fn presets_are_valid() {
        for (name, text, mode) in [
            (
                "serial.toml",
                include_str!("../modes/serial.toml"),
                Mode::Serial,
            ),
            (
                "threads.toml",
                include_str!("../modes/threads.toml"),
                Mode::Threads,
            ),
            ("pool.toml", include_str!("../modes/pool.toml"), Mode::Pool),
            (
                "event.toml",
                include_str!("../modes/event.toml"),
                Mode::Event,
            ),
            (
                "event-workers.toml",
                include_str!("../modes/event-workers.toml"),
                Mode::EventWorkers,
            ),
        ] {
            let c = Config::from_toml(text, name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(c.mode, mode, "{name}");
        }
    }
}
