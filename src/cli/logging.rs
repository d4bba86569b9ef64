//! Log lines for people: the lesson's prints as they are, and with `-v` a
//! clock, so a class can read the waiting in the server's log.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Instant;

/// When logging started: `-v` lines show seconds since then, the scale on
/// which a learner compares "accepted" with "served" (wall-clock times
/// would need a time-zone crate and say less).
static START: OnceLock<Instant> = OnceLock::new();

/// `[pid N] `, put before every line once several processes of one server
/// share a terminal, so a reader (or a test) knows which process logged.
static TAG: OnceLock<String> = OnceLock::new();

/// Starts every later line with this process's id (see [`TAG`]).
pub(super) fn tag_with_pid() {
    TAG.get_or_init(|| format!("[pid {}] ", std::process::id()));
}

/// Log lines read like the lesson's prints: the message alone for normal
/// events, a `warning:` or `error:` prefix for problems. `-v`/`-q` move the
/// level (`-v` also stamps each line with seconds since start); `RUST_LOG`
/// overrides both.
pub(super) fn init(verbose: u8, quiet: u8) {
    START.get_or_init(Instant::now);
    let level = match (verbose, quiet) {
        (0, 0) => "info",
        (1, _) => "debug",
        (v, _) if v >= 2 => "trace",
        (_, 1) => "warn",
        _ => "error",
    };
    let stamped = verbose > 0;
    let env = env_logger::Env::default().default_filter_or(format!("tcpmodes={level},warn"));
    let _ = env_logger::Builder::from_env(env)
        .format(move |buf, record| {
            if stamped {
                let at = START.get().map_or(0.0, |s| s.elapsed().as_secs_f64());
                write!(buf, "[{at:8.3}s] ")?;
            }
            let prefix = match record.level() {
                log::Level::Error => "error: ",
                log::Level::Warn => "warning: ",
                log::Level::Info => "",
                log::Level::Debug => "debug: ",
                log::Level::Trace => "trace: ",
            };
            let tag = TAG.get().map_or("", String::as_str);
            writeln!(buf, "{tag}{prefix}{}", record.args())
        })
        .try_init();
}
