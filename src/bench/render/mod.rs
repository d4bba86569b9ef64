//! Showing reports: a table for people, JSON and CSV for scripts.
//!
//! One report and a side-by-side comparison share the CSV and JSON
//! renderers: a single report is a comparison of one row without a label,
//! so the two outputs can never drift apart. The table and the CSV are
//! drawn from one list of columns, [`COLUMNS`], so a new report field is
//! one entry there; JSON is the report's serde form. A comparison's table
//! answers another question (how did each mode treat the clients?) and has
//! its own columns, in `compare_table.rs`.

use std::fmt::Write as _;

use serde::Serialize;

use super::compare_table::{Layout, Shape};
use super::flags::{OutputFormat, Protocol};
use super::report::{BenchReport, LatencySummary};
use super::tally::ErrorCounts;
use super::units::duration_us;

/// Renders one report in `format`, ending with a newline: what `bench`
/// prints, for scripts that run the generator themselves.
pub fn render(report: &BenchReport, format: OutputFormat) -> String {
    match format {
        OutputFormat::Table => table(&[(None, report)]),
        OutputFormat::Json => json_line(report),
        OutputFormat::Csv => csv(&[(None, report)]),
    }
}

/// Renders several reports side by side, each with a label (a mode name in
/// `compare`), ending with a newline, so runs can be read against each
/// other. JSON is an array of report objects, each with an extra `"label"`
/// key first; CSV gets a first `label` column. The table is compare's own:
/// it leads with what decides between modes (clients served of all, wait
/// for service, throughput, latency), with times scaled to µs, ms or s.
pub fn render_comparison(rows: &[(String, BenchReport)], format: OutputFormat) -> String {
    let stream = ComparisonStream::new(format, &Shape::of(rows));
    let mut out = stream.header();
    for (label, report) in rows {
        out.push_str(&stream.row(label, report));
    }
    out.push_str(&stream.end(rows));
    out
}

/// A comparison printed while it runs: the header first, then each
/// mode's row the moment it is measured (table and CSV), and for JSON,
/// which is one document, the whole array at the end. Concatenated, the
/// pieces are exactly [`render_comparison`].
pub(super) struct ComparisonStream {
    format: OutputFormat,
    layout: Layout,
}

impl ComparisonStream {
    /// A stream for rows of this `shape`, known before the first run.
    pub(super) fn new(format: OutputFormat, shape: &Shape) -> ComparisonStream {
        ComparisonStream {
            format,
            layout: Layout::new(shape),
        }
    }

    /// What comes before any row.
    pub(super) fn header(&self) -> String {
        match self.format {
            OutputFormat::Table => self.layout.header(),
            OutputFormat::Csv => csv(&[]),
            OutputFormat::Json => String::new(),
        }
    }

    /// One mode's row, as soon as it is known.
    pub(super) fn row(&self, label: &str, report: &BenchReport) -> String {
        match self.format {
            OutputFormat::Table => self.layout.row(label, report),
            OutputFormat::Csv => {
                let both = csv(&[(Some(label), report)]);
                both.split_once('\n')
                    .map_or(both.clone(), |(_, row)| row.to_string())
            }
            OutputFormat::Json => String::new(),
        }
    }

    /// What comes after the last row: for JSON, every row.
    pub(super) fn end(&self, rows: &[(String, BenchReport)]) -> String {
        if self.format != OutputFormat::Json {
            return String::new();
        }
        #[derive(Serialize)]
        struct Labelled<'a> {
            label: &'a str,
            #[serde(flatten)]
            report: &'a BenchReport,
        }
        let items: Vec<Labelled<'_>> = rows
            .iter()
            .map(|(label, report)| Labelled { label, report })
            .collect();
        let mut s = serde_json::to_string_pretty(&items).expect("reports serialize");
        s.push('\n');
        s
    }
}

fn json_line(report: &BenchReport) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("reports serialize");
    s.push('\n');
    s
}

/// `"0"` for no errors, else the total and the kinds that occurred, e.g.
/// `3 (reset 2, timeout 1)`: every kind is visible without a column each.
fn error_summary(e: &ErrorCounts) -> String {
    if e.total == 0 {
        "0".into()
    } else {
        format!("{} ({})", e.total, error_breakdown(e))
    }
}

/// The kinds with a count above zero, e.g. `reset 2, timeout 1`, or `none`.
pub(super) fn error_breakdown(e: &ErrorCounts) -> String {
    let parts: Vec<String> = e
        .kinds()
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

/// Rates as people read them: whole numbers, but with decimals where the
/// lesson's slow runs (1 or 2 msgs/s) would otherwise round away the point.
fn rate(v: f64) -> String {
    if v < 100.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.0}")
    }
}

/// One row: its label (`compare`'s mode, none for a single report) and its
/// report.
type Row<'a> = (Option<&'a str>, &'a BenchReport);

/// A cell's text, from a row's label and report.
type Cell = fn(Option<&str>, &BenchReport) -> String;

/// When the table shows a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Show {
    Always,
    /// Only for a comparison, whose rows are labelled.
    Labelled,
    /// Only when some row is a churn run.
    Churn,
    /// Only when some row is not echo, so echo tables stay as they were.
    NotEcho,
    /// Only when some row is an open-loop run (`--rate`).
    Rate,
    /// Only when some row knows its requests' waits for a worker or a
    /// loop (`compare`'s own servers).
    Queue,
    /// Only when some row is the median of several runs (`--repeat`).
    Repeat,
}

/// How a report field appears in the table, for people.
struct TableColumn {
    header: &'static str,
    /// Position among the table's columns, left to right: the table groups
    /// fields for reading, while the CSV keeps the order scripts know.
    place: u8,
    /// Numbers align right, text left.
    right: bool,
    show: Show,
    /// The cell, when it differs from the CSV's (rounded for reading).
    cell: Option<Cell>,
}

/// One report field: its CSV column and, if people need it, its table
/// column.
struct Column {
    csv: &'static str,
    cell: Cell,
    table: Option<TableColumn>,
}

/// A table column that shows the CSV cell as it is.
const fn shown(header: &'static str, place: u8, right: bool) -> Option<TableColumn> {
    Some(TableColumn {
        header,
        place,
        right,
        show: Show::Always,
        cell: None,
    })
}

/// Every column, in CSV order: the only list to extend for a new field.
/// New columns go last, so the columns scripts already read keep their
/// places.
const COLUMNS: &[Column] = &[
    Column {
        csv: "label",
        cell: |l, _| l.unwrap_or("").to_string(),
        // `compare` labels each row with the mode it measured.
        table: Some(TableColumn {
            header: "mode",
            place: 0,
            right: false,
            show: Show::Labelled,
            cell: None,
        }),
    },
    Column {
        csv: "addr",
        cell: |_, r| r.addr.clone(),
        table: shown("addr", 1, false),
    },
    Column {
        csv: "clients",
        cell: |_, r| r.clients.to_string(),
        table: shown("clients", 2, true),
    },
    Column {
        csv: "threads",
        cell: |_, r| r.threads.to_string(),
        table: None,
    },
    Column {
        csv: "framing",
        cell: |_, r| r.framing.to_string(),
        table: shown("framing", 6, false),
    },
    Column {
        csv: "size",
        cell: |_, r| r.size.to_string(),
        table: shown("size", 7, true),
    },
    Column {
        csv: "churn",
        cell: |_, r| r.churn.to_string(),
        table: None,
    },
    Column {
        csv: "messages_per_client",
        cell: |_, r| {
            r.messages_per_client
                .map_or(String::new(), |m| m.to_string())
        },
        table: None,
    },
    Column {
        csv: "warmup_secs",
        cell: |_, r| format!("{:.3}", r.warmup_secs),
        table: None,
    },
    Column {
        csv: "duration_secs",
        cell: |_, r| format!("{:.3}", r.duration_secs),
        table: Some(TableColumn {
            header: "secs",
            place: 8,
            right: true,
            show: Show::Always,
            cell: Some(|_, r| format!("{:.2}", r.duration_secs)),
        }),
    },
    Column {
        csv: "sent",
        cell: |_, r| r.sent.to_string(),
        table: shown("sent", 19, true),
    },
    Column {
        csv: "replies_ok",
        cell: |_, r| r.replies_ok.to_string(),
        table: None,
    },
    Column {
        csv: "abandoned",
        cell: |_, r| r.abandoned.to_string(),
        table: None,
    },
    Column {
        csv: "connections",
        cell: |_, r| r.connections.to_string(),
        table: None,
    },
    Column {
        csv: "msgs_per_sec",
        cell: |_, r| format!("{:.1}", r.msgs_per_sec),
        table: Some(TableColumn {
            header: "msgs/s",
            place: 11,
            right: true,
            show: Show::Always,
            cell: Some(|_, r| rate(r.msgs_per_sec)),
        }),
    },
    Column {
        csv: "conns_per_sec",
        cell: |_, r| format!("{:.1}", r.conns_per_sec),
        table: Some(TableColumn {
            header: "conns/s",
            place: 10,
            right: true,
            show: Show::Churn,
            cell: Some(|_, r| rate(r.conns_per_sec)),
        }),
    },
    Column {
        csv: "p50_us",
        cell: |_, r| r.latency_us.p50.to_string(),
        table: human("p50", 12, |_, r| micros(&r.latency_us, |s| s.p50)),
    },
    Column {
        csv: "p90_us",
        cell: |_, r| r.latency_us.p90.to_string(),
        table: human("p90", 13, |_, r| micros(&r.latency_us, |s| s.p90)),
    },
    Column {
        csv: "p99_us",
        cell: |_, r| r.latency_us.p99.to_string(),
        table: human("p99", 14, |_, r| micros(&r.latency_us, |s| s.p99)),
    },
    Column {
        csv: "p999_us",
        cell: |_, r| r.latency_us.p999.to_string(),
        table: human("p99.9", 15, |_, r| micros(&r.latency_us, |s| s.p999)),
    },
    Column {
        csv: "max_us",
        cell: |_, r| r.latency_us.max.to_string(),
        table: human("max", 16, |_, r| micros(&r.latency_us, |s| s.max)),
    },
    Column {
        csv: "mean_us",
        cell: |_, r| format!("{:.1}", r.latency_us.mean),
        table: None,
    },
    Column {
        csv: "samples",
        cell: |_, r| r.latency_us.samples.to_string(),
        table: None,
    },
    Column {
        csv: "err_refused",
        cell: |_, r| r.errors.refused.to_string(),
        table: None,
    },
    Column {
        csv: "err_reset",
        cell: |_, r| r.errors.reset.to_string(),
        table: None,
    },
    Column {
        csv: "err_timeout",
        cell: |_, r| r.errors.timeout.to_string(),
        table: None,
    },
    Column {
        csv: "err_wrong_reply",
        cell: |_, r| r.errors.wrong_reply.to_string(),
        table: None,
    },
    Column {
        csv: "err_closed_early",
        cell: |_, r| r.errors.closed_early.to_string(),
        table: None,
    },
    Column {
        csv: "err_other",
        cell: |_, r| r.errors.other.to_string(),
        table: None,
    },
    Column {
        csv: "err_total",
        cell: |_, r| r.errors.total.to_string(),
        table: Some(TableColumn {
            header: "errors",
            place: 20,
            right: false,
            show: Show::Always,
            cell: Some(|_, r| error_summary(&r.errors)),
        }),
    },
    Column {
        csv: "protocol",
        cell: |_, r| r.protocol.to_string(),
        table: Some(TableColumn {
            header: "protocol",
            place: 5,
            right: false,
            show: Show::NotEcho,
            cell: None,
        }),
    },
    Column {
        csv: "clients_answered",
        cell: |_, r| r.clients_answered.to_string(),
        // How many were served at all: serial mode answers one client, a
        // pool `workers`, and the rate is theirs alone.
        table: shown("answered", 3, true),
    },
    Column {
        csv: "clients_unanswered",
        cell: |_, r| r.clients_unanswered.to_string(),
        // The clients that waited the whole run without a greeting: next
        // to `answered`, so a rate of the few is not read as everyone's.
        table: shown("unanswered clients", 4, true),
    },
    Column {
        csv: "wait_p50_us",
        cell: |_, r| r.wait_us.p50.to_string(),
        table: None,
    },
    Column {
        csv: "wait_p90_us",
        cell: |_, r| r.wait_us.p90.to_string(),
        table: None,
    },
    Column {
        csv: "wait_p99_us",
        cell: |_, r| r.wait_us.p99.to_string(),
        // What the slowest clients lived through before any service: the
        // figure serial mode's latency percentiles cannot show.
        table: human("wait p99", 17, |_, r| micros(&r.wait_us, |s| s.p99)),
    },
    Column {
        csv: "wait_max_us",
        cell: |_, r| r.wait_us.max.to_string(),
        table: None,
    },
    Column {
        csv: "unanswered",
        cell: |_, r| r.unanswered.to_string(),
        table: None,
    },
    Column {
        csv: "rate",
        cell: |_, r| r.rate.map_or(String::new(), |v| format!("{v:.1}")),
        // The rate asked for, next to the rate achieved.
        table: Some(TableColumn {
            header: "rate",
            place: 9,
            right: true,
            show: Show::Rate,
            cell: Some(|_, r| r.rate.map_or(String::new(), rate)),
        }),
    },
    Column {
        csv: "queue_p50_us",
        cell: |_, r| queue(r, |s| s.p50),
        table: None,
    },
    Column {
        csv: "queue_p99_us",
        cell: |_, r| queue(r, |s| s.p99),
        // A request's wait for a worker or a loop: waiting, though the
        // client was greeted long ago.
        table: Some(TableColumn {
            header: "queue p99",
            place: 18,
            right: true,
            show: Show::Queue,
            cell: Some(|_, r| {
                r.queue_us
                    .as_ref()
                    .map_or("-".into(), |q| micros(q, |s| s.p99))
            }),
        }),
    },
    Column {
        csv: "queue_max_us",
        cell: |_, r| queue(r, |s| s.max),
        table: None,
    },
    Column {
        csv: "runs",
        cell: |_, r| r.repeat.as_ref().map_or(1, |s| s.runs).to_string(),
        table: None,
    },
    Column {
        csv: "msgs_per_sec_min",
        cell: |_, r| spread(r, |s| s.msgs_per_sec.min),
        table: Some(TableColumn {
            header: "msgs/s min-max",
            place: 21,
            right: true,
            show: Show::Repeat,
            cell: Some(|_, r| {
                r.repeat.as_ref().map_or(String::new(), |s| {
                    format!("{}-{}", rate(s.msgs_per_sec.min), rate(s.msgs_per_sec.max))
                })
            }),
        }),
    },
    Column {
        csv: "msgs_per_sec_median",
        cell: |_, r| spread(r, |s| s.msgs_per_sec.median),
        table: None,
    },
    Column {
        csv: "msgs_per_sec_max",
        cell: |_, r| spread(r, |s| s.msgs_per_sec.max),
        table: None,
    },
];

/// A figure of `--repeat`'s spread for the CSV; empty for one run.
fn spread(r: &BenchReport, pick: fn(&super::report::Spread) -> f64) -> String {
    r.repeat
        .as_ref()
        .map_or(String::new(), |s| format!("{:.1}", pick(s)))
}

/// A table column in human units (µs, ms, s) from a function of the report.
const fn human(header: &'static str, place: u8, cell: Cell) -> Option<TableColumn> {
    Some(TableColumn {
        header,
        place,
        right: true,
        show: Show::Always,
        cell: Some(cell),
    })
}

/// A time of `s` in µs, in human units; `-` when nothing was measured.
fn micros(s: &LatencySummary, pick: fn(&LatencySummary) -> u64) -> String {
    if s.samples == 0 {
        "-".into()
    } else {
        duration_us(pick(s) as f64)
    }
}

/// A queue time of `r` in µs for the CSV; empty when not known.
fn queue(r: &BenchReport, pick: fn(&LatencySummary) -> u64) -> String {
    r.queue_us
        .as_ref()
        .map_or(String::new(), |q| pick(q).to_string())
}

/// Aligned table: text columns to the left, numbers to the right.
fn table(rows: &[Row<'_>]) -> String {
    let labelled = rows.iter().any(|(l, _)| l.is_some());
    let churn = rows.iter().any(|(_, r)| r.churn);
    let protocol = rows.iter().any(|(_, r)| r.protocol != Protocol::Echo);
    let open_loop = rows.iter().any(|(_, r)| r.rate.is_some());
    let queued = rows.iter().any(|(_, r)| r.queue_us.is_some());
    let repeated = rows.iter().any(|(_, r)| r.repeat.is_some());
    let mut cols: Vec<(&TableColumn, Cell)> = COLUMNS
        .iter()
        .filter_map(|c| c.table.as_ref().map(|t| (t, t.cell.unwrap_or(c.cell))))
        .filter(|(t, _)| match t.show {
            Show::Always => true,
            Show::Labelled => labelled,
            Show::Churn => churn,
            Show::NotEcho => protocol,
            Show::Rate => open_loop,
            Show::Queue => queued,
            Show::Repeat => repeated,
        })
        .collect();
    cols.sort_by_key(|(t, _)| t.place);

    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|(l, r)| cols.iter().map(|(_, cell)| cell(*l, r)).collect())
        .collect();
    let width = |c: usize| {
        cells
            .iter()
            .map(|row| row[c].chars().count())
            .chain([cols[c].0.header.len()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..cols.len()).map(width).collect();
    let mut out = String::new();
    let mut line = |values: &mut dyn Iterator<Item = String>| {
        let mut s = String::new();
        for (c, v) in values.enumerate() {
            if c > 0 {
                s.push_str("  ");
            }
            let w = widths[c];
            if cols[c].0.right {
                let _ = write!(s, "{v:>w$}");
            } else {
                let _ = write!(s, "{v:<w$}");
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&mut cols.iter().map(|(t, _)| t.header.to_string()));
    for row in &cells {
        line(&mut row.iter().cloned());
    }
    out
}

/// Quotes a CSV field when it needs it (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv(rows: &[Row<'_>]) -> String {
    let header: Vec<&str> = COLUMNS.iter().map(|c| c.csv).collect();
    let mut out = header.join(",");
    out.push('\n');
    for (label, r) in rows {
        let fields: Vec<String> = COLUMNS
            .iter()
            .map(|c| csv_field(&(c.cell)(*label, r)))
            .collect();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests;
