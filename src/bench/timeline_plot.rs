//! `compare --timeline-svg`: who was served when, as a picture (SVG or
//! PNG): per mode, one horizontal bar per client, orange while it waits to
//! be served, blue while it is served, red while a request of it waits
//! for a worker or a loop, teal while a request is outstanding at a server
//! whose side is unknown; on one time axis for all modes.
//! The text form, from the same data, is `timeline.rs`.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::caption::RunParams;
use super::picture::{self, FAMILY, Picture, PlotError, TickedAxis, plot_err};
use super::plot::text::{balance, text_width};
use super::report::BenchReport;
use super::timeline::{Overlay, axis_end, overlays, phases};
use super::units::Ticks;

/// Clients drawn per mode at most; the caption of a cut panel says so.
const MAX_BARS: usize = 100;
/// Height of one client's bar and its gap, in pixels.
const ROW: u32 = 22;
/// About the width of a README page, so text reads at the size shown.
const WIDTH: u32 = 900;
/// Left and right margin of the header's text.
const SIDE: i32 = 24;
/// Size of the caption's and the legend's text.
const TEXT_PX: u32 = 16;
/// Where the caption starts, under the title.
const CAPTION_TOP: i32 = 44;

const WAITING: RGBColor = RGBColor(245, 160, 60);
const SERVED: RGBColor = RGBColor(52, 101, 164);
const UNKNOWN: RGBColor = RGBColor(200, 200, 200);
const QUEUED: RGBColor = RGBColor(204, 0, 0);
const OUTSTANDING: RGBColor = RGBColor(78, 154, 140);

/// Draws the timeline of `rows` into `path`, SVG or PNG by its extension.
pub(super) fn plot_timeline(
    rows: &[(String, BenchReport)],
    params: &RunParams,
    path: &Path,
) -> Result<(), PlotError> {
    if rows.is_empty() {
        return Err(PlotError("no results to plot".into()));
    }
    picture::save(
        &Timeline {
            rows,
            caption: params.line(),
            end: axis_end(rows),
        },
        path,
    )
}

struct Timeline<'a> {
    rows: &'a [(String, BenchReport)],
    caption: String,
    /// Seconds: where the shared axis ends.
    end: f64,
}

/// Bars drawn for a report.
fn bars(r: &BenchReport) -> usize {
    r.clients.clamp(1, MAX_BARS)
}

/// A panel's height: its caption, its bars, its axis and a gap.
fn panel_height(r: &BenchReport) -> u32 {
    40 + ROW * bars(r) as u32 + 48 + 16
}

impl Picture for Timeline<'_> {
    fn size(&self) -> (u32, u32) {
        let panels: u32 = self.rows.iter().map(|(_, r)| panel_height(r)).sum();
        (WIDTH, self.header_height() + panels)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let (header, mut rest) = root.split_vertically(self.header_height());
        let centered = |size: f64| {
            (FAMILY, size)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Top))
        };
        let middle = WIDTH as i32 / 2;
        header
            .draw_text("Who was served when", &centered(24.0), (middle, 10))
            .map_err(plot_err)?;
        for (i, line) in self.caption_lines().iter().enumerate() {
            let y = CAPTION_TOP + 21 * i as i32;
            header
                .draw_text(line, &centered(TEXT_PX as f64), (middle, y))
                .map_err(plot_err)?;
        }
        self.legend(&header)?;
        for (label, r) in self.rows {
            let (panel, below) = rest.split_vertically(panel_height(r));
            self.panel(&panel, label, r)?;
            rest = below;
        }
        Ok(())
    }
}

impl Timeline<'_> {
    /// The caption, in lines that fit the width.
    fn caption_lines(&self) -> Vec<String> {
        balance(&self.caption, TEXT_PX, WIDTH - 2 * SIDE as u32)
    }

    /// The title, the caption and the legend.
    fn header_height(&self) -> u32 {
        let legend = self.legend_places().last().map_or(0, |(_, _, y)| *y) as u32;
        legend + 26 + 20
    }

    /// The legend's items, and where each goes: left to right, on the
    /// next line when one is full.
    fn legend_places(&self) -> Vec<((RGBColor, &'static str), i32, i32)> {
        let top = CAPTION_TOP + 21 * self.caption_lines().len() as i32 + 14;
        let (mut x, mut y) = (SIDE, top);
        let mut places = Vec::new();
        for item in self.legend_items() {
            let width = 36 + text_width(item.1, TEXT_PX) as i32 + 28;
            if x > SIDE && x + width > WIDTH as i32 - SIDE {
                (x, y) = (SIDE, y + 26);
            }
            places.push((item, x, y));
            x += width;
        }
        places
    }

    /// Coloured boxes naming the states drawn, under the caption.
    fn legend<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let style = (FAMILY, TEXT_PX).into_font().color(&BLACK);
        for ((color, text), x, y) in self.legend_places() {
            area.draw(&Rectangle::new([(x, y), (x + 28, y + 16)], color.filled()))
                .map_err(plot_err)?;
            area.draw_text(text, &style, (x + 36, y))
                .map_err(plot_err)?;
        }
        Ok(())
    }

    /// The states some bar shows.
    fn legend_items(&self) -> Vec<(RGBColor, &'static str)> {
        let spans = || {
            self.rows
                .iter()
                .flat_map(|(_, r)| &r.timeline)
                .flat_map(|c| &c.connections)
        };
        // A state is named when some bar shows it at least a pixel wide.
        let pixel = self.end / f64::from(WIDTH);
        let mut items = Vec::new();
        if spans().any(|c| {
            let (from, to) = phases(c).0;
            to - from >= pixel || c.served_s.is_none()
        }) {
            items.push((WAITING, "connected, waiting to be served"));
        }
        // Service shows unless requests cover all of it.
        if spans().any(|c| {
            let service = phases(c).1.map_or(0.0, |(a, b)| b - a);
            let covered: f64 = overlays(c).map(|(_, (a, b))| b - a).sum();
            service - covered >= pixel
        }) {
            items.push((SERVED, "being served"));
        }
        let shows = |kind: Overlay| {
            spans().any(|c| overlays(c).any(|(k, (a, b))| k == kind && b - a >= pixel))
        };
        if shows(Overlay::Queued) {
            items.push((QUEUED, "request waiting for a worker or loop"));
        }
        if shows(Overlay::Outstanding) {
            items.push((OUTSTANDING, "request outstanding (server's side unknown)"));
        }
        let unrecorded = self
            .rows
            .iter()
            .any(|(_, r)| r.timeline.len() < r.clients.min(MAX_BARS));
        if unrecorded {
            items.push((UNKNOWN, "not recorded"));
        }
        items
    }

    /// One mode: a bar per client, client 0 on top.
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        label: &str,
        r: &BenchReport,
    ) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let n = bars(r);
        let mut title = format!(
            "{label}: {} of {} clients served",
            r.clients_answered, r.clients
        );
        if r.clients > n {
            title.push_str(&format!(" (first {n} drawn)"));
        }
        let ticks = Ticks::up_to(self.end, 10);
        let in_range: Vec<f64> = ticks
            .values
            .iter()
            .copied()
            .filter(|v| *v <= self.end * (1.0 + 1e-9))
            .collect();
        // Client i's bar spans y in [n-1-i, n-i): client 0 on top.
        let centers: Vec<f64> = (0..n).map(|i| n as f64 - i as f64 - 0.5).collect();
        let mut chart = ChartBuilder::on(area)
            .caption(title, (FAMILY, 18))
            .margin_left(14)
            .margin_right(24)
            .margin_bottom(16)
            .x_label_area_size(40)
            .y_label_area_size(90)
            .build_cartesian_2d(
                TickedAxis::new(0.0..self.end, in_range),
                TickedAxis::new(0.0..n as f64, centers),
            )
            .map_err(plot_err)?;
        let x_label = |v: &f64| format!("{} s", ticks.label(*v));
        let y_label = |v: &f64| format!("client {}", (n as f64 - v - 0.5).round() as usize);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .x_label_style((FAMILY, 15))
            .y_label_style((FAMILY, 15))
            .x_desc("seconds since the run started")
            .axis_desc_style((FAMILY, 14))
            .draw()
            .map_err(plot_err)?;
        let bar = |i: usize, (from, to): (f64, f64), color: RGBColor| {
            let top = n as f64 - i as f64 - 0.15;
            let bottom = n as f64 - i as f64 - 0.85;
            // A connection too short to see still gets a sliver of width;
            // a request's queue is drawn as long as it was (a sliver
            // there would show waiting that did not happen).
            let sliver = if color == QUEUED || color == OUTSTANDING {
                0.0
            } else {
                self.end / 1000.0
            };
            let to = to.max(from + sliver);
            Rectangle::new([(from, bottom), (to, top)], color.filled())
        };
        let mut rects = Vec::new();
        for i in 0..n {
            match r.timeline.iter().find(|c| c.client == i) {
                Some(c) => {
                    for span in &c.connections {
                        let (wait, service) = phases(span);
                        rects.push(bar(i, wait, WAITING));
                        if let Some(s) = service {
                            rects.push(bar(i, s, SERVED));
                        }
                        // A request shorter than a pixel is not drawn, nor
                        // named in the legend: it would show a line of
                        // waiting that no one can read the length of.
                        let pixel = self.end / f64::from(WIDTH);
                        for (kind, span) in overlays(span).filter(|(_, (a, b))| b - a >= pixel) {
                            let color = match kind {
                                Overlay::Queued => QUEUED,
                                Overlay::Outstanding => OUTSTANDING,
                            };
                            rects.push(bar(i, span, color));
                        }
                    }
                }
                None => rects.push(bar(i, (0.0, r.warmup_secs + r.duration_secs), UNKNOWN)),
            }
        }
        chart.draw_series(rects).map_err(plot_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::timeline::tests::lesson_timelines;

    #[test]
    fn the_timeline_picture_is_written_as_svg_and_png() {
        let rows = lesson_timelines();
        let params = RunParams::from_reports(&rows).unwrap();
        let dir = std::env::temp_dir().join(format!("tcpmodes-timeline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let svg = dir.join("timeline.svg");
        plot_timeline(&rows, &params, &svg).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        for needle in [
            "<svg",
            "serial: 2 of 2 clients served",
            "client 1",
            "being served",
        ] {
            assert!(text.contains(needle), "{needle} missing");
        }
        let png = dir.join("timeline.png");
        plot_timeline(&rows, &params, &png).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        if let Some(keep) = std::env::var_os("KEEP_PLOT") {
            let _ = std::fs::copy(&png, Path::new(&keep).join("timeline.png"));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
