//! `compare --timeline`: who was served when, as plain text.
//!
//! One row per client across the run, per mode, on one time axis shared by
//! all modes, so a slower mode is also a longer row:
//!
//! ```text
//! serial: 1 of 2 clients served at a time ... (see the legend)
//!   client 0  ##############################                               served after 0.00 s
//!   client 1  ..............................##############################  served after 3.00 s
//! ```
//!
//! Plain ASCII only, so it reads on a classroom projector, in a pipe and
//! in a log. The picture of the same data is `timeline_plot.rs`.

use std::fmt::Write as _;

use super::report::{BenchReport, ClientTimeline, ConnectionSpan};
use super::units::{Ticks, duration_s};

/// Columns of the time axis: fits an 80-column terminal with the labels.
pub(super) const WIDTH: usize = 60;

/// Rows drawn per mode at most; the rest are counted in one line. A
/// thousand rows help no one on a projector; the JSON has them all.
pub(super) const MAX_ROWS: usize = 64;

/// A client being served: its connection open and answered.
const SERVED: char = '#';
/// A client connected (or connecting) and not served yet.
const WAITING: char = '.';
/// A request of a served client waiting for a worker or a loop: sent, and
/// its handler call not begun (known for `compare`'s own servers).
const QUEUED: char = ':';
/// A request outstanding, with no server's view of it: queued or being
/// handled, the client cannot tell (any server in another process).
const OUTSTANDING: char = '+';
/// A client done, or not connected yet.
const IDLE: char = ' ';
/// No record of this client (the run did not record a timeline).
const UNKNOWN: char = '?';

/// The end of the shared time axis, in seconds since each run's start:
/// the latest moment any mode recorded, or the longest run when none
/// recorded anything. Never 0, so the axis has a length.
pub(super) fn axis_end(rows: &[(String, BenchReport)]) -> f64 {
    rows.iter()
        .map(|(_, r)| {
            let recorded = r
                .timeline
                .iter()
                .flat_map(|c| &c.connections)
                .map(|s| s.end_s.max(s.served_s.unwrap_or(0.0)))
                .fold(0.0, f64::max);
            recorded.max(r.warmup_secs + r.duration_secs)
        })
        .fold(0.0, f64::max)
        .max(1e-3)
}

/// When a connection waited and when it was served, as `[from, to)` spans
/// in seconds: waiting from connect to service (or to the end, if never
/// served), served from service to the end.
pub(super) fn phases(c: &ConnectionSpan) -> ((f64, f64), Option<(f64, f64)>) {
    match c.served_s {
        Some(s) => ((c.connect_s, s), Some((s, c.end_s.max(s)))),
        None => ((c.connect_s, c.end_s.max(c.connect_s)), None),
    }
}

/// What a served connection's time holds besides service, one span per
/// request: waiting for a worker or a loop (`[sent, handled)`), or, with
/// no server log, outstanding (`[sent, answered)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Overlay {
    /// Queued for a worker or a loop.
    Queued,
    /// Outstanding, the server's side unknown.
    Outstanding,
}

/// The request spans of `c` that are not service, each with its kind.
pub(super) fn overlays(c: &ConnectionSpan) -> impl Iterator<Item = (Overlay, (f64, f64))> + '_ {
    c.requests.iter().filter_map(|r| match r.handled_s {
        Some(h) if h > r.sent_s => Some((Overlay::Queued, (r.sent_s, h))),
        Some(_) => None,
        None => Some((Overlay::Outstanding, (r.sent_s, r.answered_s))),
    })
}

/// How much of `[from, to)` falls in the cell `[a, b)`.
fn overlap((from, to): (f64, f64), a: f64, b: f64) -> f64 {
    (to.min(b) - from.max(a)).max(0.0)
}

/// Whether span `[from, to)` touches the cell `[a, b)`; a span of no
/// length still shows in the cell it falls in.
fn touches((from, to): (f64, f64), a: f64, b: f64) -> bool {
    if to > from {
        from < b && to > a
    } else {
        from >= a && from < b
    }
}

/// One client's row of `width` cells over `[0, end)` seconds. A cell
/// shows the state that filled most of it (a request queued for a worker
/// counts against the service around it); a state too short to fill any
/// of it still shows over idle, served first, so a short service is never
/// hidden.
fn cells(client: &ClientTimeline, end: f64, width: usize) -> String {
    (0..width)
        .map(|i| {
            let a = end * i as f64 / width as f64;
            // The last cell also holds the very end of the axis.
            let b = if i + 1 == width {
                f64::INFINITY
            } else {
                end * (i + 1) as f64 / width as f64
            };
            // Time in each state, and whether each touches the cell.
            let mut time = [0.0f64; 4];
            let mut seen = [false; 4];
            let states = [SERVED, QUEUED, OUTSTANDING, WAITING];
            for c in &client.connections {
                let (wait, service) = phases(c);
                if let Some(s) = service {
                    time[0] += overlap(s, a, b);
                    seen[0] |= touches(s, a, b);
                }
                for (kind, span) in overlays(c) {
                    let k = if kind == Overlay::Queued { 1 } else { 2 };
                    let t = overlap(span, a, b);
                    time[k] += t;
                    time[0] -= t;
                    seen[k] |= touches(span, a, b);
                }
                time[3] += overlap(wait, a, b);
                seen[3] |= touches(wait, a, b);
            }
            let most = (0..4)
                .filter(|&k| seen[k])
                .max_by(|&x, &y| time[x].total_cmp(&time[y]).then(y.cmp(&x)));
            most.map_or(IDLE, |k| states[k])
        })
        .collect()
}

/// A client with no record: unknown over its mode's run, nothing after.
fn unknown_row(r: &BenchReport, end: f64) -> String {
    let run = r.warmup_secs + r.duration_secs;
    let cells = ((run / end) * WIDTH as f64).ceil() as usize;
    let cells = cells.clamp(1, WIDTH);
    format!(
        "{}{}",
        UNKNOWN.to_string().repeat(cells),
        " ".repeat(WIDTH - cells)
    )
}

/// Seconds in ASCII: `3.00 s`, `250 ms`, `80 us`.
fn ascii_secs(secs: f64) -> String {
    duration_s(secs).replace("µs", "us")
}

/// What the row's end says: how long the client waited to be served.
fn summary(client: &ClientTimeline) -> String {
    let waits: Vec<(f64, bool)> = client
        .connections
        .iter()
        .map(|c| {
            let ((from, to), service) = phases(c);
            (to - from, service.is_some())
        })
        .collect();
    let longest = waits.iter().map(|(w, _)| *w).fold(0.0, f64::max);
    match waits.as_slice() {
        [] => "never connected".into(),
        [(w, true)] => format!("served after {}", ascii_secs(*w)),
        [(w, false)] => format!("never served, waited {}", ascii_secs(*w)),
        many => {
            let never = many.iter().filter(|(_, s)| !s).count();
            let mut s = format!(
                "{} connections, longest wait {}",
                many.len(),
                ascii_secs(longest)
            );
            if never > 0 {
                let _ = write!(s, ", {never} never served");
            }
            s
        }
    }
}

/// The axis: tick labels over a ruler, indented by `indent` columns.
fn axis(end: f64, width: usize, indent: usize) -> String {
    let ticks = Ticks::up_to(end, (width / 8).max(1));
    let mut labels = vec![' '; width + 12];
    // One mark per cell boundary: the axis' end is the boundary after the
    // last cell.
    let mut ruler = vec!['-'; width + 1];
    let mut free_from = 0;
    for v in ticks.values.iter().filter(|v| **v <= end * (1.0 + 1e-9)) {
        let col = ((v / end) * width as f64).round() as usize;
        let text = format!("{} s", ticks.label(*v));
        if col <= width {
            ruler[col] = '+';
        }
        if col >= free_from && col + text.len() <= labels.len() {
            for (i, ch) in text.chars().enumerate() {
                labels[col + i] = ch;
            }
            free_from = col + text.len() + 1;
        }
    }
    let pad = " ".repeat(indent);
    let labels: String = labels.into_iter().collect();
    let ruler: String = ruler.into_iter().collect();
    format!("{pad}{}\n{pad}{ruler}\n", labels.trim_end())
}

/// The timeline of every mode as text, on one time axis: a line per mode,
/// a row per client (at most [`MAX_ROWS`]), the axis, and a legend.
pub(super) fn render_text(rows: &[(String, BenchReport)]) -> String {
    let end = axis_end(rows);
    let most = rows.iter().map(|(_, r)| r.clients).max().unwrap_or(1);
    let name_width = format!("client {}", most.saturating_sub(1)).len();
    let indent = 2 + name_width + 2;
    let mut out = format!(
        "Who was served when ({WIDTH} columns = {}, {} each; every mode on the same axis):\n",
        ascii_secs(end),
        ascii_secs(end / WIDTH as f64)
    );
    out.push_str(&axis(end, WIDTH, indent));
    let mut unknown = false;
    // The marks drawn, so the legend names those and no others.
    let mut used = String::new();
    for (label, r) in rows {
        let _ = writeln!(
            out,
            "{label}: {} of {} clients served, run {}",
            r.clients_answered,
            r.clients,
            ascii_secs(r.warmup_secs + r.duration_secs)
        );
        for client in 0..r.clients.min(MAX_ROWS) {
            let name = format!("client {client}");
            let (row, note) = match r.timeline.iter().find(|c| c.client == client) {
                Some(c) => (cells(c, end, WIDTH), summary(c)),
                None => {
                    unknown = true;
                    (unknown_row(r, end), "not recorded".into())
                }
            };
            used.push_str(&row);
            let _ = writeln!(out, "  {name:<name_width$}  {row}  {note}");
        }
        if r.clients > MAX_ROWS {
            let _ = writeln!(
                out,
                "  ... {} more clients not drawn (--format json has every one)",
                r.clients - MAX_ROWS
            );
        }
    }
    out.push_str("legend:");
    for (mark, meaning) in [
        (SERVED, "being served"),
        (WAITING, "connected, waiting to be served"),
        (QUEUED, "request waiting for a worker or loop"),
        (
            OUTSTANDING,
            "request outstanding (served or queued: only the server knows)",
        ),
    ] {
        if used.contains(mark) {
            let _ = write!(out, " '{mark}' {meaning}  ");
        }
    }
    let _ = write!(out, " '{IDLE}' done or not connected");
    if unknown {
        let _ = write!(out, "   '{UNKNOWN}' not recorded");
    }
    out.push('\n');
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::bench::plot::tests::report;
    use crate::bench::report::RequestSpan;

    fn span(connect_s: f64, served_s: Option<f64>, end_s: f64) -> ConnectionSpan {
        ConnectionSpan {
            connect_s,
            served_s,
            end_s,
            requests: Vec::new(),
        }
    }

    fn client(client: usize, connections: Vec<ConnectionSpan>) -> ClientTimeline {
        ClientTimeline {
            client,
            connections,
        }
    }

    /// The lesson: `--clients 2 --messages 3 --delay-ms 1000`. Serial
    /// serves client 0 for 3 s while client 1 waits, then client 1;
    /// threads serve both at once.
    pub(in crate::bench) fn lesson_timelines() -> Vec<(String, BenchReport)> {
        let mut serial = report(2, 2, 6.0);
        serial.timeline = vec![
            client(0, vec![span(0.0, Some(0.001), 3.0)]),
            client(1, vec![span(0.0, Some(3.0), 6.0)]),
        ];
        let mut threads = report(2, 2, 3.0);
        threads.timeline = vec![
            client(0, vec![span(0.0, Some(0.001), 3.0)]),
            client(1, vec![span(0.0, Some(0.001), 3.0)]),
        ];
        vec![("serial".into(), serial), ("threads".into(), threads)]
    }

    /// The rows of `mode` in `text`: (client name, cells, note).
    pub(in crate::bench) fn rows_of<'t>(text: &'t str, mode: &str) -> Vec<&'t str> {
        text.lines()
            .skip_while(|l| !l.starts_with(&format!("{mode}:")))
            .skip(1)
            .take_while(|l| l.starts_with("  client"))
            .collect()
    }

    #[test]
    fn serial_makes_the_second_client_wait_and_threads_do_not() {
        let text = render_text(&lesson_timelines());
        assert!(text.is_ascii(), "{text}");
        let serial = rows_of(&text, "serial");
        let threads = rows_of(&text, "threads");
        assert_eq!(serial.len(), 2, "{text}");
        assert_eq!(threads.len(), 2, "{text}");
        let cells = |row: &str| row[12..12 + WIDTH].to_string();
        let half = "#".repeat(30);
        assert_eq!(
            cells(serial[0]),
            format!("{half}{}", " ".repeat(30)),
            "{text}"
        );
        assert_eq!(
            cells(serial[1]),
            format!("{}{half}", ".".repeat(30)),
            "{text}"
        );
        assert!(serial[1].ends_with("served after 3.00 s"), "{text}");
        for row in &threads {
            assert_eq!(cells(row), format!("{}{}", "#".repeat(30), " ".repeat(30)));
        }
        assert!(
            text.contains("serial: 2 of 2 clients served, run 6.00 s"),
            "{text}"
        );
        assert!(
            text.lines().nth(1).unwrap().trim_start().starts_with("0 s"),
            "{text}"
        );
        assert!(text.ends_with("' ' done or not connected\n"), "{text}");
    }

    #[test]
    fn a_client_never_served_waits_the_whole_run() {
        let mut r = report(2, 1, 3.0);
        r.timeline = vec![
            client(0, vec![span(0.0, Some(0.0), 3.0)]),
            client(1, vec![span(0.0, None, 3.0)]),
        ];
        let text = render_text(&[("serial".into(), r)]);
        let rows = rows_of(&text, "serial");
        assert!(rows[1].contains(&".".repeat(WIDTH)), "{text}");
        assert!(rows[1].ends_with("never served, waited 3.00 s"), "{text}");
    }

    #[test]
    fn unrecorded_clients_are_marked_not_drawn_as_idle() {
        let text = render_text(&[("pool".into(), report(3, 3, 1.0))]);
        let rows = rows_of(&text, "pool");
        assert_eq!(rows.len(), 3, "{text}");
        assert!(
            rows.iter().all(|r| r.contains(&"?".repeat(WIDTH))),
            "{text}"
        );
        assert!(text.contains("'?' not recorded"), "{text}");
    }

    #[test]
    fn many_clients_are_cut_with_a_count() {
        let text = render_text(&[("threads".into(), report(MAX_ROWS + 5, 1, 1.0))]);
        assert_eq!(rows_of(&text, "threads").len(), MAX_ROWS);
        assert!(text.contains("... 5 more clients not drawn"), "{text}");
    }

    /// event-workers with more clients than workers: every client is
    /// greeted at once, then its requests queue for a worker; an outside
    /// server's requests are only outstanding.
    #[test]
    fn queued_and_outstanding_requests_have_their_own_marks() {
        let request = |sent_s, handled_s, answered_s| RequestSpan {
            sent_s,
            handled_s,
            answered_s,
        };
        let mut queued = span(0.0, Some(0.0), 3.0);
        queued.requests = vec![request(0.0, Some(2.0), 2.5), request(2.5, Some(2.5), 3.0)];
        let mut outside = span(0.0, Some(0.0), 3.0);
        outside.requests = vec![request(0.0, None, 3.0)];
        let mut ew = report(2, 2, 3.0);
        ew.timeline = vec![client(0, vec![queued]), client(1, vec![outside])];
        let text = render_text(&[("event-workers".into(), ew)]);
        let rows = rows_of(&text, "event-workers");
        let cells = |row: &str| row[12..12 + WIDTH].to_string();
        assert_eq!(
            cells(rows[0]),
            format!("{}{}", ":".repeat(40), "#".repeat(20)),
            "{text}"
        );
        assert_eq!(cells(rows[1]), "+".repeat(WIDTH), "{text}");
        assert!(
            text.contains("':' request waiting for a worker or loop"),
            "{text}"
        );
        assert!(text.contains("'+' request outstanding"), "{text}");
        // Without requests of either kind, the legend does not name them.
        let plain = render_text(&lesson_timelines());
        assert!(!plain.contains("':'") && !plain.contains("'+'"), "{plain}");
    }

    #[test]
    fn short_connections_still_show() {
        let c = client(
            0,
            vec![
                span(0.10, Some(0.1000001), 0.1000002),
                span(0.5, Some(0.5), 0.5),
            ],
        );
        let row = cells(&c, 1.0, 10);
        assert_eq!(row, " #   #    ");
        assert!(summary(&c).starts_with("2 connections, longest wait"));
    }
}
