//! One bench run, wired end to end: checked flags, a plan, the generator
//! threads with their clients, their tallies merged into a report, and
//! (for `tcpmodes bench`) the report rendered on stdout, with the verdict:
//! a run in which some client was never answered, or nothing was, fails.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use super::account::Span;
use super::blocking_client::Dedicated;
use super::caption::RunParams;
use super::error::BenchError;
use super::event_client::Worker;
use super::exchange::Exchange;
use super::flags::{self, BenchArgs, DEFAULT_MAX_THREADS, OutputFormat, Protocol};
use super::plan::{Plan, preflight};
use super::progress::{Progress, progress_bar, update_bar};
use super::render::{error_breakdown, render};
use super::repeat::combine;
use super::report::{
    BenchReport, ClientTimeline, ConnectionSpan, ExchangeTexts, LatencySummary, RequestSpan,
    SCHEMA_VERSION,
};
use super::spectrum::percentile_distribution;
use super::tally::{NeverAnswered, Tally};
use super::views::Views;
use crate::call_log::LoggedConn;
use hdrhistogram::Histogram;

/// Runs one benchmark as `args` says and returns its report.
///
/// Errors during the run (refused, reset, timeouts, wrong replies, …) are
/// counted in the report, not returned: a server that misbehaves under load
/// is a result, and so is one that never answers some clients. `Err` means
/// nothing could be measured: bad arguments, an address that does not
/// resolve, or no connection possible at all; or the `--histogram` file
/// could not be written.
pub fn run_bench(args: &BenchArgs) -> Result<BenchReport, BenchError> {
    if args.idle.is_some() {
        return Err(BenchError::InvalidArgs(
            "--idle holds connections instead of loading them: run it with run_idle".into(),
        ));
    }
    flags::check(args)?;
    let load = &args.load;
    let exchange = Exchange::new(load, args.protocol)?;
    let size = exchange.size();
    let (addr, opened) = preflight(&args.addr, Duration::from_millis(load.timeout_ms))?;
    // Created before the run, so a path that cannot be written is said at
    // once, not after minutes of load.
    let histogram_file = match &args.histogram {
        Some(path) => Some(File::create(path).map_err(|source| write_error(path, source))?),
        None => None,
    };

    // Thousands of sockets need thousands of descriptors; the soft limit is
    // often 1024. Raising it to the hard limit is harmless if it fails: the
    // run then counts EMFILE as `other` errors.
    let _ = rlimit::increase_nofile_limit(u64::MAX);

    let threads = args
        .threads
        .unwrap_or(DEFAULT_MAX_THREADS)
        .clamp(1, load.clients);
    let plan = Plan::new(args, addr, exchange)?;
    plan.hand_over(opened);

    let progress = Progress::default();
    let bar = progress_bar(args, &plan);
    let tallies = thread::scope(|s| {
        let mut first = 0;
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let plan = &plan;
                let progress = &progress;
                let n = plan.clients / threads + usize::from(t < plan.clients % threads);
                let from = first;
                first += n;
                thread::Builder::new()
                    .name(format!("bench-{t}"))
                    .spawn_scoped(s, move || {
                        if dedicated(n, plan.churn, plan.protocol) {
                            Dedicated::new(plan, progress, from)?.run()
                        } else {
                            Worker::new(plan, progress, from, n)?.run()
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

    let mut total = Tally::new(plan.measure_start, plan.exchange.greeting().is_some())
        .map_err(BenchError::Io)?;
    for mut t in tallies {
        total.merge(&mut t);
    }
    if let (Some(mut file), Some(path)) = (histogram_file, &args.histogram) {
        file.write_all(percentile_distribution(&total.latency).as_bytes())
            .map_err(|source| write_error(path, source))?;
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
    let logged = args.calls.0.as_ref().map(|log| log.take());
    let (rows, queue) = timeline(
        plan.clients,
        plan.start,
        std::mem::take(&mut total.timeline),
        logged,
    );
    let mut report = BenchReport {
        version: SCHEMA_VERSION,
        addr: args.addr.clone(),
        clients: load.clients,
        threads,
        framing: load.framing,
        protocol: args.protocol,
        size: if args.protocol == Protocol::Daytime {
            0
        } else {
            size
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
        clients_unanswered: total.clients_unanswered,
        wait_us: LatencySummary::from_histogram(&total.wait),
        unanswered: total.unanswered,
        rate: load.rate,
        queue_us: None,
        timeline: Vec::new(),
        never_answered: total.never_answered,
        repeat: None,
        exchange: (load.greeting.is_some() || load.request.is_some() || load.expect.is_some())
            .then(|| ExchangeTexts {
                greeting: load.greeting.clone(),
                request: load.request.clone(),
                expect: load.expect.clone(),
            }),
    };
    if args.timeline {
        report.timeline = rows;
    }
    report.queue_us = queue.map(|q| LatencySummary::from_histogram(&q));
    Ok(report)
}

fn write_error(path: &Path, source: std::io::Error) -> BenchError {
    BenchError::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// One timeline row per client, in client order, times in seconds from
/// `start`; a client that never connected has no connections. With the
/// server's log of its handler calls (`logged`), each request also gets
/// when its call began, and the second value is every request's wait for
/// it (send to call, µs).
fn timeline(
    clients: usize,
    start: Instant,
    spans: Vec<(usize, Vec<Span>)>,
    logged: Option<Vec<LoggedConn>>,
) -> (Vec<ClientTimeline>, Option<Histogram<u64>>) {
    let secs = |t: Instant| t.saturating_duration_since(start).as_secs_f64();
    let mut server = logged.map(by_peer);
    let mut queue = server
        .as_ref()
        .and_then(|_| Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).ok());
    let mut rows: Vec<ClientTimeline> = (0..clients)
        .map(|client| ClientTimeline {
            client,
            connections: Vec::new(),
        })
        .collect();
    for (client, spans) in spans {
        let Some(row) = rows.get_mut(client) else {
            continue;
        };
        for s in spans {
            // The server's record of this connection: the next from the
            // same address, in the order both sides made them (a client
            // reconnecting from the same port comes in order; the first may
            // have been opened before the run, by the preflight).
            let calls = match (&mut server, s.local) {
                (Some(server), Some(local)) => server
                    .get_mut(&local)
                    .and_then(|conns| conns.pop_front())
                    .map(|c| c.calls),
                _ => None,
            };
            let requests = s
                .requests
                .iter()
                .enumerate()
                .map(|(i, &(sent, answered))| {
                    let handled = calls.as_ref().and_then(|c| c.get(i).copied());
                    if let (Some(h), Some(q)) = (handled, queue.as_mut()) {
                        let us = h.saturating_duration_since(sent).as_micros() as u64;
                        q.saturating_record(us.max(1));
                    }
                    RequestSpan {
                        sent_s: secs(sent),
                        handled_s: handled.map(secs),
                        answered_s: secs(answered),
                    }
                })
                .collect();
            row.connections.push(ConnectionSpan {
                connect_s: secs(s.connect),
                served_s: s.served.map(secs),
                end_s: s.end.map_or(0.0, secs),
                requests,
            });
        }
    }
    (rows, queue)
}

/// The server's connections by client address, each address's in the
/// order they opened.
fn by_peer(conns: Vec<LoggedConn>) -> HashMap<SocketAddr, VecDeque<LoggedConn>> {
    let mut map: HashMap<SocketAddr, VecDeque<LoggedConn>> = HashMap::new();
    for c in conns {
        map.entry(c.peer).or_default().push_back(c);
    }
    for conns in map.values_mut() {
        conns.make_contiguous().sort_by_key(|c| c.opened);
    }
    map
}

/// Runs [`run_bench`] and prints the report to stdout in `--format`, as the
/// `tcpmodes bench` command does, so another program can offer the same
/// command in one line.
///
/// Exit status: 0 on a clean run; 1, with a line on stderr saying why,
/// when some client was never answered or errors were counted (unless
/// `--allow-errors`), when nothing at all was answered (always: a run that
/// measured nothing is no result), or when the generator itself failed; 2,
/// with one line on stderr, when the arguments are wrong or the server
/// cannot be reached at all.
pub fn main_bench(args: &BenchArgs) -> ExitCode {
    if args.idle.is_some() {
        return super::idle::main_idle(args);
    }
    let views = Views {
        timeline: args.timeline,
        timeline_svg: args.timeline_svg.clone(),
        plot: args.plot.clone(),
    };
    if let Err(e) = views.check() {
        eprintln!("bench: {e}");
        return ExitCode::from(2);
    }
    let mut run = args.clone();
    run.timeline = views.need_timeline();
    match run_repeated(&run) {
        Ok(mut r) => {
            let rows = [(args.addr.clone(), r.clone())];
            if !args.timeline {
                r.timeline.clear();
            }
            print!("{}", render(&r, args.format));
            let drawn = match RunParams::from_reports(&rows) {
                Some(mut params) => {
                    params.per = "run";
                    let table = args.format == OutputFormat::Table;
                    views.show(&rows, &params, table, |t| print!("{t}"))
                }
                None => true,
            };
            let complaints = verdict(&r, args.allow_errors);
            for line in &complaints {
                eprintln!("bench: {line}");
            }
            if complaints.is_empty() && drawn {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::from(if e.is_usage() { 2 } else { 1 })
        }
    }
}

/// [`run_bench`] `--repeat` times, told as the median run with the
/// spread of all (see `repeat.rs`).
pub fn run_repeated(args: &BenchArgs) -> Result<BenchReport, BenchError> {
    let mut runs = Vec::new();
    for _ in 0..args.repeat.max(1) {
        runs.push(run_bench(args)?);
    }
    combine(runs).ok_or_else(|| BenchError::InvalidArgs("--repeat must be at least 1".into()))
}

/// Why `r` fails the run, one line each (none: it passes). A run in which
/// nothing was answered always fails; one in which some client was never
/// answered, or errors were counted, fails unless `allow_errors`.
fn verdict(r: &BenchReport, allow_errors: bool) -> Vec<String> {
    const ALLOW: &str = "; pass --allow-errors to exit 0 anyway";
    let mut lines = Vec::new();
    let unanswered = (r.clients as u64).saturating_sub(r.clients_answered);
    let greeting = r
        .exchange
        .as_ref()
        .and_then(|x| x.greeting.as_deref())
        .is_none_or(|g| g != flags::NONE);
    if r.replies_ok == 0 {
        lines.push(format!(
            "no reply at all: none of the {} clients was answered in {:.2} s: {} \
             (a run that measured nothing always fails)",
            r.clients,
            r.duration_secs,
            causes(&r.never_answered, greeting)
        ));
    } else if unanswered > 0 && !allow_errors {
        lines.push(format!(
            "{unanswered} of {} clients were never answered: {}{ALLOW}",
            r.clients,
            causes(&r.never_answered, greeting)
        ));
    }
    if r.errors.total > 0 && !allow_errors {
        lines.push(format!(
            "{} of {} messages failed ({}){ALLOW}",
            r.errors.total,
            r.sent,
            error_breakdown(&r.errors)
        ));
    }
    lines
}

/// The likely causes of clients never answered, most common first, e.g.
/// `the server sent no greeting to 3 of them (…)`; `greeting` says whether
/// the exchange starts with one.
fn causes(n: &NeverAnswered, greeting: bool) -> String {
    let serial_hint = "(does it serve fewer clients at once than --clients, as serial mode \
                       or a small pool does?)";
    let silent = if greeting {
        format!("the server sent no greeting, to {{}} of them {serial_hint}")
    } else {
        format!("the server sent no reply, to {{}} of them {serial_hint}")
    };
    let mut found: Vec<(u64, &str)> = [
        (n.silent, silent.as_str()),
        (
            n.wrong_greeting,
            "bytes came that were not the expected greeting, for {} of them (does --framing \
             match the server's? is --greeting what it sends?)",
        ),
        (
            n.wrong_reply,
            "replies came that were not the expected one, for {} of them (does --framing \
             match the server's? is --expect its answer?)",
        ),
        (
            n.greeted_only,
            "the server greeted but never replied, to {} of them",
        ),
        (
            n.closed,
            "the server closed the connection before answering, for {} of them",
        ),
        (
            n.not_connected,
            "no connection could be made, for {} of them (refused or reset: is the \
             server's backlog full?)",
        ),
    ]
    .into_iter()
    .filter(|(count, _)| *count > 0)
    .collect();
    // Stable: equal counts keep the order above, the likelier cause first.
    found.sort_by_key(|(count, _)| std::cmp::Reverse(*count));
    if found.is_empty() {
        return "the run ended before any reply".into();
    }
    found
        .iter()
        .map(|(count, text)| text.replacen("{}", &count.to_string(), 1))
        .collect::<Vec<_>>()
        .join("; ")
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
    use crate::bench::tally::ErrorCounts;

    fn report(clients: usize, answered: u64, replies: u64, never: NeverAnswered) -> BenchReport {
        BenchReport {
            clients,
            clients_answered: answered,
            replies_ok: replies,
            sent: replies,
            never_answered: never,
            duration_secs: 3.0,
            ..BenchReport::default()
        }
    }

    #[test]
    fn a_client_never_answered_fails_the_run_and_says_why() {
        let serial = NeverAnswered {
            silent: 3,
            ..NeverAnswered::default()
        };
        let r = report(4, 1, 100, serial);
        let lines = verdict(&r, false);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with(
                "3 of 4 clients were never answered: the server sent no greeting, to 3 of them"
            ),
            "{lines:?}"
        );
        assert!(lines[0].ends_with("pass --allow-errors to exit 0 anyway"));
        assert!(verdict(&r, true).is_empty());

        // Nothing answered: always a failure.
        let framing = NeverAnswered {
            wrong_greeting: 2,
            ..NeverAnswered::default()
        };
        let mut r = report(2, 0, 0, framing);
        r.errors = ErrorCounts {
            wrong_reply: 40,
            total: 40,
            ..ErrorCounts::default()
        };
        r.sent = 40;
        let lines = verdict(&r, true);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("none of the 2 clients"), "{lines:?}");
        assert!(lines[0].contains("does --framing match"), "{lines:?}");
        assert_eq!(verdict(&r, false).len(), 2, "and the errors line");

        // Without a greeting, silence is no reply; causes come most
        // common first.
        let mixed = NeverAnswered {
            silent: 1,
            wrong_reply: 2,
            ..NeverAnswered::default()
        };
        let text = causes(&mixed, false);
        assert!(
            text.starts_with("replies came that were not the expected one, for 2 of them"),
            "{text}"
        );
        assert!(
            text.contains("; the server sent no reply, to 1 of them"),
            "{text}"
        );
        assert!(verdict(&report(1, 1, 5, NeverAnswered::default()), false).is_empty());
    }

    #[test]
    fn timeline_rows_cover_every_client_in_order() {
        let start = Instant::now();
        let s = |ms: u64| start + Duration::from_millis(ms);
        let span = |served, local: Option<SocketAddr>, requests| Span {
            connect: s(0),
            served,
            end: Some(s(3000)),
            local,
            requests,
        };
        let spans = vec![
            (2, vec![span(None, None, vec![])]),
            (0, vec![span(Some(s(1)), None, vec![])]),
        ];
        let (rows, queue) = timeline(3, start, spans, None);
        assert!(queue.is_none(), "no server log, no queue");
        assert_eq!(rows.iter().map(|r| r.client).collect::<Vec<_>>(), [0, 1, 2]);
        assert!(rows[1].connections.is_empty());
        assert_eq!(rows[0].connections[0].served_s, Some(0.001));
        assert_eq!(rows[2].connections[0].served_s, None);
        assert_eq!(rows[2].connections[0].end_s, 3.0);
    }

    /// A server in this process logged its handler calls: each request of
    /// the connection from the same address gets its call, in order, and
    /// its wait for it; connections from one address match in order.
    #[test]
    fn requests_are_matched_to_the_servers_calls_by_address_and_rank() {
        let start = Instant::now();
        let s = |ms: u64| start + Duration::from_millis(ms);
        let local: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let spans = vec![(
            0,
            vec![Span {
                connect: s(100),
                served: Some(s(101)),
                end: Some(s(1000)),
                local: Some(local),
                requests: vec![(s(110), s(420)), (s(420), s(730))],
            }],
        )];
        let logged = vec![
            LoggedConn {
                peer: local,
                opened: s(101),
                calls: vec![s(410), s(720)],
            },
            LoggedConn {
                peer: "127.0.0.1:40001".parse().unwrap(),
                opened: s(10),
                calls: vec![s(20)],
            },
        ];
        let (rows, queue) = timeline(1, start, spans, Some(logged));
        let requests = &rows[0].connections[0].requests;
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].handled_s, Some(0.41));
        assert_eq!(requests[1].handled_s, Some(0.72));
        let queue = queue.expect("a queue with a server log");
        assert_eq!(queue.len(), 2);
        assert!(
            (299_000..=301_000).contains(&queue.max()),
            "{}",
            queue.max()
        );
    }

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
