//! One bench run, wired end to end: checked flags, a plan, the generator
//! threads with their clients, their tallies merged into a report, and
//! (for `tcpmodes bench`) the report rendered on stdout.

use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use super::blocking_client::Dedicated;
use super::error::BenchError;
use super::event_client::Worker;
use super::flags::{self, BenchArgs, DEFAULT_MAX_THREADS, Protocol};
use super::plan::{Plan, preflight};
use super::progress::{Progress, progress_bar, update_bar};
use super::render::{error_breakdown, render};
use super::report::{BenchReport, LatencySummary, SCHEMA_VERSION};
use super::tally::Tally;

/// Runs one benchmark as `args` says and returns its report.
///
/// Errors during the run (refused, reset, timeouts, wrong replies, …) are
/// counted in the report, not returned: a server that misbehaves under load
/// is a result. `Err` means nothing could be measured: bad arguments, an
/// address that does not resolve, or no connection possible at all.
pub fn run_bench(args: &BenchArgs) -> Result<BenchReport, BenchError> {
    flags::check(args)?;
    let load = &args.load;
    let addr = preflight(&args.addr, Duration::from_millis(load.timeout_ms))?;

    // Thousands of sockets need thousands of descriptors; the soft limit is
    // often 1024. Raising it to the hard limit is harmless if it fails: the
    // run then counts EMFILE as `other` errors.
    let _ = rlimit::increase_nofile_limit(u64::MAX);

    let threads = args
        .threads
        .unwrap_or(DEFAULT_MAX_THREADS)
        .clamp(1, load.clients);
    let plan = Plan::new(args, addr)?;

    let progress = Progress::default();
    let bar = progress_bar(args, &plan);
    let tallies = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let plan = &plan;
                let progress = &progress;
                let n = plan.clients / threads + usize::from(t < plan.clients % threads);
                thread::Builder::new()
                    .name(format!("bench-{t}"))
                    .spawn_scoped(s, move || {
                        if dedicated(n, plan.churn, plan.protocol) {
                            Dedicated::new(plan, progress)?.run()
                        } else {
                            Worker::new(plan, progress, n)?.run()
                        }
                    })
            })
            .collect::<Result<_, _>>()
            .map_err(BenchError::Io)?;
        if let Some(bar) = &bar {
            while !handles
                .iter()
                .all(|h: &thread::ScopedJoinHandle<'_, _>| h.is_finished())
            {
                update_bar(bar, &plan, &progress);
                thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        }
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(r) => r.map_err(BenchError::Io),
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect::<Result<Vec<Tally>, BenchError>>()
    })?;

    let mut total = Tally::new().map_err(BenchError::Io)?;
    for t in &tallies {
        total.merge(t);
    }
    let duration = match load.messages {
        None => plan.end.saturating_duration_since(plan.measure_start),
        Some(_) => total
            .finished_at
            .unwrap_or(plan.end)
            .min(plan.end)
            .saturating_duration_since(plan.measure_start),
    };
    let duration_secs = duration.as_secs_f64();
    let rate = |n: u64| {
        if duration_secs > 0.0 {
            n as f64 / duration_secs
        } else {
            0.0
        }
    };
    Ok(BenchReport {
        version: SCHEMA_VERSION,
        addr: args.addr.clone(),
        clients: load.clients,
        threads,
        framing: load.framing,
        protocol: args.protocol,
        size: if args.protocol == Protocol::Daytime {
            0
        } else {
            load.size
        },
        churn: plan.churn,
        messages_per_client: load.messages,
        warmup_secs: plan.warmup.as_secs_f64(),
        duration_secs,
        sent: total.ok + total.errors.total,
        replies_ok: total.ok,
        abandoned: total.abandoned,
        connections: total.connections,
        clients_answered: total.clients_answered,
        errors: total.errors,
        msgs_per_sec: rate(total.ok),
        conns_per_sec: rate(total.connections),
        latency_us: LatencySummary::from_histogram(&total.latency),
        clients_unanswered: 0,
        wait_us: LatencySummary::default(),
        unanswered: 0,
        rate: None,
        timeline: Vec::new(),
    })
}

/// Runs [`run_bench`] and prints the report to stdout in `--format`, as the
/// `tcpmodes bench` command does, so another program can offer the same
/// command in one line.
///
/// Exit status: 0 on a clean run; 1 when errors were counted (unless
/// `--allow-errors`) or the generator itself failed; 2, with one line on
/// stderr, when the arguments are wrong or the server cannot be reached at
/// all.
pub fn main_bench(args: &BenchArgs) -> ExitCode {
    match run_bench(args) {
        Ok(r) => {
            print!("{}", render(&r, args.format));
            if r.errors.total > 0 && !args.allow_errors {
                eprintln!(
                    "bench: {} of {} messages failed ({}); pass --allow-errors to exit 0 anyway",
                    r.errors.total,
                    r.sent,
                    error_breakdown(&r.errors)
                );
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::from(if e.is_usage() { 2 } else { 1 })
        }
    }
}

/// Whether a thread with `n` clients runs them on [`Dedicated`] instead of
/// an event loop: one persistent echo client alone on its thread.
fn dedicated(n: usize, churn: bool, protocol: Protocol) -> bool {
    n == 1 && !churn && protocol == Protocol::Echo
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::flags::MAX_RAW_PAYLOAD;

    #[test]
    fn only_a_lone_persistent_echo_client_leaves_the_event_loop() {
        assert!(dedicated(1, false, Protocol::Echo));
        assert!(!dedicated(2, false, Protocol::Echo));
        assert!(!dedicated(1, true, Protocol::Echo));
        assert!(!dedicated(1, true, Protocol::Daytime));
        assert!(!dedicated(1, false, Protocol::Daytime));
    }

    #[test]
    fn bad_arguments_are_refused_before_connecting() {
        let mut a = BenchArgs::new("127.0.0.1:1");
        a.load.size = MAX_RAW_PAYLOAD + 1;
        assert!(matches!(run_bench(&a), Err(BenchError::InvalidArgs(_))));
        let mut a = BenchArgs::new("127.0.0.1:1");
        a.load.clients = 0;
        assert!(matches!(run_bench(&a), Err(BenchError::InvalidArgs(_))));
        let mut a = BenchArgs::new("127.0.0.1:1");
        a.load.duration = Some(-1.0);
        assert!(matches!(run_bench(&a), Err(BenchError::InvalidArgs(_))));
    }
}
