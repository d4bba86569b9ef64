//! The table of `compare`, for people: what a learner must see first.
//!
//! `bench`'s table lists a report's fields; a comparison must answer a
//! question instead: how did each mode treat the clients? So its first
//! columns are how many clients were served at all (`1/4`), how long a
//! client waited to be served (p99, counting a never-served client's whole
//! wait), then throughput and latency, which describe only the served.
//! Times are scaled (µs, ms, s). Every row has the same column widths,
//! fixed from the header and what is known before the runs, so a mode's
//! row can be printed the moment it finishes.

use std::fmt::Write as _;

use super::flags::Protocol;
use super::report::{BenchReport, LatencySummary};
use super::tally::ErrorCounts;
use super::units::{duration_s, duration_us, per_sec};

/// What decides the columns and their widths, known before any run.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Shape {
    /// The widest label (mode name), in characters.
    pub(super) label_width: usize,
    /// The most clients a row can have, for the width of `served`.
    pub(super) clients: usize,
    /// Some run opens a connection per message: show connections/s.
    pub(super) churn: bool,
    /// Some run speaks another protocol than echo: show it.
    pub(super) not_echo: bool,
    /// The servers log their handler calls (in-process): show each
    /// request's wait for a worker or a loop.
    pub(super) queue: bool,
    /// Each row is the median of several runs: show their spread.
    pub(super) repeat: bool,
}

impl Shape {
    /// The shape of a table of these finished rows.
    pub(super) fn of(rows: &[(String, BenchReport)]) -> Shape {
        Shape {
            label_width: rows
                .iter()
                .map(|(l, _)| l.chars().count())
                .max()
                .unwrap_or(0),
            clients: rows.iter().map(|(_, r)| r.clients).max().unwrap_or(0),
            churn: rows.iter().any(|(_, r)| r.churn),
            not_echo: rows.iter().any(|(_, r)| r.protocol != Protocol::Echo),
            queue: rows.iter().any(|(_, r)| r.queue_us.is_some()),
            repeat: rows.iter().any(|(_, r)| r.repeat.is_some()),
        }
    }
}

/// A cell's text, from a row's label and report.
type Cell = fn(&str, &BenchReport) -> String;

/// One column of the comparison.
struct Column {
    header: &'static str,
    /// Numbers align right, text left.
    right: bool,
    /// Shown for this shape of table?
    shown: fn(&Shape) -> bool,
    /// Width for this shape (the header's at least).
    width: fn(&Shape) -> usize,
    cell: Cell,
}

fn always(_: &Shape) -> bool {
    true
}

/// Wide enough for a scaled time (`999 µs`, `1.25 ms`, `12.5 s`).
fn time_width(_: &Shape) -> usize {
    7
}

/// A percentile of `s`, scaled, or `-` when nothing was measured.
fn time_cell(s: &LatencySummary, pick: fn(&LatencySummary) -> u64) -> String {
    if s.samples == 0 {
        "-".into()
    } else {
        duration_us(pick(s) as f64)
    }
}

/// `0`, or the total and the kinds that occurred: `3 (reset 2, timeout 1)`.
/// (`render.rs` has the same words for `bench`; this file reads no
/// renderer, so that `render.rs` can read it.)
fn errors(e: &ErrorCounts) -> String {
    if e.total == 0 {
        return "0".into();
    }
    let kinds: Vec<String> = e
        .kinds()
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    format!("{} ({})", e.total, kinds.join(", "))
}

/// The columns, left to right: what a learner must see first.
const COLUMNS: &[Column] = &[
    Column {
        header: "mode",
        right: false,
        shown: always,
        width: |s| s.label_width,
        cell: |l, _| l.to_string(),
    },
    Column {
        header: "served",
        right: true,
        shown: always,
        width: |s| 2 * s.clients.to_string().len() + 1,
        cell: |_, r| format!("{}/{}", r.clients_answered, r.clients),
    },
    Column {
        header: "wait p99",
        right: true,
        shown: always,
        width: time_width,
        cell: |_, r| time_cell(&r.wait_us, |s| s.p99),
    },
    Column {
        header: "queue p99",
        right: true,
        shown: |s| s.queue,
        width: time_width,
        cell: |_, r| {
            r.queue_us
                .as_ref()
                .map_or("-".into(), |q| time_cell(q, |s| s.p99))
        },
    },
    Column {
        header: "msgs/s",
        right: true,
        shown: always,
        width: |_| 7,
        cell: |_, r| per_sec(r.msgs_per_sec),
    },
    Column {
        header: "msgs/s min-max",
        right: true,
        shown: |s| s.repeat,
        width: |_| 15,
        cell: |_, r| {
            r.repeat.as_ref().map_or("-".into(), |s| {
                format!(
                    "{}-{}",
                    per_sec(s.msgs_per_sec.min),
                    per_sec(s.msgs_per_sec.max)
                )
            })
        },
    },
    Column {
        header: "conns/s",
        right: true,
        shown: |s| s.churn,
        width: |_| 7,
        cell: |_, r| per_sec(r.conns_per_sec),
    },
    Column {
        header: "latency p99",
        right: true,
        shown: always,
        width: time_width,
        cell: |_, r| time_cell(&r.latency_us, |s| s.p99),
    },
    Column {
        header: "latency p50",
        right: true,
        shown: always,
        width: time_width,
        cell: |_, r| time_cell(&r.latency_us, |s| s.p50),
    },
    Column {
        header: "latency max",
        right: true,
        shown: always,
        width: time_width,
        cell: |_, r| time_cell(&r.latency_us, |s| s.max),
    },
    Column {
        header: "wait p50",
        right: true,
        shown: always,
        width: time_width,
        cell: |_, r| time_cell(&r.wait_us, |s| s.p50),
    },
    Column {
        header: "wait max",
        right: true,
        shown: always,
        width: time_width,
        cell: |_, r| time_cell(&r.wait_us, |s| s.max),
    },
    Column {
        header: "sent",
        right: true,
        shown: always,
        width: |_| 6,
        cell: |_, r| r.sent.to_string(),
    },
    Column {
        header: "time",
        right: true,
        shown: always,
        width: time_width,
        cell: |_, r| duration_s(r.duration_secs),
    },
    Column {
        header: "protocol",
        right: false,
        shown: |s| s.not_echo,
        width: |_| 7,
        cell: |_, r| r.protocol.to_string(),
    },
    Column {
        header: "errors",
        right: false,
        shown: always,
        width: |_| 0,
        cell: |_, r| errors(&r.errors),
    },
];

/// The comparison table's layout: its columns and their widths, fixed
/// before the first row so rows can be printed one at a time.
pub(super) struct Layout {
    columns: Vec<(&'static Column, usize)>,
}

impl Layout {
    /// The columns a table of this shape shows, with their widths.
    pub(super) fn new(shape: &Shape) -> Layout {
        let columns = COLUMNS
            .iter()
            .filter(|c| (c.shown)(shape))
            .map(|c| (c, (c.width)(shape).max(c.header.len())))
            .collect();
        Layout { columns }
    }

    /// The header line, ending with a newline.
    pub(super) fn header(&self) -> String {
        self.line(self.columns.iter().map(|(c, _)| c.header.to_string()))
    }

    /// One mode's row, ending with a newline.
    pub(super) fn row(&self, label: &str, report: &BenchReport) -> String {
        self.line(self.columns.iter().map(|(c, _)| (c.cell)(label, report)))
    }

    fn line(&self, cells: impl Iterator<Item = String>) -> String {
        let mut s = String::new();
        for (i, ((column, width), v)) in self.columns.iter().zip(cells).enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            let width = *width;
            if column.right {
                let _ = write!(s, "{v:>width$}");
            } else {
                let _ = write!(s, "{v:<width$}");
            }
        }
        let mut line = s.trim_end().to_string();
        line.push('\n');
        line
    }
}

/// What the first columns mean, printed under the table for people (not
/// part of [`render_comparison`](super::render_comparison), whose output
/// scripts count in lines).
pub(super) fn notes(shape: &Shape) -> String {
    let mut notes = String::from(
        "\
served: clients that got at least one answer, of all clients. A client never served sends
  nothing, so msgs/s and latency describe only the served ones; its wait (connect to first
  byte of service) lasts until the run ends, and wait p99 shows it.
",
    );
    if shape.queue {
        notes.push_str(
            "\
queue: how long a request of a served client waited for a worker or a loop before its
  handler call began (its latency includes it).
",
        );
    }
    if shape.repeat {
        notes.push_str(
            "\
each row is the run with the median msgs/s of its repeats; min-max is their spread.
",
        );
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::plot::tests::lesson_rows;

    #[test]
    fn the_table_leads_with_who_was_served_and_scales_times() {
        let rows = lesson_rows();
        let layout = Layout::new(&Shape::of(&rows));
        let mut table = layout.header();
        for (l, r) in &rows {
            table.push_str(&layout.row(l, r));
        }
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(
            lines[0].starts_with("mode     served  wait p99   msgs/s  latency p99"),
            "{table}"
        );
        let serial: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            &serial[..6],
            ["serial", "1/4", "3.00", "s", "333", "73"],
            "{table}"
        );
        assert!(lines[2].starts_with("threads     4/4    120 µs"), "{table}");
        // Every row is as wide as the others up to the last column.
        let errors_at = lines[0].find("errors").unwrap();
        for line in &lines[1..] {
            assert_eq!(line.chars().count(), errors_at + 1, "{table}");
        }
    }

    #[test]
    fn nothing_measured_is_a_dash_not_zero() {
        let mut rows = lesson_rows();
        rows[0].1.wait_us = LatencySummary::default();
        let layout = Layout::new(&Shape::of(&rows));
        let row = layout.row("serial", &rows[0].1);
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[2], "-", "{row}");
    }

    #[test]
    fn errors_are_counted_by_kind() {
        let mut e = ErrorCounts::default();
        assert_eq!(errors(&e), "0");
        e.reset = 2;
        e.timeout = 1;
        e.total = 3;
        assert_eq!(errors(&e), "3 (reset 2, timeout 1)");
    }

    #[test]
    fn churn_and_other_protocols_add_their_columns() {
        let mut rows = lesson_rows();
        rows[1].1.churn = true;
        rows[1].1.protocol = Protocol::Daytime;
        let header = Layout::new(&Shape::of(&rows)).header();
        assert!(
            header.contains("conns/s") && header.contains("protocol"),
            "{header}"
        );
        let header = Layout::new(&Shape::of(&lesson_rows())).header();
        assert!(!header.contains("conns/s") && !header.contains("protocol"));
    }
}
