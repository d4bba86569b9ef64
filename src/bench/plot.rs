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
fn text_width(text: &str, px: u32) -> u32 {
    (FAMILY, f64::from(px))
        .into_font()
        .box_size(text)
        .map_or_else(|_| text.chars().count() as u32 * px * 3 / 5, |(w, _)| w)
}

/// `text` broken between words into lines at most `width` wide (a word
/// wider than that on a line of its own).
fn wrap(text: &str, px: u32, width: u32) -> Vec<String> {
    wrap_pieces(text.split_whitespace(), px, width)
}

/// `pieces`, joined by spaces, in lines at most `width` wide (a piece
/// wider than that on a line of its own).
fn wrap_pieces<'t>(pieces: impl Iterator<Item = &'t str>, px: u32, width: u32) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in pieces {
        let longer = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if line.is_empty() || text_width(&longer, px) <= width {
            line = longer;
        } else {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// A list such as the caption (`a, b, c`) in lines at most `width` wide,
/// broken only after a comma, and as even as that many lines can be: no
/// line of one lonely item.
fn balance(list: &str, px: u32, width: u32) -> Vec<String> {
    let parts: Vec<&str> = list.split(", ").collect();
    let items: Vec<String> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i + 1 < parts.len() {
                format!("{p},")
            } else {
                p.to_string()
            }
        })
        .collect();
    let at = |w: u32| wrap_pieces(items.iter().map(String::as_str), px, w);
    let lines = at(width).len();
    // The narrowest width that needs no more lines.
    let (mut lo, mut hi) = (0, width);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if at(mid).len() <= lines {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    at(hi)
}

/// The largest size from `px` down to `min` at which every text is at most
/// `width` wide (`min` if none is).
fn fit<'t>(texts: impl Iterator<Item = &'t str> + Clone, px: u32, min: u32, width: u32) -> u32 {
    (min..=px)
        .rev()
        .find(|&size| texts.clone().all(|t| text_width(t, size) <= width))
        .unwrap_or(min)
}

/// The modes' names as drawn: their size, and each one's lines.
struct Names {
    px: u32,
    lines: Vec<Vec<String>>,
}

impl Names {
    /// Lines of the longest name.
    fn rows(&self) -> u32 {
        self.lines.iter().map(Vec::len).max().unwrap_or(1) as u32
    }
}

/// A mode's name in lines at most `width` wide, broken only after a `-`,
/// `_` or space (`event-` `workers`); a piece wider than that on a line of
/// its own.
fn break_name(name: &str, px: u32, width: u32) -> Vec<String> {
    let mut pieces: Vec<&str> = Vec::new();
    let mut start = 0;
    for (i, c) in name.char_indices() {
        if matches!(c, '-' | '_' | ' ') {
            pieces.push(&name[start..i + c.len_utf8()]);
            start = i + c.len_utf8();
        }
    }
    pieces.push(&name[start..]);
    let mut lines: Vec<String> = Vec::new();
    for piece in pieces.into_iter().filter(|p| !p.is_empty()) {
        match lines.last_mut() {
            Some(last) if text_width(format!("{last}{piece}").trim_end(), px) <= width => {
                last.push_str(piece);
            }
            _ => lines.push(piece.to_string()),
        }
    }
    let lines: Vec<String> = lines.iter().map(|l| l.trim_end().to_string()).collect();
    if lines.is_empty() {
        vec![String::new()]
    } else {
        lines
    }
}

/// The line height of text of `px` pixels.
fn line(px: u32) -> u32 {
    px * 13 / 10
}

fn font(px: u32, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    (FAMILY, f64::from(px))
        .into_font()
        .color(&color)
        .pos(Pos::new(h, v))
}

/// `c` mixed with white: a pale bar.
fn pale(c: RGBColor) -> RGBColor {
    let mix = |v: u8| v + ((255 - u16::from(v)) * 7 / 10) as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

impl Chart {
    fn modes(&self) -> usize {
        self.labels.len()
    }

    /// Each mode's column, in pixels from the picture's left: the same in
    /// the served band and under every panel.
    fn column(&self, i: usize) -> (i32, i32) {
        let left = (SIDE + Y_LABELS) as f64;
        let width = f64::from(WIDTH - 2 * SIDE - Y_LABELS) / self.modes() as f64;
        (
            (left + width * i as f64).round() as i32,
            (left + width * (i + 1) as f64).round() as i32,
        )
    }

    fn column_width(&self) -> u32 {
        (WIDTH - 2 * SIDE - Y_LABELS) / self.modes() as u32
    }

    /// The modes' names, each in at most two lines (broken after a `-`,
    /// `_` or space), as large as fits their columns.
    fn names(&self) -> Names {
        let room = self.column_width().saturating_sub(8);
        let at = |px: u32| -> Vec<Vec<String>> {
            self.labels
                .iter()
                .map(|l| break_name(l, px, room))
                .collect()
        };
        for px in (NAME_MIN_PX..=NAME_PX).rev() {
            let lines = at(px);
            let fits = lines.iter().flatten().all(|l| text_width(l, px) <= room);
            if fits && lines.iter().all(|l| l.len() <= 2) {
                return Names { px, lines };
            }
        }
        Names {
            px: NAME_MIN_PX,
            lines: self.labels.iter().map(|l| vec![l.clone()]).collect(),
        }
    }

    /// Under each panel's bars: the modes' names.
    fn x_labels(&self) -> u32 {
        let names = self.names();
        10 + line(names.px) * names.rows()
    }

    /// The served band's figures' room: a box's width, less its border.
    fn box_room(&self) -> u32 {
        self.column_width().saturating_sub(16)
    }

    /// Under each served count: `3 never served` or `all served`, in as
    /// many lines as the box needs.
    fn verdicts(&self) -> Vec<Vec<String>> {
        self.served
            .iter()
            .map(|s| wrap(&s.verdict(), TEXT_PX, self.box_room()))
            .collect()
    }

    /// The height of the served band's boxes.
    fn band_box(&self) -> u32 {
        let names = self.names();
        let verdicts = self.verdicts().iter().map(Vec::len).max().unwrap_or(1) as u32;
        8 + line(names.px) * names.rows() + line(SERVED_PX) + line(TEXT_PX) * verdicts + 6
    }

    /// The title and the caption, each broken into lines that fit.
    fn header_lines(&self) -> (Vec<String>, Vec<String>) {
        let room = WIDTH - 2 * SIDE;
        let title = wrap(
            "tcpmodes compare: how each mode served the same clients",
            TITLE_PX,
            room,
        );
        let caption = if self.caption.is_empty() {
            Vec::new()
        } else {
            balance(&self.caption, TEXT_PX, room)
        };
        (title, caption)
    }

    fn header_height(&self) -> u32 {
        let (title, caption) = self.header_lines();
        12 + line(TITLE_PX) * title.len() as u32 + line(TEXT_PX) * caption.len() as u32 + 14
    }

    fn note_lines(&self) -> Vec<String> {
        self.notes
            .iter()
            .flat_map(|n| wrap(n, TEXT_PX, WIDTH - 2 * SIDE))
            .collect()
    }

    fn legend_height(panel: &Panel) -> u32 {
        line(TEXT_PX) * panel.legend.len() as u32 + if panel.legend.is_empty() { 0 } else { 6 }
    }

    fn panel_height(&self, panel: &Panel) -> u32 {
        line(PANEL_TITLE_PX)
            + 6
            + Self::legend_height(panel)
            + PLOT_TOP
            + PLOT_HEIGHT
            + self.x_labels()
            + PANEL_GAP
    }

    /// The width a bar's figure may take: its share of the column.
    fn label_room(&self, bars: usize) -> u32 {
        (self.column_width() / bars.max(1) as u32).saturating_sub(8)
    }

    /// The pixels over a bar that its figure and its mode's note take.
    fn label_stack(&self, group: &Group, bar: &Bar) -> u32 {
        let room = self.label_room(group.bars.len());
        let figure = wrap(&bar.label, LABEL_PX, room).len() as u32;
        let note = group.note.as_ref().map_or(0, |n| {
            wrap(n, LABEL_PX, self.column_width() - 8).len() as u32
        });
        (figure + note) * line(LABEL_PX) + 8
    }

    /// Where a panel's axis ends: above its highest bar, with room over
    /// every bar for the labels drawn there.
    fn axis_top(&self, panel: &Panel) -> Ticks {
        let h = f64::from(PLOT_HEIGHT);
        let top = panel
            .groups
            .iter()
            .flat_map(|g| g.bars.iter().map(move |b| (g, b)))
            .map(|(g, b)| {
                let free = (h - f64::from(self.label_stack(g, b))).max(h / 3.0);
                b.reach() * h / free
            })
            .fold(0.0, f64::max);
        Ticks::up_to(top, 5)
    }
}

impl Picture for Chart {
    fn size(&self) -> (u32, u32) {
        let panels: u32 = self.panels.iter().map(|p| self.panel_height(p)).sum();
        let notes = line(TEXT_PX) * self.note_lines().len() as u32 + 16;
        (
            WIDTH,
            self.header_height() + BAND_TITLE + self.band_box() + BAND_GAP + panels + notes,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let middle = WIDTH as i32 / 2;
        let (header, rest) = root.split_vertically(self.header_height());
        let (title, caption) = self.header_lines();
        let mut y = 12;
        for text in &title {
            let style = font(TITLE_PX, BLACK_TEXT, HPos::Center, VPos::Top);
            header
                .draw_text(text, &style, (middle, y))
                .map_err(plot_err)?;
            y += line(TITLE_PX) as i32;
        }
        for text in &caption {
            let style = font(TEXT_PX, GREY_TEXT, HPos::Center, VPos::Top);
            header
                .draw_text(text, &style, (middle, y))
                .map_err(plot_err)?;
            y += line(TEXT_PX) as i32;
        }
        let (band, mut rest) = rest.split_vertically(BAND_TITLE + self.band_box() + BAND_GAP);
        self.band(&band)?;
        for panel in &self.panels {
            let (area, below) = rest.split_vertically(self.panel_height(panel));
            self.panel(&area, panel)?;
            rest = below;
        }
        let style = font(TEXT_PX, GREY_TEXT, HPos::Left, VPos::Top);
        for (i, text) in self.note_lines().iter().enumerate() {
            rest.draw_text(
                text,
                &style,
                (SIDE as i32, (line(TEXT_PX) * i as u32) as i32),
            )
            .map_err(plot_err)?;
        }
        Ok(())
    }
}

impl Chart {
    /// The served band: a box per mode, its name and `k/n` served, red
    /// when some client was never served.
    fn band<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        area.draw_text(
            "Clients served (got at least one answer), of all clients",
            &font(PANEL_TITLE_PX, BLACK_TEXT, HPos::Center, VPos::Top),
            (WIDTH as i32 / 2, 6),
        )
        .map_err(plot_err)?;
        let top = BAND_TITLE as i32;
        let bottom = top + self.band_box() as i32;
        let names = self.names();
        let fractions: Vec<String> = self.served.iter().map(Served::fraction).collect();
        let served_px = fit(
            fractions.iter().map(String::as_str),
            SERVED_PX,
            PANEL_TITLE_PX,
            self.box_room(),
        );
        let verdicts = self.verdicts();
        for (i, served) in self.served.iter().enumerate() {
            let (x0, x1) = self.column(i);
            let (ink, fill) = if served.short() {
                (UNSERVED, UNSERVED_FILL)
            } else {
                (SERVED, SERVED_FILL)
            };
            let rect = [(x0 + 4, top), (x1 - 4, bottom)];
            area.draw(&Rectangle::new(rect, fill.filled()))
                .map_err(plot_err)?;
            area.draw(&Rectangle::new(rect, ink.stroke_width(2)))
                .map_err(plot_err)?;
            let mid = (x0 + x1) / 2;
            let mut y = top + 8;
            for text in &names.lines[i] {
                let style = font(names.px, BLACK_TEXT, HPos::Center, VPos::Top);
                area.draw_text(text, &style, (mid, y)).map_err(plot_err)?;
                y += line(names.px) as i32;
            }
            // The counts line up across the boxes, however many lines
            // the names above them took.
            y = top + 8 + (line(names.px) * names.rows()) as i32;
            let style = font(served_px, ink, HPos::Center, VPos::Top);
            area.draw_text(&fractions[i], &style, (mid, y))
                .map_err(plot_err)?;
            y += line(SERVED_PX) as i32;
            for text in &verdicts[i] {
                let style = font(TEXT_PX, ink, HPos::Center, VPos::Top);
                area.draw_text(text, &style, (mid, y)).map_err(plot_err)?;
                y += line(TEXT_PX) as i32;
            }
        }
        Ok(())
    }

    /// One panel: its title, its legend, and each mode's bars with their
    /// figures over them; over the bars of a mode that left clients
    /// unserved, the note that says so.
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        panel: &Panel,
    ) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        area.draw_text(
            &panel.title,
            &font(PANEL_TITLE_PX, BLACK_TEXT, HPos::Center, VPos::Top),
            (WIDTH as i32 / 2, 4),
        )
        .map_err(plot_err)?;
        let mut y = (line(PANEL_TITLE_PX) + 6) as i32;
        let left = (SIDE + Y_LABELS) as i32;
        for (color, text) in &panel.legend {
            area.draw(&Rectangle::new(
                [(left, y + 3), (left + 26, y + 17)],
                color.filled(),
            ))
            .map_err(plot_err)?;
            area.draw_text(
                text,
                &font(TEXT_PX, BLACK_TEXT, HPos::Left, VPos::Top),
                (left + 34, y),
            )
            .map_err(plot_err)?;
            y += line(TEXT_PX) as i32;
        }
        let (_, below) =
            area.split_vertically(line(PANEL_TITLE_PX) + 6 + Self::legend_height(panel));
        let (plot_area, _) = below.split_vertically(PLOT_TOP + PLOT_HEIGHT + self.x_labels());

        let n = self.modes();
        let ticks = self.axis_top(panel);
        let top = ticks.top();
        let mut chart = ChartBuilder::on(&plot_area)
            .margin_left(SIDE)
            .margin_right(SIDE)
            .margin_top(PLOT_TOP)
            .x_label_area_size(self.x_labels())
            .y_label_area_size(Y_LABELS)
            .build_cartesian_2d(
                // No ticks on x: the names are drawn below, in as many
                // lines as they need.
                TickedAxis::new(0.0..n as f64, Vec::new()),
                TickedAxis::new(0.0..top, ticks.values.clone()),
            )
            .map_err(plot_err)?;
        let y_label = |v: &f64| ticks.label(*v);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_label_formatter(&y_label)
            .y_label_style((FAMILY, f64::from(TICK_PX)))
            .y_desc(panel.axis.as_str())
            .axis_desc_style((FAMILY, f64::from(TEXT_PX)))
            .draw()
            .map_err(plot_err)?;

        // Everything below is drawn in pixels on the panel's area.
        let base = area.get_base_pixel();
        let at = |x: f64, v: f64| {
            let (px, py) = chart.backend_coord(&(x, v));
            (px - base.0, py - base.1)
        };
        let names = self.names();
        let (_, axis_y) = at(0.0, 0.0);
        for (i, lines) in names.lines.iter().enumerate() {
            let (x0, x1) = self.column(i);
            let mut y = axis_y + 8;
            for text in lines {
                let style = font(names.px, BLACK_TEXT, HPos::Center, VPos::Top);
                area.draw_text(text, &style, ((x0 + x1) / 2 - base.0, y))
                    .map_err(plot_err)?;
                y += line(names.px) as i32;
            }
        }
        for (i, group) in panel.groups.iter().enumerate() {
            let k = group.bars.len().max(1);
            let width = (1.0 - 2.0 * PAD - GAP * (k - 1) as f64) / k as f64;
            let mut label_tops = Vec::new();
            for (j, bar) in group.bars.iter().enumerate() {
                let x0 = i as f64 + PAD + j as f64 * (width + GAP);
                let (left, bottom) = at(x0, 0.0);
                let (right, mut top_px) = at(x0 + width, bar.value);
                if bar.value > 0.0 {
                    // A figure too small for the axis still shows its
                    // colour: which of a mode's bars the label belongs to.
                    top_px = top_px.min(bottom - MIN_BAR);
                }
                let mid = (left + right) / 2;
                let rect = [(left, top_px), (right, bottom)];
                if bar.pale {
                    area.draw(&Rectangle::new(rect, pale(bar.color).filled()))
                        .map_err(plot_err)?;
                    hatch(area, rect, bar.color)?;
                    area.draw(&Rectangle::new(rect, bar.color.stroke_width(1)))
                        .map_err(plot_err)?;
                } else {
                    area.draw(&Rectangle::new(rect, bar.color.filled()))
                        .map_err(plot_err)?;
                }
                let mut above = top_px;
                let whisker = bar.range.map(|(lo, hi)| (at(0.0, lo).1, at(0.0, hi).1));
                // A spread too narrow to see at this scale gets no whisker.
                if let Some((y_lo, y_hi)) = whisker.filter(|(lo, hi)| lo - hi >= 4) {
                    let cap = ((right - left) / 4).clamp(4, 10);
                    let style = WHISKER_COLOR.stroke_width(2);
                    for path in [
                        vec![(mid, y_lo), (mid, y_hi)],
                        vec![(mid - cap, y_lo), (mid + cap, y_lo)],
                        vec![(mid - cap, y_hi), (mid + cap, y_hi)],
                    ] {
                        area.draw(&PathElement::new(path, style))
                            .map_err(plot_err)?;
                    }
                    above = above.min(y_hi);
                }
                let ink = if bar.pale { GREY_TEXT } else { BLACK_TEXT };
                let lines = wrap(&bar.label, LABEL_PX, self.label_room(k));
                let mut y = above - 5;
                for text in lines.iter().rev() {
                    area.draw_text(
                        text,
                        &font(LABEL_PX, ink, HPos::Center, VPos::Bottom),
                        (mid, y),
                    )
                    .map_err(plot_err)?;
                    y -= line(LABEL_PX) as i32;
                }
                label_tops.push(y);
            }
            if let Some(note) = &group.note {
                let (x0, x1) = self.column(i);
                let mid = (x0 + x1) / 2 - base.0;
                let mut y = label_tops.into_iter().min().unwrap_or(0);
                for text in wrap(note, LABEL_PX, self.column_width() - 8).iter().rev() {
                    area.draw_text(
                        text,
                        &font(LABEL_PX, UNSERVED, HPos::Center, VPos::Bottom),
                        (mid, y),
                    )
                    .map_err(plot_err)?;
                    y -= line(LABEL_PX) as i32;
                }
            }
        }
        Ok(())
    }
}

/// Diagonal lines across the rectangle `[(left, top), (right, bottom)]`.
fn hatch<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    [(left, top), (right, bottom)]: [(i32, i32); 2],
    color: RGBColor,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    // Lines of x - y = c, from the rectangle's lower left corner to its
    // upper right, each cut to the rectangle.
    let mut c = left - bottom;
    while c < right - top {
        let from = left.max(top + c);
        let to = right.min(bottom + c);
        if from < to {
            area.draw(&PathElement::new(
                vec![(from, from - c), (to, to - c)],
                color.stroke_width(1),
            ))
            .map_err(plot_err)?;
        }
        c += 12;
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::bench::report::{SCHEMA_VERSION, Spread};
    use crate::bench::tally::ErrorCounts;

    /// A synthetic report: `answered` of `clients` served (1000 replies
    /// each, p99 latency 73 µs), the others waiting the whole `secs`.
    /// Built from JSON, so fields added to the report later (with their
    /// serde defaults) need no change here.
    pub(in crate::bench) fn report(clients: usize, answered: u64, secs: f64) -> BenchReport {
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
            "latency_us": p99(73), "clients_unanswered": never, "wait_us": p99(wait),
            "unanswered": never, "rate": null,
        }))
        .expect("a report")
    }

    /// A summary of 10 samples whose p99 is `p99` µs.
    fn p99(p99: u64) -> serde_json::Value {
        serde_json::json!({
            "samples": 10, "p50": p99 / 2, "p90": p99 * 9 / 10, "p99": p99,
            "p999": p99, "max": p99, "mean": p99 as f64 / 2.0,
        })
    }

    fn summary(p99_us: u64) -> LatencySummary {
        serde_json::from_value(p99(p99_us)).expect("a summary")
    }

    /// The lesson's default comparison, as the chart should tell it.
    pub(in crate::bench) fn lesson_rows() -> Vec<(String, BenchReport)> {
        vec![
            ("serial".into(), report(4, 1, 3.0)),
            ("threads".into(), report(4, 4, 3.0)),
            ("pool".into(), report(4, 2, 3.0)),
        ]
    }

    /// Every mode of a default `compare`, figures like those of
    /// `docs/compare.png`, with each request's queue wait as compare's
    /// own servers log it, over 5 runs.
    fn all_modes_repeated() -> Vec<(String, BenchReport)> {
        let mode = |answered: u64, msgs: f64, lat: u64, wait: u64, queue: u64| {
            let mut r = report(4, answered, 3.0);
            r.msgs_per_sec = msgs;
            r.latency_us = summary(lat);
            if answered == 4 {
                r.wait_us = summary(wait);
            }
            r.queue_us = Some(summary(queue));
            let m = |v: f64, lo: f64, hi: f64| MinMedianMax {
                min: v * lo,
                median: v,
                max: v * hi,
            };
            r.repeat = Some(Spread {
                runs: 5,
                msgs_per_sec: m(msgs, 0.8, 1.15),
                latency_p99_us: m(lat as f64, 0.7, 1.4),
                wait_p99_us: m(r.wait_us.p99 as f64, 0.9, 1.1),
                queue_p99_us: Some(m(queue as f64, 0.5, 1.5)),
                clients_answered: m(answered as f64, 1.0, 1.0),
            });
            r
        };
        vec![
            ("serial".into(), mode(1, 18_959.0, 116, 0, 3)),
            ("threads".into(), mode(4, 259_796.0, 61, 556, 2)),
            ("pool".into(), mode(2, 410_416.0, 5, 0, 1)),
            ("event".into(), mode(4, 215_452.0, 107, 876, 90)),
            ("event-workers".into(), mode(4, 226_927.0, 118, 664, 2_100)),
        ]
    }

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("tcpmodes-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    /// Draws `rows` as SVG and PNG: the SVG's text, and the PNG's width
    /// and height. With `KEEP_PLOT=DIR`, the PNG is kept there as `name`.
    fn draw(rows: &[(String, BenchReport)], name: &str) -> (String, (u32, u32)) {
        let params = RunParams::from_reports(rows).unwrap();
        let svg = temp(&format!("{name}.svg"));
        plot(rows, &params, &svg).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        let png = temp(name);
        plot(rows, &params, &png).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        if let Some(keep) = std::env::var_os("KEEP_PLOT") {
            let _ = std::fs::copy(&png, Path::new(&keep).join(name));
        }
        let _ = std::fs::remove_file(&svg);
        let _ = std::fs::remove_file(&png);
        (text, (be(16), be(20)))
    }

    #[test]
    fn the_chart_is_written_as_svg_and_png() {
        let (text, (width, height)) = draw(&lesson_rows(), "chart.png");
        for needle in [
            "<svg",
            "serial",
            "Clients served",
            "1/4",
            "4/4",
            "2/4",
            "3 never served",
            "all served",
            "only 1 of 4 served",
            "only 2 of 4 served",
            "wait (s)",
            "latency (µs)",
            "Throughput (higher is better)",
        ] {
            assert!(text.contains(needle), "{needle} missing");
        }
        assert!(!text.contains("median of"), "one run is no median");
        // Panels stacked, not side by side: as wide as a README shows it.
        assert_eq!(width, WIDTH);
        assert!(height > width, "{width}x{height}");
    }

    /// The sizes are checked where they are set (a `const` assertion);
    /// the default modes' names keep their full size, in one line.
    #[test]
    fn text_is_large_enough_to_read_at_readme_width() {
        let chart = Chart::new(&all_modes_repeated(), None).unwrap();
        draw(&lesson_rows(), "font.png"); // registers the embedded font
        let names = chart.names();
        assert_eq!((names.px, names.rows()), (NAME_PX, 1));
    }

    #[test]
    fn a_mode_that_left_clients_unserved_has_its_bars_marked() {
        let chart = Chart::new(&lesson_rows(), None).unwrap();
        let [wait, throughput, latency] = &chart.panels;
        for panel in [throughput, latency] {
            let pale: Vec<bool> = panel.groups.iter().map(|g| g.bars[0].pale).collect();
            assert_eq!(pale, [true, false, true], "{}", panel.title);
            let notes: Vec<Option<&str>> = panel.groups.iter().map(|g| g.note.as_deref()).collect();
            assert_eq!(
                notes,
                [Some("only 1 of 4 served"), None, Some("only 2 of 4 served")]
            );
        }
        // The wait panel shows what the unserved lived through, plainly.
        assert!(
            wait.groups
                .iter()
                .all(|g| !g.bars[0].pale && g.note.is_none())
        );
        assert_eq!(wait.groups[0].bars[0].label, "3.00 s");
        let served: Vec<(String, bool)> = chart
            .served
            .iter()
            .map(|s| (s.fraction(), s.short()))
            .collect();
        assert_eq!(
            served,
            [
                ("1/4".to_string(), true),
                ("4/4".to_string(), false),
                ("2/4".to_string(), true)
            ]
        );
        let mut none = lesson_rows();
        none[0].1 = report(4, 0, 3.0);
        let chart = Chart::new(&none, None).unwrap();
        assert_eq!(
            chart.panels[1].groups[0].note.as_deref(),
            Some("none of 4 served")
        );
    }

    #[test]
    fn a_request_waiting_for_a_worker_is_drawn_as_waiting() {
        let mut rows = lesson_rows();
        rows[2].1.queue_us = Some(summary(2_000_000));
        let chart = Chart::new(&rows, None).unwrap();
        let wait = &chart.panels[0];
        assert_eq!(wait.legend.len(), 2);
        assert!(
            wait.legend[1]
                .1
                .starts_with("waited for a worker or a loop")
        );
        let bars: Vec<(&str, RGBColor)> = wait.groups[2]
            .bars
            .iter()
            .map(|b| (b.label.as_str(), b.color))
            .collect();
        assert_eq!(bars, [("3.00 s", WAIT_COLOR), ("2.00 s", QUEUE_COLOR)]);
        // Not logged (a server outside) is said, not drawn as 0 µs.
        assert_eq!(wait.groups[0].bars[1].label, "not known");
        let (text, _) = draw(&rows, "queue.png");
        for needle in [
            "waited to be served",
            "waited for a worker or a loop",
            "Queue:",
        ] {
            assert!(text.contains(needle), "{needle} missing");
        }
        // Without a queue, one bar per mode and no legend.
        let chart = Chart::new(&lesson_rows(), None).unwrap();
        assert!(chart.panels[0].legend.is_empty());
        assert!(chart.panels[0].groups.iter().all(|g| g.bars.len() == 1));
    }

    #[test]
    fn repeated_runs_are_medians_with_whiskers() {
        let rows = all_modes_repeated();
        let chart = Chart::new(&rows, None).unwrap();
        for panel in &chart.panels {
            assert!(panel.title.contains("median of 5 runs"), "{}", panel.title);
            for bar in panel.groups.iter().flat_map(|g| &g.bars) {
                let (lo, hi) = bar.range.expect("a whisker");
                assert!(lo <= bar.value && bar.value <= hi, "{bar:?}");
            }
        }
        let throughput = &chart.panels[1].groups[1].bars[0];
        assert_eq!(throughput.label, "259796/s");
        assert_eq!(throughput.range, Some((259_796.0 * 0.8, 259_796.0 * 1.15)));
        let (text, _) = draw(&rows, "repeat.png");
        assert!(text.contains("median of 5 runs"));
        assert!(text.contains("whisker"));
        // Runs that served different counts say so.
        let mut rows = lesson_rows();
        rows[2].1.repeat = Some(Spread {
            runs: 3,
            clients_answered: MinMedianMax {
                min: 1.0,
                median: 2.0,
                max: 4.0,
            },
            ..Spread::default()
        });
        let served = Served::of(&rows[2].1);
        assert_eq!(served.fraction(), "1–4/4");
        assert_eq!(served.note().as_deref(), Some("only 1–4 of 4 served"));
        assert_eq!(served.verdict(), "up to 3 never served");
    }

    /// The figures and notes over each bar fit under the axis' top.
    #[test]
    fn every_label_has_room_over_its_bar() {
        for rows in [lesson_rows(), all_modes_repeated()] {
            let chart = Chart::new(&rows, None).unwrap();
            for panel in &chart.panels {
                let top = chart.axis_top(panel).top();
                for group in &panel.groups {
                    for bar in &group.bars {
                        let bar_px = bar.reach() / top * f64::from(PLOT_HEIGHT);
                        let stack = f64::from(chart.label_stack(group, bar));
                        assert!(
                            bar_px + stack <= f64::from(PLOT_HEIGHT) + 0.5,
                            "{}: {bar:?}",
                            panel.title
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn many_modes_with_long_names_still_draw() {
        let rows: Vec<(String, BenchReport)> = [
            "serial",
            "threads",
            "pool",
            "event",
            "event-workers",
            "py-serial",
            "py-threads",
            "tokio-baseline",
            "rayon",
        ]
        .iter()
        .enumerate()
        .map(|(i, name)| (name.to_string(), report(4, (i % 5) as u64, 3.0)))
        .collect();
        let (text, (width, _)) = draw(&rows, "many.png");
        assert_eq!(width, WIDTH);
        assert!(text.contains("tokio-") && text.contains("baseline"));
        assert!(text.contains("none of 4"));
        // Nine columns: long names in two lines, not shrunk to nothing.
        let names = Chart::new(&rows, None).unwrap().names();
        assert!(names.px >= 15, "{}", names.px);
        assert_eq!(names.lines[7], ["tokio-", "baseline"]);
        assert_eq!(names.lines[0], ["serial"]);
    }

    #[test]
    fn long_text_is_wrapped_to_the_width() {
        draw(&lesson_rows(), "wrap.png"); // registers the embedded font
        let caption = "handler echo, 4 clients, 3.00 s per mode, 64-byte messages, framing \
                       raw, no delay, pool workers 2, event loops 2, warm-up 500 ms, closed loop";
        let lines = wrap(caption, TEXT_PX, WIDTH - 2 * SIDE);
        assert!(lines.len() >= 2, "{lines:?}");
        assert!(
            lines
                .iter()
                .all(|l| text_width(l, TEXT_PX) <= WIDTH - 2 * SIDE)
        );
        assert_eq!(
            lines.join(" "),
            caption.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        assert_eq!(wrap("", TEXT_PX, 100), [""]);
        // The caption breaks after a comma, into lines of even length.
        let lines = balance(caption, TEXT_PX, WIDTH - 2 * SIDE);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].ends_with(','), "{lines:?}");
        let widths: Vec<u32> = lines.iter().map(|l| text_width(l, TEXT_PX)).collect();
        assert!(widths[0].abs_diff(widths[1]) < 200, "{lines:?}");
        assert_eq!(
            lines.join(" "),
            caption.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }

    #[test]
    fn one_mode_and_churn_draw() {
        let mut r = report(2, 2, 1.0);
        r.churn = true;
        r.conns_per_sec = 250.0;
        let rows = vec![("threads".to_string(), r)];
        let chart = Chart::new(&rows, None).unwrap();
        assert_eq!(chart.panels[1].axis, "connections per second");
        assert_eq!(chart.panels[1].groups[0].bars[0].label, "250/s");
        let (text, (width, _)) = draw(&rows, "one.png");
        assert_eq!(width, WIDTH);
        assert!(text.contains("2/2") && text.contains("all served"));
    }

    #[test]
    fn names_break_after_a_dash() {
        draw(&lesson_rows(), "names.png"); // registers the embedded font
        assert_eq!(break_name("event-workers", 16, 500), ["event-workers"]);
        assert_eq!(break_name("event-workers", 16, 70), ["event-", "workers"]);
        assert_eq!(break_name("py serial", 16, 40), ["py", "serial"]);
        assert_eq!(break_name("x", 16, 1), ["x"]);
        assert_eq!(break_name("", 16, 100), [""]);
    }

    #[test]
    fn nothing_to_plot_is_an_error() {
        assert!(plot_svg(&[], &temp("empty.svg")).is_err());
    }
}
