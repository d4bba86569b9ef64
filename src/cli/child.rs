//! One of the extra processes of a `processes = N` server, seen from
//! inside: how it talks to the first process, which started it.
//!
//! The first process (the supervisor, `supervisor.rs`) holds two pipes to
//! each child. The child's stdin is the parent's lifeline: the parent never
//! writes to it, so the child's read returns only when the parent closes it
//! (to stop the child) or dies (even by SIGKILL, when the kernel closes it);
//! either way the child shuts down gracefully, so no child outlives its
//! parent. The child's stdout carries two lines back, defined here for both
//! sides: [`READY`] once it listens, and [`SUMMARY`] with its summary as
//! JSON when it is done, so the parent can print one summary for all.

use std::io::{Read, Write};

use crate::server::Summary;
use crate::shutdown::Shutdown;

/// The line a child prints on stdout once its listener is bound: the
/// parent waits for it before it prints `Listening on`, so that line means
/// every process is listening. (A child prints no `Listening on` line.)
pub(super) const READY: &str = "ready";

/// Starts the line a child prints on stdout as it exits, followed by its
/// [`Summary`] as JSON.
pub(super) const SUMMARY: &str = "summary ";

/// Tells the parent this child listens.
pub(super) fn report_ready() {
    send_line(READY);
}

/// Hands the child's summary to the parent, as one JSON line.
pub(super) fn report_summary(summary: &Summary) {
    match serde_json::to_string(summary) {
        Ok(json) => send_line(&format!("{SUMMARY}{json}")),
        Err(e) => log::error!("cannot encode the summary for the first process: {e}"),
    }
}

/// Writes one line to stdout, the pipe to the parent. A parent that is
/// gone cannot be told anything, so a failed write is logged, never a
/// panic (`println!` would panic on the closed pipe).
fn send_line(line: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
        log::debug!("cannot tell the first process `{line}`: {e}");
    }
}

/// Shuts `shutdown` down when stdin reaches its end: the parent closed it
/// to stop this process, or the parent died. Reads on a thread of its own,
/// which the process's exit ends.
pub(super) fn watch_parent(shutdown: Shutdown) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("tcpmodes-parent-watch".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = [0u8; 64];
            // The parent writes nothing; bytes, if any, are ignored.
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        log::debug!("pipe from the first process: {e}");
                        break;
                    }
                }
            }
            if !shutdown.is_triggered() {
                log::debug!("The first process closed our pipe: shutting down.");
                shutdown.trigger();
            }
        })
        .map(drop)
}
