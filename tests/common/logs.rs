//! What in-process servers log, recorded as text for tests to look for.
//!
//! Tests run in parallel in one process and share the logger, so each looks
//! only for lines naming its own client's address.

use std::sync::{Mutex, Once, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use super::PATIENCE;

/// Every line logged at info or worse, as `LEVEL: text`.
fn log_lines() -> &'static Mutex<Vec<String>> {
    static LINES: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    LINES.get_or_init(|| Mutex::new(Vec::new()))
}

struct Recorder;

impl log::Log for Recorder {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Info
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            let line = format!("{}: {}", r.level(), r.args());
            log_lines().lock().unwrap().push(line);
        }
    }
    fn flush(&self) {}
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
            .lock()
            .unwrap()
            .iter()
            .find(|l| parts.iter().all(|p| l.contains(p)))
        {
            return l.clone();
        }
        if Instant::now() > deadline {
            panic!(
                "no log line with {parts:?}; lines: {:#?}",
                log_lines().lock().unwrap()
            );
        }
        thread::sleep(Duration::from_millis(10));
    }
}
