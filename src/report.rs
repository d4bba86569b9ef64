//! Showing bench results: a table for people, JSON and CSV for scripts,
//! and an SVG chart for comparing modes.
//!
//! One report and a side-by-side comparison share the same renderers: a
//! single report is a comparison of one row without a label, so the two
//! outputs can never drift apart.

use std::fmt;
use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::Serialize;

use crate::bench::{BenchReport, ErrorCounts, Protocol};

/// Output format of `bench` and `compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns, for people.
    #[default]
    Table,
    /// The [`BenchReport`] schema; an array of labelled reports for compare.
    Json,
    /// A header line and one line per report.
    Csv,
}

/// Renders one report, ending with a newline.
pub fn render(report: &BenchReport, format: OutputFormat) -> String {
    match format {
        OutputFormat::Table => table(&[(None, report)]),
        OutputFormat::Json => json_line(report),
        OutputFormat::Csv => csv(&[(None, report)]),
    }
}

/// Renders several reports side by side, each with a label (a mode name in
/// `compare`), ending with a newline. JSON is an array of report objects,
/// each with an extra `"label"` key first; CSV and the table get a first
/// `label` column.
pub fn render_comparison(rows: &[(String, BenchReport)], format: OutputFormat) -> String {
    let rows: Vec<(Option<&str>, &BenchReport)> =
        rows.iter().map(|(l, r)| (Some(l.as_str()), r)).collect();
    match format {
        OutputFormat::Table => table(&rows),
        OutputFormat::Json => {
            #[derive(Serialize)]
            struct Labelled<'a> {
                label: &'a str,
                #[serde(flatten)]
                report: &'a BenchReport,
            }
            let items: Vec<Labelled<'_>> = rows
                .iter()
                .map(|(l, r)| Labelled {
                    label: l.unwrap_or(""),
                    report: r,
                })
                .collect();
            let mut s = serde_json::to_string_pretty(&items).expect("reports serialize");
            s.push('\n');
            s
        }
        OutputFormat::Csv => csv(&rows),
    }
}

fn json_line(report: &BenchReport) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("reports serialize");
    s.push('\n');
    s
}

/// `"0"` for no errors, else the total and the kinds that occurred, e.g.
/// `3 (reset 2, timeout 1)`: every kind is visible without a column each.
pub fn error_summary(e: &ErrorCounts) -> String {
    if e.total == 0 {
        "0".into()
    } else {
        format!("{} ({})", e.total, error_breakdown(e))
    }
}

/// The kinds with a count above zero, e.g. `reset 2, timeout 1`, or `none`.
pub fn error_breakdown(e: &ErrorCounts) -> String {
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

/// Aligned table: text columns to the left, numbers to the right.
fn table(rows: &[(Option<&str>, &BenchReport)]) -> String {
    let labelled = rows.iter().any(|(l, _)| l.is_some());
    let churn = rows.iter().any(|(_, r)| r.churn);
    // Only shown when it is not the usual echo, so echo tables stay as
    // they were.
    let protocol = rows.iter().any(|(_, r)| r.protocol != Protocol::Echo);
    // (header, right-aligned, cell)
    type Col<'a> = (
        &'a str,
        bool,
        Box<dyn Fn(Option<&str>, &BenchReport) -> String>,
    );
    let mut cols: Vec<Col<'_>> = Vec::new();
    if labelled {
        // `compare` labels each row with the mode it measured.
        cols.push(("mode", false, Box::new(|l, _| l.unwrap_or("").to_string())));
    }
    cols.push(("addr", false, Box::new(|_, r| r.addr.clone())));
    cols.push(("clients", true, Box::new(|_, r| r.clients.to_string())));
    // How many were served at all: serial mode answers one client, a pool
    // `workers`, and the rate is theirs alone.
    cols.push((
        "answered",
        true,
        Box::new(|_, r| r.clients_answered.to_string()),
    ));
    if protocol {
        cols.push(("protocol", false, Box::new(|_, r| r.protocol.to_string())));
    }
    cols.push(("framing", false, Box::new(|_, r| r.framing.to_string())));
    cols.push(("size", true, Box::new(|_, r| r.size.to_string())));
    cols.push((
        "secs",
        true,
        Box::new(|_, r| format!("{:.2}", r.duration_secs)),
    ));
    if churn {
        cols.push(("conns/s", true, Box::new(|_, r| rate(r.conns_per_sec))));
    }
    cols.push(("msgs/s", true, Box::new(|_, r| rate(r.msgs_per_sec))));
    cols.push((
        "p50 us",
        true,
        Box::new(|_, r| r.latency_us.p50.to_string()),
    ));
    cols.push((
        "p90 us",
        true,
        Box::new(|_, r| r.latency_us.p90.to_string()),
    ));
    cols.push((
        "p99 us",
        true,
        Box::new(|_, r| r.latency_us.p99.to_string()),
    ));
    cols.push((
        "p99.9 us",
        true,
        Box::new(|_, r| r.latency_us.p999.to_string()),
    ));
    cols.push((
        "max us",
        true,
        Box::new(|_, r| r.latency_us.max.to_string()),
    ));
    cols.push(("sent", true, Box::new(|_, r| r.sent.to_string())));
    cols.push(("errors", false, Box::new(|_, r| error_summary(&r.errors))));

    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|(l, r)| cols.iter().map(|(_, _, f)| f(*l, r)).collect())
        .collect();
    let width = |c: usize| {
        cells
            .iter()
            .map(|row| row[c].chars().count())
            .chain([cols[c].0.len()])
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
            if cols[c].1 {
                let _ = write!(s, "{v:>w$}");
            } else {
                let _ = write!(s, "{v:<w$}");
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&mut cols.iter().map(|(h, _, _)| h.to_string()));
    for row in &cells {
        line(&mut row.iter().cloned());
    }
    out
}

const CSV_HEADER: &str = "label,addr,clients,threads,framing,size,churn,messages_per_client,\
warmup_secs,duration_secs,sent,replies_ok,abandoned,connections,msgs_per_sec,conns_per_sec,\
p50_us,p90_us,p99_us,p999_us,max_us,mean_us,samples,err_refused,err_reset,err_timeout,\
err_wrong_reply,err_closed_early,err_other,err_total,protocol,clients_answered";

/// Quotes a CSV field when it needs it (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv(rows: &[(Option<&str>, &BenchReport)]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for (label, r) in rows {
        let e = &r.errors;
        let l = &r.latency_us;
        let fields = [
            csv_field(label.unwrap_or("")),
            csv_field(&r.addr),
            r.clients.to_string(),
            r.threads.to_string(),
            r.framing.to_string(),
            r.size.to_string(),
            r.churn.to_string(),
            r.messages_per_client
                .map_or(String::new(), |m| m.to_string()),
            format!("{:.3}", r.warmup_secs),
            format!("{:.3}", r.duration_secs),
            r.sent.to_string(),
            r.replies_ok.to_string(),
            r.abandoned.to_string(),
            r.connections.to_string(),
            format!("{:.1}", r.msgs_per_sec),
            format!("{:.1}", r.conns_per_sec),
            l.p50.to_string(),
            l.p90.to_string(),
            l.p99.to_string(),
            l.p999.to_string(),
            l.max.to_string(),
            format!("{:.1}", l.mean),
            l.samples.to_string(),
            e.refused.to_string(),
            e.reset.to_string(),
            e.timeout.to_string(),
            e.wrong_reply.to_string(),
            e.closed_early.to_string(),
            e.other.to_string(),
            e.total.to_string(),
            // Last, so the columns scripts already read keep their places.
            r.protocol.to_string(),
            r.clients_answered.to_string(),
        ];
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

/// The chart could not be drawn or written.
#[derive(Debug)]
pub struct PlotError(String);

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot draw the plot: {}", self.0)
    }
}

impl std::error::Error for PlotError {}

fn plot_err(e: impl fmt::Display) -> PlotError {
    PlotError(e.to_string())
}

/// Draws throughput (msgs/s, or connections/s for churn runs) and p99
/// latency per label as two bar charts side by side in one SVG file: the
/// two numbers that decide between modes, at a glance.
pub fn plot_svg(rows: &[(String, BenchReport)], path: &Path) -> Result<(), PlotError> {
    if rows.is_empty() {
        return Err(PlotError("no results to plot".into()));
    }
    let labels: Vec<&str> = rows.iter().map(|(l, _)| l.as_str()).collect();
    let churn = rows.iter().all(|(_, r)| r.churn);
    let throughput: Vec<f64> = rows
        .iter()
        .map(|(_, r)| {
            if churn {
                r.conns_per_sec
            } else {
                r.msgs_per_sec
            }
        })
        .collect();
    let p99: Vec<f64> = rows.iter().map(|(_, r)| r.latency_us.p99 as f64).collect();
    let width = 420 + 90 * rows.len() as u32;
    let root = SVGBackend::new(path, (width * 2, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let (left, right) = root.split_horizontally(width);
    let title = if churn {
        "throughput (connections/s)"
    } else {
        "throughput (messages/s)"
    };
    bars(&left, title, &labels, &throughput, &BLUE)?;
    bars(&right, "p99 latency (µs)", &labels, &p99, &RED)?;
    root.present().map_err(plot_err)?;
    Ok(())
}

fn bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    labels: &[&str],
    values: &[f64],
    color: &RGBColor,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    // Segments 0..=n-1: one slot per label.
    let n = labels.len() as u32;
    let top = values.iter().cloned().fold(0.0_f64, f64::max).max(1.0) * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d((0..n.saturating_sub(1)).into_segmented(), 0.0..top)
        .map_err(plot_err)?;
    let formatter = |v: &SegmentValue<u32>| match v {
        SegmentValue::CenterOf(i) => labels.get(*i as usize).unwrap_or(&"").to_string(),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(labels.len())
        .x_label_formatter(&formatter)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(plot_err)?;
    chart
        .draw_series(values.iter().enumerate().map(|(i, v)| {
            let i = i as u32;
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), *v),
                ],
                color.filled(),
            );
            bar.set_margin(0, 0, 12, 12);
            bar
        }))
        .map_err(plot_err)?;
    chart
        .draw_series(values.iter().enumerate().map(|(i, v)| {
            Text::new(
                format!("{v:.0}"),
                (SegmentValue::CenterOf(i as u32), *v),
                ("sans-serif", 15)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Center, VPos::Bottom)),
            )
        }))
        .map_err(plot_err)?;
    Ok(())
}
