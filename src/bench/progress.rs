//! The progress line on stderr: counts so far, and how far the run is.
//!
//! Generator threads publish their counts into [`Progress`] every
//! [`SCAN_INTERVAL`](super::plan::SCAN_INTERVAL), not per message, so the
//! counters are never contended; the main thread draws them (indicatif)
//! only when stderr is a terminal.

use std::io::{self, IsTerminal};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::flags::BenchArgs;
use super::plan::Plan;
use super::tally::Tally;

/// Counters shared with the progress line.
#[derive(Default)]
pub(super) struct Progress {
    ok: AtomicU64,
    errors: AtomicU64,
}

/// What a thread has already added to [`Progress`], so each flush adds only
/// what is new.
#[derive(Default)]
pub(super) struct Flushed {
    ok: u64,
    errors: u64,
}

impl Flushed {
    /// Adds what `tally` counted since the last flush to `progress`.
    pub(super) fn flush(&mut self, tally: &Tally, progress: &Progress) {
        let errors = tally.errors.total;
        progress.ok.fetch_add(tally.ok - self.ok, Ordering::Relaxed);
        progress
            .errors
            .fetch_add(errors - self.errors, Ordering::Relaxed);
        self.ok = tally.ok;
        self.errors = errors;
    }
}

/// The progress line, or `None` with `--no-progress` or when stderr is not
/// a terminal.
pub(super) fn progress_bar(args: &BenchArgs, plan: &Plan) -> Option<indicatif::ProgressBar> {
    if args.no_progress || !io::stderr().is_terminal() {
        return None;
    }
    let (len, template) = match plan.messages {
        Some(m) => (
            m.saturating_mul(plan.clients as u64),
            "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} messages  {msg}",
        ),
        None => (
            plan.end
                .saturating_duration_since(Instant::now())
                .as_millis() as u64,
            "{spinner} {elapsed_precise} [{bar:30}] {msg}",
        ),
    };
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(len),
        indicatif::ProgressDrawTarget::stderr_with_hz(10),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    Some(bar)
}

/// Shows the counts in `progress` and how far the run is on `bar`.
pub(super) fn update_bar(bar: &indicatif::ProgressBar, plan: &Plan, progress: &Progress) {
    let ok = progress.ok.load(Ordering::Relaxed);
    let errors = progress.errors.load(Ordering::Relaxed);
    let now = Instant::now();
    let phase = if now < plan.measure_start {
        "warm-up, "
    } else {
        ""
    };
    bar.set_message(format!("{phase}{ok} ok, {errors} errors"));
    match plan.messages {
        Some(_) => bar.set_position(ok + errors),
        None => {
            let total = bar.length().unwrap_or(0);
            let left = plan.end.saturating_duration_since(now).as_millis() as u64;
            bar.set_position(total.saturating_sub(left));
        }
    }
}
