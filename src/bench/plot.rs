//! The chart of `compare --plot`: wait for service, throughput and latency
//! per mode, side by side (in the table's order), each bar marked with how
//! many clients were answered at all.
//!
//! Throughput and latency alone flatter a server that serves few clients
//! well: serial mode with 1 of 4 clients answered shows a fine latency,
//! because the three it never served sent nothing to measure. The wait
//! panel shows what those three lived through, and `answered 1/4` on every
//! bar says why the other two panels look as they do.

use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::caption::RunParams;
pub use super::picture::PlotError;
use super::picture::{self, FAMILY, Picture, TickedAxis, plot_err};
use super::report::{BenchReport, LatencySummary};
use super::units::{self, Ticks, TimeUnit};

/// Draws the comparison chart into an SVG file, whatever `path`'s
/// extension: p99 wait for service, throughput and p99 latency per label,
/// with `answered k/n` on each bar and a caption of what the reports say
/// about the load. `compare --plot` draws the same chart, as SVG or PNG,
/// with its own flags in the caption.
pub fn plot_svg(rows: &[(String, BenchReport)], path: &Path) -> Result<(), PlotError> {
    let params = RunParams::from_reports(rows);
    picture::save_svg(&Chart::new(rows, params.as_ref())?, path)
}

/// The chart of `compare --plot`, into `path` as SVG or PNG by its
/// extension, with `params` in the caption.
pub(super) fn plot(
    rows: &[(String, BenchReport)],
    params: &RunParams,
    path: &Path,
) -> Result<(), PlotError> {
    picture::save(&Chart::new(rows, Some(params))?, path)
}

/// One panel's bars: what it measures and each mode's value.
struct Panel {
    title: &'static str,
    /// The y axis title, with its unit.
    axis: String,
    color: RGBColor,
    /// Each bar's height, in the axis' unit.
    values: Vec<f64>,
    /// Each bar's label: the value with its unit, or why there is none.
    labels: Vec<String>,
}

/// Everything the chart shows, computed before drawing.
struct Chart<'a> {
    rows: &'a [(String, BenchReport)],
    caption: String,
    panels: [Panel; 3],
}

impl<'a> Chart<'a> {
    fn new(
        rows: &'a [(String, BenchReport)],
        params: Option<&RunParams>,
    ) -> Result<Self, PlotError> {
        if rows.is_empty() {
            return Err(PlotError("no results to plot".into()));
        }
        let churn = rows.iter().all(|(_, r)| r.churn);
        let (what, unit) = if churn {
            ("connections", "connections/s")
        } else {
            ("messages", "messages/s")
        };
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
        let throughput = Panel {
            title: "Throughput (higher is better)",
            axis: format!("{what} per second"),
            color: RGBColor(52, 101, 164),
            labels: throughput
                .iter()
                .map(|v| format!("{} {unit}", units::per_sec(*v)))
                .collect(),
            values: throughput,
        };
        let wait = time_panel(
            "Wait for service, p99 (lower is better)",
            "wait",
            RGBColor(206, 92, 0),
            rows.iter().map(|(_, r)| &r.wait_us),
        );
        let latency = time_panel(
            "Latency of answers, p99 (lower is better)",
            "latency",
            RGBColor(164, 0, 0),
            rows.iter().map(|(_, r)| &r.latency_us),
        );
        Ok(Chart {
            rows,
            caption: params.map_or_else(String::new, RunParams::line),
            panels: [wait, throughput, latency],
        })
    }
}

/// A panel of p99 times, scaled to the unit that reads best for its
/// largest bar. A summary with no samples (nothing measured) is a bar of
/// 0 labelled `not measured`, never a fake 0 µs.
fn time_panel<'r>(
    title: &'static str,
    what: &str,
    color: RGBColor,
    summaries: impl Iterator<Item = &'r LatencySummary>,
) -> Panel {
    let summaries: Vec<&LatencySummary> = summaries.collect();
    let max_us = summaries.iter().map(|s| s.p99 as f64).fold(0.0, f64::max);
    let unit = TimeUnit::for_max(max_us);
    Panel {
        title,
        axis: format!("{what} ({})", unit.symbol()),
        color,
        values: summaries.iter().map(|s| unit.of(s.p99 as f64)).collect(),
        labels: summaries
            .iter()
            .map(|s| {
                if s.samples == 0 {
                    "not measured".into()
                } else {
                    units::duration_us(s.p99 as f64)
                }
            })
            .collect(),
    }
}

const PANEL_HEIGHT: u32 = 500;
const HEADER: u32 = 80;
const FOOTER: u32 = 56;

impl Picture for Chart<'_> {
    fn size(&self) -> (u32, u32) {
        let panel = 250 + 120 * self.rows.len() as u32;
        (panel * 3, HEADER + PANEL_HEIGHT + FOOTER)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let (width, _) = self.size();
        let (header, rest) = root.split_vertically(HEADER);
        let (body, footer) = rest.split_vertically(PANEL_HEIGHT);
        let centered = |size| {
            (FAMILY, size)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Top))
        };
        let middle = width as i32 / 2;
        header
            .draw_text(
                "tcpmodes compare: how each mode served the same clients",
                &centered(24.0),
                (middle, 12),
            )
            .map_err(plot_err)?;
        header
            .draw_text(&self.caption, &centered(16.0), (middle, 48))
            .map_err(plot_err)?;
        for (area, panel) in body.split_evenly((1, 3)).iter().zip(&self.panels) {
            self.bars(area, panel)?;
        }
        let note = (FAMILY, 14).into_font().color(&RGBColor(60, 60, 60));
        let notes = [
            "answered k/n: clients that got at least one answer, of all clients. A client never \
             answered sent nothing, so it is missing from throughput and latency:",
            "its wait (from connect to the first byte of service) lasts until the run ends. \
             Times are the 99th percentile: 99% of clients or answers did better.",
        ];
        for (i, line) in notes.iter().enumerate() {
            footer
                .draw_text(line, &note, (16, 8 + 20 * i as i32))
                .map_err(plot_err)?;
        }
        Ok(())
    }
}

impl Chart<'_> {
    /// One panel: a bar per mode, its value above it, and above that
    /// `answered k/n`, in red when some client was never answered.
    fn bars<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        panel: &Panel,
    ) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let n = self.rows.len() as u32;
        let max = panel.values.iter().copied().fold(0.0, f64::max);
        // Room above the tallest bar for its two labels.
        let ticks = Ticks::up_to(max * 1.3, 5);
        let top = ticks.top();
        let mut chart = ChartBuilder::on(area)
            .caption(panel.title, (FAMILY, 18))
            .margin(14)
            .x_label_area_size(34)
            .y_label_area_size(78)
            .build_cartesian_2d(
                (0..n.saturating_sub(1)).into_segmented(),
                TickedAxis::new(0.0..top, ticks.values.clone()),
            )
            .map_err(plot_err)?;
        let x_label = |v: &SegmentValue<u32>| match v {
            SegmentValue::CenterOf(i) => self
                .rows
                .get(*i as usize)
                .map_or(String::new(), |(l, _)| l.clone()),
            _ => String::new(),
        };
        let y_label = |v: &f64| ticks.label(*v);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(self.rows.len())
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .x_label_style((FAMILY, 15))
            .y_label_style((FAMILY, 13))
            .y_desc(panel.axis.as_str())
            .axis_desc_style((FAMILY, 15))
            .draw()
            .map_err(plot_err)?;
        chart
            .draw_series(panel.values.iter().enumerate().map(|(i, v)| {
                let i = i as u32;
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), *v),
                    ],
                    panel.color.filled(),
                );
                bar.set_margin(0, 0, 16, 16);
                bar
            }))
            .map_err(plot_err)?;
        let above = |text: String, i: usize, v: f64, lift: i32, color: RGBColor| {
            EmptyElement::at((SegmentValue::CenterOf(i as u32), v))
                + Text::new(
                    text,
                    (0, -lift),
                    (FAMILY, 14)
                        .into_font()
                        .color(&color)
                        .pos(Pos::new(HPos::Center, VPos::Bottom)),
                )
        };
        chart
            .draw_series(
                panel.labels.iter().enumerate().map(|(i, label)| {
                    above(label.clone(), i, panel.values[i], 4, RGBColor(0, 0, 0))
                }),
            )
            .map_err(plot_err)?;
        chart
            .draw_series(self.rows.iter().enumerate().map(|(i, (_, r))| {
                let answered = r.clients_answered;
                let all = r.clients as u64;
                let color = if answered < all {
                    RGBColor(200, 0, 0)
                } else {
                    RGBColor(0, 110, 0)
                };
                let text = format!("answered {answered}/{all}");
                above(text, i, panel.values[i], 22, color)
            }))
            .map_err(plot_err)?;
        Ok(())
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::bench::report::SCHEMA_VERSION;
    use crate::bench::tally::ErrorCounts;

    /// A synthetic report: `answered` of `clients` served (1000 replies
    /// each, p99 latency 73 µs), the others waiting the whole `secs`.
    /// Built from JSON, so fields added to the report later (with their
    /// serde defaults) need no change here.
    pub(in crate::bench) fn report(clients: usize, answered: u64, secs: f64) -> BenchReport {
        let lat = |p99: u64| {
            serde_json::json!({
                "samples": 10, "p50": p99 / 2, "p90": p99 * 9 / 10, "p99": p99,
                "p999": p99, "max": p99, "mean": p99 as f64 / 2.0,
            })
        };
        let wait = if answered < clients as u64 {
            (secs * 1e6) as u64
        } else {
            120
        };
        let never = clients as u64 - answered;
        serde_json::from_value(serde_json::json!({
            "version": SCHEMA_VERSION, "addr": "127.0.0.1:1", "clients": clients,
            "threads": clients, "framing": "raw", "protocol": "echo", "size": 64,
            "churn": false, "messages_per_client": null, "warmup_secs": 0.0,
            "duration_secs": secs, "sent": 1000 * answered, "replies_ok": 1000 * answered,
            "abandoned": 0, "connections": clients, "clients_answered": answered,
            "errors": ErrorCounts::default(),
            "msgs_per_sec": 1000.0 * answered as f64 / secs, "conns_per_sec": 0.0,
            "latency_us": lat(73), "clients_unanswered": never, "wait_us": lat(wait),
            "unanswered": never, "rate": null,
        }))
        .expect("a report")
    }

    /// The lesson's default comparison, as the chart should tell it.
    pub(in crate::bench) fn lesson_rows() -> Vec<(String, BenchReport)> {
        vec![
            ("serial".into(), report(4, 1, 3.0)),
            ("threads".into(), report(4, 4, 3.0)),
            ("pool".into(), report(4, 2, 3.0)),
        ]
    }

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("tcpmodes-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn the_chart_is_written_as_svg_and_png() {
        let rows = lesson_rows();
        let params = RunParams::from_reports(&rows).unwrap();
        let svg = temp("chart.svg");
        plot(&rows, &params, &svg).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        for needle in [
            "<svg",
            "serial",
            "answered 1/4",
            "answered 4/4",
            "wait (s)",
            "latency (µs)",
        ] {
            assert!(text.contains(needle), "{needle} missing");
        }
        let png = temp("chart.png");
        plot(&rows, &params, &png).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        if let Some(keep) = std::env::var_os("KEEP_PLOT") {
            let _ = std::fs::copy(&png, Path::new(&keep).join("chart.png"));
        }
        let _ = std::fs::remove_file(&svg);
        let _ = std::fs::remove_file(&png);
    }

    #[test]
    fn nothing_to_plot_is_an_error() {
        assert!(plot_svg(&[], &temp("empty.svg")).is_err());
    }
}
