//! The SVG chart of `compare --plot`: throughput and p99 per label, the
//! two numbers that decide between modes, at a glance.

use std::fmt;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::report::BenchReport;

/// The chart could not be drawn or written: its own error, so a failed
/// chart does not hide the comparison already printed.
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
