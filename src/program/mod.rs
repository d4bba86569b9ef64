//! Settings a program adds to a server's: read from the same file and
//! command line as [`Config`](crate::Config), but not part of it, because
//! a [`Server`](crate::Server) needs none of them.
//!
//! - `run_settings.rs`: the program runner's (`processes`), for every
//!   program built with `run_cli` or [`Program`](crate::Program);
//! - `echo_settings.rs`: the `tcpmodes` program's own, for its built-in
//!   echo (`handler`, `delay_ms`).
//!
//! They are compiled without the `cli` feature too, so
//! [`Config::from_toml`](crate::Config::from_toml) can tell a program's
//! key in a shared file (ignored, with a warning) from a typo (refused).

// Without the command line only their keys are read.
#[cfg_attr(not(feature = "cli"), allow(dead_code))]
pub(crate) mod echo_settings;
#[cfg_attr(not(feature = "cli"), allow(dead_code))]
pub(crate) mod run_settings;

/// Every group of program settings: its keys, and whose they are (for
/// the warning when a file read by another program sets them).
pub(crate) const GROUPS: [(&[&str], &str); 2] = [
    (
        run_settings::RunSettings::KEYS,
        "a setting of the program runner (run_cli), not of a Server",
    ),
    (
        echo_settings::EchoSettings::KEYS,
        "a setting of the tcpmodes program's echo",
    ),
];
