//! What in-process servers log, recorded as text for tests to look for.
//!
//! Tests run in parallel in one process and share the logger, so each looks
//! only for lines naming its own client's address (whose port no other
//! live socket has: see `Client::connect_alone`), and only among the lines
//! logged since its thread called [`mark`], so an earlier connection that
//! had the same address is not taken for its own.

use std::sync::{Mutex, MutexGuard, Once, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use super::PATIENCE;

/// Every line logged at info or worse, as `LEVEL: text`. A test that
/// panics while holding the lock must not fail every other test that
/// logs, so a poisoned lock is taken as it is (lines are only pushed).
fn log_lines() -> MutexGuard<'static, Vec<String>> {
    static LINES: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    LINES
        .get_or_init(|| Mutex::new(Vec::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

struct Recorder;

impl log::Log for Recorder {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Info
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            let line = format!("{}: {}", r.level(), r.args());
            log_lines().push(line);
        }
    }
    fn flush(&self) {}
}

thread_local! {
    /// Lines before this index are another test's, for this thread.
    // Already `const`: clippy misreads windows-gnu's expansion (see
    // `IN_HANDLER` in src/session.rs).
    #[cfg_attr(windows, allow(clippy::missing_const_for_thread_local))]
    static FROM: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// From now on, this thread's [`logged`] and [`lines_with`] look only at
/// lines logged after this call.
pub fn mark() {
    let now = log_lines().len();
    FROM.with(|f| f.set(now));
}

fn from() -> usize {
    FROM.with(|f| f.get())
}

/// Installs the recording logger (once per test binary).
pub fn record_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        log::set_boxed_logger(Box::new(Recorder)).expect("logger");
        log::set_max_level(log::LevelFilter::Info);
    });
}

/// Waits (bounded by [`PATIENCE`]) for a logged line (info or worse)
/// containing every one of `parts`, and returns it.
pub fn logged(parts: &[&str]) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(l) = log_lines()
            .iter()
            .skip(from())
            .find(|l| parts.iter().all(|p| l.contains(p)))
        {
            return l.clone();
        }
        if Instant::now() > deadline {
            let lines = log_lines().clone();
            panic!("no log line with {parts:?}; lines: {lines:#?}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Every logged line (info or worse) so far containing every one of
/// `parts`: for checking a thing was logged once, or not at all.
pub fn lines_with(parts: &[&str]) -> Vec<String> {
    log_lines()
        .iter()
        .skip(from())
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .cloned()
        .collect()
}
