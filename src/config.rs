//! Settings: built-in defaults, overridden by a TOML file, overridden by flags.
//!
//! Every setting is declared once, in the `settings!` list below (see
//! `settings.rs` for what follows from an entry), and listed with its
//! default and meaning in `config.toml` at the repository root;
//! `modes/*.toml` are ready presets. A setting that is wrong is reported as
//! one line naming where it came from (`file:line` or the flag), the key
//! and the problem, because a learner editing a file needs to know which
//! line to fix, not a parser's backtrace.

use std::net::ToSocketAddrs;
use std::path::Path;

use crate::codec::{Codec, Framing, SharedCodec};
use crate::error::{ConfigError, io_text};
use crate::mode::Mode;
use crate::proxy_protocol::ProxyProtocol;
use crate::settings::{check_keys, range, settings};

settings! {
    /// Every setting of a server. `Config::default()` is the lesson's
    /// server: serial, raw framing, on 127.0.0.1:9999. Build another with
    /// the `with_*` methods, e.g. `Config::default().with_framing(Framing::Line)`,
    /// or read one from TOML ([`Config::from_file`]). Every key is listed
    /// with its default in the repository's `config.toml`. What one program
    /// adds (the number of processes, the `tcpmodes` echo's pause) is not
    /// here: a [`Server`](crate::Server) needs none of it.
    pub struct Config {
        /// Address to listen on, `IP:PORT` or `HOST:PORT` (`[::1]:PORT` for
        /// IPv6); port 0 picks a free one.
        address: String {
            default: "127.0.0.1:9999".to_string(),
            setter: with_address(impl Into<String>),
            flag: "addr", value: "IP:PORT",
            help: "Address to listen on; port 0 picks a free port",
            check: check_address,
        }
        /// Set SO_REUSEPORT on the listening socket, so several processes (or
        /// an old and a new server during a restart) can listen on one port
        /// and the kernel spreads new connections over them.
        reuse_port: bool {
            default: false,
            setter: with_reuse_port(bool),
            flag: "reuse-port", value: "BOOL",
            clap: [num_args = 0..=1, default_missing_value = "true"],
            help: "Share the port with other processes (SO_REUSEPORT)",
            check: check_reuse_port,
        }
        /// Expect a PROXY protocol header (HAProxy's `send-proxy`) before the
        /// first message, so the server learns the real client's address
        /// behind a load balancer: `off`, `v1` (text), `v2` (binary) or `any`.
        proxy_protocol: ProxyProtocol {
            default: ProxyProtocol::Off,
            setter: with_proxy_protocol(ProxyProtocol),
            flag: "proxy-protocol", value: "VERSION",
            clap: [value_parser = crate::names::value_parser::<ProxyProtocol>()],
            help: "Expect a PROXY protocol header from a load balancer",
        }
        /// Length of the kernel's queue of connections not yet accepted (the
        /// argument of listen(2), the lesson's `s.listen(5)`). Linux caps it at
        /// `net.core.somaxconn`.
        backlog: u32 {
            default: 128,
            setter: with_backlog(u32),
            flag: "backlog", value: "N",
            help: "Kernel queue of connections not yet accepted (listen backlog)",
            check: range::<1, 65_535, _>,
        }
        /// How connections are served: one at a time, a thread each, a pool,
        /// or event loops (handler calls on the loops, or on worker threads).
        mode: Mode {
            default: Mode::Serial,
            setter: with_mode(Mode),
            flag: "mode", value: "MODE",
            clap: [value_parser = crate::names::value_parser::<Mode>()],
            help: "How clients are served",
        }
        /// Pool mode: worker threads, so connections served at once;
        /// event-workers mode: threads running handler calls, so messages
        /// handled at once. Defaults to the number of CPUs.
        workers: usize {
            default: default_workers(),
            setter: with_workers(usize),
            flag: "workers", value: "N",
            help: "Pool and event-workers modes: worker threads",
            check: range::<1, 4_096, _>,
        }
        /// Event modes: event loops, each a thread owning its share of the
        /// connections. More loops than CPUs only adds switching, so the
        /// default is the number of CPUs.
        loops: usize {
            default: default_workers(),
            setter: with_loops(usize),
            flag: "loops", value: "N",
            help: "Event modes: event loop threads",
            check: range::<1, 1_024, _>,
        }
        /// Threads mode: connections served at once; more wait in the backlog.
        max_connections: usize {
            default: 1024,
            setter: with_max_connections(usize),
            flag: "max-connections", value: "N",
            help: "Threads mode: connections served at once",
            check: range::<1, 1_000_000, _>,
        }
        /// Pool mode: connections accepted and waiting for a worker; past this a
        /// client is told the server is busy and closed. 0 means no limit.
        queue_limit: usize {
            default: 0,
            setter: with_queue_limit(usize),
            flag: "queue-limit", value: "N",
            help: "Pool mode: clients allowed to wait for a worker (0 = no limit)",
            check: range::<0, 1_000_000, _>,
        }
        /// Stack size of each thread that runs handler calls (a connection
        /// thread, a pool or event-workers worker, an event loop), in KiB.
        thread_stack_kb: usize {
            default: 256,
            setter: with_thread_stack_kb(usize),
            flag: "thread-stack-kb", value: "KIB",
            help: "Stack of each thread that runs handler calls, in KiB",
            check: range::<64, 1_048_576, _>,
        }
        /// Close a connection that sends no complete message in this long
        /// (counted from its last complete message, so a client trickling one
        /// byte at a time is cut too). 0 = never.
        read_timeout_ms: u64 {
            default: 300_000,
            setter: with_read_timeout_ms(u64),
            flag: "read-timeout-ms", value: "MS",
            help: "Close a client that sends no complete message for this long (0 = never)",
            check: range::<0, 86_400_000, _>,
        }
        /// Close a connection whose client takes none of what it is sent
        /// (replies, or pushes waiting in its queue) for this long.
        write_timeout_ms: u64 {
            default: 30_000,
            setter: with_write_timeout_ms(u64),
            flag: "write-timeout-ms", value: "MS",
            help: "Close a client that takes none of what it is sent for this long",
            check: range::<1, 86_400_000, _>,
        }
        /// At shutdown, how long connections get to finish before they are cut.
        shutdown_timeout_ms: u64 {
            default: 5_000,
            setter: with_shutdown_timeout_ms(u64),
            flag: "shutdown-timeout-ms", value: "MS",
            help: "At shutdown, time given to connections before they are cut",
            check: range::<0, 3_600_000, _>,
        }
        /// How the byte stream is cut into messages: a built-in codec by name.
        /// A program that speaks its own protocol sets its codec instead
        /// ([`Config::with_codec`]), which this setting then cannot change.
        framing: Framing {
            default: Framing::Raw,
            setter: with_framing(Framing),
            flag: "framing", value: "FRAMING",
            clap: [value_parser = crate::names::value_parser::<Framing>()],
            help: "How messages are delimited",
        }
        /// Bytes that may wait to be sent to one client beyond what its socket
        /// takes. Past this, whoever sends to it is slowed (the sending thread
        /// waits, or an event loop stops reading the sending connection) until
        /// the client has taken half of it: nothing is dropped for a client
        /// who reads, and each connection's memory stays bounded.
        max_pending_bytes: usize {
            default: 1024 * 1024,
            setter: with_max_pending_bytes(usize),
            flag: "max-pending-bytes", value: "BYTES",
            help: "Bytes waiting for one client before whoever sends to it is slowed",
            check: range::<1_024, { 1 << 30 }, _>,
        }
        /// Cut a client whose queue is full (`max_pending_bytes`) and that
        /// takes next to nothing of it (less than 64 KiB, or a sixteenth of
        /// the limit if less) for this long, as too slow: a client that
        /// stopped reading cannot slow those who send to it for longer.
        stall_timeout_ms: u64 {
            default: 2_000,
            setter: with_stall_timeout_ms(u64),
            flag: "stall-timeout-ms", value: "MS",
            help: "Cut a client with a full queue that takes nothing for this long",
            check: range::<1, 86_400_000, _>,
        }
        /// Longest message accepted; a longer one closes its connection.
        max_message_bytes: usize {
            default: 64 * 1024,
            setter: with_max_message_bytes(usize),
            flag: "max-message-bytes", value: "BYTES",
            help: "Longest message accepted",
            check: range::<1, { 1 << 30 }, _>,
        }
    }
    extra {
        /// The program's own codec ([`Config::with_codec`]), which takes
        /// the place of `framing`'s built-in one.
        codec: Option<SharedCodec> = None;
        /// `framing`'s codec, made once a server runs with this config.
        pinned: Pinned = Pinned(None);
    }
}

/// A running server's codec, made once from its settings: a cache, not a
/// setting, so it never makes two configs differ.
#[derive(Clone, Debug)]
struct Pinned(Option<SharedCodec>);

impl PartialEq for Pinned {
    fn eq(&self, _: &Pinned) -> bool {
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
        let (text, name) = read_file(path)?;
        Config::from_toml(&text, &name)
    }

    /// Parses TOML `text` over the defaults; `name` is used in messages.
    /// A key that is not a setting is refused with its line; one a program
    /// reads for itself (`processes`, the `tcpmodes` echo's `delay_ms`, as
    /// the repository's `config.toml` and presets set) is logged as
    /// ignored.
    pub fn from_toml(text: &str, name: &str) -> Result<Config, ConfigError> {
        for warning in check_keys(text, name, &[Config::KEYS], &crate::program::GROUPS)? {
            log::warn!("{warning}");
        }
        let mut config = Config::default();
        config.merge_toml(text, name)?;
        config.validate()?;
        Ok(config)
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
        match (&self.codec, &self.pinned.0) {
            (Some(own), _) => own.clone(),
            (None, Some(pinned)) => pinned.clone(),
            (None, None) => self.framing.codec(),
        }
    }

    /// Makes `framing`'s built-in codec this config's own, once, so a
    /// running server asks one codec value (no allocation per read).
    pub(crate) fn pin_codec(&mut self) {
        self.pinned = Pinned(Some(self.codec()));
    }

    /// How many bytes one read asks for, as the codec in effect says.
    pub(crate) fn read_size(&self) -> usize {
        match &self.pinned.0 {
            Some(codec) => codec.read_size(self.max_message_bytes),
            None => self.codec().read_size(self.max_message_bytes),
        }
    }

    /// Whether a program set its own codec ([`with_codec`](Config::with_codec)).
    pub fn has_own_codec(&self) -> bool {
        self.codec.is_some()
    }

    /// The name of the codec in effect, for start-up lines and logs.
    pub fn codec_name(&self) -> String {
        match &self.codec {
            Some(codec) => codec.name().to_string(),
            None => self.framing.name().to_string(),
        }
    }
}

/// Checks that an address has the `HOST:PORT` form and resolves, so a typo
/// is caught before the server says it is starting.
/// Windows has no SO_REUSEPORT (its SO_REUSEADDR lets a second socket
/// take the port over, not share it), so `reuse_port` is refused there.
fn check_reuse_port(reuse_port: &bool) -> Result<(), String> {
    if *reuse_port && cfg!(windows) {
        return Err(
            "Windows has no SO_REUSEPORT: one process serves a port there \
             (for more cores use mode threads, pool or event)"
                .to_string(),
        );
    }
    Ok(())
}

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

/// The text of a settings file and the name messages give it.
pub(crate) fn read_file(path: &Path) -> Result<(String, String), ConfigError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(
            Some(name.clone()),
            format!("cannot read config file: {}", io_text(&e)),
        )
    })?;
    Ok((text, name))
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
                .starts_with("t.toml:2: unknown setting `bakclog`; the settings are address,"),
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
}
