//! Support shared by every integration test, one concept a file:
//!
//! - [`process`]: a server as a child process (the `tcpmodes` binary, an
//!   example, or a wrapper such as `prlimit ... tcpmodes ...`), its address
//!   read from its `Listening on` line, its output drained, stopped with
//!   real signals, killed and reaped on drop;
//! - [`client`]: one blocking client speaking any framing, with line
//!   helpers for line protocols;
//! - [`servers`]: servers in the test's own process;
//! - [`logs`]: a logger recording what in-process servers log.
//!
//! Every wait is bounded by [`PATIENCE`], so a server that hangs fails its
//! test instead of hanging the suite. Network tests use 127.0.0.1, port 0.
// Each test binary uses a part of this module; the rest would warn as dead.
#![allow(dead_code)]

pub mod client;
pub mod logs;
pub mod process;
pub mod servers;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The longest one step of a test may wait: generous, so a busy 2-core
/// machine never fails a test that is right; a passing test never waits
/// this long.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// How long "nothing arrives" is watched for (a client left waiting). A
/// slow machine can only make such a check pass wrongly, never fail wrongly.
pub const GLANCE: Duration = Duration::from_millis(300);

/// A fresh, empty directory of its own under Cargo's temporary directory
/// for the tests (`target/tmp`), for one test's files or for a server to
/// run in, so the repository's `config.toml` cannot change what it runs.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A file of this repository, e.g. `config.toml`.
pub fn repo_path(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Whether `program --version` runs; a test that needs a missing program
/// skips, saying so on stderr.
pub fn have(program: &str) -> bool {
    have_else(program, "not found")
}

/// [`have`], with what the skip line says is missing (e.g. `not installed
/// (apt-get install redis-tools)`).
pub fn have_else(program: &str, missing: &str) -> bool {
    let ok = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: {program} {missing}");
    }
    ok
}

/// The Python 3 interpreter's command: `python3` on Unix, `python` on
/// Windows (where `python3` may be the Store's installer stub).
pub const PYTHON: &str = if cfg!(windows) { "python" } else { "python3" };

/// True when this process runs as root (uid 0): read from /proc on Linux,
/// asked of `id -u` on other Unix systems.
#[cfg(unix)]
pub fn is_root() -> bool {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        return status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|v| v.split_whitespace().next().map(|u| u == "0"))
            .unwrap_or(false);
    }
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
