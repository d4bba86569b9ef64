//! The chart of `compare --plot`: how many clients each mode served, then
//! wait, throughput and latency, one panel under the other, the modes
//! along x in the table's order. About 900 px wide, so it reads where a
//! README shows it.
//!
//! Throughput and latency alone flatter a server that serves few clients
//! well: serial mode with 1 of 4 clients served shows a fine latency,
//! because the three it never served sent nothing to measure. So the chart
//! opens with each mode's `k/n` served, as large as a title and red when
//! some client was never served; such a mode's throughput and latency bars
//! are pale, hatched and marked `only k of n served`, so they cannot be
//! read as a win; and the wait panel shows what the unserved lived through,
//! beside (when the server logged it) each request's wait for a worker or
//! a loop, so queued requests read as waiting, not as fast service. With
//! `--repeat`, each bar is the median of the runs, its whisker the range.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::caption::RunParams;
pub use super::picture::PlotError;
use super::picture::{self, FAMILY, Picture, TickedAxis, plot_err};
use super::report::{BenchReport, LatencySummary, MinMedianMax};
use super::units::{self, Ticks, TimeUnit};

/// Draws the comparison chart into an SVG file, whatever `path`'s
/// extension: clients served, p99 wait for service, throughput and p99
/// latency per label, and a caption of what the reports say about the
/// load. `compare --plot` draws the same chart, as SVG or PNG, with its
/// own flags in the caption.
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

// Sizes in pixels, for a picture shown about as wide as it is drawn (a
// README column is 880 px): no text under 15 px (but the names of many
// modes, when one does not fit its column even in two lines), titles
// over 20.

/// The picture's width.
const WIDTH: u32 = 900;
/// Blank on the left and right of everything.
const SIDE: u32 = 16;
/// Left of each panel's bars: tick labels and the axis title.
const Y_LABELS: u32 = 96;
/// The bars' area of a panel.
const PLOT_HEIGHT: u32 = 220;
/// Blank above the bars' area, so the top tick label is not cut.
const PLOT_TOP: u32 = 10;
/// Blank under each panel.
const PANEL_GAP: u32 = 18;

/// The chart's title.
const TITLE_PX: u32 = 26;
/// Each panel's title, and the served band's.
const PANEL_TITLE_PX: u32 = 22;
/// The served count `k/n`, the one figure to read first.
const SERVED_PX: u32 = 30;
/// The modes' names.
const NAME_PX: u32 = 18;
/// The smallest a mode's name is shrunk to when many modes share the width.
const NAME_MIN_PX: u32 = 12;
/// The figure over each bar, and the note of a mode that left clients
/// unserved.
const LABEL_PX: u32 = 16;
/// Axis ticks.
const TICK_PX: u32 = 15;
/// The caption, the legends, the notes at the foot.
const TEXT_PX: u32 = 16;

// Checked as the program compiles: shown at 880 px, a 900 px picture's
// text keeps 98% of its size.
const _: () = {
    assert!(WIDTH >= 850 && WIDTH <= 950);
    assert!(TITLE_PX >= 20 && PANEL_TITLE_PX >= 20);
    assert!(SERVED_PX >= PANEL_TITLE_PX, "served k/n as large as titles");
    assert!(NAME_PX >= 15 && LABEL_PX >= 15 && TICK_PX >= 15 && TEXT_PX >= 15);
};

/// The served band: its title, then a box per mode, then blank.
const BAND_TITLE: u32 = 38;
const BAND_GAP: u32 = 24;

/// A bar's share of its mode's column: the rest is blank on both sides.
const PAD: f64 = 0.14;
/// Between two bars of one mode.
const GAP: f64 = 0.04;
/// The least height of a bar whose figure is above 0.
const MIN_BAR: i32 = 3;

const BLACK_TEXT: RGBColor = RGBColor(0, 0, 0);
const GREY_TEXT: RGBColor = RGBColor(70, 70, 70);
/// Some client was never served: the count, the note on the bars.
const UNSERVED: RGBColor = RGBColor(200, 0, 0);
const UNSERVED_FILL: RGBColor = RGBColor(253, 228, 228);
/// Every client was served.
const SERVED: RGBColor = RGBColor(0, 115, 0);
const SERVED_FILL: RGBColor = RGBColor(230, 245, 230);
/// The timeline's colours for the same states: waiting to be served,
/// waiting for a worker or a loop, being served.
const WAIT_COLOR: RGBColor = RGBColor(245, 160, 60);
const QUEUE_COLOR: RGBColor = RGBColor(204, 0, 0);
const THROUGHPUT_COLOR: RGBColor = RGBColor(52, 101, 164);
const LATENCY_COLOR: RGBColor = RGBColor(117, 80, 123);
const WHISKER_COLOR: RGBColor = RGBColor(20, 20, 20);

/// How many clients a mode served, of all it had: over repeated runs, the
/// fewest and the most.
#[derive(Debug, Clone, PartialEq)]
struct Served {
    fewest: u64,
    most: u64,
    clients: u64,
}

impl Served {
    fn of(r: &BenchReport) -> Served {
        let (fewest, most) = match &r.repeat {
            Some(s) => (
                s.clients_answered.min.round() as u64,
                s.clients_answered.max.round() as u64,
            ),
            None => (r.clients_answered, r.clients_answered),
        };
        Served {
            fewest,
            most,
            clients: r.clients as u64,
        }
    }

    /// Some client was never served (in some run).
    fn short(&self) -> bool {
        self.fewest < self.clients
    }

    /// `1` or, when repeated runs differed, `1–2`.
    fn count(&self) -> String {
        if self.fewest == self.most {
            self.fewest.to_string()
        } else {
            format!("{}–{}", self.fewest, self.most)
        }
    }

    /// `1/4`: the band's figure.
    fn fraction(&self) -> String {
        format!("{}/{}", self.count(), self.clients)
    }

    /// Under the figure: `3 never served`, or `all served`.
    fn verdict(&self) -> String {
        let never = self.clients - self.fewest.min(self.clients);
        if never == 0 {
            "all served".into()
        } else if self.fewest == self.most {
            format!("{never} never served")
        } else {
            format!("up to {never} never served")
        }
    }

    /// The note on the throughput and latency bars of a mode that left
    /// clients unserved.
    fn note(&self) -> Option<String> {
        if !self.short() {
            None
        } else if self.most == 0 {
            Some(format!("none of {} served", self.clients))
        } else {
            Some(format!("only {} of {} served", self.count(), self.clients))
        }
    }
}

/// One bar, in its panel's unit.
#[derive(Debug, Clone, PartialEq)]
struct Bar {
    value: f64,
    /// Lowest and highest over repeated runs: the whisker.
    range: Option<(f64, f64)>,
    /// The figure over the bar, with its unit, or why there is none.
    label: String,
    color: RGBColor,
    /// Pale and hatched: the figure of a mode that left clients unserved.
    pale: bool,
}

impl Bar {
    /// How high the bar and its whisker reach.
    fn reach(&self) -> f64 {
        self.range.map_or(self.value, |(_, hi)| hi.max(self.value))
    }
}

/// A mode's bars in one panel, and the note over them.
#[derive(Debug, Clone, PartialEq)]
struct Group {
    bars: Vec<Bar>,
    note: Option<String>,
}

/// One panel: what it measures and each mode's bars.
#[derive(Debug, Clone, PartialEq)]
struct Panel {
    title: String,
    /// The y axis title, with its unit.
    axis: String,
    /// What each colour means, when a mode has more than one bar.
    legend: Vec<(RGBColor, String)>,
    groups: Vec<Group>,
}

/// Everything the chart shows, computed before drawing.
struct Chart {
    labels: Vec<String>,
    served: Vec<Served>,
    /// What was compared: modes, servers of their own, or one server.
    title: &'static str,
    caption: String,
    panels: [Panel; 3],
    notes: Vec<String>,
}

/// One figure of a report: its value (over repeated runs, the median) and
/// its range, or why it is missing.
struct Figure {
    value: f64,
    spread: Option<MinMedianMax>,
    missing: Option<&'static str>,
}

impl Figure {
    /// A p99 time, in µs: from the runs' spread when there is one.
    fn time(summary: Option<&LatencySummary>, spread: Option<MinMedianMax>) -> Figure {
        match summary {
            None => Figure {
                value: 0.0,
                spread: None,
                missing: Some("not known"),
            },
            Some(s) if s.samples == 0 => Figure {
                value: 0.0,
                spread: None,
                missing: Some("not measured"),
            },
            Some(s) => Figure {
                value: spread.map_or(s.p99 as f64, |m| m.median),
                spread,
                missing: None,
            },
        }
    }
}

impl Chart {
    fn new(rows: &[(String, BenchReport)], params: Option<&RunParams>) -> Result<Self, PlotError> {
        if rows.is_empty() {
            return Err(PlotError("no results to plot".into()));
        }
        let served: Vec<Served> = rows.iter().map(|(_, r)| Served::of(r)).collect();
        let runs = rows
            .iter()
            .find_map(|(_, r)| r.repeat.as_ref().map(|s| s.runs));
        let median = runs.map_or(String::new(), |n| format!(", median of {n} runs"));
        let titled = |what: &str, better: &str| format!("{what}{median} ({better} is better)");
        let queued = rows.iter().any(|(_, r)| r.queue_us.is_some());

        // Wait: each client's wait for service, and beside it, when the
        // server logged it, each request's wait for a worker or a loop.
        let mut wait_series = vec![(
            WAIT_COLOR,
            rows.iter()
                .map(|(_, r)| {
                    Figure::time(Some(&r.wait_us), r.repeat.as_ref().map(|s| s.wait_p99_us))
                })
                .collect::<Vec<_>>(),
        )];
        if queued {
            wait_series.push((
                QUEUE_COLOR,
                rows.iter()
                    .map(|(_, r)| {
                        Figure::time(
                            r.queue_us.as_ref(),
                            r.repeat.as_ref().and_then(|s| s.queue_p99_us),
                        )
                    })
                    .collect(),
            ));
        }
        let wait = Panel {
            title: if queued {
                titled("Waiting, p99", "lower")
            } else {
                titled("Wait for service, p99", "lower")
            },
            legend: if queued {
                vec![
                    (
                        WAIT_COLOR,
                        "waited to be served (wait p99: each client, connect to first byte)".into(),
                    ),
                    (
                        QUEUE_COLOR,
                        "waited for a worker or a loop (queue p99: each request)".into(),
                    ),
                ]
            } else {
                Vec::new()
            },
            ..time_panel("wait", &wait_series, &vec![false; rows.len()], &[])
        };

        let churn = rows.iter().all(|(_, r)| r.churn);
        let what = if churn { "connections" } else { "messages" };
        let pale: Vec<bool> = served.iter().map(Served::short).collect();
        let notes: Vec<Option<String>> = served.iter().map(Served::note).collect();
        let throughput = Panel {
            title: titled("Throughput", "higher"),
            axis: format!("{what} per second"),
            legend: Vec::new(),
            groups: rows
                .iter()
                .zip(pale.iter().zip(&notes))
                .map(|((_, r), (pale, note))| {
                    let own = if churn {
                        r.conns_per_sec
                    } else {
                        r.msgs_per_sec
                    };
                    let spread = r.repeat.as_ref().map(|s| s.msgs_per_sec);
                    let value = spread.map_or(own, |m| m.median);
                    Group {
                        bars: vec![Bar {
                            value,
                            range: spread.map(|m| (m.min, m.max)),
                            label: format!("{}/s", units::per_sec(value)),
                            color: THROUGHPUT_COLOR,
                            pale: *pale,
                        }],
                        note: note.clone(),
                    }
                })
                .collect(),
        };

        let latency_series = [(
            LATENCY_COLOR,
            rows.iter()
                .map(|(_, r)| {
                    Figure::time(
                        Some(&r.latency_us),
                        r.repeat.as_ref().map(|s| s.latency_p99_us),
                    )
                })
                .collect::<Vec<_>>(),
        )];
        let latency = Panel {
            title: titled("Latency of answers, p99", "lower"),
            ..time_panel("latency", &latency_series, &pale, &notes)
        };

        let mut notes = vec![
            "k/n served: clients that got at least one answer, of all clients. A client never \
             served sent nothing, so throughput and latency leave it out: the pale, hatched bars \
             of a mode that left clients unserved measure only the few it served, and are no win."
                .to_string(),
        ];
        let mut waits = "Wait for service: from a client's connect to the first byte of service; \
                         a client never served waits until the run ends."
            .to_string();
        if queued {
            waits.push_str(
                " Queue: from a request's send to the start of its handler call, waiting for a \
                 free worker or a busy event loop (known for compare's own servers only).",
            );
        }
        notes.push(waits);
        let mut times =
            "Times are the 99th percentile: 99% of clients or answers did better.".to_string();
        if let Some(n) = runs {
            times.push_str(&format!(
                " Each bar is the median of {n} runs; its whisker spans the lowest to the highest."
            ));
        }
        notes.push(times);

        Ok(Chart {
            labels: rows.iter().map(|(l, _)| l.clone()).collect(),
            served,
            title: match params.map(|p| p.per) {
                Some("server") => "tcpmodes compare: how each server served the same clients",
                Some("run") => "tcpmodes bench: how the server served its clients",
                _ => "tcpmodes compare: how each mode served the same clients",
            },
            caption: params.map_or_else(String::new, RunParams::line),
            panels: [wait, throughput, latency],
            notes,
        })
    }
}

/// A panel of p99 times (one series of figures per bar colour), scaled to
/// the unit that reads best for its highest bar or whisker. A missing
/// figure is a bar of 0 labelled why, never a fake 0 µs.
fn time_panel(
    what: &str,
    series: &[(RGBColor, Vec<Figure>)],
    pale: &[bool],
    notes: &[Option<String>],
) -> Panel {
    let max_us = series
        .iter()
        .flat_map(|(_, figures)| figures)
        .map(|f| f.spread.map_or(f.value, |s| s.max.max(f.value)))
        .fold(0.0, f64::max);
    let unit = TimeUnit::for_max(max_us);
    let modes = series.first().map_or(0, |(_, f)| f.len());
    Panel {
        title: String::new(),
        axis: format!("{what} ({})", unit.symbol()),
        legend: Vec::new(),
        groups: (0..modes)
            .map(|i| Group {
                bars: series
                    .iter()
                    .map(|(color, figures)| {
                        let f = &figures[i];
                        Bar {
                            value: unit.of(f.value),
                            range: f.spread.map(|s| (unit.of(s.min), unit.of(s.max))),
                            label: f
                                .missing
                                .map_or_else(|| units::duration_us(f.value), String::from),
                            color: *color,
                            pale: pale.get(i).copied().unwrap_or(false),
                        }
                    })
                    .collect(),
                note: notes.get(i).cloned().flatten(),
            })
            .collect(),
    }
}

/// How wide `text` is at `px` pixels: measured with the embedded font,
/// or estimated when it cannot be.
mod draw;
pub(super) mod text;

#[cfg(test)]
pub(super) mod tests;
